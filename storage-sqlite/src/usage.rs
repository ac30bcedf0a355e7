//! Quotas and seen usage-record ids (TOP-2, TOP-3, ACC-5).
//!
//! A quota row is `(org_id, sim_id)` with its JSON body and version. A seen usage record is
//! `(org_id, record_id)` with a unique index on `record_id` alone, so a record delivered twice
//! is refused whichever organisation recorded it first, and the global lookup is one index
//! probe.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use selfcare_core::ids::{OrgId, SimId};
use selfcare_core::quota::UsageRecordId;
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::usage::{QuotaRecord, UsageLookup, UsageTx};
use selfcare_storage::version::{Version, Versioned};
use uuid::Uuid;

use crate::codec::{body, from_body, id_bytes, version, version_from};
use crate::columns::*;
use crate::error::{is_unique_violation, sql};
use crate::{SqliteStore, SqliteTx};

fn quota_row(c: &Connection, org: Uuid, sim: Uuid) -> StoreResult<Option<Versioned<QuotaRecord>>> {
    let mut stmt = c
        .prepare_cached("SELECT version, body FROM quotas WHERE org_id = ?1 AND sim_id = ?2")
        .map_err(sql)?;
    let mut rows = stmt
        .query(params![id_bytes(org), id_bytes(sim)])
        .map_err(sql)?;
    match rows.next().map_err(sql)? {
        Some(r) => Ok(Some(Versioned {
            version: version_from(col_int(r, 0, "quotas.version")?)?,
            value: from_body(col_blob(r, 1, "quotas.body")?, "quota")?,
        })),
        None => Ok(None),
    }
}

fn update_quota_row(
    c: &Connection,
    org: Uuid,
    record: &QuotaRecord,
    expected: Version,
) -> StoreResult<Version> {
    let sim = record.sim().as_uuid();
    let next = expected.next();
    let changed = c
        .prepare_cached(
            "UPDATE quotas SET version = ?1, body = ?2 \
             WHERE org_id = ?3 AND sim_id = ?4 AND version = ?5",
        )
        .map_err(sql)?
        .execute(params![
            version(next)?,
            body(record)?,
            id_bytes(org),
            id_bytes(sim),
            version(expected)?,
        ])
        .map_err(sql)?;
    if changed == 1 {
        return Ok(next);
    }
    let exists = c
        .prepare_cached("SELECT 1 FROM quotas WHERE org_id = ?1 AND sim_id = ?2")
        .map_err(sql)?
        .query_row(params![id_bytes(org), id_bytes(sim)], |_| Ok(()))
        .optional()
        .map_err(sql)?;
    Err(if exists.is_some() {
        StoreError::stale()
    } else {
        StoreError::NotFound
    })
}

#[async_trait]
impl UsageTx for SqliteTx {
    async fn get_quota(&mut self, sim: SimId) -> StoreResult<Option<Versioned<QuotaRecord>>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| quota_row(c, org, sim.as_uuid()))
            .await
    }

    async fn insert_quota(&mut self, record: QuotaRecord) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let inserted = c
                    .prepare_cached(
                        "INSERT INTO quotas (org_id, sim_id, version, body) VALUES (?1, ?2, ?3, ?4)",
                    )
                    .map_err(sql)?
                    .execute(params![
                        id_bytes(org),
                        id_bytes(record.sim().as_uuid()),
                        version(Version::FIRST)?,
                        body(&record)?,
                    ]);
                match inserted {
                    Ok(_) => Ok(Version::FIRST),
                    Err(e) if is_unique_violation(&e) => Err(StoreError::duplicate("quota")),
                    Err(e) => Err(sql(e)),
                }
            })
            .await
    }

    async fn update_quota(
        &mut self,
        record: QuotaRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| update_quota_row(c, org, &record, expected))
            .await
    }

    async fn record_seen(&mut self, record_id: &UsageRecordId, sim: SimId) -> StoreResult<()> {
        let org = self.org.as_uuid();
        let record_id = record_id.as_str().to_owned();
        self.conn
            .call(move |c| {
                let inserted = c
                    .prepare_cached(
                        "INSERT INTO usage_records_seen (org_id, record_id, sim_id) \
                         VALUES (?1, ?2, ?3)",
                    )
                    .map_err(sql)?
                    .execute(params![id_bytes(org), record_id, id_bytes(sim.as_uuid())]);
                match inserted {
                    Ok(_) => Ok(()),
                    Err(e) if is_unique_violation(&e) => {
                        Err(StoreError::duplicate("usage_record_id"))
                    }
                    Err(e) => Err(sql(e)),
                }
            })
            .await
    }

    async fn seen_usage_record(&mut self, record_id: &UsageRecordId) -> StoreResult<Option<SimId>> {
        let org = self.org.as_uuid();
        let record_id = record_id.as_str().to_owned();
        self.conn
            .call(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT sim_id FROM usage_records_seen WHERE org_id = ?1 AND record_id = ?2",
                    )
                    .map_err(sql)?;
                let mut rows = stmt.query(params![id_bytes(org), record_id]).map_err(sql)?;
                match rows.next().map_err(sql)? {
                    Some(r) => Ok(Some(SimId::from_uuid(col_uuid(
                        r,
                        0,
                        "usage_records_seen.sim_id",
                    )?))),
                    None => Ok(None),
                }
            })
            .await
    }
}

#[async_trait]
impl UsageLookup for SqliteStore {
    async fn sim_by_usage_record(
        &self,
        record_id: &UsageRecordId,
    ) -> StoreResult<Option<(OrgId, SimId)>> {
        let record_id = record_id.as_str().to_owned();
        self.connections
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT org_id, sim_id FROM usage_records_seen WHERE record_id = ?1",
                    )
                    .map_err(sql)?;
                let mut rows = stmt.query(params![record_id]).map_err(sql)?;
                match rows.next().map_err(sql)? {
                    Some(r) => Ok(Some((
                        OrgId::from_uuid(col_uuid(r, 0, "usage_records_seen.org_id")?),
                        SimId::from_uuid(col_uuid(r, 1, "usage_records_seen.sim_id")?),
                    ))),
                    None => Ok(None),
                }
            })
            .await
    }
}
