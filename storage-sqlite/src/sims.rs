//! SIMs, plans and provisioning requests (SIM-2, ORD-3, PLAN-1, PLAN-2).
//!
//! A SIM is a row of real columns, stored clustered by `(org_id, order_id, id)`, so an
//! order's export ([`SimsTx::order_sims`]) is a range scan of the table itself; its identity
//! `(org_id, id)` and the ICCID (unique across organisations) are unique indexes beside it.
//! Plans and provisioning requests are JSON bodies beside the columns their queries read.

use std::collections::BTreeSet;

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Row, params};
use selfcare_core::ids::{OrderId, OrgId, PlanId, ProvisioningId, SimId};
use selfcare_core::numbers::{Iccid, Imsi, Msisdn};
use selfcare_core::plans::Plan;
use selfcare_core::sims::{Sim, SimBilling, SimLabel, SimStatus};
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::sims::*;
use selfcare_storage::version::{Version, Versioned};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::codec::{
    body, from_body, id_bytes, instant, instant_from, uuid_from, version, version_from,
};
use crate::columns::*;
use crate::error::{is_foreign_key_violation, is_unique_violation, sql};
use crate::pages::*;
use crate::{SqliteProviderTx, SqliteStore, SqliteTx};

// ---------------------------------------------------------------------------------------------
// SIM rows.

/// Whether the organisation `org` has the order `order`: the parent check of SIMs and plans.
///
/// Orders are the orders area's table `orders`, keyed `(org_id, id)`; this area only reads
/// it. The check runs in the writing transaction, so an order of another organisation, or
/// one that does not exist, is `NotFound` before anything is written.
fn order_exists(c: &Connection, org: Uuid, order: Uuid) -> StoreResult<bool> {
    c.prepare_cached("SELECT 1 FROM orders WHERE org_id = ?1 AND id = ?2")
        .map_err(sql)?
        .query_row(params![id_bytes(org), id_bytes(order)], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
        .map_err(sql)
}

/// The columns a SIM is read from, in the order [`sim_from_row`] reads them.
const SIM_COLUMNS: &str =
    "id, order_id, iccid, imsi, msisdn, label, status, tariff, plan_id, auto_top_up, version";

fn status_text(status: SimStatus) -> &'static str {
    match status {
        SimStatus::Enabled => "enabled",
        SimStatus::Disabled => "disabled",
    }
}

/// The `(tariff, plan_id)` columns of a SIM's billing.
fn billing_columns(billing: &SimBilling) -> (Option<&str>, Option<[u8; 16]>) {
    match billing {
        SimBilling::Tariff { code } => (Some(code.as_str()), None),
        SimBilling::Plan { plan } => (None, Some(id_bytes(plan.as_uuid()))),
    }
}

fn corrupt_sim() -> StoreError {
    StoreError::Corrupt {
        what: "a stored SIM".into(),
    }
}

/// A SIM read back from the columns [`SIM_COLUMNS`]; every value is checked again by its
/// type's parser (the MSISDN by its shape, [`Msisdn::from_stored`]), so a damaged row is
/// `Corrupt`, never a SIM that breaks an invariant.
fn sim_from_row(r: &Row<'_>) -> StoreResult<SimRecord> {
    let id = SimId::from_uuid(col_uuid(r, 0, "sims.id")?);
    let order = OrderId::from_uuid(col_uuid(r, 1, "sims.order_id")?);
    let iccid = Iccid::parse(col_text(r, 2, "sims.iccid")?).map_err(|_| corrupt_sim())?;
    let imsi = col_opt_text(r, 3, "sims.imsi")?
        .map(Imsi::parse)
        .transpose()
        .map_err(|_| corrupt_sim())?;
    // The store wrote `e164()` of a parsed number: its shape is checked, not the metadata
    // again (which would dominate an export of a million SIMs, ORD-3).
    let msisdn = col_opt_text(r, 4, "sims.msisdn")?
        .map(|m| Msisdn::from_stored(m).ok_or_else(corrupt_sim))
        .transpose()?;
    let label = SimLabel::parse(col_text(r, 5, "sims.label")?).map_err(|_| corrupt_sim())?;
    let status = match col_text(r, 6, "sims.status")? {
        "enabled" => SimStatus::Enabled,
        "disabled" => SimStatus::Disabled,
        _ => return Err(corrupt_sim()),
    };
    let billing = match (
        col_opt_text(r, 7, "sims.tariff")?,
        r.get_ref(8).map_err(|_| corrupt_sim())?.as_blob_or_null(),
    ) {
        (Some(code), Ok(None)) => SimBilling::Tariff {
            code: code.to_owned(),
        },
        (None, Ok(Some(plan))) => SimBilling::Plan {
            plan: PlanId::from_uuid(uuid_from(plan)?),
        },
        _ => return Err(corrupt_sim()),
    };
    let auto_top_up = match col_int(r, 9, "sims.auto_top_up")? {
        0 => false,
        1 => true,
        _ => return Err(corrupt_sim()),
    };
    Ok(Versioned {
        value: Sim {
            id,
            iccid,
            imsi,
            msisdn,
            label,
            status,
            order,
            billing,
            auto_top_up,
        },
        version: version_from(col_int(r, 10, "sims.version")?)?,
    })
}

/// Runs a SIM query and reads every row.
fn query_sims(
    c: &Connection,
    statement: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<SimRecord>> {
    let mut stmt = c.prepare_cached(statement).map_err(sql)?;
    let mut rows = stmt.query(params).map_err(sql)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(sql)? {
        out.push(sim_from_row(r)?);
    }
    Ok(out)
}

/// Inserts the batch (inside [`all_or_nothing`]); a unique violation is the ICCID when one is
/// stored (in any organisation, or earlier in this batch), the SIM id otherwise.
fn insert_sim_rows(c: &Connection, org: Uuid, sims: &[Sim]) -> StoreResult<()> {
    let mut insert = c
        .prepare_cached(
            "INSERT INTO sims (org_id, order_id, id, iccid, imsi, msisdn, label, status, \
             tariff, plan_id, auto_top_up, version) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
        )
        .map_err(sql)?;
    let first = version(Version::FIRST)?;
    let org = id_bytes(org);
    for sim in sims {
        let (tariff, plan) = billing_columns(&sim.billing);
        let inserted = insert.execute(params![
            org,
            id_bytes(sim.order.as_uuid()),
            id_bytes(sim.id.as_uuid()),
            sim.iccid.as_str(),
            sim.imsi.as_ref().map(Imsi::as_str),
            sim.msisdn.as_ref().map(Msisdn::e164),
            sim.label.as_str(),
            status_text(sim.status),
            tariff,
            plan,
            sim.auto_top_up,
            first,
        ]);
        match inserted {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                let taken = c
                    .prepare_cached("SELECT 1 FROM sims WHERE iccid = ?1")
                    .map_err(sql)?
                    .query_row(params![sim.iccid.as_str()], |_| Ok(()))
                    .optional()
                    .map_err(sql)?;
                return Err(StoreError::duplicate(if taken.is_some() {
                    "iccid"
                } else {
                    "sim"
                }));
            }
            Err(e) => return Err(sql(e)),
        }
    }
    Ok(())
}

/// `(version, iccid, order_id)` of the organisation's SIM `id`.
fn sim_key(c: &Connection, org: Uuid, id: Uuid) -> StoreResult<Option<(i64, String, Vec<u8>)>> {
    c.prepare_cached("SELECT version, iccid, order_id FROM sims WHERE org_id = ?1 AND id = ?2")
        .map_err(sql)?
        .query_row(params![id_bytes(org), id_bytes(id)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(sql)
}

fn update_sim_row(c: &Connection, org: Uuid, sim: &Sim, expected: Version) -> StoreResult<Version> {
    let id = sim.id.as_uuid();
    let Some((stored, iccid, order)) = sim_key(c, org, id)? else {
        return Err(StoreError::NotFound);
    };
    if version_from(stored)? != expected {
        return Err(StoreError::stale());
    }
    if iccid != sim.iccid.as_str() {
        return Err(StoreError::InvalidInput { what: "iccid" });
    }
    if order != id_bytes(sim.order.as_uuid()) {
        return Err(StoreError::InvalidInput { what: "sim order" });
    }
    let next = expected.next();
    let (tariff, plan) = billing_columns(&sim.billing);
    let changed = c
        .prepare_cached(
            "UPDATE sims SET imsi = ?1, msisdn = ?2, label = ?3, status = ?4, tariff = ?5, \
             plan_id = ?6, auto_top_up = ?7, version = ?8 \
             WHERE org_id = ?9 AND id = ?10 AND version = ?11",
        )
        .map_err(sql)?
        .execute(params![
            sim.imsi.as_ref().map(Imsi::as_str),
            sim.msisdn.as_ref().map(Msisdn::e164),
            sim.label.as_str(),
            status_text(sim.status),
            tariff,
            plan,
            sim.auto_top_up,
            version(next)?,
            id_bytes(org),
            id_bytes(id),
            version(expected)?,
        ])
        .map_err(sql)?;
    if changed == 1 {
        Ok(next)
    } else {
        Err(StoreError::stale())
    }
}

/// The statement of a SIM list, one per filter shape, each a range scan of the index that
/// matches it: by order, the table's own key `(org_id, order_id, id)` (the status is then a
/// filter on the rows read: `+status` keeps the planner off the status index, whose range
/// would span every order); by status alone `(org_id, status, id)`; unfiltered `(org_id, id)`.
/// Parameters: organisation, then the order and/or status when filtered, then the id to start
/// after and the limit.
fn list_statement(by_order: bool, by_status: bool) -> String {
    match (by_order, by_status) {
        (true, true) => format!(
            "SELECT {SIM_COLUMNS} FROM sims WHERE org_id = ?1 AND order_id = ?2 \
             AND +status = ?3 AND id > ?4 ORDER BY id LIMIT ?5"
        ),
        (true, false) => format!(
            "SELECT {SIM_COLUMNS} FROM sims WHERE org_id = ?1 AND order_id = ?2 \
             AND id > ?3 ORDER BY id LIMIT ?4"
        ),
        (false, true) => format!(
            "SELECT {SIM_COLUMNS} FROM sims INDEXED BY sims_by_status \
             WHERE org_id = ?1 AND status = ?2 AND id > ?3 ORDER BY id LIMIT ?4"
        ),
        (false, false) => format!(
            "SELECT {SIM_COLUMNS} FROM sims INDEXED BY sims_by_id \
             WHERE org_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
        ),
    }
}

/// The CSV rows of up to `batch` SIMs of an order after `after`, straight from the columns
/// (one range scan of the table's own key; the values were validated when written), and the
/// count and last id.
fn order_sims_csv_rows(
    c: &Connection,
    org: Uuid,
    order: Uuid,
    after: Option<Uuid>,
    batch: u32,
) -> StoreResult<SimCsvChunk> {
    let mut stmt = c
        .prepare_cached(
            "SELECT id, iccid, label, imsi, msisdn FROM sims \
             WHERE org_id = ?1 AND order_id = ?2 AND id > ?3 ORDER BY id LIMIT ?4",
        )
        .map_err(sql)?;
    let mut rows = stmt
        .query(params![
            id_bytes(org),
            id_bytes(order),
            start_after(after),
            i64::from(batch)
        ])
        .map_err(sql)?;
    let mut out = selfcare_core::export::SimCsvWriter::continuing(Vec::new());
    let mut chunk = SimCsvChunk::default();
    let io = |e: std::io::Error| StoreError::Internal {
        reason: format!("writing a CSV chunk in memory: {e}"),
    };
    let mut last = None;
    while let Some(r) = rows.next().map_err(sql)? {
        let text = |i: usize| -> StoreResult<Option<&str>> {
            match r.get_ref(i).map_err(sql)? {
                rusqlite::types::ValueRef::Null => Ok(None),
                rusqlite::types::ValueRef::Text(t) => {
                    std::str::from_utf8(t)
                        .map(Some)
                        .map_err(|_| StoreError::Corrupt {
                            what: "a SIM column".into(),
                        })
                }
                _ => Err(StoreError::Corrupt {
                    what: "a SIM column".into(),
                }),
            }
        };
        let corrupt = || StoreError::Corrupt {
            what: "a SIM row".into(),
        };
        out.write_stored(
            text(1)?.ok_or_else(corrupt)?,
            text(2)?.ok_or_else(corrupt)?,
            text(3)?,
            text(4)?,
        )
        .map_err(io)?;
        last = Some(col_uuid(r, 0, "sim id")?);
        chunk.rows = chunk.rows.saturating_add(1);
    }
    chunk.last = last.map(SimId::from_uuid);
    chunk.bytes = out.finish().map_err(io)?;
    Ok(chunk)
}

/// The id bound a walk starts after: the empty BLOB from the start.
fn start_after(after: Option<Uuid>) -> Vec<u8> {
    after.map_or_else(|| BEFORE_EVERY_ID.to_vec(), |a| id_bytes(a).to_vec())
}

fn list_sim_rows(
    c: &Connection,
    org: Uuid,
    filter: SimFilter,
    after: Option<Uuid>,
    limit: usize,
) -> StoreResult<Page<SimRecord>> {
    let org = id_bytes(org);
    let after = start_after(after);
    let fetch = fetch_limit(limit);
    let statement = list_statement(filter.order.is_some(), filter.status.is_some());
    let rows = match (filter.order, filter.status) {
        (Some(order), Some(status)) => query_sims(
            c,
            &statement,
            params![
                org,
                id_bytes(order.as_uuid()),
                status_text(status),
                after,
                fetch
            ],
        )?,
        (Some(order), None) => query_sims(
            c,
            &statement,
            params![org, id_bytes(order.as_uuid()), after, fetch],
        )?,
        (None, Some(status)) => query_sims(
            c,
            &statement,
            params![org, status_text(status), after, fetch],
        )?,
        (None, None) => query_sims(c, &statement, params![org, after, fetch])?,
    };
    Ok(page_of(rows, limit, |s| id_cursor(s.value.id.as_uuid())))
}

// ---------------------------------------------------------------------------------------------
// Plans and provisioning requests.

fn exists(c: &Connection, statement: &str, org: Uuid, id: Uuid) -> StoreResult<bool> {
    c.prepare_cached(statement)
        .map_err(sql)?
        .query_row(params![id_bytes(org), id_bytes(id)], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
        .map_err(sql)
}

fn versioned_body<T: serde::de::DeserializeOwned>(
    r: &Row<'_>,
    what: &str,
) -> StoreResult<Versioned<T>> {
    Ok(Versioned {
        version: version_from(col_int(r, 0, what)?)?,
        value: from_body(col_blob(r, 1, what)?, what)?,
    })
}

/// The `(version, body)` row of `table` keyed `(org, id)`.
fn versioned_row<T: serde::de::DeserializeOwned>(
    c: &Connection,
    statement: &str,
    org: Uuid,
    id: Uuid,
    what: &str,
) -> StoreResult<Option<Versioned<T>>> {
    let mut stmt = c.prepare_cached(statement).map_err(sql)?;
    let mut rows = stmt
        .query(params![id_bytes(org), id_bytes(id)])
        .map_err(sql)?;
    match rows.next().map_err(sql)? {
        Some(r) => versioned_body(r, what).map(Some),
        None => Ok(None),
    }
}

fn insert_plan_row(c: &Connection, org: Uuid, plan: &Plan) -> StoreResult<Version> {
    let id = plan.id().as_uuid();
    if exists(
        c,
        "SELECT 1 FROM plans WHERE org_id = ?1 AND id = ?2",
        org,
        id,
    )? {
        return Err(StoreError::duplicate("plan"));
    }
    if !order_exists(c, org, plan.order().as_uuid())? {
        return Err(StoreError::NotFound);
    }
    let inserted = c
        .prepare_cached(
            "INSERT INTO plans (org_id, id, order_id, version, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(sql)?
        .execute(params![
            id_bytes(org),
            id_bytes(id),
            id_bytes(plan.order().as_uuid()),
            version(Version::FIRST)?,
            body(plan)?,
        ]);
    match inserted {
        Ok(_) => Ok(Version::FIRST),
        Err(e) if is_unique_violation(&e) => Err(StoreError::duplicate("plan")),
        Err(e) => Err(sql(e)),
    }
}

fn update_plan_row(
    c: &Connection,
    org: Uuid,
    plan: &Plan,
    expected: Version,
) -> StoreResult<Version> {
    let id = plan.id().as_uuid();
    let stored: Option<(i64, Vec<u8>)> = c
        .prepare_cached("SELECT version, order_id FROM plans WHERE org_id = ?1 AND id = ?2")
        .map_err(sql)?
        .query_row(params![id_bytes(org), id_bytes(id)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(sql)?;
    let Some((stored, order)) = stored else {
        return Err(StoreError::NotFound);
    };
    if version_from(stored)? != expected {
        return Err(StoreError::stale());
    }
    if order != id_bytes(plan.order().as_uuid()) {
        return Err(StoreError::InvalidInput { what: "plan order" });
    }
    let next = expected.next();
    let changed = c
        .prepare_cached(
            "UPDATE plans SET version = ?1, body = ?2 WHERE org_id = ?3 AND id = ?4 AND version = ?5",
        )
        .map_err(sql)?
        .execute(params![
            version(next)?,
            body(plan)?,
            id_bytes(org),
            id_bytes(id),
            version(expected)?,
        ])
        .map_err(sql)?;
    if changed == 1 {
        Ok(next)
    } else {
        Err(StoreError::stale())
    }
}

fn list_plan_rows(
    c: &Connection,
    org: Uuid,
    before: Option<Uuid>,
    limit: usize,
) -> StoreResult<Page<PlanRecord>> {
    let before: Vec<u8> = before.map_or_else(|| AFTER_EVERY_ID.to_vec(), |b| id_bytes(b).to_vec());
    let mut stmt = c
        .prepare_cached(
            "SELECT version, body FROM plans WHERE org_id = ?1 AND id < ?2 \
             ORDER BY id DESC LIMIT ?3",
        )
        .map_err(sql)?;
    let mut rows = stmt
        .query(params![id_bytes(org), before, fetch_limit(limit)])
        .map_err(sql)?;
    let mut out: Vec<PlanRecord> = Vec::new();
    while let Some(r) = rows.next().map_err(sql)? {
        out.push(versioned_body(r, "plan")?);
    }
    Ok(page_of(out, limit, |p| id_cursor(p.value.id().as_uuid())))
}

fn state_text(state: ProvisioningState) -> StoreResult<String> {
    enum_text(&state)
}

fn insert_provisioning_row(
    c: &Connection,
    org: Uuid,
    request: &ProvisioningRequest,
) -> StoreResult<Version> {
    let id = request.id.as_uuid();
    let plan = request.plan.as_uuid();
    if exists(
        c,
        "SELECT 1 FROM provisioning WHERE org_id = ?1 AND id = ?2",
        org,
        id,
    )? {
        return Err(StoreError::duplicate("provisioning"));
    }
    if !exists(
        c,
        "SELECT 1 FROM plans WHERE org_id = ?1 AND id = ?2",
        org,
        plan,
    )? {
        return Err(StoreError::NotFound);
    }
    let inserted = c
        .prepare_cached(
            "INSERT INTO provisioning (org_id, id, plan_id, state, requested_at, version, body) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .map_err(sql)?
        .execute(params![
            id_bytes(org),
            id_bytes(id),
            id_bytes(plan),
            state_text(request.state)?,
            instant(request.requested_at)?,
            version(Version::FIRST)?,
            body(request)?,
        ]);
    match inserted {
        Ok(_) => Ok(Version::FIRST),
        Err(e) if is_unique_violation(&e) => Err(StoreError::duplicate("provisioning")),
        Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
        Err(e) => Err(sql(e)),
    }
}

fn update_provisioning_row(
    c: &Connection,
    org: Uuid,
    request: &ProvisioningRequest,
    expected: Version,
) -> StoreResult<Version> {
    let id = request.id.as_uuid();
    let stored: Option<(i64, Vec<u8>, i64)> = c
        .prepare_cached(
            "SELECT version, plan_id, requested_at FROM provisioning WHERE org_id = ?1 AND id = ?2",
        )
        .map_err(sql)?
        .query_row(params![id_bytes(org), id_bytes(id)], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(sql)?;
    let Some((stored, plan, requested_at)) = stored else {
        return Err(StoreError::NotFound);
    };
    if version_from(stored)? != expected {
        return Err(StoreError::stale());
    }
    if plan != id_bytes(request.plan.as_uuid()) {
        return Err(StoreError::InvalidInput {
            what: "provisioning plan",
        });
    }
    if requested_at != instant(request.requested_at)? {
        return Err(StoreError::InvalidInput {
            what: "requested_at",
        });
    }
    let next = expected.next();
    let changed = c
        .prepare_cached(
            "UPDATE provisioning SET state = ?1, version = ?2, body = ?3 \
             WHERE org_id = ?4 AND id = ?5 AND version = ?6",
        )
        .map_err(sql)?
        .execute(params![
            state_text(request.state)?,
            version(next)?,
            body(request)?,
            id_bytes(org),
            id_bytes(id),
            version(expected)?,
        ])
        .map_err(sql)?;
    if changed == 1 {
        Ok(next)
    } else {
        Err(StoreError::stale())
    }
}

#[async_trait]
impl SimsTx for SqliteTx {
    async fn insert_sims(&mut self, sims: Vec<Sim>) -> StoreResult<()> {
        if sims.is_empty() {
            return Ok(());
        }
        let org = self.org.as_uuid();
        self.conn
            .call_blocking(move |c| {
                // The parents first (a batch is one order's SIMs, so usually one query).
                let orders: BTreeSet<OrderId> = sims.iter().map(|s| s.order).collect();
                for order in orders {
                    if !order_exists(c, org, order.as_uuid())? {
                        return Err(StoreError::NotFound);
                    }
                }
                all_or_nothing(c, "insert_sims", |c| insert_sim_rows(c, org, &sims))
            })
            .await
    }

    async fn sim(&mut self, id: SimId) -> StoreResult<Option<SimRecord>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let mut rows = query_sims(
                    c,
                    &format!("SELECT {SIM_COLUMNS} FROM sims WHERE org_id = ?1 AND id = ?2"),
                    params![id_bytes(org), id_bytes(id.as_uuid())],
                )?;
                Ok(rows.pop())
            })
            .await
    }

    async fn update_sim(&mut self, sim: Sim, expected: Version) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| update_sim_row(c, org, &sim, expected))
            .await
    }

    async fn list_sims(
        &mut self,
        filter: &SimFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<SimRecord>> {
        let limit = page.checked_limit()?;
        let after = id_after(page)?;
        let (org, filter) = (self.org.as_uuid(), *filter);
        self.conn
            .call(move |c| list_sim_rows(c, org, filter, after, limit))
            .await
    }

    async fn order_sims(
        &mut self,
        order: OrderId,
        after: Option<SimId>,
        batch: u32,
    ) -> StoreResult<Vec<SimRecord>> {
        let batch = checked_count(batch, "batch")?;
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                // The list by order: a range scan of the table's own key.
                query_sims(
                    c,
                    &list_statement(true, false),
                    params![
                        id_bytes(org),
                        id_bytes(order.as_uuid()),
                        start_after(after.map(|a| a.as_uuid())),
                        batch
                    ],
                )
            })
            .await
    }

    async fn order_sims_csv(
        &mut self,
        order: OrderId,
        after: Option<SimId>,
        batch: u32,
    ) -> StoreResult<SimCsvChunk> {
        if batch == 0 || batch > MAX_EXPORT_BATCH {
            return Err(StoreError::InvalidInput { what: "batch" });
        }
        let org = self.org.as_uuid();
        self.conn
            .call_blocking(move |c| {
                order_sims_csv_rows(c, org, order.as_uuid(), after.map(|a| a.as_uuid()), batch)
            })
            .await
    }

    async fn insert_plan(&mut self, plan: Plan) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| insert_plan_row(c, org, &plan))
            .await
    }

    async fn plan(&mut self, id: PlanId) -> StoreResult<Option<PlanRecord>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                versioned_row(
                    c,
                    "SELECT version, body FROM plans WHERE org_id = ?1 AND id = ?2",
                    org,
                    id.as_uuid(),
                    "plan",
                )
            })
            .await
    }

    async fn update_plan(&mut self, plan: Plan, expected: Version) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| update_plan_row(c, org, &plan, expected))
            .await
    }

    async fn list_plans(&mut self, page: &PageRequest) -> StoreResult<Page<PlanRecord>> {
        let limit = page.checked_limit()?;
        let before = id_after(page)?;
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| list_plan_rows(c, org, before, limit))
            .await
    }

    async fn insert_provisioning(&mut self, request: ProvisioningRequest) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| insert_provisioning_row(c, org, &request))
            .await
    }

    async fn provisioning(
        &mut self,
        id: ProvisioningId,
    ) -> StoreResult<Option<ProvisioningRecord>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                versioned_row(
                    c,
                    "SELECT version, body FROM provisioning WHERE org_id = ?1 AND id = ?2",
                    org,
                    id.as_uuid(),
                    "provisioning request",
                )
            })
            .await
    }

    async fn update_provisioning(
        &mut self,
        request: ProvisioningRequest,
        expected: Version,
    ) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| update_provisioning_row(c, org, &request, expected))
            .await
    }
}

#[async_trait]
impl SimsProvider for SqliteProviderTx {
    async fn pending_provisioning_before(
        &mut self,
        cutoff: OffsetDateTime,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, ProvisioningId, OffsetDateTime)>> {
        let max = checked_count(max, "max")?;
        let cutoff = instant(cutoff)?;
        self.conn
            .call(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT org_id, id, requested_at FROM provisioning \
                         WHERE state = ?1 AND requested_at <= ?2 \
                         ORDER BY requested_at, org_id, id LIMIT ?3",
                    )
                    .map_err(sql)?;
                let mut rows = stmt
                    .query(params![
                        state_text(ProvisioningState::Pending)?,
                        cutoff,
                        max
                    ])
                    .map_err(sql)?;
                let mut out = Vec::new();
                while let Some(r) = rows.next().map_err(sql)? {
                    out.push((
                        OrgId::from_uuid(col_uuid(r, 0, "provisioning.org_id")?),
                        ProvisioningId::from_uuid(col_uuid(r, 1, "provisioning.id")?),
                        instant_from(col_int(r, 2, "provisioning.requested_at")?)?,
                    ));
                }
                Ok(out)
            })
            .await
    }
}

#[async_trait]
impl SimsLookup for SqliteStore {
    async fn sim_by_iccid(&self, iccid: &Iccid) -> StoreResult<Option<(OrgId, SimId)>> {
        let iccid = iccid.as_str().to_owned();
        self.connections
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached("SELECT org_id, id FROM sims WHERE iccid = ?1")
                    .map_err(sql)?;
                let mut rows = stmt.query(params![iccid]).map_err(sql)?;
                match rows.next().map_err(sql)? {
                    Some(r) => Ok(Some((
                        OrgId::from_uuid(col_uuid(r, 0, "sims.org_id")?),
                        SimId::from_uuid(col_uuid(r, 1, "sims.id")?),
                    ))),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn provisioning_by_id(&self, id: ProvisioningId) -> StoreResult<Option<(OrgId, PlanId)>> {
        self.connections
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT org_id, plan_id FROM provisioning WHERE id = ?1 LIMIT 1",
                    )
                    .map_err(sql)?;
                let mut rows = stmt.query(params![id_bytes(id.as_uuid())]).map_err(sql)?;
                match rows.next().map_err(sql)? {
                    Some(r) => Ok(Some((
                        OrgId::from_uuid(col_uuid(r, 0, "provisioning.org_id")?),
                        PlanId::from_uuid(col_uuid(r, 1, "provisioning.plan_id")?),
                    ))),
                    None => Ok(None),
                }
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::connection::query_plan as plan_of;

    /// ORD-3's export and every SIM list are one index range each, never a scan or a sort:
    /// a page costs the same at any depth.
    #[test]
    fn ord_3_sim_lists_are_index_range_scans() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plans.db");
        let mut c = crate::connection::open_connection(&path, true).unwrap();
        crate::connection::migrate(&mut c, &path).unwrap();
        let export = plan_of(&c, &list_statement(true, false));
        assert!(
            export.contains("SEARCH sims USING PRIMARY KEY (org_id=? AND order_id=? AND id>?)"),
            "{export}"
        );
        for (by_order, by_status, index) in [
            (true, true, "PRIMARY KEY (org_id=? AND order_id=? AND id>?)"),
            (
                false,
                true,
                "sims_by_status (org_id=? AND status=? AND id>?)",
            ),
            (false, false, "sims_by_id (org_id=? AND id>?)"),
        ] {
            let plan = plan_of(&c, &list_statement(by_order, by_status));
            assert!(plan.contains(index), "{plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
    }
}
