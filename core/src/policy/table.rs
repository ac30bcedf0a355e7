//! The role → permission map of USR-1 and USR-4 as one data table.

use super::action::Action;
use crate::roles::{Channel, Role};

/// What one role may do with one action (a cell of the permission table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// The role may not perform the action.
    Denied,
    /// Allowed through the customer portal (a logged-in user's session).
    Portal,
    /// Allowed through the API channel (an API client's session).
    Api,
}

impl Access {
    /// Whether the cell allows the action through `channel`.
    pub const fn allows(self, channel: Channel) -> bool {
        matches!(
            (self, channel),
            (Access::Portal, Channel::Portal) | (Access::Api, Channel::Api)
        )
    }
}

/// One row of the permission table: one action and what each role may do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionRow {
    /// The action.
    pub action: Action,
    /// What an Owner may.
    pub owner: Access,
    /// What an Admin may.
    pub admin: Access,
    /// What a User may.
    pub user: Access,
    /// What a ReadOnly user may.
    pub read_only: Access,
    /// What an ApiUser may.
    pub api_user: Access,
}

impl PermissionRow {
    /// The cell of `role`.
    pub const fn access(&self, role: Role) -> Access {
        match role {
            Role::Owner => self.owner,
            Role::Admin => self.admin,
            Role::User => self.user,
            Role::ReadOnly => self.read_only,
            Role::ApiUser => self.api_user,
        }
    }
}

const fn row(
    action: Action,
    owner: Access,
    admin: Access,
    user: Access,
    read_only: Access,
    api_user: Access,
) -> PermissionRow {
    PermissionRow {
        action,
        owner,
        admin,
        user,
        read_only,
        api_user,
    }
}

const N: Access = Access::Denied;
const P: Access = Access::Portal;
const A: Access = Access::Api;

/// The permission table. Row `i` is `Action::ALL[i]` (checked at compile time), so a decision
/// is two array reads and no hashing.
///
/// Columns: Owner, Admin, User, ReadOnly, ApiUser. USR-4: Owner everything (bounded by USR-3,
/// see [`super::decide_on_user`]); Admin the same (USR-3 reserves only user-level operations,
/// refined per target); User SIMs, plans, tickets and reading orders, never orders, top-ups,
/// users, cards or customer data; ReadOnly reads what User reads and changes only its own
/// profile; ApiUser orders, SIMs, top-ups and Auto-Top-Up through the API only.
#[rustfmt::skip]
const PERMISSIONS: &[PermissionRow] = &[
    // action                            O  A  U  R  ApiUser
    row(Action::ViewOwnProfile,          P, P, P, P, A),
    row(Action::UpdateOwnProfile,        P, P, P, P, N),
    row(Action::EnrolTotp,               P, P, P, P, N),
    row(Action::ConfirmTotp,             P, P, P, P, N),
    row(Action::DisableTotp,             P, P, P, P, N),
    row(Action::RegenerateRecoveryCodes, P, P, P, P, N),
    row(Action::Logout,                  P, P, P, P, A),
    row(Action::RequireSecondFactor,     P, P, N, N, N),
    row(Action::ViewAuditLog,            P, P, N, N, N),
    row(Action::ViewCustomer,            P, P, N, N, N),
    row(Action::UpdateCustomer,          P, P, N, N, N),
    row(Action::ViewContactEmails,       P, P, N, N, N),
    row(Action::SetContactEmails,        P, P, N, N, N),
    row(Action::SetLanguage,             P, P, N, N, N),
    row(Action::ViewVolumeLimits,        P, P, N, N, N),
    row(Action::SetVolumeLimits,         P, P, N, N, N),
    row(Action::ViewUsers,               P, P, N, N, N),
    row(Action::InviteUser,              P, P, N, N, N),
    row(Action::UpdateUserName,          P, P, N, N, N),
    row(Action::UpdateUserEmail,         P, P, N, N, N),
    row(Action::ResetUserSecret,         P, P, N, N, N),
    row(Action::SetUserRole,             P, P, N, N, N),
    row(Action::RemoveUser,              P, P, N, N, N),
    row(Action::CreateApiClient,         P, P, N, N, N),
    row(Action::ViewAddresses,           P, P, N, N, N),
    row(Action::AddAddress,              P, P, N, N, N),
    row(Action::UpdateAddress,           P, P, N, N, N),
    row(Action::DeleteAddress,           P, P, N, N, N),
    row(Action::SetDefaultAddress,       P, P, N, N, N),
    row(Action::ViewCards,               P, P, N, N, N),
    row(Action::SaveCard,                P, P, N, N, N),
    row(Action::DeleteCard,              P, P, N, N, N),
    row(Action::AssignCardToPlans,       P, P, N, N, N),
    row(Action::ViewAutoTopUp,           P, P, P, P, A),
    row(Action::SetAutoTopUp,            P, P, N, N, A),
    row(Action::ViewOrders,              P, P, P, P, A),
    row(Action::PlaceOrder,              P, P, N, N, A),
    row(Action::CancelOrder,             P, P, N, N, A),
    row(Action::ViewInvoices,            P, P, N, N, A),
    row(Action::ViewDocuments,           P, P, N, N, A),
    row(Action::ExportOrderSims,         P, P, P, P, A),
    row(Action::ViewSims,                P, P, P, P, A),
    row(Action::SetSimLabel,             P, P, P, N, A),
    row(Action::SetSimEnabled,           P, P, P, N, A),
    row(Action::ViewPlans,               P, P, P, P, N),
    row(Action::ChangePlanDates,         P, P, P, N, N),
    row(Action::SwapSim,                 P, P, P, N, N),
    row(Action::SetVoicemail,            P, P, P, N, N),
    row(Action::SendApnSettings,         P, P, P, N, N),
    row(Action::ViewPlanUsage,           P, P, P, P, N),
    row(Action::SetCallForwarding,       P, P, P, N, N),
    row(Action::ResetCallForwarding,     P, P, P, N, N),
    row(Action::TopUp,                   P, P, N, N, A),
    row(Action::ViewTickets,             P, P, P, P, N),
    row(Action::CreateTicket,            P, P, P, N, N),
    row(Action::ReplyTicket,             P, P, P, N, N),
    row(Action::CloseTicket,             P, P, P, N, N),
];

// Row `i` must describe `Action::ALL[i]`, and every action must have exactly one row.
const _: () = {
    assert!(PERMISSIONS.len() == Action::COUNT);
    let mut i = 0;
    while i < PERMISSIONS.len() {
        assert!(PERMISSIONS[i].action as usize == i);
        i += 1;
    }
};

/// The permission table of USR-1/USR-4, one row per [`Action`] in [`Action::ALL`] order, for
/// hosts to render (it serialises with serde).
pub fn permission_table() -> &'static [PermissionRow] {
    PERMISSIONS
}

/// The cell of the table for `role` and `action`.
#[inline]
pub fn access(role: Role, action: Action) -> Access {
    match PERMISSIONS.get(action as usize) {
        Some(row) => row.access(role),
        // Unreachable by the compile-time check above; deny rather than panic.
        None => Access::Denied,
    }
}
