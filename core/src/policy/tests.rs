//! Tests of the customer permission table (USR-1, USR-4, USR-5) and the AUTH-4/AUTH-6 gates,
//! against expectations written out here independently of the table in `table.rs`.

use proptest::prelude::*;
use uuid::Uuid;

use super::*;

const CHANNELS: [Channel; 5] = [
    Channel::Portal,
    Channel::Api,
    Channel::Staff,
    Channel::Network,
    Channel::System,
];

fn org(n: u128) -> OrgId {
    OrgId::from_uuid(Uuid::from_u128(n))
}

fn user(n: u128) -> UserId {
    UserId::from_uuid(Uuid::from_u128(n))
}

fn actor(role: Role, channel: Channel) -> Actor {
    Actor {
        org: org(1),
        user: user(1),
        role,
        channel,
    }
}

/// The channel a role's credential has: ApiUser the API, everybody else the portal (USR-4).
fn home_channel(role: Role) -> Channel {
    if role == Role::ApiUser {
        Channel::Api
    } else {
        Channel::Portal
    }
}

/// Who may do what, written from DESIGN §2 USR-4 and §7 (and the choices recorded in the
/// report where the design is silent). Letters: O Owner, A Admin, U User, R ReadOnly,
/// P ApiUser (API channel).
const EXPECTED: &[(&str, &str)] = &[
    // own profile and session: everyone with a portal login (USR-2); an ApiUser only reads
    // `me` and logs out
    ("view_own_profile", "OAURP"),
    ("update_own_profile", "OAUR"),
    ("enrol_totp", "OAUR"),
    ("confirm_totp", "OAUR"),
    ("disable_totp", "OAUR"),
    ("regenerate_recovery_codes", "OAUR"),
    ("logout", "OAURP"),
    // organisation security: Owner, and Admin (all an Owner may but USR-3's reservations)
    ("require_second_factor", "OA"),
    ("view_audit_log", "OA"),
    // customer data: not User ("not … customer data"), hence not ReadOnly, not ApiUser
    ("view_customer", "OA"),
    ("update_customer", "OA"),
    ("view_contact_emails", "OA"),
    ("set_contact_emails", "OA"),
    ("set_language", "OA"),
    ("view_volume_limits", "OA"),
    ("set_volume_limits", "OA"),
    // users: "User and ReadOnly administer nobody"
    ("view_users", "OA"),
    ("invite_user", "OA"),
    ("update_user_name", "OA"),
    ("update_user_email", "OA"),
    ("reset_user_secret", "OA"),
    ("set_user_role", "OA"),
    ("remove_user", "OA"),
    ("create_api_client", "OA"),
    // addresses are customer data
    ("view_addresses", "OA"),
    ("add_address", "OA"),
    ("update_address", "OA"),
    ("delete_address", "OA"),
    ("set_default_address", "OA"),
    // cards: not User; Auto-Top-Up: ApiUser too; its state is part of a SIM (SIM-2)
    ("view_cards", "OA"),
    ("save_card", "OA"),
    ("delete_card", "OA"),
    ("assign_card_to_plans", "OA"),
    ("view_auto_top_up", "OAURP"),
    ("set_auto_top_up", "OAP"),
    // orders: User and ReadOnly read them (not invoices), never place or cancel
    ("view_orders", "OAURP"),
    ("place_order", "OAP"),
    ("cancel_order", "OAP"),
    ("view_invoices", "OAP"),
    ("view_documents", "OAP"),
    ("export_order_sims", "OAURP"),
    // SIMs (SIM-2: switched by Owner, Admin, User, ApiUser)
    ("view_sims", "OAURP"),
    ("set_sim_label", "OAUP"),
    ("set_sim_enabled", "OAUP"),
    // plans: User manages, ReadOnly reads, ApiUser has none
    ("view_plans", "OAUR"),
    ("change_plan_dates", "OAU"),
    ("swap_sim", "OAU"),
    ("set_voicemail", "OAU"),
    ("send_apn_settings", "OAU"),
    ("view_plan_usage", "OAUR"),
    ("set_call_forwarding", "OAU"),
    ("reset_call_forwarding", "OAU"),
    // top-ups: not User
    ("top_up", "OAP"),
    // tickets (TKT-2: User and above create them)
    ("view_tickets", "OAUR"),
    ("create_ticket", "OAU"),
    ("reply_ticket", "OAU"),
    ("close_ticket", "OAU"),
];

fn letter(role: Role) -> char {
    match role {
        Role::Owner => 'O',
        Role::Admin => 'A',
        Role::User => 'U',
        Role::ReadOnly => 'R',
        Role::ApiUser => 'P',
    }
}

fn expected_action(name: &str) -> Action {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).unwrap()
}

fn expected_roles(action: Action) -> &'static str {
    EXPECTED
        .iter()
        .find(|(name, _)| *name == action.as_str())
        .map(|(_, roles)| *roles)
        .unwrap_or_else(|| panic!("no expectation written for {action}"))
}

fn role_may(role: Role, action: Action) -> bool {
    expected_roles(action).contains(letter(role))
}

#[test]
fn usr_1_the_expectation_covers_every_action_once() {
    assert_eq!(EXPECTED.len(), Action::COUNT);
    let mut seen: Vec<Action> = EXPECTED.iter().map(|(n, _)| expected_action(n)).collect();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), Action::COUNT);
}

#[test]
fn usr_4_every_role_action_channel_matches_the_written_expectation() {
    for role in Role::ALL {
        for action in Action::ALL {
            for channel in CHANNELS {
                let got = decide(&actor(role, channel), *action, org(1));
                let expected = match channel {
                    Channel::Staff | Channel::Network | Channel::System => {
                        ReasonCode::ChannelNotAllowed
                    }
                    Channel::Portal if role == Role::ApiUser => ReasonCode::ApiUserPortalForbidden,
                    _ if !role_may(role, *action) => ReasonCode::RoleLacksPermission,
                    _ if channel == home_channel(role) => ReasonCode::Allowed,
                    _ => ReasonCode::ChannelNotAllowed,
                };
                assert_eq!(
                    got.reason(),
                    expected,
                    "{role} {action} {channel:?}: {}",
                    explain(role, *action, &got)
                );
                assert_eq!(got.allowed(), expected == ReasonCode::Allowed);
            }
        }
    }
}

#[test]
fn usr_1_table_rows_are_data_in_action_order_and_serialise() {
    let table = permission_table();
    assert_eq!(table.len(), Action::COUNT);
    for (row, action) in table.iter().zip(Action::ALL) {
        assert_eq!(row.action, *action);
        for role in Role::ALL {
            assert_eq!(row.access(role), access(role, *action));
        }
    }
    let json = serde_json::to_value(table).unwrap();
    let first = &json[0];
    assert_eq!(first["action"], "view_own_profile");
    assert_eq!(first["owner"], "portal");
    assert_eq!(first["api_user"], "api");
    assert_eq!(json[7]["user"], "denied");
    let back: Vec<PermissionRow> = serde_json::from_value(json).unwrap();
    assert_eq!(back, table);
}

#[test]
fn usr_4_admin_may_everything_an_owner_may_in_the_role_table() {
    for action in Action::ALL {
        assert_eq!(
            access(Role::Admin, *action),
            access(Role::Owner, *action),
            "{action}"
        );
        assert_eq!(access(Role::Owner, *action), Access::Portal, "{action}");
    }
}

#[test]
fn usr_4_user_never_orders_tops_up_or_manages_users_cards_customer_data() {
    let forbidden = [
        Action::PlaceOrder,
        Action::CancelOrder,
        Action::TopUp,
        Action::SetAutoTopUp,
        Action::ViewUsers,
        Action::InviteUser,
        Action::SetUserRole,
        Action::RemoveUser,
        Action::ResetUserSecret,
        Action::CreateApiClient,
        Action::ViewCards,
        Action::SaveCard,
        Action::DeleteCard,
        Action::AssignCardToPlans,
        Action::UpdateCustomer,
        Action::SetContactEmails,
        Action::SetLanguage,
        Action::SetVolumeLimits,
        Action::AddAddress,
    ];
    let user = actor(Role::User, Channel::Portal);
    for action in forbidden {
        assert_eq!(
            decide(&user, action, org(1)).into_result(),
            Err(Error::denied(ReasonCode::RoleLacksPermission)),
            "{action}"
        );
    }
    for action in [
        Action::SetSimEnabled,
        Action::SwapSim,
        Action::SetCallForwarding,
        Action::CreateTicket,
    ] {
        assert_eq!(decide(&user, action, org(1)).into_result(), Ok(()));
    }
}

fn is_read(action: Action) -> bool {
    action.as_str().starts_with("view_") || action == Action::ExportOrderSims
}

#[test]
fn usr_4_read_only_reads_what_user_reads_and_changes_only_its_own_profile() {
    let own_profile = [
        Action::UpdateOwnProfile,
        Action::EnrolTotp,
        Action::ConfirmTotp,
        Action::DisableTotp,
        Action::RegenerateRecoveryCodes,
        Action::Logout,
    ];
    for action in Action::ALL {
        let ro = decide(&actor(Role::ReadOnly, Channel::Portal), *action, org(1)).allowed();
        let user = decide(&actor(Role::User, Channel::Portal), *action, org(1)).allowed();
        if is_read(*action) {
            assert_eq!(ro, user, "{action}: ReadOnly reads exactly what User reads");
        } else {
            assert_eq!(ro, own_profile.contains(action), "{action}");
        }
    }
}

#[test]
fn usr_4_api_user_reaches_only_orders_sims_top_ups_auto_top_up_through_the_api() {
    let api = actor(Role::ApiUser, Channel::Api);
    let allowed: Vec<Action> = Action::ALL
        .iter()
        .copied()
        .filter(|a| decide(&api, *a, org(1)).allowed())
        .collect();
    assert_eq!(
        allowed,
        vec![
            Action::ViewOwnProfile,
            Action::Logout,
            Action::ViewAutoTopUp,
            Action::SetAutoTopUp,
            Action::ViewOrders,
            Action::PlaceOrder,
            Action::CancelOrder,
            Action::ViewInvoices,
            Action::ViewDocuments,
            Action::ExportOrderSims,
            Action::ViewSims,
            Action::SetSimLabel,
            Action::SetSimEnabled,
            Action::TopUp,
        ]
    );
    let portal = actor(Role::ApiUser, Channel::Portal);
    for action in Action::ALL {
        assert_eq!(
            decide(&portal, *action, org(1)).reason(),
            ReasonCode::ApiUserPortalForbidden
        );
    }
}

#[test]
fn usr_4_api_user_has_no_portal_login_and_people_have_no_api_login() {
    for role in Role::ALL {
        for channel in CHANNELS {
            let expected = match (role, channel) {
                (Role::ApiUser, Channel::Api) => ReasonCode::Allowed,
                (Role::ApiUser, Channel::Portal) => ReasonCode::ApiUserPortalForbidden,
                (_, Channel::Portal) => ReasonCode::Allowed,
                _ => ReasonCode::ChannelNotAllowed,
            };
            assert_eq!(
                decide_login(role, channel).reason(),
                expected,
                "{role} {channel:?}"
            );
        }
    }
}

#[test]
fn usr_5_every_action_on_another_organisation_is_not_found() {
    for role in Role::ALL {
        for action in Action::ALL {
            for channel in CHANNELS {
                let d = decide(&actor(role, channel), *action, org(2));
                assert_eq!(d.reason(), ReasonCode::OtherOrganisation);
                assert_eq!(d.into_result(), Err(Error::NotFound));
                assert_eq!(
                    explain(role, *action, &d),
                    ReasonCode::NotFound.text(),
                    "must read like a missing row"
                );
            }
        }
    }
}

#[test]
fn usr_5_user_changes_across_organisations_are_not_found() {
    let owner = actor(Role::Owner, Channel::Portal);
    for target_role in Role::ALL {
        for change in [
            UserChange::Name,
            UserChange::Email,
            UserChange::ResetSecret,
            UserChange::SetRole(Role::User),
            UserChange::Remove,
        ] {
            let target = TargetUser {
                org: org(2),
                id: user(2),
                role: target_role,
            };
            assert_eq!(
                decide_on_user(&owner, &target, change, 5).into_result(),
                Err(Error::NotFound)
            );
        }
    }
}

fn any_role() -> impl Strategy<Value = Role> {
    prop::sample::select(Role::ALL.to_vec())
}

fn any_action() -> impl Strategy<Value = Action> {
    prop::sample::select(Action::ALL.to_vec())
}

fn any_channel() -> impl Strategy<Value = Channel> {
    prop::sample::select(CHANNELS.to_vec())
}

proptest! {
    #[test]
    fn usr_5_tenant_isolation_for_any_ids(
        role in any_role(),
        action in any_action(),
        channel in any_channel(),
        a in any::<u128>(),
        b in any::<u128>(),
        uid in any::<u128>(),
    ) {
        let subject = Actor { org: org(a), user: user(uid), role, channel };
        let d = decide(&subject, action, org(b));
        if a == b {
            prop_assert_ne!(d.reason(), ReasonCode::OtherOrganisation);
            // Inside the organisation, ids never matter: only role, action and channel.
            prop_assert_eq!(d, decide(&actor(role, channel), action, org(1)));
        } else {
            prop_assert_eq!(d.into_result(), Err(Error::NotFound));
        }
    }

    #[test]
    fn usr_1_decisions_round_trip_through_serde(
        role in any_role(), action in any_action(), channel in any_channel(), same in any::<bool>()
    ) {
        let d = decide(&actor(role, channel), action, org(if same { 1 } else { 2 }));
        let json = serde_json::to_string(&d).unwrap();
        let back: Decision = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(back, d);
        prop_assert_eq!(d.allowed(), d.reason() == ReasonCode::Allowed);
        prop_assert_eq!(d.into_result().is_ok(), d.allowed());
    }
}

#[test]
fn usr_1_decision_wire_form_and_inconsistent_forms_are_rejected() {
    let d = decide(&actor(Role::User, Channel::Portal), Action::TopUp, org(1));
    assert_eq!(
        serde_json::to_value(d).unwrap(),
        serde_json::json!({"allowed": false, "reason": "role_lacks_permission"})
    );
    for bad in [
        r#"{"allowed": true, "reason": "role_lacks_permission"}"#,
        r#"{"allowed": false, "reason": "allowed"}"#,
        r#"{"allowed": true, "reason": "allowed", "extra": 1}"#,
        r#"{"allowed": false, "reason": "no_such_reason"}"#,
    ] {
        assert!(serde_json::from_str::<Decision>(bad).is_err(), "{bad}");
    }
    assert_eq!(Decision::deny(ReasonCode::Allowed), Decision::allow());
}

#[test]
fn usr_1_into_result_maps_categories() {
    assert_eq!(Decision::allow().into_result(), Ok(()));
    assert_eq!(
        Decision::deny(ReasonCode::LastOwner).into_result(),
        Err(Error::conflict(ReasonCode::LastOwner))
    );
    assert_eq!(
        Decision::deny(ReasonCode::AdminCannotGrantRole).into_result(),
        Err(Error::denied(ReasonCode::AdminCannotGrantRole))
    );
    assert_eq!(
        Decision::deny(ReasonCode::OtherOrganisation).into_result(),
        Err(Error::NotFound)
    );
}

#[test]
fn usr_1_every_decision_is_explained_in_english() {
    let ro = actor(Role::ReadOnly, Channel::Portal);
    let d = decide(&ro, Action::PlaceOrder, org(1));
    assert_eq!(
        explain(Role::ReadOnly, Action::PlaceOrder, &d),
        "A read-only user may not place orders: the role does not include this permission."
    );
    let d = decide(&ro, Action::ViewSims, org(1));
    assert_eq!(
        explain(Role::ReadOnly, Action::ViewSims, &d),
        "A read-only user may view SIMs."
    );
    let api = actor(Role::ApiUser, Channel::Portal);
    let d = decide(&api, Action::ViewSims, org(1));
    assert_eq!(
        explain(Role::ApiUser, Action::ViewSims, &d),
        "An API user may not view SIMs: API users have no portal login; they use the API with \
         their client id and secret."
    );
    let d = Decision::deny(ReasonCode::AdminCannotSetOwnerPassword);
    assert_eq!(
        explain(Role::Admin, Action::ResetUserSecret, &d),
        "An Admin may not reset other users' passwords or API secrets: an Admin cannot set or \
         reset the password of an Owner, Admin or User; they change it themselves."
    );
}

/// The sentence start every role's explanation must have: the article follows the sound
/// ("A User", "An API user"), and no snake_case name leaks into the text.
fn expected_start(role: Role) -> &'static str {
    match role {
        Role::Owner => "An Owner may",
        Role::Admin => "An Admin may",
        Role::User => "A User may",
        Role::ReadOnly => "A read-only user may",
        Role::ApiUser => "An API user may",
    }
}

#[test]
fn usr_1_every_explanation_starts_with_the_role_and_its_article() {
    for role in Role::ALL {
        for action in Action::ALL {
            for channel in CHANNELS {
                let d = decide(&actor(role, channel), *action, org(1));
                let text = explain(role, *action, &d);
                assert!(
                    text.starts_with(expected_start(role)),
                    "{role} {action} {channel:?}: {text}"
                );
                let denial = if d.allowed() { "may " } else { "may not " };
                assert!(text.contains(denial), "{text}");
                assert!(text.contains(action.label()), "{text}");
                assert!(text.ends_with('.'), "{text}");
                assert!(!text.contains('_') && !text.contains('{'), "{text}");
                if !d.allowed() {
                    // The reason's own sentence, lower-cased only at its first letter.
                    let reason = d.reason().text();
                    assert!(
                        text.to_lowercase().ends_with(&reason.to_lowercase()),
                        "{text} / {reason}"
                    );
                }
            }
        }
    }
}

#[test]
fn usr_1_every_policy_denial_has_its_own_text() {
    for role in Role::ALL {
        for action in Action::ALL {
            for channel in CHANNELS {
                let d = decide(&actor(role, channel), *action, org(1));
                let text = d.reason().text();
                for other in ReasonCode::ALL {
                    if *other != d.reason()
                        && !matches!(other, ReasonCode::OtherOrganisation | ReasonCode::NotFound)
                    {
                        assert_ne!(text, other.text(), "{} and {other}", d.reason());
                    }
                }
            }
        }
    }
}

#[test]
fn usr_1_denied_error_displays_the_english_text() {
    let d = Decision::deny(ReasonCode::AdminCannotAdministerOwner);
    let err = d.into_result().unwrap_err();
    assert_eq!(
        err.to_string(),
        "permission denied: An Admin cannot change an Owner's role or remove an Owner; provider \
         staff can."
    );
    let last = Decision::deny(ReasonCode::LastOwner)
        .into_result()
        .unwrap_err();
    assert_eq!(
        last.to_string(),
        "conflict: The organisation must keep at least one Owner."
    );
}

#[test]
fn stf_1_staff_explanations_use_the_reason_text() {
    let d = Decision::deny(ReasonCode::OtherDepartment);
    assert_eq!(
        explain_staff(StaffAction::ReplyTicket, &d),
        format!(
            "This staff member may not {}: this ticket belongs to a department the staff \
             member does not serve.",
            StaffAction::ReplyTicket.label()
        )
    );
}

#[test]
fn auth_6_enrolment_gate_allows_only_me_enrol_confirm_logout() {
    let escape = [
        Action::ViewOwnProfile,
        Action::EnrolTotp,
        Action::ConfirmTotp,
        Action::Logout,
    ];
    for action in Action::ALL {
        for channel in CHANNELS {
            for requires in [false, true] {
                for has_totp in [false, true] {
                    let d = second_factor_gate(*action, channel, requires, has_totp);
                    let blocked = requires
                        && !has_totp
                        && channel == Channel::Portal
                        && !escape.contains(action);
                    let expected = if blocked {
                        ReasonCode::SecondFactorEnrolmentRequired
                    } else {
                        ReasonCode::Allowed
                    };
                    assert_eq!(
                        d.reason(),
                        expected,
                        "{action} {channel:?} {requires} {has_totp}"
                    );
                }
            }
        }
    }
    assert_eq!(
        second_factor_gate(Action::PlaceOrder, Channel::Portal, true, false).into_result(),
        Err(Error::denied(ReasonCode::SecondFactorEnrolmentRequired))
    );
}

#[test]
fn auth_4_channel_comes_from_the_actor_and_non_customer_channels_are_refused() {
    for role in Role::ALL {
        for channel in [Channel::Staff, Channel::Network, Channel::System] {
            for action in Action::ALL {
                assert_eq!(
                    decide(&actor(role, channel), *action, org(1)).reason(),
                    ReasonCode::ChannelNotAllowed
                );
            }
        }
        // A person's role through the API channel is refused rather than widened.
        if role != Role::ApiUser {
            assert_eq!(
                decide(&actor(role, Channel::Api), Action::ViewSims, org(1)).reason(),
                ReasonCode::ChannelNotAllowed
            );
        }
    }
}
