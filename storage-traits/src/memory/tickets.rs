//! The in-memory store's ticket tables: tickets, their messages, and the provider's index.

use std::collections::BTreeMap;
use std::ops::Bound;

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, TicketId, TicketMessageId};
use selfcare_core::roles::Department;
use selfcare_core::tickets::TicketStatus;
use time::OffsetDateTime;

use super::{CursorKey, MemoryProviderTx, MemoryTx, OrgTable, page_descending, rows_of};
use crate::error::{StoreError, StoreResult};
use crate::page::{Cursor, Page, PageRequest};
use crate::tickets::{
    DueTicket, StaffQueueEntry, TicketMessageRecord, TicketRecord, TicketsProvider, TicketsTx,
};
use crate::version::{Version, Versioned};

/// What the provider sees of a ticket: no subject, no message.
#[derive(Debug, Clone)]
struct QueueRow {
    department: Department,
    status: TicketStatus,
    updated_at: OffsetDateTime,
    resolved_at: Option<OffsetDateTime>,
}

impl QueueRow {
    fn of(ticket: &TicketRecord) -> Self {
        QueueRow {
            department: ticket.department,
            status: ticket.status,
            updated_at: ticket.updated_at,
            resolved_at: ticket.resolved_at,
        }
    }
}

/// The ticket tables.
#[derive(Debug, Default)]
pub(crate) struct State {
    tickets: OrgTable<TicketId, Versioned<TicketRecord>>,
    /// Keyed by ticket first, so one ticket's messages are one range, in id order.
    messages: OrgTable<(TicketId, TicketMessageId), TicketMessageRecord>,
    /// The provider's view of every ticket of every organisation, kept in step with `tickets`
    /// (a SQL store reads the tickets table through its provider indexes instead).
    queue: BTreeMap<(TicketId, OrgId), QueueRow>,
}

/// Collects at most `limit` rows that `row` maps to `Some`, with a cursor at the last one when
/// more follow.
fn collect<'a, K: 'a, V: 'a, T>(
    rows: impl Iterator<Item = (&'a K, &'a V)>,
    limit: usize,
    row: impl Fn(&K, &V) -> Option<T>,
    cursor: impl Fn(&K) -> String,
) -> Page<T> {
    let mut items = Vec::new();
    let mut last = None;
    let mut more = false;
    for (k, v) in rows {
        let Some(item) = row(k, v) else { continue };
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(item);
        last = Some(k);
    }
    let next = if more {
        last.map(|k| Cursor::new(cursor(k)))
    } else {
        None
    };
    Page { items, next }
}

fn queue_cursor(key: &(TicketId, OrgId)) -> String {
    format!("{}.{}", key.0.encode(), key.1.encode())
}

fn decode_queue_cursor(cursor: Option<&Cursor>) -> StoreResult<Option<(TicketId, OrgId)>> {
    let Some(cursor) = cursor else {
        return Ok(None);
    };
    cursor
        .as_str()
        .split_once('.')
        .and_then(|(t, o)| Some((TicketId::decode(t)?, OrgId::decode(o)?)))
        .map(Some)
        .ok_or(StoreError::InvalidInput { what: "cursor" })
}

/// A page of the provider index, ticket id ascending, keeping the rows `row` maps to `Some`.
fn queue_page<T>(
    queue: &BTreeMap<(TicketId, OrgId), QueueRow>,
    page: &PageRequest,
    row: impl Fn(&(TicketId, OrgId), &QueueRow) -> Option<T>,
) -> StoreResult<Page<T>> {
    let limit = page.checked_limit()?;
    let rows = match decode_queue_cursor(page.after.as_ref())? {
        Some(after) => queue.range((Bound::Excluded(after), Bound::Unbounded)),
        None => queue.range(..),
    };
    Ok(collect(rows, limit, row, queue_cursor))
}

impl MemoryTx {
    fn ticket(&self, id: TicketId) -> Option<&Versioned<TicketRecord>> {
        self.inner
            .tickets
            .tickets
            .get(&self.org)
            .and_then(|rows| rows.get(&id))
    }

    fn store_ticket(&mut self, ticket: TicketRecord, version: Version) {
        let id = ticket.id;
        self.inner.put(
            |s| &mut s.tickets.queue,
            (id, self.org),
            QueueRow::of(&ticket),
        );
        let row = Versioned {
            value: ticket,
            version,
        };
        self.inner
            .put_in(|s| &mut s.tickets.tickets, self.org, id, row);
    }
}

#[async_trait]
impl TicketsTx for MemoryTx {
    async fn insert_ticket(&mut self, ticket: TicketRecord) -> StoreResult<Version> {
        if self.ticket(ticket.id).is_some() {
            return Err(StoreError::duplicate("ticket"));
        }
        self.store_ticket(ticket, Version::FIRST);
        Ok(Version::FIRST)
    }

    async fn get_ticket(&mut self, id: TicketId) -> StoreResult<Option<Versioned<TicketRecord>>> {
        Ok(self.ticket(id).cloned())
    }

    async fn update_ticket(
        &mut self,
        ticket: TicketRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let stored = self.ticket(ticket.id).ok_or(StoreError::NotFound)?;
        if stored.version != expected {
            return Err(StoreError::stale());
        }
        let version = expected.next();
        self.store_ticket(ticket, version);
        Ok(version)
    }

    async fn list_tickets(
        &mut self,
        status: Option<TicketStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Versioned<TicketRecord>>> {
        page_descending(
            rows_of(&self.inner.tickets.tickets, self.org),
            page,
            |_, row| status.is_none_or(|s| row.value.status == s),
            |_, row| row.clone(),
        )
    }

    async fn insert_ticket_message(&mut self, message: TicketMessageRecord) -> StoreResult<()> {
        if self.ticket(message.ticket).is_none() {
            return Err(StoreError::NotFound);
        }
        let key = (message.ticket, message.id);
        let exists = self
            .inner
            .tickets
            .messages
            .get(&self.org)
            .is_some_and(|rows| rows.contains_key(&key));
        if exists {
            return Err(StoreError::duplicate("ticket_message"));
        }
        self.inner
            .put_in(|s| &mut s.tickets.messages, self.org, key, message);
        Ok(())
    }

    async fn ticket_messages(
        &mut self,
        ticket: TicketId,
        page: &PageRequest,
    ) -> StoreResult<Page<TicketMessageRecord>> {
        let limit = page.checked_limit()?;
        let after = page
            .after
            .as_ref()
            .map(|c| {
                TicketMessageId::decode(c.as_str())
                    .ok_or(StoreError::InvalidInput { what: "cursor" })
            })
            .transpose()?;
        if self.ticket(ticket).is_none() {
            return Err(StoreError::NotFound);
        }
        let Some(rows) = rows_of(&self.inner.tickets.messages, self.org) else {
            return Ok(Page::empty());
        };
        let start = match after {
            Some(id) => Bound::Excluded((ticket, id)),
            None => Bound::Included((ticket, TicketMessageId::from_uuid(uuid::Uuid::nil()))),
        };
        let range = rows
            .range((start, Bound::Unbounded))
            .take_while(|((t, _), _)| *t == ticket);
        Ok(collect(
            range,
            limit,
            |_, m| Some(m.clone()),
            |(_, id)| id.encode(),
        ))
    }
}

#[async_trait]
impl TicketsProvider for MemoryProviderTx {
    async fn staff_ticket_queue(
        &mut self,
        departments: &[Department],
        statuses: &[TicketStatus],
        page: &PageRequest,
    ) -> StoreResult<Page<StaffQueueEntry>> {
        queue_page(&self.inner.tickets.queue, page, |(ticket, org), row| {
            (departments.contains(&row.department) && statuses.contains(&row.status)).then_some(
                StaffQueueEntry {
                    org: *org,
                    ticket: *ticket,
                    department: row.department,
                    status: row.status,
                    updated_at: row.updated_at,
                },
            )
        })
    }

    async fn resolved_tickets_due(
        &mut self,
        resolved_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueTicket>> {
        queue_page(&self.inner.tickets.queue, page, |(ticket, org), row| {
            let resolved_at = row.resolved_at?;
            (row.status == TicketStatus::Resolved && resolved_at <= resolved_before).then_some(
                DueTicket {
                    org: *org,
                    ticket: *ticket,
                    resolved_at,
                },
            )
        })
    }
}
