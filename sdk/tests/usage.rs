//! Usage records (TOP-2, TOP-3, ACC-5) and the automatic top-up they start (PAY-3), with the
//! development gateway and its ledger: duplicates ignored, notices once, one charge per
//! exhaustion under 32 concurrent duplicate reports, the monthly-limit stop, declines.

// Test code: a surprise is a failed test.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{business, ctx};
use selfcare::core::address::{AddressInput, AddressUsage};
use selfcare::core::catalogue::Catalogue;
use selfcare::core::customer::Limit;
use selfcare::core::ids::{OrgId, SimId};
use selfcare::core::notifications::NotificationKind;
use selfcare::core::numbers::Iccid;
use selfcare::core::orders::{GatewayKey, Order, OrderPayment, OrderType};
use selfcare::core::payment::AutoTopUpTarget;
use selfcare::core::quota::{QuotaState, UsageRecord, VolumeKind};
use selfcare::dev::{DevHandles, DevVerifier, LedgerEntry};
use selfcare::storage::PageRequest;
use selfcare::storage::Store;
use selfcare::storage::outbox::OutboxMessage;
use selfcare::storage::ports::{ChargeOutcome, Clock, ManualClock};
use selfcare::usage::{AutoTopUpOutcome, RejectReason, UsageReport};
use selfcare::{Portal, Ports, Session};
use time::Duration;
use time::macros::datetime;

struct World {
    portal: Portal,
    clock: ManualClock,
    store: Arc<dyn Store>,
    dev: DevHandles,
}

/// A portal with the development ports and a manual clock, on the store
/// `SELFCARE_TEST_STORE` names (the in-memory one by default).
async fn world() -> World {
    let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
    let store = common::test_store().await;
    let (ports, dev) = Ports::development_with(Arc::new(clock.clone()));
    let config = common::test_config();
    let portal = Portal::with_store(Arc::clone(&store), ports, config).unwrap();
    World {
        portal,
        clock,
        store,
        dev,
    }
}

async fn login(w: &World, email: &str) -> Session {
    common::session(&w.portal, email).await
}

fn address() -> AddressInput {
    common::billing_address()
}

/// A registered business with a default billing/shipping address, a card saved from `token`,
/// and the Owner's session.
async fn customer(w: &World, email: &str, token: &str) -> (OrgId, Session) {
    let (customer, owner) = business(email);
    let registered = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let session = login(w, email).await;
    session
        .add_address(address(), AddressUsage::BOTH, AddressUsage::BOTH, None)
        .await
        .unwrap();
    session
        .save_card(
            token.into(),
            "Ada Owner",
            Some(DevVerifier::PASSING_TOKEN.into()),
        )
        .await
        .unwrap();
    (registered.org, session)
}

/// A SIM of `org` (numbered `n`) delivered with an order, written through the store as staff
/// tooling would, with data quota generation 1 of `volume` bytes of which `used` are used.
async fn sim(w: &World, org: OrgId, n: u8, volume: u64, used: u64) -> (SimId, Iccid) {
    common::insert_sim(
        w.store.as_ref(),
        org,
        n,
        w.clock.now(),
        Some((volume, used)),
    )
    .await
}

fn record(w: &World, id: &str, iccid: &Iccid, data_bytes: u64) -> UsageRecord {
    UsageRecord::new(id, iccid.clone(), w.clock.now(), data_bytes, 0).unwrap()
}

async fn quota_state(w: &World, org: OrgId, sim: SimId) -> QuotaState {
    let mut tx = w.store.begin(org).await.unwrap();
    tx.get_quota(sim).await.unwrap().unwrap().value.state
}

async fn orders(w: &World, org: OrgId) -> Vec<Order> {
    let mut tx = w.store.begin(org).await.unwrap();
    tx.list_orders(&PageRequest::first(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|o| o.value)
        .collect()
}

/// Every message in the outbox, read through the store (the lease is rolled back).
async fn outbox(w: &World) -> Vec<OutboxMessage> {
    let ids = {
        let mut tx = w.store.begin_provider().await.unwrap();
        tx.lease_due_messages(w.clock.now() + Duration::days(1), Duration::minutes(1), 500)
            .await
            .unwrap()
    };
    let mut out = Vec::new();
    for (org, id) in ids {
        let mut tx = w.store.begin(org).await.unwrap();
        out.push(tx.get_outbox_message(id).await.unwrap().unwrap());
    }
    out
}

async fn count_of(w: &World, kind: NotificationKind) -> usize {
    outbox(w).await.iter().filter(|m| m.kind == kind).count()
}

fn charges(w: &World) -> Vec<(GatewayKey, bool, ChargeOutcome)> {
    w.dev
        .gateway
        .ledger()
        .into_iter()
        .filter_map(|e| match e {
            LedgerEntry::Charge {
                key,
                merchant_initiated,
                outcome,
                ..
            } => Some((key, merchant_initiated, outcome)),
            LedgerEntry::Refund { .. } => None,
        })
        .collect()
}

fn data_top_up_bytes() -> u64 {
    // The automatic top-up buys the catalogue's first data top-up.
    Catalogue::example()
        .products()
        .find_map(|p| match p.kind().top_up_volume() {
            Some((VolumeKind::Data, bytes)) => Some(bytes),
            _ => None,
        })
        .unwrap()
}

async fn usage(w: &World, records: Vec<UsageRecord>) -> UsageReport {
    w.portal.record_usage(records).await.unwrap()
}

const MB: u64 = 1_000_000;

// ---------------------------------------------------------------------------------------------
// TOP-2: records, generations
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn top_2_a_record_seen_twice_is_ignored() {
    let w = world().await;
    let (org, _) = customer(&w, "ada@acme.example", "tok_visa").await;
    let (sim, iccid) = sim(&w, org, 1, 1_000 * MB, 0).await;

    let first = usage(&w, vec![record(&w, "r-1", &iccid, 100 * MB)]).await;
    assert_eq!((first.applied, first.duplicates_ignored), (1, 0));
    // Again, and twice inside one batch with a new one.
    let again = usage(
        &w,
        vec![
            record(&w, "r-1", &iccid, 100 * MB),
            record(&w, "r-2", &iccid, 50 * MB),
            record(&w, "r-2", &iccid, 50 * MB),
        ],
    )
    .await;
    assert_eq!((again.applied, again.duplicates_ignored), (1, 2));
    let state = quota_state(&w, org, sim).await;
    assert_eq!(state.quota(VolumeKind::Data).used, 150 * MB);
}

#[tokio::test]
async fn top_2_records_of_an_unknown_iccid_are_rejected_not_an_error_of_the_batch() {
    let w = world().await;
    let (org, _) = customer(&w, "ada@acme.example", "tok_visa").await;
    let (sim, iccid) = sim(&w, org, 1, 1_000 * MB, 0).await;
    let unknown = Iccid::from_payload("898822899999999999").unwrap();
    let report = usage(
        &w,
        vec![
            record(&w, "x-1", &unknown, 10 * MB),
            record(&w, "r-1", &iccid, 10 * MB),
        ],
    )
    .await;
    assert_eq!(report.applied, 1);
    assert_eq!(report.rejected.len(), 1);
    assert_eq!(report.rejected[0].iccid, unknown);
    assert_eq!(report.rejected[0].reason, RejectReason::UnknownSim);
    assert_eq!(
        quota_state(&w, org, sim).await.quota(VolumeKind::Data).used,
        10 * MB
    );
    // Nothing was stored for the rejected id: once the SIM exists it can still be applied.
    let mut tx = w.store.begin(org).await.unwrap();
    let id = selfcare::core::quota::UsageRecordId::parse("x-1").unwrap();
    assert_eq!(tx.seen_usage_record(&id).await.unwrap(), None);
}

#[tokio::test]
async fn top_2_exhaustion_with_auto_top_up_charges_one_top_up_to_the_stored_card() {
    let w = world().await;
    let (org, ada) = customer(&w, "ada@acme.example", "tok_visa").await;
    let (sim, iccid) = sim(&w, org, 1, 1_000 * MB, 900 * MB).await;
    ada.set_auto_top_up(AutoTopUpTarget::Sim(sim), true)
        .await
        .unwrap();

    // 200 MB on 100 MB left: remaining goes to -100 MB.
    let report = usage(&w, vec![record(&w, "r-1", &iccid, 200 * MB)]).await;
    assert_eq!((report.top_ups_charged, report.top_ups_failed), (1, 0));
    let key = GatewayKey::auto_top_up(sim, 1);
    assert_eq!(report.top_ups[0].key, key);
    let AutoTopUpOutcome::Charged { order_number } = &report.top_ups[0].outcome else {
        panic!("charged expected: {report:?}");
    };

    // One top-up order, paid by card, charged once, merchant-initiated, with the auto key.
    let orders = orders(&w, org).await;
    let top_ups: Vec<_> = orders
        .iter()
        .filter(|o| o.order_type == OrderType::TopUp)
        .collect();
    assert_eq!(top_ups.len(), 1);
    assert_eq!(&top_ups[0].number, order_number);
    assert!(matches!(top_ups[0].payment, OrderPayment::Card { .. }));
    let charges = charges(&w);
    assert_eq!(charges.len(), 1);
    assert_eq!(charges[0].0, key);
    assert!(charges[0].1, "an automatic top-up is merchant-initiated");
    assert!(matches!(charges[0].2, ChargeOutcome::Succeeded { .. }));

    // The new generation: top-up volume + max(-100 MB, 0).
    let state = quota_state(&w, org, sim).await;
    let data = state.quota(VolumeKind::Data);
    assert_eq!(data.generation, 2);
    assert_eq!((data.volume, data.used), (data_top_up_bytes(), 0));
    assert_eq!(count_of(&w, NotificationKind::AutoTopUpCharged).await, 1);
    assert_eq!(count_of(&w, NotificationKind::VolumeExhausted).await, 1);

    // The same record again: ignored, nothing charged.
    let again = usage(&w, vec![record(&w, "r-1", &iccid, 200 * MB)]).await;
    assert_eq!((again.duplicates_ignored, again.top_ups.len()), (1, 0));
    assert_eq!(w.dev.gateway.ledger().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn top_2_32_concurrent_duplicate_exhaustion_reports_give_exactly_one_top_up() {
    let w = Arc::new(world().await);
    let (org, ada) = customer(&w, "ada@acme.example", "tok_visa").await;
    let (sim, iccid) = sim(&w, org, 1, 1_000 * MB, 990 * MB).await;
    ada.set_auto_top_up(AutoTopUpTarget::AllSims, true)
        .await
        .unwrap();
    let batch = vec![
        record(&w, "r-exhaust", &iccid, 50 * MB),
        record(&w, "r-after", &iccid, MB),
    ];

    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let portal = w.portal.clone();
            let batch = batch.clone();
            tokio::spawn(async move { portal.record_usage(batch).await })
        })
        .collect();
    let mut applied = 0;
    let mut charged = 0;
    for task in tasks {
        let report = task.await.unwrap().unwrap();
        applied += report.applied;
        charged += report.top_ups_charged;
    }
    assert_eq!(applied, 2, "each record applied once");
    assert_eq!(charged, 1);
    let top_ups = orders(&w, org)
        .await
        .into_iter()
        .filter(|o| o.order_type == OrderType::TopUp)
        .count();
    assert_eq!(top_ups, 1);
    assert_eq!(charges(&w).len(), 1);
    assert_eq!(
        w.dev
            .gateway
            .successful_charges(&GatewayKey::auto_top_up(sim, 1)),
        1
    );
    let state = quota_state(&w, org, sim).await;
    assert_eq!(state.last_generation(), 2, "exactly one new generation");
    assert_eq!(state.quota(VolumeKind::Data).generation, 2);
    assert_eq!(count_of(&w, NotificationKind::VolumeExhausted).await, 1);
}

#[tokio::test]
async fn top_2_gateway_failure_leaves_the_top_up_to_maintenance() {
    let w = world().await;
    let (org, ada) = customer(&w, "ada@acme.example", "tok_visa").await;
    let (sim, iccid) = sim(&w, org, 1, 100 * MB, 0).await;
    ada.set_auto_top_up(AutoTopUpTarget::Sim(sim), true)
        .await
        .unwrap();
    w.dev.gateway.set_unavailable(true);
    let report = usage(&w, vec![record(&w, "r-1", &iccid, 100 * MB)]).await;
    assert_eq!(report.top_ups[0].outcome, AutoTopUpOutcome::Pending);
    assert!(
        orders(&w, org)
            .await
            .iter()
            .all(|o| o.order_type != OrderType::TopUp)
    );

    // The intent was recorded with the usage: maintenance charges it under the same key.
    w.dev.gateway.set_unavailable(false);
    w.clock.advance(Duration::minutes(2));
    let settled = w.portal.run_maintenance(w.clock.now()).await.unwrap();
    assert_eq!(settled.intents.completed, 1);
    assert_eq!(
        w.dev
            .gateway
            .successful_charges(&GatewayKey::auto_top_up(sim, 1)),
        1
    );
    assert_eq!(
        quota_state(&w, org, sim)
            .await
            .quota(VolumeKind::Data)
            .generation,
        2
    );
}

// ---------------------------------------------------------------------------------------------
// TOP-3: notices once per generation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn top_3_thresholds_20_and_0_percent_are_notified_once_per_generation() {
    let w = world().await;
    let (org, _) = customer(&w, "ada@acme.example", "tok_visa").await;
    let (_, iccid) = sim(&w, org, 1, 1_000 * MB, 0).await;

    // 800 MB used: 20 % left.
    let r = usage(&w, vec![record(&w, "r-1", &iccid, 800 * MB)]).await;
    assert_eq!(r.notices, 1);
    let r = usage(&w, vec![record(&w, "r-2", &iccid, 100 * MB)]).await;
    assert_eq!(r.notices, 0, "20 % is crossed only once");
    assert_eq!(
        count_of(&w, NotificationKind::VolumeThresholdReached).await,
        1
    );
    // Exhausted, then beyond.
    usage(&w, vec![record(&w, "r-3", &iccid, 100 * MB)]).await;
    usage(&w, vec![record(&w, "r-4", &iccid, 100 * MB)]).await;
    assert_eq!(count_of(&w, NotificationKind::VolumeExhausted).await, 1);
    assert_eq!(
        count_of(&w, NotificationKind::VolumeThresholdReached).await,
        1
    );
    let notice = outbox(&w)
        .await
        .into_iter()
        .find(|m| m.kind == NotificationKind::VolumeThresholdReached)
        .unwrap();
    assert!(
        notice
            .to
            .iter()
            .any(|e| e.as_str() == "billing@acme.example")
    );
}

// ---------------------------------------------------------------------------------------------
// ACC-5: the monthly limit stops the automatic top-up
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn acc_5_monthly_limit_reached_stops_the_top_up_and_is_notified_once() {
    let w = world().await;
    let (org, ada) = customer(&w, "ada@acme.example", "tok_visa").await;
    ada.set_volume_limits(Limit::Capped(1_000), Limit::Unlimited)
        .await
        .unwrap();
    let (sim, iccid) = sim(&w, org, 1, 1_000 * MB, 0).await;
    ada.set_auto_top_up(AutoTopUpTarget::Sim(sim), true)
        .await
        .unwrap();

    // 1 000 MB this month: the quota is exhausted and the monthly limit reached at once.
    let report = usage(&w, vec![record(&w, "r-1", &iccid, 1_000 * MB)]).await;
    assert!(report.top_ups.is_empty());
    assert!(charges(&w).is_empty());
    assert!(
        orders(&w, org)
            .await
            .iter()
            .all(|o| o.order_type != OrderType::TopUp)
    );
    assert_eq!(count_of(&w, NotificationKind::MonthlyLimitReached).await, 1);
    // More use in the month: still no top-up, no second notice.
    usage(&w, vec![record(&w, "r-2", &iccid, 10 * MB)]).await;
    assert_eq!(count_of(&w, NotificationKind::MonthlyLimitReached).await, 1);
    assert!(charges(&w).is_empty());
    assert_eq!(
        quota_state(&w, org, sim)
            .await
            .quota(VolumeKind::Data)
            .generation,
        1
    );
}

// ---------------------------------------------------------------------------------------------
// PAY-3: Auto-Top-Up on or off, declined cards
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn pay_3_declined_card_tells_the_customer_and_is_not_retried() {
    let w = world().await;
    let (org, ada) = customer(&w, "ada@acme.example", "tok_declined").await;
    let (sim, iccid) = sim(&w, org, 1, 100 * MB, 0).await;
    ada.set_auto_top_up(AutoTopUpTarget::Sim(sim), true)
        .await
        .unwrap();

    let report = usage(&w, vec![record(&w, "r-1", &iccid, 150 * MB)]).await;
    assert_eq!((report.top_ups_charged, report.top_ups_failed), (0, 1));
    assert!(matches!(
        report.top_ups[0].outcome,
        AutoTopUpOutcome::Failed { .. }
    ));
    assert!(
        orders(&w, org)
            .await
            .iter()
            .all(|o| o.order_type != OrderType::TopUp)
    );
    assert_eq!(count_of(&w, NotificationKind::AutoTopUpFailed).await, 1);
    let declined = charges(&w);
    assert_eq!(declined.len(), 1);
    assert!(matches!(declined[0].2, ChargeOutcome::Declined { .. }));

    // More use in the same generation, and maintenance later: no second attempt.
    usage(&w, vec![record(&w, "r-2", &iccid, 10 * MB)]).await;
    w.clock.advance(Duration::hours(25));
    w.portal.run_maintenance(w.clock.now()).await.unwrap();
    assert_eq!(w.dev.gateway.calls().charge, 1);
    assert_eq!(count_of(&w, NotificationKind::AutoTopUpFailed).await, 1);
    assert_eq!(
        quota_state(&w, org, sim)
            .await
            .quota(VolumeKind::Data)
            .generation,
        1
    );
}

#[tokio::test]
async fn pay_3_auto_top_up_off_gives_the_exhaustion_notice_only() {
    let w = world().await;
    let (org, _) = customer(&w, "ada@acme.example", "tok_visa").await;
    let (sim, iccid) = sim(&w, org, 1, 100 * MB, 50 * MB).await;
    let report = usage(&w, vec![record(&w, "r-1", &iccid, 60 * MB)]).await;
    assert!(report.top_ups.is_empty());
    assert!(w.dev.gateway.ledger().is_empty());
    assert_eq!(count_of(&w, NotificationKind::VolumeExhausted).await, 1);
    assert_eq!(count_of(&w, NotificationKind::AutoTopUpCharged).await, 0);
    assert_eq!(
        quota_state(&w, org, sim)
            .await
            .quota(VolumeKind::Data)
            .generation,
        1
    );
}
