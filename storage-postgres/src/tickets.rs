//! Support tickets and their messages (TKT-1, TKT-2).
//!
//! A ticket is its JSON body beside the columns the lists read: department, status and the
//! times. The organisation's list runs on the primary key (newest first) or on
//! `(org_id, status, id)`; the staff queue reads one range of `(department, status, id,
//! org_id)` per asked pair (a lateral join over the pairs) and merges them; the automatic
//! close reads `(status, resolved_at)`. Provider reads never touch the body, so they carry no
//! subject and no message.

use std::collections::BTreeSet;

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, TicketId};
use selfcare_core::roles::Department;
use selfcare_core::tickets::TicketStatus;
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::tickets::{
    DueTicket, StaffQueueEntry, TicketMessageRecord, TicketRecord, TicketsProvider, TicketsTx,
};
use selfcare_storage::version::{Version, Versioned};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::columns::{
    body, enum_from, enum_text, fetch_limit, from_body, get, get_instant, get_opt_instant,
    get_version, id_after, id_cursor, instant, opt_instant, page_of, pair_after, pair_cursor,
    version,
};
use crate::error::{is_foreign_key_violation, sql};
use crate::lists::Keyset;
use crate::{PgProviderTx, PgTx};

fn versioned_ticket(r: &PgRow) -> StoreResult<Versioned<TicketRecord>> {
    Ok(Versioned {
        version: get_version(r, "version")?,
        value: from_body(&get::<Vec<u8>>(r, "body")?, "ticket")?,
    })
}

async fn ticket_exists(c: &mut PgConnection, org: Uuid, id: Uuid) -> StoreResult<bool> {
    Ok(
        sqlx::query("SELECT 1 FROM tickets WHERE org_id = $1 AND id = $2")
            .bind(org)
            .bind(id)
            .fetch_optional(c)
            .await
            .map_err(sql)?
            .is_some(),
    )
}

async fn insert_ticket_row(
    c: &mut PgConnection,
    org: Uuid,
    t: &TicketRecord,
) -> StoreResult<Version> {
    // A taken id is a row count of 0, not a failed statement: the transaction goes on.
    let inserted = sqlx::query(
        "INSERT INTO tickets (org_id, id, department, status, resolved_at, updated_at,
             version, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(t.id.as_uuid())
    .bind(enum_text(&t.department)?)
    .bind(enum_text(&t.status)?)
    .bind(opt_instant(t.resolved_at)?)
    .bind(instant(t.updated_at)?)
    .bind(version(Version::FIRST)?)
    .bind(body(t)?)
    .execute(c)
    .await
    .map_err(sql)?;
    if inserted.rows_affected() == 1 {
        Ok(Version::FIRST)
    } else {
        Err(StoreError::duplicate("ticket"))
    }
}

async fn update_ticket_row(
    c: &mut PgConnection,
    org: Uuid,
    t: &TicketRecord,
    expected: Version,
) -> StoreResult<Version> {
    let next = expected.next();
    let id = t.id.as_uuid();
    let changed = sqlx::query(
        "UPDATE tickets SET department = $1, status = $2, resolved_at = $3, updated_at = $4,
             version = $5, body = $6
         WHERE org_id = $7 AND id = $8 AND version = $9",
    )
    .bind(enum_text(&t.department)?)
    .bind(enum_text(&t.status)?)
    .bind(opt_instant(t.resolved_at)?)
    .bind(instant(t.updated_at)?)
    .bind(version(next)?)
    .bind(body(t)?)
    .bind(org)
    .bind(id)
    .bind(version(expected)?)
    .execute(&mut *c)
    .await
    .map_err(sql)?;
    if changed.rows_affected() == 1 {
        Ok(next)
    } else if ticket_exists(c, org, id).await? {
        Err(StoreError::stale())
    } else {
        Err(StoreError::NotFound)
    }
}

async fn list_ticket_rows(
    c: &mut PgConnection,
    org: Uuid,
    status: Option<TicketStatus>,
    before: Option<Uuid>,
    limit: usize,
) -> StoreResult<Page<Versioned<TicketRecord>>> {
    // Newest first: a backward walk of `(org_id, status, id)` or of the primary key.
    const BY_STATUS: Keyset = Keyset {
        first: "SELECT version, body FROM tickets
                WHERE org_id = $1 AND status = $2 ORDER BY id DESC LIMIT $3",
        after: "SELECT version, body FROM tickets
                WHERE org_id = $1 AND status = $2 AND id < $3 ORDER BY id DESC LIMIT $4",
    };
    const ALL: Keyset = Keyset {
        first: "SELECT version, body FROM tickets WHERE org_id = $1 ORDER BY id DESC LIMIT $2",
        after: "SELECT version, body FROM tickets
                WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
    };
    let rows = match status {
        Some(status) => {
            let status = enum_text(&status)?;
            BY_STATUS
                .rows(c, |q| q.bind(org).bind(status), before, limit)
                .await?
        }
        None => ALL.rows(c, |q| q.bind(org), before, limit).await?,
    };
    let out = rows
        .iter()
        .map(versioned_ticket)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(page_of(out, limit, |t| id_cursor(t.value.id.as_uuid())))
}

async fn insert_message_row(
    c: &mut PgConnection,
    org: Uuid,
    m: &TicketMessageRecord,
) -> StoreResult<()> {
    // Checked first, so a missing ticket is `NotFound` without a failed statement (which
    // would abort the transaction); the foreign key stays the second wall.
    if !ticket_exists(&mut *c, org, m.ticket.as_uuid()).await? {
        return Err(StoreError::NotFound);
    }
    let inserted = sqlx::query(
        "INSERT INTO ticket_messages (org_id, ticket_id, id, body) VALUES ($1, $2, $3, $4)
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(m.ticket.as_uuid())
    .bind(m.id.as_uuid())
    .bind(body(m)?)
    .execute(c)
    .await;
    match inserted {
        Ok(done) if done.rows_affected() == 1 => Ok(()),
        Ok(_) => Err(StoreError::duplicate("ticket_message")),
        Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
        Err(e) => Err(sql(e)),
    }
}

async fn message_rows(
    c: &mut PgConnection,
    org: Uuid,
    ticket: Uuid,
    after: Option<Uuid>,
    limit: usize,
) -> StoreResult<Page<TicketMessageRecord>> {
    if !ticket_exists(&mut *c, org, ticket).await? {
        return Err(StoreError::NotFound);
    }
    const MESSAGES: Keyset = Keyset {
        first: "SELECT body FROM ticket_messages
                WHERE org_id = $1 AND ticket_id = $2 ORDER BY id LIMIT $3",
        after: "SELECT body FROM ticket_messages
                WHERE org_id = $1 AND ticket_id = $2 AND id > $3 ORDER BY id LIMIT $4",
    };
    let rows = MESSAGES
        .rows(c, |q| q.bind(org).bind(ticket), after, limit)
        .await?;
    let out = rows
        .iter()
        .map(|r| from_body(&get::<Vec<u8>>(r, "body")?, "ticket message"))
        .collect::<StoreResult<Vec<TicketMessageRecord>>>()?;
    Ok(page_of(out, limit, |m| id_cursor(m.id.as_uuid())))
}

fn queue_entry(r: &PgRow) -> StoreResult<StaffQueueEntry> {
    Ok(StaffQueueEntry {
        org: OrgId::from_uuid(get::<Uuid>(r, "org_id")?),
        ticket: TicketId::from_uuid(get::<Uuid>(r, "id")?),
        department: enum_from(&get::<String>(r, "department")?, "department")?,
        status: enum_from(&get::<String>(r, "status")?, "ticket status")?,
        updated_at: get_instant(r, "updated_at")?,
    })
}

async fn staff_queue_rows(
    c: &mut PgConnection,
    departments: Vec<String>,
    statuses: Vec<String>,
    after: Option<(Uuid, Uuid)>,
    limit: usize,
) -> StoreResult<Page<StaffQueueEntry>> {
    let fetch = fetch_limit(limit);
    // One index range per (department, status), each in (id, org) order and cut at a page and
    // a row, merged: the read is bounded by the pairs asked, whatever the queues' depth.
    let rows = match after {
        Some((id, org)) => {
            sqlx::query(
                "SELECT q.id, q.org_id, q.department, q.status, q.updated_at
                 FROM UNNEST($1::text[]) AS d(department)
                 CROSS JOIN UNNEST($2::text[]) AS s(status)
                 CROSS JOIN LATERAL (
                     SELECT t.id, t.org_id, t.department, t.status, t.updated_at FROM tickets t
                     WHERE t.department = d.department AND t.status = s.status
                       AND (t.id, t.org_id) > ($3, $4)
                     ORDER BY t.id, t.org_id LIMIT $5
                 ) AS q
                 ORDER BY q.id, q.org_id LIMIT $5",
            )
            .bind(departments)
            .bind(statuses)
            .bind(id)
            .bind(org)
            .bind(fetch)
            .fetch_all(c)
            .await
        }
        None => {
            sqlx::query(
                "SELECT q.id, q.org_id, q.department, q.status, q.updated_at
                 FROM UNNEST($1::text[]) AS d(department)
                 CROSS JOIN UNNEST($2::text[]) AS s(status)
                 CROSS JOIN LATERAL (
                     SELECT t.id, t.org_id, t.department, t.status, t.updated_at FROM tickets t
                     WHERE t.department = d.department AND t.status = s.status
                     ORDER BY t.id, t.org_id LIMIT $3
                 ) AS q
                 ORDER BY q.id, q.org_id LIMIT $3",
            )
            .bind(departments)
            .bind(statuses)
            .bind(fetch)
            .fetch_all(c)
            .await
        }
    }
    .map_err(sql)?;
    let entries = rows
        .iter()
        .map(queue_entry)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(page_of(entries, limit, |e| {
        pair_cursor(e.ticket.as_uuid(), e.org.as_uuid())
    }))
}

async fn resolved_due_rows(
    c: &mut PgConnection,
    resolved_before: i64,
    after: Option<(Uuid, Uuid)>,
    limit: usize,
) -> StoreResult<Page<DueTicket>> {
    let resolved = enum_text(&TicketStatus::Resolved)?;
    let fetch = fetch_limit(limit);
    let rows = match after {
        Some((id, org)) => {
            sqlx::query(
                "SELECT id, org_id, resolved_at FROM tickets
                 WHERE status = $1 AND resolved_at <= $2 AND (id, org_id) > ($3, $4)
                 ORDER BY id, org_id LIMIT $5",
            )
            .bind(resolved)
            .bind(resolved_before)
            .bind(id)
            .bind(org)
            .bind(fetch)
            .fetch_all(c)
            .await
        }
        None => {
            sqlx::query(
                "SELECT id, org_id, resolved_at FROM tickets
                 WHERE status = $1 AND resolved_at <= $2
                 ORDER BY id, org_id LIMIT $3",
            )
            .bind(resolved)
            .bind(resolved_before)
            .bind(fetch)
            .fetch_all(c)
            .await
        }
    }
    .map_err(sql)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let resolved_at =
            get_opt_instant(r, "resolved_at")?.ok_or_else(|| StoreError::Corrupt {
                what: "a resolved ticket without resolved_at".into(),
            })?;
        out.push(DueTicket {
            ticket: TicketId::from_uuid(get::<Uuid>(r, "id")?),
            org: OrgId::from_uuid(get::<Uuid>(r, "org_id")?),
            resolved_at,
        });
    }
    Ok(page_of(out, limit, |d| {
        pair_cursor(d.ticket.as_uuid(), d.org.as_uuid())
    }))
}

#[async_trait]
impl TicketsTx for PgTx {
    async fn insert_ticket(&mut self, ticket: TicketRecord) -> StoreResult<Version> {
        insert_ticket_row(self.tx.conn(), self.org.as_uuid(), &ticket).await
    }

    async fn get_ticket(&mut self, id: TicketId) -> StoreResult<Option<Versioned<TicketRecord>>> {
        sqlx::query("SELECT version, body FROM tickets WHERE org_id = $1 AND id = $2")
            .bind(self.org.as_uuid())
            .bind(id.as_uuid())
            .fetch_optional(self.tx.conn())
            .await
            .map_err(sql)?
            .as_ref()
            .map(versioned_ticket)
            .transpose()
    }

    async fn update_ticket(
        &mut self,
        ticket: TicketRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        update_ticket_row(self.tx.conn(), self.org.as_uuid(), &ticket, expected).await
    }

    async fn list_tickets(
        &mut self,
        status: Option<TicketStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Versioned<TicketRecord>>> {
        let limit = page.checked_limit()?;
        let before = id_after(page)?;
        list_ticket_rows(self.tx.conn(), self.org.as_uuid(), status, before, limit).await
    }

    async fn insert_ticket_message(&mut self, message: TicketMessageRecord) -> StoreResult<()> {
        insert_message_row(self.tx.conn(), self.org.as_uuid(), &message).await
    }

    async fn ticket_messages(
        &mut self,
        ticket: TicketId,
        page: &PageRequest,
    ) -> StoreResult<Page<TicketMessageRecord>> {
        // The page first, so a bad page request is `InvalidInput` even for an unknown ticket.
        let limit = page.checked_limit()?;
        let after = id_after(page)?;
        message_rows(
            self.tx.conn(),
            self.org.as_uuid(),
            ticket.as_uuid(),
            after,
            limit,
        )
        .await
    }
}

#[async_trait]
impl TicketsProvider for PgProviderTx {
    async fn staff_ticket_queue(
        &mut self,
        departments: &[Department],
        statuses: &[TicketStatus],
        page: &PageRequest,
    ) -> StoreResult<Page<StaffQueueEntry>> {
        let limit = page.checked_limit()?;
        let after = pair_after(page)?;
        // Each pair once, so no ticket is read twice.
        let departments = departments
            .iter()
            .map(enum_text)
            .collect::<StoreResult<BTreeSet<String>>>()?;
        let statuses = statuses
            .iter()
            .map(enum_text)
            .collect::<StoreResult<BTreeSet<String>>>()?;
        if departments.is_empty() || statuses.is_empty() {
            return Ok(Page::empty());
        }
        staff_queue_rows(
            self.tx.conn(),
            departments.into_iter().collect(),
            statuses.into_iter().collect(),
            after,
            limit,
        )
        .await
    }

    async fn resolved_tickets_due(
        &mut self,
        resolved_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueTicket>> {
        let limit = page.checked_limit()?;
        let after = pair_after(page)?;
        let resolved_before = instant(resolved_before)?;
        resolved_due_rows(self.tx.conn(), resolved_before, after, limit).await
    }
}
