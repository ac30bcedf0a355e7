//! Support tickets and their messages (TKT-1, TKT-2).
//!
//! A ticket is its JSON body beside the columns the lists read: department, status and the
//! times. The organisation's list runs on the primary key (newest first) or on
//! `(org_id, status, id)`; the staff queue reads one range of `(department, status, id,
//! org_id)` per asked pair and merges them; the automatic close reads `(status, resolved_at)`.
//! Provider reads never touch the body, so they carry no subject and no message.

use std::collections::BTreeSet;

use async_trait::async_trait;
use rusqlite::{Connection, params};
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
use time::OffsetDateTime;
use uuid::Uuid;

use crate::codec::{body, from_body, id_bytes, instant, instant_from, version, version_from};
use crate::columns::*;
use crate::error::{is_foreign_key_violation, is_unique_violation, sql};
use crate::pages::*;
use crate::rows::stale_or_missing;
use crate::{SqliteProviderTx, SqliteTx};

const TABLE: &str = "tickets";

/// The lower bound of a walk over `(id, org_id)` from the start.
const FROM_START: [u8; 0] = BEFORE_EVERY_ID;

fn versioned_ticket(r: &rusqlite::Row<'_>) -> StoreResult<Versioned<TicketRecord>> {
    Ok(Versioned {
        version: version_from(col_int(r, 0, "tickets.version")?)?,
        value: from_body(col_blob(r, 1, "tickets.body")?, "ticket")?,
    })
}

fn ticket_exists(c: &Connection, org: Uuid, id: Uuid) -> StoreResult<bool> {
    let mut stmt = c
        .prepare_cached("SELECT 1 FROM tickets WHERE org_id = ?1 AND id = ?2")
        .map_err(sql)?;
    stmt.exists(params![id_bytes(org), id_bytes(id)])
        .map_err(sql)
}

fn insert_ticket_row(c: &Connection, org: Uuid, t: &TicketRecord) -> StoreResult<Version> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO tickets (org_id, id, department, status, resolved_at, updated_at, \
             version, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(sql)?
        .execute(params![
            id_bytes(org),
            id_bytes(t.id.as_uuid()),
            enum_text(&t.department)?,
            enum_text(&t.status)?,
            opt_instant(t.resolved_at)?,
            instant(t.updated_at)?,
            version(Version::FIRST)?,
            body(t)?,
        ]);
    match inserted {
        Ok(_) => Ok(Version::FIRST),
        Err(e) if is_unique_violation(&e) => Err(StoreError::duplicate("ticket")),
        Err(e) => Err(sql(e)),
    }
}

fn update_ticket_row(
    c: &Connection,
    org: Uuid,
    t: &TicketRecord,
    expected: Version,
) -> StoreResult<Version> {
    let next = expected.next();
    let id = t.id.as_uuid();
    let changed = c
        .prepare_cached(
            "UPDATE tickets SET department = ?1, status = ?2, resolved_at = ?3, updated_at = ?4, \
             version = ?5, body = ?6 WHERE org_id = ?7 AND id = ?8 AND version = ?9",
        )
        .map_err(sql)?
        .execute(params![
            enum_text(&t.department)?,
            enum_text(&t.status)?,
            opt_instant(t.resolved_at)?,
            instant(t.updated_at)?,
            version(next)?,
            body(t)?,
            id_bytes(org),
            id_bytes(id),
            version(expected)?,
        ])
        .map_err(sql)?;
    if changed == 1 {
        Ok(next)
    } else {
        Err(stale_or_missing(c, TABLE, org, id))
    }
}

fn list_ticket_rows(
    c: &Connection,
    org: Uuid,
    status: Option<TicketStatus>,
    before: Option<Uuid>,
    limit: usize,
) -> StoreResult<Page<Versioned<TicketRecord>>> {
    let before: Vec<u8> = before.map_or_else(|| AFTER_EVERY_ID.to_vec(), |b| id_bytes(b).to_vec());
    let org = id_bytes(org);
    let fetch = fetch_limit(limit);
    let mut stmt;
    let mut rows = match status {
        Some(status) => {
            stmt = c
                .prepare_cached(
                    "SELECT version, body FROM tickets INDEXED BY tickets_by_status \
                     WHERE org_id = ?1 AND status = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4",
                )
                .map_err(sql)?;
            stmt.query(params![org, enum_text(&status)?, before, fetch])
                .map_err(sql)?
        }
        None => {
            stmt = c
                .prepare_cached(
                    "SELECT version, body FROM tickets \
                     WHERE org_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3",
                )
                .map_err(sql)?;
            stmt.query(params![org, before, fetch]).map_err(sql)?
        }
    };
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(sql)? {
        out.push(versioned_ticket(r)?);
    }
    Ok(page_of(out, limit, |t| id_cursor(t.value.id.as_uuid())))
}

fn insert_message_row(c: &Connection, org: Uuid, m: &TicketMessageRecord) -> StoreResult<()> {
    if !ticket_exists(c, org, m.ticket.as_uuid())? {
        return Err(StoreError::NotFound);
    }
    let inserted = c
        .prepare_cached(
            "INSERT INTO ticket_messages (org_id, ticket_id, id, body) VALUES (?1, ?2, ?3, ?4)",
        )
        .map_err(sql)?
        .execute(params![
            id_bytes(org),
            id_bytes(m.ticket.as_uuid()),
            id_bytes(m.id.as_uuid()),
            body(m)?,
        ]);
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::duplicate("ticket_message")),
        Err(e) if is_foreign_key_violation(&e) => Err(StoreError::NotFound),
        Err(e) => Err(sql(e)),
    }
}

fn message_rows(
    c: &Connection,
    org: Uuid,
    ticket: Uuid,
    after: Option<Uuid>,
    limit: usize,
) -> StoreResult<Page<TicketMessageRecord>> {
    if !ticket_exists(c, org, ticket)? {
        return Err(StoreError::NotFound);
    }
    let after: Vec<u8> = after.map_or_else(|| BEFORE_EVERY_ID.to_vec(), |a| id_bytes(a).to_vec());
    let mut stmt = c
        .prepare_cached(
            "SELECT body FROM ticket_messages WHERE org_id = ?1 AND ticket_id = ?2 AND id > ?3 \
             ORDER BY id LIMIT ?4",
        )
        .map_err(sql)?;
    let mut rows = stmt
        .query(params![
            id_bytes(org),
            id_bytes(ticket),
            after,
            fetch_limit(limit)
        ])
        .map_err(sql)?;
    let mut out: Vec<TicketMessageRecord> = Vec::new();
    while let Some(r) = rows.next().map_err(sql)? {
        out.push(from_body(
            col_blob(r, 0, "ticket_messages.body")?,
            "ticket message",
        )?);
    }
    Ok(page_of(out, limit, |m| id_cursor(m.id.as_uuid())))
}

/// The `(id, org_id)` bounds of a provider walk after `after`.
fn walk_after(after: Option<(Uuid, Uuid)>) -> (Vec<u8>, Vec<u8>) {
    match after {
        Some((id, org)) => (id_bytes(id).to_vec(), id_bytes(org).to_vec()),
        None => (FROM_START.to_vec(), FROM_START.to_vec()),
    }
}

fn staff_queue_rows(
    c: &Connection,
    departments: &BTreeSet<String>,
    statuses: &BTreeSet<String>,
    after: Option<(Uuid, Uuid)>,
    limit: usize,
) -> StoreResult<Page<StaffQueueEntry>> {
    let (after_id, after_org) = walk_after(after);
    let fetch = fetch_limit(limit);
    let mut stmt = c
        .prepare_cached(
            "SELECT id, org_id, department, status, updated_at \
             FROM tickets INDEXED BY tickets_staff_queue \
             WHERE department = ?1 AND status = ?2 AND (id, org_id) > (?3, ?4) \
             ORDER BY id, org_id LIMIT ?5",
        )
        .map_err(sql)?;
    // One index range per (department, status), each in (id, org) order, merged: each range
    // reads at most a page and a row, whatever the queue's depth.
    let mut merged: Vec<((Uuid, Uuid), StaffQueueEntry)> = Vec::new();
    for department in departments {
        for status in statuses {
            let mut rows = stmt
                .query(params![department, status, after_id, after_org, fetch])
                .map_err(sql)?;
            while let Some(r) = rows.next().map_err(sql)? {
                let ticket = col_uuid(r, 0, "tickets.id")?;
                let org = col_uuid(r, 1, "tickets.org_id")?;
                merged.push((
                    (ticket, org),
                    StaffQueueEntry {
                        org: OrgId::from_uuid(org),
                        ticket: TicketId::from_uuid(ticket),
                        department: enum_from(col_text(r, 2, "tickets.department")?, "department")?,
                        status: enum_from(col_text(r, 3, "tickets.status")?, "ticket status")?,
                        updated_at: instant_from(col_int(r, 4, "tickets.updated_at")?)?,
                    },
                ));
            }
        }
    }
    merged.sort_by_key(|(key, _)| *key);
    merged.truncate(limit.saturating_add(1));
    let entries: Vec<StaffQueueEntry> = merged.into_iter().map(|(_, e)| e).collect();
    Ok(page_of(entries, limit, |e| {
        pair_cursor(e.ticket.as_uuid(), e.org.as_uuid())
    }))
}

fn resolved_due_rows(
    c: &Connection,
    resolved_before: i64,
    after: Option<(Uuid, Uuid)>,
    limit: usize,
) -> StoreResult<Page<DueTicket>> {
    let (after_id, after_org) = walk_after(after);
    let mut stmt = c
        .prepare_cached(
            "SELECT id, org_id, resolved_at FROM tickets INDEXED BY tickets_resolved \
             WHERE status = ?1 AND resolved_at <= ?2 AND (id, org_id) > (?3, ?4) \
             ORDER BY id, org_id LIMIT ?5",
        )
        .map_err(sql)?;
    let mut rows = stmt
        .query(params![
            enum_text(&TicketStatus::Resolved)?,
            resolved_before,
            after_id,
            after_org,
            fetch_limit(limit)
        ])
        .map_err(sql)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(sql)? {
        let resolved_at =
            col_opt_instant(r, 2, "tickets.resolved_at")?.ok_or_else(|| StoreError::Corrupt {
                what: "a resolved ticket without resolved_at".into(),
            })?;
        out.push(DueTicket {
            ticket: TicketId::from_uuid(col_uuid(r, 0, "tickets.id")?),
            org: OrgId::from_uuid(col_uuid(r, 1, "tickets.org_id")?),
            resolved_at,
        });
    }
    Ok(page_of(out, limit, |d| {
        pair_cursor(d.ticket.as_uuid(), d.org.as_uuid())
    }))
}

#[async_trait]
impl TicketsTx for SqliteTx {
    async fn insert_ticket(&mut self, ticket: TicketRecord) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| insert_ticket_row(c, org, &ticket))
            .await
    }

    async fn get_ticket(&mut self, id: TicketId) -> StoreResult<Option<Versioned<TicketRecord>>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT version, body FROM tickets WHERE org_id = ?1 AND id = ?2",
                    )
                    .map_err(sql)?;
                let mut rows = stmt
                    .query(params![id_bytes(org), id_bytes(id.as_uuid())])
                    .map_err(sql)?;
                match rows.next().map_err(sql)? {
                    Some(r) => versioned_ticket(r).map(Some),
                    None => Ok(None),
                }
            })
            .await
    }

    async fn update_ticket(
        &mut self,
        ticket: TicketRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| update_ticket_row(c, org, &ticket, expected))
            .await
    }

    async fn list_tickets(
        &mut self,
        status: Option<TicketStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Versioned<TicketRecord>>> {
        let limit = page.checked_limit()?;
        let before = id_after(page)?;
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| list_ticket_rows(c, org, status, before, limit))
            .await
    }

    async fn insert_ticket_message(&mut self, message: TicketMessageRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| insert_message_row(c, org, &message))
            .await
    }

    async fn ticket_messages(
        &mut self,
        ticket: TicketId,
        page: &PageRequest,
    ) -> StoreResult<Page<TicketMessageRecord>> {
        // The page first, so a bad page request is `InvalidInput` even for an unknown ticket.
        let limit = page.checked_limit()?;
        let after = id_after(page)?;
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| message_rows(c, org, ticket.as_uuid(), after, limit))
            .await
    }
}

#[async_trait]
impl TicketsProvider for SqliteProviderTx {
    async fn staff_ticket_queue(
        &mut self,
        departments: &[Department],
        statuses: &[TicketStatus],
        page: &PageRequest,
    ) -> StoreResult<Page<StaffQueueEntry>> {
        let limit = page.checked_limit()?;
        let after = pair_after(page)?;
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
        self.conn
            .call(move |c| staff_queue_rows(c, &departments, &statuses, after, limit))
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
        self.conn
            .call(move |c| resolved_due_rows(c, resolved_before, after, limit))
            .await
    }
}
