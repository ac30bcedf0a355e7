//! The permission policy (USR-1 … USR-5, STF-1, the staff side of ACC-1, the channel parts of
//! AUTH-4 … AUTH-6).
//!
//! Who may do what is data, not scattered `if`s: [`permission_table`] (role × action, with the
//! channel each role uses), [`user_admin_table`] and [`role_grant_table`] (what one user may do
//! to another, USR-3) and [`staff_permission_table`] (STF-1). All of them serialise, so a host
//! can show them. Every decision is a [`Decision`] with a stable [`ReasonCode`] that
//! [`explain`] turns into English.
//!
//! Checks run in a fixed order, so that a probe across organisations learns nothing: the
//! tenant first (USR-5: another organisation's data is `other_organisation`, which
//! [`Decision::into_result`] reports as [`Error::NotFound`], exactly like a missing row), then
//! the channel of the credential (AUTH-4), then the role's cell of the table.
//!
//! ```
//! # use selfcare_core::ids::{OrgId, UserId};
//! # use selfcare_core::policy::{Action, Actor, decide};
//! # use selfcare_core::roles::{Channel, Role};
//! # use selfcare_core::{Error, ReasonCode};
//! # let org = OrgId::parse("0190a6a0-0000-7000-8000-000000000001").unwrap();
//! # let other = OrgId::parse("0190a6a0-0000-7000-8000-000000000009").unwrap();
//! # let user = UserId::parse("0190a6a0-0000-7000-8000-000000000002").unwrap();
//! let reader = Actor { org, user, role: Role::ReadOnly, channel: Channel::Portal };
//! assert!(decide(&reader, Action::ViewSims, org).allowed());
//! assert_eq!(decide(&reader, Action::PlaceOrder, org).reason(), ReasonCode::RoleLacksPermission);
//! assert_eq!(decide(&reader, Action::ViewSims, other).into_result(), Err(Error::NotFound));
//! ```

mod action;
mod staff;
mod table;
mod users;

pub use action::Action;
pub use staff::{
    LEGAL_CHANGE_REASON_MAX_CHARS, LegalChangeReason, STAFF_ID_MAX_CHARS, StaffAction, StaffActor,
    StaffPermissionRow, authorize_legal_field_change, decide_staff, staff_permission_table,
};
pub use table::{Access, PermissionRow, access, permission_table};
pub use users::{
    EmailChangeEffect, RoleGrantRow, SelfChange, TargetRule, TargetUser, UserAdminRow, UserChange,
    can_grant, decide_on_user, decide_self_change, email_change_effect, last_owner,
    role_grant_table, target_rule, user_admin_table,
};

use crate::error::{Error, ReasonCode, Result};
use crate::ids::{OrgId, UserId};
use crate::roles::{Channel, Role};

/// The outcome of a policy check (USR-1): allowed, or denied with a stable reason.
///
/// Consistent by construction: `allowed` is true exactly when the reason is `allowed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "DecisionData")]
pub struct Decision {
    allowed: bool,
    reason: ReasonCode,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionData {
    allowed: bool,
    reason: ReasonCode,
}

impl TryFrom<DecisionData> for Decision {
    type Error = String;
    fn try_from(data: DecisionData) -> std::result::Result<Self, String> {
        if data.allowed == (data.reason == ReasonCode::Allowed) {
            Ok(Decision {
                allowed: data.allowed,
                reason: data.reason,
            })
        } else {
            Err(format!(
                "decision with allowed = {} cannot carry reason `{}`",
                data.allowed, data.reason
            ))
        }
    }
}

impl Decision {
    /// An allowing decision (reason `allowed`).
    pub const fn allow() -> Self {
        Decision {
            allowed: true,
            reason: ReasonCode::Allowed,
        }
    }

    /// A denial for `reason`. A `reason` of `allowed` makes an allowing decision, so the two
    /// fields never disagree.
    pub const fn deny(reason: ReasonCode) -> Self {
        Decision {
            allowed: matches!(reason, ReasonCode::Allowed),
            reason,
        }
    }

    /// Whether the action is allowed.
    pub const fn allowed(&self) -> bool {
        self.allowed
    }

    /// Why: `allowed`, or the reason of the denial.
    pub const fn reason(&self) -> ReasonCode {
        self.reason
    }

    /// The decision as a `Result`, the form use cases propagate with `?`.
    ///
    /// # Errors
    /// - [`Error::NotFound`] for `other_organisation` (USR-5: a denial across organisations
    ///   looks exactly like a missing row);
    /// - [`Error::Conflict`] for `last_owner` (the state, not the role, forbids it);
    /// - [`Error::PermissionDenied`] with the reason otherwise. `second_factor_enrolment_required`
    ///   is also carried this way; the `sdk` reports it as
    ///   `Unauthenticated(SecondFactorEnrolmentRequired)` (AUTH-6).
    pub fn into_result(self) -> Result<()> {
        match self.reason {
            _ if self.allowed => Ok(()),
            ReasonCode::OtherOrganisation => Err(Error::NotFound),
            ReasonCode::LastOwner => Err(Error::conflict(ReasonCode::LastOwner)),
            reason => Err(Error::denied(reason)),
        }
    }
}

/// A customer-side subject: who acts, in which organisation, with which role, through which
/// channel. The host builds it from the session it resumed: the role re-read in this
/// transaction (USR-5), the channel from the credential type, never from the caller (AUTH-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// The actor's organisation.
    pub org: OrgId,
    /// The acting user (an ApiUser for API clients).
    pub user: UserId,
    /// The role as read now.
    pub role: Role,
    /// The channel of the credential.
    pub channel: Channel,
}

/// The channel part of every customer decision (AUTH-4, USR-4): customers act through the
/// portal or the API only; an ApiUser never through the portal.
const fn channel_denial(role: Role, channel: Channel) -> Option<ReasonCode> {
    match (role, channel) {
        (Role::ApiUser, Channel::Portal) => Some(ReasonCode::ApiUserPortalForbidden),
        (_, Channel::Portal | Channel::Api) => None,
        (_, Channel::Staff | Channel::Network | Channel::System) => {
            Some(ReasonCode::ChannelNotAllowed)
        }
    }
}

/// Decides whether `actor` may perform `action` on data of `target_org` (USR-1, USR-4, USR-5).
///
/// Allocation-free: a comparison of organisation ids and two array reads. Operations on one
/// particular user need [`decide_on_user`] as well (USR-3); this answers only whether the role
/// may perform the kind of operation at all.
#[inline]
pub fn decide(actor: &Actor, action: Action, target_org: OrgId) -> Decision {
    if actor.org != target_org {
        return Decision::deny(ReasonCode::OtherOrganisation);
    }
    if let Some(reason) = channel_denial(actor.role, actor.channel) {
        return Decision::deny(reason);
    }
    match access(actor.role, action) {
        Access::Denied => Decision::deny(ReasonCode::RoleLacksPermission),
        cell if cell.allows(actor.channel) => Decision::allow(),
        _ => Decision::deny(ReasonCode::ChannelNotAllowed),
    }
}

/// Whether a user of `role` may open a session through `channel` (AUTH-4, USR-4): Owner,
/// Admin, User and ReadOnly log in to the portal; an ApiUser only through the API with its
/// client id and secret (`api_user_portal_forbidden`).
pub fn decide_login(role: Role, channel: Channel) -> Decision {
    if let Some(reason) = channel_denial(role, channel) {
        return Decision::deny(reason);
    }
    // A role may log in through a channel exactly when the table gives it something there.
    let any = Action::ALL
        .iter()
        .any(|action| access(role, *action).allows(channel));
    if any {
        Decision::allow()
    } else {
        Decision::deny(ReasonCode::ChannelNotAllowed)
    }
}

/// The AUTH-6 gate: when the organisation requires a second factor and the user has not
/// enrolled TOTP yet, every action but `me`, `enrol_totp`, `confirm_totp` and `logout` is
/// denied with `second_factor_enrolment_required`. API clients authenticate with their client
/// secret and have no interactive factor, so the API channel is not gated.
///
/// Run it after [`decide`]; the `sdk` reports the denial as
/// `Unauthenticated(SecondFactorEnrolmentRequired)`.
pub const fn second_factor_gate(
    action: Action,
    channel: Channel,
    org_requires_second_factor: bool,
    user_has_totp: bool,
) -> Decision {
    if org_requires_second_factor
        && !user_has_totp
        && matches!(channel, Channel::Portal)
        && !action.allowed_before_second_factor_enrolment()
    {
        Decision::deny(ReasonCode::SecondFactorEnrolmentRequired)
    } else {
        Decision::allow()
    }
}

/// Explains in English a customer decision about `role` performing `action`, e.g.
/// "A read-only user may not place orders: the role does not include this permission."
///
/// The reason's sentence is [`ReasonCode::text`]. A decision across organisations reads like a
/// missing row (USR-5), without naming the role or the action.
///
/// ```
/// # use selfcare_core::policy::{Action, Decision, explain};
/// # use selfcare_core::roles::Role;
/// # use selfcare_core::ReasonCode;
/// let d = Decision::deny(ReasonCode::AdminCannotGrantRole);
/// assert_eq!(
///     explain(Role::Admin, Action::SetUserRole, &d),
///     "An Admin may not change users' roles: an Admin can grant only the roles User, \
///      Read-only user and API user."
/// );
/// ```
pub fn explain(role: Role, action: Action, decision: &Decision) -> String {
    let who = role.label_with_article();
    match decision.reason() {
        ReasonCode::Allowed => format!("{who} may {}.", action.label()),
        reason @ (ReasonCode::OtherOrganisation | ReasonCode::NotFound) => reason.text().to_owned(),
        reason => format!(
            "{who} may not {}: {}",
            action.label(),
            lower_first(reason.text())
        ),
    }
}

/// Explains in English a staff decision about `action`.
pub fn explain_staff(action: StaffAction, decision: &Decision) -> String {
    match decision.reason() {
        ReasonCode::Allowed => format!("This staff member may {}.", action.label()),
        reason => format!(
            "This staff member may not {}: {}",
            action.label(),
            lower_first(reason.text())
        ),
    }
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match (chars.next(), text.chars().nth(1)) {
        // An acronym ("API users …") keeps its capitals.
        (Some(first), Some(second)) if !second.is_uppercase() => {
            first.to_lowercase().chain(chars).collect()
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;
