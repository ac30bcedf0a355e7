//! Support tickets on the customer side (TKT-1, TKT-2, USR-4): list, read, create, reply,
//! close. Who may do what and how a ticket's status moves are decided in
//! `selfcare_core::tickets`; staff-internal notes are never shown here (TKT-2).
//!
//! Choices where the rules are silent:
//! - a ticket's reference (order, SIM, plan) must name an object of the organisation; anything
//!   else is `NotFound`, as for any other organisation's object (USR-5);
//! - a customer sees that support wrote a message, not which staff member
//!   ([`TicketMessageAuthor::Support`]): the staff identity is the provider's SSO identity.

use selfcare_core::audit::{AuditActor, AuditEventName, Outcome};
use selfcare_core::ids::{SimId, TicketId, TicketMessageId, UserId};
use selfcare_core::policy::{Action, Actor};
use selfcare_core::roles::Department;
use selfcare_core::tickets::{
    NewTicket, TicketAuthor, TicketEvent, TicketMessage, TicketParty, TicketReference,
    TicketStatus, check_create_ticket, customer_view, transition,
};
use selfcare_storage::page::MAX_PAGE;
use selfcare_storage::tickets::{TicketMessageRecord, TicketRecord};
use selfcare_storage::{OrgTransaction, Page, PageRequest, Versioned};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::portal::{Attempt, fields, target};
use crate::session::Session;

/// A ticket as a customer sees it in a list.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketSummary {
    /// The ticket.
    pub id: TicketId,
    /// The user who opened it.
    pub opened_by: UserId,
    /// The department that handles it.
    pub department: Department,
    /// The one-line subject.
    pub subject: String,
    /// The order, SIM or plan it is about.
    pub reference: Option<TicketReference>,
    /// Where it stands (TKT-1).
    pub status: TicketStatus,
    /// When it was last resolved.
    #[serde(default, with = "selfcare_core::formats::instant::option")]
    pub resolved_at: Option<OffsetDateTime>,
    /// When it was opened.
    #[serde(with = "selfcare_core::formats::instant")]
    pub created_at: OffsetDateTime,
    /// When it last changed.
    #[serde(with = "selfcare_core::formats::instant")]
    pub updated_at: OffsetDateTime,
}

impl From<TicketRecord> for TicketSummary {
    fn from(t: TicketRecord) -> Self {
        TicketSummary {
            id: t.id,
            opened_by: t.opened_by,
            department: t.department,
            subject: t.subject,
            reference: t.reference,
            status: t.status,
            resolved_at: t.resolved_at,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// One ticket with its description and the messages a customer sees (TKT-2: no internal
/// notes).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketView {
    /// The ticket's list fields.
    pub ticket: TicketSummary,
    /// The description given when it was opened.
    pub description: String,
    /// The replies, oldest first.
    pub messages: Vec<TicketMessageView>,
}

/// Who wrote a message, as a customer sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "author",
    content = "id",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum TicketMessageAuthor {
    /// A user of the organisation.
    Customer(UserId),
    /// The provider's support (which staff member is not shown).
    Support,
    /// The provider's system (e.g. the automatic close).
    System,
}

/// One message of a ticket as a customer sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketMessageView {
    /// The message.
    pub id: TicketMessageId,
    /// Who wrote it.
    pub author: TicketMessageAuthor,
    /// The text.
    pub body: String,
    /// When it was written.
    #[serde(with = "selfcare_core::formats::instant")]
    pub at: OffsetDateTime,
}

impl TicketMessageView {
    fn of(record: &TicketMessageRecord, message: &TicketMessage) -> Self {
        TicketMessageView {
            id: record.id,
            author: match message.author() {
                TicketAuthor::Customer(id) => TicketMessageAuthor::Customer(*id),
                TicketAuthor::Staff(_) => TicketMessageAuthor::Support,
                TicketAuthor::System => TicketMessageAuthor::System,
            },
            body: message.body().to_owned(),
            at: record.at,
        }
    }
}

impl Session {
    /// The organisation's tickets, newest first, only those in `status` when given (TKT-2).
    ///
    /// # Errors
    /// `PermissionDenied` for an ApiUser; `Validation` for a page limit outside 1..=500 or a
    /// cursor of another list; `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn tickets(
        &self,
        status: Option<TicketStatus>,
        page: &PageRequest,
    ) -> Result<Page<TicketSummary>> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewTickets).await?;
            let listed = tx.list_tickets(status, page).await?;
            Ok(Page {
                items: listed
                    .items
                    .into_iter()
                    .map(|t| TicketSummary::from(t.value))
                    .collect(),
                next: listed.next,
            })
        })
        .await
    }

    /// One ticket of the organisation with the messages a customer sees: staff-internal notes
    /// are never included (TKT-2).
    ///
    /// # Errors
    /// `NotFound` for an unknown ticket or another organisation's (USR-5); `PermissionDenied`
    /// for an ApiUser; `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn ticket(&self, id: TicketId) -> Result<TicketView> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewTickets).await?;
            let ticket = tx.get_ticket(id).await?.ok_or(Error::NotFound)?.value;
            let records = all_messages(tx.as_mut(), id).await?;
            let bodies: Vec<TicketMessage> = records.iter().map(|r| r.message.clone()).collect();
            // `customer_view` keeps the order, so one walk pairs each shown message with
            // its record.
            let mut shown = customer_view(&bodies).into_iter().peekable();
            let messages = records
                .iter()
                .zip(&bodies)
                .filter(|(_, m)| shown.next_if(|s| std::ptr::eq(*s, *m)).is_some())
                .map(|(r, m)| TicketMessageView::of(r, m))
                .collect();
            Ok(TicketView {
                description: ticket.description.clone(),
                ticket: TicketSummary::from(ticket),
                messages,
            })
        })
        .await
    }

    /// Opens a ticket (TKT-1); User and above may (TKT-2). Its reference, when given, must be
    /// an order, SIM or plan of the organisation.
    ///
    /// # Errors
    /// `PermissionDenied` for ReadOnly and ApiUser; `NotFound` for a reference to an unknown
    /// object or another organisation's; `Unauthenticated(SessionExpired)`; `Unavailable`.
    /// The fields themselves were checked when `new` was built ([`NewTicket::new`]).
    pub async fn create_ticket(&self, new: &NewTicket) -> Result<TicketSummary> {
        let portal = self.portal();
        // The SIM lookup is global: done before the transaction, judged inside it.
        let sim = match new.reference() {
            Some(TicketReference::Sim(iccid)) => Some(portal.store().sim_by_iccid(iccid).await?),
            _ => None,
        };
        let now = portal.now();
        let id = TicketId::new(now, portal.random()?);
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::CreateTicket).await?;
            check_create_ticket(actor.role)?;
            check_reference(tx.as_mut(), self, new.reference(), sim.flatten()).await?;
            let record = TicketRecord {
                id,
                opened_by: actor.user,
                department: new.department(),
                subject: new.subject().to_owned(),
                description: new.description().to_owned(),
                reference: new.reference().cloned(),
                status: TicketStatus::Open,
                resolved_at: None,
                created_at: now,
                updated_at: now,
            };
            tx.insert_ticket(record.clone()).await?;
            let mut changed = vec!["department", "subject", "description", "status"];
            if new.reference().is_some() {
                changed.push("reference");
            }
            self.audit_ticket(
                tx.as_mut(),
                &actor,
                AuditEventName::TicketCreated,
                id,
                &changed,
            )
            .await?;
            tx.commit().await?;
            Ok(TicketSummary::from(record))
        })
        .await
    }

    /// Adds a customer reply to a ticket (TKT-1): a ticket waiting for the customer goes back
    /// to `InProgress`, a `Resolved` one is reopened within 14 days of its resolution.
    ///
    /// # Errors
    /// `Validation` on `body` (required, at most 10 000 characters); `NotFound` for an unknown
    /// ticket or another organisation's; `PermissionDenied` for ReadOnly and ApiUser;
    /// `Conflict` with `ticket_reopen_window_passed` 14 days after the resolution or
    /// `illegal_ticket_transition` on a closed ticket; `Unauthenticated(SessionExpired)`;
    /// `Unavailable`.
    pub async fn reply_ticket(&self, id: TicketId, body: &str) -> Result<TicketSummary> {
        let portal = self.portal();
        let now = portal.now();
        let message_id = TicketMessageId::new(now, portal.random()?);
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::ReplyTicket).await?;
            let message = TicketMessage::new(TicketAuthor::Customer(actor.user), body, false)?;
            let current = tx.get_ticket(id).await?.ok_or(Error::NotFound)?;
            let before = current.value.status;
            let record = self
                .move_ticket(
                    tx.as_mut(),
                    &actor,
                    current,
                    TicketEvent::CustomerReply,
                    now,
                )
                .await?;
            tx.insert_ticket_message(TicketMessageRecord {
                id: message_id,
                ticket: id,
                message,
                at: now,
            })
            .await?;
            let changed: &[&str] = if record.status == before {
                &["messages"]
            } else {
                &["messages", "status"]
            };
            self.audit_ticket(
                tx.as_mut(),
                &actor,
                AuditEventName::TicketReplied,
                id,
                changed,
            )
            .await?;
            tx.commit().await?;
            Ok(TicketSummary::from(record))
        })
        .await
    }

    /// Closes a ticket (TKT-1): an open one by the customer who opened it, an Owner or an
    /// Admin; a resolved one by any customer who may reply.
    ///
    /// # Errors
    /// `NotFound` for an unknown ticket or another organisation's; `PermissionDenied`
    /// (`ticket_opener_owner_or_admin_only`, or the role's denial for ReadOnly and ApiUser);
    /// `Conflict(illegal_ticket_transition)` on a closed ticket;
    /// `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn close_ticket(&self, id: TicketId) -> Result<TicketSummary> {
        let portal = self.portal();
        let now = portal.now();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::CloseTicket).await?;
            let current = tx.get_ticket(id).await?.ok_or(Error::NotFound)?;
            let record = self
                .move_ticket(tx.as_mut(), &actor, current, TicketEvent::Close, now)
                .await?;
            self.audit_ticket(
                tx.as_mut(),
                &actor,
                AuditEventName::TicketClosed,
                id,
                &["status"],
            )
            .await?;
            tx.commit().await?;
            Ok(TicketSummary::from(record))
        })
        .await
    }

    /// Applies `event` by this customer to `current` through the TKT-1 machine and writes the
    /// ticket back at the version read.
    async fn move_ticket(
        &self,
        tx: &mut dyn OrgTransaction,
        actor: &Actor,
        current: Versioned<TicketRecord>,
        event: TicketEvent,
        now: OffsetDateTime,
    ) -> std::result::Result<TicketRecord, Attempt> {
        let Versioned {
            value: mut ticket,
            version,
        } = current;
        let who = TicketParty::Customer {
            is_opener: ticket.opened_by == actor.user,
            role: actor.role,
        };
        ticket.status = transition(ticket.status, event, who, ticket.resolved_at, now)?;
        ticket.updated_at = now;
        tx.update_ticket(ticket.clone(), version).await?;
        Ok(ticket)
    }

    async fn audit_ticket(
        &self,
        tx: &mut dyn OrgTransaction,
        actor: &Actor,
        name: AuditEventName,
        id: TicketId,
        changed: &[&str],
    ) -> std::result::Result<(), Attempt> {
        let portal = self.portal();
        let mut event = portal.audit_event(
            Some(self.org()),
            AuditActor::User { id: actor.user },
            actor.channel,
            name,
            target("ticket", id)?,
            Outcome::Success,
        )?;
        event.changed_fields = fields(changed)?;
        portal.audit(tx, event).await
    }
}

/// Every message of `ticket`, oldest first, walking the store's pages.
async fn all_messages(
    tx: &mut dyn OrgTransaction,
    ticket: TicketId,
) -> std::result::Result<Vec<TicketMessageRecord>, Attempt> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(MAX_PAGE);
    loop {
        let got = tx.ticket_messages(ticket, &page).await?;
        out.extend(got.items);
        match got.next {
            Some(cursor) => page = PageRequest::after(cursor, MAX_PAGE),
            None => return Ok(out),
        }
    }
}

/// Checks that a ticket's reference names an object of the session's organisation; `sim` is
/// what the global ICCID lookup found before the transaction.
async fn check_reference(
    tx: &mut dyn OrgTransaction,
    session: &Session,
    reference: Option<&TicketReference>,
    sim: Option<(selfcare_core::ids::OrgId, SimId)>,
) -> std::result::Result<(), Attempt> {
    let found = match reference {
        None => true,
        Some(TicketReference::Order(id)) => tx.order(*id).await?.is_some(),
        Some(TicketReference::Plan(id)) => tx.plan(*id).await?.is_some(),
        Some(TicketReference::Sim(_)) => match sim {
            Some((org, id)) if org == session.org() => tx.sim(id).await?.is_some(),
            _ => false,
        },
    };
    if found {
        Ok(())
    } else {
        Err(Attempt::Fail(Error::NotFound))
    }
}
