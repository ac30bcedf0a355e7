//! Support tickets: what a new ticket must contain, the status machine and who may move it
//! (TKT-1), and who sees which tickets and messages (TKT-2).
//!
//! The transitions are data ([`TICKET_TRANSITIONS`]), exported so hosts can show them; the one
//! function [`transition`] reads that table. Choices where TKT-1 is silent:
//! - a customer reply to an `Open` or `InProgress` ticket keeps its status (the ticket is already
//!   with the provider); to `WaitingForCustomer` it goes back to `InProgress`; to a `Resolved`
//!   ticket it reopens it (`InProgress`) within 14 days of the resolution, later it is refused;
//! - a staff reply keeps the status, except a reply asking the customer (`AskCustomer`), which
//!   moves `InProgress` to `WaitingForCustomer`; asking again while waiting keeps it waiting. An
//!   `Open` ticket is started (`Start`) before staff ask anything;
//! - customers who act on tickets (reply, close a resolved ticket, create) are Owner, Admin and
//!   User (USR-4: "User may … create tickets"); ReadOnly only reads them (it reads what User
//!   reads); ApiUser has no ticket operations (USR-4 lists its operations);
//! - the 14 days run from the resolution instant: a reply is a reopen while
//!   `now < resolved_at + 14 days`; the automatic close is due from `resolved_at + 14 days` on.
//!
//! ```
//! use selfcare_core::roles::Role;
//! use selfcare_core::tickets::*;
//! use time::macros::datetime;
//!
//! let now = datetime!(2025-03-01 12:00 UTC);
//! let customer = TicketParty::Customer { is_opener: false, role: Role::User };
//! let next = transition(TicketStatus::WaitingForCustomer, TicketEvent::CustomerReply,
//!                       customer, None, now).unwrap();
//! assert_eq!(next, TicketStatus::InProgress);
//! assert!(transition(TicketStatus::Open, TicketEvent::Resolve, TicketParty::Staff, None, now)
//!     .is_err());
//! ```

use std::fmt;

use time::{Duration, OffsetDateTime};

use crate::error::{Error, ReasonCode, Result, text_field};
use crate::ids::{OrderId, PlanId, UserId};
use crate::numbers::Iccid;
use crate::policy::{self, Access, Action};
use crate::roles::{Department, Role};

/// The longest ticket subject, in characters (TKT-1).
pub const SUBJECT_MAX_CHARS: usize = 200;

/// The longest ticket description, in characters (TKT-1).
pub const DESCRIPTION_MAX_CHARS: usize = 10_000;

/// The longest ticket message (reply or internal note), in characters; as a description.
pub const MESSAGE_MAX_CHARS: usize = 10_000;

/// How long after its resolution a ticket can be reopened by a customer reply, and after which
/// it is closed automatically (TKT-1).
pub const REOPEN_WINDOW: Duration = Duration::days(14);

/// What a ticket is about, besides its department (TKT-1).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "kind",
    content = "id",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum TicketReference {
    /// One of the organisation's orders.
    Order(OrderId),
    /// One of the organisation's SIMs.
    Sim(Iccid),
    /// One of the organisation's plans.
    Plan(PlanId),
}

impl TicketReference {
    /// A SIM reference from a typed ICCID.
    ///
    /// # Errors
    /// As [`Iccid::parse`], on field `reference.iccid`.
    pub fn parse_sim(raw: &str) -> Result<Self> {
        Iccid::parse(raw)
            .map(TicketReference::Sim)
            .map_err(|e| e.within("reference"))
    }
}

/// A validated new ticket (TKT-1): department, subject (≤ 200 characters), description
/// (≤ 10 000 characters, line breaks allowed) and an optional reference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawNewTicket")]
pub struct NewTicket {
    department: Department,
    subject: String,
    description: String,
    reference: Option<TicketReference>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNewTicket {
    department: Department,
    subject: String,
    description: String,
    #[serde(default)]
    reference: Option<TicketReference>,
}

impl TryFrom<RawNewTicket> for NewTicket {
    type Error = Error;
    fn try_from(raw: RawNewTicket) -> Result<Self> {
        NewTicket::new(
            raw.department,
            &raw.subject,
            &raw.description,
            raw.reference,
        )
    }
}

impl NewTicket {
    /// Validates a new ticket; texts are trimmed.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `subject` or `description` with `Required`, `TooLong` or
    /// `ControlCharacters` (the subject is one line; the description may have line breaks).
    pub fn new(
        department: Department,
        subject: &str,
        description: &str,
        reference: Option<TicketReference>,
    ) -> Result<Self> {
        Ok(NewTicket {
            department,
            subject: text_field("subject", subject, SUBJECT_MAX_CHARS, true, false)?,
            description: text_field(
                "description",
                description,
                DESCRIPTION_MAX_CHARS,
                true,
                true,
            )?,
            reference,
        })
    }

    /// The department that handles it.
    pub const fn department(&self) -> Department {
        self.department
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The description.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The order, SIM or plan it is about.
    pub const fn reference(&self) -> Option<&TicketReference> {
        self.reference.as_ref()
    }
}

/// A ticket's status (TKT-1).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TicketStatus {
    /// Created, not yet taken up by staff.
    Open,
    /// Staff are working on it.
    InProgress,
    /// Staff asked the customer and wait for the answer.
    WaitingForCustomer,
    /// Staff resolved it; a customer reply within 14 days reopens it.
    Resolved,
    /// Finished; nothing leaves `Closed`.
    Closed,
}

impl TicketStatus {
    /// Every status.
    pub const ALL: [TicketStatus; 5] = [
        TicketStatus::Open,
        TicketStatus::InProgress,
        TicketStatus::WaitingForCustomer,
        TicketStatus::Resolved,
        TicketStatus::Closed,
    ];

    /// The stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TicketStatus::Open => "open",
            TicketStatus::InProgress => "in_progress",
            TicketStatus::WaitingForCustomer => "waiting_for_customer",
            TicketStatus::Resolved => "resolved",
            TicketStatus::Closed => "closed",
        }
    }

    /// Whether the ticket is still being handled (`Open`, `InProgress`, `WaitingForCustomer`):
    /// the states its opener, an Owner or an Admin can close it from.
    pub const fn is_open(self) -> bool {
        matches!(
            self,
            TicketStatus::Open | TicketStatus::InProgress | TicketStatus::WaitingForCustomer
        )
    }
}

impl fmt::Display for TicketStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Something that happens to a ticket (TKT-1).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum TicketEvent {
    /// Staff take the ticket up.
    Start,
    /// Staff reply (or add an internal note) without asking the customer anything.
    StaffReply,
    /// Staff reply asking the customer.
    AskCustomer,
    /// A customer replies.
    CustomerReply,
    /// Staff resolve the ticket.
    Resolve,
    /// A customer closes the ticket.
    Close,
    /// Maintenance closes a ticket resolved 14 days ago.
    AutoClose,
}

impl TicketEvent {
    /// Every event.
    pub const ALL: [TicketEvent; 7] = [
        TicketEvent::Start,
        TicketEvent::StaffReply,
        TicketEvent::AskCustomer,
        TicketEvent::CustomerReply,
        TicketEvent::Resolve,
        TicketEvent::Close,
        TicketEvent::AutoClose,
    ];
}

/// Who causes a ticket event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(tag = "party", rename_all = "snake_case", deny_unknown_fields)]
pub enum TicketParty {
    /// Provider staff (a Support role of the ticket's department, STF-1).
    Staff,
    /// A user of the ticket's organisation.
    Customer {
        /// Whether this user opened the ticket.
        is_opener: bool,
        /// The user's current role.
        role: Role,
    },
    /// The provider's maintenance (`run_maintenance`).
    System,
}

/// Who may cause a transition, as written in the TKT-1 table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AllowedParty {
    /// Provider staff.
    Staff,
    /// Any customer of the organisation whose role may reply to tickets ([`can_create_ticket`]).
    Customer,
    /// The customer who opened it (role User or above), or an Owner or Admin.
    OpenerOwnerOrAdmin,
    /// The provider's maintenance.
    System,
}

impl AllowedParty {
    /// Whether `who` is admitted; otherwise the reason of the refusal.
    ///
    /// # Errors
    /// [`Error::PermissionDenied`] with `TicketStaffOnly`, `TicketCustomerOnly`,
    /// `TicketOpenerOwnerOrAdminOnly`, `TicketSystemOnly` or `TicketRoleNotAllowed`.
    pub fn check(self, who: TicketParty) -> Result<()> {
        let reason = match (self, who) {
            (AllowedParty::Staff, TicketParty::Staff)
            | (AllowedParty::System, TicketParty::System) => return Ok(()),
            (AllowedParty::Staff, _) => ReasonCode::TicketStaffOnly,
            (AllowedParty::System, _) => ReasonCode::TicketSystemOnly,
            (
                AllowedParty::Customer | AllowedParty::OpenerOwnerOrAdmin,
                TicketParty::Customer { role, .. },
            ) if !can_act_on_tickets(role) => ReasonCode::TicketRoleNotAllowed,
            (AllowedParty::Customer, TicketParty::Customer { .. }) => return Ok(()),
            (AllowedParty::Customer, _) => ReasonCode::TicketCustomerOnly,
            (
                AllowedParty::OpenerOwnerOrAdmin,
                TicketParty::Customer {
                    is_opener: true, ..
                }
                | TicketParty::Customer {
                    role: Role::Owner | Role::Admin,
                    ..
                },
            ) => return Ok(()),
            (AllowedParty::OpenerOwnerOrAdmin, _) => ReasonCode::TicketOpenerOwnerOrAdminOnly,
        };
        Err(Error::denied(reason))
    }
}

/// A time condition on a transition, relative to the resolution instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketTiming {
    /// Any time.
    Always,
    /// Before `resolved_at + 14 days` (a missing `resolved_at` counts as within).
    WithinReopenWindow,
    /// From `resolved_at + 14 days` on ([`auto_close_due`]).
    AfterReopenWindow,
}

/// One row of the TKT-1 transition table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicketTransition {
    /// The status before.
    pub from: TicketStatus,
    /// What happens.
    pub event: TicketEvent,
    /// The status after.
    pub to: TicketStatus,
    /// Who may cause it.
    pub by: AllowedParty,
    /// When it is possible.
    pub timing: TicketTiming,
}

const fn row(
    from: TicketStatus,
    event: TicketEvent,
    to: TicketStatus,
    by: AllowedParty,
) -> TicketTransition {
    TicketTransition {
        from,
        event,
        to,
        by,
        timing: TicketTiming::Always,
    }
}

/// The ticket status machine (TKT-1, with the choices in the module documentation). A
/// (status, event) pair not listed is illegal; at most one row exists per pair.
pub const TICKET_TRANSITIONS: &[TicketTransition] = {
    use AllowedParty as By;
    use TicketEvent as E;
    use TicketStatus as S;
    &[
        row(S::Open, E::Start, S::InProgress, By::Staff),
        row(S::Open, E::StaffReply, S::Open, By::Staff),
        row(S::InProgress, E::StaffReply, S::InProgress, By::Staff),
        row(
            S::WaitingForCustomer,
            E::StaffReply,
            S::WaitingForCustomer,
            By::Staff,
        ),
        row(S::Resolved, E::StaffReply, S::Resolved, By::Staff),
        row(
            S::InProgress,
            E::AskCustomer,
            S::WaitingForCustomer,
            By::Staff,
        ),
        row(
            S::WaitingForCustomer,
            E::AskCustomer,
            S::WaitingForCustomer,
            By::Staff,
        ),
        row(S::Open, E::CustomerReply, S::Open, By::Customer),
        row(S::InProgress, E::CustomerReply, S::InProgress, By::Customer),
        row(
            S::WaitingForCustomer,
            E::CustomerReply,
            S::InProgress,
            By::Customer,
        ),
        TicketTransition {
            from: S::Resolved,
            event: E::CustomerReply,
            to: S::InProgress,
            by: By::Customer,
            timing: TicketTiming::WithinReopenWindow,
        },
        row(S::InProgress, E::Resolve, S::Resolved, By::Staff),
        row(S::Resolved, E::Close, S::Closed, By::Customer),
        row(S::Open, E::Close, S::Closed, By::OpenerOwnerOrAdmin),
        row(S::InProgress, E::Close, S::Closed, By::OpenerOwnerOrAdmin),
        row(
            S::WaitingForCustomer,
            E::Close,
            S::Closed,
            By::OpenerOwnerOrAdmin,
        ),
        TicketTransition {
            from: S::Resolved,
            event: E::AutoClose,
            to: S::Closed,
            by: By::System,
            timing: TicketTiming::AfterReopenWindow,
        },
    ]
};

/// The row of [`TICKET_TRANSITIONS`] for `event` in `from`, if any.
pub fn find_transition(
    from: TicketStatus,
    event: TicketEvent,
) -> Option<&'static TicketTransition> {
    TICKET_TRANSITIONS
        .iter()
        .find(|t| t.from == from && t.event == event)
}

/// Whether a ticket resolved at `resolved_at` is due to be closed automatically at `now`
/// (14 days after the resolution, TKT-1).
pub fn auto_close_due(resolved_at: OffsetDateTime, now: OffsetDateTime) -> bool {
    resolved_at
        .checked_add(REOPEN_WINDOW)
        .is_some_and(|due| now >= due)
}

/// The status after `event` caused by `who` on a ticket in `current` (TKT-1).
/// `resolved_at` is when the ticket was last resolved (needed in `Resolved`).
///
/// # Errors
/// - [`Error::Conflict`] with `IllegalTicketTransition` when `event` is not possible in
///   `current` for anyone;
/// - [`Error::PermissionDenied`] when `who` may not cause it (see [`AllowedParty::check`]);
/// - [`Error::Conflict`] with `TicketReopenWindowPassed` for a customer reply 14 days or more
///   after the resolution, or `TicketAutoCloseNotDue` for an automatic close before that.
pub fn transition(
    current: TicketStatus,
    event: TicketEvent,
    who: TicketParty,
    resolved_at: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Result<TicketStatus> {
    let rule = find_transition(current, event)
        .ok_or_else(|| Error::conflict(ReasonCode::IllegalTicketTransition))?;
    rule.by.check(who)?;
    match rule.timing {
        TicketTiming::Always => {}
        TicketTiming::WithinReopenWindow => {
            if resolved_at.is_some_and(|at| auto_close_due(at, now)) {
                return Err(Error::conflict(ReasonCode::TicketReopenWindowPassed));
            }
        }
        TicketTiming::AfterReopenWindow => {
            if !resolved_at.is_some_and(|at| auto_close_due(at, now)) {
                return Err(Error::conflict(ReasonCode::TicketAutoCloseNotDue));
            }
        }
    }
    Ok(rule.to)
}

/// Whether a user with `role` may create tickets (TKT-2: User and above). The answer comes from
/// the one permission table of [`crate::policy`], so the two can never disagree.
pub fn can_create_ticket(role: Role) -> bool {
    policy::access(role, Action::CreateTicket) != Access::Denied
}

/// Whether a customer with `role` may reply to or close tickets (the party checks of TKT-1).
fn can_act_on_tickets(role: Role) -> bool {
    policy::access(role, Action::ReplyTicket) != Access::Denied
}

/// Checks that a user with `role` may create tickets (TKT-2).
///
/// # Errors
/// [`Error::PermissionDenied`] with `TicketRoleNotAllowed` for ReadOnly and ApiUser.
pub fn check_create_ticket(role: Role) -> Result<()> {
    if can_create_ticket(role) {
        Ok(())
    } else {
        Err(Error::denied(ReasonCode::TicketRoleNotAllowed))
    }
}

/// Whether a user with `role` may read their organisation's tickets (TKT-2). Tickets of other
/// organisations are never visible (USR-5: the store's scope guarantees it).
pub fn can_read_tickets(role: Role) -> bool {
    policy::access(role, Action::ViewTickets) != Access::Denied
}

/// Whether staff of `staff_departments` see a ticket of `department` (TKT-2).
pub fn staff_can_see(department: Department, staff_departments: &[Department]) -> bool {
    staff_departments.contains(&department)
}

/// Who wrote a ticket message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "author",
    content = "id",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum TicketAuthor {
    /// A user of the organisation.
    Customer(UserId),
    /// Provider staff, by the identity the host authenticated (STF-1).
    Staff(String),
    /// The provider's system (e.g. the automatic close).
    System,
}

/// A message on a ticket: a reply or, from staff only, an internal note (TKT-2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "RawTicketMessage")]
pub struct TicketMessage {
    author: TicketAuthor,
    body: String,
    internal: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTicketMessage {
    author: TicketAuthor,
    body: String,
    internal: bool,
}

impl TryFrom<RawTicketMessage> for TicketMessage {
    type Error = Error;
    fn try_from(raw: RawTicketMessage) -> Result<Self> {
        TicketMessage::new(raw.author, &raw.body, raw.internal)
    }
}

impl TicketMessage {
    /// A message; the body is trimmed and may have line breaks.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `body` (`Required`, `TooLong`, `ControlCharacters`);
    /// [`Error::PermissionDenied`] with `InternalNoteStaffOnly` for an internal note not written
    /// by staff.
    pub fn new(author: TicketAuthor, body: &str, internal: bool) -> Result<Self> {
        if internal && !matches!(author, TicketAuthor::Staff(_)) {
            return Err(Error::denied(ReasonCode::InternalNoteStaffOnly));
        }
        Ok(TicketMessage {
            body: text_field("body", body, MESSAGE_MAX_CHARS, true, true)?,
            author,
            internal,
        })
    }

    /// Who wrote it.
    pub const fn author(&self) -> &TicketAuthor {
        &self.author
    }

    /// The text.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Whether it is a staff-internal note, never shown to customers.
    pub const fn is_internal(&self) -> bool {
        self.internal
    }
}

/// The messages a customer sees: every message except staff-internal notes (TKT-2), in order.
pub fn customer_view(messages: &[TicketMessage]) -> Vec<&TicketMessage> {
    messages.iter().filter(|m| !m.internal).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    use TicketEvent as E;
    use TicketStatus as S;

    const NOW: OffsetDateTime = datetime!(2025-06-15 12:00 UTC);

    fn customer(is_opener: bool, role: Role) -> TicketParty {
        TicketParty::Customer { is_opener, role }
    }

    fn every_party() -> Vec<TicketParty> {
        let mut parties = vec![TicketParty::Staff, TicketParty::System];
        for role in Role::ALL {
            for is_opener in [false, true] {
                parties.push(customer(is_opener, role));
            }
        }
        parties
    }

    /// The TKT-1 table written again, independently of `TICKET_TRANSITIONS`, as the outcome
    /// expected for every status, event, party and time since the resolution.
    fn expected(
        from: S,
        event: E,
        who: TicketParty,
        resolved_days_ago: Option<i64>,
    ) -> std::result::Result<S, (&'static str, ReasonCode)> {
        let conflict = |r| Err(("conflict", r));
        let denied = |r| Err(("denied", r));
        let acting_customer = match who {
            TicketParty::Customer { role, .. } => {
                Some(matches!(role, Role::Owner | Role::Admin | Role::User))
            }
            _ => None,
        };
        let staff = |to: S| match who {
            TicketParty::Staff => Ok(to),
            _ => denied(ReasonCode::TicketStaffOnly),
        };
        let any_customer = |to: S| match acting_customer {
            Some(true) => Ok(to),
            Some(false) => denied(ReasonCode::TicketRoleNotAllowed),
            None => denied(ReasonCode::TicketCustomerOnly),
        };
        let window_passed = resolved_days_ago.is_some_and(|d| d >= 14);
        match (event, from) {
            (_, S::Closed) => conflict(ReasonCode::IllegalTicketTransition),
            (E::Start, S::Open) => staff(S::InProgress),
            (E::Start, _) => conflict(ReasonCode::IllegalTicketTransition),
            (E::StaffReply, s) => staff(s),
            (E::AskCustomer, S::InProgress | S::WaitingForCustomer) => staff(S::WaitingForCustomer),
            (E::AskCustomer, _) => conflict(ReasonCode::IllegalTicketTransition),
            (E::Resolve, S::InProgress) => staff(S::Resolved),
            (E::Resolve, _) => conflict(ReasonCode::IllegalTicketTransition),
            (E::CustomerReply, S::Open) => any_customer(S::Open),
            (E::CustomerReply, S::InProgress | S::WaitingForCustomer) => {
                any_customer(S::InProgress)
            }
            (E::CustomerReply, S::Resolved) => match any_customer(S::InProgress) {
                Ok(_) if window_passed => conflict(ReasonCode::TicketReopenWindowPassed),
                other => other,
            },
            (E::Close, S::Resolved) => any_customer(S::Closed),
            (E::Close, _) => match who {
                TicketParty::Customer { role, is_opener } => match role {
                    Role::Owner | Role::Admin => Ok(S::Closed),
                    Role::User if is_opener => Ok(S::Closed),
                    Role::User => denied(ReasonCode::TicketOpenerOwnerOrAdminOnly),
                    Role::ReadOnly | Role::ApiUser => denied(ReasonCode::TicketRoleNotAllowed),
                },
                _ => denied(ReasonCode::TicketOpenerOwnerOrAdminOnly),
            },
            (E::AutoClose, S::Resolved) => match who {
                TicketParty::System if window_passed => Ok(S::Closed),
                TicketParty::System => conflict(ReasonCode::TicketAutoCloseNotDue),
                _ => denied(ReasonCode::TicketSystemOnly),
            },
            (E::AutoClose, _) => conflict(ReasonCode::IllegalTicketTransition),
        }
    }

    #[test]
    fn tkt_1_transition_table_matches_the_rule_for_every_status_event_and_party() {
        let mut checked = 0;
        for from in S::ALL {
            for event in E::ALL {
                for who in every_party() {
                    for days in [None, Some(0), Some(13), Some(14), Some(30)] {
                        let resolved_at = days.map(|d| NOW - Duration::days(d));
                        let got = transition(from, event, who, resolved_at, NOW).map_err(|e| {
                            let cat = match e {
                                Error::Conflict { .. } => "conflict",
                                Error::PermissionDenied { .. } => "denied",
                                _ => "other",
                            };
                            (cat, e.reason())
                        });
                        assert_eq!(
                            got,
                            expected(from, event, who, days),
                            "{from:?} {event:?} {who:?} resolved {days:?} days ago"
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 5 * 7 * 12 * 5);
    }

    #[test]
    fn tkt_1_table_has_one_row_per_status_and_event_and_nothing_leaves_closed() {
        for (i, a) in TICKET_TRANSITIONS.iter().enumerate() {
            for b in TICKET_TRANSITIONS.iter().skip(i + 1) {
                assert!((a.from, a.event) != (b.from, b.event), "{a:?} / {b:?}");
            }
            assert_ne!(a.from, S::Closed);
        }
        let json = serde_json::to_value(TICKET_TRANSITIONS).unwrap();
        assert_eq!(json[0]["from"], "open");
        assert_eq!(json[0]["by"], "staff");
    }

    #[test]
    fn tkt_1_customer_reply_reopens_resolved_ticket_only_within_14_days() {
        let resolved = datetime!(2025-06-01 12:00 UTC);
        let user = customer(false, Role::User);
        let reply = |now| transition(S::Resolved, E::CustomerReply, user, Some(resolved), now);
        assert_eq!(reply(datetime!(2025-06-15 11:59:59 UTC)), Ok(S::InProgress));
        assert_eq!(
            reply(datetime!(2025-06-15 12:00 UTC)),
            Err(Error::conflict(ReasonCode::TicketReopenWindowPassed))
        );
    }

    #[test]
    fn tkt_1_auto_close_is_due_14_days_after_resolution() {
        let resolved = datetime!(2025-06-01 12:00 UTC);
        assert!(!auto_close_due(
            resolved,
            datetime!(2025-06-15 11:59:59 UTC)
        ));
        assert!(auto_close_due(resolved, datetime!(2025-06-15 12:00 UTC)));
        assert!(!auto_close_due(
            datetime!(9999-12-31 23:00 UTC),
            datetime!(9999-12-31 23:30 UTC)
        ));
        assert_eq!(
            transition(
                S::Resolved,
                E::AutoClose,
                TicketParty::System,
                Some(resolved),
                datetime!(2025-06-20 0:00 UTC)
            ),
            Ok(S::Closed)
        );
        assert_eq!(
            transition(S::Resolved, E::AutoClose, TicketParty::System, None, NOW),
            Err(Error::conflict(ReasonCode::TicketAutoCloseNotDue))
        );
    }

    #[test]
    fn tkt_1_opener_owner_or_admin_close_an_open_ticket_others_do_not() {
        for from in [S::Open, S::InProgress, S::WaitingForCustomer] {
            assert_eq!(
                transition(from, E::Close, customer(true, Role::User), None, NOW),
                Ok(S::Closed)
            );
            assert_eq!(
                transition(from, E::Close, customer(false, Role::Admin), None, NOW),
                Ok(S::Closed)
            );
            assert_eq!(
                transition(from, E::Close, customer(false, Role::User), None, NOW),
                Err(Error::denied(ReasonCode::TicketOpenerOwnerOrAdminOnly))
            );
            assert_eq!(
                transition(from, E::Close, TicketParty::Staff, None, NOW),
                Err(Error::denied(ReasonCode::TicketOpenerOwnerOrAdminOnly))
            );
        }
        assert_eq!(
            transition(S::Closed, E::Close, customer(true, Role::Owner), None, NOW),
            Err(Error::conflict(ReasonCode::IllegalTicketTransition))
        );
    }

    #[test]
    fn tkt_1_new_ticket_checks_every_required_field() {
        let t = NewTicket::new(
            Department::Technical,
            "  No data  ",
            "Line 1\nLine 2",
            Some(TicketReference::parse_sim("8988228000000000004").unwrap()),
        )
        .unwrap();
        assert_eq!(t.subject(), "No data");
        assert_eq!(t.description(), "Line 1\nLine 2");
        assert_eq!(t.department(), Department::Technical);
        assert!(matches!(t.reference(), Some(TicketReference::Sim(_))));

        let err = |s: &str, d: &str| {
            let e = NewTicket::new(Department::General, s, d, None).unwrap_err();
            (e.field().map(str::to_owned), e.reason())
        };
        let f = |s: &str| Some(s.to_owned());
        assert_eq!(err(" ", "d"), (f("subject"), ReasonCode::Required));
        assert_eq!(err("s", "\n"), (f("description"), ReasonCode::Required));
        assert_eq!(
            err(&"ש".repeat(201), "d"),
            (f("subject"), ReasonCode::TooLong)
        );
        assert!(NewTicket::new(Department::General, &"ש".repeat(200), "d", None).is_ok());
        assert_eq!(
            err("s", &"x".repeat(10_001)),
            (f("description"), ReasonCode::TooLong)
        );
        assert!(NewTicket::new(Department::General, "s", &"x".repeat(10_000), None).is_ok());
        assert_eq!(
            err("a\nb", "d"),
            (f("subject"), ReasonCode::ControlCharacters)
        );
        let bad_sim = TicketReference::parse_sim("8988228000000000005").unwrap_err();
        assert_eq!(bad_sim.field(), Some("reference.iccid"));
    }

    #[test]
    fn tkt_1_new_ticket_json_is_validated() {
        let ok = r#"{"department":"orders_and_shipping","subject":"Where?","description":"Late",
                     "reference":{"kind":"order","id":"01890a5d-ac96-774b-bcce-b302099a8057"}}"#;
        let t: NewTicket = serde_json::from_str(ok).unwrap();
        assert_eq!(t.department(), Department::OrdersAndShipping);
        let empty = r#"{"department":"general","subject":"","description":"x"}"#;
        assert!(serde_json::from_str::<NewTicket>(empty).is_err());
        let extra = r#"{"department":"general","subject":"s","description":"x","x":1}"#;
        assert!(serde_json::from_str::<NewTicket>(extra).is_err());
    }

    #[test]
    fn tkt_2_user_and_above_create_tickets_read_only_reads_api_user_neither() {
        let create: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| can_create_ticket(*r))
            .collect();
        assert_eq!(create, vec![Role::Owner, Role::Admin, Role::User]);
        let read: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| can_read_tickets(*r))
            .collect();
        assert_eq!(
            read,
            vec![Role::Owner, Role::Admin, Role::User, Role::ReadOnly]
        );
        assert_eq!(
            check_create_ticket(Role::ReadOnly),
            Err(Error::denied(ReasonCode::TicketRoleNotAllowed))
        );
        assert_eq!(check_create_ticket(Role::User), Ok(()));
    }

    #[test]
    fn tkt_2_staff_see_only_their_departments() {
        let mine = [Department::Billing, Department::General];
        for d in Department::ALL {
            assert_eq!(staff_can_see(d, &mine), mine.contains(&d), "{d:?}");
            assert!(!staff_can_see(d, &[]));
        }
    }

    #[test]
    fn tkt_2_internal_notes_are_never_shown_to_customers() {
        let user = UserId::new(NOW, [3; 10]);
        let msgs = vec![
            TicketMessage::new(TicketAuthor::Customer(user), "Help", false).unwrap(),
            TicketMessage::new(TicketAuthor::Staff("s1".into()), "Looks like APN", true).unwrap(),
            TicketMessage::new(TicketAuthor::Staff("s1".into()), "Please check APN", false)
                .unwrap(),
        ];
        let shown: Vec<&str> = customer_view(&msgs).iter().map(|m| m.body()).collect();
        assert_eq!(shown, vec!["Help", "Please check APN"]);
        assert_eq!(
            TicketMessage::new(TicketAuthor::Customer(user), "x", true),
            Err(Error::denied(ReasonCode::InternalNoteStaffOnly))
        );
        assert_eq!(
            TicketMessage::new(TicketAuthor::System, "x", true),
            Err(Error::denied(ReasonCode::InternalNoteStaffOnly))
        );
        assert_eq!(
            TicketMessage::new(TicketAuthor::System, " ", false)
                .unwrap_err()
                .field(),
            Some("body")
        );
        let forged = format!(
            r#"{{"author":{{"author":"customer","id":"{user}"}},"body":"x","internal":true}}"#
        );
        assert!(serde_json::from_str::<TicketMessage>(&forged).is_err());
        let json = serde_json::to_string(&msgs[1]).unwrap();
        assert_eq!(
            serde_json::from_str::<TicketMessage>(&json).unwrap(),
            msgs[1]
        );
    }
}
