//! One's own profile, e-mail confirmation and the forgotten password through the sdk (USR-2,
//! AUTH-2, AUTH-4, AUTH-5).

// Test code: a surprise is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use async_trait::async_trait;
use common::{PASSWORD, Unreachable, World, business, ctx};
use selfcare::core::ReasonCode;
use selfcare::core::notifications::NotificationKind;
use selfcare::core::password::Password;
use selfcare::profile::ProfileChange;
use selfcare::storage::outbox::OutboxMessage;
use selfcare::storage::page::PageRequest;
use selfcare::storage::ports::{Clock, HumanVerifier, ManualClock, PortError};
use selfcare::storage::{MemoryStore, Store};
use selfcare::{Error, LoginOutcome, Portal, Ports, Session, UnauthenticatedKind};
use time::macros::datetime;

const CAPTCHA: &str = "human-ok";
const NEW_PASSWORD: &str = "seven lanterns drift over amber hills";

/// Accepts exactly the token [`CAPTCHA`].
struct OneTokenVerifier;

#[async_trait]
impl HumanVerifier for OneTokenVerifier {
    async fn verify(&self, token: &str, _source: &str) -> Result<bool, PortError> {
        Ok(token == CAPTCHA)
    }
}

/// As `common::world()`, with a captcha verifier that passes [`CAPTCHA`].
fn world() -> World {
    let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let ports = Ports::new(
        Arc::new(Unreachable),
        Arc::new(Unreachable),
        Arc::new(OneTokenVerifier),
        Arc::new(Unreachable),
        Arc::new(clock.clone()),
    );
    let config = common::test_config();
    let portal = Portal::with_store(Arc::clone(&store), ports, config).unwrap();
    World {
        portal,
        clock,
        store,
    }
}

async fn registered(w: &World, email: &str) -> selfcare::Registered {
    let (customer, owner) = business(email);
    w.portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap()
}

async fn login(w: &World, email: &str, password: &str) -> Result<Session, Error> {
    match w
        .portal
        .login(email, Password::new(password), &ctx())
        .await?
    {
        LoginOutcome::Session(s) => Ok(s),
        other => panic!("no second factor in these tests: {other:?}"),
    }
}

/// Every pending outbox message (read without committing the lease).
async fn outbox(w: &World) -> Vec<OutboxMessage> {
    let due = {
        let mut tx = w.store.begin_provider().await.unwrap();
        tx.lease_due_messages(w.clock.now(), time::Duration::minutes(1), 100)
            .await
            .unwrap()
    };
    let mut messages = Vec::new();
    for (org, id) in due {
        let mut tx = w.store.begin(org).await.unwrap();
        messages.push(tx.get_outbox_message(id).await.unwrap().unwrap());
    }
    messages
}

/// Asserts a login fails, then lets the login throttle (AUTH-3) wait pass.
async fn refused_login(w: &World, email: &str, password: &str) {
    assert!(login(w, email, password).await.is_err());
    w.clock.advance(time::Duration::minutes(1));
}

fn of_kind(messages: &[OutboxMessage], kind: NotificationKind) -> Vec<&OutboxMessage> {
    messages.iter().filter(|m| m.kind == kind).collect()
}

/// The token in a message body: the one 43-character base64url word.
fn token_in(message: &OutboxMessage) -> String {
    message
        .body
        .split_whitespace()
        .find(|w| {
            w.len() == 43
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .unwrap_or_else(|| panic!("no token in {:?}", message.body))
        .to_owned()
}

/// Everything the organisation's audit log holds, as text.
async fn audit_text(w: &World, org: selfcare::core::ids::OrgId) -> String {
    let mut tx = w.store.begin(org).await.unwrap();
    let page = tx.audit_entries(PageRequest::first(100)).await.unwrap();
    format!("{:?}", page.items)
}

fn expired(err: &Error) -> bool {
    matches!(
        err,
        Error::Unauthenticated {
            kind: UnauthenticatedKind::SessionExpired
        }
    )
}

fn token_refused(err: &Error, why: ReasonCode) -> bool {
    matches!(err, Error::Validation { field, reason, .. } if field == "token" && *reason == why)
}

fn captcha() -> Option<String> {
    Some(CAPTCHA.to_owned())
}

#[tokio::test]
async fn usr_2_user_changes_own_name() {
    let w = world();
    registered(&w, "ada@acme.example").await;
    let s = login(&w, "ada@acme.example", PASSWORD).await.unwrap();
    let change = ProfileChange {
        name: Some("  Ada Lovelace ".into()),
        ..Default::default()
    };
    let updated = s.update_me(change, None, captcha()).await.unwrap();
    assert_eq!(updated.me.name, "Ada Lovelace");
    assert_eq!(updated.pending_email, None);
    assert_eq!(s.me().await.unwrap().name, "Ada Lovelace");

    let empty = ProfileChange {
        name: Some("   ".into()),
        ..Default::default()
    };
    let err = s.update_me(empty, None, captcha()).await.unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field, .. } if field == "name"),
        "{err:?}"
    );
}

#[tokio::test]
async fn usr_2_auth_4_password_change_needs_current_password_and_ends_other_sessions() {
    let w = world();
    registered(&w, "ada@acme.example").await;
    let acting = login(&w, "ada@acme.example", PASSWORD).await.unwrap();
    let other = login(&w, "ada@acme.example", PASSWORD).await.unwrap();
    let change = || ProfileChange {
        new_password: Some(Password::new(NEW_PASSWORD)),
        ..Default::default()
    };

    for current in [None, Some(Password::new("not the password at all"))] {
        let err = acting
            .update_me(change(), current, captcha())
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Unauthenticated {
                    kind: UnauthenticatedKind::InvalidCredentials
                }
            ),
            "{err:?}"
        );
    }
    // Nothing changed by the refusals.
    other.me().await.unwrap();

    // A weak new password is refused by the AUTH-1 policy.
    let weak = ProfileChange {
        new_password: Some(Password::new("acme iot gmbh ada owner")),
        ..Default::default()
    };
    let err = acting
        .update_me(weak, Some(Password::new(PASSWORD)), captcha())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field, .. } if field == "password"),
        "{err:?}"
    );

    acting
        .update_me(change(), Some(Password::new(PASSWORD)), captcha())
        .await
        .unwrap();
    assert!(expired(&other.me().await.unwrap_err()));
    acting.me().await.unwrap();
    refused_login(&w, "ada@acme.example", PASSWORD).await;
    login(&w, "ada@acme.example", NEW_PASSWORD).await.unwrap();
}

#[tokio::test]
async fn usr_2_email_change_is_pending_until_confirmed_and_old_address_is_told() {
    let w = world();
    let reg = registered(&w, "ada@acme.example").await;
    let s = login(&w, "ada@acme.example", PASSWORD).await.unwrap();
    let change = || ProfileChange {
        email: Some("ada.new@acme.example".into()),
        ..Default::default()
    };

    // An e-mail change needs the current password too.
    let err = s.update_me(change(), None, captcha()).await.unwrap_err();
    assert!(matches!(err, Error::Unauthenticated { .. }), "{err:?}");

    let updated = s
        .update_me(change(), Some(Password::new(PASSWORD)), captcha())
        .await
        .unwrap();
    assert_eq!(
        updated.pending_email.as_ref().map(|e| e.as_str()),
        Some("ada.new@acme.example")
    );
    assert_eq!(s.me().await.unwrap().email.as_str(), "ada@acme.example");

    let messages = outbox(&w).await;
    let confirm = of_kind(&messages, NotificationKind::EmailConfirmation);
    let notice = of_kind(&messages, NotificationKind::EmailChangeNotice);
    assert_eq!(confirm.len(), 1);
    assert_eq!(notice.len(), 1);
    assert_eq!(confirm[0].to[0].as_str(), "ada.new@acme.example");
    assert_eq!(notice[0].to[0].as_str(), "ada@acme.example");
    assert!(notice[0].body.contains("ada.new@acme.example"));
    let token = token_in(confirm[0]);
    assert!(!audit_text(&w, reg.org).await.contains(&token));

    // Not yet the login e-mail.
    refused_login(&w, "ada.new@acme.example", PASSWORD).await;
    login(&w, "ada@acme.example", PASSWORD).await.unwrap();

    w.portal.confirm_email(&token).await.unwrap();
    assert!(expired(&s.me().await.unwrap_err()));
    let s = login(&w, "ada.new@acme.example", PASSWORD).await.unwrap();
    assert_eq!(s.me().await.unwrap().email.as_str(), "ada.new@acme.example");
    refused_login(&w, "ada@acme.example", PASSWORD).await;

    let again = w.portal.confirm_email(&token).await.unwrap_err();
    assert!(token_refused(&again, ReasonCode::TokenUsed), "{again:?}");
}

#[tokio::test]
async fn auth_2_reset_token_works_once_and_ends_all_sessions() {
    let w = world();
    let reg = registered(&w, "ada@acme.example").await;
    let s1 = login(&w, "ada@acme.example", PASSWORD).await.unwrap();
    let s2 = login(&w, "ada@acme.example", PASSWORD).await.unwrap();

    w.portal
        .request_password_reset("Ada@Acme.example", &ctx())
        .await
        .unwrap();
    let messages = outbox(&w).await;
    let reset = of_kind(&messages, NotificationKind::PasswordReset);
    assert_eq!(reset.len(), 1);
    assert_eq!(reset[0].to[0].as_str(), "ada@acme.example");
    let token = token_in(reset[0]);
    assert!(!audit_text(&w, reg.org).await.contains(&token));

    w.portal
        .reset_password(&token, Password::new(NEW_PASSWORD), &ctx())
        .await
        .unwrap();
    assert!(expired(&s1.me().await.unwrap_err()));
    assert!(expired(&s2.me().await.unwrap_err()));
    refused_login(&w, "ada@acme.example", PASSWORD).await;
    login(&w, "ada@acme.example", NEW_PASSWORD).await.unwrap();

    let again = w
        .portal
        .reset_password(&token, Password::new(PASSWORD), &ctx())
        .await
        .unwrap_err();
    assert!(token_refused(&again, ReasonCode::TokenUsed), "{again:?}");
    login(&w, "ada@acme.example", NEW_PASSWORD).await.unwrap();
}

#[tokio::test]
async fn auth_2_expired_reset_token_is_refused() {
    let w = world();
    registered(&w, "ada@acme.example").await;
    w.portal
        .request_password_reset("ada@acme.example", &ctx())
        .await
        .unwrap();
    let token = token_in(of_kind(&outbox(&w).await, NotificationKind::PasswordReset)[0]);
    w.clock.advance(time::Duration::minutes(31));
    let err = w
        .portal
        .reset_password(&token, Password::new(NEW_PASSWORD), &ctx())
        .await
        .unwrap_err();
    assert!(token_refused(&err, ReasonCode::TokenExpired), "{err:?}");
    login(&w, "ada@acme.example", PASSWORD).await.unwrap();
}

#[tokio::test]
async fn auth_2_unknown_email_gives_ok_and_writes_no_message() {
    let w = world();
    registered(&w, "ada@acme.example").await;
    w.portal
        .request_password_reset("nobody@acme.example", &ctx())
        .await
        .unwrap();
    assert!(outbox(&w).await.is_empty());

    let err = w
        .portal
        .reset_password(
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            Password::new(NEW_PASSWORD),
            &ctx(),
        )
        .await
        .unwrap_err();
    assert!(token_refused(&err, ReasonCode::TokenInvalid), "{err:?}");
}

#[tokio::test]
async fn auth_5_portal_profile_change_needs_a_passing_captcha() {
    let w = world();
    registered(&w, "ada@acme.example").await;
    let s = login(&w, "ada@acme.example", PASSWORD).await.unwrap();
    let change = || ProfileChange {
        name: Some("Ada Lovelace".into()),
        ..Default::default()
    };
    for bad in [None, Some("robot".to_owned())] {
        let err = s.update_me(change(), None, bad).await.unwrap_err();
        assert!(
            matches!(&err, Error::Validation { field, reason: ReasonCode::HumanVerificationFailed, .. } if field == "captcha"),
            "{err:?}"
        );
    }
    // The current password is no substitute for the captcha.
    let err = s
        .update_me(change(), Some(Password::new(PASSWORD)), None)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::Validation { field, .. } if field == "captcha"));
    assert_eq!(s.me().await.unwrap().name, "Ada Owner");

    s.update_me(change(), None, captcha()).await.unwrap();
    assert_eq!(s.me().await.unwrap().name, "Ada Lovelace");
}
