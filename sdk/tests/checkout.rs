//! Orders and top-ups through a session (ORD-5, ORD-2, TOP-1, TOP-2, USR-4) with the
//! development gateway behind a wrapper that counts charges and can lose a response or hold a
//! charge open: one charge per key, a retry returns the first result without a gateway call,
//! leases, declines, 3-D Secure, and the settlement of an intent a crash left pending.

// Test code: a surprise is a failed test.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use async_trait::async_trait;
use common::{business, ctx};
use selfcare::checkout::{Payment, PlaceOrder, TopUpTarget};
use selfcare::core::ReasonCode;
use selfcare::core::address::{AddressInput, AddressUsage};
use selfcare::core::catalogue::{Catalogue, Sku};
use selfcare::core::ids::{CardId, OrderId, OrgId, SimId};
use selfcare::core::numbers::Iccid;
use selfcare::core::orders::{GatewayKey, IdempotencyKey, Order, OrderPayment, OrderType};
use selfcare::core::payment::{CardToken, VerifiedCard};
use selfcare::core::quota::{Quota, VolumeKind};
use selfcare::core::roles::Role;
use selfcare::dev::{DevGateway, DevHandles, DevVerifier, LedgerEntry};
use selfcare::storage::PageRequest;
use selfcare::storage::ports::{
    ChargeOutcome, ChargeRequest, Clock, ManualClock, PaymentGateway, PortError, RefundOutcome,
    RefundRequest,
};
use selfcare::storage::{MemoryStore, Store};
use selfcare::{Error, Portal, Ports, Session};
use time::macros::datetime;
use tokio::sync::Notify;

const NORMAL: u8 = 0;
/// Charges, then reports a timeout: the process "crashed" before it learnt the outcome.
const LOSE_RESPONSE: u8 = 1;
/// Charges, then waits for `release` before answering.
const HOLD: u8 = 2;

/// The development gateway, counting charge calls, with a switchable fault.
struct Gateway {
    inner: Arc<DevGateway>,
    charges: AtomicUsize,
    mode: AtomicU8,
    release: Notify,
    charged: Notify,
}

#[async_trait]
impl PaymentGateway for Gateway {
    async fn verify_card(&self, token: &CardToken) -> Result<VerifiedCard, PortError> {
        self.inner.verify_card(token).await
    }
    async fn charge(&self, request: ChargeRequest) -> Result<ChargeOutcome, PortError> {
        self.charges.fetch_add(1, Ordering::SeqCst);
        let outcome = self.inner.charge(request).await;
        match self.mode.load(Ordering::SeqCst) {
            LOSE_RESPONSE => Err(PortError::Timeout),
            HOLD => {
                self.charged.notify_one();
                self.release.notified().await;
                outcome
            }
            _ => outcome,
        }
    }
    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, PortError> {
        self.inner.refund(request).await
    }
}

struct World {
    portal: Portal,
    clock: ManualClock,
    store: Arc<dyn Store>,
    dev: DevHandles,
    gateway: Arc<Gateway>,
}

impl World {
    fn charges(&self) -> usize {
        self.gateway.charges.load(Ordering::SeqCst)
    }
    fn mode(&self, mode: u8) {
        self.gateway.mode.store(mode, Ordering::SeqCst);
    }
    fn successful_charges(&self) -> usize {
        self.dev
            .gateway
            .ledger()
            .iter()
            .filter(|e| e.is_successful_charge())
            .count()
    }
    fn successful_refunds(&self) -> usize {
        self.dev
            .gateway
            .ledger()
            .iter()
            .filter(|e| e.is_successful_refund())
            .count()
    }
}

fn world() -> World {
    let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (mut ports, dev) = Ports::development_with(Arc::new(clock.clone()));
    let gateway = Arc::new(Gateway {
        inner: Arc::clone(&dev.gateway),
        charges: AtomicUsize::new(0),
        mode: AtomicU8::new(NORMAL),
        release: Notify::new(),
        charged: Notify::new(),
    });
    ports.gateway = gateway.clone();
    let config = common::test_config();
    let portal = Portal::with_store(Arc::clone(&store), ports, config).unwrap();
    World {
        portal,
        clock,
        store,
        dev,
        gateway,
    }
}

async fn login(w: &World, email: &str) -> Session {
    common::session(&w.portal, email).await
}

fn address(street: &str) -> AddressInput {
    AddressInput {
        name: "Ada Owner".into(),
        company: Some("Acme IoT GmbH".into()),
        street: street.into(),
        house_number: Some("116".into()),
        postal_code: "10115".into(),
        city: "Berlin".into(),
        country: "DE".into(),
        ..AddressInput::default()
    }
}

/// A registered business with a default billing/shipping address, a card saved from `token`,
/// and the Owner's session.
async fn shop(w: &World, email: &str, token: &str) -> (OrgId, Session, CardId) {
    let (customer, owner) = business(email);
    let registered = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let session = login(w, email).await;
    session
        .add_address(
            address("Invalidenstraße"),
            AddressUsage::BOTH,
            AddressUsage::BOTH,
            None,
        )
        .await
        .unwrap();
    let card = session
        .save_card(
            token.into(),
            "Ada Owner",
            Some(DevVerifier::PASSING_TOKEN.into()),
        )
        .await
        .unwrap();
    (registered.org, session, card.id)
}

fn sku(s: &str) -> Sku {
    Sku::parse(s).unwrap()
}

fn order_request(card: CardId, quantity: u32) -> PlaceOrder {
    PlaceOrder {
        items: vec![(sku("SIM-STD"), quantity)],
        billing_address: None,
        shipping_address: None,
        payment: Payment::Card(card),
    }
}

fn gateway_key(org: OrgId, key: &str) -> GatewayKey {
    GatewayKey::order(org, &IdempotencyKey::parse(key).unwrap())
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

fn reason<T: std::fmt::Debug>(result: Result<T, Error>) -> ReasonCode {
    result.expect_err("the call should be refused").reason()
}

/// A SIM of `org` (numbered `n`) delivered with an order staff created, optionally with a
/// quota generation 1 of `volume` data bytes of which `used` are used.
async fn sim(w: &World, org: OrgId, n: u8, quota: Option<(u64, u64)>) -> (SimId, Iccid) {
    common::insert_sim(w.store.as_ref(), org, n, w.clock.now(), quota).await
}

async fn quota(w: &World, org: OrgId, sim: SimId) -> Quota {
    let mut tx = w.store.begin(org).await.unwrap();
    *tx.get_quota(sim)
        .await
        .unwrap()
        .unwrap()
        .value
        .state
        .quota(VolumeKind::Data)
}

fn data_top_up_bytes(product: &str) -> u64 {
    let catalogue = Catalogue::example();
    let (kind, bytes) = catalogue
        .get(&sku(product))
        .unwrap()
        .kind()
        .top_up_volume()
        .unwrap();
    assert_eq!(kind, VolumeKind::Data);
    bytes
}

#[tokio::test]
async fn ord_5_order_is_charged_once_and_copies_the_default_addresses() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    let order = ada
        .place_order(order_request(card, 2), "order-1")
        .await
        .unwrap();
    assert_eq!(order.order_type, OrderType::FirstOrder);
    assert_eq!(order.billing_address.postal_code(), "10115");
    assert_eq!(w.charges(), 1);
    assert_eq!(
        w.dev
            .gateway
            .successful_charges(&gateway_key(org, "order-1")),
        1
    );
    assert_eq!(orders(&w, org).await, vec![order.clone()]);

    // ADDR-3: editing the address later does not change the order.
    let book = ada.addresses().await.unwrap();
    ada.update_address(
        book.entries[0].id,
        address("Chausseestraße"),
        AddressUsage::BOTH,
        None,
    )
    .await
    .unwrap();
    assert_eq!(orders(&w, org).await, vec![order.clone()]);

    // A second order with another key is an additional order.
    let second = ada
        .place_order(order_request(card, 1), "order-2")
        .await
        .unwrap();
    assert_eq!(second.order_type, OrderType::AdditionalOrder);
    assert_ne!(second.number, order.number);
    assert_eq!(w.charges(), 2);
}

#[tokio::test]
async fn ord_2_order_is_priced_with_vat_of_the_catalogue() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    let order = ada
        .place_order(order_request(card, 2), "order-1")
        .await
        .unwrap();
    // 2 × 10.00 EUR at 19 % (a German business buying from a German seller).
    assert_eq!(order.priced.totals.net.to_string(), "20.00 EUR");
    assert_eq!(order.priced.totals.vat.to_string(), "3.80 EUR");
    assert_eq!(order.priced.totals.gross.to_string(), "23.80 EUR");
    let charged: Vec<_> = w
        .dev
        .gateway
        .ledger()
        .into_iter()
        .filter_map(|e| match e {
            LedgerEntry::Charge {
                key,
                amount,
                merchant_initiated,
                ..
            } => Some((key, amount, merchant_initiated)),
            _ => None,
        })
        .collect();
    assert_eq!(
        charged,
        vec![(
            gateway_key(org, "order-1"),
            order.priced.totals.gross,
            false
        )]
    );
}

#[tokio::test]
async fn ord_5_retry_after_completion_returns_the_first_order_without_a_gateway_call() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    let first = ada
        .place_order(order_request(card, 2), "order-1")
        .await
        .unwrap();
    assert_eq!(w.charges(), 1);
    for _ in 0..3 {
        let again = ada
            .place_order(order_request(card, 2), "order-1")
            .await
            .unwrap();
        assert_eq!(again, first);
    }
    assert_eq!(w.charges(), 1, "a retry must not reach the gateway");
    assert_eq!(orders(&w, org).await.len(), 1);
}

#[tokio::test]
async fn ord_5_same_key_with_another_request_is_conflict() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    ada.place_order(order_request(card, 2), "order-1")
        .await
        .unwrap();
    let other = ada.place_order(order_request(card, 3), "order-1").await;
    assert_eq!(reason(other), ReasonCode::IdempotencyKeyReused);
    assert_eq!(w.charges(), 1);
    assert_eq!(orders(&w, org).await.len(), 1);
}

#[tokio::test]
async fn ord_5_decline_leaves_no_order() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_declined").await;
    let declined = ada.place_order(order_request(card, 1), "order-1").await;
    assert!(
        matches!(&declined, Err(Error::PaymentDeclined { reason }) if reason == "card_declined"),
        "{declined:?}"
    );
    assert!(orders(&w, org).await.is_empty());
    // The first result is the decline: a retry gets it again without a new charge.
    let again = ada.place_order(order_request(card, 1), "order-1").await;
    assert_eq!(reason(again), ReasonCode::PaymentDeclined);
    assert_eq!(w.charges(), 1);
    assert!(orders(&w, org).await.is_empty());
}

#[tokio::test]
async fn ord_5_payment_action_required_returns_the_next_action() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_3ds").await;
    let asked = ada.place_order(order_request(card, 1), "order-1").await;
    let Err(Error::PaymentActionRequired { next_action }) = asked else {
        panic!("expected the next action: {asked:?}");
    };
    assert!(!next_action.url.is_empty());
    assert!(orders(&w, org).await.is_empty());

    // The customer completes 3-D Secure; a retry with the same key gets the order, charged
    // once.
    let key = gateway_key(org, "order-1");
    assert!(w.dev.gateway.complete_action(&key, true).is_some());
    let order = ada
        .place_order(order_request(card, 1), "order-1")
        .await
        .unwrap();
    assert_eq!(orders(&w, org).await, vec![order]);
    assert_eq!(w.dev.gateway.successful_charges(&key), 1);
}

/// Starts `place_order` in a task whose gateway call charges and then is held open; returns
/// once the charge happened.
async fn held_order(
    w: &World,
    session: &Session,
    card: CardId,
    key: &'static str,
) -> tokio::task::JoinHandle<Result<Order, Error>> {
    w.mode(HOLD);
    let s = w.portal.resume(session.token()).await.unwrap();
    let task = tokio::spawn(async move { s.place_order(order_request(card, 1), key).await });
    w.gateway.charged.notified().await;
    w.mode(NORMAL);
    task
}

#[tokio::test]
async fn ord_5_key_leased_by_another_attempt_is_in_progress() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    let first = held_order(&w, &ada, card, "order-1").await;
    let second = ada.place_order(order_request(card, 1), "order-1").await;
    assert_eq!(reason(second), ReasonCode::IdempotencyKeyInProgress);
    // The first attempt finishes; its order is the key's result.
    w.gateway.release.notify_one();
    let order = first.await.unwrap().unwrap();
    let again = ada
        .place_order(order_request(card, 1), "order-1")
        .await
        .unwrap();
    assert_eq!(again, order);
    assert_eq!(orders(&w, org).await.len(), 1);
    assert_eq!(w.charges(), 1);
}

#[tokio::test]
async fn ord_5_stale_lease_is_taken_over_with_the_same_gateway_key() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    // The first attempt dies after the charge, before it learnt the outcome.
    let first = held_order(&w, &ada, card, "order-1").await;
    first.abort();
    assert!(first.await.is_err());
    assert_eq!(
        reason(ada.place_order(order_request(card, 1), "order-1").await),
        ReasonCode::IdempotencyKeyInProgress
    );
    w.clock.advance(time::Duration::seconds(61));
    let ada = w.portal.resume(ada.token()).await.unwrap();
    let order = ada
        .place_order(order_request(card, 1), "order-1")
        .await
        .unwrap();
    assert_eq!(orders(&w, org).await, vec![order]);
    // Asked twice, with the same key: charged once.
    assert_eq!(w.charges(), 2);
    let key = gateway_key(org, "order-1");
    let ledger = w.dev.gateway.ledger();
    assert!(ledger.iter().all(|e| e.key() == &key), "{ledger:?}");
    assert_eq!(w.successful_charges(), 1);
}

#[tokio::test]
async fn ord_5_gateway_unavailable_then_a_retry_completes_with_one_charge() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    w.dev.gateway.set_unavailable(true);
    let down = ada.place_order(order_request(card, 1), "order-1").await;
    assert!(matches!(down, Err(Error::Unavailable { .. })), "{down:?}");
    assert!(orders(&w, org).await.is_empty());
    w.dev.gateway.set_unavailable(false);
    // The lease was released: the retry resumes at once.
    let order = ada
        .place_order(order_request(card, 1), "order-1")
        .await
        .unwrap();
    assert_eq!(orders(&w, org).await, vec![order]);
    assert_eq!(w.successful_charges(), 1);
}

#[tokio::test]
async fn ord_5_crash_between_charge_and_order_is_completed_by_maintenance() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    w.mode(LOSE_RESPONSE);
    let lost = ada.place_order(order_request(card, 1), "order-1").await;
    assert!(matches!(lost, Err(Error::Unavailable { .. })), "{lost:?}");
    w.mode(NORMAL);
    assert!(orders(&w, org).await.is_empty());
    assert_eq!(w.successful_charges(), 1);

    w.clock.advance(time::Duration::seconds(61));
    let report = w
        .portal
        .run_maintenance(w.clock.now())
        .await
        .unwrap()
        .intents;
    assert_eq!((report.completed, report.refunded), (1, 0), "{report:?}");
    let placed = orders(&w, org).await;
    assert_eq!(placed.len(), 1);
    // Completed, never both: one charge, no refund.
    assert_eq!((w.successful_charges(), w.successful_refunds()), (1, 0));
    // Nothing is left to settle, and the customer's retry gets the order without a charge.
    let again = w
        .portal
        .run_maintenance(w.clock.now())
        .await
        .unwrap()
        .intents;
    assert_eq!(again, Default::default());
    let calls = w.charges();
    let ada = w.portal.resume(ada.token()).await.unwrap();
    let order = ada
        .place_order(order_request(card, 1), "order-1")
        .await
        .unwrap();
    assert_eq!(vec![order], placed);
    assert_eq!(w.charges(), calls);
}

#[tokio::test]
async fn ord_5_crash_then_an_order_that_cannot_be_written_is_refunded() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    w.mode(LOSE_RESPONSE);
    let lost = ada.place_order(order_request(card, 1), "order-1").await;
    assert!(matches!(lost, Err(Error::Unavailable { .. })), "{lost:?}");
    w.mode(NORMAL);

    // Meanwhile the prepared order number was taken (by another organisation): step 3 can
    // never succeed.
    let key = IdempotencyKey::parse("order-1").unwrap();
    let prepared: Order = {
        let mut tx = w.store.begin(org).await.unwrap();
        let intent = tx.payment_intent(&key).await.unwrap().unwrap().value;
        let data: serde_json::Value = serde_json::from_slice(&intent.result.unwrap()).unwrap();
        serde_json::from_value(data["prepared"]["fulfilment"]["order"].clone()).unwrap()
    };
    let (other_org, _, _) = shop(&w, "grace@other.example", "tok_visa").await;
    let mut decoy = prepared.clone();
    decoy.id = OrderId::new(w.clock.now(), [42; 10]);
    decoy.org = other_org;
    let mut tx = w.store.begin(other_org).await.unwrap();
    tx.insert_order(decoy).await.unwrap();
    tx.commit().await.unwrap();

    w.clock.advance(time::Duration::seconds(61));
    let report = w
        .portal
        .run_maintenance(w.clock.now())
        .await
        .unwrap()
        .intents;
    assert_eq!((report.completed, report.refunded), (0, 1), "{report:?}");
    // Refunded, never neither: no order, the one charge refunded in full.
    assert!(orders(&w, org).await.is_empty());
    assert_eq!((w.successful_charges(), w.successful_refunds()), (1, 1));
    let refunded: Vec<_> = w
        .dev
        .gateway
        .ledger()
        .into_iter()
        .filter_map(|e| match e {
            LedgerEntry::Refund { amount, .. } => Some(amount),
            _ => None,
        })
        .collect();
    assert_eq!(refunded, vec![prepared.priced.totals.gross]);
    // A second run changes nothing.
    let again = w
        .portal
        .run_maintenance(w.clock.now())
        .await
        .unwrap()
        .intents;
    assert_eq!(again, Default::default());
    assert_eq!(w.successful_refunds(), 1);
}

#[tokio::test]
async fn usr_4_user_cannot_place_orders_or_top_ups() {
    let w = world();
    let (org, _ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    let (_, iccid) = sim(&w, org, 1, None).await;
    common::insert_member(w.store.as_ref(), org, "bob@acme.example", Role::User).await;
    let bob = login(&w, "bob@acme.example").await;
    let denied = bob.place_order(order_request(card, 1), "bob-1").await;
    assert!(
        matches!(denied, Err(Error::PermissionDenied { .. })),
        "{denied:?}"
    );
    let denied = bob
        .top_up(
            TopUpTarget::Sim(iccid),
            sku("DATA-1GB"),
            Payment::OnInvoice,
            "bob-2",
        )
        .await;
    assert!(
        matches!(denied, Err(Error::PermissionDenied { .. })),
        "{denied:?}"
    );
    assert_eq!(w.charges(), 0);
    // Only the SIM's delivery order exists.
    assert_eq!(orders(&w, org).await.len(), 1);
}

#[tokio::test]
async fn top_1_top_up_starts_a_new_generation_with_the_remaining_volume_carried() {
    let w = world();
    let (org, ada, _card) = shop(&w, "ada@acme.example", "tok_visa").await;
    let bytes = data_top_up_bytes("DATA-1GB");
    let (with_left, iccid_left) = sim(&w, org, 1, Some((1_000, 400))).await;
    let (overused, iccid_over) = sim(&w, org, 2, Some((1_000, 1_500))).await;
    let (fresh, iccid_fresh) = sim(&w, org, 3, None).await;

    let order = ada
        .top_up(
            TopUpTarget::Sims(vec![iccid_left, iccid_over, iccid_fresh]),
            sku("DATA-1GB"),
            Payment::OnInvoice,
            "top-1",
        )
        .await
        .unwrap();
    assert_eq!(order.order_type, OrderType::BulkTopUp);
    assert_eq!(order.priced.lines[0].quantity, 3);
    assert_eq!(order.payment, OrderPayment::OnInvoice);
    assert_eq!(w.charges(), 0, "on invoice never reaches the gateway");

    // TOP-2: volume = top-up + max(previous remaining, 0), a new generation, nothing used.
    let left = quota(&w, org, with_left).await;
    assert_eq!(
        (left.generation, left.volume, left.used),
        (2, bytes + 600, 0)
    );
    let over = quota(&w, org, overused).await;
    assert_eq!((over.generation, over.volume, over.used), (2, bytes, 0));
    let first = quota(&w, org, fresh).await;
    assert_eq!((first.generation, first.volume), (1, bytes));

    // A retry returns the first order and starts no further generation.
    let again = ada
        .top_up(
            TopUpTarget::Sims(vec![sim_iccid(1), sim_iccid(2), sim_iccid(3)]),
            sku("DATA-1GB"),
            Payment::OnInvoice,
            "top-1",
        )
        .await
        .unwrap();
    assert_eq!(again, order);
    assert_eq!(quota(&w, org, with_left).await.generation, 2);
}

fn sim_iccid(n: u8) -> Iccid {
    Iccid::from_payload(&format!("8988228{n:011}")).unwrap()
}

#[tokio::test]
async fn top_1_single_sim_top_up_is_charged_to_the_card() {
    let w = world();
    let (org, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    let (id, iccid) = sim(&w, org, 1, None).await;
    let order = ada
        .top_up(
            TopUpTarget::Sim(iccid),
            sku("DATA-1GB"),
            Payment::Card(card),
            "top-1",
        )
        .await
        .unwrap();
    assert_eq!(order.order_type, OrderType::TopUp);
    assert_eq!(
        w.dev.gateway.successful_charges(&gateway_key(org, "top-1")),
        1
    );
    assert_eq!(quota(&w, org, id).await.generation, 1);
    // Another organisation's SIM looks like an unknown one.
    let (_, grace, grace_card) = shop(&w, "grace@other.example", "tok_visa").await;
    let foreign = grace
        .top_up(
            TopUpTarget::Sim(sim_iccid(1)),
            sku("DATA-1GB"),
            Payment::Card(grace_card),
            "top-1",
        )
        .await;
    assert_eq!(reason(foreign), ReasonCode::NotFound);
    // A product that is not a top-up is refused before anything is charged.
    let calls = w.charges();
    let wrong = ada
        .top_up(
            TopUpTarget::Sim(sim_iccid(1)),
            sku("SIM-STD"),
            Payment::Card(card),
            "top-2",
        )
        .await;
    assert_eq!(reason(wrong), ReasonCode::NotATopUp);
    assert_eq!(w.charges(), calls);
}

#[tokio::test]
async fn top_2_a_customer_key_in_the_automatic_top_up_namespace_is_refused() {
    let w = world();
    let (_, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    let err = ada
        .place_order(order_request(card, 1), "auto:0193-anything:1")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field, reason: ReasonCode::InvalidFormat, .. } if field == "idempotency_key"),
        "{err:?}"
    );
    assert_eq!(w.charges(), 0);
}

/// ORD-2 with ORD-5: a card order keeps the gateway's charge id, and Billing refunds that
/// charge with a credit note; the same refund repeated moves no more money.
#[tokio::test]
async fn ord_2_billing_refunds_the_recorded_charge_of_a_card_order_once() {
    use selfcare::core::orders::OrderTotals;
    use selfcare::core::policy::StaffActor;
    use selfcare::core::roles::StaffRole;
    use selfcare::staff::{InvoiceUpload, RefundInput};
    let w = world();
    let (_, ada, card) = shop(&w, "ada@acme.example", "tok_visa").await;
    let order = ada
        .place_order(order_request(card, 1), "order-r")
        .await
        .unwrap();
    let OrderPayment::Card {
        charge_id: Some(charge_id),
        ..
    } = &order.payment
    else {
        panic!("a card order without its charge: {:?}", order.payment)
    };
    let billing = w
        .portal
        .staff(StaffActor::new("sso-bea", [StaffRole::Billing], []).unwrap());
    let number = order.number.to_string();
    let invoice = billing
        .attach_invoice(
            &number,
            &InvoiceUpload {
                number: "INV-2026-000001".into(),
                issued_on: time::macros::date!(2026 - 11 - 23),
                amounts: None,
                pdf: b"%PDF-1.7\n...".to_vec(),
            },
        )
        .await
        .unwrap();
    let full = *invoice.amounts();
    let input = RefundInput {
        amounts: OrderTotals { ..full },
        reason: "SIM never arrived".into(),
        credit_note_number: "CN-2026-000001".into(),
        issued_on: time::macros::date!(2026 - 11 - 24),
        pdf: b"%PDF-1.7\n...".to_vec(),
    };
    billing.refund(&number, &input, "refund-1").await.unwrap();
    billing.refund(&number, &input, "refund-1").await.unwrap();
    let refunds: Vec<_> = w
        .dev
        .gateway
        .ledger()
        .into_iter()
        .filter(|e| e.is_successful_refund())
        .collect();
    assert_eq!(refunds.len(), 1, "{refunds:?}");
    match &refunds[0] {
        LedgerEntry::Refund {
            charge_id: refunded,
            amount,
            ..
        } => {
            assert_eq!(refunded, charge_id);
            assert_eq!(*amount, full.gross);
        }
        other => panic!("{other:?}"),
    }
    // Nothing is left to credit.
    let err = billing
        .refund(
            &number,
            &RefundInput {
                credit_note_number: "CN-2026-000002".into(),
                ..input
            },
            "refund-2",
        )
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::CreditExceedsInvoice);
}
