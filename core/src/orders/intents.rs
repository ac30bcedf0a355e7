//! Payment intents and idempotency (ORD-5): the state machine of an intent, the lease that keeps
//! two attempts from charging at once, gateway keys and request fingerprints.

use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::digest::Sha256Digest;
use crate::error::{Error, ReasonCode, Result};
use crate::ids::{OrgId, SimId};

/// How long an attempt's lease on a pending intent protects it from being taken over.
pub const LEASE: Duration = Duration::seconds(60);
/// Longest idempotency key.
pub const IDEMPOTENCY_KEY_MAX: usize = 255;

/// A caller's idempotency key: 1 to 255 visible ASCII characters (`!` to `~`; no spaces, so a
/// key copied from a header or log cannot differ by invisible whitespace). Taken exactly as
/// given: keys are compared byte for byte.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    /// Parses a key.
    ///
    /// # Errors
    /// [`Error::Validation`] on `idempotency_key` with `Required`, `TooLong` or
    /// `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let field = "idempotency_key";
        if raw.is_empty() {
            return Err(Error::validation(
                field,
                ReasonCode::Required,
                "is required",
            ));
        }
        if raw.len() > IDEMPOTENCY_KEY_MAX {
            return Err(Error::validation(
                field,
                ReasonCode::TooLong,
                format!("is longer than {IDEMPOTENCY_KEY_MAX} characters"),
            ));
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::validation(
                field,
                ReasonCode::InvalidFormat,
                "may contain only visible ASCII characters, without spaces",
            ));
        }
        Ok(IdempotencyKey(raw.to_owned()))
    }

    /// Parses a key a customer sent with an order or a top-up: as [`IdempotencyKey::parse`],
    /// and not in the provider's own namespace (`auto:`), so no customer key can take the
    /// place of an automatic top-up's.
    ///
    /// # Errors
    /// As [`IdempotencyKey::parse`]; `InvalidFormat` for a key starting with `auto:`.
    pub fn from_customer(raw: &str) -> Result<Self> {
        let key = Self::parse(raw)?;
        if key.0.starts_with(AUTO_PREFIX) {
            return Err(Error::validation(
                "idempotency_key",
                ReasonCode::InvalidFormat,
                "may not start with \"auto:\" (reserved for automatic top-ups)",
            ));
        }
        Ok(key)
    }

    /// The key of the automatic top-up of `sim` after the exhaustion of `generation` (TOP-2):
    /// the same text as its [`GatewayKey::auto_top_up`].
    pub fn auto_top_up(sim: SimId, generation: u32) -> Self {
        IdempotencyKey(GatewayKey::auto_top_up(sim, generation).0)
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The namespace of keys the provider's own processes use.
const AUTO_PREFIX: &str = "auto:";

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({})", self.0)
    }
}
impl TryFrom<String> for IdempotencyKey {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<IdempotencyKey> for String {
    fn from(value: IdempotencyKey) -> String {
        value.0
    }
}

/// The key sent to the `PaymentGateway`; the gateway returns the first outcome for a repeated
/// key, which is what makes a retry never charge twice.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct GatewayKey(String);

impl GatewayKey {
    /// `order:{org}:{key}` for a customer's order or top-up (ORD-5, TOP-1).
    pub fn order(org: OrgId, key: &IdempotencyKey) -> Self {
        GatewayKey(format!("order:{org}:{key}"))
    }

    /// `auto:{sim}:{generation}` for an automatic top-up (TOP-2): one per exhaustion of a quota
    /// generation ([`crate::quota::Quota::generation`]), so the same exhaustion always gives the
    /// same key and the gateway never charges it twice.
    pub fn auto_top_up(sim: SimId, generation: u32) -> Self {
        GatewayKey(format!("{AUTO_PREFIX}{sim}:{generation}"))
    }

    /// `refund:{charge key}`: the refund of a whole charge made with `charge` (the
    /// settlement of an order that could not be written, ORD-5), the same on every attempt.
    pub fn refund_of(charge: &GatewayKey) -> Self {
        GatewayKey(format!("refund:{charge}"))
    }

    /// `refund:{org}:{key}` for a refund staff make under their own idempotency key (ORD-2).
    pub fn refund(org: OrgId, key: &IdempotencyKey) -> Self {
        GatewayKey(format!("refund:{org}:{key}"))
    }

    /// The key.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GatewayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for GatewayKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GatewayKey({})", self.0)
    }
}

/// SHA-256 of a request's canonical JSON (object keys sorted, no insignificant whitespace), so
/// the same request always gives the same fingerprint whatever the field order of its source.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct RequestFingerprint(Sha256Digest);

impl RequestFingerprint {
    /// Fingerprints `request`.
    ///
    /// # Errors
    /// [`Error::Validation`] on `request` with `InvalidFormat` when the value cannot be
    /// represented as JSON (a map with non-string keys, a non-finite float).
    pub fn of(request: &impl serde::Serialize) -> Result<Self> {
        let value = serde_json::to_value(request).map_err(|_| {
            Error::validation(
                "request",
                ReasonCode::InvalidFormat,
                "cannot be represented as JSON",
            )
        })?;
        let mut canonical = String::new();
        write_canonical(&value, &mut canonical);
        Ok(RequestFingerprint(Sha256Digest::of(canonical.as_bytes())))
    }

    /// The digest in lower-case hex.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }
}

/// Writes `value` with object keys sorted by their UTF-8 bytes, independently of whether
/// serde_json's `preserve_order` feature is on somewhere in the build.
fn write_canonical(value: &serde_json::Value, out: &mut String) {
    use serde_json::Value;
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

impl fmt::Debug for RequestFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestFingerprint({})", self.to_hex())
    }
}
impl TryFrom<String> for RequestFingerprint {
    type Error = Error;
    /// Parses a stored fingerprint (64 hex digits); errors name the field `fingerprint`.
    fn try_from(raw: String) -> Result<Self> {
        Sha256Digest::parse_hex_field("fingerprint", &raw).map(RequestFingerprint)
    }
}

/// The state of a payment intent (ORD-5).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PaymentIntentState {
    /// Recorded (step 1); the gateway may or may not have been asked yet.
    Pending,
    /// The gateway asks the customer to act (3-D Secure); the next action went to the caller.
    ActionRequired,
    /// Charged; the order exists (step 3). Final.
    Succeeded,
    /// Declined by the gateway; no order. Final.
    Declined,
    /// Settled by maintenance: never charged (the attempt died before the gateway answered and
    /// the gateway reports no charge under the key), or the customer never completed the
    /// action. Final.
    Abandoned,
}

impl PaymentIntentState {
    /// Every state.
    pub const ALL: [PaymentIntentState; 5] = [
        PaymentIntentState::Pending,
        PaymentIntentState::ActionRequired,
        PaymentIntentState::Succeeded,
        PaymentIntentState::Declined,
        PaymentIntentState::Abandoned,
    ];

    /// Whether nothing can leave this state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PaymentIntentState::Succeeded
                | PaymentIntentState::Declined
                | PaymentIntentState::Abandoned
        )
    }

    /// Checks a state change: Pending → ActionRequired, Succeeded, Declined or Abandoned;
    /// ActionRequired → Succeeded, Declined or Abandoned. Nothing leaves a final state.
    ///
    /// # Errors
    /// [`Error::Conflict`] with `IllegalPaymentIntentTransition` for every other pair.
    pub fn transition(from: Self, to: Self) -> Result<()> {
        use PaymentIntentState::*;
        match (from, to) {
            (Pending, ActionRequired | Succeeded | Declined | Abandoned)
            | (ActionRequired, Succeeded | Declined | Abandoned) => Ok(()),
            _ => Err(Error::conflict(ReasonCode::IllegalPaymentIntentTransition)),
        }
    }
}

/// What an attempt under an idempotency key does next (ORD-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaseDecision {
    /// Take the lease over (now) and resume at step 2 with the same gateway key: the gateway
    /// returns the first charge's outcome if there was one, so nothing is charged twice.
    Resume,
    /// The intent has an outcome (succeeded, declined, abandoned, or an action pending with
    /// the customer): return the first result.
    ReturnFirstResult,
}

impl LeaseDecision {
    /// Every value.
    pub const ALL: [LeaseDecision; 2] = [LeaseDecision::Resume, LeaseDecision::ReturnFirstResult];

    /// The stable snake_case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            LeaseDecision::Resume => "resume",
            LeaseDecision::ReturnFirstResult => "return_first_result",
        }
    }
}

impl fmt::Display for LeaseDecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A recorded payment intent as far as the lease is concerned.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentLease {
    /// The fingerprint of the request that recorded the intent.
    pub fingerprint: RequestFingerprint,
    /// Its state.
    pub state: PaymentIntentState,
    /// When the attempt that holds it last took the lease.
    #[serde(with = "crate::formats::instant")]
    pub leased_at: OffsetDateTime,
}

impl IntentLease {
    /// Decides what a new attempt with `fingerprint` at `now` does with this intent.
    ///
    /// 1. A different request under the same key is refused, whatever the state.
    /// 2. An intent with an outcome returns the first result.
    /// 3. A pending intent leased less than [`LEASE`] ago belongs to another attempt still
    ///    running; a lease "from the future" (clock skew) counts as fresh.
    /// 4. Otherwise the attempt takes the lease over and resumes.
    ///
    /// # Errors
    /// [`Error::Conflict`] with `IdempotencyKeyReused` (1) or `IdempotencyKeyInProgress` (3).
    pub fn decide(
        &self,
        fingerprint: &RequestFingerprint,
        now: OffsetDateTime,
    ) -> Result<LeaseDecision> {
        if &self.fingerprint != fingerprint {
            return Err(Error::conflict(ReasonCode::IdempotencyKeyReused));
        }
        if self.state != PaymentIntentState::Pending {
            return Ok(LeaseDecision::ReturnFirstResult);
        }
        if now - self.leased_at < LEASE {
            return Err(Error::conflict(ReasonCode::IdempotencyKeyInProgress));
        }
        Ok(LeaseDecision::Resume)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_2_customer_keys_cannot_take_an_automatic_top_ups_place() {
        use time::macros::datetime;
        let sim = SimId::new(datetime!(2026-01-01 00:00 UTC), [3; 10]);
        let auto = IdempotencyKey::auto_top_up(sim, 4);
        assert_eq!(auto.as_str(), GatewayKey::auto_top_up(sim, 4).as_str());
        assert_eq!(
            IdempotencyKey::from_customer(auto.as_str())
                .unwrap_err()
                .reason(),
            ReasonCode::InvalidFormat
        );
        // Stored keys of either kind read back.
        assert_eq!(IdempotencyKey::parse(auto.as_str()).unwrap(), auto);
        assert!(IdempotencyKey::from_customer("order-auto:1").is_ok());
    }

    #[test]
    fn ord_5_refund_keys_are_stable_per_charge_and_apart_from_charge_keys() {
        use time::macros::datetime;
        let org = OrgId::new(datetime!(2026-01-01 00:00 UTC), [1; 10]);
        let other = OrgId::new(datetime!(2026-01-01 00:00 UTC), [2; 10]);
        let key = IdempotencyKey::parse("order-17").unwrap();
        let charge = GatewayKey::order(org, &key);
        assert_eq!(
            GatewayKey::refund_of(&charge),
            GatewayKey::refund_of(&charge)
        );
        assert_ne!(GatewayKey::refund_of(&charge), charge);
        assert_ne!(
            GatewayKey::refund(org, &key),
            GatewayKey::refund(other, &key)
        );
        assert_ne!(GatewayKey::refund(org, &key), charge);
        assert!(
            GatewayKey::refund_of(&charge)
                .as_str()
                .ends_with(charge.as_str())
        );
    }

    #[test]
    fn ord_5_lease_decision_names_are_the_serde_names() {
        for value in LeaseDecision::ALL {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", value.as_str()));
            assert_eq!(value.to_string(), value.as_str());
        }
    }
    use proptest::prelude::*;
    use time::macros::datetime;

    #[derive(serde::Serialize)]
    struct Req<'a> {
        sku: &'a str,
        qty: u32,
    }

    #[test]
    fn ord_5_idempotency_key_is_printable_ascii() {
        assert!(IdempotencyKey::parse("3f2c-9a").is_ok());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_ok());
        assert_eq!(
            IdempotencyKey::parse(&"k".repeat(256))
                .unwrap_err()
                .reason(),
            ReasonCode::TooLong
        );
        assert_eq!(
            IdempotencyKey::parse("").unwrap_err().reason(),
            ReasonCode::Required
        );
        for bad in ["a b", "a\nb", "ключ", "a\u{7f}"] {
            assert_eq!(
                IdempotencyKey::parse(bad).unwrap_err().reason(),
                ReasonCode::InvalidFormat
            );
        }
    }

    #[test]
    fn ord_5_gateway_keys() {
        let now = datetime!(2026-03-01 10:00 UTC);
        let org = OrgId::new(now, [1; 10]);
        let key = IdempotencyKey::parse("abc").unwrap();
        assert_eq!(
            GatewayKey::order(org, &key).as_str(),
            format!("order:{org}:abc")
        );
        let sim = SimId::new(now, [2; 10]);
        assert_eq!(
            GatewayKey::auto_top_up(sim, 7).as_str(),
            format!("auto:{sim}:7")
        );
    }

    #[test]
    fn ord_5_fingerprint_is_canonical() {
        let a = RequestFingerprint::of(&Req { sku: "A", qty: 1 }).unwrap();
        let b = RequestFingerprint::of(&serde_json::json!({"qty": 1, "sku": "A"})).unwrap();
        assert_eq!(a, b);
        let c = RequestFingerprint::of(&Req { sku: "A", qty: 2 }).unwrap();
        assert_ne!(a, c);
        let hex = a.to_hex();
        assert_eq!(RequestFingerprint::try_from(hex).unwrap(), a);
        let mut m = std::collections::HashMap::new();
        m.insert((1, 2), 3);
        assert!(RequestFingerprint::of(&m).is_err());
    }

    #[test]
    fn ord_5_lease_decisions() {
        let t0 = datetime!(2026-03-01 10:00 UTC);
        let fp = RequestFingerprint::of(&Req { sku: "A", qty: 1 }).unwrap();
        let other = RequestFingerprint::of(&Req { sku: "B", qty: 1 }).unwrap();
        let pending = IntentLease {
            fingerprint: fp,
            state: PaymentIntentState::Pending,
            leased_at: t0,
        };
        let conflict = |r| Err(Error::conflict(r));
        assert_eq!(
            pending.decide(&fp, t0),
            conflict(ReasonCode::IdempotencyKeyInProgress)
        );
        assert_eq!(
            pending.decide(&fp, t0 + Duration::seconds(59)),
            conflict(ReasonCode::IdempotencyKeyInProgress)
        );
        assert_eq!(pending.decide(&fp, t0 + LEASE), Ok(LeaseDecision::Resume));
        assert_eq!(
            pending.decide(&fp, t0 - Duration::seconds(5)),
            conflict(ReasonCode::IdempotencyKeyInProgress)
        );
        assert_eq!(
            pending.decide(&other, t0 + LEASE),
            conflict(ReasonCode::IdempotencyKeyReused)
        );
        for state in PaymentIntentState::ALL {
            let lease = IntentLease {
                state,
                ..pending.clone()
            };
            if state != PaymentIntentState::Pending {
                assert_eq!(lease.decide(&fp, t0), Ok(LeaseDecision::ReturnFirstResult));
                assert_eq!(
                    lease.decide(&other, t0),
                    conflict(ReasonCode::IdempotencyKeyReused)
                );
            }
        }
    }

    #[test]
    fn ord_5_intent_transition_table() {
        use PaymentIntentState::*;
        for from in PaymentIntentState::ALL {
            for to in PaymentIntentState::ALL {
                let allowed = matches!(
                    (from, to),
                    (Pending, ActionRequired | Succeeded | Declined | Abandoned)
                        | (ActionRequired, Succeeded | Declined | Abandoned)
                );
                assert_eq!(
                    PaymentIntentState::transition(from, to).is_ok(),
                    allowed,
                    "{from:?} -> {to:?}"
                );
            }
            if from.is_final() {
                assert!(
                    PaymentIntentState::ALL
                        .iter()
                        .all(|to| PaymentIntentState::transition(from, *to).is_err())
                );
            }
        }
    }

    proptest! {
        #[test]
        fn ord_5_no_sequence_leaves_a_final_intent_state(
            attempts in prop::collection::vec(prop::sample::select(PaymentIntentState::ALL.to_vec()), 0..20)
        ) {
            let mut s = PaymentIntentState::Pending;
            for to in attempts {
                let before = s;
                if PaymentIntentState::transition(s, to).is_ok() {
                    s = to;
                }
                if before.is_final() {
                    prop_assert_eq!(before, s);
                }
                // Never back to Pending once anything happened.
                if before != PaymentIntentState::Pending {
                    prop_assert_ne!(s, PaymentIntentState::Pending);
                }
            }
        }
    }
}
