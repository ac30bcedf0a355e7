//! Development ports (DESIGN §1): working stand-ins for the payment gateway, the notifier, the
//! captcha verifier and the mobile network, for tests, demos and offline use.
//!
//! [`Ports::development`] marks the ports `test_mode`; [`crate::Portal::with_store`] then logs
//! a warning, and every id the stand-ins hand out carries `test` (`ch_test_…`, `re_test_…`,
//! `test-net-…`), so nothing they touch can be mistaken for production.
//!
//! | stand-in | behaviour |
//! |---|---|
//! | [`DevGateway`] | test tokens ([`DevGateway::TOKENS`]); idempotent by key, with a [`ledger`](DevGateway::ledger) |
//! | [`DevNotifier`] | keeps delivered messages in memory, deduplicated by message id |
//! | [`DevVerifier`] | accepts only [`DevVerifier::PASSING_TOKEN`] |
//! | [`DevNetwork`] | acknowledges every request at once and records it |
//!
//! ```
//! use selfcare::Ports;
//! use selfcare::dev::SystemClock;
//! use std::sync::Arc;
//! let (ports, handles) = Ports::development_with(Arc::new(SystemClock));
//! assert!(ports.test_mode);
//! assert!(handles.notifier.messages().is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use selfcare_core::contact::Email;
use selfcare_core::ids::{MessageId, ProvisioningId};
use selfcare_core::money::Money;
use selfcare_core::orders::GatewayKey;
use selfcare_core::payment::{CardBrand, CardExpiry, CardToken, Last4, VerifiedCard};
use selfcare_storage::ports::{
    ApnPushRequest, CallForwardingRequest, ChargeOutcome, ChargeRequest, Clock, HumanVerifier,
    Network, NetworkAck, NextAction, Notifier, OutboundMessage, PaymentGateway, PortError,
    RefundOutcome, RefundRequest, SwapSimRequest, UsageReadRequest, VoicemailRequest,
};
pub use selfcare_storage::ports::{ManualClock, SystemClock};

use crate::Ports;

impl Ports {
    /// Development stand-ins over the system clock, marked `test_mode` (a portal built with
    /// them logs a warning). Python: `selfcare.dev_ports()`.
    ///
    /// Use [`Ports::development_with`] to choose the clock and to reach the stand-ins.
    pub fn development() -> Ports {
        Ports::development_with(Arc::new(SystemClock)).0
    }

    /// Development stand-ins over `clock`, marked `test_mode`, with handles on the concrete
    /// stand-ins so a test or demo can inspect what reached them.
    ///
    /// ```
    /// use selfcare::Ports;
    /// use selfcare::dev::ManualClock;
    /// use std::sync::Arc;
    /// use time::macros::datetime;
    /// let clock = ManualClock::new(datetime!(2026-01-05 09:00 UTC));
    /// let (ports, handles) = Ports::development_with(Arc::new(clock.clone()));
    /// assert!(ports.test_mode && handles.gateway.ledger().is_empty());
    /// ```
    pub fn development_with(clock: Arc<dyn Clock>) -> (Ports, DevHandles) {
        let handles = DevHandles {
            gateway: Arc::new(DevGateway::new(Arc::clone(&clock))),
            notifier: Arc::new(DevNotifier::new()),
            verifier: Arc::new(DevVerifier::new()),
            network: Arc::new(DevNetwork::new()),
        };
        let ports = Ports {
            gateway: handles.gateway.clone(),
            notifier: handles.notifier.clone(),
            verifier: handles.verifier.clone(),
            network: handles.network.clone(),
            clock,
            randomness: Arc::new(crate::ports::OsRandomness),
            test_mode: true,
        };
        (ports, handles)
    }
}

/// The concrete stand-ins behind a [`Ports::development_with`], for inspection.
#[derive(Debug, Clone)]
pub struct DevHandles {
    /// The payment gateway.
    pub gateway: Arc<DevGateway>,
    /// The notifier.
    pub notifier: Arc<DevNotifier>,
    /// The captcha verifier.
    pub verifier: Arc<DevVerifier>,
    /// The mobile network.
    pub network: Arc<DevNetwork>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not take the stand-in down for every other test.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A switch that makes a stand-in answer `Unavailable`, to test how the sdk copes with a
/// service that is down.
#[derive(Debug, Default)]
struct Outage(AtomicBool);

impl Outage {
    fn set(&self, down: bool) {
        self.0.store(down, Ordering::SeqCst);
    }

    fn check(&self, service: &str) -> Result<(), PortError> {
        if self.0.load(Ordering::SeqCst) {
            Err(PortError::Unavailable {
                reason: format!("development {service} switched off"),
            })
        } else {
            Ok(())
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Gateway
// ---------------------------------------------------------------------------------------------

/// One charge or refund the [`DevGateway`] made: one entry per key, holding the first outcome
/// (or the final one, once a required action was completed).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum LedgerEntry {
    /// A charge.
    Charge {
        /// Its idempotency key.
        key: GatewayKey,
        /// The amount requested.
        amount: Money,
        /// Whether the customer was absent.
        merchant_initiated: bool,
        /// How it ended.
        outcome: ChargeOutcome,
    },
    /// A refund.
    Refund {
        /// Its idempotency key.
        key: GatewayKey,
        /// The charge refunded.
        charge_id: String,
        /// The amount requested.
        amount: Money,
        /// How it ended.
        outcome: RefundOutcome,
    },
}

impl LedgerEntry {
    /// The entry's idempotency key.
    pub fn key(&self) -> &GatewayKey {
        match self {
            LedgerEntry::Charge { key, .. } | LedgerEntry::Refund { key, .. } => key,
        }
    }

    /// Whether this is a charge that took the money.
    pub fn is_successful_charge(&self) -> bool {
        matches!(
            self,
            LedgerEntry::Charge {
                outcome: ChargeOutcome::Succeeded { .. },
                ..
            }
        )
    }

    /// Whether this is a refund that was made.
    pub fn is_successful_refund(&self) -> bool {
        matches!(
            self,
            LedgerEntry::Refund {
                outcome: RefundOutcome::Succeeded { .. },
                ..
            }
        )
    }
}

/// How often each [`DevGateway`] method was called (repeats included, refused calls included).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayCalls {
    /// `verify_card` calls.
    pub verify_card: usize,
    /// `charge` calls.
    pub charge: usize,
    /// `refund` calls.
    pub refund: usize,
}

/// What the dev gateway knows about a test token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TestCard {
    Visa,
    Mastercard,
    Expired,
    Declined,
    ThreeDs,
}

impl TestCard {
    fn of(token: &CardToken) -> Option<TestCard> {
        Some(match token.expose() {
            "tok_visa" => TestCard::Visa,
            "tok_mastercard" => TestCard::Mastercard,
            "tok_expired" => TestCard::Expired,
            "tok_declined" => TestCard::Declined,
            "tok_3ds" => TestCard::ThreeDs,
            _ => return None,
        })
    }

    fn brand_and_last4(self) -> (CardBrand, &'static str) {
        // The last digits of the payment industry's well-known test numbers.
        match self {
            TestCard::Visa => (CardBrand::Visa, "4242"),
            TestCard::Mastercard => (CardBrand::Mastercard, "4444"),
            TestCard::Expired => (CardBrand::Visa, "0069"),
            TestCard::Declined => (CardBrand::Visa, "0002"),
            TestCard::ThreeDs => (CardBrand::Visa, "3184"),
        }
    }
}

#[derive(Debug, Default)]
struct GatewayState {
    ledger: Vec<LedgerEntry>,
    charges: BTreeMap<String, usize>,
    refunds: BTreeMap<String, usize>,
    /// Per charge id: how much of it was refunded.
    refunded: BTreeMap<String, Money>,
    calls: GatewayCalls,
    next_id: u64,
}

impl GatewayState {
    fn next(&mut self, prefix: &str) -> String {
        self.next_id = self.next_id.saturating_add(1);
        format!("{prefix}_test_{:06}", self.next_id)
    }

    fn charge_amount(&self, charge_id: &str) -> Option<Money> {
        self.ledger.iter().find_map(|e| match e {
            LedgerEntry::Charge {
                amount,
                outcome: ChargeOutcome::Succeeded { charge_id: id },
                ..
            } if id == charge_id => Some(*amount),
            _ => None,
        })
    }
}

/// A payment gateway that knows a fixed set of test tokens ([`DevGateway::TOKENS`]) and never
/// moves money.
///
/// - `verify_card`: `tok_visa` → Visa ending 4242, `tok_mastercard` → Mastercard ending 4444,
///   `tok_expired` → a Visa that expired last year, `tok_declined` → a Visa ending 0002 whose
///   charges are declined, `tok_3ds` → a Visa ending 3184 that asks for 3-D Secure; cards that
///   have not expired are valid until December three years after the clock's year. Any other
///   token is `Rejected`.
/// - `charge`: succeeds for `tok_visa`/`tok_mastercard`; declines `tok_declined`
///   (`card_declined`) and `tok_expired` (`expired_card`); answers `tok_3ds` with
///   [`ChargeOutcome::ActionRequired`] unless merchant-initiated (the stored mandate applies),
///   until [`DevGateway::complete_action`] settles it.
/// - `refund`: succeeds up to what is left of a successful charge; more is `Declined`
///   (`amount_exceeds_charge`), an unknown charge `Rejected`.
///
/// Charges and refunds are idempotent by key: a repeated key returns the entry's outcome
/// without a new ledger entry, whatever else the request says.
pub struct DevGateway {
    clock: Arc<dyn Clock>,
    state: Mutex<GatewayState>,
    outage: Outage,
}

impl fmt::Debug for DevGateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevGateway")
            .field("state", &self.state)
            .field("outage", &self.outage)
            .finish_non_exhaustive()
    }
}

impl DevGateway {
    /// The test tokens the gateway knows.
    pub const TOKENS: [&'static str; 5] = [
        "tok_visa",
        "tok_mastercard",
        "tok_expired",
        "tok_declined",
        "tok_3ds",
    ];

    /// A gateway whose card expiries follow `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        DevGateway {
            clock,
            state: Mutex::new(GatewayState::default()),
            outage: Outage::default(),
        }
    }

    /// Every charge and refund made, in order: one entry per key.
    pub fn ledger(&self) -> Vec<LedgerEntry> {
        lock(&self.state).ledger.clone()
    }

    /// How many successful charges the ledger holds for `key` (0 or 1 when idempotency holds).
    pub fn successful_charges(&self, key: &GatewayKey) -> usize {
        lock(&self.state)
            .ledger
            .iter()
            .filter(|e| e.is_successful_charge() && e.key() == key)
            .count()
    }

    /// How often each method was called.
    pub fn calls(&self) -> GatewayCalls {
        lock(&self.state).calls
    }

    /// Settles a charge that required an action (3-D Secure): `approved` makes it succeed,
    /// otherwise it is declined (`authentication_failed`). A repeated charge with the key
    /// then returns this final outcome. Returns the final outcome, or `None` when the key has
    /// no charge waiting for an action.
    pub fn complete_action(&self, key: &GatewayKey, approved: bool) -> Option<ChargeOutcome> {
        let mut state = lock(&self.state);
        let index = *state.charges.get(key.as_str())?;
        let waiting = matches!(
            state.ledger.get(index),
            Some(LedgerEntry::Charge {
                outcome: ChargeOutcome::ActionRequired(_),
                ..
            })
        );
        if !waiting {
            return None;
        }
        let settled = if approved {
            ChargeOutcome::Succeeded {
                charge_id: state.next("ch"),
            }
        } else {
            ChargeOutcome::Declined {
                reason: "authentication_failed".into(),
            }
        };
        if let Some(LedgerEntry::Charge { outcome, .. }) = state.ledger.get_mut(index) {
            *outcome = settled.clone();
        }
        Some(settled)
    }

    /// While `down`, every call answers [`PortError::Unavailable`] and changes nothing.
    pub fn set_unavailable(&self, down: bool) {
        self.outage.set(down);
    }

    fn card(&self, kind: TestCard, token: &CardToken) -> Result<VerifiedCard, PortError> {
        let year = self.clock.now().year().clamp(2001, 2190);
        let (brand, last4) = kind.brand_and_last4();
        let (month, year) = if kind == TestCard::Expired {
            (12, year - 1)
        } else {
            (12, year + 3)
        };
        let broken = |_| PortError::Unavailable {
            reason: "development gateway could not build its test card".into(),
        };
        Ok(VerifiedCard {
            token: token.clone(),
            brand,
            last4: Last4::parse(last4).map_err(broken)?,
            expiry: CardExpiry::new(month, u16::try_from(year).unwrap_or(2100)).map_err(broken)?,
        })
    }

    fn decide(request: &ChargeRequest, charge_id: impl FnOnce() -> String) -> ChargeOutcome {
        let declined = |reason: &str| ChargeOutcome::Declined {
            reason: reason.into(),
        };
        match TestCard::of(&request.card) {
            Some(TestCard::Visa | TestCard::Mastercard) => ChargeOutcome::Succeeded {
                charge_id: charge_id(),
            },
            Some(TestCard::ThreeDs) if request.merchant_initiated => ChargeOutcome::Succeeded {
                charge_id: charge_id(),
            },
            Some(TestCard::ThreeDs) => ChargeOutcome::ActionRequired(NextAction {
                kind: "three_d_secure".into(),
                url: format!("https://dev-gateway.invalid/3ds/{}", request.key),
            }),
            Some(TestCard::Declined) => declined("card_declined"),
            Some(TestCard::Expired) => declined("expired_card"),
            None => declined("unknown_token"),
        }
    }
}

#[async_trait]
impl PaymentGateway for DevGateway {
    async fn verify_card(&self, token: &CardToken) -> Result<VerifiedCard, PortError> {
        lock(&self.state).calls.verify_card += 1;
        self.outage.check("gateway")?;
        let kind = TestCard::of(token).ok_or_else(|| PortError::Rejected {
            reason: "not a development test token".into(),
        })?;
        self.card(kind, token)
    }

    async fn charge(&self, request: ChargeRequest) -> Result<ChargeOutcome, PortError> {
        let mut state = lock(&self.state);
        state.calls.charge += 1;
        self.outage.check("gateway")?;
        if let Some(LedgerEntry::Charge { outcome, .. }) = state
            .charges
            .get(request.key.as_str())
            .and_then(|&i| state.ledger.get(i))
        {
            return Ok(outcome.clone());
        }
        if TestCard::of(&request.card).is_none() {
            return Err(PortError::Rejected {
                reason: "not a development test token".into(),
            });
        }
        if request.amount.is_negative() || request.amount.amount.is_zero() {
            return Err(PortError::Rejected {
                reason: "the amount must be positive".into(),
            });
        }
        let outcome = Self::decide(&request, || state.next("ch"));
        let index = state.ledger.len();
        state.ledger.push(LedgerEntry::Charge {
            key: request.key.clone(),
            amount: request.amount,
            merchant_initiated: request.merchant_initiated,
            outcome: outcome.clone(),
        });
        state.charges.insert(request.key.as_str().to_owned(), index);
        Ok(outcome)
    }

    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, PortError> {
        let mut state = lock(&self.state);
        state.calls.refund += 1;
        self.outage.check("gateway")?;
        if let Some(LedgerEntry::Refund { outcome, .. }) = state
            .refunds
            .get(request.key.as_str())
            .and_then(|&i| state.ledger.get(i))
        {
            return Ok(outcome.clone());
        }
        let Some(charged) = state.charge_amount(&request.charge_id) else {
            return Err(PortError::Rejected {
                reason: "no such charge".into(),
            });
        };
        if request.amount.is_negative() || request.amount.amount.is_zero() {
            return Err(PortError::Rejected {
                reason: "the amount must be positive".into(),
            });
        }
        let already = state
            .refunded
            .get(&request.charge_id)
            .copied()
            .unwrap_or(Money::zero(charged.currency));
        let total = already.checked_add(request.amount).ok();
        let left_after = total.and_then(|t| charged.checked_sub(t).ok());
        let outcome = match (total, left_after) {
            (Some(total), Some(left)) if !left.is_negative() => {
                state.refunded.insert(request.charge_id.clone(), total);
                RefundOutcome::Succeeded {
                    refund_id: state.next("re"),
                }
            }
            _ => RefundOutcome::Declined {
                reason: "amount_exceeds_charge".into(),
            },
        };
        let index = state.ledger.len();
        state.ledger.push(LedgerEntry::Refund {
            key: request.key.clone(),
            charge_id: request.charge_id,
            amount: request.amount,
            outcome: outcome.clone(),
        });
        state.refunds.insert(request.key.as_str().to_owned(), index);
        Ok(outcome)
    }
}

// ---------------------------------------------------------------------------------------------
// Notifier
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct NotifierState {
    inbox: Vec<OutboundMessage>,
    delivered: BTreeSet<MessageId>,
    calls: usize,
}

/// A notifier that keeps delivered messages in memory instead of sending them. A message id
/// delivered once is acknowledged again without being kept twice, even after [`take`].
///
/// [`take`]: DevNotifier::take
#[derive(Debug, Default)]
pub struct DevNotifier {
    state: Mutex<NotifierState>,
    outage: Outage,
}

impl DevNotifier {
    /// An empty notifier.
    pub fn new() -> Self {
        DevNotifier::default()
    }

    /// The messages delivered and not yet taken, oldest first.
    pub fn messages(&self) -> Vec<OutboundMessage> {
        lock(&self.state).inbox.clone()
    }

    /// The messages delivered and not yet taken that went to `to`, oldest first.
    pub fn messages_to(&self, to: &Email) -> Vec<OutboundMessage> {
        lock(&self.state)
            .inbox
            .iter()
            .filter(|m| m.to.iter().any(|r| r.key() == to.key()))
            .cloned()
            .collect()
    }

    /// Removes and returns the messages delivered so far, oldest first.
    pub fn take(&self) -> Vec<OutboundMessage> {
        std::mem::take(&mut lock(&self.state).inbox)
    }

    /// How often `deliver` was called (repeats and refused calls included).
    pub fn deliveries(&self) -> usize {
        lock(&self.state).calls
    }

    /// While `down`, every delivery answers [`PortError::Unavailable`] and keeps nothing.
    pub fn set_unavailable(&self, down: bool) {
        self.outage.set(down);
    }
}

#[async_trait]
impl Notifier for DevNotifier {
    async fn deliver(&self, message: OutboundMessage) -> Result<(), PortError> {
        let mut state = lock(&self.state);
        state.calls += 1;
        self.outage.check("notifier")?;
        if state.delivered.insert(message.id) {
            state.inbox.push(message);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Verifier
// ---------------------------------------------------------------------------------------------

/// A captcha verifier that accepts exactly one fixed token, [`DevVerifier::PASSING_TOKEN`],
/// from any source and any number of times (unlike a real one, which accepts a token once), so
/// a demo can register many customers.
#[derive(Debug, Default)]
pub struct DevVerifier {
    calls: AtomicUsize,
    outage: Outage,
}

impl DevVerifier {
    /// The only token that passes.
    pub const PASSING_TOKEN: &'static str = "dev-captcha-ok";

    /// A verifier.
    pub fn new() -> Self {
        DevVerifier::default()
    }

    /// How often `verify` was called.
    pub fn checks(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    /// While `down`, every check answers [`PortError::Unavailable`].
    pub fn set_unavailable(&self, down: bool) {
        self.outage.set(down);
    }
}

#[async_trait]
impl HumanVerifier for DevVerifier {
    async fn verify(&self, token: &str, _source: &str) -> Result<bool, PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.outage.check("verifier")?;
        Ok(token == Self::PASSING_TOKEN)
    }
}

// ---------------------------------------------------------------------------------------------
// Network
// ---------------------------------------------------------------------------------------------

/// A request the [`DevNetwork`] acknowledged.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NetworkRequest {
    /// A SIM swap.
    SwapSim(SwapSimRequest),
    /// A voicemail change.
    Voicemail(VoicemailRequest),
    /// A call-forwarding change.
    CallForwarding(CallForwardingRequest),
    /// An APN push.
    PushApn(ApnPushRequest),
    /// A usage read-out.
    ReadUsage(UsageReadRequest),
}

impl NetworkRequest {
    /// The provisioning request's id (its completion names it).
    pub fn id(&self) -> ProvisioningId {
        match self {
            NetworkRequest::SwapSim(r) => r.id,
            NetworkRequest::Voicemail(r) => r.id,
            NetworkRequest::CallForwarding(r) => r.id,
            NetworkRequest::PushApn(r) => r.id,
            NetworkRequest::ReadUsage(r) => r.id,
        }
    }
}

#[derive(Debug, Default)]
struct NetworkState {
    requests: Vec<NetworkRequest>,
    seen: BTreeSet<ProvisioningId>,
}

/// A mobile network that acknowledges every request at once (reference `test-net-{id}`) and
/// records it; a repeated request id is acknowledged again and recorded once. It reports no
/// completions itself: a test or demo completes what [`DevNetwork::requests`] lists through
/// the sdk, as the real network's callback would.
#[derive(Debug, Default)]
pub struct DevNetwork {
    state: Mutex<NetworkState>,
    outage: Outage,
}

impl DevNetwork {
    /// A network with no requests yet.
    pub fn new() -> Self {
        DevNetwork::default()
    }

    /// The requests acknowledged and not yet taken, oldest first.
    pub fn requests(&self) -> Vec<NetworkRequest> {
        lock(&self.state).requests.clone()
    }

    /// Removes and returns the requests acknowledged so far, oldest first.
    pub fn take(&self) -> Vec<NetworkRequest> {
        std::mem::take(&mut lock(&self.state).requests)
    }

    /// While `down`, every request answers [`PortError::Unavailable`] and is not recorded.
    pub fn set_unavailable(&self, down: bool) {
        self.outage.set(down);
    }

    fn accept(&self, request: NetworkRequest) -> Result<NetworkAck, PortError> {
        self.outage.check("network")?;
        let id = request.id();
        let mut state = lock(&self.state);
        if state.seen.insert(id) {
            state.requests.push(request);
        }
        Ok(NetworkAck {
            id,
            reference: Some(format!("test-net-{id}")),
        })
    }
}

#[async_trait]
impl Network for DevNetwork {
    async fn swap_sim(&self, request: SwapSimRequest) -> Result<NetworkAck, PortError> {
        if request.old_sim == request.new_sim {
            return Err(PortError::Rejected {
                reason: "the new SIM is the old one".into(),
            });
        }
        self.accept(NetworkRequest::SwapSim(request))
    }

    async fn set_voicemail(&self, request: VoicemailRequest) -> Result<NetworkAck, PortError> {
        self.accept(NetworkRequest::Voicemail(request))
    }

    async fn set_call_forwarding(
        &self,
        request: CallForwardingRequest,
    ) -> Result<NetworkAck, PortError> {
        self.accept(NetworkRequest::CallForwarding(request))
    }

    async fn push_apn(&self, request: ApnPushRequest) -> Result<NetworkAck, PortError> {
        self.accept(NetworkRequest::PushApn(request))
    }

    async fn read_usage(&self, request: UsageReadRequest) -> Result<NetworkAck, PortError> {
        self.accept(NetworkRequest::ReadUsage(request))
    }
}
