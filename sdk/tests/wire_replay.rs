//! Two fresh services on one fixed clock with the same random seed answer the same random
//! sequences of wire requests byte for byte alike: a local `Portal` on the in-memory store
//! through `Portal::serve_request`, and a `LocalTransport` over a portal on a SQLite file (the
//! examples crate puts the reference HTTP service in its place).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;
mod replay;

use std::sync::Arc;

use proptest::prelude::*;
use selfcare::dev::ManualClock;
use selfcare::remote::LocalTransport;
use selfcare::storage::MemoryStore;
use selfcare::storage::ports::{SeededRandomness, Transport};
use selfcare::wire::Credentials;
use selfcare::{Portal, Ports, RequestContext};
use time::macros::datetime;

fn portal(clock: &ManualClock, store: Arc<dyn selfcare::storage::Store>) -> Portal {
    let (ports, _) = Ports::development_with(Arc::new(clock.clone()));
    let ports = ports.with_randomness(Arc::new(SeededRandomness::new(7)));
    Portal::with_store(store, ports, common::test_config()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn a_memory_and_a_sqlite_service_answer_random_requests_with_the_same_bytes(steps in replay::steps()) {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let tally = rt.block_on(async {
            let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
            let dir = tempfile::tempdir().unwrap();
            let sqlite = Arc::new(selfcare::sqlite::SqliteStore::open(dir.path().join("b.db")).await.unwrap());
            let ctx = RequestContext::from_source("127.0.0.1");
            let local = replay::Local {
                portal: portal(&clock, Arc::new(MemoryStore::new())),
                credentials: Credentials::new(),
                ctx: ctx.clone(),
            };
            let other: Arc<dyn Transport> = Arc::new(LocalTransport::new(
                portal(&clock, sqlite),
                Credentials::new(),
                ctx,
            ));
            replay::replay(&local, &clock, &other, &steps).await
        });
        // Most generated requests are meant to succeed; the sequence is not all refusals.
        prop_assert!(tally.sent == 0 || tally.succeeded * 2 >= tally.sent, "{tally:?}");
    }
}
