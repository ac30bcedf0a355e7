//! (being written) the usage area of the PostgreSQL store: every method is a stub.

#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, SimId};
use selfcare_core::quota::{MonthlyUsage, QuotaState, SentMarks, UsageRecordId};
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::usage::*;
use selfcare_storage::version::{Version, Versioned};

use crate::{PgProviderTx, PgStore, PgTx};

#[async_trait]
impl selfcare_storage::usage::UsageTx for PgTx {
    async fn get_quota(&mut self, sim: SimId) -> StoreResult<Option<Versioned<QuotaRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_quota(&mut self, record: QuotaRecord) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_quota(
        &mut self,
        record: QuotaRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn record_seen(&mut self, record_id: &UsageRecordId, sim: SimId) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn seen_usage_record(&mut self, record_id: &UsageRecordId) -> StoreResult<Option<SimId>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::usage::UsageLookup for PgStore {
    async fn sim_by_usage_record(
        &self,
        record_id: &UsageRecordId,
    ) -> StoreResult<Option<(OrgId, SimId)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}
