//! The service ports (DESIGN §1): what the sdk asks of the world outside the store.
//!
//! Every port is object-safe and `Send + Sync`, so a host passes `Arc<dyn Port>`; the async
//! ones use `#[async_trait]`. Python and Kotlin hosts implement [`PaymentGateway`],
//! [`Notifier`], [`HumanVerifier`], [`Network`] and [`Transport`] in their own language; an
//! implementation that fails reports a [`PortError`] (or a [`TransportError`]), which the sdk
//! turns into `Unavailable` unless the contract says otherwise.
//!
//! Requests carry only what may cross the boundary: card gateway tokens, never a card number
//! or security code; and their `Debug` never shows a bearer token, a card token or a request
//! body (which may hold a password).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use secrecy::SecretString;
use selfcare_core::contact::{Email, Language};
use selfcare_core::ids::{MessageId, ProvisioningId};
use selfcare_core::money::Money;
use selfcare_core::numbers::{Iccid, Msisdn};
use selfcare_core::orders::GatewayKey;
use selfcare_core::payment::{CardToken, VerifiedCard};
use selfcare_core::plans::{ApnSettings, Voicemail};
use time::OffsetDateTime;

use crate::outbox::OutboxMessage;

/// How a service port failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PortError {
    /// The service could not be reached or failed; trying again later may succeed.
    #[error("service unavailable: {reason}")]
    Unavailable {
        /// Why, for logs (no secrets, no personal data).
        reason: String,
    },
    /// The service refused the request as such (an unknown token, an invalid number); trying
    /// again with the same request will not succeed.
    #[error("rejected by the service: {reason}")]
    Rejected {
        /// Why, for logs (no secrets, no personal data).
        reason: String,
    },
    /// No answer in time; the outcome is unknown (repeat the same idempotent request).
    #[error("the service did not answer in time")]
    Timeout,
}

// ---------------------------------------------------------------------------------------------
// PaymentGateway
// ---------------------------------------------------------------------------------------------

/// A charge to make (ORD-5, TOP-1, TOP-2).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChargeRequest {
    /// The idempotency key: a repeated key gets the first outcome.
    pub key: GatewayKey,
    /// The amount to charge (gross, rounded to the currency's minor unit).
    pub amount: Money,
    /// The card's gateway token (never a card number).
    pub card: CardToken,
    /// Whether the customer is absent (an automatic top-up); the gateway then uses the stored
    /// mandate instead of asking for authentication.
    pub merchant_initiated: bool,
    /// What the charge is for, as shown on the customer's statement and in the gateway.
    pub description: String,
}

/// What the customer must do before a charge can complete (3-D Secure, a redirect).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NextAction {
    /// The gateway's name for the action, such as `three_d_secure` or `redirect_to_url`.
    pub kind: String,
    /// Where to send the customer.
    pub url: String,
}

/// How a charge ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum ChargeOutcome {
    /// The money was taken.
    Succeeded {
        /// The gateway's id of the charge (for refunds).
        charge_id: String,
    },
    /// The card was declined; nothing was taken.
    Declined {
        /// The gateway's reason (e.g. `insufficient_funds`).
        reason: String,
    },
    /// The customer must act first; repeating the key later gives the final outcome.
    ActionRequired(NextAction),
}

/// A refund to make of (part of) a charge.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundRequest {
    /// The idempotency key: a repeated key gets the first outcome.
    pub key: GatewayKey,
    /// The charge to refund.
    pub charge_id: String,
    /// How much of it (at most what was charged and not yet refunded).
    pub amount: Money,
}

/// How a refund ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum RefundOutcome {
    /// The money is on its way back.
    Succeeded {
        /// The gateway's id of the refund.
        refund_id: String,
    },
    /// The gateway refused (e.g. more than what is left of the charge).
    Declined {
        /// The gateway's reason.
        reason: String,
    },
}

/// The payment gateway (PAY-1, ORD-5, TOP-1, TOP-2). Only gateway tokens cross it: a card
/// number or security code never does.
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Verifies a card token and reports its brand, last four digits and expiry.
    ///
    /// It MUST NOT charge the card, and MUST return the token it was given in
    /// [`VerifiedCard::token`].
    ///
    /// # Errors
    /// [`PortError::Rejected`] for a token the gateway does not know or cannot use;
    /// [`PortError::Unavailable`] or [`PortError::Timeout`] when the gateway cannot answer.
    async fn verify_card(&self, token: &CardToken) -> Result<VerifiedCard, PortError>;

    /// Charges `request.amount` to the card, once per key.
    ///
    /// A repeated `request.key` MUST return the first outcome for that key and MUST NOT
    /// charge again, so the sdk can repeat a charge whose outcome it did not learn. A decline
    /// is an outcome ([`ChargeOutcome::Declined`]), not an error.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] or [`PortError::Timeout`] when the outcome is unknown (the
    /// sdk repeats the same key); [`PortError::Rejected`] for a request the gateway refuses
    /// as such (an unknown token).
    async fn charge(&self, request: ChargeRequest) -> Result<ChargeOutcome, PortError>;

    /// Refunds `request.amount` of a charge, once per key.
    ///
    /// A repeated `request.key` MUST return the first outcome for that key and MUST NOT
    /// refund again.
    ///
    /// # Errors
    /// As [`PaymentGateway::charge`].
    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, PortError>;
}

// ---------------------------------------------------------------------------------------------
// Notifier
// ---------------------------------------------------------------------------------------------

/// A rendered notification to deliver (ACC-4).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundMessage {
    /// The outbox message's id: the notifier deduplicates by it.
    pub id: MessageId,
    /// The recipients.
    pub to: Vec<Email>,
    /// One-line subject.
    pub subject: String,
    /// Plain-text body (escape it before wrapping it in HTML).
    pub body: String,
    /// The language the text is in.
    pub language: Language,
}

impl From<&OutboxMessage> for OutboundMessage {
    fn from(m: &OutboxMessage) -> Self {
        OutboundMessage {
            id: m.id,
            to: m.to.clone(),
            subject: m.subject.clone(),
            body: m.body.clone(),
            language: m.language,
        }
    }
}

/// Delivers notifications (e-mail, SMS) from the outbox.
#[async_trait]
pub trait Notifier: Send + Sync {
    /// Delivers `message` to its recipients.
    ///
    /// The outbox delivers at least once, so the same message can arrive again after a lost
    /// acknowledgement: the notifier MUST deduplicate by `message.id` (a repeated id that was
    /// delivered MUST return `Ok` without sending again). The sdk never calls it inside a
    /// store transaction; `Ok` means the message was handed over for delivery.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] or [`PortError::Timeout`]: the outbox tries again later;
    /// [`PortError::Rejected`] (e.g. every recipient refused): the outbox records the failure
    /// and dead-letters it after the configured attempts.
    async fn deliver(&self, message: OutboundMessage) -> Result<(), PortError>;
}

// ---------------------------------------------------------------------------------------------
// HumanVerifier
// ---------------------------------------------------------------------------------------------

/// Checks a captcha token for a customer-channel action (registration, password reset).
#[async_trait]
pub trait HumanVerifier: Send + Sync {
    /// Whether `token` proves a human made the request that came from `source` (the
    /// request's IP address as the host saw it).
    ///
    /// It MUST return `Ok(false)` for a token that is wrong, expired or used before, and MUST
    /// NOT accept a token twice.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] or [`PortError::Timeout`] when the verification service
    /// cannot answer (the sdk refuses the action rather than letting it through).
    async fn verify(&self, token: &str, source: &str) -> Result<bool, PortError>;
}

// ---------------------------------------------------------------------------------------------
// Network
// ---------------------------------------------------------------------------------------------

/// Move a plan's numbers from one SIM to another (PLAN-2).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapSimRequest {
    /// The provisioning request; its completion names it.
    pub id: ProvisioningId,
    /// The plan's numbers.
    pub numbers: Vec<Msisdn>,
    /// The SIM the numbers are on now.
    pub old_sim: Iccid,
    /// The SIM they move to.
    pub new_sim: Iccid,
}

/// Switch voicemail on or off, or change its language (PLAN-3).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoicemailRequest {
    /// The provisioning request.
    pub id: ProvisioningId,
    /// The plan's numbers.
    pub numbers: Vec<Msisdn>,
    /// The new setting.
    pub voicemail: Voicemail,
}

/// Forward calls to a number, or stop forwarding (`forward_to: None`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallForwardingRequest {
    /// The provisioning request.
    pub id: ProvisioningId,
    /// The plan's numbers.
    pub numbers: Vec<Msisdn>,
    /// Where calls go; `None` resets forwarding.
    pub forward_to: Option<Msisdn>,
}

/// Push APN settings to a SIM's device (PLAN-4). `Debug` hides the APN password.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApnPushRequest {
    /// The provisioning request.
    pub id: ProvisioningId,
    /// The SIM.
    pub sim: Iccid,
    /// The settings.
    pub settings: ApnSettings,
}

/// Read a SIM's usage counters (PLAN-5).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReadRequest {
    /// The provisioning request.
    pub id: ProvisioningId,
    /// The SIM.
    pub sim: Iccid,
    /// The plan's numbers.
    pub numbers: Vec<Msisdn>,
}

/// The network accepted a request; its completion arrives later through the sdk's
/// `complete_provisioning`, naming [`NetworkAck::id`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkAck {
    /// The provisioning request accepted.
    pub id: ProvisioningId,
    /// The network's own reference, for support.
    pub reference: Option<String>,
}

/// The mobile network (PLAN-2 to PLAN-5). Every request is asynchronous: the network
/// acknowledges it now and reports the completion later through the sdk's
/// `complete_provisioning` with the same [`ProvisioningId`].
///
/// For every method: the network MUST treat a repeated request id as the same request
/// (acknowledge it again, act once), and MUST report exactly one completion per id.
#[async_trait]
pub trait Network: Send + Sync {
    /// Requests a SIM swap.
    ///
    /// # Errors
    /// [`PortError::Rejected`] when the network refuses it as such (an unknown SIM);
    /// [`PortError::Unavailable`] or [`PortError::Timeout`] otherwise (the sdk may repeat it).
    async fn swap_sim(&self, request: SwapSimRequest) -> Result<NetworkAck, PortError>;

    /// Requests a voicemail change.
    ///
    /// # Errors
    /// As [`Network::swap_sim`].
    async fn set_voicemail(&self, request: VoicemailRequest) -> Result<NetworkAck, PortError>;

    /// Requests a call-forwarding change.
    ///
    /// # Errors
    /// As [`Network::swap_sim`].
    async fn set_call_forwarding(
        &self,
        request: CallForwardingRequest,
    ) -> Result<NetworkAck, PortError>;

    /// Requests APN settings to be pushed to the device.
    ///
    /// # Errors
    /// As [`Network::swap_sim`].
    async fn push_apn(&self, request: ApnPushRequest) -> Result<NetworkAck, PortError>;

    /// Requests a read-out of the SIM's usage counters.
    ///
    /// # Errors
    /// As [`Network::swap_sim`].
    async fn read_usage(&self, request: UsageReadRequest) -> Result<NetworkAck, PortError>;
}

// ---------------------------------------------------------------------------------------------
// Clock
// ---------------------------------------------------------------------------------------------

/// The time. The sdk reads it once per use case and passes it to the rules.
pub trait Clock: Send + Sync {
    /// The current instant in UTC.
    ///
    /// It MUST NOT go backwards between two calls from the same host process.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// A clock for tests that moves only when told to. Clones share the same time, so a test
/// keeps one and hands another to the sdk.
///
/// ```
/// use selfcare_storage::ports::{Clock, ManualClock};
/// use time::macros::datetime;
/// let clock = ManualClock::new(datetime!(2025-03-01 09:00 UTC));
/// let shared = clock.clone();
/// clock.advance(time::Duration::minutes(5));
/// assert_eq!(shared.now(), datetime!(2025-03-01 09:05 UTC));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<OffsetDateTime>>);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: OffsetDateTime) -> Self {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    /// Sets the time to `at` (it may go backwards: tests decide).
    pub fn set(&self, at: OffsetDateTime) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = at;
    }

    /// Moves the time by `by` (saturating at the representable limits) and returns the new
    /// time.
    pub fn advance(&self, by: time::Duration) -> OffsetDateTime {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.saturating_add(by);
        *now
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// ---------------------------------------------------------------------------------------------
// Randomness
// ---------------------------------------------------------------------------------------------

/// Where the sdk's random bytes come from: ids, tokens, salts, nonces. Production uses the
/// operating system's source (the sdk's default); tests that must replay byte for byte (two
/// portals answering the same requests alike) use [`SeededRandomness`].
pub trait Randomness: Send + Sync {
    /// Fills `dest` with random bytes.
    ///
    /// It MUST give cryptographically secure bytes in production: tokens, salts and nonces
    /// come from here.
    ///
    /// # Errors
    /// [`PortError::Unavailable`] when the source fails.
    fn fill(&self, dest: &mut [u8]) -> Result<(), PortError>;
}

/// A predictable source for tests: the same seed gives the same bytes in the same order.
/// Never use it in production: every token it makes can be guessed.
///
/// ```
/// use selfcare_storage::ports::{Randomness, SeededRandomness};
/// let (a, b) = (SeededRandomness::new(7), SeededRandomness::new(7));
/// let (mut x, mut y) = ([0u8; 16], [0u8; 16]);
/// a.fill(&mut x).unwrap();
/// b.fill(&mut y).unwrap();
/// assert_eq!(x, y);
/// ```
#[derive(Debug)]
pub struct SeededRandomness(Mutex<u64>);

impl SeededRandomness {
    /// A source seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        SeededRandomness(Mutex::new(seed))
    }
}

impl Randomness for SeededRandomness {
    fn fill(&self, dest: &mut [u8]) -> Result<(), PortError> {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for chunk in dest.chunks_mut(8) {
            // SplitMix64: well mixed, tiny, and the same on every platform.
            *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = *state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^= z >> 31;
            let bytes = z.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Transport
// ---------------------------------------------------------------------------------------------

/// One wire request to the service (for `RemotePortal`).
#[derive(Clone)]
pub struct TransportRequest {
    /// The operation's name, such as `orders.place`.
    pub operation: String,
    /// The caller's session or API token, if any.
    pub bearer: Option<SecretString>,
    /// The serialised request.
    pub body: Vec<u8>,
}

impl fmt::Debug for TransportRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body can hold a password or personal data, the bearer is a credential.
        f.debug_struct("TransportRequest")
            .field("operation", &self.operation)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

/// The service's answer to one wire request.
#[derive(Clone, PartialEq, Eq)]
pub struct TransportResponse {
    /// The HTTP-like status code.
    pub status: u16,
    /// The serialised response.
    pub body: Vec<u8>,
}

impl fmt::Debug for TransportResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Responses carry personal data (and freshly issued tokens).
        f.debug_struct("TransportResponse")
            .field("status", &self.status)
            .field("body", &format_args!("<{} bytes>", self.body.len()))
            .finish()
    }
}

/// Why a wire request got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The service could not be reached (DNS, connection refused, offline).
    #[error("the service could not be reached")]
    Unreachable,
    /// No response in time; the request may or may not have been processed.
    #[error("the service did not answer in time")]
    Timeout,
    /// Another I/O failure.
    #[error("transport failure: {0}")]
    Io(String),
}

/// Carries wire requests to the service and brings the responses back (the app's HTTP client).
/// It decides nothing.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Sends `request` and returns the service's response, whatever its status.
    ///
    /// It MUST deliver `operation`, `bearer` and `body` unchanged, MUST return every response
    /// the service gave (error statuses included) as `Ok`, and MUST NOT log the bearer or the
    /// body.
    ///
    /// # Errors
    /// [`TransportError`] only when no response arrived.
    async fn send(&self, request: TransportRequest) -> Result<TransportResponse, TransportError>;
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use secrecy::ExposeSecret;
    use selfcare_core::money::Currency;
    use selfcare_core::payment::{CardBrand, CardExpiry, Last4};
    use time::macros::datetime;

    use super::*;

    /// A gateway that remembers the first outcome per key.
    #[derive(Default)]
    struct TestGateway {
        charges: Mutex<BTreeMap<String, ChargeOutcome>>,
        refunds: Mutex<BTreeMap<String, RefundOutcome>>,
        taken: Mutex<u32>,
    }

    #[async_trait]
    impl PaymentGateway for TestGateway {
        async fn verify_card(&self, token: &CardToken) -> Result<VerifiedCard, PortError> {
            if token.expose() != "tok_visa" {
                return Err(PortError::Rejected {
                    reason: "unknown token".into(),
                });
            }
            Ok(VerifiedCard {
                token: token.clone(),
                brand: CardBrand::Visa,
                last4: Last4::parse("4242").unwrap(),
                expiry: CardExpiry::new(12, 2030).unwrap(),
            })
        }

        async fn charge(&self, request: ChargeRequest) -> Result<ChargeOutcome, PortError> {
            let mut charges = self.charges.lock().unwrap();
            let key = request.key.as_str().to_owned();
            if let Some(first) = charges.get(&key) {
                return Ok(first.clone());
            }
            *self.taken.lock().unwrap() += 1;
            let outcome = ChargeOutcome::Succeeded {
                charge_id: format!("ch_{}", charges.len()),
            };
            charges.insert(key, outcome.clone());
            Ok(outcome)
        }

        async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, PortError> {
            let mut refunds = self.refunds.lock().unwrap();
            let outcome = RefundOutcome::Succeeded {
                refund_id: format!("re_{}", request.charge_id),
            };
            Ok(refunds
                .entry(request.key.as_str().to_owned())
                .or_insert(outcome)
                .clone())
        }
    }

    #[derive(Default)]
    struct TestNotifier {
        sent: Mutex<Vec<MessageId>>,
    }

    #[async_trait]
    impl Notifier for TestNotifier {
        async fn deliver(&self, message: OutboundMessage) -> Result<(), PortError> {
            let mut sent = self.sent.lock().unwrap();
            if !sent.contains(&message.id) {
                sent.push(message.id);
            }
            Ok(())
        }
    }

    struct FixedVerifier;

    #[async_trait]
    impl HumanVerifier for FixedVerifier {
        async fn verify(&self, token: &str, _source: &str) -> Result<bool, PortError> {
            Ok(token == "human")
        }
    }

    #[derive(Default)]
    struct TestNetwork {
        seen: Mutex<BTreeSet<ProvisioningId>>,
    }

    impl TestNetwork {
        fn ack(&self, id: ProvisioningId) -> Result<NetworkAck, PortError> {
            self.seen.lock().unwrap().insert(id);
            Ok(NetworkAck {
                id,
                reference: Some(format!("net-{id}")),
            })
        }
    }

    #[async_trait]
    impl Network for TestNetwork {
        async fn swap_sim(&self, r: SwapSimRequest) -> Result<NetworkAck, PortError> {
            if r.old_sim == r.new_sim {
                return Err(PortError::Rejected {
                    reason: "same SIM".into(),
                });
            }
            self.ack(r.id)
        }
        async fn set_voicemail(&self, r: VoicemailRequest) -> Result<NetworkAck, PortError> {
            self.ack(r.id)
        }
        async fn set_call_forwarding(
            &self,
            r: CallForwardingRequest,
        ) -> Result<NetworkAck, PortError> {
            self.ack(r.id)
        }
        async fn push_apn(&self, r: ApnPushRequest) -> Result<NetworkAck, PortError> {
            self.ack(r.id)
        }
        async fn read_usage(&self, r: UsageReadRequest) -> Result<NetworkAck, PortError> {
            self.ack(r.id)
        }
    }

    struct EchoTransport;

    #[async_trait]
    impl Transport for EchoTransport {
        async fn send(
            &self,
            request: TransportRequest,
        ) -> Result<TransportResponse, TransportError> {
            match request.bearer {
                None => Err(TransportError::Unreachable),
                Some(b) if b.expose_secret() == "sess_ok" => Ok(TransportResponse {
                    status: 200,
                    body: request.body,
                }),
                Some(_) => Ok(TransportResponse {
                    status: 401,
                    body: Vec::new(),
                }),
            }
        }
    }

    const NOW: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::parse("EUR").unwrap())
    }

    fn charge_request(generation: u32, minor: i64) -> ChargeRequest {
        ChargeRequest {
            key: GatewayKey::auto_top_up(selfcare_core::ids::SimId::new(NOW, [1; 10]), generation),
            amount: eur(minor),
            card: CardToken::parse("tok_visa").unwrap(),
            merchant_initiated: true,
            description: "Auto-Top-Up".into(),
        }
    }

    #[tokio::test]
    async fn payment_gateway_is_object_safe_and_repeats_the_first_outcome() {
        let concrete = Arc::new(TestGateway::default());
        let gateway: Arc<dyn PaymentGateway> = concrete.clone();
        let token = CardToken::parse("tok_visa").unwrap();
        let card = gateway.verify_card(&token).await.unwrap();
        assert_eq!(card.token, token);
        assert!(matches!(
            gateway
                .verify_card(&CardToken::parse("tok_unknown").unwrap())
                .await,
            Err(PortError::Rejected { .. })
        ));
        let first = gateway.charge(charge_request(1, 1000)).await.unwrap();
        // Same key, different amount: still the first outcome.
        let again = gateway.charge(charge_request(1, 2000)).await.unwrap();
        assert_eq!(first, again);
        let other = gateway.charge(charge_request(2, 1000)).await.unwrap();
        assert_ne!(first, other);
        assert_eq!(
            *concrete.taken.lock().unwrap(),
            2,
            "charged twice for one key"
        );
        let ChargeOutcome::Succeeded { charge_id } = first else {
            panic!("{first:?}")
        };
        let refund = RefundRequest {
            key: GatewayKey::auto_top_up(selfcare_core::ids::SimId::new(NOW, [2; 10]), 1),
            charge_id: charge_id.clone(),
            amount: eur(500),
        };
        let r1 = gateway.refund(refund.clone()).await.unwrap();
        let r2 = gateway
            .refund(RefundRequest {
                charge_id: "ch_other".into(),
                ..refund
            })
            .await
            .unwrap();
        assert_eq!(r1, r2);
    }

    #[tokio::test]
    async fn notifier_verifier_and_network_work_through_dyn() {
        let concrete = Arc::new(TestNotifier::default());
        let notifier: Arc<dyn Notifier> = concrete.clone();
        let message = OutboxMessage::new(
            MessageId::new(NOW, [1; 10]),
            selfcare_core::notifications::NotificationKind::NewLogin,
            vec![Email::parse("ada@example.com").unwrap()],
            Language::English,
            "New login",
            "Body",
            NOW,
        );
        let outbound = OutboundMessage::from(&message);
        assert_eq!(outbound.id, message.id);
        assert_eq!(outbound.to, message.to);
        notifier.deliver(outbound.clone()).await.unwrap();
        notifier.deliver(outbound).await.unwrap();
        assert_eq!(*concrete.sent.lock().unwrap(), vec![message.id]);

        let verifier: Arc<dyn HumanVerifier> = Arc::new(FixedVerifier);
        assert!(verifier.verify("human", "203.0.113.9").await.unwrap());
        assert!(!verifier.verify("bot", "203.0.113.9").await.unwrap());

        let network: Arc<dyn Network> = Arc::new(TestNetwork::default());
        let id = ProvisioningId::new(NOW, [3; 10]);
        let old = Iccid::from_payload("894900000000000001").unwrap();
        let new = Iccid::from_payload("894900000000000002").unwrap();
        let numbers = vec![Msisdn::parse("+4915112345678").unwrap()];
        let ack = network
            .swap_sim(SwapSimRequest {
                id,
                numbers: numbers.clone(),
                old_sim: old.clone(),
                new_sim: new,
            })
            .await
            .unwrap();
        assert_eq!(ack.id, id);
        assert!(matches!(
            network
                .swap_sim(SwapSimRequest {
                    id,
                    numbers: numbers.clone(),
                    old_sim: old.clone(),
                    new_sim: old.clone(),
                })
                .await,
            Err(PortError::Rejected { .. })
        ));
        let ack = network
            .read_usage(UsageReadRequest {
                id,
                sim: old,
                numbers,
            })
            .await
            .unwrap();
        assert_eq!(ack.reference, Some(format!("net-{id}")));
    }

    #[tokio::test]
    async fn transport_works_through_dyn() {
        let transport: Arc<dyn Transport> = Arc::new(EchoTransport);
        let request = TransportRequest {
            operation: "orders.place".into(),
            bearer: Some(SecretString::from("sess_ok")),
            body: b"{}".to_vec(),
        };
        let response = transport.send(request.clone()).await.unwrap();
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"{}");
        let wrong = TransportRequest {
            bearer: Some(SecretString::from("sess_bad")),
            ..request.clone()
        };
        assert_eq!(transport.send(wrong).await.unwrap().status, 401);
        let anonymous = TransportRequest {
            bearer: None,
            ..request
        };
        assert_eq!(
            transport.send(anonymous).await,
            Err(TransportError::Unreachable)
        );
    }

    #[test]
    fn manual_clock_is_shared_and_moves_only_when_told() {
        let clock = ManualClock::new(NOW);
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        assert_eq!(shared.now(), NOW);
        assert_eq!(
            clock.advance(time::Duration::hours(2)),
            NOW + time::Duration::hours(2)
        );
        assert_eq!(shared.now(), NOW + time::Duration::hours(2));
        clock.set(NOW - time::Duration::days(1));
        assert_eq!(shared.now(), NOW - time::Duration::days(1));
        // Saturates instead of overflowing.
        let end = clock.advance(time::Duration::MAX);
        assert_eq!(clock.advance(time::Duration::MAX), end);
        let system: Arc<dyn Clock> = Arc::new(SystemClock);
        let (a, b) = (system.now(), system.now());
        assert!(a <= b && a > NOW);
    }

    #[test]
    fn debug_never_shows_bearer_tokens_card_tokens_or_bodies() {
        let request = TransportRequest {
            operation: "auth.login".into(),
            bearer: Some(SecretString::from("sess_s3cr3t")),
            body: br#"{"password":"hunter2"}"#.to_vec(),
        };
        let shown = format!("{request:?}");
        assert!(shown.contains("auth.login"), "{shown}");
        assert!(!shown.contains("sess_s3cr3t"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
        let response = TransportResponse {
            status: 200,
            body: br#"{"token":"sess_new"}"#.to_vec(),
        };
        let shown = format!("{response:?}");
        assert!(
            !shown.contains("sess_new") && shown.contains("200"),
            "{shown}"
        );

        let mut charge = charge_request(1, 1000);
        charge.card = CardToken::parse("tok_live_abcdef").unwrap();
        let shown = format!("{charge:?}");
        assert!(!shown.contains("tok_live_abcdef"), "{shown}");
        assert!(shown.contains("Auto-Top-Up"), "{shown}");
    }
}
