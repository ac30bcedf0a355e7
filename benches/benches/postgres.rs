//! The PostgreSQL store against its limits (issue 6, DESIGN §6), on the run's database
//! (`SELFCARE_PG_URL` and `SELFCARE_PG_OWNER_URL`; `scripts/bench` starts a cluster, the test
//! command runs each benchmark once on its own).
//!
//! * `postgres_place_order`: `Session::place_order` (one line, on invoice) by 1 and by 4
//!   concurrent clients (four customers), next to `pgbench -N` (its simple-update transaction without the
//!   contended tellers and branches) on the same server and database with as many clients.
//!   pgbench's figures go to `target/criterion/pgbench.json` for the summary of
//!   `scripts/bench`. Goal: ≥ 0.5× pgbench.
//! * `postgres_sim_page`: one page of `Session::sims` (100 SIMs) at the start and near the end
//!   of the organisation's `SELFCARE_BENCH_ROWS` SIMs. Goal: the deep page ≤ 1.2× the first.
//! * `postgres_export`: the SIMs of one order exported through `Session::export_order_sims`,
//!   next to the limit, a bare loop over the same rows with sqlx + the `csv` crate (goal
//!   ≥ 0.8×), and `psql -c "\copy (…) to stdout csv"` beside them.

// A benchmark is a test harness: a failed setup should stop it loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::TryStreamExt;
use selfcare::checkout::{Payment, PlaceOrder};
use selfcare::storage::Cursor;
use selfcare::storage::sims::SimFilter;
use selfcare_benches::{
    Fixture, fixture_on, group_timing, rows_from_env, runtime, scratch_dir, sku,
};
use selfcare_postgres::PgConfig;
use selfcare_postgres::testing::TestDatabase;
use sqlx::{Connection, PgConnection, Row};
use tokio::runtime::Runtime;

/// Whether criterion measures (`cargo bench`) or runs each benchmark once (`cargo test`).
fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The fixture on a fresh schema of the run's database, and the schema's name.
fn fixture(rt: &Runtime, db: &TestDatabase, n: usize) -> (Fixture, String) {
    let (store, schema) = rt.block_on(async {
        db.fresh_store_in_schema(PgConfig::default().with_max_connections(8))
            .await
            .expect("store")
    });
    (fixture_on(rt, Arc::new(store), n), schema)
}

fn place(rt: &Runtime, f: &Fixture, key: &AtomicU64) {
    let k = key.fetch_add(1, Ordering::Relaxed);
    rt.block_on(f.session.place_order(
        PlaceOrder {
            items: vec![(sku("SIM-STD"), 1)],
            billing_address: None,
            shipping_address: None,
            payment: Payment::OnInvoice,
        },
        &format!("bench-order-{k}"),
    ))
    .expect("order");
}

/// pgbench's transactions per second with `clients` clients on `url` (`-N`, 5 s; one second
/// of 10 transactions per client when not measuring).
fn pgbench_tps(url: &str, clients: u32) -> f64 {
    let length: &[&str] = if measuring() {
        &["-T", "5"]
    } else {
        &["-t", "10"]
    };
    let out = Command::new("pgbench")
        .args([
            "-N",
            "-n",
            "-c",
            &clients.to_string(),
            "-j",
            &clients.to_string(),
        ])
        .args(length)
        .arg(url)
        .output()
        .expect("pgbench");
    assert!(
        out.status.success(),
        "pgbench: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("tps = "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no tps in pgbench's output: {text}"))
}

fn place_order(c: &mut Criterion) {
    let Some(db) = TestDatabase::from_env("postgres bench") else {
        return;
    };
    let rt = runtime();
    // Four customers: the four clients are four organisations, as pgbench's clients update
    // four random accounts. (Clients of one organisation take turns: its audit chain is one
    // sequence, so their transactions conflict and re-run.)
    let fixtures: Vec<Fixture> = (0..4).map(|_| fixture(&rt, &db, 1).0).collect();
    let f = &fixtures[0];
    let key = AtomicU64::new(0);
    let mut group = c.benchmark_group("postgres_place_order");
    group.throughput(Throughput::Elements(1));
    group_timing(&mut group);
    group.bench_function("clients_1", |b| b.iter(|| place(&rt, f, &key)));
    group.bench_function("clients_4", |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            std::thread::scope(|s| {
                for (client, f) in (0..4u64).zip(&fixtures) {
                    let (rt, key) = (&rt, &key);
                    s.spawn(move || {
                        for _ in (client..iters).step_by(4) {
                            place(rt, f, key);
                        }
                    });
                }
            });
            started.elapsed()
        });
    });
    group.finish();

    // The peer on the same server and database: pgbench's own tables, made by the owner.
    let init = Command::new("pgbench")
        .args(["-i", "-q", "-s", "1"])
        .arg(&db.owner_url)
        .output()
        .expect("pgbench -i");
    assert!(
        init.status.success(),
        "pgbench -i: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let tps: Vec<(u32, f64)> = [1, 4]
        .into_iter()
        .map(|clients| (clients, pgbench_tps(&db.owner_url, clients)))
        .collect();
    for (clients, t) in &tps {
        println!("postgres_place_order/pgbench_N clients={clients}: {t:.0} tps");
    }
    let json = format!(
        "{{{}}}",
        tps.iter()
            .map(|(c, t)| format!("\"{c}\": {t}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let out = criterion_dir().join("pgbench.json");
    if std::fs::create_dir_all(criterion_dir()).is_ok() {
        std::fs::write(&out, json).expect("pgbench.json");
    }
}

/// `target/criterion` of this build (the bench binary is `target/<profile>/deps/…`).
fn criterion_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("exe");
    exe.ancestors()
        .nth(3)
        .map_or_else(|| PathBuf::from("target"), Path::to_path_buf)
        .join("criterion")
}

fn export_query() -> &'static str {
    "SELECT iccid, label, imsi, msisdn FROM sims WHERE org_id = $1 AND order_id = $2 ORDER BY id"
}

fn selfcare_export(rt: &Runtime, f: &Fixture, out: &Path) -> u64 {
    let file = BufWriter::new(File::create(out).expect("create"));
    rt.block_on(f.session.export_order_sims(&f.number, file))
        .expect("export")
}

/// The limit: the same rows through sqlx, streamed, into the `csv` crate.
fn bare_export(rt: &Runtime, conn: &mut PgConnection, f: &Fixture, out: &Path) -> u64 {
    rt.block_on(async {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(BufWriter::new(File::create(out).expect("create")));
        w.write_record(["ICCID", "Label", "IMSI", "MSISDN"])
            .expect("write");
        let mut rows = sqlx::query(export_query())
            .bind(f.org.as_uuid())
            .bind(f.order.as_uuid())
            .fetch(&mut *conn);
        let mut n = 0u64;
        while let Some(r) = rows.try_next().await.expect("row") {
            for i in 0..4 {
                let field: Option<&str> = r.try_get(i).expect("column");
                w.write_field(field.unwrap_or_default()).expect("write");
            }
            w.write_record(None::<&[u8]>).expect("write");
            n += 1;
        }
        w.into_inner().expect("flush").flush().expect("flush");
        n
    })
}

/// `psql`'s `\copy` of the same rows (run as the owner in the fixture's schema).
fn psql_copy(db: &TestDatabase, schema: &str, f: &Fixture, out: &Path) {
    let query = format!(
        "\\copy (SELECT iccid, label, imsi, msisdn FROM \"{schema}\".sims WHERE org_id = '{}' \
         AND order_id = '{}' ORDER BY id) to stdout csv header",
        f.org.as_uuid(),
        f.order.as_uuid()
    );
    let status = Command::new("psql")
        // Row-level security holds for the owner too: it reads as the provider.
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1"])
        .args(["-c", "SET selfcare.provider = 'on'", "-c", &query])
        .arg(&db.owner_url)
        .stdout(File::create(out).expect("create"))
        .status()
        .expect("psql");
    assert!(status.success(), "psql failed");
}

fn export(c: &mut Criterion) {
    let Some(db) = TestDatabase::from_env("postgres bench") else {
        return;
    };
    let n = rows_from_env();
    let rt = runtime();
    let work = scratch_dir();
    let out = work.path().join("sims.csv");
    let started = Instant::now();
    let (f, schema) = fixture(&rt, &db, n);
    println!(
        "postgres fixture: {n} SIMs written in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let mut owner = rt
        .block_on(PgConnection::connect(&db.owner_url))
        .expect("owner");
    rt.block_on(
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "SET search_path TO \"{schema}\"; SET selfcare.provider = 'on'; ANALYZE sims"
        )))
        .execute(&mut owner),
    )
    .expect("search path");

    assert_eq!(selfcare_export(&rt, &f, &out), n as u64);
    let ours = std::fs::read_to_string(&out).expect("read");
    assert_eq!(bare_export(&rt, &mut owner, &f, &out), n as u64);
    let bare = std::fs::read_to_string(&out).expect("read");
    assert_eq!(ours.lines().count(), bare.lines().count());
    drop((ours, bare));

    let mut group = c.benchmark_group("postgres_export");
    group.throughput(Throughput::Elements(n as u64));
    group_timing(&mut group);
    group.bench_function("selfcare_sdk", |b| {
        b.iter(|| selfcare_export(&rt, &f, &out));
    });
    group.bench_function("bare_sqlx_csv", |b| {
        b.iter(|| bare_export(&rt, &mut owner, &f, &out));
    });
    group.bench_function("psql_copy", |b| {
        b.iter(|| psql_copy(&db, &schema, &f, &out));
    });
    group.finish();

    // A page of 100 SIMs at depth 0 and near the end of the organisation's SIMs.
    let deep_after = f.sim_ids[f.sim_ids.len().saturating_sub(101)];
    let page = |cursor: Option<Cursor>| {
        let page = rt
            .block_on(f.session.sims(SimFilter::default(), cursor))
            .expect("page");
        assert!(!page.items.is_empty());
        page
    };
    // The PostgreSQL store's cursor of a SIM list, as the SQLite store's: the id in hex.
    let deep = Some(Cursor::new(deep_after.as_uuid().simple().to_string()));
    assert_eq!(page(deep.clone()).items.len(), 100.min(n - 1));
    let mut group = c.benchmark_group("postgres_sim_page");
    group_timing(&mut group);
    group.bench_function("depth_0", |b| b.iter(|| page(None)));
    group.bench_function("depth_n", |b| b.iter(|| page(deep.clone())));
    group.finish();
}

criterion_group!(benches, place_order, export);
criterion_main!(benches);
