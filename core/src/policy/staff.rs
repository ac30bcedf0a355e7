//! Provider staff permissions (STF-1) and the staff side of the legal-field rule (ACC-1).

use std::collections::BTreeSet;

use super::Decision;
use crate::audit::StaffId;
use crate::error::{Error, ReasonCode, Result, text_field};
use crate::roles::{Department, StaffRole};

/// The longest staff identifier accepted, in characters (the audit log's [`StaffId`]).
pub const STAFF_ID_MAX_CHARS: usize = 128;

/// The longest reason for a legal-field change accepted, in characters (ACC-1).
pub const LEGAL_CHANGE_REASON_MAX_CHARS: usize = 500;

/// A provider staff identity, authenticated by the host (its SSO) and built by it (STF-1).
///
/// Valid by construction: an identifier the audit log can record ([`StaffId`]: letters, digits
/// and `. _ - : @ +`) and at least one staff role. Departments scope the Support role (TKT-2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "StaffActorData")]
pub struct StaffActor {
    staff_id: StaffId,
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
    /// [`Error::Validation`] on `staff_id` (empty, longer than [`STAFF_ID_MAX_CHARS`], other
    /// characters than [`StaffId`] allows) or on `roles` (`required` when empty).
    pub fn new(
        staff_id: &str,
        roles: impl IntoIterator<Item = StaffRole>,
        departments: impl IntoIterator<Item = Department>,
    ) -> Result<Self> {
        let staff_id = StaffId::parse(staff_id)?;
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
        self.staff_id.as_str()
    }

    /// The identifier as the audit log records it.
    pub fn audit_id(&self) -> &StaffId {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::explain_staff;

    /// STF-1 written out: which staff role does what; tickets are limited to the departments
    /// the staff member serves (TKT-2).
    const EXPECTED: &[(&str, StaffRole, bool)] = &[
        ("view_tickets", Support, true),
        ("reply_ticket", Support, true),
        ("write_internal_note", Support, true),
        ("set_ticket_status", Support, true),
        ("set_order_status", Fulfillment, false),
        ("add_shipment", Fulfillment, false),
        ("assign_sims", Fulfillment, false),
        ("activate_plan", Fulfillment, false),
        ("attach_invoice", Billing, false),
        ("add_document", Billing, false),
        ("change_legal_fields", Billing, false),
        ("refund", Billing, false),
        ("administer_owner", Supervisor, false),
        ("approve_email_change", Supervisor, false),
    ];

    fn role_sets() -> Vec<Vec<StaffRole>> {
        (1u8..16)
            .map(|mask| {
                StaffRole::ALL
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, r)| *r)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn stf_1_every_role_set_action_department_matches_the_written_expectation() {
        assert_eq!(EXPECTED.len(), StaffAction::COUNT);
        let served = [Department::Billing, Department::Technical];
        for roles in role_sets() {
            let staff = StaffActor::new("s-1", roles.clone(), served).unwrap();
            for (name, role, scoped) in EXPECTED {
                let action: StaffAction =
                    serde_json::from_value(serde_json::Value::String((*name).to_owned())).unwrap();
                let mut departments: Vec<Option<Department>> =
                    Department::ALL.iter().copied().map(Some).collect();
                departments.push(None);
                for department in departments {
                    let expected = if !roles.contains(role) {
                        ReasonCode::StaffRoleLacksPermission
                    } else if !*scoped {
                        ReasonCode::Allowed
                    } else {
                        match department {
                            None => ReasonCode::DepartmentRequired,
                            Some(d) if served.contains(&d) => ReasonCode::Allowed,
                            Some(_) => ReasonCode::OtherDepartment,
                        }
                    };
                    let d = decide_staff(&staff, action, department);
                    assert_eq!(
                        d.reason(),
                        expected,
                        "{roles:?} {action} {department:?}: {}",
                        explain_staff(action, &d)
                    );
                }
            }
        }
    }

    #[test]
    fn stf_1_staff_table_is_exported() {
        let json = serde_json::to_value(staff_permission_table()).unwrap();
        assert_eq!(json.as_array().unwrap().len(), StaffAction::COUNT);
        let legal = json
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["action"] == "change_legal_fields")
            .unwrap();
        assert_eq!(
            legal,
            &serde_json::json!({"action": "change_legal_fields", "roles": ["billing"],
                "department_scoped": false, "reason_required": true})
        );
    }

    #[test]
    fn stf_1_staff_identity_is_validated() {
        assert_eq!(
            StaffActor::new("  ", [Support], []).unwrap_err().field(),
            Some("staff_id")
        );
        assert_eq!(
            StaffActor::new("s-1", [], []).unwrap_err().reason(),
            ReasonCode::Required
        );
        let staff = StaffActor::new(" s-1 ", [Billing, Billing], [Department::General]).unwrap();
        assert_eq!(staff.staff_id(), "s-1");
        // What the audit log cannot record is refused here, not at the first audit entry.
        assert_eq!(
            StaffActor::new("sso|sam", [Support], [])
                .unwrap_err()
                .field(),
            Some("staff_id")
        );
        assert_eq!(staff.roles().len(), 1);
        let json = serde_json::to_value(&staff).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"staff_id": "s-1", "roles": ["billing"], "departments": ["general"]})
        );
        assert_eq!(serde_json::from_value::<StaffActor>(json).unwrap(), staff);
        assert!(
            serde_json::from_value::<StaffActor>(serde_json::json!({"staff_id": "x", "roles": []}))
                .is_err()
        );
    }

    #[test]
    fn acc_1_only_billing_changes_legal_fields_and_with_a_reason() {
        let billing = StaffActor::new("b", [Billing], []).unwrap();
        let reason = authorize_legal_field_change(&billing, "  court order 2025/17  ").unwrap();
        assert_eq!(reason.as_str(), "court order 2025/17");
        for role in [Support, Fulfillment, Supervisor] {
            let staff = StaffActor::new("x", [role], Department::ALL).unwrap();
            assert_eq!(
                authorize_legal_field_change(&staff, "a reason"),
                Err(Error::denied(ReasonCode::StaffRoleLacksPermission))
            );
        }
    }

    #[test]
    fn acc_1_legal_change_reason_is_non_empty_and_at_most_500_characters() {
        let billing = StaffActor::new("b", [Billing], []).unwrap();
        assert_eq!(
            authorize_legal_field_change(&billing, " \n ")
                .unwrap_err()
                .reason(),
            ReasonCode::Required
        );
        let max = "ü".repeat(LEGAL_CHANGE_REASON_MAX_CHARS);
        assert_eq!(LegalChangeReason::parse(&max).unwrap().as_str(), max);
        let err = LegalChangeReason::parse(&format!("{max}x")).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::TooLong);
        assert_eq!(err.field(), Some("reason"));
        assert!(LegalChangeReason::parse("line one\nline two").is_ok());
        assert_eq!(
            serde_json::from_str::<LegalChangeReason>("\"\"")
                .map_err(|e| e.to_string().contains("required")),
            Err(true)
        );
    }
}
