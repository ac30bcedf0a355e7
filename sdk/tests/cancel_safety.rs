//! Cancel-safety (issue 4): the futures of `place_order`, `top_up` and `swap_sim` are dropped
//! after every possible number of polls. The store suspends at each round trip
//! (`MemoryStore::yielding`) and so do the ports, so every await point is a place to stop.
//! After each drop the store's invariants hold (no partial order, at most one charge per key,
//! a swap either pending with its request or not started) and a retry completes.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use async_trait::async_trait;
use common::{PASSWORD, business, ctx};
use selfcare::checkout::{Payment, PlaceOrder, TopUpTarget};
use selfcare::core::address::AddressUsage;
use selfcare::core::catalogue::Sku;
use selfcare::core::ids::{CardId, OrgId, PlanId};
use selfcare::core::numbers::Iccid;
use selfcare::core::orders::{IdempotencyKey, Order, PaymentIntentState};
use selfcare::core::password::Password;
use selfcare::core::payment::{CardToken, VerifiedCard};
use selfcare::core::plans::PlanState;
use selfcare::core::policy::StaffActor;
use selfcare::core::roles::StaffRole;
use selfcare::dev::{DevHandles, DevVerifier};
use selfcare::staff::SimRow;
use selfcare::storage::PageRequest;
use selfcare::storage::ports::{
    ApnPushRequest, CallForwardingRequest, ChargeOutcome, ChargeRequest, Clock, ManualClock,
    Network, NetworkAck, PaymentGateway, PortError, RefundOutcome, RefundRequest, SwapSimRequest,
    UsageReadRequest, VoicemailRequest,
};
use selfcare::storage::{MemoryStore, Store};
use selfcare::{LoginOutcome, Portal, Ports, Session};
use time::Duration;
use time::macros::{date, datetime};

/// Polls `future` at most `polls` times; its output when it finished, `None` when it was
/// dropped unfinished.
fn poll_then_drop<F: Future>(future: F, polls: usize) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..polls {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    None
}

/// Suspends once, as a remote service would.
async fn suspend() {
    let mut first = true;
    std::future::poll_fn(|cx| {
        if first {
            first = false;
            cx.waker().wake_by_ref();
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
}

/// The development gateway with a suspension before and after every call.
struct SlowGateway(Arc<selfcare::dev::DevGateway>);

#[async_trait]
impl PaymentGateway for SlowGateway {
    async fn verify_card(&self, token: &CardToken) -> Result<VerifiedCard, PortError> {
        suspend().await;
        let out = self.0.verify_card(token).await;
        suspend().await;
        out
    }
    async fn charge(&self, request: ChargeRequest) -> Result<ChargeOutcome, PortError> {
        suspend().await;
        let out = self.0.charge(request).await;
        suspend().await;
        out
    }
    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, PortError> {
        suspend().await;
        let out = self.0.refund(request).await;
        suspend().await;
        out
    }
}

/// The development network with a suspension before and after every call.
struct SlowNetwork(Arc<selfcare::dev::DevNetwork>);

#[async_trait]
impl Network for SlowNetwork {
    async fn swap_sim(&self, r: SwapSimRequest) -> Result<NetworkAck, PortError> {
        suspend().await;
        let out = self.0.swap_sim(r).await;
        suspend().await;
        out
    }
    async fn set_voicemail(&self, r: VoicemailRequest) -> Result<NetworkAck, PortError> {
        self.0.set_voicemail(r).await
    }
    async fn set_call_forwarding(&self, r: CallForwardingRequest) -> Result<NetworkAck, PortError> {
        self.0.set_call_forwarding(r).await
    }
    async fn push_apn(&self, r: ApnPushRequest) -> Result<NetworkAck, PortError> {
        self.0.push_apn(r).await
    }
    async fn read_usage(&self, r: UsageReadRequest) -> Result<NetworkAck, PortError> {
        self.0.read_usage(r).await
    }
}

struct Shop {
    portal: Portal,
    clock: ManualClock,
    store: Arc<dyn Store>,
    dev: DevHandles,
    org: OrgId,
    owner: Session,
    card: CardId,
}

impl Shop {
    async fn open() -> Shop {
        let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
        let store: Arc<dyn Store> = Arc::new(MemoryStore::yielding());
        let (mut ports, dev) = Ports::development_with(Arc::new(clock.clone()));
        ports.gateway = Arc::new(SlowGateway(Arc::clone(&dev.gateway)));
        ports.network = Arc::new(SlowNetwork(Arc::clone(&dev.network)));
        let config = common::test_config();
        let portal = Portal::with_store(Arc::clone(&store), ports, config).unwrap();
        let (customer, owner) = business("ada@acme.example");
        let org = portal
            .register_customer(&customer, owner, &ctx())
            .await
            .unwrap()
            .org;
        let LoginOutcome::Session(owner) = portal
            .login("ada@acme.example", Password::new(PASSWORD), &ctx())
            .await
            .unwrap()
        else {
            panic!("no second factor here")
        };
        owner
            .add_address(
                common::billing_address(),
                AddressUsage::BOTH,
                AddressUsage::BOTH,
                None,
            )
            .await
            .unwrap();
        let card = owner
            .save_card(
                "tok_visa".into(),
                "Ada Owner",
                Some(DevVerifier::PASSING_TOKEN.into()),
            )
            .await
            .unwrap()
            .id;
        Shop {
            portal,
            clock,
            store,
            dev,
            org,
            owner,
            card,
        }
    }

    fn charges(&self) -> usize {
        let ledger = self.dev.gateway.ledger();
        ledger.iter().filter(|e| e.is_successful_charge()).count()
    }

    fn refunds(&self) -> usize {
        let ledger = self.dev.gateway.ledger();
        ledger.iter().filter(|e| e.is_successful_refund()).count()
    }

    async fn orders(&self) -> Vec<Order> {
        let mut tx = self.store.begin(self.org).await.unwrap();
        let page = tx.list_orders(&PageRequest::first(100)).await.unwrap();
        page.items.into_iter().map(|o| o.value).collect()
    }

    async fn intent(&self, key: &str) -> Option<PaymentIntentState> {
        let mut tx = self.store.begin(self.org).await.unwrap();
        let intent = tx
            .payment_intent(&IdempotencyKey::parse(key).unwrap())
            .await
            .unwrap();
        intent.map(|i| i.value.state)
    }

    /// A delivered order with one SIM and a plan on it, made by staff; returns the plan and
    /// the spare ICCID of a second SIM of the same order.
    async fn plan(&self) -> (PlanId, String) {
        let order = self
            .owner
            .place_order(
                PlaceOrder {
                    items: vec![(Sku::parse("SIM-STD").unwrap(), 2)],
                    billing_address: None,
                    shipping_address: None,
                    payment: Payment::OnInvoice,
                },
                "setup-order",
            )
            .await
            .unwrap();
        let staff = self
            .portal
            .staff(StaffActor::new("fulfil-1", [StaffRole::Fulfillment], []).unwrap());
        let iccids = ["8988228000000000001", "8988228000000000002"]
            .map(|payload| Iccid::from_payload(payload).unwrap().as_str().to_owned());
        let rows: Vec<SimRow> = iccids
            .iter()
            .map(|iccid| SimRow {
                iccid: iccid.clone(),
                tariff: "IOT-1GB".into(),
                ..SimRow::default()
            })
            .collect();
        let number = order.number.to_string();
        staff.assign_sims(&number, &rows).await.unwrap();
        let plan = staff
            .activate_plan(
                &number,
                &iccids[0],
                &["+972501234567".to_owned()],
                date!(2026 - 11 - 01),
                date!(2027 - 10 - 31),
            )
            .await
            .unwrap();
        (plan.id(), iccids[1].clone())
    }
}

/// ORD-5: an order whose future is dropped anywhere leaves either nothing, or a pending
/// intent (charged at most once), or the whole order; never an order without its charge or
/// two charges. A retry with the same key (after the lease of the dropped attempt ran out)
/// completes with exactly one charge and one order.
#[tokio::test]
async fn ord_5_place_order_dropped_after_any_number_of_polls_is_consistent_and_retry_completes() {
    let mut dropped_at = Vec::new();
    for polls in 0.. {
        let shop = Shop::open().await;
        let request = PlaceOrder {
            items: vec![(Sku::parse("SIM-STD").unwrap(), 3)],
            billing_address: None,
            shipping_address: None,
            payment: Payment::Card(shop.card),
        };
        let finished = poll_then_drop(shop.owner.place_order(request.clone(), "k-1"), polls);
        let orders = shop.orders().await;
        if let Some(result) = finished {
            result.unwrap();
            assert_eq!((orders.len(), shop.charges()), (1, 1));
            break;
        }
        dropped_at.push(polls);
        let intent = shop.intent("k-1").await;
        assert!(
            orders.len() <= 1 && shop.charges() <= 1,
            "after {polls} polls"
        );
        if !orders.is_empty() {
            assert_eq!(
                intent,
                Some(PaymentIntentState::Succeeded),
                "after {polls} polls"
            );
            assert_eq!(
                shop.charges(),
                1,
                "an order without its charge after {polls} polls"
            );
        }
        // The dropped attempt's lease runs out; the retry takes it over.
        shop.clock.advance(Duration::seconds(61));
        let order = shop.owner.place_order(request, "k-1").await.unwrap();
        let orders = shop.orders().await;
        assert_eq!(orders.len(), 1, "after {polls} polls");
        assert_eq!(orders[0].id, order.id);
        assert_eq!(
            (shop.charges(), shop.refunds()),
            (1, 0),
            "after {polls} polls"
        );
        let report = shop.portal.run_maintenance(shop.clock.now()).await.unwrap();
        assert_eq!(report.intents.refunded, 0);
    }
    // Every step of the three is a place the future was dropped at.
    assert!(
        dropped_at.len() >= 6,
        "only {} drop points",
        dropped_at.len()
    );
}

/// TOP-1: the same for a top-up of one SIM.
#[tokio::test]
async fn top_1_top_up_dropped_after_any_number_of_polls_is_consistent_and_retry_completes() {
    let mut drops = 0;
    for polls in 0.. {
        let shop = Shop::open().await;
        let (_, spare) = shop.plan().await;
        let top_up = || {
            shop.owner.top_up(
                TopUpTarget::Sim(Iccid::parse(&spare).unwrap()),
                Sku::parse("DATA-1GB").unwrap(),
                Payment::Card(shop.card),
                "top-1",
            )
        };
        let before = shop.orders().await.len();
        let finished = poll_then_drop(top_up(), polls);
        if let Some(result) = finished {
            result.unwrap();
            assert_eq!(shop.orders().await.len(), before + 1);
            assert_eq!(shop.charges(), 1);
            break;
        }
        drops += 1;
        let orders = shop.orders().await.len();
        assert!(
            orders <= before + 1 && shop.charges() <= 1,
            "after {polls} polls"
        );
        if orders == before + 1 {
            assert_eq!(
                shop.charges(),
                1,
                "a top-up without its charge after {polls} polls"
            );
        }
        shop.clock.advance(Duration::seconds(61));
        top_up().await.unwrap();
        assert_eq!(shop.orders().await.len(), before + 1, "after {polls} polls");
        assert_eq!(
            (shop.charges(), shop.refunds()),
            (1, 0),
            "after {polls} polls"
        );
    }
    assert!(drops >= 6, "only {drops} drop points");
}

/// PLAN-2: a swap dropped anywhere is either not started (old SIM, no request) or pending
/// with its request (settled by the network or by the timeout); after settling, a new swap
/// starts.
#[tokio::test]
async fn plan_2_swap_sim_dropped_after_any_number_of_polls_is_consistent_and_a_retry_starts() {
    let mut drops = 0;
    for polls in 0.. {
        let shop = Shop::open().await;
        let (plan, spare) = shop.plan().await;
        let finished = poll_then_drop(shop.owner.swap_sim(plan, &spare), polls);
        if let Some(result) = finished {
            result.unwrap();
            break;
        }
        drops += 1;
        let view = shop
            .owner
            .plans()
            .await
            .unwrap()
            .into_iter()
            .find(|p| p.plan.id() == plan)
            .unwrap();
        let first = Iccid::from_payload("8988228000000000001").unwrap();
        assert_eq!(view.plan.sim(), &first, "after {polls} polls");
        let pending = {
            let mut tx = shop.store.begin_provider().await.unwrap();
            tx.pending_provisioning_before(shop.clock.now() + Duration::days(1), 100)
                .await
                .unwrap()
        };
        match view.plan.pending_swap() {
            Some(request) => {
                assert_eq!(view.state, PlanState::Provisioning, "after {polls} polls");
                assert!(pending.iter().any(|(_, id, _)| *id == request));
                // Nobody answers: the timeout gives it up and keeps the old SIM.
                shop.clock
                    .advance(Duration::hours(1) + Duration::seconds(1));
                let report = shop.portal.run_maintenance(shop.clock.now()).await.unwrap();
                assert_eq!(report.swaps_timed_out, 1, "after {polls} polls");
            }
            None => {
                assert_ne!(view.state, PlanState::Provisioning, "after {polls} polls");
                assert!(
                    pending.is_empty(),
                    "a request without its plan: {pending:?}"
                );
            }
        }
        let LoginOutcome::Session(owner) = shop
            .portal
            .login("ada@acme.example", Password::new(PASSWORD), &ctx())
            .await
            .unwrap()
        else {
            panic!()
        };
        owner.swap_sim(plan, &spare).await.unwrap();
    }
    assert!(drops >= 4, "only {drops} drop points");
}

/// TOP-2: `record_usage` dropped anywhere applies a record at most once and charges the
/// automatic top-up at most once; the network's resend of the same records and maintenance
/// then finish the job: exactly one top-up order, one charge, one new generation.
#[tokio::test]
async fn top_2_record_usage_dropped_after_any_number_of_polls_tops_up_exactly_once() {
    use selfcare::core::orders::{GatewayKey, OrderType};
    use selfcare::core::payment::AutoTopUpTarget;
    use selfcare::core::quota::{UsageRecord, VolumeKind};
    let mut drops = 0;
    for polls in 0.. {
        let shop = Shop::open().await;
        let (_, spare) = shop.plan().await;
        let iccid = Iccid::parse(&spare).unwrap();
        // Generation 1: a paid 1 GB top-up; Auto-Top-Up on.
        shop.owner
            .top_up(
                TopUpTarget::Sim(iccid.clone()),
                Sku::parse("DATA-1GB").unwrap(),
                Payment::Card(shop.card),
                "first-volume",
            )
            .await
            .unwrap();
        let (_, sim) = shop.store.sim_by_iccid(&iccid).await.unwrap().unwrap();
        shop.owner
            .set_auto_top_up(AutoTopUpTarget::Sim(sim), true)
            .await
            .unwrap();
        let auto_key = GatewayKey::auto_top_up(sim, 1);
        let batch = vec![
            UsageRecord::new("net-1", iccid.clone(), shop.clock.now(), 2_000_000_000, 0).unwrap(),
        ];
        let top_ups = || async {
            let orders = shop.orders().await;
            orders
                .iter()
                .filter(|o| o.order_type == OrderType::TopUp)
                .count()
        };
        let finished = poll_then_drop(shop.portal.record_usage(batch.clone()), polls);
        let auto_charges = || shop.dev.gateway.successful_charges(&auto_key);
        if let Some(report) = finished {
            assert_eq!(report.unwrap().top_ups_charged, 1);
            assert_eq!((top_ups().await, auto_charges()), (2, 1));
            break;
        }
        drops += 1;
        assert!(auto_charges() <= 1, "after {polls} polls");
        if top_ups().await == 2 {
            assert_eq!(
                auto_charges(),
                1,
                "a top-up without its charge after {polls} polls"
            );
        }
        // The network sends the records again; the dropped attempt's lease runs out and
        // maintenance settles whatever is left.
        let resent = shop.portal.record_usage(batch).await.unwrap();
        assert!(
            resent.applied + resent.duplicates_ignored == 1,
            "after {polls} polls: {resent:?}"
        );
        shop.clock.advance(Duration::seconds(61));
        shop.portal.run_maintenance(shop.clock.now()).await.unwrap();
        assert_eq!(top_ups().await, 2, "after {polls} polls");
        assert_eq!(
            (auto_charges(), shop.refunds()),
            (1, 0),
            "after {polls} polls"
        );
        let mut tx = shop.store.begin(shop.org).await.unwrap();
        let quota = tx.get_quota(sim).await.unwrap().unwrap().value;
        assert_eq!(quota.state.last_generation(), 2, "after {polls} polls");
        assert_eq!(quota.state.quota(VolumeKind::Data).generation, 2);
    }
    assert!(drops >= 4, "only {drops} drop points");
}
