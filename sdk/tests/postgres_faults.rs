//! ORD-5 under database faults on PostgreSQL (issue 6, point 3). While the Owner places orders
//! and tops up in a loop, a superuser connection terminates the portal's backends
//! (`pg_terminate_backend`) at random moments: between the statements of a transaction
//! (before COMMIT), during a statement, during COMMIT, and on idle pooled connections (after
//! COMMIT). A failed call is retried with the same idempotency key; at the end
//! `run_maintenance` settles what is left, and the store is checked against the gateway's
//! ledger as in the SQLite crash test: no committed order lost, no partial order, one charge
//! per order and no refund, one refund per other charged key. Then every key is tried once
//! more: an order's key answers that order, a refunded key a conflict.

#![cfg(feature = "postgres")]
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::faults::{self, FileGateway, owner};
use selfcare::core::ReasonCode;
use selfcare::postgres::PgConfig;
use selfcare::postgres::testing::TestDatabase;
use selfcare::storage::Store;
use selfcare::storage::ports::SystemClock;
use selfcare::{Error, Portal, Ports};
use sqlx::{Connection, PgConnection, Row};

/// Faults to inject at least; `SELFCARE_PG_FAULTS` raises it.
const FAULTS: usize = 200;

/// What the killer hit, by where the backend was.
#[derive(Default)]
struct Injected {
    before_commit: AtomicUsize,
    during_statement: AtomicUsize,
    during_commit: AtomicUsize,
    after_commit: AtomicUsize,
}

impl Injected {
    fn total(&self) -> usize {
        self.before_commit.load(Ordering::Relaxed)
            + self.during_statement.load(Ordering::Relaxed)
            + self.during_commit.load(Ordering::Relaxed)
            + self.after_commit.load(Ordering::Relaxed)
    }
}

/// Terminates one of `app`'s backends every few milliseconds until `stop`: a busy one when
/// there is one, now and then an idle one.
async fn killer(admin_url: String, app: String, stop: Arc<AtomicBool>, hits: Arc<Injected>) {
    let mut admin = PgConnection::connect(&admin_url).await.unwrap();
    let mut seed: u64 = 0x5EED_F00D;
    while !stop.load(Ordering::Relaxed) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        tokio::time::sleep(Duration::from_micros(2_000 + seed % 28_000)).await;
        let rows = sqlx::query(
            "SELECT pid, state, query FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&app)
        .fetch_all(&mut admin)
        .await
        .unwrap();
        let busy: Vec<_> = rows
            .iter()
            .filter(|r| r.get::<Option<String>, _>("state").as_deref() != Some("idle"))
            .collect();
        let pick = if !busy.is_empty() {
            busy[(seed as usize / 7) % busy.len()]
        } else if seed.is_multiple_of(4) && !rows.is_empty() {
            &rows[(seed as usize / 7) % rows.len()]
        } else {
            continue;
        };
        let state = pick.get::<Option<String>, _>("state").unwrap_or_default();
        let query = pick.get::<Option<String>, _>("query").unwrap_or_default();
        let hit: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
            .bind(pick.get::<i32, _>("pid"))
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if !hit {
            continue;
        }
        let counter = match state.as_str() {
            "idle" => &hits.after_commit,
            "active"
                if query
                    .trim_start()
                    .to_ascii_uppercase()
                    .starts_with("COMMIT") =>
            {
                &hits.during_commit
            }
            "active" => &hits.during_statement,
            _ => &hits.before_commit,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ord_5_terminated_backends_lose_no_committed_order_and_no_charge() {
    let Some(db) = TestDatabase::from_env("postgres_faults") else {
        return;
    };
    let admin_url = db
        .admin_url
        .clone()
        .expect("SELFCARE_PG_ADMIN_URL: terminating backends needs a superuser");
    let faults_wanted: usize = std::env::var("SELFCARE_PG_FAULTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(FAULTS);
    let app = format!("selfcare-faults-{}", std::process::id());
    let store: Arc<dyn Store> = Arc::new(
        db.fresh_store(
            PgConfig::default()
                .with_max_connections(4)
                .with_application_name(&app),
        )
        .await
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let gateway = Arc::new(FileGateway::new(&dir.path().join("ledger.txt")));
    let (mut ports, _) = Ports::development_with(Arc::new(SystemClock));
    ports.gateway = gateway.clone();
    let portal = Portal::with_store(Arc::clone(&store), ports, common::test_config()).unwrap();
    faults::setup(&portal).await;
    let ada = owner(&portal).await;
    let card = ada.cards().await.unwrap()[0].id;

    let stop = Arc::new(AtomicBool::new(false));
    let hits = Arc::new(Injected::default());
    let killing = tokio::spawn(killer(admin_url, app, stop.clone(), hits.clone()));
    let mut committed: Vec<Vec<String>> = Vec::new();
    let mut tried: Vec<(u32, String)> = Vec::new();
    let (mut failures, mut retried_ok, mut left) = (0, 0, 0);
    let mut i = 0;
    while hits.total() < faults_wanted && i < 20_000 {
        // A killer that failed (its panic) ends the run here, not 20 000 purchases later.
        assert!(!killing.is_finished(), "the fault injector stopped");
        let key = format!("f{i}");
        tried.push((i, key.clone()));
        for attempt in 0..8 {
            let (kind, result) = faults::purchase(&ada, card, i, &key).await;
            match result {
                Ok(order) => {
                    committed.push(vec![kind.to_owned(), key.clone(), order.number.to_string()]);
                    if attempt > 0 {
                        retried_ok += 1;
                    }
                    break;
                }
                // The fault's own answers: the outcome is unknown, the same key goes again.
                Err(Error::Unavailable { .. } | Error::Internal) => {
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                // An earlier attempt holds the lease until it runs out: maintenance settles it.
                Err(Error::Conflict {
                    reason: ReasonCode::IdempotencyKeyInProgress,
                }) => {
                    left += 1;
                    break;
                }
                Err(other) => panic!("purchase {i}: {other:?}"),
            }
        }
        i += 1;
    }
    stop.store(true, Ordering::Relaxed);
    killing.await.unwrap();
    let injected = hits.total();

    let (ordered, refunded) =
        faults::check(&portal, store.as_ref(), &gateway, &committed, injected).await;

    // Every key tried once more: the order it became, or a conflict for a refunded one.
    let numbers: BTreeMap<&str, &str> = committed
        .iter()
        .map(|l| (l[1].as_str(), l[2].as_str()))
        .collect();
    let existing = order_numbers(&ada).await;
    let (mut replayed, mut placed_now) = (0, 0);
    for (i, key) in &tried {
        match faults::purchase(&ada, card, *i, key).await.1 {
            Ok(order) => {
                let number = order.number.to_string();
                if let Some(first) = numbers.get(key.as_str()) {
                    assert_eq!(number, *first, "{key} answered another order");
                }
                if existing.contains(&number) {
                    replayed += 1;
                } else {
                    // No attempt got as far as recording the intent: the key was never used.
                    assert!(!numbers.contains_key(key.as_str()));
                    placed_now += 1;
                }
            }
            Err(Error::Conflict {
                reason: ReasonCode::IdempotencyKeyReused,
            }) => assert!(
                !numbers.contains_key(key.as_str()),
                "{key}: committed, then refused"
            ),
            Err(other) => panic!("{key} after maintenance: {other:?}"),
        }
    }
    assert_eq!(
        replayed, ordered,
        "keys answering an order vs charged keys ended as orders"
    );
    println!(
        "postgres faults: {injected} injected (before COMMIT {}, during statements {}, during \
         COMMIT {}, after COMMIT {}); {} purchases, {} reported committed ({retried_ok} after a \
         retry), {failures} failed attempts, {left} left to maintenance; {ordered} charged keys \
         ended as orders, {refunded} refunded, {placed_now} keys unused until the replay; 0 lost, \
         0 partial",
        hits.before_commit.load(Ordering::Relaxed),
        hits.during_statement.load(Ordering::Relaxed),
        hits.during_commit.load(Ordering::Relaxed),
        hits.after_commit.load(Ordering::Relaxed),
        tried.len(),
        committed.len(),
    );
    assert!(injected >= faults_wanted, "only {injected} faults injected");
}

/// The numbers of every order of the Owner's organisation.
async fn order_numbers(ada: &selfcare::Session) -> std::collections::BTreeSet<String> {
    let mut numbers = std::collections::BTreeSet::new();
    let mut page = selfcare::storage::PageRequest::first(500);
    loop {
        let p = ada.orders(&page).await.unwrap();
        numbers.extend(p.items.iter().map(|o| o.number.to_string()));
        match p.next {
            Some(c) => page = selfcare::storage::PageRequest::after(c, 500),
            None => return numbers,
        }
    }
}
