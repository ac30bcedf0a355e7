//! Provider staff (STF-1): the [`StaffSession`] a host opens for a staff identity its own SSO
//! authenticated ([`Portal::staff`]). Which staff role may do what is decided in
//! `selfcare_core::policy` (`decide_staff`); every action is audited with the staff identity
//! as actor, and a refused one is written to the provider's audit chain in a transaction of its
//! own (AUD-1).
//!
//! Staff work in a customer's organisation: the organisation is found from the order number
//! (or given, for tickets, users and customer data) BEFORE its transaction opens, and the change
//! runs in that organisation's transaction with its audit entry and outbox messages.
//!
//! Choices where the rules are silent:
//! - `assign_sims` validates every row first (a bad row is `Validation` naming `rows[i].<field>`),
//!   checks every ICCID against the store and the other rows (`Conflict(sim_in_use)`), then
//!   inserts ALL rows in ONE transaction (in store batches of [`SIM_BATCH`] rows inside it): an
//!   assignment is all or nothing, whatever its size; a retry of the same rows after a success
//!   is `Conflict(sim_in_use)`.
//! - `activate_plan` creates the plan's SIM row too (billed by the plan), or binds a SIM already
//!   assigned to the same order without a plan; an ICCID used anywhere else is `Conflict`.
//! - `refund` needs the gateway's charge id for a card order, because a stored order does not
//!   record it; an order paid on invoice gets the credit note only (the money goes back by bank
//!   transfer outside the portal). A repeated refund with the same credit-note number and
//!   amounts returns the first credit note without calling the gateway again.
//! - Ticket replies by staff notify the ticket's opener (TicketReply) unless internal.

use selfcare_core::ReasonCode;
use selfcare_core::audit::{AuditActor, AuditEvent, AuditEventName, AuditNote, Outcome, StaffId};
use selfcare_core::customer::{Customer, LegalFieldChange};
use selfcare_core::ids::{
    DocumentId, OrderId, OrgId, PlanId, ShipmentId, SimId, TicketId, TicketMessageId, UserId,
};
use selfcare_core::notifications::{NotificationKind, Params};
use selfcare_core::numbers::{Iccid, Imsi, Msisdn};
use selfcare_core::orders::{
    DocumentFile, DocumentKind, DocumentTrail, IdempotencyKey, Invoice, InvoiceNumber, NewDocument,
    NewInvoice, Order, OrderNumber, OrderStatus, OrderTotals, Shipment, ShipmentStatus,
    TrackingLink, TrackingNumber,
};
use selfcare_core::plans::Plan;
use selfcare_core::policy::{
    StaffAction, StaffActor, UserChange, authorize_legal_field_change, decide_staff, last_owner,
};
use selfcare_core::roles::{Channel, Department, Role};
use selfcare_core::sims::{Sim, SimBilling, SimLabel, SimStatus};
use selfcare_core::tickets::{TicketAuthor, TicketEvent, TicketMessage, TicketParty, transition};
use selfcare_storage::orders::OrderDocument;
use selfcare_storage::page::MAX_PAGE;
use selfcare_storage::ports::{RefundOutcome, RefundRequest};
use selfcare_storage::tickets::{StaffQueueEntry, TicketMessageRecord, TicketRecord};
use selfcare_storage::{OrgTransaction, Page, PageRequest, Versioned};
use time::Date;

use crate::error::{Error, Result};
use crate::portal::{Attempt, Portal, fields, target};
use crate::tickets::TicketSummary;

/// How many SIM rows go to the store in one `insert_sims` call (all inside one transaction).
pub const SIM_BATCH: usize = 1_000;

impl Portal {
    /// A staff session for `identity`, which the host authenticated (its SSO) and built with
    /// [`StaffActor::new`] (STF-1). Each call checks the staff role it needs and writes the
    /// identity to the audit log (AUD-1).
    pub fn staff(&self, identity: StaffActor) -> StaffSession {
        StaffSession {
            portal: self.clone(),
            audit_id: identity.audit_id().clone(),
            staff: identity,
        }
    }
}

/// Provider staff acting on customers' data with their staff roles (STF-1).
#[derive(Debug, Clone)]
pub struct StaffSession {
    portal: Portal,
    staff: StaffActor,
    audit_id: StaffId,
}

/// One SIM to assign to an order (SIM-1, SIM-2), as the warehouse lists it.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimRow {
    /// The ICCID (spaces and trailing `F` padding allowed).
    pub iccid: String,
    /// The IMSI, if known.
    pub imsi: Option<String>,
    /// The MSISDN, if the SIM has a number.
    pub msisdn: Option<String>,
    /// A label (at most 64 characters).
    pub label: Option<String>,
    /// The catalogue's product code of the IoT tariff the SIM is billed by.
    pub tariff: String,
}

/// What `assign_sims` did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignedSims {
    /// The order.
    pub order: OrderId,
    /// The new SIMs' ids, in the order of the rows.
    pub sims: Vec<SimId>,
}

/// A shipment to add to an order (ORD-4).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewShipment {
    /// The carrier's name.
    pub carrier: String,
    /// The carrier's tracking number.
    pub tracking_number: String,
    /// The tracking link, if the carrier gives one (https).
    pub tracking_link: Option<String>,
    /// Where the shipment stands.
    pub status: ShipmentStatus,
}

/// An invoice from the billing system to attach to an order (ORD-2).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceUpload {
    /// The invoice number.
    pub number: String,
    /// Date of issue.
    #[serde(with = "selfcare_core::formats::date")]
    pub issued_on: Date,
    /// The amounts; the order's totals when `None`.
    pub amounts: Option<OrderTotals>,
    /// The PDF.
    #[serde(with = "selfcare_core::formats::base64")]
    pub pdf: Vec<u8>,
}

/// An additional document correcting an order's invoice (ORD-2).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentUpload {
    /// Credit note, corrected invoice or other.
    pub kind: DocumentKind,
    /// Its number.
    pub number: String,
    /// Date of issue.
    #[serde(with = "selfcare_core::formats::date")]
    pub issued_on: Date,
    /// The amounts (required for a credit note and a corrected invoice).
    pub amounts: Option<OrderTotals>,
    /// The PDF.
    #[serde(with = "selfcare_core::formats::base64")]
    pub pdf: Vec<u8>,
    /// A short note for the customer (at most 500 characters).
    pub note: String,
}

/// A refund of (part of) an order, recorded as a credit note (ORD-2).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefundInput {
    /// The amounts credited; the gross is refunded.
    pub amounts: OrderTotals,
    /// Why (into the audit log).
    pub reason: String,
    /// The credit note's number.
    pub credit_note_number: String,
    /// Date of issue of the credit note.
    #[serde(with = "selfcare_core::formats::date")]
    pub issued_on: Date,
    /// The credit note's PDF from the billing system.
    #[serde(with = "selfcare_core::formats::base64")]
    pub pdf: Vec<u8>,
}

/// What staff may do to an Owner (STF-1, USR-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    rename_all = "snake_case",
    tag = "change",
    content = "role",
    deny_unknown_fields
)]
pub enum OwnerChange {
    /// Give the user another role: make someone an Owner, or demote an Owner (at least one
    /// Owner stays).
    SetRole(Role),
    /// Remove an Owner (at least one Owner stays); their sessions end.
    Remove,
}

/// A ticket as staff see it: every message, internal notes included.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffTicketView {
    /// The organisation.
    pub org: OrgId,
    /// The ticket.
    pub ticket: TicketSummary,
    /// The description.
    pub description: String,
    /// Every message, oldest first.
    pub messages: Vec<TicketMessageRecord>,
}

type Step<T> = std::result::Result<T, Attempt>;

impl StaffSession {
    /// The staff identity of this session.
    pub fn identity(&self) -> &StaffActor {
        &self.staff
    }

    fn check(&self, action: StaffAction, department: Option<Department>) -> Result<()> {
        decide_staff(&self.staff, action, department)
            .into_result()
            .map_err(Error::from)
    }

    fn actor(&self) -> Result<AuditActor> {
        Ok(AuditActor::Staff {
            id: self.audit_id.clone(),
        })
    }

    fn event(
        &self,
        org: OrgId,
        name: AuditEventName,
        kind: &str,
        id: impl std::fmt::Display,
        changed: &[&str],
    ) -> Result<AuditEvent> {
        let mut event = self.portal.audit_event(
            Some(org),
            self.actor()?,
            Channel::Staff,
            name,
            target(kind, id)?,
            Outcome::Success,
        )?;
        event.changed_fields = fields(changed)?;
        Ok(event)
    }

    /// Runs a use case, re-running it on `Retryable`; a refusal is written to the provider's
    /// audit chain in a transaction of its own, naming the staff identity (AUD-1).
    async fn retry<T, F, Fut>(&self, action: StaffAction, attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Step<T>>,
    {
        let result = self.portal.retry(attempt).await;
        if let Err(Error::PermissionDenied { reason }) = &result
            && self.audit_denied(action, *reason).await.is_err()
        {
            tracing::warn!("selfcare: a denied staff attempt could not be audited");
        }
        result
    }

    async fn audit_denied(&self, action: StaffAction, reason: ReasonCode) -> Result<()> {
        let portal = &self.portal;
        portal
            .retry(|| async {
                let mut tx = portal.store().begin_provider().await?;
                let mut event = portal.audit_event(
                    None,
                    self.actor()?,
                    Channel::Staff,
                    AuditEventName::AuthzFail,
                    target("staff_action", action)?,
                    Outcome::Denied,
                )?;
                event.reason = Some(reason);
                portal.audit_provider(tx.as_mut(), event).await?;
                tx.commit().await?;
                Ok(())
            })
            .await
    }

    /// The organisation and id of the order numbered `number` (a global lookup, made before
    /// any transaction opens).
    async fn find_order(&self, number: &str) -> Step<(OrgId, OrderId)> {
        let number = OrderNumber::parse(number).map_err(|_| Error::NotFound)?;
        let found = self.portal.store().order_by_number(&number).await?;
        Ok(found.ok_or(Error::NotFound)?)
    }

    // ----------------------------------------------------------------------------------------
    // Tickets (Support)
    // ----------------------------------------------------------------------------------------

    /// The queue of `department`, oldest first, every status (TKT-2: Support sees the tickets
    /// of the departments it serves only).
    ///
    /// # Errors
    /// `PermissionDenied` (`staff_role_lacks_permission`, `other_department`); `Validation` for
    /// a bad page; `Unavailable`.
    pub async fn tickets(
        &self,
        department: Department,
        page: &PageRequest,
    ) -> Result<Page<StaffQueueEntry>> {
        let portal = &self.portal;
        self.retry(StaffAction::ViewTickets, || async {
            self.check(StaffAction::ViewTickets, Some(department))?;
            let mut tx = portal.store().begin_provider().await?;
            let statuses = selfcare_core::tickets::TicketStatus::ALL;
            Ok(tx
                .staff_ticket_queue(&[department], &statuses, page)
                .await?)
        })
        .await
    }

    /// One ticket of `org` with every message, internal notes included.
    ///
    /// # Errors
    /// `NotFound`; `PermissionDenied` for a ticket of a department not served; `Unavailable`.
    pub async fn ticket(&self, org: OrgId, id: TicketId) -> Result<StaffTicketView> {
        let portal = &self.portal;
        self.retry(StaffAction::ViewTickets, || async {
            let mut tx = portal.store().begin(org).await?;
            let ticket = tx.get_ticket(id).await?.ok_or(Error::NotFound)?.value;
            self.check(StaffAction::ViewTickets, Some(ticket.department))?;
            let mut messages = Vec::new();
            let mut page = PageRequest::first(MAX_PAGE);
            loop {
                let got = tx.ticket_messages(id, &page).await?;
                messages.extend(got.items);
                match got.next {
                    Some(cursor) => page = PageRequest::after(cursor, MAX_PAGE),
                    None => break,
                }
            }
            Ok(StaffTicketView {
                org,
                description: ticket.description.clone(),
                ticket: TicketSummary::from(ticket),
                messages,
            })
        })
        .await
    }

    /// A staff reply on a ticket of `org` (TKT-1: the status stays), or with `internal` a note
    /// customers never see (TKT-2). A reply (not a note) tells the ticket's opener.
    ///
    /// # Errors
    /// `Validation` on `body`; `NotFound`; `PermissionDenied` (role, `other_department`);
    /// `Conflict(illegal_ticket_transition)` on a closed ticket; `Unavailable`.
    pub async fn reply_ticket(
        &self,
        org: OrgId,
        id: TicketId,
        body: &str,
        internal: bool,
    ) -> Result<TicketSummary> {
        let action = if internal {
            StaffAction::WriteInternalNote
        } else {
            StaffAction::ReplyTicket
        };
        let portal = &self.portal;
        let now = portal.now();
        let message_id = TicketMessageId::new(now, portal.random()?);
        self.retry(action, || async {
            let mut tx = portal.store().begin(org).await?;
            let current = tx.get_ticket(id).await?.ok_or(Error::NotFound)?;
            self.check(action, Some(current.value.department))?;
            let message = TicketMessage::new(
                TicketAuthor::Staff(self.staff.staff_id().to_owned()),
                body,
                internal,
            )?;
            let record = move_ticket(tx.as_mut(), current, TicketEvent::StaffReply, now).await?;
            tx.insert_ticket_message(TicketMessageRecord {
                id: message_id,
                ticket: id,
                message,
                at: now,
            })
            .await?;
            if !internal && let Some(opener) = tx.user(record.opened_by).await? {
                let language = customer(tx.as_mut()).await?.language();
                let params = Params::new()
                    .with("user_name", opener.value.name.as_str())
                    .with("ticket_number", id.to_string())
                    .with("ticket_subject", record.subject.as_str())
                    .with("link", format!("/tickets/{id}"));
                portal
                    .notify(
                        tx.as_mut(),
                        NotificationKind::TicketReply,
                        vec![opener.value.email.clone()],
                        language,
                        &params,
                    )
                    .await?;
            }
            let mut event = self.event(
                org,
                AuditEventName::TicketReplied,
                "ticket",
                id,
                &["messages"],
            )?;
            if internal {
                event.note = Some(AuditNote::parse("internal note").map_err(Error::from)?);
            }
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(TicketSummary::from(record))
        })
        .await
    }

    /// Moves a ticket of `org` through a staff transition of TKT-1: `Start`, `AskCustomer`
    /// or `Resolve`.
    ///
    /// # Errors
    /// `NotFound`; `PermissionDenied` (role, `other_department`, `ticket_customer_only` for a
    /// customer's event); `Conflict(illegal_ticket_transition)`; `Unavailable`.
    pub async fn set_ticket_status(
        &self,
        org: OrgId,
        id: TicketId,
        event: TicketEvent,
    ) -> Result<TicketSummary> {
        let portal = &self.portal;
        let now = portal.now();
        self.retry(StaffAction::SetTicketStatus, || async {
            let mut tx = portal.store().begin(org).await?;
            let current = tx.get_ticket(id).await?.ok_or(Error::NotFound)?;
            self.check(StaffAction::SetTicketStatus, Some(current.value.department))?;
            let record = move_ticket(tx.as_mut(), current, event, now).await?;
            let audit = self.event(
                org,
                AuditEventName::TicketReplied,
                "ticket",
                id,
                &["status"],
            )?;
            portal.audit(tx.as_mut(), audit).await?;
            tx.commit().await?;
            Ok(TicketSummary::from(record))
        })
        .await
    }

    // ----------------------------------------------------------------------------------------
    // Orders (Fulfillment)
    // ----------------------------------------------------------------------------------------

    /// Sets an order's status (ORD-1: InPreparation → Completed or Cancelled; nothing leaves
    /// Completed or Cancelled) and tells the customer's Orders contacts.
    ///
    /// # Errors
    /// `PermissionDenied`; `NotFound` for an unknown number; `Conflict(illegal_order_transition)`;
    /// `Unavailable`.
    pub async fn set_order_status(&self, order_number: &str, status: OrderStatus) -> Result<Order> {
        let portal = &self.portal;
        self.retry(StaffAction::SetOrderStatus, || async {
            self.check(StaffAction::SetOrderStatus, None)?;
            let (org, id) = self.find_order(order_number).await?;
            let mut tx = portal.store().begin(org).await?;
            let Versioned { mut value, version } = tx.order(id).await?.ok_or(Error::NotFound)?;
            value.set_status(status)?;
            tx.update_order(value.clone(), version).await?;
            let customer = customer(tx.as_mut()).await?;
            let params = order_params(&customer, &value).with("status", status.to_string());
            notify_customer(
                portal,
                tx.as_mut(),
                &customer,
                NotificationKind::OrderStatusChanged,
                &params,
            )
            .await?;
            let event = self.event(
                org,
                AuditEventName::OrderStatusChanged,
                "order",
                id,
                &["status"],
            )?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(value)
        })
        .await
    }

    /// Adds a shipment to an order (ORD-4) and tells the customer's Orders contacts.
    ///
    /// # Errors
    /// `PermissionDenied`; `Validation` on `carrier`, `tracking_number`, `tracking_link`;
    /// `NotFound`; `Unavailable`.
    pub async fn add_shipment(
        &self,
        order_number: &str,
        shipment: &NewShipment,
    ) -> Result<Shipment> {
        let portal = &self.portal;
        let id = ShipmentId::new(portal.now(), portal.random()?);
        self.retry(StaffAction::AddShipment, || async {
            self.check(StaffAction::AddShipment, None)?;
            let number = TrackingNumber::parse(&shipment.tracking_number)?;
            let link = shipment
                .tracking_link
                .as_deref()
                .map(TrackingLink::parse)
                .transpose()?;
            let new = Shipment::new(id, &shipment.carrier, number, link, None, shipment.status)?;
            let (org, order_id) = self.find_order(order_number).await?;
            let mut tx = portal.store().begin(org).await?;
            let Versioned { mut value, version } =
                tx.order(order_id).await?.ok_or(Error::NotFound)?;
            value.shipments.push(new.clone());
            tx.update_order(value.clone(), version).await?;
            let customer = customer(tx.as_mut()).await?;
            let params = order_params(&customer, &value)
                .with("carrier", new.carrier.as_str())
                .with("tracking_number", new.tracking_number.as_str())
                .with(
                    "tracking_link",
                    new.tracking_link.as_ref().map(|l| l.as_str()).unwrap_or(""),
                );
            notify_customer(
                portal,
                tx.as_mut(),
                &customer,
                NotificationKind::ShipmentSent,
                &params,
            )
            .await?;
            let event = self.event(
                org,
                AuditEventName::ShipmentAdded,
                "order",
                order_id,
                &["shipments"],
            )?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(new)
        })
        .await
    }

    /// Assigns SIMs to an order: the only way SIMs come into being (SIM-1, SIM-2). Every row
    /// is validated first, every ICCID checked against the store and the other rows, then all
    /// rows are inserted in ONE transaction (all or nothing), in store batches of
    /// [`SIM_BATCH`].
    ///
    /// # Errors
    /// `PermissionDenied`; `Validation` naming the row, e.g. `rows[3].iccid` (bad check digit,
    /// format), `rows[0].tariff` (`required`), `rows` (`required` when empty);
    /// `Conflict(sim_in_use)` for an ICCID in use anywhere or twice in the rows; `NotFound` for
    /// an unknown order; `Unavailable`.
    pub async fn assign_sims(&self, order_number: &str, rows: &[SimRow]) -> Result<AssignedSims> {
        let portal = &self.portal;
        self.retry(StaffAction::AssignSims, || async {
            self.check(StaffAction::AssignSims, None)?;
            if rows.is_empty() {
                return Err(Error::Validation {
                    field: "rows".to_owned(),
                    reason: ReasonCode::Required,
                    message: "at least one SIM row is needed".to_owned(),
                }
                .into());
            }
            let (org, order) = self.find_order(order_number).await?;
            let now = portal.now();
            let mut sims = Vec::with_capacity(rows.len());
            let mut seen = std::collections::HashSet::with_capacity(rows.len());
            for (i, row) in rows.iter().enumerate() {
                let sim = sim_of_row(row, order, SimId::new(now, portal.random()?))
                    .map_err(|e| e.within(&format!("rows[{i}]")))?;
                if !seen.insert(sim.iccid.as_str().to_owned()) {
                    return Err(
                        Error::from(selfcare_core::Error::conflict(ReasonCode::SimInUse)).into(),
                    );
                }
                sims.push(sim);
            }
            // Global lookups, before the transaction; the store refuses a race at insert.
            for sim in &sims {
                if portal.store().sim_by_iccid(&sim.iccid).await?.is_some() {
                    return Err(
                        Error::from(selfcare_core::Error::conflict(ReasonCode::SimInUse)).into(),
                    );
                }
            }
            let ids: Vec<SimId> = sims.iter().map(|s| s.id).collect();
            let mut tx = portal.store().begin(org).await?;
            tx.order(order).await?.ok_or(Error::NotFound)?;
            let mut rest = sims;
            while !rest.is_empty() {
                let tail = rest.split_off(rest.len().min(SIM_BATCH));
                tx.insert_sims(rest).await.map_err(in_use)?;
                rest = tail;
            }
            let mut event =
                self.event(org, AuditEventName::SimsAssigned, "order", order, &["sims"])?;
            event.note =
                Some(AuditNote::parse(&format!("{} SIMs", ids.len())).map_err(Error::from)?);
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(AssignedSims { order, sims: ids })
        })
        .await
    }

    /// Activates a consumer plan on an order (PLAN-1): its phone numbers, its SIM and its
    /// dates. The only way plans come into being. The SIM row is created with it (billed by
    /// the plan), or a SIM of the same order without a plan is bound to it.
    ///
    /// # Errors
    /// `PermissionDenied`; `Validation` on `iccid`, `numbers[i]`, `numbers`
    /// (`plan_without_numbers`), `end` (`plan_end_before_start`); `Conflict(sim_in_use)` for a
    /// SIM used elsewhere; `NotFound`; `Unavailable`.
    pub async fn activate_plan(
        &self,
        order_number: &str,
        iccid: &str,
        numbers: &[String],
        start: Date,
        end: Date,
    ) -> Result<Plan> {
        let portal = &self.portal;
        self.retry(StaffAction::ActivatePlan, || async {
            self.check(StaffAction::ActivatePlan, None)?;
            let iccid = Iccid::parse(iccid)?;
            let numbers = numbers
                .iter()
                .enumerate()
                .map(|(i, n)| Msisdn::parse_field(&format!("numbers[{i}]"), n))
                .collect::<selfcare_core::Result<Vec<_>>>()?;
            let (org, order) = self.find_order(order_number).await?;
            let existing = portal.store().sim_by_iccid(&iccid).await?;
            let now = portal.now();
            let plan = Plan::new(
                PlanId::new(now, portal.random()?),
                order,
                numbers,
                iccid.clone(),
                start,
                end,
            )?;
            let mut tx = portal.store().begin(org).await?;
            tx.order(order).await?.ok_or(Error::NotFound)?;
            let bound = SimBilling::Plan { plan: plan.id() };
            match existing {
                None => {
                    tx.insert_sims(vec![Sim {
                        id: SimId::new(now, portal.random()?),
                        iccid,
                        imsi: None,
                        msisdn: plan.numbers().first().cloned(),
                        label: SimLabel::empty(),
                        status: SimStatus::Enabled,
                        order,
                        billing: bound,
                        auto_top_up: false,
                    }])
                    .await
                    .map_err(in_use)?;
                }
                Some((sim_org, sim_id)) if sim_org == org => {
                    let Versioned { mut value, version } =
                        tx.sim(sim_id).await?.ok_or(Error::NotFound)?;
                    if value.order != order || matches!(value.billing, SimBilling::Plan { .. }) {
                        return Err(Error::from(selfcare_core::Error::conflict(
                            ReasonCode::SimInUse,
                        ))
                        .into());
                    }
                    value.billing = bound;
                    tx.update_sim(value, version).await?;
                }
                Some(_) => {
                    return Err(
                        Error::from(selfcare_core::Error::conflict(ReasonCode::SimInUse)).into(),
                    );
                }
            }
            tx.insert_plan(plan.clone()).await?;
            let event = self.event(
                org,
                AuditEventName::PlanActivated,
                "plan",
                plan.id(),
                &["numbers", "sim", "start", "end"],
            )?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(plan)
        })
        .await
    }

    // ----------------------------------------------------------------------------------------
    // Documents and refunds (Billing)
    // ----------------------------------------------------------------------------------------

    /// Attaches the billing system's invoice PDF to an order (ORD-2): once per order; the
    /// customer's Invoice contacts are told (ACC-2).
    ///
    /// # Errors
    /// `PermissionDenied`; `Validation` on `number`, `file` (not a PDF, empty, too large),
    /// `amounts`; `Conflict(duplicate_document)` when the order has an invoice; `NotFound`;
    /// `Unavailable`.
    pub async fn attach_invoice(
        &self,
        order_number: &str,
        upload: &InvoiceUpload,
    ) -> Result<Invoice> {
        let portal = &self.portal;
        let id = DocumentId::new(portal.now(), portal.random()?);
        self.retry(StaffAction::AttachInvoice, || async {
            self.check(StaffAction::AttachInvoice, None)?;
            let number = InvoiceNumber::parse(&upload.number)?;
            let file = DocumentFile::pdf(&upload.pdf)?;
            let (org, order_id) = self.find_order(order_number).await?;
            let mut tx = portal.store().begin(org).await?;
            let order = tx.order(order_id).await?.ok_or(Error::NotFound)?.value;
            if trail(tx.as_mut(), order_id).await?.is_some() {
                return Err(Error::from(selfcare_core::Error::conflict(
                    ReasonCode::DuplicateDocument,
                ))
                .into());
            }
            let customer = customer(tx.as_mut()).await?;
            let amounts = upload.amounts.unwrap_or(order.priced.totals);
            let invoice = Invoice::new(NewInvoice {
                id,
                order: order_id,
                number,
                issued_on: upload.issued_on,
                amounts,
                language: customer.language(),
                file,
            })?;
            tx.insert_document(OrderDocument::Invoice(invoice.clone()))
                .await?;
            tx.put_document_bytes(id, upload.pdf.clone()).await?;
            let params = order_params(&customer, &order)
                .with("invoice_number", invoice.number().as_str())
                .with("amount", invoice.amounts().gross.to_string())
                .with("due_date", invoice.issued_on().to_string());
            notify_customer(
                portal,
                tx.as_mut(),
                &customer,
                NotificationKind::InvoiceIssued,
                &params,
            )
            .await?;
            let event = self.event(
                org,
                AuditEventName::InvoiceAttached,
                "document",
                id,
                &["invoice"],
            )?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(invoice)
        })
        .await
    }

    /// Adds an additional document (credit note, corrected invoice, other) linked to the
    /// order's invoice, which stays untouched (ORD-2).
    ///
    /// # Errors
    /// `PermissionDenied`; `Validation` on `number`, `file`, `amounts`, `note`;
    /// `Conflict(duplicate_document)`, `Conflict(credit_exceeds_invoice)`; `NotFound` (also
    /// for an order without invoice); `Unavailable`.
    pub async fn add_document(
        &self,
        order_number: &str,
        upload: &DocumentUpload,
    ) -> Result<selfcare_core::orders::AdditionalDocument> {
        self.record_document(StaffAction::AddDocument, order_number, upload, None)
            .await
            .map(|(doc, _)| doc)
    }

    async fn record_document(
        &self,
        action: StaffAction,
        order_number: &str,
        upload: &DocumentUpload,
        reason: Option<&str>,
    ) -> Result<(selfcare_core::orders::AdditionalDocument, bool)> {
        let portal = &self.portal;
        let id = DocumentId::new(portal.now(), portal.random()?);
        self.retry(action, || async {
            self.check(action, None)?;
            let number = InvoiceNumber::parse(&upload.number)?;
            let file = DocumentFile::pdf(&upload.pdf)?;
            let (org, order_id) = self.find_order(order_number).await?;
            let mut tx = portal.store().begin(org).await?;
            let order = tx.order(order_id).await?.ok_or(Error::NotFound)?.value;
            let mut trail = trail(tx.as_mut(), order_id).await?.ok_or(Error::NotFound)?;
            // A repeated refund finds its credit note: the first result, nothing new.
            if reason.is_some()
                && let Some(done) = trail.additional().iter().find(|d| {
                    d.number() == &number
                        && d.kind() == upload.kind
                        && d.amounts() == upload.amounts.as_ref()
                })
            {
                return Ok((done.clone(), false));
            }
            let customer = customer(tx.as_mut()).await?;
            let doc = trail
                .add(NewDocument {
                    id,
                    kind: upload.kind,
                    number,
                    issued_on: upload.issued_on,
                    amounts: upload.amounts,
                    language: customer.language(),
                    file,
                    note: upload.note.clone(),
                })?
                .clone();
            tx.insert_document(OrderDocument::Additional(doc.clone()))
                .await?;
            tx.put_document_bytes(id, upload.pdf.clone()).await?;
            let params =
                order_params(&customer, &order).with("document_name", doc.number().as_str());
            notify_customer(
                portal,
                tx.as_mut(),
                &customer,
                NotificationKind::DocumentAdded,
                &params,
            )
            .await?;
            let (name, kind) = match reason {
                Some(_) => (AuditEventName::RefundIssued, "document"),
                None => (AuditEventName::DocumentAdded, "document"),
            };
            let mut event = self.event(org, name, kind, id, &["documents"])?;
            if let Some(reason) = reason {
                event.note = Some(AuditNote::parse(reason).map_err(Error::from)?);
            }
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok((doc, true))
        })
        .await
    }

    /// Refunds (part of) an order: never more than its invoice's creditable amount (gross
    /// minus earlier credit notes). The amount is checked, the gateway refunds OUTSIDE any
    /// transaction with the stable key `refund:{org}:{idempotency_key}` (card orders), then the
    /// credit note is recorded with the reason in the audit log. A retry with the same key,
    /// number and amounts returns the first credit note.
    ///
    /// # Errors
    /// `PermissionDenied`; `Validation` on `reason`, `idempotency_key`, the credit note's
    /// fields; `Conflict(credit_exceeds_invoice)`; `Conflict(refund_needs_charge)` for a card
    /// order stored without the gateway's charge id; `PaymentDeclined` when the gateway refuses;
    /// `NotFound` (unknown order, no invoice); `Unavailable`.
    pub async fn refund(
        &self,
        order_number: &str,
        input: &RefundInput,
        idempotency_key: &str,
    ) -> Result<selfcare_core::orders::AdditionalDocument> {
        let upload = DocumentUpload {
            kind: DocumentKind::CreditNote,
            number: input.credit_note_number.clone(),
            issued_on: input.issued_on,
            amounts: Some(input.amounts),
            pdf: input.pdf.clone(),
            note: String::new(),
        };
        let portal = &self.portal;
        // Step 1: everything judged before money moves.
        let (org, key, order, repeated) = self
            .retry(StaffAction::Refund, || async {
                self.check(StaffAction::Refund, None)?;
                AuditNote::parse(&input.reason).map_err(Error::from)?;
                let key = IdempotencyKey::parse(idempotency_key)?;
                let number = InvoiceNumber::parse(&upload.number)?;
                DocumentFile::pdf(&upload.pdf)?;
                let (org, order_id) = self.find_order(order_number).await?;
                let mut tx = portal.store().begin(org).await?;
                let order = tx.order(order_id).await?.ok_or(Error::NotFound)?.value;
                let trail = trail(tx.as_mut(), order_id).await?.ok_or(Error::NotFound)?;
                let repeated = trail
                    .additional()
                    .iter()
                    .any(|d| d.number() == &number && d.amounts() == upload.amounts.as_ref());
                if !repeated {
                    let left = trail.creditable()?;
                    if left.checked_sub(input.amounts.gross)?.is_negative() {
                        return Err(Error::from(selfcare_core::Error::conflict(
                            ReasonCode::CreditExceedsInvoice,
                        ))
                        .into());
                    }
                }
                Ok((org, key, order, repeated))
            })
            .await?;
        // Step 2: the gateway, outside any transaction, with a key that a retry repeats.
        if let (false, selfcare_core::orders::OrderPayment::Card { charge_id, .. }) =
            (repeated, &order.payment)
        {
            // A card order written without its charge (an order from before charge ids were
            // kept) cannot be refunded through the gateway from here.
            let charge_id = charge_id.clone().ok_or_else(|| {
                Error::from(selfcare_core::Error::conflict(
                    ReasonCode::RefundNeedsCharge,
                ))
            })?;
            let outcome = portal
                .inner
                .ports
                .gateway
                .refund(RefundRequest {
                    key: selfcare_core::orders::GatewayKey::refund(org, &key),
                    charge_id,
                    amount: input.amounts.gross,
                })
                .await?;
            if let RefundOutcome::Declined { reason } = outcome {
                return Err(Error::PaymentDeclined { reason });
            }
        }
        // Step 3: the credit note, with the reason in the audit log.
        self.record_document(
            StaffAction::Refund,
            order_number,
            &upload,
            Some(&input.reason),
        )
        .await
        .map(|(doc, _)| doc)
    }

    // ----------------------------------------------------------------------------------------
    // Customer data (Billing) and users (Supervisor)
    // ----------------------------------------------------------------------------------------

    /// Changes the legal fields of `org` (company name, billing country), which customers
    /// cannot change themselves (ACC-1); the reason goes into the audit log.
    ///
    /// # Errors
    /// `PermissionDenied` unless Billing; `Validation` on `reason` (required, at most 500
    /// characters), `company_name`, `billing_country`, or `legal_change_empty`; `NotFound`;
    /// `Unavailable`.
    pub async fn change_legal_fields(
        &self,
        org: OrgId,
        company_name: Option<String>,
        billing_country: Option<String>,
        reason: &str,
    ) -> Result<Customer> {
        let portal = &self.portal;
        self.retry(StaffAction::ChangeLegalFields, || async {
            let reason = authorize_legal_field_change(&self.staff, reason)?;
            let mut tx = portal.store().begin(org).await?;
            let Versioned { mut value, version } = tx.customer().await?.ok_or(Error::NotFound)?;
            let changed = value.customer.apply_legal_change(&LegalFieldChange {
                company_name: company_name.clone(),
                billing_country: billing_country.clone(),
                reason: reason.clone(),
            })?;
            value.customer = changed.customer.clone();
            tx.update_customer(value, version).await?;
            let mut event = self.event(
                org,
                AuditEventName::LegalFieldsChanged,
                "customer",
                org,
                &changed.changed_fields,
            )?;
            event.note = Some(AuditNote::parse(reason.as_str()).map_err(Error::from)?);
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(changed.customer)
        })
        .await
    }

    /// Approves a pending e-mail change of `user` of `org` made by someone else (USR-3): the
    /// new address becomes the login e-mail and the user's sessions end (AUTH-4).
    ///
    /// # Errors
    /// `PermissionDenied` unless Supervisor; `NotFound` for an unknown user or one without a
    /// pending change; `Conflict(already_exists)` when the address is someone's login;
    /// `Unavailable`.
    pub async fn approve_email_change(&self, org: OrgId, user: UserId) -> Result<()> {
        let portal = &self.portal;
        self.retry(StaffAction::ApproveEmailChange, || async {
            self.check(StaffAction::ApproveEmailChange, None)?;
            let mut tx = portal.store().begin(org).await?;
            let Versioned { mut value, version } = tx.user(user).await?.ok_or(Error::NotFound)?;
            let pending = value.pending_email.take().ok_or(Error::NotFound)?;
            let old = std::mem::replace(&mut value.email, pending.email.clone());
            tx.update_user(value, version).await?;
            tx.delete_user_sessions(user, None).await?;
            let mut event = self.event(
                org,
                AuditEventName::EmailChangeApproved,
                "user",
                user,
                &["email"],
            )?;
            event.personal = portal.personal([
                (selfcare_core::audit::PersonalField::OldEmail, old.as_str()),
                (
                    selfcare_core::audit::PersonalField::NewEmail,
                    pending.email.as_str(),
                ),
            ])?;
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Administers an Owner of `org` (STF-1, USR-3 reserves this to provider staff for
    /// Admins): makes a user an Owner, demotes or removes an Owner; the organisation keeps at
    /// least one Owner. (A password reset for an Owner is the Owner's own "forgot password",
    /// AUTH-2: staff never set passwords.)
    ///
    /// # Errors
    /// `PermissionDenied` unless Supervisor; `Conflict(last_owner)`; `Validation` on `user` when the
    /// change concerns no Owner (`SetRole` on a non-Owner to a role other than Owner, `Remove`
    /// of a non-Owner); `NotFound`; `Unavailable`.
    pub async fn administer_owner(
        &self,
        org: OrgId,
        user: UserId,
        change: OwnerChange,
    ) -> Result<()> {
        let portal = &self.portal;
        self.retry(StaffAction::AdministerOwner, || async {
            self.check(StaffAction::AdministerOwner, None)?;
            let mut tx = portal.store().begin(org).await?;
            let Versioned { mut value, version } = tx.user(user).await?.ok_or(Error::NotFound)?;
            let concerns_owner = value.role == Role::Owner || change == OwnerChange::SetRole(Role::Owner);
            if !concerns_owner {
                return Err(Error::Validation {
                    field: "user".to_owned(),
                    reason: ReasonCode::InvalidFormat,
                    message: "staff administer Owners only; the organisation's Owners and Admins administer other users".to_owned(),
                }
                .into());
            }
            let owners = usize::try_from(tx.count_users_with_role(Role::Owner).await?).unwrap_or(usize::MAX);
            let user_change = match change {
                OwnerChange::SetRole(role) => UserChange::SetRole(role),
                OwnerChange::Remove => UserChange::Remove,
            };
            if let Some(reason) = last_owner(value.role, user_change, owners) {
                return Err(Error::from(selfcare_core::Error::conflict(reason)).into());
            }
            let event = match change {
                OwnerChange::SetRole(role) => {
                    let old = value.role;
                    value.role = role;
                    tx.update_user(value, version).await?;
                    let mut event = self.event(org, AuditEventName::AuthzChange, "user", user, &["role"])?;
                    event.note = Some(AuditNote::parse(&format!("{old} -> {role}")).map_err(Error::from)?);
                    event
                }
                OwnerChange::Remove => {
                    tx.delete_user_sessions(user, None).await?;
                    tx.delete_user(user, version).await?;
                    self.event(org, AuditEventName::UserDeleted, "user", user, &[])?
                }
            };
            portal.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}

/// Validates one SIM row into a SIM of `order` (SIM-1, SIM-2).
fn sim_of_row(row: &SimRow, order: OrderId, id: SimId) -> selfcare_core::Result<Sim> {
    let iccid = Iccid::parse(&row.iccid)?;
    let imsi = row
        .imsi
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(Imsi::parse)
        .transpose()?;
    let msisdn = row
        .msisdn
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(|s| Msisdn::parse_field("msisdn", s))
        .transpose()?;
    let label = match row.label.as_deref() {
        Some(raw) => SimLabel::parse(raw).map_err(|e| e.within("label"))?,
        None => SimLabel::empty(),
    };
    let tariff = selfcare_core::error::text_field("tariff", &row.tariff, 64, true, false)?;
    Ok(Sim {
        id,
        iccid,
        imsi,
        msisdn,
        label,
        status: SimStatus::Enabled,
        order,
        billing: SimBilling::Tariff { code: tariff },
        auto_top_up: false,
    })
}

/// An ICCID the store refuses as a duplicate is a SIM in use.
fn in_use(e: selfcare_storage::StoreError) -> Attempt {
    match e {
        selfcare_storage::StoreError::Conflict(_) => Attempt::Fail(Error::from(
            selfcare_core::Error::conflict(ReasonCode::SimInUse),
        )),
        other => Attempt::from(other),
    }
}

/// Applies a staff `event` to a ticket through the TKT-1 machine and writes it back.
async fn move_ticket(
    tx: &mut dyn OrgTransaction,
    current: Versioned<TicketRecord>,
    event: TicketEvent,
    now: time::OffsetDateTime,
) -> Step<TicketRecord> {
    let Versioned {
        value: mut ticket,
        version,
    } = current;
    let to = transition(
        ticket.status,
        event,
        TicketParty::Staff,
        ticket.resolved_at,
        now,
    )?;
    if to == selfcare_core::tickets::TicketStatus::Resolved && ticket.status != to {
        ticket.resolved_at = Some(now);
    }
    ticket.status = to;
    ticket.updated_at = now;
    tx.update_ticket(ticket.clone(), version).await?;
    Ok(ticket)
}

/// The organisation's customer data.
async fn customer(tx: &mut dyn OrgTransaction) -> Step<Customer> {
    Ok(tx.customer().await?.ok_or(Error::NotFound)?.value.customer)
}

/// The parameters every order notification uses.
fn order_params(customer: &Customer, order: &Order) -> Params {
    Params::new()
        .with("customer_name", customer.kind().invoice_name().as_str())
        .with("order_number", order.number.to_string())
        .with("link", format!("/orders/{}", order.number))
}

/// Puts a notification of `kind` for the customer's recipients of that kind in the outbox.
async fn notify_customer(
    portal: &Portal,
    tx: &mut dyn OrgTransaction,
    customer: &Customer,
    kind: NotificationKind,
    params: &Params,
) -> Step<()> {
    let to = kind.recipients(customer.contact_emails(), None);
    portal
        .notify(tx, kind, to, customer.language(), params)
        .await
}

/// The order's invoice and additional documents, or `None` before an invoice is attached.
async fn trail(tx: &mut dyn OrgTransaction, order: OrderId) -> Step<Option<DocumentTrail>> {
    let mut documents = Vec::new();
    let mut page = PageRequest::first(MAX_PAGE);
    loop {
        let got = tx.list_order_documents(order, &page).await?;
        documents.extend(got.items);
        match got.next {
            Some(cursor) => page = PageRequest::after(cursor, MAX_PAGE),
            None => break,
        }
    }
    // The invoice first whatever the listing order (ids made within one millisecond need not
    // sort by time), then the additional documents as listed.
    let mut additional = Vec::new();
    let mut trail = None;
    for document in documents {
        match document {
            OrderDocument::Invoice(invoice) if trail.is_none() => {
                trail = Some(DocumentTrail::new(invoice));
            }
            OrderDocument::Additional(d) => additional.push(d),
            // Two invoices for one order: not a trail core accepts.
            OrderDocument::Invoice(_) => return Err(Attempt::Fail(Error::Internal)),
        }
    }
    let Some(mut trail) = trail else {
        return if additional.is_empty() {
            Ok(None)
        } else {
            Err(Attempt::Fail(Error::Internal))
        };
    };
    for d in additional {
        trail.add(NewDocument {
            id: d.id(),
            kind: d.kind(),
            number: d.number().clone(),
            issued_on: d.issued_on(),
            amounts: d.amounts().cloned(),
            language: d.language(),
            file: d.file().clone(),
            note: d.note().to_owned(),
        })?;
    }
    Ok(Some(trail))
}
