//! Storage of stored cards and Auto-Top-Up settings, payment intents, idempotency records
//! (PAY-*, ORD-5).
//!
//! - **Payment settings**: one versioned aggregate per organisation
//!   ([`selfcare_core::payment::PaymentSettings`]: cards, card → plan assignments, Auto-Top-Up
//!   switches), kept whole so its invariants stay with the domain. SQL primary key `(org_id)`.
//! - **Payment intents** ([`PaymentIntentRecord`], ORD-5): one per idempotency key of an order
//!   or top-up. The lease take-over is an ordinary versioned update, so of two attempts racing
//!   for the same lease exactly one wins and the other gets `Conflict(StaleVersion)`.
//! - **Idempotency records** ([`IdempotencyRecord`]): the first result of an idempotent
//!   request, replayed byte for byte on a retry; purged after 7 days (DESIGN §3).

use std::fmt;

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, PaymentIntentId};
use selfcare_core::orders::{
    GatewayKey, IdempotencyKey, IntentLease, PaymentIntentState, RequestFingerprint,
};
use selfcare_core::payment::PaymentSettings;
use time::OffsetDateTime;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::version::{Version, Versioned};

/// A payment intent (ORD-5): what step 1 of placing an order records under the caller's
/// idempotency key, before the gateway is asked.
///
/// SQL primary key `(org_id, id)`; unique index `(org_id, key)` (a key is unique within its
/// organisation, the same key in two organisations is two intents); index
/// `(state, leased_at)` for the provider's [`PaymentsProvider::due_payment_intents`]. The
/// row's version lives beside it ([`Versioned`]).
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentIntentRecord {
    /// The intent's id.
    pub id: PaymentIntentId,
    /// The caller's idempotency key; never changes.
    pub key: IdempotencyKey,
    /// The fingerprint of the request that recorded the intent.
    pub fingerprint: RequestFingerprint,
    /// The key the gateway is charged with (the same on every attempt).
    pub gateway_key: GatewayKey,
    /// Where the intent stands.
    pub state: PaymentIntentState,
    /// When the attempt that holds the intent last took the lease.
    #[serde(with = "selfcare_core::formats::instant")]
    pub leased_at: OffsetDateTime,
    /// How many attempts took the lease so far.
    pub attempts: u32,
    /// When the intent was recorded.
    #[serde(with = "selfcare_core::formats::instant")]
    pub created_at: OffsetDateTime,
    /// The serialised first result (the order, a decline, the next action), once there is one.
    pub result: Option<Vec<u8>>,
}

impl PaymentIntentRecord {
    /// The part of the record the lease decision reads ([`IntentLease::decide`]).
    pub fn lease(&self) -> IntentLease {
        IntentLease {
            fingerprint: self.fingerprint,
            state: self.state,
            leased_at: self.leased_at,
        }
    }
}

impl fmt::Debug for PaymentIntentRecord {
    // The result may carry personal data (addresses of the order): only its size is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PaymentIntentRecord")
            .field("id", &self.id)
            .field("key", &self.key)
            .field("fingerprint", &self.fingerprint)
            .field("gateway_key", &self.gateway_key)
            .field("state", &self.state)
            .field("leased_at", &self.leased_at)
            .field("attempts", &self.attempts)
            .field("created_at", &self.created_at)
            .field("result_bytes", &self.result.as_ref().map(Vec::len))
            .finish()
    }
}

/// The stored first result of an idempotent request: a retry with the same key and
/// fingerprint gets exactly these bytes back; the same key with another fingerprint is a
/// conflict (decided by the sdk).
///
/// SQL primary key `(org_id, key)`; index `(created_at)` for the provider's purge. Written once,
/// never updated, so it carries no version.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdempotencyRecord {
    /// The caller's idempotency key.
    pub key: IdempotencyKey,
    /// The fingerprint of the request that produced the result.
    pub fingerprint: RequestFingerprint,
    /// The serialised result, replayed as is.
    pub result: Vec<u8>,
    /// When the first request finished.
    #[serde(with = "selfcare_core::formats::instant")]
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for IdempotencyRecord {
    // The result may carry personal data: only its size is shown.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyRecord")
            .field("key", &self.key)
            .field("fingerprint", &self.fingerprint)
            .field("result_bytes", &self.result.len())
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A payment intent the provider's maintenance should settle: its organisation, id, state and
/// when it was last leased (its due time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DueIntent {
    /// The owning organisation (settle it in a transaction of this organisation).
    pub org: OrgId,
    /// The intent.
    pub id: PaymentIntentId,
    /// Its state when listed.
    pub state: PaymentIntentState,
    /// When it was last leased.
    #[serde(with = "selfcare_core::formats::instant")]
    pub leased_at: OffsetDateTime,
}

/// Organisation-scoped operations on this area, inside an [`crate::OrgTransaction`].
///
/// Every method works in the transaction's organisation only: it MUST NOT read, return or
/// change another organisation's rows. Reads take `&mut self` too: a SQL transaction runs every
/// statement on its one connection, which needs exclusive access.
#[async_trait]
pub trait PaymentsTx: Send {
    /// The organisation's payment settings with their version.
    ///
    /// MUST return `None` before the first [`PaymentsTx::insert_payment_settings`] in this
    /// organisation.
    ///
    /// # Errors
    /// `Corrupt` when the stored settings no longer parse; `Retryable`/`Unavailable` from the
    /// backend.
    async fn payment_settings(&mut self) -> StoreResult<Option<Versioned<PaymentSettings>>>;

    /// Stores the organisation's first payment settings, at [`Version::FIRST`].
    ///
    /// MUST return `Conflict(Duplicate { what: "payment_settings" })` and change nothing when
    /// the organisation already has settings.
    ///
    /// # Errors
    /// `Conflict(Duplicate)` as above; `Retryable`/`Unavailable` from the backend.
    async fn insert_payment_settings(&mut self, settings: PaymentSettings) -> StoreResult<Version>;

    /// Replaces the organisation's payment settings when their stored version is `expected`,
    /// returning the new version (`expected.next()`).
    ///
    /// MUST return `Conflict(StaleVersion)` and change nothing when the stored version differs,
    /// and `NotFound` when the organisation has no settings.
    ///
    /// # Errors
    /// `Conflict(StaleVersion)`, `NotFound` as above; `Retryable`/`Unavailable` from the
    /// backend.
    async fn update_payment_settings(
        &mut self,
        settings: PaymentSettings,
        expected: Version,
    ) -> StoreResult<Version>;

    /// Records a payment intent (ORD-5 step 1), at [`Version::FIRST`].
    ///
    /// MUST return `Conflict(Duplicate { what: "payment_intent_key" })` when an intent with the
    /// same key exists in this organisation (whatever its state), and
    /// `Conflict(Duplicate { what: "payment_intent_id" })` for an id already stored; nothing is
    /// changed then. The same key in another organisation MUST NOT conflict.
    ///
    /// # Errors
    /// `Conflict(Duplicate)` as above; `Retryable`/`Unavailable` from the backend.
    async fn insert_payment_intent(&mut self, intent: PaymentIntentRecord) -> StoreResult<Version>;

    /// The intent recorded under `key` in this organisation, with its version.
    ///
    /// MUST return exactly what was last written (fingerprint, gateway key, state, lease,
    /// attempts, result bytes) and `None` for a key this organisation never used.
    ///
    /// # Errors
    /// `Corrupt`, `Retryable`, `Unavailable`.
    async fn payment_intent(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>>;

    /// The intent with `id` in this organisation, with its version (for maintenance, which
    /// learns ids from [`PaymentsProvider::due_payment_intents`]).
    ///
    /// MUST return `None` for an id of another organisation.
    ///
    /// # Errors
    /// `Corrupt`, `Retryable`, `Unavailable`.
    async fn payment_intent_by_id(
        &mut self,
        id: PaymentIntentId,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>>;

    /// Replaces the intent `intent.id` when its stored version is `expected`, returning the new
    /// version. Taking the lease over is such an update with the version read, so two attempts
    /// racing for one lease cannot both win.
    ///
    /// MUST return `Conflict(StaleVersion)` and change nothing when the stored version differs
    /// from `expected`; `NotFound` when this organisation has no intent with that id;
    /// `InvalidInput { what: "payment intent key" }` when `intent.key` differs from the stored
    /// key (the key is the intent's identity for callers and never changes).
    ///
    /// # Errors
    /// As above; `Retryable`/`Unavailable` from the backend.
    async fn update_payment_intent(
        &mut self,
        intent: PaymentIntentRecord,
        expected: Version,
    ) -> StoreResult<Version>;

    /// Stores the first result of an idempotent request.
    ///
    /// MUST return `Conflict(Duplicate { what: "idempotency_key" })` and keep the stored
    /// record unchanged when this organisation already has a record under the key; the same
    /// key in another organisation MUST NOT conflict.
    ///
    /// # Errors
    /// `Conflict(Duplicate)` as above; `Retryable`/`Unavailable` from the backend.
    async fn insert_idempotency_record(&mut self, record: IdempotencyRecord) -> StoreResult<()>;

    /// The record stored under `key` in this organisation.
    ///
    /// MUST return exactly the stored bytes and fingerprint, and `None` for a key this
    /// organisation has not stored (or that was purged).
    ///
    /// # Errors
    /// `Corrupt`, `Retryable`, `Unavailable`.
    async fn idempotency_record(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<IdempotencyRecord>>;
}

/// Provider-scoped reads of this area (ids and due times), inside a
/// [`crate::ProviderTransaction`], for `run_maintenance`.
#[async_trait]
pub trait PaymentsProvider: Send {
    /// The intents of every organisation in `state` (normally `Pending`, or `ActionRequired`
    /// with a longer cut-off) whose `leased_at` is strictly before `leased_before`, ordered by
    /// organisation then id, one page at a time.
    ///
    /// MUST list each such intent of every organisation once, MUST NOT list an intent in
    /// another state or leased at or after the cut-off, and MUST keep the pages stable: an
    /// intent that existed and was due before the first page is neither lost nor repeated
    /// while intents are inserted between pages.
    ///
    /// # Errors
    /// `InvalidInput` for a page limit outside 1..=500 or a foreign cursor; `Retryable`,
    /// `Unavailable`.
    async fn due_payment_intents(
        &mut self,
        state: PaymentIntentState,
        leased_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueIntent>>;

    /// Deletes the idempotency records of every organisation created strictly before
    /// `created_before` (now minus 7 days, DESIGN §3), returning how many were deleted.
    ///
    /// MUST delete nothing created at or after the cut-off; like every change it takes effect
    /// on commit only.
    ///
    /// # Errors
    /// `Retryable`, `Unavailable`.
    async fn purge_idempotency_records(
        &mut self,
        created_before: OffsetDateTime,
    ) -> StoreResult<u64>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn record() -> PaymentIntentRecord {
        let org = OrgId::new(datetime!(2025-01-01 0:00 UTC), [1; 10]);
        let key = IdempotencyKey::parse("order-1").unwrap();
        PaymentIntentRecord {
            id: PaymentIntentId::new(datetime!(2025-01-01 0:00 UTC), [2; 10]),
            fingerprint: RequestFingerprint::of(&"request").unwrap(),
            gateway_key: GatewayKey::order(org, &key),
            key,
            state: PaymentIntentState::Pending,
            leased_at: datetime!(2025-01-01 0:01 UTC),
            attempts: 1,
            created_at: datetime!(2025-01-01 0:00 UTC),
            result: Some(b"Invalidenstrasse 116".to_vec()),
        }
    }

    #[test]
    fn ord_5_intent_and_record_debug_show_the_result_size_only() {
        let intent = record();
        let shown = format!("{intent:?}");
        assert!(!shown.contains("Invalidenstrasse") && !shown.contains("73, 110"));
        assert!(shown.contains("result_bytes: Some(20)"));
        let stored = IdempotencyRecord {
            key: intent.key.clone(),
            fingerprint: intent.fingerprint,
            result: b"Invalidenstrasse 116".to_vec(),
            created_at: intent.created_at,
        };
        let shown = format!("{stored:?}");
        assert!(!shown.contains("Invalidenstrasse") && shown.contains("result_bytes: 20"));
    }

    #[test]
    fn ord_5_lease_is_what_the_record_holds() {
        let intent = record();
        let lease = intent.lease();
        assert_eq!(lease.fingerprint, intent.fingerprint);
        assert_eq!(lease.state, PaymentIntentState::Pending);
        assert_eq!(lease.leased_at, intent.leased_at);
        // 30 s after the lease another attempt must wait; 61 s after, it takes over.
        assert!(
            lease
                .decide(&intent.fingerprint, datetime!(2025-01-01 0:01:30 UTC))
                .is_err()
        );
        assert_eq!(
            lease.decide(&intent.fingerprint, datetime!(2025-01-01 0:02:01 UTC)),
            Ok(selfcare_core::orders::LeaseDecision::Resume)
        );
    }
}
