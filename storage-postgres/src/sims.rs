//! SIMs, plans and provisioning requests (SIM-2, ORD-3, PLAN-1, PLAN-2).
//!
//! A SIM is a row of real columns keyed `(org_id, order_id, id)`, so an order's SIMs
//! ([`SimsTx::order_sims`], the ORD-3 export) are one range of the primary key; its identity
//! `(org_id, id)` and the ICCID (unique across organisations) are unique indexes beside it.
//! Plans and provisioning requests are JSON bodies beside the columns their queries read.
//!
//! PostgreSQL aborts a transaction after any failed statement, and the contracts' callers go
//! on after a refused write: single-row inserts refuse with `ON CONFLICT DO NOTHING` and a
//! parent check in the same statement (nothing fails), and a batch of SIMs runs inside a
//! savepoint that a refusal rolls back.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use async_trait::async_trait;
use futures_util::TryStreamExt;
use selfcare_core::export::SimCsvWriter;
use selfcare_core::ids::{OrderId, OrgId, PlanId, ProvisioningId, SimId};
use selfcare_core::numbers::{Iccid, Imsi, Msisdn};
use selfcare_core::plans::Plan;
use selfcare_core::sims::{Sim, SimBilling, SimLabel, SimStatus};
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::sims::*;
use selfcare_storage::version::{Version, Versioned};
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::columns::{
    body, checked_count, enum_text, fetch_limit, from_body, get, get_at, get_instant, get_version,
    id_after, id_cursor, instant, page_of, version,
};
use crate::error::{sql, unique_violation};
use crate::lists::Keyset;
use crate::{PgProviderTx, PgStore, PgTx};

// ---------------------------------------------------------------------------------------------
// SIM rows.

/// The columns a SIM is read from ([`sim_from_row`]).
const SIM_COLUMNS: &str =
    "id, order_id, iccid, imsi, msisdn, label, status, tariff, plan_id, auto_top_up, version";

/// The most SIMs one `INSERT … FROM UNNEST` carries: a batch of 50 000 goes in five
/// statements, each binding eleven arrays rather than one parameter per value.
const INSERT_CHUNK: usize = 10_000;

/// The rows one `FETCH` of the export cursor asks for, as a literal (`FETCH` takes its count
/// as one, not as a parameter): a whole export batch ([`MAX_EXPORT_BATCH`]), so a chunk costs
/// one round trip. The rows are written as they arrive, not collected, so the export's
/// memory is the CSV of its batch.
macro_rules! csv_fetch {
    () => {
        10000
    };
}

/// [`csv_fetch!`] as a count.
const CSV_FETCH: usize = csv_fetch!();
const _: () = assert!(CSV_FETCH == MAX_EXPORT_BATCH as usize);

/// The statement that fetches the next [`CSV_FETCH`] rows of the export cursor.
const CSV_FETCH_STATEMENT: &str = concat!(
    "FETCH FORWARD ",
    csv_fetch!(),
    " FROM selfcare_order_sims_csv"
);

fn status_text(status: SimStatus) -> &'static str {
    match status {
        SimStatus::Enabled => "enabled",
        SimStatus::Disabled => "disabled",
    }
}

/// The `(tariff, plan_id)` columns of a SIM's billing.
fn billing_columns(billing: &SimBilling) -> (Option<&str>, Option<Uuid>) {
    match billing {
        SimBilling::Tariff { code } => (Some(code.as_str()), None),
        SimBilling::Plan { plan } => (None, Some(plan.as_uuid())),
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
fn sim_from_row(r: &PgRow) -> StoreResult<SimRecord> {
    let id = SimId::from_uuid(get::<Uuid>(r, "id")?);
    let order = OrderId::from_uuid(get::<Uuid>(r, "order_id")?);
    let iccid = Iccid::parse(get::<&str>(r, "iccid")?).map_err(|_| corrupt_sim())?;
    let imsi = get::<Option<&str>>(r, "imsi")?
        .map(Imsi::parse)
        .transpose()
        .map_err(|_| corrupt_sim())?;
    // The store wrote `e164()` of a parsed number: its shape is checked, not the metadata
    // again (which would dominate an export of a million SIMs, ORD-3).
    let msisdn = get::<Option<&str>>(r, "msisdn")?
        .map(|m| Msisdn::from_stored(m).ok_or_else(corrupt_sim))
        .transpose()?;
    let label = SimLabel::parse(get::<&str>(r, "label")?).map_err(|_| corrupt_sim())?;
    let status = match get::<&str>(r, "status")? {
        "enabled" => SimStatus::Enabled,
        "disabled" => SimStatus::Disabled,
        _ => return Err(corrupt_sim()),
    };
    let billing = match (
        get::<Option<&str>>(r, "tariff")?,
        get::<Option<Uuid>>(r, "plan_id")?,
    ) {
        (Some(code), None) => SimBilling::Tariff {
            code: code.to_owned(),
        },
        (None, Some(plan)) => SimBilling::Plan {
            plan: PlanId::from_uuid(plan),
        },
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
            auto_top_up: get::<bool>(r, "auto_top_up")?,
        },
        version: get_version(r, "version")?,
    })
}

/// The statement of a SIM list, one per filter shape, each a range of the index that matches
/// it: by order, the primary key `(org_id, order_id, id)`; by status alone
/// `(org_id, status, id)`; unfiltered `(org_id, id)`. The first page has no id bound (no
/// sentinel id is excluded). Parameters: organisation, then the order and/or status when
/// filtered, then the id to start after when given, then the limit.
fn list_statement(by_order: bool, by_status: bool, after: bool) -> String {
    let mut n = 1;
    let mut statement = format!("SELECT {SIM_COLUMNS} FROM sims WHERE org_id = $1");
    for (present, column) in [
        (by_order, "order_id ="),
        (by_status, "status ="),
        (after, "id >"),
    ] {
        if present {
            n += 1;
            // Writing to a String cannot fail.
            let _ = write!(statement, " AND {column} ${n}");
        }
    }
    let _ = write!(statement, " ORDER BY id LIMIT ${}", n + 1);
    statement
}

/// Runs the list statement of this shape with its parameters.
async fn query_sims(
    c: &mut PgConnection,
    org: Uuid,
    order: Option<OrderId>,
    status: Option<SimStatus>,
    after: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<SimRecord>> {
    let statement = list_statement(order.is_some(), status.is_some(), after.is_some());
    let mut query = sqlx::query(AssertSqlSafe(statement)).bind(org);
    if let Some(order) = order {
        query = query.bind(order.as_uuid());
    }
    if let Some(status) = status {
        query = query.bind(status_text(status));
    }
    if let Some(after) = after {
        query = query.bind(after);
    }
    let rows = query.bind(limit).fetch_all(c).await.map_err(sql)?;
    rows.iter().map(sim_from_row).collect()
}

/// Whether the organisation has every order in `orders`: the parent check of a batch of SIMs.
///
/// Orders are the orders area's table `orders`, keyed `(org_id, id)`; this area only reads
/// it. The check runs in the writing transaction, so an order of another organisation, or
/// one that does not exist, is `NotFound` before anything is written.
async fn orders_exist(c: &mut PgConnection, org: Uuid, orders: &[Uuid]) -> StoreResult<bool> {
    let row =
        sqlx::query("SELECT count(*) AS found FROM orders WHERE org_id = $1 AND id = ANY($2)")
            .bind(org)
            .bind(orders)
            .fetch_one(c)
            .await
            .map_err(sql)?;
    Ok(usize::try_from(get::<i64>(&row, "found")?).ok() == Some(orders.len()))
}

/// Inserts one chunk of a batch (inside the batch's savepoint) in one statement.
///
/// `ON CONFLICT (iccid) DO NOTHING` skips a SIM whose ICCID is stored (in any organisation,
/// or earlier in this batch) without failing, so a skipped row is a duplicate ICCID, even
/// when its id is taken too (the ICCID is named first, as on SQLite); a taken id alone fails
/// the statement on the primary key or `sims_by_id`.
async fn insert_sim_chunk(c: &mut PgConnection, org: Uuid, sims: &[Sim]) -> StoreResult<()> {
    let mut orders = Vec::with_capacity(sims.len());
    let mut ids = Vec::with_capacity(sims.len());
    let mut iccids = Vec::with_capacity(sims.len());
    let mut imsis = Vec::with_capacity(sims.len());
    let mut msisdns = Vec::with_capacity(sims.len());
    let mut labels = Vec::with_capacity(sims.len());
    let mut statuses = Vec::with_capacity(sims.len());
    let mut tariffs = Vec::with_capacity(sims.len());
    let mut plans = Vec::with_capacity(sims.len());
    let mut auto_top_ups = Vec::with_capacity(sims.len());
    for sim in sims {
        let (tariff, plan) = billing_columns(&sim.billing);
        orders.push(sim.order.as_uuid());
        ids.push(sim.id.as_uuid());
        iccids.push(sim.iccid.as_str());
        imsis.push(sim.imsi.as_ref().map(Imsi::as_str));
        msisdns.push(sim.msisdn.as_ref().map(Msisdn::e164));
        labels.push(sim.label.as_str());
        statuses.push(status_text(sim.status));
        tariffs.push(tariff);
        plans.push(plan);
        auto_top_ups.push(sim.auto_top_up);
    }
    let inserted = sqlx::query(
        "INSERT INTO sims (org_id, order_id, id, iccid, imsi, msisdn, label, status, tariff,
             plan_id, auto_top_up, version)
         SELECT $1, t.order_id, t.id, t.iccid, t.imsi, t.msisdn, t.label, t.status, t.tariff,
             t.plan_id, t.auto_top_up, $12
         FROM UNNEST($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
             $8::text[], $9::text[], $10::uuid[], $11::boolean[])
             AS t(order_id, id, iccid, imsi, msisdn, label, status, tariff, plan_id,
                 auto_top_up)
         ON CONFLICT (iccid) DO NOTHING",
    )
    .bind(org)
    .bind(orders)
    .bind(ids)
    .bind(iccids)
    .bind(imsis)
    .bind(msisdns)
    .bind(labels)
    .bind(statuses)
    .bind(tariffs)
    .bind(plans)
    .bind(auto_top_ups)
    .bind(version(Version::FIRST)?)
    .execute(c)
    .await;
    match inserted {
        Ok(done) if usize::try_from(done.rows_affected()).ok() == Some(sims.len()) => Ok(()),
        Ok(_) => Err(StoreError::duplicate("iccid")),
        Err(e) => Err(match unique_violation(&e).as_deref() {
            Some("sims_by_iccid") => StoreError::duplicate("iccid"),
            Some(_) => StoreError::duplicate("sim"),
            None => sql(e),
        }),
    }
}

/// Inserts the batch chunk by chunk inside a savepoint: a refused chunk rolls back the
/// chunks before it, and the transaction stays usable (PostgreSQL aborts it after a failed
/// statement until the rollback to the savepoint).
async fn insert_sim_rows(c: &mut PgConnection, org: Uuid, sims: &[Sim]) -> StoreResult<()> {
    sqlx::raw_sql("SAVEPOINT selfcare_insert_sims")
        .execute(&mut *c)
        .await
        .map_err(sql)?;
    let mut outcome = Ok(());
    for chunk in sims.chunks(INSERT_CHUNK) {
        outcome = insert_sim_chunk(c, org, chunk).await;
        if outcome.is_err() {
            break;
        }
    }
    let end = if outcome.is_ok() {
        "RELEASE SAVEPOINT selfcare_insert_sims"
    } else {
        "ROLLBACK TO SAVEPOINT selfcare_insert_sims; RELEASE SAVEPOINT selfcare_insert_sims"
    };
    sqlx::raw_sql(end).execute(c).await.map_err(sql)?;
    outcome
}

async fn update_sim_row(
    c: &mut PgConnection,
    org: Uuid,
    sim: &Sim,
    expected: Version,
) -> StoreResult<Version> {
    let id = sim.id.as_uuid();
    let next = expected.next();
    let (tariff, plan) = billing_columns(&sim.billing);
    // The ICCID and the order never change: a row with others is not written.
    let changed = sqlx::query(
        "UPDATE sims SET imsi = $1, msisdn = $2, label = $3, status = $4, tariff = $5,
             plan_id = $6, auto_top_up = $7, version = $8
         WHERE org_id = $9 AND id = $10 AND version = $11 AND iccid = $12 AND order_id = $13",
    )
    .bind(sim.imsi.as_ref().map(Imsi::as_str))
    .bind(sim.msisdn.as_ref().map(Msisdn::e164))
    .bind(sim.label.as_str())
    .bind(status_text(sim.status))
    .bind(tariff)
    .bind(plan)
    .bind(sim.auto_top_up)
    .bind(version(next)?)
    .bind(org)
    .bind(id)
    .bind(version(expected)?)
    .bind(sim.iccid.as_str())
    .bind(sim.order.as_uuid())
    .execute(&mut *c)
    .await
    .map_err(sql)?
    .rows_affected();
    if changed == 1 {
        return Ok(next);
    }
    // Nothing written: say why, in the contract's order.
    let stored =
        sqlx::query("SELECT version, iccid, order_id FROM sims WHERE org_id = $1 AND id = $2")
            .bind(org)
            .bind(id)
            .fetch_optional(c)
            .await
            .map_err(sql)?;
    let Some(row) = stored else {
        return Err(StoreError::NotFound);
    };
    Err(if get::<i64>(&row, "version")? != version(expected)? {
        StoreError::stale()
    } else if get::<&str>(&row, "iccid")? != sim.iccid.as_str() {
        StoreError::InvalidInput { what: "iccid" }
    } else if get::<Uuid>(&row, "order_id")? != sim.order.as_uuid() {
        StoreError::InvalidInput { what: "sim order" }
    } else {
        // Every condition holds now: the row changed between the two statements.
        StoreError::stale()
    })
}

/// The rows of the export cursor: one range of the primary key. Parameters: organisation,
/// order, then the id to start after when given, then the limit.
fn csv_select(after: bool) -> &'static str {
    if after {
        "SELECT id, iccid, label, imsi, msisdn FROM sims \
         WHERE org_id = $1 AND order_id = $2 AND id > $3 ORDER BY id LIMIT $4"
    } else {
        "SELECT id, iccid, label, imsi, msisdn FROM sims \
         WHERE org_id = $1 AND order_id = $2 ORDER BY id LIMIT $3"
    }
}

/// The CSV rows of up to `batch` SIMs of an order after `after`, straight from the columns
/// (the values were validated when written), read through a server-side cursor over one
/// range of the primary key, [`CSV_FETCH`] rows at a time: memory in proportion to the
/// batch, never to the order.
async fn order_sims_csv_rows(
    c: &mut PgConnection,
    org: Uuid,
    order: Uuid,
    after: Option<Uuid>,
    batch: u32,
) -> StoreResult<SimCsvChunk> {
    let declare = format!(
        "DECLARE selfcare_order_sims_csv NO SCROLL CURSOR FOR {}",
        csv_select(after.is_some())
    );
    let mut query = sqlx::query(AssertSqlSafe(declare)).bind(org).bind(order);
    if let Some(after) = after {
        query = query.bind(after);
    }
    query = query.bind(i64::from(batch));
    query.execute(&mut *c).await.map_err(sql)?;
    let written = write_cursor_rows(c).await;
    // Closed on every way out, so the next chunk of this transaction can declare it again.
    // After a failed statement the transaction is aborted and the first error is the one
    // to report.
    let closed = sqlx::raw_sql("CLOSE selfcare_order_sims_csv")
        .execute(c)
        .await
        .map_err(sql);
    let chunk = written?;
    closed?;
    Ok(chunk)
}

/// Fetches the open export cursor to its end, writing each row as CSV.
async fn write_cursor_rows(c: &mut PgConnection) -> StoreResult<SimCsvChunk> {
    let io = |e: std::io::Error| StoreError::Internal {
        reason: format!("writing a CSV chunk in memory: {e}"),
    };
    let mut out = SimCsvWriter::continuing(Vec::new());
    let mut chunk = SimCsvChunk::default();
    loop {
        let mut fetched = 0usize;
        let mut rows = sqlx::query(CSV_FETCH_STATEMENT).fetch(&mut *c);
        while let Some(r) = rows.try_next().await.map_err(sql)? {
            // The columns of `csv_select`, by position.
            out.write_stored(
                get_at::<&str>(&r, 1, "iccid")?,
                get_at::<&str>(&r, 2, "label")?,
                get_at::<Option<&str>>(&r, 3, "imsi")?,
                get_at::<Option<&str>>(&r, 4, "msisdn")?,
            )
            .map_err(io)?;
            chunk.last = Some(SimId::from_uuid(get_at::<Uuid>(&r, 0, "id")?));
            chunk.rows = chunk.rows.saturating_add(1);
            fetched += 1;
        }
        if fetched < CSV_FETCH {
            break;
        }
    }
    chunk.bytes = out.finish().map_err(io)?;
    Ok(chunk)
}

// ---------------------------------------------------------------------------------------------
// Plans and provisioning requests.

/// A `(version, body)` row read back.
fn versioned_body<T: serde::de::DeserializeOwned>(
    row: &PgRow,
    what: &str,
) -> StoreResult<Versioned<T>> {
    Ok(Versioned {
        version: get_version(row, "version")?,
        value: from_body(get::<&[u8]>(row, "body")?, what)?,
    })
}

/// Whether the organisation's row `(org, id)` exists, by `statement` (`$1` org, `$2` id).
/// Why an `INSERT … WHERE EXISTS (parent) ON CONFLICT DO NOTHING` wrote nothing: the row
/// `(org, id)` found by `statement` is there already (`Duplicate` of `what`), else the parent
/// was missing (`NotFound`).
async fn refused_insert(
    c: &mut PgConnection,
    statement: &'static str,
    org: Uuid,
    id: Uuid,
    what: &'static str,
) -> StoreError {
    let found = sqlx::query(statement)
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await;
    match found {
        Ok(Some(_)) => StoreError::duplicate(what),
        Ok(None) => StoreError::NotFound,
        Err(e) => sql(e),
    }
}

async fn insert_plan_row(c: &mut PgConnection, org: Uuid, plan: &Plan) -> StoreResult<Version> {
    let id = plan.id().as_uuid();
    // Written only under an order of this organisation, and never over an existing id.
    let inserted = sqlx::query(
        "INSERT INTO plans (org_id, id, order_id, version, body)
         SELECT $1, $2, $3, $4, $5
         WHERE EXISTS (SELECT 1 FROM orders WHERE org_id = $1 AND id = $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(id)
    .bind(plan.order().as_uuid())
    .bind(version(Version::FIRST)?)
    .bind(body(plan)?)
    .execute(&mut *c)
    .await
    .map_err(sql)?
    .rows_affected();
    if inserted == 1 {
        return Ok(Version::FIRST);
    }
    Err(refused_insert(
        c,
        "SELECT 1 AS one FROM plans WHERE org_id = $1 AND id = $2",
        org,
        id,
        "plan",
    )
    .await)
}

async fn update_plan_row(
    c: &mut PgConnection,
    org: Uuid,
    plan: &Plan,
    expected: Version,
) -> StoreResult<Version> {
    let id = plan.id().as_uuid();
    let next = expected.next();
    // The plan's order never changes: a row with another is not written.
    let changed = sqlx::query(
        "UPDATE plans SET version = $1, body = $2
         WHERE org_id = $3 AND id = $4 AND version = $5 AND order_id = $6",
    )
    .bind(version(next)?)
    .bind(body(plan)?)
    .bind(org)
    .bind(id)
    .bind(version(expected)?)
    .bind(plan.order().as_uuid())
    .execute(&mut *c)
    .await
    .map_err(sql)?
    .rows_affected();
    if changed == 1 {
        return Ok(next);
    }
    let stored = sqlx::query("SELECT version, order_id FROM plans WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(sql)?;
    let Some(row) = stored else {
        return Err(StoreError::NotFound);
    };
    Err(
        if get::<i64>(&row, "version")? == version(expected)?
            && get::<Uuid>(&row, "order_id")? != plan.order().as_uuid()
        {
            StoreError::InvalidInput { what: "plan order" }
        } else {
            StoreError::stale()
        },
    )
}

async fn list_plan_rows(
    c: &mut PgConnection,
    org: Uuid,
    before: Option<Uuid>,
    limit: usize,
) -> StoreResult<Page<PlanRecord>> {
    // Newest first: a backward range of the primary key.
    const PLANS: Keyset = Keyset {
        first: "SELECT version, body FROM plans WHERE org_id = $1 ORDER BY id DESC LIMIT $2",
        after: "SELECT version, body FROM plans WHERE org_id = $1 AND id < $2
                ORDER BY id DESC LIMIT $3",
    };
    let rows = PLANS.rows(c, |q| q.bind(org), before, limit).await?;
    let out = rows
        .iter()
        .map(|r| versioned_body(r, "plan"))
        .collect::<StoreResult<Vec<PlanRecord>>>()?;
    Ok(page_of(out, limit, |p| id_cursor(p.value.id().as_uuid())))
}

fn state_text(state: ProvisioningState) -> StoreResult<String> {
    enum_text(&state)
}

async fn insert_provisioning_row(
    c: &mut PgConnection,
    org: Uuid,
    request: &ProvisioningRequest,
) -> StoreResult<Version> {
    let id = request.id.as_uuid();
    // Written only for a plan of this organisation, and never over an existing id.
    let inserted = sqlx::query(
        "INSERT INTO provisioning (org_id, id, plan_id, state, requested_at, version, body)
         SELECT $1, $2, $3, $4, $5, $6, $7
         WHERE EXISTS (SELECT 1 FROM plans WHERE org_id = $1 AND id = $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(id)
    .bind(request.plan.as_uuid())
    .bind(state_text(request.state)?)
    .bind(instant(request.requested_at)?)
    .bind(version(Version::FIRST)?)
    .bind(body(request)?)
    .execute(&mut *c)
    .await
    .map_err(sql)?
    .rows_affected();
    if inserted == 1 {
        return Ok(Version::FIRST);
    }
    Err(refused_insert(
        c,
        "SELECT 1 AS one FROM provisioning WHERE org_id = $1 AND id = $2",
        org,
        id,
        "provisioning",
    )
    .await)
}

async fn update_provisioning_row(
    c: &mut PgConnection,
    org: Uuid,
    request: &ProvisioningRequest,
    expected: Version,
) -> StoreResult<Version> {
    let id = request.id.as_uuid();
    let next = expected.next();
    let requested_at = instant(request.requested_at)?;
    // The plan and the time requested never change: a row with others is not written.
    let changed = sqlx::query(
        "UPDATE provisioning SET state = $1, version = $2, body = $3
         WHERE org_id = $4 AND id = $5 AND version = $6 AND plan_id = $7
             AND requested_at = $8",
    )
    .bind(state_text(request.state)?)
    .bind(version(next)?)
    .bind(body(request)?)
    .bind(org)
    .bind(id)
    .bind(version(expected)?)
    .bind(request.plan.as_uuid())
    .bind(requested_at)
    .execute(&mut *c)
    .await
    .map_err(sql)?
    .rows_affected();
    if changed == 1 {
        return Ok(next);
    }
    let stored = sqlx::query(
        "SELECT version, plan_id, requested_at FROM provisioning WHERE org_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(id)
    .fetch_optional(c)
    .await
    .map_err(sql)?;
    let Some(row) = stored else {
        return Err(StoreError::NotFound);
    };
    Err(if get::<i64>(&row, "version")? != version(expected)? {
        StoreError::stale()
    } else if get::<Uuid>(&row, "plan_id")? != request.plan.as_uuid() {
        StoreError::InvalidInput {
            what: "provisioning plan",
        }
    } else if get::<i64>(&row, "requested_at")? != requested_at {
        StoreError::InvalidInput {
            what: "requested_at",
        }
    } else {
        // Every condition holds now: the row changed between the two statements.
        StoreError::stale()
    })
}

#[async_trait]
impl SimsTx for PgTx {
    async fn insert_sims(&mut self, sims: Vec<Sim>) -> StoreResult<()> {
        if sims.is_empty() {
            return Ok(());
        }
        let org = self.org.as_uuid();
        let c = self.tx.conn();
        // The parents first (a batch is one order's SIMs, so usually one id).
        let orders: Vec<Uuid> = sims
            .iter()
            .map(|s| s.order.as_uuid())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if !orders_exist(c, org, &orders).await? {
            return Err(StoreError::NotFound);
        }
        insert_sim_rows(c, org, &sims).await
    }

    async fn sim(&mut self, id: SimId) -> StoreResult<Option<SimRecord>> {
        sqlx::query(
            "SELECT id, order_id, iccid, imsi, msisdn, label, status, tariff, plan_id,
                 auto_top_up, version
             FROM sims WHERE org_id = $1 AND id = $2",
        )
        .bind(self.org.as_uuid())
        .bind(id.as_uuid())
        .fetch_optional(self.tx.conn())
        .await
        .map_err(sql)?
        .as_ref()
        .map(sim_from_row)
        .transpose()
    }

    async fn update_sim(&mut self, sim: Sim, expected: Version) -> StoreResult<Version> {
        update_sim_row(self.tx.conn(), self.org.as_uuid(), &sim, expected).await
    }

    async fn list_sims(
        &mut self,
        filter: &SimFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<SimRecord>> {
        let limit = page.checked_limit()?;
        let after = id_after(page)?;
        let rows = query_sims(
            self.tx.conn(),
            self.org.as_uuid(),
            filter.order,
            filter.status,
            after,
            fetch_limit(limit),
        )
        .await?;
        Ok(page_of(rows, limit, |s| id_cursor(s.value.id.as_uuid())))
    }

    async fn order_sims(
        &mut self,
        order: OrderId,
        after: Option<SimId>,
        batch: u32,
    ) -> StoreResult<Vec<SimRecord>> {
        let batch = checked_count(batch, "batch")?;
        // The list by order: a range of the primary key.
        query_sims(
            self.tx.conn(),
            self.org.as_uuid(),
            Some(order),
            None,
            after.map(|a| a.as_uuid()),
            batch,
        )
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
        order_sims_csv_rows(
            self.tx.conn(),
            self.org.as_uuid(),
            order.as_uuid(),
            after.map(|a| a.as_uuid()),
            batch,
        )
        .await
    }

    async fn insert_plan(&mut self, plan: Plan) -> StoreResult<Version> {
        insert_plan_row(self.tx.conn(), self.org.as_uuid(), &plan).await
    }

    async fn plan(&mut self, id: PlanId) -> StoreResult<Option<PlanRecord>> {
        sqlx::query("SELECT version, body FROM plans WHERE org_id = $1 AND id = $2")
            .bind(self.org.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(self.tx.conn())
            .await
            .map_err(sql)?
            .map(|row| versioned_body(&row, "plan"))
            .transpose()
    }

    async fn update_plan(&mut self, plan: Plan, expected: Version) -> StoreResult<Version> {
        update_plan_row(self.tx.conn(), self.org.as_uuid(), &plan, expected).await
    }

    async fn list_plans(&mut self, page: &PageRequest) -> StoreResult<Page<PlanRecord>> {
        let limit = page.checked_limit()?;
        let before = id_after(page)?;
        list_plan_rows(self.tx.conn(), self.org.as_uuid(), before, limit).await
    }

    async fn insert_provisioning(&mut self, request: ProvisioningRequest) -> StoreResult<Version> {
        insert_provisioning_row(self.tx.conn(), self.org.as_uuid(), &request).await
    }

    async fn provisioning(
        &mut self,
        id: ProvisioningId,
    ) -> StoreResult<Option<ProvisioningRecord>> {
        sqlx::query("SELECT version, body FROM provisioning WHERE org_id = $1 AND id = $2")
            .bind(self.org.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(self.tx.conn())
            .await
            .map_err(sql)?
            .map(|row| versioned_body(&row, "provisioning request"))
            .transpose()
    }

    async fn update_provisioning(
        &mut self,
        request: ProvisioningRequest,
        expected: Version,
    ) -> StoreResult<Version> {
        update_provisioning_row(self.tx.conn(), self.org.as_uuid(), &request, expected).await
    }
}

#[async_trait]
impl SimsProvider for PgProviderTx {
    async fn pending_provisioning_before(
        &mut self,
        cutoff: OffsetDateTime,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, ProvisioningId, OffsetDateTime)>> {
        let max = checked_count(max, "max")?;
        // A range of `provisioning_due` (state, requested_at, org_id, id), in its order.
        let rows = sqlx::query(
            "SELECT org_id, id, requested_at FROM provisioning
             WHERE state = $1 AND requested_at <= $2
             ORDER BY requested_at, org_id, id LIMIT $3",
        )
        .bind(state_text(ProvisioningState::Pending)?)
        .bind(instant(cutoff)?)
        .bind(max)
        .fetch_all(self.tx.conn())
        .await
        .map_err(sql)?;
        rows.iter()
            .map(|r| {
                Ok((
                    OrgId::from_uuid(get::<Uuid>(r, "org_id")?),
                    ProvisioningId::from_uuid(get::<Uuid>(r, "id")?),
                    get_instant(r, "requested_at")?,
                ))
            })
            .collect()
    }
}

#[async_trait]
impl SimsLookup for PgStore {
    async fn sim_by_iccid(&self, iccid: &Iccid) -> StoreResult<Option<(OrgId, SimId)>> {
        let mut tx = self.connections.lookup().await?;
        let row = sqlx::query("SELECT org_id, id FROM sims WHERE iccid = $1")
            .bind(iccid.as_str())
            .fetch_optional(tx.conn())
            .await
            .map_err(sql)?;
        tx.commit().await?;
        row.map(|r| {
            Ok((
                OrgId::from_uuid(get::<Uuid>(&r, "org_id")?),
                SimId::from_uuid(get::<Uuid>(&r, "id")?),
            ))
        })
        .transpose()
    }

    async fn provisioning_by_id(&self, id: ProvisioningId) -> StoreResult<Option<(OrgId, PlanId)>> {
        let mut tx = self.connections.lookup().await?;
        let row = sqlx::query("SELECT org_id, plan_id FROM provisioning WHERE id = $1 LIMIT 1")
            .bind(id.as_uuid())
            .fetch_optional(tx.conn())
            .await
            .map_err(sql)?;
        tx.commit().await?;
        row.map(|r| {
            Ok((
                OrgId::from_uuid(get::<Uuid>(&r, "org_id")?),
                PlanId::from_uuid(get::<Uuid>(&r, "plan_id")?),
            ))
        })
        .transpose()
    }
}

#[cfg(all(test, feature = "testing"))]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    use sqlx::{Connection, Row};

    use crate::connection::{Scope, quote_ident};
    use crate::testing::TestDatabase;

    fn id_bytes(tag: u8, n: u32) -> [u8; 10] {
        let [a, b, c, d] = n.to_be_bytes();
        [tag, a, b, c, d, 0x5a, 0xa5, tag, 1, 2]
    }

    fn at(n: u32) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
            + time::Duration::days(20_000)
            + time::Duration::seconds(n.into())
    }

    /// The plan of `statement` with `binds` (uuids, then text, then the limit), one line.
    async fn plan_of(
        c: &mut PgConnection,
        statement: &str,
        binds: &[Uuid],
        status: Option<&str>,
    ) -> String {
        let mut query = sqlx::query(AssertSqlSafe(format!("EXPLAIN (COSTS OFF) {statement}")));
        for b in binds {
            query = query.bind(*b);
        }
        if let Some(status) = status {
            query = query.bind(status.to_owned());
        }
        let rows = query.bind(101_i64).fetch_all(c).await.unwrap();
        rows.iter()
            .map(|r| r.get::<String, _>(0))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// ORD-3's export and every SIM list are one index range each, never a sort or a scan of
    /// the table, on a table of several orders with its statistics gathered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ord_3_sim_lists_are_index_ranges() {
        let Some(db) = TestDatabase::from_env("ord_3_sim_lists_are_index_ranges") else {
            return;
        };
        let schema = db.fresh_schema().await.unwrap();
        let store = PgStore::open(
            &db.app_url,
            crate::PgConfig::default()
                .with_schema(schema.clone())
                .with_migrate(false),
        )
        .await
        .unwrap();
        let org = OrgId::new(at(0), id_bytes(1, 0));
        let mut tx = store.connections.begin(Scope::Org(org)).await.unwrap();
        let orders: Vec<OrderId> = (0..10)
            .map(|n| OrderId::new(at(n), id_bytes(2, n)))
            .collect();
        for (n, order) in orders.iter().enumerate() {
            sqlx::query(
                "INSERT INTO orders (org_id, id, number, placed_at, gross_minor, currency,
                     version, body)
                 VALUES ($1, $2, $3, 0, 0, 'EUR', 1, '\\x7b7d')",
            )
            .bind(org.as_uuid())
            .bind(order.as_uuid())
            .bind(i64::try_from(n).unwrap())
            .execute(tx.conn())
            .await
            .unwrap();
            let sims: Vec<Sim> = (0..2_000)
                .map(|k| {
                    let k = u32::try_from(n).unwrap() * 2_000 + k;
                    Sim {
                        id: SimId::new(at(k), id_bytes(3, k)),
                        iccid: Iccid::from_payload(&format!("8988228{k:011}")).unwrap(),
                        imsi: None,
                        msisdn: None,
                        label: SimLabel::empty(),
                        status: if k.is_multiple_of(2) {
                            SimStatus::Enabled
                        } else {
                            SimStatus::Disabled
                        },
                        order: *order,
                        billing: SimBilling::Tariff { code: "IOT".into() },
                        auto_top_up: false,
                    }
                })
                .collect();
            insert_sim_rows(tx.conn(), org.as_uuid(), &sims)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
        let mut owner = PgConnection::connect(&db.owner_url).await.unwrap();
        sqlx::raw_sql(AssertSqlSafe(format!(
            "ANALYZE {}.sims",
            quote_ident(&schema)
        )))
        .execute(&mut owner)
        .await
        .unwrap();

        let mut tx = store.connections.begin(Scope::Org(org)).await.unwrap();
        let (org, order) = (org.as_uuid(), orders[4].as_uuid());
        let after = SimId::new(at(8_100), id_bytes(3, 8_100)).as_uuid();
        let cases = [
            (
                csv_select(true).to_owned(),
                vec![org, order, after],
                None,
                "sims_pkey",
            ),
            (
                csv_select(false).to_owned(),
                vec![org, order],
                None,
                "sims_pkey",
            ),
            (
                list_statement(true, false, true),
                vec![org, order, after],
                None,
                "sims_pkey",
            ),
            (
                list_statement(true, false, false),
                vec![org, order],
                None,
                "sims_pkey",
            ),
            (
                list_statement(true, true, false),
                vec![org, order],
                Some("enabled"),
                "sims_pkey",
            ),
            (
                list_statement(false, true, false),
                vec![org],
                Some("enabled"),
                "sims_by_status",
            ),
            (
                list_statement(false, false, true),
                vec![org, after],
                None,
                "sims_by_id",
            ),
            (
                list_statement(false, false, false),
                vec![org],
                None,
                "sims_by_id",
            ),
        ];
        for (statement, uuids, status, index) in cases {
            // A status binds after the uuids, so the cases with a status have no id bound.
            let plan = plan_of(tx.conn(), &statement, &uuids, status).await;
            assert!(
                plan.contains(&format!("Index Scan using {index}")),
                "{statement}:\n{plan}"
            );
            assert!(!plan.contains("Sort"), "{statement}:\n{plan}");
        }
    }
}
