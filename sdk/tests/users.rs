//! Administering users through the sdk (USR-1, USR-3, USR-4).
//!
//! Other users are made the way a customer makes them: `invite_user` then
//! `accept_invitation`. Tokens never come back from the use cases; the tests read them from the
//! outbox message (leased through a provider transaction, read in the organisation's), as a
//! user would from their mailbox.

// The helpers below are test code: a surprise is a failed test.
#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use common::{PASSWORD, World, business, ctx, world};
use selfcare::core::ReasonCode;
use selfcare::core::ids::UserId;
use selfcare::core::notifications::NotificationKind;
use selfcare::core::password::Password;
use selfcare::core::roles::Role;
use selfcare::core::tokens::Token;
use selfcare::storage::page::PageRequest;
use selfcare::users::{SecretReset, UserUpdate};
use selfcare::{Error, LoginOutcome, Session, UnauthenticatedKind};

async fn login(w: &World, email: &str, password: &str) -> Result<Session, Error> {
    match w
        .portal
        .login(email, Password::new(password), &ctx())
        .await?
    {
        LoginOutcome::Session(s) => Ok(s),
        other => panic!("no second factor is enrolled in these tests: {other:?}"),
    }
}

/// The messages enqueued since the last call: (kind, recipients, body).
async fn new_messages(w: &World) -> Vec<(NotificationKind, Vec<String>, String)> {
    let now = w.portal_now();
    let mut tx = w.store.begin_provider().await.unwrap();
    let due = tx
        .lease_due_messages(now, time::Duration::days(365), 100)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut out = Vec::new();
    for (org, id) in due {
        let mut tx = w.store.begin(org).await.unwrap();
        let m = tx.get_outbox_message(id).await.unwrap().unwrap();
        out.push((
            m.kind,
            m.to.iter().map(|e| e.as_str().to_owned()).collect(),
            m.body,
        ));
    }
    out
}

trait Now {
    fn portal_now(&self) -> time::OffsetDateTime;
}

impl Now for World {
    fn portal_now(&self) -> time::OffsetDateTime {
        use selfcare::storage::ports::Clock;
        self.clock.now()
    }
}

/// The token in the newest message of `kind` to `to`.
async fn token_for(w: &World, kind: NotificationKind, to: &str) -> String {
    let messages = new_messages(w).await;
    let (_, _, body) = messages
        .iter()
        .rev()
        .find(|(k, rcpt, _)| *k == kind && rcpt.iter().any(|r| r == to))
        .unwrap_or_else(|| panic!("no {kind:?} message to {to}: {messages:?}"));
    body.split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '=' | '/' | '?'))
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ',' | ')' | '(')))
        .find(|w| w.len() == 43 && Token::parse(w).is_ok())
        .unwrap_or_else(|| panic!("no token in {body}"))
        .to_owned()
}

async fn owner(w: &World) -> Session {
    let (customer, owner) = business("ada@acme.example");
    w.portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    login(w, "ada@acme.example", PASSWORD).await.unwrap()
}

/// Invites `email` with `role` through `by`, accepts, logs in.
async fn member(w: &World, by: &Session, email: &str, role: Role) -> (UserId, Session) {
    let id = by.invite_user(email, "Grace Member", role).await.unwrap();
    let token = token_for(w, NotificationKind::EmailConfirmation, email).await;
    let accepted = w
        .portal
        .accept_invitation(&token, "Grace Member", Password::new(PASSWORD), &ctx())
        .await
        .unwrap();
    assert_eq!(accepted, id);
    (id, login(w, email, PASSWORD).await.unwrap())
}

/// Asserts a login fails, then waits out the throttle (AUTH-3) the failure started.
async fn login_fails(w: &World, email: &str) {
    let err = login(w, email, PASSWORD).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unauthenticated {
                kind: UnauthenticatedKind::InvalidCredentials
            }
        ),
        "{err:?}"
    );
    w.clock.advance(time::Duration::minutes(1));
}

fn denied(err: &Error, expected: ReasonCode) {
    assert!(
        matches!(err, Error::PermissionDenied { reason } if *reason == expected),
        "{err:?}"
    );
}

#[tokio::test]
async fn usr_1_invited_user_logs_in_after_accepting() {
    let w = world();
    let ada = owner(&w).await;
    let id = ada
        .invite_user("grace@acme.example", "Grace", Role::User)
        .await
        .unwrap();
    // Not before accepting.
    login_fails(&w, "grace@acme.example").await;
    let token = token_for(
        &w,
        NotificationKind::EmailConfirmation,
        "grace@acme.example",
    )
    .await;
    w.portal
        .accept_invitation(&token, "Grace Hopper", Password::new(PASSWORD), &ctx())
        .await
        .unwrap();
    let grace = login(&w, "grace@acme.example", PASSWORD).await.unwrap();
    let me = grace.me().await.unwrap();
    assert_eq!(
        (me.id, me.role, me.name.as_str()),
        (id, Role::User, "Grace Hopper")
    );
    // Single use.
    let again = w
        .portal
        .accept_invitation(&token, "Grace", Password::new(PASSWORD), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &again,
            Error::Validation {
                reason: ReasonCode::TokenUsed,
                ..
            }
        ),
        "{again:?}"
    );
    let users = ada.users(PageRequest::first(10)).await.unwrap();
    assert_eq!(users.items.len(), 2);
}

#[tokio::test]
async fn usr_1_invitation_expires_after_72_hours() {
    let w = world();
    let ada = owner(&w).await;
    ada.invite_user("grace@acme.example", "Grace", Role::User)
        .await
        .unwrap();
    let token = token_for(
        &w,
        NotificationKind::EmailConfirmation,
        "grace@acme.example",
    )
    .await;
    w.clock.advance(time::Duration::hours(72));
    let err = w
        .portal
        .accept_invitation(&token, "Grace", Password::new(PASSWORD), &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Validation {
                reason: ReasonCode::TokenExpired,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn usr_3_admin_cannot_set_owner_password() {
    let w = world();
    let ada = owner(&w).await;
    let (_, admin) = member(&w, &ada, "bob@acme.example", Role::Admin).await;
    let err = admin.reset_secret(ada.user()).await.unwrap_err();
    denied(&err, ReasonCode::AdminCannotSetOwnerPassword);
    // A ReadOnly user's password may be reset: a link goes to them.
    let (reader, _) = member(&w, &ada, "rita@acme.example", Role::ReadOnly).await;
    assert_eq!(
        admin.reset_secret(reader).await.unwrap(),
        SecretReset::PasswordResetSent
    );
    token_for(&w, NotificationKind::PasswordReset, "rita@acme.example").await;
    // An ApiUser's secret is rotated and shown once.
    let api = admin
        .invite_user("api@acme.example", "Integration", Role::ApiUser)
        .await
        .unwrap();
    let first = admin.create_api_client(api).await.unwrap();
    let SecretReset::ApiSecret(rotated) = admin.reset_secret(api).await.unwrap() else {
        panic!("an ApiUser's secret is its API client secret");
    };
    assert_eq!(rotated.client_id, first.client_id);
    assert_ne!(rotated.secret, first.secret);
}

#[tokio::test]
async fn usr_3_email_change_by_admin_inactive_until_the_user_approves() {
    let w = world();
    let ada = owner(&w).await;
    let (_, admin) = member(&w, &ada, "bob@acme.example", Role::Admin).await;
    let (grace, grace_session) = member(&w, &ada, "grace@acme.example", Role::User).await;
    let summary = admin
        .update_user(
            grace,
            UserUpdate {
                name: None,
                email: Some("grace.h@acme.example".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(summary.email.as_str(), "grace@acme.example");
    let messages = new_messages(&w).await;
    assert!(
        messages
            .iter()
            .any(|(k, to, _)| *k == NotificationKind::EmailChangeNotice
                && to == &["grace@acme.example".to_owned()]),
        "{messages:?}"
    );
    let (_, _, body) = messages
        .iter()
        .find(|(k, _, _)| *k == NotificationKind::EmailConfirmation)
        .unwrap();
    let token = body
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ',' | ')' | '(')))
        .find(|w| w.len() == 43 && Token::parse(w).is_ok())
        .unwrap()
        .to_owned();
    // Before approval: the old address still logs in, the new one does not.
    login_fails(&w, "grace.h@acme.example").await;
    login(&w, "grace@acme.example", PASSWORD).await.unwrap();
    w.portal.approve_email_change(&token).await.unwrap();
    login(&w, "grace.h@acme.example", PASSWORD).await.unwrap();
    login_fails(&w, "grace@acme.example").await;
    // Her earlier sessions ended.
    assert!(matches!(
        grace_session.me().await,
        Err(Error::Unauthenticated {
            kind: UnauthenticatedKind::SessionExpired
        })
    ));
    // Single use.
    assert!(w.portal.approve_email_change(&token).await.is_err());
}

#[tokio::test]
async fn usr_3_last_owner_cannot_be_demoted_or_removed() {
    let w = world();
    let ada = owner(&w).await;
    let me = ada.user();
    for err in [
        ada.set_role(me, Role::Admin).await.unwrap_err(),
        ada.remove_user(me).await.unwrap_err(),
    ] {
        assert!(
            matches!(
                err,
                Error::Conflict {
                    reason: ReasonCode::LastOwner
                }
            ),
            "{err:?}"
        );
    }
    // With a second Owner, the first may step down.
    let (_, _) = member(&w, &ada, "olga@acme.example", Role::Owner).await;
    ada.set_role(me, Role::Admin).await.unwrap();
    assert_eq!(ada.me().await.unwrap().role, Role::Admin);
}

#[tokio::test]
async fn usr_3_admin_grants_only_user_read_only_api_user() {
    let w = world();
    let ada = owner(&w).await;
    let (_, admin) = member(&w, &ada, "bob@acme.example", Role::Admin).await;
    let (grace, _) = member(&w, &ada, "grace@acme.example", Role::User).await;
    for role in [Role::ReadOnly, Role::ApiUser, Role::User] {
        admin.set_role(grace, role).await.unwrap();
    }
    for role in [Role::Owner, Role::Admin] {
        let err = admin.set_role(grace, role).await.unwrap_err();
        denied(&err, ReasonCode::AdminCannotGrantRole);
        let err = admin
            .invite_user("new@acme.example", "New", role)
            .await
            .unwrap_err();
        denied(&err, ReasonCode::AdminCannotGrantRole);
    }
    let err = admin.set_role(ada.user(), Role::User).await.unwrap_err();
    denied(&err, ReasonCode::AdminCannotAdministerOwner);
    let err = admin.remove_user(ada.user()).await.unwrap_err();
    denied(&err, ReasonCode::AdminCannotAdministerOwner);
    admin.remove_user(grace).await.unwrap();
    login_fails(&w, "grace@acme.example").await;
}

#[tokio::test]
async fn usr_4_user_and_read_only_administer_nobody() {
    let w = world();
    let ada = owner(&w).await;
    let (grace, user) = member(&w, &ada, "grace@acme.example", Role::User).await;
    let (rita, reader) = member(&w, &ada, "rita@acme.example", Role::ReadOnly).await;
    for (s, other) in [(&user, rita), (&reader, grace)] {
        denied(
            &s.invite_user("x@acme.example", "X", Role::ReadOnly)
                .await
                .unwrap_err(),
            ReasonCode::RoleLacksPermission,
        );
        denied(
            &s.set_role(other, Role::ReadOnly).await.unwrap_err(),
            ReasonCode::RoleLacksPermission,
        );
        denied(
            &s.remove_user(other).await.unwrap_err(),
            ReasonCode::RoleLacksPermission,
        );
        denied(
            &s.reset_secret(other).await.unwrap_err(),
            ReasonCode::RoleLacksPermission,
        );
        denied(
            &s.update_user(
                other,
                UserUpdate {
                    name: Some("Renamed".into()),
                    email: None,
                },
            )
            .await
            .unwrap_err(),
            ReasonCode::RoleLacksPermission,
        );
    }
}

#[tokio::test]
async fn usr_5_demoted_admin_loses_rights_in_open_session() {
    let w = world();
    let ada = owner(&w).await;
    let (bob, admin) = member(&w, &ada, "bob@acme.example", Role::Admin).await;
    admin.users(PageRequest::first(10)).await.unwrap();
    ada.set_role(bob, Role::User).await.unwrap();
    let err = admin
        .invite_user("new@acme.example", "New", Role::User)
        .await
        .unwrap_err();
    denied(&err, ReasonCode::RoleLacksPermission);
}

#[tokio::test]
async fn aud_1_a_denied_attempt_is_audited_in_its_own_transaction() {
    use selfcare::core::audit::{AuditActor, AuditEventName, Outcome};
    let w = world();
    let ada = owner(&w).await;
    let (grace, user) = member(&w, &ada, "grace@acme.example", Role::User).await;
    let before = {
        let mut tx = w.store.begin(ada.org()).await.unwrap();
        tx.audit_head().await.unwrap().count
    };
    denied(
        &user
            .invite_user("x@acme.example", "X", Role::ReadOnly)
            .await
            .unwrap_err(),
        ReasonCode::RoleLacksPermission,
    );
    let mut tx = w.store.begin(ada.org()).await.unwrap();
    let entries = tx
        .audit_entries(PageRequest::first(500))
        .await
        .unwrap()
        .items;
    let added: Vec<_> = entries.iter().filter(|e| e.seq >= before).collect();
    // Nothing of the refused change, exactly one denial naming who and why.
    assert_eq!(added.len(), 1, "{added:?}");
    let denial = &added[0].event;
    assert_eq!(denial.event, AuditEventName::AuthzFail);
    assert_eq!(denial.outcome, Outcome::Denied);
    assert_eq!(denial.reason, Some(ReasonCode::RoleLacksPermission));
    assert_eq!(denial.actor, AuditActor::User { id: grace });
}
