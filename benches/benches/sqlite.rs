//! The embedded SQLite store against its limits (issue 5, DESIGN §6).
//!
//! * `sqlite_export`: the SIMs of ONE order of `SELFCARE_BENCH_ROWS` SIMs (default 1 000 000)
//!   exported to a file through `Session::export_order_sims` (what a customer calls), next to
//!   `sqlite3 -csv` on the same table (skipped with one line when the command is absent), the
//!   in-memory export of the core bench (the same SIMs through `SimCsvWriter` into a `Vec`),
//!   and the limit: a bare loop over the same rows with rusqlite + the `csv` crate.
//!   Goal: ≥ 1.0× `sqlite3` and ≥ 0.8× the bare loop. The peak memory the export adds (VmHWM)
//!   is printed for 10 000 SIMs and for `SELFCARE_BENCH_ROWS`: it must stay flat.
//! * `sqlite_place_order`: `Session::place_order` (one line, on invoice) next to a bare loop
//!   of one INSERT + COMMIT with the store's pragmas (WAL, `synchronous=FULL`). Goal ≥ 0.5×.
//!   The same call on the in-memory store is printed beside them: the part of the time that
//!   is the sdk's own work, not the disk's.
//! * `sqlite_sim_page`: one page of `Session::sims` (100 SIMs) at the start and near the end
//!   of the organisation's SIMs. Goal: the deep page ≤ 1.2× the time of the first.
//!
//! `cargo test -p selfcare-benches --bench sqlite` runs each benchmark once (criterion's
//! test mode); `SELFCARE_BENCH_ROWS=1000` keeps that quick.

// A benchmark is a test harness: a failed setup should stop it loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use selfcare::checkout::{Payment, PlaceOrder};
use selfcare::core::export::SimCsvWriter;
use selfcare::core::sims::Sim;
use selfcare::storage::Cursor;
use selfcare::storage::sims::SimFilter;
use selfcare_benches::{
    Fixture, fixture_on, group_timing, msisdn_pool, rows_from_env, rss_kb, runtime, scratch_dir,
    sim, sku,
};
use selfcare_sqlite::SqliteStore;
use time::OffsetDateTime;
use tokio::runtime::Runtime;

/// The fixture on a fresh SQLite file, with the file for the peers.
struct OnFile {
    _dir: tempfile::TempDir,
    db: PathBuf,
    fx: Fixture,
}

impl std::ops::Deref for OnFile {
    type Target = Fixture;
    fn deref(&self) -> &Fixture {
        &self.fx
    }
}

fn fixture(rt: &Runtime, n: usize) -> OnFile {
    let dir = scratch_dir();
    let db = dir.path().join("bench.db");
    let store = rt.block_on(async { Arc::new(SqliteStore::open(&db).await.expect("open")) });
    OnFile {
        _dir: dir,
        db,
        fx: fixture_on(rt, store, n),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The export query of the peers: the order's SIMs in the store's order.
fn export_query(f: &Fixture) -> String {
    format!(
        "SELECT iccid, label, imsi, msisdn FROM sims WHERE org_id = X'{}' AND order_id = X'{}' \
         ORDER BY id",
        hex(f.org.as_uuid().as_bytes()),
        hex(f.order.as_uuid().as_bytes()),
    )
}

fn selfcare_export(rt: &Runtime, f: &Fixture, out: &Path) -> u64 {
    let file = BufWriter::new(File::create(out).expect("create"));
    rt.block_on(f.session.export_order_sims(&f.number, file))
        .expect("export")
}

fn sqlite3_export(f: &OnFile, query: &str, out: &Path) {
    let status = Command::new("sqlite3")
        .arg("-csv")
        .arg(&f.db)
        .arg(query)
        .stdout(File::create(out).expect("create"))
        .status()
        .expect("sqlite3");
    assert!(status.success(), "sqlite3 failed");
}

fn bare_export(db: &Path, query: &str, out: &Path) -> u64 {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("open");
    let mut stmt = conn.prepare(query).expect("prepare");
    let mut rows = stmt.query([]).expect("query");
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(BufWriter::new(File::create(out).expect("create")));
    w.write_record(["ICCID", "Label", "IMSI", "MSISDN"])
        .expect("write");
    let mut n = 0u64;
    while let Some(r) = rows.next().expect("row") {
        for i in 0..4 {
            let field = r
                .get_ref(i)
                .expect("column")
                .as_bytes_or_null()
                .expect("text");
            w.write_field(field.unwrap_or_default()).expect("write");
        }
        w.write_record(None::<&[u8]>).expect("write");
        n += 1;
    }
    w.into_inner().expect("flush").flush().expect("flush");
    n
}

fn in_memory_export(sims: &[Sim], capacity: usize) -> Vec<u8> {
    let mut w = SimCsvWriter::new(Vec::with_capacity(capacity)).expect("vec write");
    for s in sims {
        w.write_sim(s).expect("vec write");
    }
    w.finish().expect("vec write")
}

fn sqlite3_available() -> bool {
    Command::new("sqlite3")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The peak memory one export adds to the process, in kB: the high-water mark is reset
/// (`clear_refs` 5) before, so it is the export's own peak over the resident set before it.
fn export_peak_growth_kb(rt: &Runtime, f: &Fixture, out: &Path) -> u64 {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let (before, hwm_before) = rss_kb();
    selfcare_export(rt, f, out);
    let (_, hwm_after) = rss_kb();
    let base = if reset {
        before
    } else {
        hwm_before.max(before)
    };
    hwm_after.saturating_sub(base)
}

fn export(c: &mut Criterion) {
    let n = rows_from_env();
    let rt = runtime();
    let work = scratch_dir();
    let out = work.path().join("sims.csv");

    // Memory first, before anything else grows the process: 10 000 SIMs and `n`.
    let mut sizes = vec![n.min(10_000), n];
    sizes.dedup();
    for size in sizes {
        let f = fixture(&rt, size);
        selfcare_export(&rt, &f, &out); // warm the caches and the reader pool
        let kb = export_peak_growth_kb(&rt, &f, &out);
        println!("sqlite_export memory: {size} SIMs -> peak RSS growth during export {kb} kB");
    }

    let f = fixture(&rt, n);
    let query = export_query(&f);
    // The sdk and the bare loop write the same file (the bare loop does not neutralise
    // formulas, so compare the row count and the untouched lines only).
    assert_eq!(selfcare_export(&rt, &f, &out), n as u64);
    let ours = std::fs::read_to_string(&out).expect("read");
    assert_eq!(bare_export(&f.db, &query, &out), n as u64);
    let bare = std::fs::read_to_string(&out).expect("read");
    assert_eq!(ours.lines().count(), bare.lines().count());
    assert_eq!(
        ours.lines().nth(2),
        bare.lines()
            .nth(2)
            .map(|l| l.replace("+49", "49"))
            .as_deref()
    );
    drop((ours, bare));
    let sims: Vec<Sim> = {
        let pool = msisdn_pool();
        let now = OffsetDateTime::now_utc();
        (0..n).map(|i| sim(i, f.order, now, &pool)).collect()
    };
    let capacity = in_memory_export(&sims, 0).len();

    let mut group = c.benchmark_group("sqlite_export");
    group.throughput(Throughput::Elements(n as u64));
    group_timing(&mut group);
    group.bench_function("selfcare_sdk", |b| {
        b.iter(|| selfcare_export(&rt, &f, &out));
    });
    if sqlite3_available() {
        group.bench_function("sqlite3_cli", |b| {
            b.iter(|| sqlite3_export(&f, &query, &out))
        });
    } else {
        println!("sqlite_export/sqlite3_cli: skipped, the sqlite3 command is not installed");
    }
    group.bench_function("core_in_memory", |b| {
        b.iter(|| std::hint::black_box(in_memory_export(&sims, capacity)));
    });
    group.bench_function("bare_rusqlite_csv", |b| {
        b.iter(|| bare_export(&f.db, &query, &out));
    });
    group.finish();
    drop(sims);

    // A page of 100 SIMs at depth 0 and near the end of the organisation's SIMs.
    let deep_after = f.sim_ids[f.sim_ids.len().saturating_sub(101)];
    // The SQLite store's cursor of a SIM list: the SIM id in lower-case hex.
    let deep = Cursor::new(deep_after.as_uuid().simple().to_string());
    let page = |cursor: Option<Cursor>| {
        let page = rt
            .block_on(f.session.sims(SimFilter::default(), cursor))
            .expect("page");
        assert!(!page.items.is_empty());
        page
    };
    assert_eq!(page(Some(deep.clone())).items.len(), 100.min(n - 1));
    let mut group = c.benchmark_group("sqlite_sim_page");
    group_timing(&mut group);
    group.bench_function("depth_0", |b| b.iter(|| page(None)));
    group.bench_function("depth_n", |b| b.iter(|| page(Some(deep.clone()))));
    group.finish();
}

fn place_order(c: &mut Criterion) {
    let rt = runtime();
    let on_sqlite = fixture(&rt, 1);
    let on_memory = fixture_on(
        &rt,
        Arc::new(selfcare::storage::memory::MemoryStore::new()),
        1,
    );
    let key = AtomicU64::new(0);
    let mut group = c.benchmark_group("sqlite_place_order");
    group.throughput(Throughput::Elements(1));
    group_timing(&mut group);
    for (name, f) in [
        ("selfcare_sdk", &on_sqlite.fx),
        ("memory_store", &on_memory),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
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
                .expect("order")
            });
        });
    }

    // The limit: one INSERT + COMMIT per order with the store's pragmas.
    let dir = scratch_dir();
    let conn = rusqlite::Connection::open(dir.path().join("bare.db")).expect("open");
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
         CREATE TABLE orders (id INTEGER PRIMARY KEY, body BLOB NOT NULL);",
    )
    .expect("schema");
    let body = vec![7u8; 512];
    group.bench_function("bare_insert_commit", |b| {
        b.iter(|| {
            conn.execute_batch("BEGIN IMMEDIATE").expect("begin");
            conn.prepare_cached("INSERT INTO orders (body) VALUES (?1)")
                .expect("prepare")
                .execute([&body])
                .expect("insert");
            conn.execute_batch("COMMIT").expect("commit");
        });
    });
    group.finish();
}

criterion_group!(benches, export, place_order);
criterion_main!(benches);
