//! What a user may do to another user of the organisation (USR-3) and to themselves (USR-2).

use super::action::Action;
use super::{Actor, Decision, decide};
use crate::error::ReasonCode;
use crate::ids::{OrgId, UserId};
use crate::roles::{Channel, Role};

/// The user an administrative operation is aimed at, as the store read it in this transaction
/// (USR-5: the role is re-read each time, never taken from the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetUser {
    /// The target's organisation.
    pub org: OrgId,
    /// The target's id.
    pub id: UserId,
    /// The target's current role.
    pub role: Role,
}

/// An administrative change of one user (the columns of the USR-3 table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(
    rename_all = "snake_case",
    tag = "change",
    content = "role",
    deny_unknown_fields
)]
pub enum UserChange {
    /// Change the name.
    Name,
    /// Change the e-mail address (see [`EmailChangeEffect`]).
    Email,
    /// Reset the password (or an ApiUser's client secret).
    ResetSecret,
    /// Give the user another role.
    SetRole(Role),
    /// Remove the user from the organisation.
    Remove,
}

impl UserChange {
    /// The row of the permission table that gates this change.
    pub const fn action(self) -> Action {
        match self {
            UserChange::Name => Action::UpdateUserName,
            UserChange::Email => Action::UpdateUserEmail,
            UserChange::ResetSecret => Action::ResetUserSecret,
            UserChange::SetRole(_) => Action::SetUserRole,
            UserChange::Remove => Action::RemoveUser,
        }
    }

    /// Whether the change takes an Owner away from `target_role` (demotion or removal of an
    /// Owner), which the last-Owner rule guards.
    pub const fn removes_an_owner(self, target_role: Role) -> bool {
        matches!(target_role, Role::Owner)
            && match self {
                UserChange::Remove => true,
                UserChange::SetRole(new) => !matches!(new, Role::Owner),
                UserChange::Name | UserChange::Email | UserChange::ResetSecret => false,
            }
    }
}

/// A cell of the USR-3 table: whether an actor role may make one kind of change to a target
/// role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetRule {
    /// Allowed.
    Allowed,
    /// Allowed; an e-mail change takes effect only after the target approves it (✔ approval).
    AfterApproval,
    /// Allowed while at least one Owner stays in the organisation (✔ ≥ 1 Owner stays).
    WhileAnOwnerStays,
    /// Not allowed, for this reason.
    Denied(ReasonCode),
}

/// One row of the USR-3 table: what `actor` may do to another user whose role is `target`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserAdminRow {
    /// The acting user's role.
    pub actor: Role,
    /// The target user's role.
    pub target: Role,
    /// Changing the name.
    pub name: TargetRule,
    /// Changing the e-mail address.
    pub email: TargetRule,
    /// Resetting the password or API secret.
    pub secret: TargetRule,
    /// Changing the role or removing the user.
    pub role_or_remove: TargetRule,
}

impl UserAdminRow {
    /// The cell for `change`.
    pub const fn rule(&self, change: UserChange) -> TargetRule {
        match change {
            UserChange::Name => self.name,
            UserChange::Email => self.email,
            UserChange::ResetSecret => self.secret,
            UserChange::SetRole(_) | UserChange::Remove => self.role_or_remove,
        }
    }
}

/// One row of the role-grant table: the roles `actor` may give to someone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct RoleGrantRow {
    /// The granting user's role.
    pub actor: Role,
    /// The roles it may grant.
    pub grants: &'static [Role],
}

const fn admin_row(
    actor: Role,
    target: Role,
    name: TargetRule,
    email: TargetRule,
    secret: TargetRule,
    role_or_remove: TargetRule,
) -> UserAdminRow {
    UserAdminRow {
        actor,
        target,
        name,
        email,
        secret,
        role_or_remove,
    }
}

use Role::{Admin, ApiUser, Owner, ReadOnly, User};

const OK: TargetRule = TargetRule::Allowed;
const APPROVAL: TargetRule = TargetRule::AfterApproval;
const KEEP_OWNER: TargetRule = TargetRule::WhileAnOwnerStays;
const NO_ROLE: TargetRule = TargetRule::Denied(ReasonCode::RoleLacksPermission);
const OWN_PASSWORD: TargetRule = TargetRule::Denied(ReasonCode::PasswordChangedOnlyByUser);
const NOT_OWNER_PASSWORD: TargetRule = TargetRule::Denied(ReasonCode::AdminCannotSetOwnerPassword);
const NOT_OWNER: TargetRule = TargetRule::Denied(ReasonCode::AdminCannotAdministerOwner);
const NOT_ADMIN: TargetRule = TargetRule::Denied(ReasonCode::AdminCannotAdministerAdmin);

/// The USR-3 table, actor-major in [`Role::ALL`] order, so row `actor * 5 + target` (checked at
/// compile time). User, ReadOnly and ApiUser administer nobody.
#[rustfmt::skip]
const USER_ADMIN: &[UserAdminRow] = &[
    //        actor     target    name    e-mail    password/secret     role, remove
    admin_row(Owner,    Owner,    OK,     APPROVAL, OWN_PASSWORD,       KEEP_OWNER),
    admin_row(Owner,    Admin,    OK,     APPROVAL, OWN_PASSWORD,       OK),
    admin_row(Owner,    User,     OK,     APPROVAL, OWN_PASSWORD,       OK),
    admin_row(Owner,    ReadOnly, OK,     APPROVAL, OK,                 OK),
    admin_row(Owner,    ApiUser,  OK,     APPROVAL, OK,                 OK),
    admin_row(Admin,    Owner,    OK,     APPROVAL, NOT_OWNER_PASSWORD, NOT_OWNER),
    admin_row(Admin,    Admin,    OK,     APPROVAL, OWN_PASSWORD,       NOT_ADMIN),
    admin_row(Admin,    User,     OK,     APPROVAL, OWN_PASSWORD,       OK),
    admin_row(Admin,    ReadOnly, OK,     APPROVAL, OK,                 OK),
    admin_row(Admin,    ApiUser,  OK,     APPROVAL, OK,                 OK),
    admin_row(User,     Owner,    NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(User,     Admin,    NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(User,     User,     NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(User,     ReadOnly, NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(User,     ApiUser,  NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(ReadOnly, Owner,    NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(ReadOnly, Admin,    NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(ReadOnly, User,     NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(ReadOnly, ReadOnly, NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(ReadOnly, ApiUser,  NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(ApiUser,  Owner,    NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(ApiUser,  Admin,    NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(ApiUser,  User,     NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(ApiUser,  ReadOnly, NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
    admin_row(ApiUser,  ApiUser,  NO_ROLE, NO_ROLE, NO_ROLE,            NO_ROLE),
];

/// Which roles each role may grant (USR-3): an Owner any, an Admin only User, ReadOnly and
/// ApiUser, the others none. In [`Role::ALL`] order.
const ROLE_GRANTS: &[RoleGrantRow] = &[
    RoleGrantRow {
        actor: Owner,
        grants: &[Owner, Admin, User, ReadOnly, ApiUser],
    },
    RoleGrantRow {
        actor: Admin,
        grants: &[User, ReadOnly, ApiUser],
    },
    RoleGrantRow {
        actor: User,
        grants: &[],
    },
    RoleGrantRow {
        actor: ReadOnly,
        grants: &[],
    },
    RoleGrantRow {
        actor: ApiUser,
        grants: &[],
    },
];

const ROLES: usize = Role::ALL.len();

const _: () = {
    assert!(USER_ADMIN.len() == ROLES * ROLES);
    let mut i = 0;
    while i < USER_ADMIN.len() {
        assert!(USER_ADMIN[i].actor as usize == i / ROLES);
        assert!(USER_ADMIN[i].target as usize == i % ROLES);
        i += 1;
    }
    assert!(ROLE_GRANTS.len() == ROLES);
    let mut r = 0;
    while r < ROLES {
        assert!(ROLE_GRANTS[r].actor as usize == r);
        r += 1;
    }
};

/// The USR-3 table (actor role × target role × kind of change), 25 rows, for hosts to render.
pub fn user_admin_table() -> &'static [UserAdminRow] {
    USER_ADMIN
}

/// The role-grant table of USR-3, one row per role, for hosts to render.
pub fn role_grant_table() -> &'static [RoleGrantRow] {
    ROLE_GRANTS
}

/// The USR-3 cell for `actor` changing a user whose role is `target`.
pub fn target_rule(actor: Role, target: Role, change: UserChange) -> TargetRule {
    match USER_ADMIN.get(actor as usize * ROLES + target as usize) {
        Some(row) => row.rule(change),
        None => NO_ROLE,
    }
}

/// Whether `actor` may give someone the role `new_role` (USR-3).
pub fn can_grant(actor: Role, new_role: Role) -> bool {
    ROLE_GRANTS
        .get(actor as usize)
        .is_some_and(|row| row.grants.contains(&new_role))
}

/// The last-Owner rule (USR-3): `Some(LastOwner)` when `change` would demote or remove the
/// organisation's only Owner. `owners_in_org` counts the Owners now, the target included.
/// Staff administering Owners (STF-1) are bound by it too.
pub fn last_owner(
    target_role: Role,
    change: UserChange,
    owners_in_org: usize,
) -> Option<ReasonCode> {
    (change.removes_an_owner(target_role) && owners_in_org <= 1).then_some(ReasonCode::LastOwner)
}

/// Decides whether `actor` may make `change` to `target` (USR-3, USR-5, USR-2 when the target
/// is the actor). `owners_in_org` is the number of Owners of the organisation now, as read in
/// the same transaction.
///
/// Order of checks: tenant (another organisation is `other_organisation`, reported as
/// `NotFound`), channel and role (the permission table), then the USR-3 cell, the role grant
/// and the last-Owner rule. On oneself, name and e-mail are always allowed (USR-2) and a
/// secret reset is refused (`own_secret_reset_forbidden`: one's own password changes through
/// the profile with the current password).
///
/// ```
/// # use selfcare_core::ids::{OrgId, UserId};
/// # use selfcare_core::policy::{Actor, TargetUser, UserChange, decide_on_user};
/// # use selfcare_core::roles::{Channel, Role};
/// # use selfcare_core::ReasonCode;
/// # let org = OrgId::parse("0190a6a0-0000-7000-8000-000000000001").unwrap();
/// # let me = UserId::parse("0190a6a0-0000-7000-8000-000000000002").unwrap();
/// # let them = UserId::parse("0190a6a0-0000-7000-8000-000000000003").unwrap();
/// let admin = Actor { org, user: me, role: Role::Admin, channel: Channel::Portal };
/// let owner = TargetUser { org, id: them, role: Role::Owner };
/// let d = decide_on_user(&admin, &owner, UserChange::ResetSecret, 2);
/// assert_eq!(d.reason(), ReasonCode::AdminCannotSetOwnerPassword);
/// ```
pub fn decide_on_user(
    actor: &Actor,
    target: &TargetUser,
    change: UserChange,
    owners_in_org: usize,
) -> Decision {
    let gate = decide(actor, change.action(), target.org);
    if !gate.allowed() {
        return gate;
    }
    if target.id == actor.user {
        match change {
            UserChange::Name | UserChange::Email => return Decision::allow(),
            UserChange::ResetSecret => {
                return Decision::deny(ReasonCode::OwnSecretResetForbidden);
            }
            UserChange::SetRole(_) | UserChange::Remove => {}
        }
    }
    match target_rule(actor.role, target.role, change) {
        TargetRule::Denied(reason) => return Decision::deny(reason),
        TargetRule::WhileAnOwnerStays => {
            if let Some(reason) = last_owner(target.role, change, owners_in_org) {
                return Decision::deny(reason);
            }
        }
        TargetRule::Allowed | TargetRule::AfterApproval => {}
    }
    if let UserChange::SetRole(new_role) = change
        && !can_grant(actor.role, new_role)
    {
        return Decision::deny(ReasonCode::AdminCannotGrantRole);
    }
    Decision::allow()
}

/// One's own profile field (USR-2): any logged-in user may change these for themselves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SelfChange {
    /// One's name.
    Name,
    /// One's e-mail address (takes effect after confirmation, [`EmailChangeEffect`]).
    Email,
    /// One's password.
    Password,
}

impl SelfChange {
    /// Whether the change needs the current password (USR-2: e-mail and password do; a
    /// captcha is not re-authentication).
    pub const fn requires_current_password(self) -> bool {
        matches!(self, SelfChange::Email | SelfChange::Password)
    }

    /// Whether the change through `channel` needs a passed `HumanVerifier` check (AUTH-5).
    pub const fn requires_human_verification(self, channel: Channel) -> bool {
        Action::UpdateOwnProfile.needs_human_verification(channel)
    }
}

/// Decides whether `actor` may change their own name, e-mail or password (USR-2). Every
/// portal role may; an ApiUser has no profile of its own to edit (its secret is reset by an
/// Owner or Admin, USR-3). What each change needs is [`SelfChange`]'s to say.
pub fn decide_self_change(actor: &Actor) -> Decision {
    decide(actor, Action::UpdateOwnProfile, actor.org)
}

/// When a new e-mail address takes effect (USR-2, USR-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmailChangeEffect {
    /// The user changed their own address: it takes effect when the confirmation token sent to
    /// the new address is redeemed; the old address is told of the change.
    ConfirmNewAddress,
    /// Someone else changed it: it takes effect only after the target approves it through a
    /// link sent to the current address (or provider staff approve it).
    TargetApproval,
}

/// How an e-mail change of `target` by `actor` takes effect.
pub fn email_change_effect(actor: &Actor, target: UserId) -> EmailChangeEffect {
    if actor.user == target {
        EmailChangeEffect::ConfirmNewAddress
    } else {
        EmailChangeEffect::TargetApproval
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::*;
    use crate::error::Error;

    fn org(n: u128) -> OrgId {
        OrgId::from_uuid(Uuid::from_u128(n))
    }

    fn uid(n: u128) -> UserId {
        UserId::from_uuid(Uuid::from_u128(n))
    }

    fn actor(role: Role) -> Actor {
        let channel = if role == ApiUser {
            Channel::Api
        } else {
            Channel::Portal
        };
        Actor {
            org: org(1),
            user: uid(1),
            role,
            channel,
        }
    }

    fn other(role: Role) -> TargetUser {
        TargetUser {
            org: org(1),
            id: uid(2),
            role,
        }
    }

    /// DESIGN §2 USR-3, copied by hand: (actor, target, "name e-mail password role/remove")
    /// with `y` ✔, `n` ✖, `k` ✔ while at least one Owner stays. Rows not listed: `nnnn`
    /// ("User and ReadOnly administer nobody"; ApiUser neither).
    const USR_3: &[(Role, Role, &str)] = &[
        (Owner, Owner, "yynk"),
        (Owner, Admin, "yyny"),
        (Owner, User, "yyny"),
        (Owner, ReadOnly, "yyyy"),
        (Owner, ApiUser, "yyyy"),
        (Admin, Owner, "yynn"),
        (Admin, Admin, "yynn"),
        (Admin, User, "yyny"),
        (Admin, ReadOnly, "yyyy"),
        (Admin, ApiUser, "yyyy"),
    ];

    /// "An Owner grants any role; an Admin grants only User, ReadOnly and ApiUser."
    fn may_grant(actor: Role, new_role: Role) -> bool {
        match actor {
            Owner => true,
            Admin => matches!(new_role, User | ReadOnly | ApiUser),
            User | ReadOnly | ApiUser => false,
        }
    }

    fn cell(actor: Role, target: Role, change: UserChange) -> char {
        let row = USR_3
            .iter()
            .find(|(a, t, _)| *a == actor && *t == target)
            .map_or("nnnn", |(_, _, cells)| *cells);
        let column = match change {
            UserChange::Name => 0,
            UserChange::Email => 1,
            UserChange::ResetSecret => 2,
            UserChange::SetRole(_) | UserChange::Remove => 3,
        };
        row.chars().nth(column).unwrap()
    }

    fn all_changes() -> Vec<UserChange> {
        let mut changes = vec![UserChange::Name, UserChange::Email, UserChange::ResetSecret];
        changes.extend(Role::ALL.iter().map(|r| UserChange::SetRole(*r)));
        changes.push(UserChange::Remove);
        changes
    }

    fn expected(
        actor: Role,
        target: Role,
        change: UserChange,
        owners: usize,
        on_self: bool,
    ) -> bool {
        if !matches!(actor, Owner | Admin) {
            return false;
        }
        if on_self {
            match change {
                UserChange::Name | UserChange::Email => return true,
                UserChange::ResetSecret => return false,
                UserChange::SetRole(_) | UserChange::Remove => {}
            }
        }
        let takes_owner_away = target == Owner && matches!(change, UserChange::Remove)
            || matches!(change, UserChange::SetRole(r) if target == Owner && r != Owner);
        let by_cell = match cell(actor, target, change) {
            'y' => true,
            'k' => !(takes_owner_away && owners < 2),
            _ => false,
        };
        let by_grant = match change {
            UserChange::SetRole(r) => may_grant(actor, r),
            _ => true,
        };
        by_cell && by_grant
    }

    #[test]
    fn usr_3_every_actor_target_change_matches_the_design_table() {
        let mut checked = 0;
        for actor_role in Role::ALL {
            for target_role in Role::ALL {
                for change in all_changes() {
                    for owners in 0..=3 {
                        for on_self in [false, true] {
                            if on_self && target_role != actor_role {
                                continue;
                            }
                            let subject = actor(actor_role);
                            let target = TargetUser {
                                org: org(1),
                                id: if on_self { subject.user } else { uid(2) },
                                role: target_role,
                            };
                            let d = decide_on_user(&subject, &target, change, owners);
                            assert_eq!(
                                d.allowed(),
                                expected(actor_role, target_role, change, owners, on_self),
                                "{actor_role} -> {target_role} {change:?} owners={owners} \
                                 self={on_self}: {:?}",
                                d.reason()
                            );
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert!(checked > 1000);
    }

    #[test]
    fn usr_3_exported_table_matches_the_design_table() {
        let table = user_admin_table();
        assert_eq!(table.len(), 25);
        for row in table {
            for (change, column) in [
                (UserChange::Name, row.name),
                (UserChange::Email, row.email),
                (UserChange::ResetSecret, row.secret),
                (UserChange::Remove, row.role_or_remove),
            ] {
                let c = cell(row.actor, row.target, change);
                let ok = match column {
                    TargetRule::Allowed | TargetRule::AfterApproval => c == 'y',
                    TargetRule::WhileAnOwnerStays => c == 'k',
                    TargetRule::Denied(_) => c == 'n',
                };
                assert!(ok, "{} -> {} {change:?}", row.actor, row.target);
                // Every e-mail change by someone else needs the target's approval.
                if change == UserChange::Email && c == 'y' {
                    assert_eq!(column, TargetRule::AfterApproval);
                }
            }
        }
        let json = serde_json::to_value(table).unwrap();
        assert_eq!(json[0]["role_or_remove"], "while_an_owner_stays");
        assert_eq!(
            json[5]["secret"],
            serde_json::json!({"denied": "admin_cannot_set_owner_password"})
        );
        let grants = serde_json::to_value(role_grant_table()).unwrap();
        assert_eq!(
            grants[1],
            serde_json::json!({"actor": "admin", "grants": ["user", "read_only", "api_user"]})
        );
    }

    #[test]
    fn usr_3_admin_cannot_set_owner_password() {
        let d = decide_on_user(&actor(Admin), &other(Owner), UserChange::ResetSecret, 2);
        assert_eq!(
            d.into_result(),
            Err(Error::denied(ReasonCode::AdminCannotSetOwnerPassword))
        );
    }

    #[test]
    fn usr_3_passwords_of_owner_admin_user_are_their_own() {
        for (a, t) in [
            (Owner, Owner),
            (Owner, Admin),
            (Owner, User),
            (Admin, Admin),
            (Admin, User),
        ] {
            let d = decide_on_user(&actor(a), &other(t), UserChange::ResetSecret, 2);
            assert_eq!(
                d.reason(),
                ReasonCode::PasswordChangedOnlyByUser,
                "{a} -> {t}"
            );
        }
        for (a, t) in [
            (Owner, ReadOnly),
            (Owner, ApiUser),
            (Admin, ReadOnly),
            (Admin, ApiUser),
        ] {
            let d = decide_on_user(&actor(a), &other(t), UserChange::ResetSecret, 2);
            assert!(d.allowed(), "{a} -> {t}");
        }
    }

    #[test]
    fn usr_3_admin_cannot_administer_owners_or_admins() {
        for change in [UserChange::SetRole(User), UserChange::Remove] {
            assert_eq!(
                decide_on_user(&actor(Admin), &other(Owner), change, 3).reason(),
                ReasonCode::AdminCannotAdministerOwner
            );
            assert_eq!(
                decide_on_user(&actor(Admin), &other(Admin), change, 3).reason(),
                ReasonCode::AdminCannotAdministerAdmin
            );
            assert!(decide_on_user(&actor(Admin), &other(User), change, 3).allowed());
        }
    }

    #[test]
    fn usr_3_admin_grants_only_user_read_only_api_user() {
        for new_role in Role::ALL {
            let d = decide_on_user(
                &actor(Admin),
                &other(User),
                UserChange::SetRole(new_role),
                1,
            );
            if matches!(new_role, Owner | Admin) {
                assert_eq!(d.reason(), ReasonCode::AdminCannotGrantRole, "{new_role}");
            } else {
                assert!(d.allowed(), "{new_role}");
            }
            let d = decide_on_user(
                &actor(Owner),
                &other(User),
                UserChange::SetRole(new_role),
                1,
            );
            assert!(d.allowed(), "owner grants {new_role}");
        }
        assert!(!can_grant(User, ReadOnly));
        assert!(!can_grant(ReadOnly, ReadOnly));
        assert!(!can_grant(ApiUser, ApiUser));
    }

    #[test]
    fn usr_3_last_owner_cannot_be_demoted_or_removed() {
        let owner = actor(Owner);
        for change in [UserChange::Remove, UserChange::SetRole(Admin)] {
            let d = decide_on_user(&owner, &other(Owner), change, 1);
            assert_eq!(d.reason(), ReasonCode::LastOwner);
            assert_eq!(d.into_result(), Err(Error::conflict(ReasonCode::LastOwner)));
            assert!(decide_on_user(&owner, &other(Owner), change, 2).allowed());
        }
        // Demoting oneself as the only Owner is the same thing.
        let me = TargetUser {
            org: org(1),
            id: owner.user,
            role: Owner,
        };
        assert_eq!(
            decide_on_user(&owner, &me, UserChange::SetRole(User), 1).reason(),
            ReasonCode::LastOwner
        );
        // Re-granting Owner to an Owner takes nobody away.
        assert!(decide_on_user(&owner, &other(Owner), UserChange::SetRole(Owner), 1).allowed());
        assert_eq!(last_owner(Admin, UserChange::Remove, 0), None);
    }

    proptest! {
        #[test]
        fn usr_3_at_least_one_owner_stays(
            owners in 0usize..50,
            change in prop::sample::select(all_changes()),
        ) {
            let d = decide_on_user(&actor(Owner), &other(Owner), change, owners);
            if d.allowed() {
                let removed = usize::from(change.removes_an_owner(Owner));
                prop_assert!(owners.saturating_sub(removed) >= 1 || removed == 0);
            } else {
                prop_assert!(matches!(
                    d.reason(),
                    ReasonCode::LastOwner | ReasonCode::PasswordChangedOnlyByUser
                ));
            }
        }
    }

    #[test]
    fn usr_3_user_and_read_only_administer_nobody() {
        for role in [User, ReadOnly, ApiUser] {
            for target in Role::ALL {
                for change in all_changes() {
                    assert_eq!(
                        decide_on_user(&actor(role), &other(target), change, 2).reason(),
                        ReasonCode::RoleLacksPermission
                    );
                }
            }
        }
    }

    #[test]
    fn usr_3_email_change_by_someone_else_needs_the_targets_approval() {
        let admin = actor(Admin);
        assert_eq!(
            email_change_effect(&admin, uid(2)),
            EmailChangeEffect::TargetApproval
        );
        assert_eq!(
            email_change_effect(&admin, admin.user),
            EmailChangeEffect::ConfirmNewAddress
        );
        assert_eq!(
            serde_json::to_value(EmailChangeEffect::TargetApproval).unwrap(),
            "target_approval"
        );
    }

    #[test]
    fn usr_2_everyone_with_a_login_changes_their_own_profile() {
        for role in [Owner, Admin, User, ReadOnly] {
            assert!(decide_self_change(&actor(role)).allowed(), "{role}");
        }
        assert_eq!(
            decide_self_change(&actor(ApiUser)).reason(),
            ReasonCode::RoleLacksPermission
        );
        assert!(!SelfChange::Name.requires_current_password());
        assert!(SelfChange::Email.requires_current_password());
        assert!(SelfChange::Password.requires_current_password());
        assert!(SelfChange::Name.requires_human_verification(Channel::Portal));
        assert!(!SelfChange::Password.requires_human_verification(Channel::Api));
    }

    #[test]
    fn usr_2_own_name_and_email_through_the_users_tab_own_secret_only_via_profile() {
        for role in [Owner, Admin] {
            let me = actor(role);
            let target = TargetUser {
                org: org(1),
                id: me.user,
                role,
            };
            assert!(decide_on_user(&me, &target, UserChange::Name, 2).allowed());
            assert!(decide_on_user(&me, &target, UserChange::Email, 2).allowed());
            assert_eq!(
                decide_on_user(&me, &target, UserChange::ResetSecret, 2).reason(),
                ReasonCode::OwnSecretResetForbidden
            );
        }
    }

    #[test]
    fn usr_3_user_change_wire_form() {
        assert_eq!(
            serde_json::to_value(UserChange::SetRole(ReadOnly)).unwrap(),
            serde_json::json!({"change": "set_role", "role": "read_only"})
        );
        assert_eq!(
            serde_json::to_value(UserChange::Remove).unwrap(),
            serde_json::json!({"change": "remove"})
        );
        let back: UserChange =
            serde_json::from_value(serde_json::json!({"change": "set_role", "role": "owner"}))
                .unwrap();
        assert_eq!(back, UserChange::SetRole(Owner));
    }

    #[test]
    fn usr_3_user_change_with_an_unknown_field_is_rejected() {
        let extra = serde_json::json!({"change": "set_role", "role": "owner", "why": "x"});
        assert!(serde_json::from_value::<UserChange>(extra).is_err());
        let extra = serde_json::json!({"change": "remove", "role": null, "force": true});
        assert!(serde_json::from_value::<UserChange>(extra).is_err());
    }
}
