//! Storage of quotas with generations, seen usage-record ids, sent notification marks and
//! monthly usage (TOP-2, TOP-3, ACC-5).
//!
//! One versioned [`QuotaRecord`] per SIM holds everything [`selfcare_core::quota::apply_usage`]
//! reads and returns: the quota generations, the SIM's use this month and the once-only marks.
//! The ids of applied usage records are kept beside it, unique across organisations.
//!
//! Exactly one Auto-Top-Up per exhaustion, even when the network delivers a record twice or two
//! deliveries race, follows from two contracts used together in ONE transaction: the sdk calls
//! [`UsageTx::record_seen`] (a repeated id is `Conflict(Duplicate)`) and
//! [`UsageTx::update_quota`] with the version it read (a concurrent writer makes it
//! `Conflict(StaleVersion)`); only the transaction that gets neither commits the charge.

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, SimId};
use selfcare_core::quota::{MonthlyUsage, QuotaState, SentMarks, UsageRecordId};

use crate::error::StoreResult;
use crate::version::{Version, Versioned};

/// A SIM's quota row: its generations, its own use this month and the once-only effects done.
///
/// Primary key `(org_id, sim_id)`, the SIM being `state.sim()`. One row per SIM.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaRecord {
    /// The quota generations of both kinds (names the SIM).
    pub state: QuotaState,
    /// The SIM's own use in the current month (ACC-5).
    pub monthly: MonthlyUsage,
    /// The notifications and Auto-Top-Up decisions already made (TOP-2, TOP-3).
    pub marks: SentMarks,
}

impl QuotaRecord {
    /// The SIM the row belongs to (its key).
    pub const fn sim(&self) -> SimId {
        self.state.sim()
    }
}

/// Organisation-scoped operations on quotas and seen usage-record ids, inside an
/// [`crate::OrgTransaction`].
///
/// Seen usage-record ids are stored with primary key `(org_id, record_id)` and a unique index on
/// `record_id` alone: the network's record ids are unique across organisations.
#[async_trait]
pub trait UsageTx: Send {
    /// The quota row of `sim` with its version.
    ///
    /// It MUST return `None` when this organisation has no quota row for `sim` (also when another
    /// organisation has one).
    ///
    /// # Errors
    /// `Retryable`, `Unavailable`; `Corrupt` when the stored row no longer parses.
    async fn get_quota(&mut self, sim: SimId) -> StoreResult<Option<Versioned<QuotaRecord>>>;

    /// Inserts the quota row of `record.sim()` at [`Version::FIRST`].
    ///
    /// It MUST return `Conflict(Duplicate { what: "quota" })` and change nothing when this
    /// organisation has a row for that SIM already.
    ///
    /// # Errors
    /// `Conflict(Duplicate)` as above; `Retryable`, `Unavailable`.
    async fn insert_quota(&mut self, record: QuotaRecord) -> StoreResult<Version>;

    /// Replaces the quota row of `record.sim()` when its stored version is `expected`, and
    /// returns the new version (`expected.next()`).
    ///
    /// It MUST return `NotFound` when this organisation has no row for the SIM, and
    /// `Conflict(StaleVersion)` leaving the row unchanged when the stored version differs from
    /// `expected` (two updates from the same read: exactly one succeeds).
    ///
    /// # Errors
    /// `NotFound`, `Conflict(StaleVersion)` as above; `Retryable`, `Unavailable`.
    async fn update_quota(
        &mut self,
        record: QuotaRecord,
        expected: Version,
    ) -> StoreResult<Version>;

    /// Records that the usage record `record_id` was applied to `sim` (TOP-2).
    ///
    /// It MUST return `Conflict(Duplicate { what: "usage_record_id" })` and change nothing when
    /// the id was recorded before, in this organisation or in any other one; after commit,
    /// [`UsageLookup::sim_by_usage_record`] MUST find it.
    ///
    /// # Errors
    /// `Conflict(Duplicate)` as above; `Retryable`, `Unavailable`.
    async fn record_seen(&mut self, record_id: &UsageRecordId, sim: SimId) -> StoreResult<()>;

    /// The SIM the usage record `record_id` was applied to, when it was recorded in this
    /// organisation.
    ///
    /// It MUST return `None` for an id never recorded and for an id recorded by another
    /// organisation.
    ///
    /// # Errors
    /// `Retryable`, `Unavailable`.
    async fn seen_usage_record(&mut self, record_id: &UsageRecordId) -> StoreResult<Option<SimId>>;
}

/// Global lookups of this area (ids only), on the [`crate::Store`] itself.
#[async_trait]
pub trait UsageLookup: Send + Sync {
    /// The organisation and SIM a usage record id was recorded for (the network reports record
    /// ids without an organisation).
    ///
    /// It MUST return the `(org, sim)` passed to a committed [`UsageTx::record_seen`], and
    /// `None` for an id never recorded or recorded only in a transaction that was not committed.
    ///
    /// # Errors
    /// `Retryable`, `Unavailable`.
    async fn sim_by_usage_record(
        &self,
        record_id: &UsageRecordId,
    ) -> StoreResult<Option<(OrgId, SimId)>>;
}
