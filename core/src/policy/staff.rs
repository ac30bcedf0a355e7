//! Provider staff permissions (STF-1) and the staff side of the legal-field rule (ACC-1).

use std::collections::BTreeSet;

use super::Decision;
use crate::error::{Error, ReasonCode, Result, text_field};
use crate::roles::{Department, StaffRole};

/// The longest staff identifier accepted, in characters.
pub const STAFF_ID_MAX_CHARS: usize = 200;

/// The longest reason for a legal-field change accepted, in characters (ACC-1).
pub const LEGAL_CHANGE_REASON_MAX_CHARS: usize = 500;

/// A provider staff identity, authenticated by the host (its SSO) and built by it (STF-1).
///
/// Valid by construction: a non-empty identifier without control characters and at least one
/// staff role. Departments scope the Support role (TKT-2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "StaffActorData")]
pub struct StaffActor {
    staff_id: String,
    roles: BTreeSet<StaffRole>,
    departments: BTreeSet<Department>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct StaffActorData {
    staff_id: String,
    roles: BTreeSet<StaffRole>,
    #[serde(default)]
    departments: BTreeSet<Department>,
}

impl TryFrom<StaffActorData> for StaffActor {
    type Error = Error;
    fn try_from(data: StaffActorData) -> Result<Self> {
        StaffActor::new(&data.staff_id, data.roles, data.departments)
    }
}

impl StaffActor {
    /// A staff identity with `roles` and the `departments` it serves.
    ///
    /// # Errors
    /// [`Error::Validation`] on `staff_id` (empty, longer than [`STAFF_ID_MAX_CHARS`], control
    /// characters) or on `roles` (`required` when empty).
    pub fn new(
        staff_id: &str,
        roles: impl IntoIterator<Item = StaffRole>,
        departments: impl IntoIterator<Item = Department>,
    ) -> Result<Self> {
        let staff_id = text_field("staff_id", staff_id, STAFF_ID_MAX_CHARS, true, false)?;
        let roles: BTreeSet<StaffRole> = roles.into_iter().collect();
        if roles.is_empty() {
            return Err(Error::validation(
                "roles",
                ReasonCode::Required,
                "a staff identity needs at least one staff role",
            ));
        }
        Ok(StaffActor {
            staff_id,
            roles,
            departments: departments.into_iter().collect(),
        })
    }

    /// The host's identifier of the staff member (written to the audit log).
    pub fn staff_id(&self) -> &str {
        &self.staff_id
    }

    /// The staff roles held.
    pub fn roles(&self) -> &BTreeSet<StaffRole> {
        &self.roles
    }

    /// The departments served.
    pub fn departments(&self) -> &BTreeSet<Department> {
        &self.departments
    }

    /// Whether the identity holds `role`.
    pub fn has_role(&self, role: StaffRole) -> bool {
        self.roles.contains(&role)
    }
}

/// Declares [`StaffAction`] with its stable names.
macro_rules! staff_actions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $label:literal;)*) => {
        /// An operation of a `StaffSession` (DESIGN §7, STF-1).
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum StaffAction {
            $($(#[$doc])* $variant,)*
        }

        impl StaffAction {
            /// Every staff action, in table order.
            pub const ALL: &'static [StaffAction] = &[$(StaffAction::$variant,)*];

            /// The stable snake_case name (the serde form).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(StaffAction::$variant => $name,)*
                }
            }

            /// An English phrase completing "may …".
            pub const fn label(self) -> &'static str {
                match self {
                    $(StaffAction::$variant => $label,)*
                }
            }
        }
    };
}

staff_actions! {
    /// `staff.tickets(department, ..)`: a department's ticket queue.
    ViewTickets = "view_tickets", "view the tickets of their departments";
    /// `staff.reply_ticket(.., internal = false)`: a reply the customer sees.
    ReplyTicket = "reply_ticket", "reply to tickets of their departments";
    /// `staff.reply_ticket(.., internal = true)`: a note never shown to customers (TKT-2).
    WriteInternalNote = "write_internal_note", "write internal notes on tickets of their departments";
    /// Moving a ticket through the staff transitions of TKT-1.
    SetTicketStatus = "set_ticket_status", "change the status of tickets of their departments";
    /// `staff.set_order_status(..)`.
    SetOrderStatus = "set_order_status", "change order status";
    /// `staff.add_shipment(..)`.
    AddShipment = "add_shipment", "add shipments";
    /// `staff.assign_sims(..)`: SIMs to an order.
    AssignSims = "assign_sims", "assign SIMs to orders";
    /// `staff.activate_plan(..)`: a SIM and numbers to a plan order.
    ActivatePlan = "activate_plan", "activate plans";
    /// `staff.attach_invoice(..)`.
    AttachInvoice = "attach_invoice", "attach invoices";
    /// `staff.add_document(..)`: credit notes, corrected invoices.
    AddDocument = "add_document", "add additional documents";
    /// `staff.change_legal_fields(.., reason)` (ACC-1).
    ChangeLegalFields = "change_legal_fields", "change company name or billing country";
    /// `staff.refund(..)`.
    Refund = "refund", "refund payments";
    /// `staff.administer_owner(..)`: Owners' roles, removal, password reset (USR-3).
    AdministerOwner = "administer_owner", "administer Owners";
    /// `staff.approve_email_change(..)` (USR-3).
    ApproveEmailChange = "approve_email_change", "approve e-mail changes";
}

impl StaffAction {
    /// How many staff actions there are.
    pub const COUNT: usize = StaffAction::ALL.len();
}

impl std::fmt::Display for StaffAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One row of the staff table: which staff roles may perform an action and under what
/// conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct StaffPermissionRow {
    /// The action.
    pub action: StaffAction,
    /// The staff roles that may perform it (any one suffices).
    pub roles: &'static [StaffRole],
    /// Whether it is limited to the departments the staff member serves (tickets, TKT-2).
    pub department_scoped: bool,
    /// Whether it needs a reason that goes into the audit log (ACC-1).
    pub reason_required: bool,
}

const fn staff_row(
    action: StaffAction,
    roles: &'static [StaffRole],
    department_scoped: bool,
    reason_required: bool,
) -> StaffPermissionRow {
    StaffPermissionRow {
        action,
        roles,
        department_scoped,
        reason_required,
    }
}

use StaffRole::{Billing, Fulfillment, Supervisor, Support};

/// The STF-1 table, row `i` is `StaffAction::ALL[i]` (checked at compile time).
#[rustfmt::skip]
const STAFF_PERMISSIONS: &[StaffPermissionRow] = &[
    //        action                             roles           department reason
    staff_row(StaffAction::ViewTickets,          &[Support],     true,      false),
    staff_row(StaffAction::ReplyTicket,          &[Support],     true,      false),
    staff_row(StaffAction::WriteInternalNote,    &[Support],     true,      false),
    staff_row(StaffAction::SetTicketStatus,      &[Support],     true,      false),
    staff_row(StaffAction::SetOrderStatus,       &[Fulfillment], false,     false),
    staff_row(StaffAction::AddShipment,          &[Fulfillment], false,     false),
    staff_row(StaffAction::AssignSims,           &[Fulfillment], false,     false),
    staff_row(StaffAction::ActivatePlan,         &[Fulfillment], false,     false),
    staff_row(StaffAction::AttachInvoice,        &[Billing],     false,     false),
    staff_row(StaffAction::AddDocument,          &[Billing],     false,     false),
    staff_row(StaffAction::ChangeLegalFields,    &[Billing],     false,     true),
    staff_row(StaffAction::Refund,               &[Billing],     false,     false),
    staff_row(StaffAction::AdministerOwner,      &[Supervisor],  false,     false),
    staff_row(StaffAction::ApproveEmailChange,   &[Supervisor],  false,     false),
];

const _: () = {
    assert!(STAFF_PERMISSIONS.len() == StaffAction::COUNT);
    let mut i = 0;
    while i < STAFF_PERMISSIONS.len() {
        assert!(STAFF_PERMISSIONS[i].action as usize == i);
        assert!(StaffAction::ALL[i] as usize == i);
        i += 1;
    }
};

/// The STF-1 staff table, one row per [`StaffAction`], for hosts to render.
pub fn staff_permission_table() -> &'static [StaffPermissionRow] {
    STAFF_PERMISSIONS
}

/// Decides whether `staff` may perform `action` (STF-1). `department` is the department of
/// the ticket concerned; department-scoped actions (tickets) need it and need the staff member
/// to serve it (`department_required`, `other_department`). Other actions ignore it.
pub fn decide_staff(
    staff: &StaffActor,
    action: StaffAction,
    department: Option<Department>,
) -> Decision {
    let Some(row) = STAFF_PERMISSIONS.get(action as usize) else {
        return Decision::deny(ReasonCode::StaffRoleLacksPermission);
    };
    if !row.roles.iter().any(|role| staff.has_role(*role)) {
        return Decision::deny(ReasonCode::StaffRoleLacksPermission);
    }
    if row.department_scoped {
        match department {
            None => return Decision::deny(ReasonCode::DepartmentRequired),
            Some(d) if !staff.departments.contains(&d) => {
                return Decision::deny(ReasonCode::OtherDepartment);
            }
            Some(_) => {}
        }
    }
    Decision::allow()
}

/// The reason a Billing staff member gives for changing a customer's company name or billing
/// country (ACC-1); it goes into the audit log. Trimmed, 1..=500 characters, line breaks
/// allowed, no other control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LegalChangeReason(String);

impl LegalChangeReason {
    /// Validates a reason.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `reason`: `required` when empty, `too_long` above
    /// [`LEGAL_CHANGE_REASON_MAX_CHARS`] characters, `control_characters`.
    pub fn parse(raw: &str) -> Result<Self> {
        text_field("reason", raw, LEGAL_CHANGE_REASON_MAX_CHARS, true, true).map(Self)
    }

    /// The reason text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for LegalChangeReason {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}

impl From<LegalChangeReason> for String {
    fn from(reason: LegalChangeReason) -> String {
        reason.0
    }
}

/// The staff side of ACC-1: `staff` may change the legal fields (company name, billing
/// country) only as Billing, and only with a reason. Returns the validated reason for the
/// audit entry.
///
/// # Errors
/// [`Error::PermissionDenied`] with `staff_role_lacks_permission` when `staff` is not Billing
/// (checked first, so the reason of a refused attempt is never judged);
/// [`Error::Validation`] on `reason` as [`LegalChangeReason::parse`].
pub fn authorize_legal_field_change(
    staff: &StaffActor,
    raw_reason: &str,
) -> Result<LegalChangeReason> {
    decide_staff(staff, StaffAction::ChangeLegalFields, None).into_result()?;
    LegalChangeReason::parse(raw_reason)
}
