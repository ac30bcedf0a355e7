//! Storage of support tickets and their messages (TKT-1, TKT-2).
//!
//! Tickets are versioned aggregates of one organisation; messages (replies and staff-internal
//! notes) are insert-only rows under their ticket. The provider reads the staff queues by
//! department and the resolved tickets due for the automatic close: ids, statuses and times,
//! never subjects or message bodies.

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, TicketId, TicketMessageId, UserId};
use selfcare_core::roles::Department;
use selfcare_core::tickets::{TicketMessage, TicketReference, TicketStatus};
use time::OffsetDateTime;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::version::{Version, Versioned};

/// A support ticket (TKT-1). The subject and description were validated by
/// `selfcare_core::tickets::NewTicket` when the ticket was opened.
///
/// Primary key `(org_id, id)`; org-scoped index `(org_id, status, id)` for the filtered list;
/// provider indexes `(department, status, id)` (staff queues) and `(status, resolved_at)` (the
/// automatic close).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketRecord {
    /// The ticket (UUID v7: newer tickets have greater ids).
    pub id: TicketId,
    /// The customer user who opened it.
    pub opened_by: UserId,
    /// The department that handles it.
    pub department: Department,
    /// The one-line subject.
    pub subject: String,
    /// The description.
    pub description: String,
    /// The order, SIM or plan it is about.
    pub reference: Option<TicketReference>,
    /// Where it stands in the TKT-1 status machine.
    pub status: TicketStatus,
    /// When it was last resolved (the 14-day reopen window and the automatic close run from it).
    #[serde(default, with = "selfcare_core::formats::instant::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// When it was opened.
    #[serde(with = "selfcare_core::formats::instant")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "selfcare_core::formats::instant")]
    pub updated_at: OffsetDateTime,
}

/// One message on a ticket: a reply, or a staff-internal note (TKT-2). Insert-only.
///
/// Primary key `(org_id, ticket_id, id)`; listed by id, which is the order of writing.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketMessageRecord {
    /// The message (UUID v7: later messages have greater ids).
    pub id: TicketMessageId,
    /// The ticket it belongs to.
    pub ticket: TicketId,
    /// Author, body and whether it is internal.
    pub message: TicketMessage,
    /// When it was written.
    #[serde(with = "selfcare_core::formats::instant")]
    pub at: OffsetDateTime,
}

/// One row of a staff queue: which ticket, where, and how it stands. No subject, no body: staff
/// open the ticket itself in its organisation's scope.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffQueueEntry {
    /// The organisation the ticket belongs to.
    pub org: OrgId,
    /// The ticket.
    pub ticket: TicketId,
    /// Its department.
    pub department: Department,
    /// Its status.
    pub status: TicketStatus,
    /// When it last changed.
    #[serde(with = "selfcare_core::formats::instant")]
    pub updated_at: OffsetDateTime,
}

/// A resolved ticket due for the automatic close (TKT-1).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DueTicket {
    /// The organisation the ticket belongs to.
    pub org: OrgId,
    /// The ticket.
    pub ticket: TicketId,
    /// When it was resolved.
    #[serde(with = "selfcare_core::formats::instant")]
    pub resolved_at: OffsetDateTime,
}

/// Organisation-scoped operations on tickets and messages, inside an
/// [`crate::OrgTransaction`].
#[async_trait]
pub trait TicketsTx: Send {
    /// Inserts a ticket at [`Version::FIRST`].
    ///
    /// It MUST return `Conflict(Duplicate { what: "ticket" })` and change nothing when this
    /// organisation has a ticket with that id already.
    ///
    /// # Errors
    /// `Conflict(Duplicate)` as above; `Retryable`, `Unavailable`.
    async fn insert_ticket(&mut self, ticket: TicketRecord) -> StoreResult<Version>;

    /// The ticket `id` with its version.
    ///
    /// It MUST return `None` when this organisation has no ticket `id` (also when another
    /// organisation has).
    ///
    /// # Errors
    /// `Retryable`, `Unavailable`; `Corrupt` when the stored row no longer parses.
    async fn get_ticket(&mut self, id: TicketId) -> StoreResult<Option<Versioned<TicketRecord>>>;

    /// Replaces the ticket `ticket.id` when its stored version is `expected`, and returns the new
    /// version (`expected.next()`).
    ///
    /// It MUST return `NotFound` when this organisation has no such ticket and
    /// `Conflict(StaleVersion)` leaving the ticket unchanged when the stored version differs
    /// from `expected`. The provider reads MUST see the new department, status and times after
    /// commit.
    ///
    /// # Errors
    /// `NotFound`, `Conflict(StaleVersion)` as above; `Retryable`, `Unavailable`.
    async fn update_ticket(
        &mut self,
        ticket: TicketRecord,
        expected: Version,
    ) -> StoreResult<Version>;

    /// The organisation's tickets, newest first (id descending), only those in `status` when it
    /// is given.
    ///
    /// It MUST NOT return another organisation's tickets, MUST return every matching ticket
    /// exactly once across the pages of a walk (tickets inserted during the walk may or may not
    /// appear), and MUST return `InvalidInput` for a limit outside 1..=500 or a foreign cursor.
    ///
    /// # Errors
    /// `InvalidInput` as above; `Retryable`, `Unavailable`.
    async fn list_tickets(
        &mut self,
        status: Option<TicketStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Versioned<TicketRecord>>>;

    /// Adds a message to its ticket. Messages are never changed or deleted.
    ///
    /// It MUST return `NotFound` when this organisation has no ticket `message.ticket`, and
    /// `Conflict(Duplicate { what: "ticket_message" })` keeping the first message when the
    /// ticket has a message with that id already.
    ///
    /// # Errors
    /// `NotFound`, `Conflict(Duplicate)` as above; `Retryable`, `Unavailable`.
    async fn insert_ticket_message(&mut self, message: TicketMessageRecord) -> StoreResult<()>;

    /// The messages of `ticket`, oldest first (id ascending), internal notes included (the sdk
    /// filters them for customers).
    ///
    /// It MUST return `NotFound` when this organisation has no ticket `ticket`, MUST return
    /// only that ticket's messages, each exactly once across the pages of a walk, and MUST
    /// return `InvalidInput` for a limit outside 1..=500 or a foreign cursor.
    ///
    /// # Errors
    /// `NotFound`, `InvalidInput` as above; `Retryable`, `Unavailable`.
    async fn ticket_messages(
        &mut self,
        ticket: TicketId,
        page: &PageRequest,
    ) -> StoreResult<Page<TicketMessageRecord>>;
}

/// Provider-scoped reads of tickets (ids, statuses and times), inside a
/// [`crate::ProviderTransaction`].
#[async_trait]
pub trait TicketsProvider: Send {
    /// The staff queue: tickets of every organisation whose department is in `departments` and
    /// whose status is in `statuses`, oldest first (ticket id ascending).
    ///
    /// It MUST NOT return a ticket of another department or status (empty slices give an empty
    /// page), MUST return committed changes of department and status, MUST return every
    /// matching ticket exactly once across the pages of a walk, and MUST return `InvalidInput`
    /// for a limit outside 1..=500 or a foreign cursor. Rows carry no subject and no message.
    ///
    /// # Errors
    /// `InvalidInput` as above; `Retryable`, `Unavailable`.
    async fn staff_ticket_queue(
        &mut self,
        departments: &[Department],
        statuses: &[TicketStatus],
        page: &PageRequest,
    ) -> StoreResult<Page<StaffQueueEntry>>;

    /// Tickets of every organisation that are `Resolved` with `resolved_at <= resolved_before`
    /// (the sdk passes `now - 14 days`), ticket id ascending.
    ///
    /// It MUST NOT return a ticket in another status or resolved after `resolved_before`, MUST
    /// return every due ticket exactly once across the pages of a walk, and MUST return
    /// `InvalidInput` for a limit outside 1..=500 or a foreign cursor.
    ///
    /// # Errors
    /// `InvalidInput` as above; `Retryable`, `Unavailable`.
    async fn resolved_tickets_due(
        &mut self,
        resolved_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueTicket>>;
}
