//! Quotas and seen usage-record ids (TOP-2, TOP-3, ACC-5).
//!
//! A quota row is `(org_id, sim_id)` with its JSON body and version. A seen usage record is
//! `(org_id, record_id)` with a unique index on `record_id` alone, so a record delivered twice
//! is refused whichever organisation recorded it first, and the global lookup is one index
//! probe.
//!
//! Inserts refuse a taken key with `ON CONFLICT DO NOTHING`: no statement fails, so the
//! transaction stays usable after a `Duplicate` (PostgreSQL aborts it after a failed one). A
//! delivery racing another that committed after this transaction's snapshot is a
//! serialization failure instead, `Retryable`, and the sdk re-runs it to find the id seen.

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, SimId};
use selfcare_core::quota::UsageRecordId;
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::usage::{QuotaRecord, UsageLookup, UsageTx};
use selfcare_storage::version::{Version, Versioned};
use uuid::Uuid;

use crate::columns::{body, from_body, get, get_version, version};
use crate::error::sql;
use crate::{PgStore, PgTx};

#[async_trait]
impl UsageTx for PgTx {
    async fn get_quota(&mut self, sim: SimId) -> StoreResult<Option<Versioned<QuotaRecord>>> {
        sqlx::query("SELECT version, body FROM quotas WHERE org_id = $1 AND sim_id = $2")
            .bind(self.org.as_uuid())
            .bind(sim.as_uuid())
            .fetch_optional(self.tx.conn())
            .await
            .map_err(sql)?
            .map(|row| {
                Ok(Versioned {
                    version: get_version(&row, "version")?,
                    value: from_body(get::<&[u8]>(&row, "body")?, "quota")?,
                })
            })
            .transpose()
    }

    async fn insert_quota(&mut self, record: QuotaRecord) -> StoreResult<Version> {
        let inserted = sqlx::query(
            "INSERT INTO quotas (org_id, sim_id, version, body) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(self.org.as_uuid())
        .bind(record.sim().as_uuid())
        .bind(version(Version::FIRST)?)
        .bind(body(&record)?)
        .execute(self.tx.conn())
        .await
        .map_err(sql)?
        .rows_affected();
        if inserted == 1 {
            Ok(Version::FIRST)
        } else {
            Err(StoreError::duplicate("quota"))
        }
    }

    async fn update_quota(
        &mut self,
        record: QuotaRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let (org, sim) = (self.org.as_uuid(), record.sim().as_uuid());
        let next = expected.next();
        let changed = sqlx::query(
            "UPDATE quotas SET version = $1, body = $2
             WHERE org_id = $3 AND sim_id = $4 AND version = $5",
        )
        .bind(version(next)?)
        .bind(body(&record)?)
        .bind(org)
        .bind(sim)
        .bind(version(expected)?)
        .execute(self.tx.conn())
        .await
        .map_err(sql)?
        .rows_affected();
        if changed == 1 {
            return Ok(next);
        }
        // Nothing written: a row at another version, or none.
        let exists = sqlx::query("SELECT 1 AS one FROM quotas WHERE org_id = $1 AND sim_id = $2")
            .bind(org)
            .bind(sim)
            .fetch_optional(self.tx.conn())
            .await
            .map_err(sql)?;
        Err(if exists.is_some() {
            StoreError::stale()
        } else {
            StoreError::NotFound
        })
    }

    async fn record_seen(&mut self, record_id: &UsageRecordId, sim: SimId) -> StoreResult<()> {
        // Either unique index refuses: the key in this organisation, or the id in any.
        let inserted = sqlx::query(
            "INSERT INTO usage_records_seen (org_id, record_id, sim_id) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(self.org.as_uuid())
        .bind(record_id.as_str())
        .bind(sim.as_uuid())
        .execute(self.tx.conn())
        .await
        .map_err(sql)?
        .rows_affected();
        if inserted == 1 {
            Ok(())
        } else {
            Err(StoreError::duplicate("usage_record_id"))
        }
    }

    async fn seen_usage_record(&mut self, record_id: &UsageRecordId) -> StoreResult<Option<SimId>> {
        sqlx::query("SELECT sim_id FROM usage_records_seen WHERE org_id = $1 AND record_id = $2")
            .bind(self.org.as_uuid())
            .bind(record_id.as_str())
            .fetch_optional(self.tx.conn())
            .await
            .map_err(sql)?
            .map(|row| get::<Uuid>(&row, "sim_id").map(SimId::from_uuid))
            .transpose()
    }
}

#[async_trait]
impl UsageLookup for PgStore {
    async fn sim_by_usage_record(
        &self,
        record_id: &UsageRecordId,
    ) -> StoreResult<Option<(OrgId, SimId)>> {
        let mut tx = self.connections.lookup().await?;
        let row = sqlx::query("SELECT org_id, sim_id FROM usage_records_seen WHERE record_id = $1")
            .bind(record_id.as_str())
            .fetch_optional(tx.conn())
            .await
            .map_err(sql)?;
        tx.commit().await?;
        row.map(|row| {
            Ok((
                OrgId::from_uuid(get::<Uuid>(&row, "org_id")?),
                SimId::from_uuid(get::<Uuid>(&row, "sim_id")?),
            ))
        })
        .transpose()
    }
}
