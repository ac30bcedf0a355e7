//! The customer operations the policy decides on: one [`Action`] per use case of DESIGN §7.

use crate::roles::Channel;

/// Declares [`Action`] from one list, so the enum, its stable name, its English label and
/// [`Action::ALL`] cannot drift apart. The declaration order is the row order of the
/// permission table ([`super::permission_table`]).
macro_rules! actions {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $label:literal;)*) => {
        /// A customer operation (DESIGN §7), decided by [`super::decide`] against the
        /// permission table. Operations on one particular user are refined by
        /// [`super::decide_on_user`] (USR-3).
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(rename_all = "snake_case")]
        pub enum Action {
            $($(#[$doc])* $variant,)*
        }

        impl Action {
            /// Every action, in table order (`Action::ALL[a as usize] == a`).
            pub const ALL: &'static [Action] = &[$(Action::$variant,)*];

            /// The stable snake_case name (the serde form), e.g. `place_order`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }

            /// An English phrase completing "may …", e.g. "place orders".
            pub const fn label(self) -> &'static str {
                match self {
                    $(Action::$variant => $label,)*
                }
            }
        }
    };
}

actions! {
    // -- own profile and session (USR-2, AUTH-4, AUTH-6) --
    /// `session.me()`: read one's own profile.
    ViewOwnProfile = "view_own_profile", "view their own profile";
    /// `session.update_me(..)`: change one's own name, e-mail or password (USR-2).
    UpdateOwnProfile = "update_own_profile", "change their own name, e-mail or password";
    /// `session.enrol_totp()` (AUTH-6).
    EnrolTotp = "enrol_totp", "enrol a second factor";
    /// `session.confirm_totp(..)` (AUTH-6).
    ConfirmTotp = "confirm_totp", "confirm a second factor";
    /// `session.disable_totp(..)` (AUTH-6).
    DisableTotp = "disable_totp", "turn off their second factor";
    /// `session.regenerate_recovery_codes()` (AUTH-6).
    RegenerateRecoveryCodes = "regenerate_recovery_codes", "regenerate their recovery codes";
    /// `session.logout()` (AUTH-4).
    Logout = "logout", "log out";

    // -- organisation security --
    /// `session.require_second_factor(..)`: require TOTP for the whole organisation (AUTH-6).
    RequireSecondFactor = "require_second_factor", "require a second factor for the organisation";
    /// `session.audit_log(..)` (AUD-1).
    ViewAuditLog = "view_audit_log", "read the audit log";

    // -- customer data (ACC-*) --
    /// `session.customer()`.
    ViewCustomer = "view_customer", "view the customer data";
    /// `session.update_customer(..)` (the legal fields stay immutable, ACC-1).
    UpdateCustomer = "update_customer", "change the customer data";
    /// `session.contact_emails()` (ACC-3).
    ViewContactEmails = "view_contact_emails", "view the contact e-mail addresses";
    /// `session.set_contact_emails(..)` (ACC-3).
    SetContactEmails = "set_contact_emails", "change the contact e-mail addresses";
    /// `session.set_language(..)` (ACC-4).
    SetLanguage = "set_language", "change the contact language";
    /// Reading the monthly volume limits (ACC-5).
    ViewVolumeLimits = "view_volume_limits", "view the monthly volume limits";
    /// `session.set_volume_limits(..)` (ACC-5).
    SetVolumeLimits = "set_volume_limits", "change the monthly volume limits";

    // -- users (USR-3, USR-4) --
    /// `session.users()`.
    ViewUsers = "view_users", "list the organisation's users";
    /// `session.invite_user(..)`.
    InviteUser = "invite_user", "invite users";
    /// `session.update_user(..)` changing another user's name.
    UpdateUserName = "update_user_name", "change other users' names";
    /// `session.update_user(..)` changing another user's e-mail (takes effect after approval).
    UpdateUserEmail = "update_user_email", "change other users' e-mail addresses";
    /// `session.reset_secret(..)`: reset another user's password or API secret.
    ResetUserSecret = "reset_user_secret", "reset other users' passwords or API secrets";
    /// `session.set_role(..)`.
    SetUserRole = "set_user_role", "change users' roles";
    /// `session.remove_user(..)`.
    RemoveUser = "remove_user", "remove users";
    /// `session.create_api_client(..)`: a new ApiUser with a client id and secret.
    CreateApiClient = "create_api_client", "create API clients";

    // -- addresses (ADDR-*) --
    /// `session.addresses()`.
    ViewAddresses = "view_addresses", "view the address book";
    /// `session.add_address(..)`.
    AddAddress = "add_address", "add addresses";
    /// `session.update_address(..)`.
    UpdateAddress = "update_address", "edit addresses";
    /// `session.delete_address(..)`.
    DeleteAddress = "delete_address", "delete addresses";
    /// `session.set_default(..)`.
    SetDefaultAddress = "set_default_address", "choose the default addresses";

    // -- cards and Auto-Top-Up (PAY-*) --
    /// `session.cards()`.
    ViewCards = "view_cards", "view the stored cards";
    /// `session.save_card(..)`.
    SaveCard = "save_card", "save cards";
    /// `session.delete_card(..)`.
    DeleteCard = "delete_card", "delete cards";
    /// `session.assign_card_to_plans(..)` (PAY-2).
    AssignCardToPlans = "assign_card_to_plans", "assign cards to plans";
    /// `session.auto_top_up_state(..)` (PAY-3).
    ViewAutoTopUp = "view_auto_top_up", "view the Auto-Top-Up state";
    /// `session.set_auto_top_up(..)` (PAY-3).
    SetAutoTopUp = "set_auto_top_up", "turn Auto-Top-Up on or off";

    // -- orders (ORD-*) --
    /// `session.orders(..)` and `session.order(..)`.
    ViewOrders = "view_orders", "view orders";
    /// `session.place_order(..)` (ORD-5).
    PlaceOrder = "place_order", "place orders";
    /// `session.cancel_order(..)`.
    CancelOrder = "cancel_order", "cancel orders";
    /// `session.invoice(..)` (ORD-2).
    ViewInvoices = "view_invoices", "download invoices";
    /// `session.documents(..)`: additional documents such as credit notes (ORD-2).
    ViewDocuments = "view_documents", "download additional documents";
    /// `session.export_order_sims(..)` (ORD-3).
    ExportOrderSims = "export_order_sims", "export the SIMs of an order";

    // -- SIMs (SIM-2) --
    /// `session.sims(..)`.
    ViewSims = "view_sims", "view SIMs";
    /// `session.set_sim_label(..)`.
    SetSimLabel = "set_sim_label", "label SIMs";
    /// `session.set_sim_enabled(..)`.
    SetSimEnabled = "set_sim_enabled", "enable or disable SIMs";

    // -- plans (PLAN-*) --
    /// `session.plans()`.
    ViewPlans = "view_plans", "view plans";
    /// `session.change_plan_dates(..)` (PLAN-1).
    ChangePlanDates = "change_plan_dates", "change plan dates";
    /// `session.swap_sim(..)` (PLAN-2).
    SwapSim = "swap_sim", "swap a plan's SIM";
    /// `session.set_voicemail(..)` (PLAN-3).
    SetVoicemail = "set_voicemail", "change voicemail settings";
    /// `session.send_apn_settings(..)` (PLAN-4).
    SendApnSettings = "send_apn_settings", "send APN settings";
    /// `session.plan_usage(..)` (PLAN-5).
    ViewPlanUsage = "view_plan_usage", "view plan usage";
    /// `session.set_call_forwarding(..)` (PLAN-6).
    SetCallForwarding = "set_call_forwarding", "set call forwarding";
    /// `session.reset_call_forwarding(..)` (PLAN-6).
    ResetCallForwarding = "reset_call_forwarding", "reset call forwarding";

    // -- top-ups (TOP-1) --
    /// `session.top_up(..)`.
    TopUp = "top_up", "top up SIMs";

    // -- tickets (TKT-*) --
    /// `session.tickets(..)` and `session.ticket(..)`.
    ViewTickets = "view_tickets", "view tickets";
    /// `session.create_ticket(..)`.
    CreateTicket = "create_ticket", "create tickets";
    /// `session.reply_ticket(..)`.
    ReplyTicket = "reply_ticket", "reply to tickets";
    /// `session.close_ticket(..)`; who may close which ticket is refined by TKT-1.
    CloseTicket = "close_ticket", "close tickets";
}

impl Action {
    /// How many actions there are (the number of rows of the permission table).
    pub const COUNT: usize = Action::ALL.len();

    /// Whether this action through `channel` needs a passed `HumanVerifier` check (AUTH-5):
    /// profile changes and card saves through the portal; never on the API or staff channels.
    pub const fn needs_human_verification(self, channel: Channel) -> bool {
        matches!(channel, Channel::Portal)
            && matches!(self, Action::UpdateOwnProfile | Action::SaveCard)
    }

    /// Whether the action stays available to a user who must still enrol a second factor
    /// because the organisation requires one (AUTH-6): `me`, `enrol_totp`, `confirm_totp`
    /// and `logout`.
    pub const fn allowed_before_second_factor_enrolment(self) -> bool {
        matches!(
            self,
            Action::ViewOwnProfile | Action::EnrolTotp | Action::ConfirmTotp | Action::Logout
        )
    }
}

// The permission table is indexed by `action as usize`; this keeps `ALL` in declaration order.
const _: () = {
    let mut i = 0;
    while i < Action::ALL.len() {
        assert!(Action::ALL[i] as usize == i);
        i += 1;
    }
};

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usr_1_action_names_are_the_serde_form_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for action in Action::ALL {
            let json = serde_json::to_string(action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
            assert!(seen.insert(action.as_str()));
            let back: Action = serde_json::from_str(&json).unwrap();
            assert_eq!(back, *action);
            assert!(!action.label().is_empty());
        }
        assert_eq!(seen.len(), Action::COUNT);
    }

    #[test]
    fn auth_5_human_verification_only_for_portal_profile_and_card_saves() {
        for action in Action::ALL {
            for channel in [
                Channel::Portal,
                Channel::Api,
                Channel::Staff,
                Channel::Network,
                Channel::System,
            ] {
                let expected = channel == Channel::Portal
                    && (*action == Action::UpdateOwnProfile || *action == Action::SaveCard);
                assert_eq!(
                    action.needs_human_verification(channel),
                    expected,
                    "{action} {channel:?}"
                );
            }
        }
    }
}
