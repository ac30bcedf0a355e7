//! Placing orders and top-ups (ORD-5, TOP-1, TOP-2, ADDR-3) in the three steps of ORD-5, and
//! the settlement of intents a crash left pending.
//!
//! 1. A transaction records a pending payment intent under the caller's idempotency key, with
//!    a lease and everything step 3 needs (the order already built: id, number, prices,
//!    address snapshots), serialised into the intent. The same key with the same request
//!    returns the first result without any gateway call; another request under the key is
//!    `Conflict(idempotency_key_reused)`; a pending intent leased less than 60 s ago by another
//!    attempt is `Conflict(idempotency_key_in_progress)`; a stale lease is taken over with a
//!    versioned update and the attempt resumes at step 2 with the same gateway key.
//! 2. Outside any transaction the gateway charges with the derived key (`order:{org}:{key}`);
//!    it returns the first outcome for a repeated key, so nothing is charged twice. A port
//!    failure is `Unavailable` and leaves the intent pending (its lease released, so a retry
//!    resumes at once); a decline marks the intent declined and orders nothing; a demand for
//!    the customer's action returns [`Error::PaymentActionRequired`] (a retry with the same key
//!    after the action asks the gateway again). On-invoice payment skips this step.
//! 3. One transaction writes the order, the new quota generations of a top-up (TOP-2), the
//!    intent's success with the order as its result, the order message (outbox) and the audit
//!    entry.
//!
//! The engine (`run`) takes no session: what it needs comes as parameters and a
//! `CheckoutRequest` (permission check + preparation), so an automatic top-up (key
//! `auto:{sim}:{generation}`, merchant-initiated) runs through it too.
//!
//! [`Portal::settle_payment_intents`] (for `run_maintenance`) asks the gateway again with the same key
//! for every intent left pending, and completes the order from the intent's stored
//! preparation; only when step 3 is refused for good (a SIM removed meanwhile, an order
//! number taken) is the charge refunded. An intent is completed or refunded, never both,
//! never neither: the refund happens only after step 3 failed without writing anything, and
//! an intent stays pending (retried at the next run) while any outcome is unknown.

use async_trait::async_trait;
use selfcare_core::ReasonCode;
use selfcare_core::address::{AddressBook, AddressKind, AddressSnapshot};
use selfcare_core::audit::{AuditActor, AuditEventName, Outcome};
use selfcare_core::catalogue::Sku;
use selfcare_core::customer::MonthPeriod;
use selfcare_core::ids::{AddressId, CardId, OrderId, OrgId, PaymentIntentId, SimId};
use selfcare_core::money::Money;
use selfcare_core::notifications::{NotificationKind, Params};
use selfcare_core::numbers::Iccid;
use selfcare_core::orders::{
    GatewayKey, IdempotencyKey, LEASE, LeaseDecision, NewOrder, Order, OrderNumber, OrderPayment,
    OrderType, PaymentIntentState, RequestFingerprint, TaxCustomer, choose_address, price_order,
};
use selfcare_core::payment::{CardToken, PaymentSettings};
use selfcare_core::policy::Action;
use selfcare_core::quota::{MonthlyUsage, QuotaState, SentMarks, VolumeKind, start_generation};
use selfcare_core::roles::Channel;
use selfcare_core::topups::{TopUpPayment, TopUpTargets, price_top_up};
use selfcare_storage::page::PageRequest;
use selfcare_storage::payments::PaymentIntentRecord;
use selfcare_storage::ports::{ChargeOutcome, ChargeRequest, NextAction, RefundRequest};
use selfcare_storage::usage::QuotaRecord;
use selfcare_storage::{OrgTransaction, Version, Versioned};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::portal::{Attempt, Portal, target};
use crate::session::Session;

// ---------------------------------------------------------------------------------------------
// Public requests
// ---------------------------------------------------------------------------------------------

/// How an order or top-up is paid (ORD-5, TOP-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "type",
    content = "card",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum Payment {
    /// Charged to this stored card (PAY-1: never an expired one).
    Card(CardId),
    /// Put on the invoice; no gateway call.
    OnInvoice,
}

/// An order of catalogue products (ORD-5).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlaceOrder {
    /// Products and quantities (on the wire: `[{"sku": "SIM-STD", "quantity": 3}]`).
    #[serde(with = "order_items")]
    pub items: Vec<(Sku, u32)>,
    /// The billing address; the default billing address when `None`.
    pub billing_address: Option<AddressId>,
    /// The shipping address; the default shipping address when `None`.
    pub shipping_address: Option<AddressId>,
    /// How it is paid.
    pub payment: Payment,
}

/// Serde for the items of an order: a list of `{sku, quantity}` objects, which reads better
/// on the wire than pairs and leaves room for more fields.
mod order_items {
    use selfcare_core::catalogue::Sku;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct ItemRef<'a> {
        sku: &'a Sku,
        quantity: u32,
    }

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Item {
        sku: Sku,
        quantity: u32,
    }

    pub(super) fn serialize<S: Serializer>(items: &[(Sku, u32)], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(items.iter().map(|(sku, quantity)| ItemRef {
            sku,
            quantity: *quantity,
        }))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(Sku, u32)>, D::Error> {
        Vec::<Item>::deserialize(d).map(|items| {
            items
                .into_iter()
                .map(|Item { sku, quantity }| (sku, quantity))
                .collect()
        })
    }
}

/// The SIMs a top-up is for (TOP-1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "type",
    content = "iccids",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum TopUpTarget {
    /// One SIM: an order of type `TopUp`.
    Sim(Iccid),
    /// Several SIMs: an order of type `BulkTopUp` (one SIM gives a `TopUp`).
    Sims(Vec<Iccid>),
}

impl TopUpTarget {
    fn iccids(&self) -> Vec<Iccid> {
        match self {
            TopUpTarget::Sim(iccid) => vec![iccid.clone()],
            TopUpTarget::Sims(list) => list.clone(),
        }
    }
}

/// What a top-up request is fingerprinted as (the key's identity, ORD-5).
#[derive(serde::Serialize)]
struct TopUpRequest<'a> {
    targets: &'a TopUpTarget,
    product: &'a Sku,
    payment: Payment,
}

/// What maintenance did with the intents it found due ([`Portal::settle_payment_intents`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettleReport {
    /// Charged (or on invoice) and the order written now.
    pub completed: u32,
    /// Charged, but the order could not be written: the charge was refunded.
    pub refunded: u32,
    /// The gateway declined: no order.
    pub declined: u32,
    /// The customer never completed the requested action: no order, nothing charged.
    pub abandoned: u32,
    /// Still unknown (a port or the store failed): tried again at the next run.
    pub left_pending: u32,
}

// ---------------------------------------------------------------------------------------------
// The engine
// ---------------------------------------------------------------------------------------------

/// What to charge in step 2.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChargeSpec {
    pub(crate) amount: Money,
    pub(crate) card: CardToken,
    pub(crate) merchant_initiated: bool,
    pub(crate) description: String,
}

/// One new quota generation a top-up starts in step 3 (TOP-2).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct QuotaTopUp {
    pub(crate) sim: SimId,
    pub(crate) kind: VolumeKind,
    /// Bytes or messages.
    pub(crate) volume: u64,
}

/// What step 3 writes, built in step 1 and stored in the intent so maintenance can write it
/// after a crash.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Fulfilment {
    pub(crate) order: Order,
    pub(crate) top_ups: Vec<QuotaTopUp>,
    pub(crate) kind: FulfilmentKind,
    pub(crate) actor: AuditActor,
    pub(crate) channel: Channel,
    /// The parameters of the [`NotificationKind::AutoTopUpCharged`] message of an automatic
    /// top-up (TOP-2); `None` for the customer's own purchases (they get the order message).
    #[serde(default)]
    pub(crate) notice: Option<Params>,
}

/// What kind of purchase step 3 records (its audit event).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum FulfilmentKind {
    Order,
    TopUp,
    /// An automatic top-up (TOP-2): merchant-initiated, key `auto:{sim}:{generation}`.
    AutoTopUp,
}

/// What step 1 prepares for a new key.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Prepared {
    pub(crate) fulfilment: Fulfilment,
    /// `None` for on-invoice payment.
    pub(crate) charge: Option<ChargeSpec>,
}

/// The outcome an intent records (its first result).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
enum IntentOutcome {
    Ordered {
        order: Box<Order>,
        charge_id: Option<String>,
    },
    Declined {
        reason: String,
    },
    ActionRequired {
        next_action: NextAction,
    },
    Refunded {
        charge_id: String,
    },
    Abandoned,
}

/// The bytes kept in [`PaymentIntentRecord::result`]: the preparation while the intent may
/// still go on (pending or waiting for the customer's action) and, once known, the outcome.
/// A final intent only answers retries, so it drops the preparation: the row that every
/// order writes stays about half as large.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct IntentData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prepared: Option<Prepared>,
    outcome: Option<IntentOutcome>,
}

impl IntentData {
    fn decode(record: &PaymentIntentRecord) -> std::result::Result<Self, Attempt> {
        let bytes = record.result.as_deref().ok_or(Error::Internal)?;
        serde_json::from_slice(bytes).map_err(|_| Attempt::Fail(Error::Internal))
    }

    /// The preparation of an intent that goes on; a final one has none.
    fn prepared(self) -> std::result::Result<Prepared, Attempt> {
        self.prepared.ok_or(Attempt::Fail(Error::Internal))
    }

    fn encode(&self) -> std::result::Result<Vec<u8>, Attempt> {
        serde_json::to_vec(self).map_err(|_| Attempt::Fail(Error::Internal))
    }
}

/// The caller's part of a checkout: the permission check at the start of each of the engine's
/// transactions, and the preparation of a new key.
#[async_trait]
pub(crate) trait CheckoutRequest: Send + Sync {
    /// Checks inside `tx` that the caller may still do this (a session re-reads its role).
    async fn gate(&self, tx: &mut dyn OrgTransaction) -> std::result::Result<(), Attempt>;

    /// Checks what [`gate`](CheckoutRequest::gate) checks, and builds the order and the
    /// charge (only for a key never seen; the engine does not gate it again).
    async fn prepare(&self, tx: &mut dyn OrgTransaction) -> std::result::Result<Prepared, Attempt>;
}

/// One checkout: the organisation, the keys, the request's fingerprint.
pub(crate) struct Checkout<'a> {
    pub(crate) org: OrgId,
    pub(crate) key: IdempotencyKey,
    pub(crate) gateway_key: GatewayKey,
    pub(crate) fingerprint: RequestFingerprint,
    pub(crate) request: &'a dyn CheckoutRequest,
}

/// What step 1 leaves for step 2.
enum Step1 {
    Done(Order),
    Go {
        version: Version,
        prepared: Prepared,
    },
}

/// The first result an intent holds, as the answer to a retry.
fn replay(outcome: Option<IntentOutcome>) -> Result<Order> {
    match outcome {
        Some(IntentOutcome::Ordered { order, .. }) => Ok(*order),
        Some(IntentOutcome::Declined { reason }) => Err(Error::PaymentDeclined { reason }),
        Some(IntentOutcome::ActionRequired { next_action }) => {
            Err(Error::PaymentActionRequired { next_action })
        }
        Some(IntentOutcome::Refunded { .. } | IntentOutcome::Abandoned) => Err(Error::Conflict {
            reason: ReasonCode::IdempotencyKeyReused,
        }),
        None => Err(Error::Internal),
    }
}

/// Runs ORD-5 for `checkout` and returns the order (the first one for a repeated key).
pub(crate) async fn run(portal: &Portal, checkout: &Checkout<'_>) -> Result<Order> {
    let step1 = portal.retry(|| step_one(portal, checkout)).await?;
    let (version, prepared) = match step1 {
        Step1::Done(order) => return Ok(order),
        Step1::Go { version, prepared } => (version, prepared),
    };
    resume(portal, checkout, version, prepared).await
}

/// Step 1 inside the caller's transaction `tx` (of `checkout.org`), for a caller that decides
/// on the purchase in the same transaction (an automatic top-up, TOP-2): gates, prepares and
/// records the pending intent with a lease held by this attempt. `None` when the key has an
/// intent already (nothing is written then). After the commit the caller goes on with
/// [`resume`]; if it never does, the lease runs out and maintenance settles the intent.
pub(crate) async fn reserve(
    portal: &Portal,
    tx: &mut dyn OrgTransaction,
    checkout: &Checkout<'_>,
) -> std::result::Result<Option<(Version, Prepared)>, Attempt> {
    if tx.payment_intent(&checkout.key).await?.is_some() {
        return Ok(None);
    }
    let prepared = checkout.request.prepare(tx).await?;
    let mut intent = new_intent(portal, checkout, portal.now())?;
    intent.result = Some(
        IntentData {
            prepared: Some(prepared.clone()),
            outcome: None,
        }
        .encode()?,
    );
    let version = tx.insert_payment_intent(intent).await?;
    Ok(Some((version, prepared)))
}

/// A new pending intent under `checkout.key`, leased now, with nothing in it yet.
fn new_intent(
    portal: &Portal,
    checkout: &Checkout<'_>,
    now: OffsetDateTime,
) -> std::result::Result<PaymentIntentRecord, Attempt> {
    Ok(PaymentIntentRecord {
        id: PaymentIntentId::new(now, portal.random()?),
        key: checkout.key.clone(),
        fingerprint: checkout.fingerprint,
        gateway_key: checkout.gateway_key.clone(),
        state: PaymentIntentState::Pending,
        leased_at: now,
        attempts: 1,
        created_at: now,
        result: None,
    })
}

/// The intent that step 3 completes.
enum IntentRow<'a> {
    /// Recorded by step 1 in an earlier transaction under this key: read again, and updated.
    Stored(&'a IdempotencyKey),
    /// Not written yet (an order with nothing to charge runs all steps in one transaction):
    /// inserted once, already final.
    New(PaymentIntentRecord),
}

/// Steps 2 and 3 for an intent leased at `version` (ORD-5).
pub(crate) async fn resume(
    portal: &Portal,
    checkout: &Checkout<'_>,
    version: Version,
    prepared: Prepared,
) -> Result<Order> {
    let charge_id = match &prepared.charge {
        None => None,
        Some(spec) => {
            let request = ChargeRequest {
                key: checkout.gateway_key.clone(),
                amount: spec.amount,
                card: spec.card.clone(),
                merchant_initiated: spec.merchant_initiated,
                description: spec.description.clone(),
            };
            match portal.inner.ports.gateway.charge(request).await {
                Ok(ChargeOutcome::Succeeded { charge_id }) => Some(charge_id),
                Ok(ChargeOutcome::Declined { reason }) => {
                    let outcome = IntentOutcome::Declined { reason };
                    portal
                        .retry(|| {
                            finish(
                                portal,
                                checkout,
                                PaymentIntentState::Declined,
                                outcome.clone(),
                            )
                        })
                        .await?;
                    return replay(Some(outcome));
                }
                Ok(ChargeOutcome::ActionRequired(next_action)) => {
                    let outcome = IntentOutcome::ActionRequired { next_action };
                    portal
                        .retry(|| {
                            finish(
                                portal,
                                checkout,
                                PaymentIntentState::ActionRequired,
                                outcome.clone(),
                            )
                        })
                        .await?;
                    return replay(Some(outcome));
                }
                Err(e) => {
                    // The outcome is unknown: the intent stays pending under the same gateway
                    // key. The lease is released so the caller's retry resumes at once; if
                    // that fails, the lease simply runs out.
                    let released = portal
                        .retry(|| release(portal, checkout.org, &checkout.key, version))
                        .await;
                    if released.is_err() {
                        tracing::warn!("selfcare: the lease of a payment intent was not released");
                    }
                    return Err(Error::from(e));
                }
            }
        }
    };
    portal
        .retry(|| {
            step_three(
                portal,
                checkout.org,
                &checkout.key,
                Some(checkout.request),
                &prepared,
                charge_id.clone(),
            )
        })
        .await
}

async fn step_one(portal: &Portal, checkout: &Checkout<'_>) -> std::result::Result<Step1, Attempt> {
    let now = portal.now();
    let mut tx = portal.store().begin(checkout.org).await?;
    // Both branches check the caller before anything is written or answered: a new key in
    // `prepare`, a known one through `gate`.
    let Some(Versioned { value, version }) = tx.payment_intent(&checkout.key).await? else {
        let prepared = checkout.request.prepare(tx.as_mut()).await?;
        let mut intent = new_intent(portal, checkout, now)?;
        if prepared.charge.is_none() {
            // Nothing to charge (on invoice): no port call stands between steps 1 and 3, so
            // one transaction records the intent and writes the order, with the same
            // guarantees and one durable commit instead of two.
            let order = fulfil(
                portal,
                tx.as_mut(),
                checkout.org,
                IntentRow::New(intent),
                &prepared,
                None,
            )
            .await?;
            tx.commit().await?;
            return Ok(Step1::Done(order));
        }
        intent.result = Some(
            IntentData {
                prepared: Some(prepared.clone()),
                outcome: None,
            }
            .encode()?,
        );
        let version = tx.insert_payment_intent(intent).await?;
        tx.commit().await?;
        return Ok(Step1::Go { version, prepared });
    };
    checkout.request.gate(tx.as_mut()).await?;
    let decision = if value.state == PaymentIntentState::ActionRequired {
        if value.fingerprint != checkout.fingerprint {
            return Err(Error::Conflict {
                reason: ReasonCode::IdempotencyKeyReused,
            }
            .into());
        }
        // The customer has acted (or not): the gateway is asked again under the same key.
        LeaseDecision::Resume
    } else {
        value.lease().decide(&checkout.fingerprint, now)?
    };
    let data = IntentData::decode(&value)?;
    match decision {
        LeaseDecision::ReturnFirstResult => Ok(Step1::Done(replay(data.outcome)?)),
        LeaseDecision::Resume => {
            let mut taken = value;
            taken.leased_at = now;
            taken.attempts = taken.attempts.saturating_add(1);
            // Two attempts racing for the lease: the versioned update lets exactly one win.
            let version = tx
                .update_payment_intent(taken, version)
                .await
                .map_err(|e| match e {
                    selfcare_storage::StoreError::Conflict(_) => Attempt::Fail(Error::Conflict {
                        reason: ReasonCode::IdempotencyKeyInProgress,
                    }),
                    other => Attempt::from(other),
                })?;
            tx.commit().await?;
            Ok(Step1::Go {
                version,
                prepared: data.prepared()?,
            })
        }
    }
}

/// Records a final (or action-required) outcome without an order.
async fn finish(
    portal: &Portal,
    checkout: &Checkout<'_>,
    state: PaymentIntentState,
    outcome: IntentOutcome,
) -> std::result::Result<(), Attempt> {
    let mut tx = portal.store().begin(checkout.org).await?;
    let Some(Versioned { value, version }) = tx.payment_intent(&checkout.key).await? else {
        return Err(Error::Internal.into());
    };
    if value.state.is_final() {
        return Ok(());
    }
    write_outcome(tx.as_mut(), value, version, state, outcome).await?;
    tx.commit().await?;
    Ok(())
}

async fn write_outcome(
    tx: &mut dyn OrgTransaction,
    mut record: PaymentIntentRecord,
    version: Version,
    state: PaymentIntentState,
    outcome: IntentOutcome,
) -> std::result::Result<(), Attempt> {
    if record.state != state {
        PaymentIntentState::transition(record.state, state)?;
    }
    let mut data = IntentData::decode(&record)?;
    data.outcome = Some(outcome);
    if state.is_final() {
        data.prepared = None;
    }
    record.state = state;
    record.result = Some(data.encode()?);
    tx.update_payment_intent(record, version).await?;
    Ok(())
}

/// Gives the lease back after a port failure, so a retry need not wait for it to run out.
async fn release(
    portal: &Portal,
    org: OrgId,
    key: &IdempotencyKey,
    version: Version,
) -> std::result::Result<(), Attempt> {
    let mut tx = portal.store().begin(org).await?;
    let Some(Versioned {
        mut value,
        version: now_at,
    }) = tx.payment_intent(key).await?
    else {
        return Ok(());
    };
    if now_at == version && value.state == PaymentIntentState::Pending {
        value.leased_at = value
            .leased_at
            .checked_sub(LEASE)
            .unwrap_or(value.leased_at);
        tx.update_payment_intent(value, version).await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Step 3: the order, the quota generations, the intent's success, the message and the audit
/// entry, in one transaction. A key already completed by a racing attempt returns its order.
async fn step_three(
    portal: &Portal,
    org: OrgId,
    key: &IdempotencyKey,
    gate: Option<&dyn CheckoutRequest>,
    prepared: &Prepared,
    charge_id: Option<String>,
) -> std::result::Result<Order, Attempt> {
    let mut tx = portal.store().begin(org).await?;
    if let Some(gate) = gate {
        gate.gate(tx.as_mut()).await?;
    }
    let order = fulfil(
        portal,
        tx.as_mut(),
        org,
        IntentRow::Stored(key),
        prepared,
        charge_id,
    )
    .await?;
    tx.commit().await?;
    Ok(order)
}

/// The writes of step 3 inside `tx`, which the caller commits: the order, the quota
/// generations, the intent's success, the message and the audit entry.
async fn fulfil(
    portal: &Portal,
    tx: &mut dyn OrgTransaction,
    org: OrgId,
    intent: IntentRow<'_>,
    prepared: &Prepared,
    charge_id: Option<String>,
) -> std::result::Result<Order, Attempt> {
    let now = portal.now();
    let stored = match &intent {
        IntentRow::Stored(key) => {
            let Some(Versioned { value, version }) = tx.payment_intent(key).await? else {
                return Err(Error::Internal.into());
            };
            if value.state.is_final() {
                return Ok(replay(IntentData::decode(&value)?.outcome)?);
            }
            Some((value, version))
        }
        IntentRow::New(_) => None,
    };
    let f = &prepared.fulfilment;
    // The order keeps the gateway's charge id, so Billing can refund it later (ORD-2).
    let mut order = f.order.clone();
    if let OrderPayment::Card {
        charge_id: slot, ..
    } = &mut order.payment
    {
        slot.clone_from(&charge_id);
    }
    tx.insert_order(order.clone()).await?;
    for top_up in &f.top_ups {
        tx.sim(top_up.sim).await?.ok_or(Error::NotFound)?;
        let current = tx.get_quota(top_up.sim).await?;
        let (state, monthly, marks, at) = match current {
            Some(Versioned { value, version }) => {
                (value.state, value.monthly, value.marks, Some(version))
            }
            None => {
                let period = MonthPeriod::containing(now, portal.config().time_zone)?;
                (
                    QuotaState::new(top_up.sim),
                    MonthlyUsage::new(period),
                    SentMarks::new(),
                    None,
                )
            }
        };
        let state = start_generation(&state, top_up.kind, top_up.volume)?;
        let record = QuotaRecord {
            state,
            monthly,
            marks,
        };
        match at {
            Some(expected) => {
                tx.update_quota(record, expected).await?;
            }
            None => {
                tx.insert_quota(record).await?;
            }
        }
    }
    let outcome = IntentOutcome::Ordered {
        order: Box::new(order.clone()),
        charge_id,
    };
    match (stored, intent) {
        (Some((value, version)), _) => {
            write_outcome(tx, value, version, PaymentIntentState::Succeeded, outcome).await?;
        }
        (None, IntentRow::New(mut record)) => {
            record.state = PaymentIntentState::Succeeded;
            record.result = Some(
                IntentData {
                    prepared: None,
                    outcome: Some(outcome),
                }
                .encode()?,
            );
            tx.insert_payment_intent(record).await?;
        }
        (None, IntentRow::Stored(_)) => return Err(Error::Internal.into()),
    }
    if let Some(customer) = tx.customer().await? {
        let customer = customer.value.customer;
        // An automatic top-up tells the Invoice recipients what was charged (TOP-2); an
        // order of the customer's own gets the order message.
        let (kind, params) = match &f.notice {
            Some(params) => (NotificationKind::AutoTopUpCharged, params.clone()),
            None => (
                NotificationKind::OrderStatusChanged,
                Params::new()
                    .with("customer_name", customer.kind().invoice_name().as_str())
                    .with("order_number", f.order.number.to_string())
                    .with("status", f.order.status().as_str())
                    .with("link", format!("orders/{}", f.order.number)),
            ),
        };
        portal
            .notify(
                tx,
                kind,
                kind.recipients(customer.contact_emails(), None),
                customer.language(),
                &params,
            )
            .await?;
    }
    let event_name = match f.kind {
        FulfilmentKind::Order => AuditEventName::OrderPlaced,
        FulfilmentKind::TopUp => AuditEventName::TopUpPurchased,
        FulfilmentKind::AutoTopUp => AuditEventName::AutoTopUpCharged,
    };
    let event = portal.audit_event(
        Some(org),
        f.actor.clone(),
        f.channel,
        event_name,
        target("order", f.order.number)?,
        Outcome::Success,
    )?;
    portal.audit(tx, event).await?;
    Ok(order)
}

// ---------------------------------------------------------------------------------------------
// Maintenance
// ---------------------------------------------------------------------------------------------

/// How long an intent may wait for the customer's action (3-D Secure) before maintenance asks
/// the gateway a last time and abandons it.
const ACTION_WINDOW: time::Duration = time::Duration::hours(24);

/// Settles the intents left pending by a crash or a port failure (ORD-5, `run_maintenance`):
/// pending intents whose lease ran out, and intents waiting longer than a day for the
/// customer's action. Each is handled in its own organisation's transactions: its lease is
/// taken (so a racing retry of the customer gets `idempotency_key_in_progress`), the gateway
/// is asked again with the same key, and the order is completed from the intent's stored
/// preparation, or, when step 3 is refused for good, the charge is refunded.
///
/// # Errors
/// `Unavailable` when the store cannot list the due intents; a failure on one intent only
/// counts it as left pending.
pub(crate) async fn settle_payment_intents(
    portal: &Portal,
    now: OffsetDateTime,
) -> Result<SettleReport> {
    let mut due = Vec::new();
    for (state, cutoff) in [
        (
            PaymentIntentState::Pending,
            now.checked_sub(LEASE).unwrap_or(now),
        ),
        (
            PaymentIntentState::ActionRequired,
            now.checked_sub(ACTION_WINDOW).unwrap_or(now),
        ),
    ] {
        let mut request = PageRequest::first(100);
        loop {
            let page = portal
                .retry(|| async {
                    let mut tx = portal.store().begin_provider().await?;
                    Ok(tx.due_payment_intents(state, cutoff, &request).await?)
                })
                .await?;
            due.extend(page.items);
            let Some(next) = page.next else { break };
            request = PageRequest::after(next, 100);
        }
    }
    let mut report = SettleReport::default();
    for intent in due {
        match settle_one(portal, intent.org, intent.id, now).await {
            Ok(Settled::Completed) => report.completed += 1,
            Ok(Settled::Refunded) => report.refunded += 1,
            Ok(Settled::Declined) => report.declined += 1,
            Ok(Settled::Abandoned) => report.abandoned += 1,
            Ok(Settled::Skipped) => {}
            Err(_) => report.left_pending += 1,
        }
    }
    Ok(report)
}

enum Settled {
    Completed,
    Refunded,
    Declined,
    Abandoned,
    /// No longer due (finished or re-leased meanwhile).
    Skipped,
}

async fn settle_one(
    portal: &Portal,
    org: OrgId,
    id: PaymentIntentId,
    now: OffsetDateTime,
) -> Result<Settled> {
    // Take the lease, so a customer's retry does not run step 2 at the same time.
    let taken = portal
        .retry(|| async {
            let mut tx = portal.store().begin(org).await?;
            let Some(Versioned { mut value, version }) = tx.payment_intent_by_id(id).await? else {
                return Ok(None);
            };
            let due = match value.state {
                PaymentIntentState::Pending => now - value.leased_at >= LEASE,
                PaymentIntentState::ActionRequired => now - value.leased_at >= ACTION_WINDOW,
                _ => false,
            };
            if !due {
                return Ok(None);
            }
            let data = IntentData::decode(&value)?;
            let was = value.state;
            value.leased_at = now;
            value.attempts = value.attempts.saturating_add(1);
            let key = value.key.clone();
            let gateway_key = value.gateway_key.clone();
            tx.update_payment_intent(value, version).await?;
            tx.commit().await?;
            Ok(Some((key, gateway_key, was, data.prepared()?)))
        })
        .await?;
    let Some((key, gateway_key, was, prepared)) = taken else {
        return Ok(Settled::Skipped);
    };
    let charge_id = match &prepared.charge {
        None => None,
        Some(spec) => {
            let outcome = portal
                .inner
                .ports
                .gateway
                .charge(ChargeRequest {
                    key: gateway_key.clone(),
                    amount: spec.amount,
                    card: spec.card.clone(),
                    merchant_initiated: spec.merchant_initiated,
                    description: spec.description.clone(),
                })
                .await?;
            match outcome {
                ChargeOutcome::Succeeded { charge_id } => Some(charge_id),
                ChargeOutcome::Declined { reason } => {
                    settle_outcome(
                        portal,
                        org,
                        &key,
                        PaymentIntentState::Declined,
                        IntentOutcome::Declined { reason },
                    )
                    .await?;
                    return Ok(Settled::Declined);
                }
                ChargeOutcome::ActionRequired(next_action) => {
                    // Still waiting: after the window the customer is taken to have given up.
                    let (state, outcome, settled) = if was == PaymentIntentState::ActionRequired {
                        (
                            PaymentIntentState::Abandoned,
                            IntentOutcome::Abandoned,
                            Settled::Abandoned,
                        )
                    } else {
                        (
                            PaymentIntentState::ActionRequired,
                            IntentOutcome::ActionRequired { next_action },
                            Settled::Skipped,
                        )
                    };
                    settle_outcome(portal, org, &key, state, outcome).await?;
                    return Ok(settled);
                }
            }
        }
    };
    let written = portal
        .retry(|| step_three(portal, org, &key, None, &prepared, charge_id.clone()))
        .await;
    match written {
        Ok(_) => Ok(Settled::Completed),
        // The outcome of the commit is unknown: nothing is refunded, the next run looks again.
        Err(e @ (Error::Unavailable { .. } | Error::Internal)) => Err(e),
        Err(_) => {
            // Step 3 is refused for good and wrote nothing: the money goes back.
            let (Some(charge_id), Some(spec)) = (charge_id, prepared.charge.as_ref()) else {
                settle_outcome(
                    portal,
                    org,
                    &key,
                    PaymentIntentState::Abandoned,
                    IntentOutcome::Abandoned,
                )
                .await?;
                return Ok(Settled::Abandoned);
            };
            let refund_key = GatewayKey::refund_of(&gateway_key);
            portal
                .inner
                .ports
                .gateway
                .refund(RefundRequest {
                    key: refund_key,
                    charge_id: charge_id.clone(),
                    amount: spec.amount,
                })
                .await?;
            settle_outcome(
                portal,
                org,
                &key,
                PaymentIntentState::Abandoned,
                IntentOutcome::Refunded { charge_id },
            )
            .await?;
            Ok(Settled::Refunded)
        }
    }
}

async fn settle_outcome(
    portal: &Portal,
    org: OrgId,
    key: &IdempotencyKey,
    state: PaymentIntentState,
    outcome: IntentOutcome,
) -> Result<()> {
    portal
        .retry(|| async {
            let mut tx = portal.store().begin(org).await?;
            let Some(Versioned { value, version }) = tx.payment_intent(key).await? else {
                return Err(Error::Internal.into());
            };
            if value.state.is_final() {
                return Ok(());
            }
            write_outcome(tx.as_mut(), value, version, state, outcome.clone()).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
}

// ---------------------------------------------------------------------------------------------
// The session's use cases
// ---------------------------------------------------------------------------------------------

/// What a session orders, prepared in step 1.
enum Purchase {
    Order(PlaceOrder),
    TopUp {
        sims: Vec<SimId>,
        product: Sku,
        payment: Payment,
    },
}

struct SessionCheckout<'a> {
    session: &'a Session,
    action: Action,
    purchase: Purchase,
}

/// The snapshot of the address `given` or of the default of `kind` (ADDR-3).
fn address(
    book: &AddressBook,
    field: &str,
    kind: AddressKind,
    given: Option<AddressId>,
) -> std::result::Result<AddressSnapshot, Attempt> {
    let id = choose_address(field, given, book.default_for(kind).map(|e| e.id))?;
    let entry = book.get(id).ok_or(Error::NotFound)?;
    let usable = match kind {
        AddressKind::Billing => entry.usage.billing,
        AddressKind::Shipping => entry.usage.shipping,
    };
    if !usable {
        return Err(Error::Validation {
            field: field.to_owned(),
            reason: ReasonCode::InvalidFormat,
            message: "this address is not a billing or shipping address as required".to_owned(),
        }
        .into());
    }
    Ok(entry.address.snapshot())
}

#[async_trait]
impl CheckoutRequest for SessionCheckout<'_> {
    async fn gate(&self, tx: &mut dyn OrgTransaction) -> std::result::Result<(), Attempt> {
        self.session.authorize(tx, self.action).await?;
        Ok(())
    }

    async fn prepare(&self, tx: &mut dyn OrgTransaction) -> std::result::Result<Prepared, Attempt> {
        let portal = self.session.portal();
        let config = portal.config();
        let now = portal.now();
        let (me, actor) = self.session.authorize(tx, self.action).await?;
        let customer = tx.customer().await?.ok_or(Error::NotFound)?.value.customer;
        let tax = TaxCustomer::of(&customer);
        let book = tx
            .address_book()
            .await?
            .map(|b| b.value)
            .unwrap_or_default();
        let settings = tx
            .payment_settings()
            .await?
            .map(|s| s.value)
            .unwrap_or_else(PaymentSettings::new);
        let (order_type, priced, payment, billing, shipping, top_ups, kind) = match &self.purchase {
            Purchase::Order(request) => {
                let priced = price_order(&config.catalogue, &config.seller, &tax, &request.items)?;
                let billing = address(
                    &book,
                    "billing_address",
                    AddressKind::Billing,
                    request.billing_address,
                )?;
                let shipping = address(
                    &book,
                    "shipping_address",
                    AddressKind::Shipping,
                    request.shipping_address,
                )?;
                let order_type = OrderType::for_sim_order(u64::from(tx.has_orders().await?));
                (
                    order_type,
                    priced,
                    request.payment,
                    billing,
                    shipping,
                    Vec::new(),
                    FulfilmentKind::Order,
                )
            }
            Purchase::TopUp {
                sims,
                product,
                payment,
            } => {
                let targets = TopUpTargets::new(sims.clone())?;
                for sim in targets.sims() {
                    tx.sim(*sim).await?.ok_or(Error::NotFound)?;
                }
                let core_payment = match payment {
                    Payment::Card(card) => TopUpPayment::StoredCard(*card),
                    Payment::OnInvoice => TopUpPayment::OnInvoice,
                };
                let priced = price_top_up(
                    &config.catalogue,
                    &config.seller,
                    &tax,
                    product,
                    targets.len(),
                    core_payment,
                )?;
                let (kind, volume) = priced.volume.top_up_volume().ok_or(Error::Internal)?;
                let top_ups = targets
                    .sims()
                    .iter()
                    .map(|sim| QuotaTopUp {
                        sim: *sim,
                        kind,
                        volume,
                    })
                    .collect();
                let billing = address(&book, "billing_address", AddressKind::Billing, None)?;
                // A top-up ships nothing: the billing address stands in when no shipping
                // address is stored.
                let shipping = match book.default_for(AddressKind::Shipping) {
                    Some(entry) => entry.address.snapshot(),
                    None => billing.clone(),
                };
                (
                    priced.order_type,
                    priced.priced,
                    *payment,
                    billing,
                    shipping,
                    top_ups,
                    FulfilmentKind::TopUp,
                )
            }
        };
        let today = now.date();
        let (order_payment, charge) = match payment {
            Payment::OnInvoice => (OrderPayment::OnInvoice, None),
            Payment::Card(id) => {
                let card = settings.card(id)?;
                card.ensure_chargeable(today)?;
                (
                    OrderPayment::Card {
                        card: id,
                        brand: card.brand().to_string(),
                        last4: card.last4().as_str().to_owned(),
                        charge_id: None,
                    },
                    Some(card.gateway_token().clone()),
                )
            }
        };
        let number = OrderNumber::new(portal.random()?);
        let charge = charge.map(|card| ChargeSpec {
            amount: priced.totals.gross,
            card,
            merchant_initiated: false,
            description: format!("{} {number}", config.seller.name()),
        });
        let order = Order::new(NewOrder {
            id: OrderId::new(now, portal.random()?),
            org: self.session.org(),
            number,
            order_type,
            placed_at: now,
            priced,
            email: me.value.email.clone(),
            billing_address: billing,
            shipping_address: shipping,
            payment: order_payment,
        });
        Ok(Prepared {
            fulfilment: Fulfilment {
                order,
                top_ups,
                kind,
                actor: AuditActor::User { id: actor.user },
                channel: actor.channel,
                notice: None,
            },
            charge,
        })
    }
}

impl Session {
    /// Places an order (ORD-5): prices it with the configured catalogue and VAT (ORD-2), copies
    /// the billing and shipping addresses (the defaults unless given, ADDR-3), charges the
    /// card with the key `order:{org}:{idempotency_key}` and writes the order. A retry with
    /// the same key returns the first order without charging again.
    ///
    /// # Errors
    /// `Validation` (items, addresses, `idempotency_key`); `NotFound` (an address or card not
    /// of this organisation); `Conflict` (`card_expired`, `idempotency_key_reused` for another
    /// request under the key, `idempotency_key_in_progress` while another attempt holds it);
    /// `PaymentDeclined` (no order); `PaymentActionRequired` with the next action (retry with
    /// the same key afterwards); `PermissionDenied` (a User or ReadOnly cannot order, USR-4);
    /// `Unauthenticated`; `Unavailable` (retrying with the same key is safe).
    pub async fn place_order(&self, request: PlaceOrder, idempotency_key: &str) -> Result<Order> {
        let key = IdempotencyKey::from_customer(idempotency_key).map_err(Error::from)?;
        let fingerprint = RequestFingerprint::of(&request).map_err(Error::from)?;
        let purchase = SessionCheckout {
            session: self,
            action: Action::PlaceOrder,
            purchase: Purchase::Order(request),
        };
        self.checkout(key, fingerprint, &purchase).await
    }

    /// Tops up one SIM or many with a data or SMS product (TOP-1): an order of type `TopUp`
    /// (one SIM) or `BulkTopUp`, paid by stored card or on invoice through the three steps of
    /// ORD-5. Each SIM starts a new quota generation whose volume is the product's volume +
    /// max(the previous remaining, 0) (TOP-2).
    ///
    /// # Errors
    /// As [`Session::place_order`]; `Validation` on `product` (`unknown_sku`, `not_a_top_up`)
    /// or `targets`; `NotFound` for a SIM not of this organisation.
    pub async fn top_up(
        &self,
        targets: TopUpTarget,
        product: Sku,
        payment: Payment,
        idempotency_key: &str,
    ) -> Result<Order> {
        let key = IdempotencyKey::from_customer(idempotency_key).map_err(Error::from)?;
        let fingerprint = RequestFingerprint::of(&TopUpRequest {
            targets: &targets,
            product: &product,
            payment,
        })
        .map_err(Error::from)?;
        let portal = self.portal();
        // The ICCIDs are resolved before any transaction opens (a global lookup); another
        // organisation's SIM looks exactly like an unknown one.
        let mut sims = Vec::new();
        for iccid in targets.iccids() {
            match portal.store().sim_by_iccid(&iccid).await? {
                Some((org, sim)) if org == self.org() => sims.push(sim),
                _ => return Err(Error::NotFound),
            }
        }
        let purchase = SessionCheckout {
            session: self,
            action: Action::TopUp,
            purchase: Purchase::TopUp {
                sims,
                product,
                payment,
            },
        };
        self.checkout(key, fingerprint, &purchase).await
    }

    async fn checkout(
        &self,
        key: IdempotencyKey,
        fingerprint: RequestFingerprint,
        purchase: &SessionCheckout<'_>,
    ) -> Result<Order> {
        let checkout = Checkout {
            org: self.org(),
            gateway_key: GatewayKey::order(self.org(), &key),
            key,
            fingerprint,
            request: purchase,
        };
        // Session::retry audits a denial; the engine retries its own transactions.
        self.retry(|| async { run(self.portal(), &checkout).await.map_err(Attempt::Fail) })
            .await
    }
}

impl Portal {
    /// Settles payment intents left pending (ORD-5); see the module documentation. Called by
    /// `run_maintenance`; public for hosts that schedule it on its own.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot list the due intents.
    pub async fn settle_payment_intents(&self, now: OffsetDateTime) -> Result<SettleReport> {
        settle_payment_intents(self, now).await
    }
}
