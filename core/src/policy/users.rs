//! What a user may do to another user of the organisation (USR-3) and to themselves (USR-2).

use super::action::Action;
use super::{Actor, Decision, decide};
use crate::error::ReasonCode;
use crate::ids::{OrgId, UserId};
use crate::roles::{Channel, Role};

/// The user an administrative operation is aimed at, as the store read it in this transaction
/// (USR-5: the role is re-read each time, never taken from the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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
#[serde(rename_all = "snake_case", tag = "change", content = "role")]
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
const NOT_OWNER_PASSWORD: TargetRule =
    TargetRule::Denied(ReasonCode::AdminCannotSetOwnerPassword);
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
pub fn last_owner(target_role: Role, change: UserChange, owners_in_org: usize) -> Option<ReasonCode> {
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
