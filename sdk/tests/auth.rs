//! Login, sessions and throttling through the sdk (AUTH-1, AUTH-3, AUTH-4, ACC-1 registration).

// The helpers below are test code: a surprise is a failed test.
#![allow(clippy::panic)]

mod common;

use std::time::Duration;

use common::{PASSWORD, business, ctx, world};
use selfcare::core::ReasonCode;
use selfcare::core::password::Password;
use selfcare::{Error, LoginOutcome, Session, UnauthenticatedKind};

async fn login(w: &common::World, email: &str, password: &str) -> Result<Session, Error> {
    match w
        .portal
        .login(email, Password::new(password), &ctx())
        .await?
    {
        LoginOutcome::Session(s) => Ok(s),
        other => panic!("no second factor is enrolled in these tests: {other:?}"),
    }
}

#[tokio::test]
async fn acc_1_registered_owner_logs_in_and_sees_themself() {
    let w = world();
    let (customer, owner) = business("ada@acme.example");
    let registered = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let session = login(&w, "  ADA@acme.example ", PASSWORD).await.unwrap();
    let me = session.me().await.unwrap();
    assert_eq!(me.id, registered.owner);
    assert_eq!(me.org, registered.org);
    assert_eq!(me.role, selfcare::core::roles::Role::Owner);
    assert_eq!(me.email.as_str(), "ada@acme.example");
}

#[tokio::test]
async fn auth_1_weak_owner_password_is_refused_at_registration() {
    let w = world();
    let (customer, mut owner) = business("ada@acme.example");
    owner.password = Password::new("acme iot gmbh ada");
    let err = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Validation { field, reason: ReasonCode::PasswordTooWeak | ReasonCode::PasswordTooShort, .. }
                if field == "owner.password"
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn auth_1_unknown_email_and_wrong_password_look_alike_and_cost_one_verification_each() {
    let w = world();
    let (customer, owner) = business("ada@acme.example");
    w.portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let before = w.portal.metrics().password_verifications();
    let wrong = login(&w, "ada@acme.example", "not the password at all")
        .await
        .unwrap_err();
    let after_wrong = w.portal.metrics().password_verifications();
    // Past the source's 1 s wait (AUTH-3), so the second attempt reaches the verification.
    w.clock.advance(time::Duration::seconds(5));
    let unknown = login(&w, "nobody@acme.example", PASSWORD)
        .await
        .unwrap_err();
    let after_unknown = w.portal.metrics().password_verifications();
    let expected = Error::Unauthenticated {
        kind: UnauthenticatedKind::InvalidCredentials,
    };
    assert_eq!(wrong, expected);
    assert_eq!(unknown, expected);
    assert_eq!(
        after_wrong - before,
        1,
        "a wrong password runs one verification"
    );
    assert_eq!(
        after_unknown - after_wrong,
        1,
        "an unknown e-mail runs one verification too"
    );
}

#[tokio::test]
async fn auth_3_failures_are_throttled_per_submitted_email_and_a_success_clears_it() {
    let w = world();
    let (customer, owner) = business("ada@acme.example");
    w.portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    // First failure: no wait yet for the next attempt? After n failures the next waits
    // min(2^(n-1) s, 15 min): one failure → 1 s.
    login(&w, "ada@acme.example", "wrong wrong wrong wrong")
        .await
        .unwrap_err();
    let throttled = login(&w, "ada@acme.example", PASSWORD).await.unwrap_err();
    assert_eq!(
        throttled,
        Error::Throttled {
            retry_after: Duration::from_secs(1)
        }
    );
    // Unknown e-mails are counted too, so the throttle reveals nothing.
    login(&w, "ghost@acme.example", "wrong wrong wrong wrong")
        .await
        .unwrap_err();
    w.clock.advance(time::Duration::seconds(2));
    let ghost = login(&w, "ghost@acme.example", PASSWORD).await.unwrap_err();
    assert!(matches!(ghost, Error::Unauthenticated { .. }), "{ghost:?}");
    // The source counter has 3 failures now (4 s); the e-mail's 1 failure has passed.
    w.clock.advance(time::Duration::seconds(5));
    let session = login(&w, "ada@acme.example", PASSWORD).await;
    assert!(session.is_ok(), "{session:?}");
    // Success cleared the e-mail counter: one new failure waits 1 s, not 2 s.
    w.clock.advance(time::Duration::seconds(60));
    login(&w, "ada@acme.example", "wrong wrong wrong wrong")
        .await
        .unwrap_err();
    let err = login(&w, "ada@acme.example", PASSWORD).await.unwrap_err();
    assert!(matches!(err, Error::Throttled { .. }), "{err:?}");
}

#[tokio::test]
async fn auth_4_sessions_resume_expire_when_idle_and_end_at_logout() {
    let w = world();
    let (customer, owner) = business("ada@acme.example");
    w.portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let session = login(&w, "ada@acme.example", PASSWORD).await.unwrap();
    let token = session.token().to_owned();
    let resumed = w.portal.resume(&token).await.unwrap();
    assert_eq!(resumed.user(), session.user());
    // 29 minutes idle is fine (and touches the timer), 31 more is not.
    w.clock.advance(time::Duration::minutes(29));
    w.portal.resume(&token).await.unwrap();
    w.clock.advance(time::Duration::minutes(31));
    let expired = w.portal.resume(&token).await.unwrap_err();
    assert_eq!(
        expired,
        Error::Unauthenticated {
            kind: UnauthenticatedKind::SessionExpired
        }
    );
    // A fresh session ends at logout.
    let session = login(&w, "ada@acme.example", PASSWORD).await.unwrap();
    let token = session.token().to_owned();
    session.logout().await.unwrap();
    assert!(w.portal.resume(&token).await.is_err());
    assert!(w.portal.resume("not-a-token").await.is_err());
}

#[tokio::test]
async fn auth_4_session_debug_never_shows_the_token() {
    let w = world();
    let (customer, owner) = business("ada@acme.example");
    w.portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let session = login(&w, "ada@acme.example", PASSWORD).await.unwrap();
    assert!(!format!("{session:?}").contains(session.token()));
}

#[tokio::test]
async fn aud_1_logins_are_audited_and_the_chain_verifies() {
    use selfcare::core::audit::{AuditChain, AuditEventName};
    use selfcare::storage::PageRequest;
    let w = world();
    let (customer, owner) = business("ada@acme.example");
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    login(&w, "ada@acme.example", "wrong wrong wrong wrong")
        .await
        .unwrap_err();
    w.clock.advance(time::Duration::seconds(10));
    login(&w, "ada@acme.example", PASSWORD).await.unwrap();
    let mut tx = w.store.begin(reg.org).await.unwrap();
    let entries = tx
        .audit_entries(PageRequest::first(100))
        .await
        .unwrap()
        .items;
    let names: Vec<AuditEventName> = entries.iter().map(|e| e.event.event).collect();
    assert_eq!(
        names,
        [
            AuditEventName::UserCreated,
            AuditEventName::AuthnLoginFail,
            AuditEventName::AuthnLoginSuccess
        ]
    );
    let key = selfcare::core::audit::HostKey::from_bytes(&[7u8; 32]).unwrap();
    assert!(AuditChain::verify_chain(&entries, &key, None).is_ok());
    // No secret reaches the log.
    let text = format!("{entries:?}");
    assert!(!text.contains(PASSWORD) && !text.contains("wrong wrong"));
}
