//! The in-memory store's ticket tables: tickets, their messages, and the provider's index.

use std::collections::BTreeMap;

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, TicketId, TicketMessageId};
use selfcare_core::roles::Department;
use selfcare_core::tickets::TicketStatus;
use time::OffsetDateTime;

use super::{
    MemoryProviderTx, MemoryTx, OrgTable, next_version, page_ascending, page_descending,
    page_within, rows_of, vacant,
};
use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
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
        self.inner
            .put_versioned_in(|s| &mut s.tickets.tickets, self.org, id, ticket, version);
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
        let version = next_version(self.ticket(ticket.id), expected)?;
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
            |_, row| {
                status
                    .is_none_or(|s| row.value.status == s)
                    .then(|| row.clone())
            },
        )
    }

    async fn insert_ticket_message(&mut self, message: TicketMessageRecord) -> StoreResult<()> {
        if self.ticket(message.ticket).is_none() {
            return Err(StoreError::NotFound);
        }
        let key = (message.ticket, message.id);
        vacant(
            rows_of(&self.inner.tickets.messages, self.org),
            &key,
            "ticket_message",
        )?;
        self.inner
            .put_in(|s| &mut s.tickets.messages, self.org, key, message);
        Ok(())
    }

    async fn ticket_messages(
        &mut self,
        ticket: TicketId,
        page: &PageRequest,
    ) -> StoreResult<Page<TicketMessageRecord>> {
        // The page first, so a bad page request is `InvalidInput` even for an unknown ticket.
        let messages = page_within(
            rows_of(&self.inner.tickets.messages, self.org),
            ticket,
            TicketMessageId::from_uuid(uuid::Uuid::nil()),
            page,
            |_, m| Some(m.clone()),
        )?;
        if self.ticket(ticket).is_none() {
            return Err(StoreError::NotFound);
        }
        Ok(messages)
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
        page_ascending(
            Some(&self.inner.tickets.queue),
            page,
            |&(ticket, org), row| {
                (departments.contains(&row.department) && statuses.contains(&row.status)).then_some(
                    StaffQueueEntry {
                        org,
                        ticket,
                        department: row.department,
                        status: row.status,
                        updated_at: row.updated_at,
                    },
                )
            },
        )
    }

    async fn resolved_tickets_due(
        &mut self,
        resolved_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueTicket>> {
        page_ascending(
            Some(&self.inner.tickets.queue),
            page,
            |&(ticket, org), row| {
                let resolved_at = row.resolved_at?;
                (row.status == TicketStatus::Resolved && resolved_at <= resolved_before).then_some(
                    DueTicket {
                        org,
                        ticket,
                        resolved_at,
                    },
                )
            },
        )
    }
}
