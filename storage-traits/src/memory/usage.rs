//! The in-memory store's usage tables: quota rows per SIM and the seen usage-record ids.

use std::collections::BTreeMap;

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, SimId};
use selfcare_core::quota::UsageRecordId;

use super::{MemoryStore, MemoryTx, OrgTable, next_version};
use crate::error::{StoreError, StoreResult};
use crate::usage::{QuotaRecord, UsageLookup, UsageTx};
use crate::version::{Version, Versioned};

/// The usage tables.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// One quota row per SIM.
    quotas: OrgTable<SimId, Versioned<QuotaRecord>>,
    /// Every usage-record id applied, with its owner: flat, because record ids are unique
    /// across organisations.
    seen: BTreeMap<UsageRecordId, (OrgId, SimId)>,
}

#[async_trait]
impl UsageTx for MemoryTx {
    async fn get_quota(&mut self, sim: SimId) -> StoreResult<Option<Versioned<QuotaRecord>>> {
        Ok(self
            .inner
            .usage
            .quotas
            .get(&self.org)
            .and_then(|rows| rows.get(&sim))
            .cloned())
    }

    async fn insert_quota(&mut self, record: QuotaRecord) -> StoreResult<Version> {
        let sim = record.sim();
        if self.get_quota(sim).await?.is_some() {
            return Err(StoreError::duplicate("quota"));
        }
        Ok(self.inner.put_versioned_in(
            |s| &mut s.usage.quotas,
            self.org,
            sim,
            record,
            Version::FIRST,
        ))
    }

    async fn update_quota(
        &mut self,
        record: QuotaRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let sim = record.sim();
        let version = next_version(self.get_quota(sim).await?.as_ref(), expected)?;
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.usage.quotas, self.org, sim, record, version))
    }

    async fn record_seen(&mut self, record_id: &UsageRecordId, sim: SimId) -> StoreResult<()> {
        let owner = (self.org, sim);
        self.inner.claim(
            |s| &mut s.usage.seen,
            record_id.clone(),
            owner,
            "usage_record_id",
        )
    }

    async fn seen_usage_record(&mut self, record_id: &UsageRecordId) -> StoreResult<Option<SimId>> {
        Ok(self
            .inner
            .usage
            .seen
            .get(record_id)
            .filter(|(org, _)| *org == self.org)
            .map(|(_, sim)| *sim))
    }
}

#[async_trait]
impl UsageLookup for MemoryStore {
    async fn sim_by_usage_record(
        &self,
        record_id: &UsageRecordId,
    ) -> StoreResult<Option<(OrgId, SimId)>> {
        Ok(self.read().await.usage.seen.get(record_id).copied())
    }
}
