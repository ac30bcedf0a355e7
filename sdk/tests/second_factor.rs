//! The second factor through the sdk (AUTH-6): enrolment, the login challenge, replay,
//! recovery codes, the organisation's requirement, sealing, and secrets kept out of `Debug`.

// Test helpers: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::{PASSWORD, World, business, ctx, insert_member, world};
use selfcare::core::ReasonCode;
use selfcare::core::audit::{AuditEventName, Outcome};
use selfcare::core::ids::{OrgId, UserId};
use selfcare::core::password::Password;
use selfcare::core::roles::Role;
use selfcare::core::totp::TotpSecret;
use selfcare::second_factor::{RecoveryCodes, SecondFactorChallenge};
use selfcare::storage::PageRequest;
use selfcare::storage::ports::Clock;
use selfcare::{Error, LoginOutcome, Session, UnauthenticatedKind};
use time::Duration;

const OWNER: &str = "ada@acme.example";

fn b32decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes().filter(|c| *c != b'=') {
        let index = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        value = (value << 5) | index;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

async fn login(w: &World, email: &str) -> LoginOutcome {
    w.portal
        .login(email, Password::new(PASSWORD), &ctx())
        .await
        .unwrap()
}

async fn session(w: &World, email: &str) -> Session {
    match login(w, email).await {
        LoginOutcome::Session(s) => s,
        other => panic!("expected a session: {other:?}"),
    }
}

async fn challenge(w: &World, email: &str) -> SecondFactorChallenge {
    match login(w, email).await {
        LoginOutcome::SecondFactorRequired(c) => c,
        other => panic!("expected a challenge: {other:?}"),
    }
}

/// An organisation whose Owner has TOTP enabled: the org, the owner, the secret's bytes and
/// the recovery codes. The clock is moved past the confirmation's time step.
async fn enrolled(w: &World) -> (OrgId, UserId, Vec<u8>, RecoveryCodes) {
    let (customer, owner) = business(OWNER);
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let s = session(w, OWNER).await;
    let secret = enrol_and_confirm(w, &s).await;
    s.logout().await.unwrap();
    (reg.org, reg.owner, secret.0, secret.1)
}

async fn enrol_and_confirm(w: &World, s: &Session) -> (Vec<u8>, RecoveryCodes) {
    let enrolment = s.enrol_totp(Password::new(PASSWORD)).await.unwrap();
    let bytes = b32decode(secrecy::ExposeSecret::expose_secret(&enrolment.secret));
    let codes = s.confirm_totp(&code(w, &bytes)).await.unwrap();
    w.clock.advance(Duration::seconds(31));
    (bytes, codes)
}

fn code(w: &World, secret: &[u8]) -> String {
    TotpSecret::from_bytes(secret)
        .unwrap()
        .code_at(w.clock.now())
        .unwrap()
}

async fn events(w: &World, org: OrgId) -> Vec<selfcare::core::audit::AuditEvent> {
    let mut tx = w.store.begin(org).await.unwrap();
    tx.audit_entries(PageRequest::first(200))
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.event)
        .collect()
}

fn invalid_credentials(result: Result<Session, Error>) {
    match result {
        Err(Error::Unauthenticated {
            kind: UnauthenticatedKind::InvalidCredentials,
        }) => {}
        other => panic!("expected InvalidCredentials: {other:?}"),
    }
}

#[tokio::test]
async fn auth_6_enrol_and_confirm_then_login_needs_the_code() {
    let w = world();
    let (customer, owner) = business(OWNER);
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let s = session(&w, OWNER).await;
    // A wrong password does not start an enrolment.
    assert!(matches!(
        s.enrol_totp(Password::new("not my password at all")).await,
        Err(Error::Unauthenticated { .. })
    ));
    let enrolment = s.enrol_totp(Password::new(PASSWORD)).await.unwrap();
    let uri = secrecy::ExposeSecret::expose_secret(&enrolment.provisioning_uri).to_owned();
    assert!(uri.starts_with("otpauth://totp/Nordlicht%20Connect%20GmbH:ada%40acme.example?"));
    assert!(s.second_factor().await.unwrap().pending);
    // Unconfirmed: logins are not challenged yet.
    session(&w, OWNER).await;
    let bytes = b32decode(secrecy::ExposeSecret::expose_secret(&enrolment.secret));
    let wrong = s.confirm_totp("000000").await.unwrap_err();
    assert_eq!(wrong.reason(), ReasonCode::TotpCodeInvalid);
    w.clock.advance(Duration::seconds(2));
    let codes = s.confirm_totp(&code(&w, &bytes)).await.unwrap();
    assert_eq!(codes.codes.len(), 10);
    let status = s.second_factor().await.unwrap();
    assert!(status.enabled && status.recovery_codes_left == 10);
    // A second enrolment is refused while one is enabled.
    assert!(matches!(
        s.enrol_totp(Password::new(PASSWORD)).await,
        Err(Error::Conflict {
            reason: ReasonCode::AlreadyExists
        })
    ));

    w.clock.advance(Duration::seconds(31));
    let c = challenge(&w, OWNER).await;
    assert_eq!(c.expires_at, w.clock.now() + Duration::minutes(5));
    // The challenge is not a session.
    assert!(matches!(
        w.portal.resume(c.token()).await,
        Err(Error::Unauthenticated {
            kind: UnauthenticatedKind::SessionExpired
        })
    ));
    let s2 = w
        .portal
        .complete_second_factor(c.token(), &code(&w, &bytes), &ctx())
        .await
        .unwrap();
    assert_eq!(s2.me().await.unwrap().id, reg.owner);
    // A challenge works once.
    w.clock.advance(Duration::seconds(31));
    assert!(matches!(
        w.portal
            .complete_second_factor(c.token(), &code(&w, &bytes), &ctx())
            .await,
        Err(Error::Unauthenticated {
            kind: UnauthenticatedKind::SessionExpired
        })
    ));
    // And expires after five minutes.
    let late = challenge(&w, OWNER).await;
    w.clock.advance(Duration::minutes(5));
    assert!(matches!(
        w.portal
            .complete_second_factor(late.token(), &code(&w, &bytes), &ctx())
            .await,
        Err(Error::Unauthenticated {
            kind: UnauthenticatedKind::SessionExpired
        })
    ));
    let names: Vec<AuditEventName> = events(&w, reg.org).await.iter().map(|e| e.event).collect();
    for expected in [
        AuditEventName::AuthnMfaEnrolled,
        AuditEventName::AuthnTokenCreated,
        AuditEventName::AuthnMfaFail,
        AuditEventName::AuthnLoginSuccess,
    ] {
        assert!(names.contains(&expected), "{expected:?} in {names:?}");
    }
}

#[tokio::test]
async fn auth_6_wrong_code_is_unauthenticated_audited_and_throttled() {
    let w = world();
    let (org, owner, bytes, _) = enrolled(&w).await;
    let c = challenge(&w, OWNER).await;
    let right = code(&w, &bytes);
    let wrong = if right == "123456" {
        "654321"
    } else {
        "123456"
    };
    invalid_credentials(
        w.portal
            .complete_second_factor(c.token(), wrong, &ctx())
            .await,
    );
    let last = events(&w, org).await.pop().unwrap();
    assert_eq!(last.event, AuditEventName::AuthnMfaFail);
    assert_eq!(last.outcome, Outcome::Failure);
    assert_eq!(last.reason, Some(ReasonCode::TotpCodeInvalid));
    assert_eq!(last.target.as_str(), format!("user:{owner}"));
    // Throttled like logins: the next attempt must wait.
    assert!(matches!(
        w.portal
            .complete_second_factor(c.token(), &right, &ctx())
            .await,
        Err(Error::Throttled { .. })
    ));
    w.clock.advance(Duration::seconds(2));
    w.portal
        .complete_second_factor(c.token(), &code(&w, &bytes), &ctx())
        .await
        .unwrap();
}

#[tokio::test]
async fn auth_6_replay_of_the_same_code_fails() {
    let w = world();
    let (org, _, bytes, _) = enrolled(&w).await;
    let used = code(&w, &bytes);
    let first = challenge(&w, OWNER).await;
    w.portal
        .complete_second_factor(first.token(), &used, &ctx())
        .await
        .unwrap();
    let second = challenge(&w, OWNER).await;
    invalid_credentials(
        w.portal
            .complete_second_factor(second.token(), &used, &ctx())
            .await,
    );
    let last = events(&w, org).await.pop().unwrap();
    assert_eq!(last.reason, Some(ReasonCode::TotpCodeReused));
    // The next time step's code is fine.
    w.clock.advance(Duration::seconds(31));
    w.portal
        .complete_second_factor(second.token(), &code(&w, &bytes), &ctx())
        .await
        .unwrap();
}

#[tokio::test]
async fn auth_6_recovery_code_works_once() {
    let w = world();
    let (org, _, _, codes) = enrolled(&w).await;
    let recovery = codes.expose()[3].to_lowercase();
    let c = challenge(&w, OWNER).await;
    let s = w
        .portal
        .complete_second_factor(c.token(), &recovery, &ctx())
        .await
        .unwrap();
    assert_eq!(s.second_factor().await.unwrap().recovery_codes_left, 9);
    let c = challenge(&w, OWNER).await;
    invalid_credentials(
        w.portal
            .complete_second_factor(c.token(), &recovery, &ctx())
            .await,
    );
    let last = events(&w, org).await.pop().unwrap();
    assert_eq!(last.reason, Some(ReasonCode::RecoveryCodeInvalid));
    // Another code still works.
    w.clock.advance(Duration::seconds(2));
    w.portal
        .complete_second_factor(c.token(), codes.expose()[4], &ctx())
        .await
        .unwrap();
}

#[tokio::test]
async fn auth_6_org_requirement_blocks_other_actions_until_enrolled() {
    let w = world();
    let (customer, owner) = business(OWNER);
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let member = insert_member(w.store.as_ref(), reg.org, "bob@acme.example", Role::User).await;
    let owner = session(&w, OWNER).await;
    // Only Owner and Admin may require it.
    let bob = session(&w, "bob@acme.example").await;
    assert!(matches!(
        bob.require_second_factor(true).await,
        Err(Error::PermissionDenied { .. })
    ));
    owner.require_second_factor(true).await.unwrap();
    let required = |r: Result<_, Error>| {
        matches!(
            r,
            Err(Error::Unauthenticated {
                kind: UnauthenticatedKind::SecondFactorEnrolmentRequired
            })
        )
    };
    // Without TOTP the login succeeds, but only me / enrol / confirm / logout work.
    let bob = session(&w, "bob@acme.example").await;
    assert!(required(bob.addresses().await.map(|_| ())));
    assert!(required(owner.addresses().await.map(|_| ())));
    assert_eq!(bob.me().await.unwrap().id, member);
    assert!(bob.second_factor().await.unwrap().required_by_organisation);
    enrol_and_confirm(&w, &bob).await;
    // Enrolled: the gate is gone and the role decides again (a User has no address book).
    assert!(matches!(
        bob.addresses().await,
        Err(Error::PermissionDenied {
            reason: ReasonCode::RoleLacksPermission
        })
    ));
    // From now on bob's logins are challenged.
    challenge(&w, "bob@acme.example").await;
    let last = events(&w, reg.org)
        .await
        .into_iter()
        .find(|e| e.event == AuditEventName::AuthnMfaPolicyChanged)
        .unwrap();
    assert_eq!(last.outcome, Outcome::Success);
}

#[tokio::test]
async fn auth_6_api_client_is_never_challenged() {
    use selfcare::core::policy::{Action, second_factor_gate};
    use selfcare::core::roles::Channel;
    let w = world();
    let (customer, owner) = business(OWNER);
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let owner = session(&w, OWNER).await;
    owner.require_second_factor(true).await.unwrap();
    insert_member(w.store.as_ref(), reg.org, "api@acme.example", Role::ApiUser).await;
    // An ApiUser has no portal login at all, so no challenge either: its client secret is the
    // credential, and the API channel is not gated by the organisation's requirement.
    let err = w
        .portal
        .login("api@acme.example", Password::new(PASSWORD), &ctx())
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::ApiUserPortalForbidden);
    assert!(second_factor_gate(Action::PlaceOrder, Channel::Api, true, false).allowed());
    assert!(!second_factor_gate(Action::PlaceOrder, Channel::Portal, true, false).allowed());
}

#[tokio::test]
async fn auth_6_sealed_secret_is_encrypted_and_bound_to_its_user() {
    let w = world();
    let (org, owner, bytes, _) = enrolled(&w).await;
    let bob = insert_member(w.store.as_ref(), org, "bob@acme.example", Role::User).await;
    let mut tx = w.store.begin(org).await.unwrap();
    let mut record = tx.totp(owner).await.unwrap().unwrap().value;
    assert!(record.sealed_secret.len() > bytes.len());
    assert!(
        !record
            .sealed_secret
            .windows(bytes.len())
            .any(|w| w == bytes)
    );
    // Copied to another user, the sealed secret does not open.
    record.user = bob;
    tx.insert_totp(record).await.unwrap();
    tx.commit().await.unwrap();
    let c = challenge(&w, "bob@acme.example").await;
    invalid_credentials(
        w.portal
            .complete_second_factor(c.token(), &code(&w, &bytes), &ctx())
            .await,
    );
    // The owner's own record still opens.
    w.clock.advance(Duration::seconds(2));
    let c = challenge(&w, OWNER).await;
    w.portal
        .complete_second_factor(c.token(), &code(&w, &bytes), &ctx())
        .await
        .unwrap();
}

#[tokio::test]
async fn auth_6_disable_and_regenerate_need_the_second_factor() {
    let w = world();
    let (org, _, bytes, codes) = enrolled(&w).await;
    let c = challenge(&w, OWNER).await;
    let s = w
        .portal
        .complete_second_factor(c.token(), codes.expose()[0], &ctx())
        .await
        .unwrap();
    let fresh = s
        .regenerate_recovery_codes(&code(&w, &bytes))
        .await
        .unwrap();
    assert_eq!(s.second_factor().await.unwrap().recovery_codes_left, 10);
    assert!(
        s.disable_totp(Password::new("not my password at all"), fresh.expose()[0])
            .await
            .is_err()
    );
    w.clock.advance(Duration::seconds(2));
    // An old recovery code is gone.
    assert_eq!(
        s.disable_totp(Password::new(PASSWORD), codes.expose()[1])
            .await
            .unwrap_err()
            .reason(),
        ReasonCode::RecoveryCodeInvalid
    );
    w.clock.advance(Duration::seconds(2));
    s.disable_totp(Password::new(PASSWORD), fresh.expose()[0])
        .await
        .unwrap();
    session(&w, OWNER).await;
    let names: Vec<AuditEventName> = events(&w, org).await.iter().map(|e| e.event).collect();
    assert!(names.contains(&AuditEventName::AuthnRecoveryCodesRegenerated));
    assert!(names.contains(&AuditEventName::AuthnMfaDisabled));
}

#[tokio::test]
async fn auth_6_debug_of_outputs_shows_no_secret() {
    let w = world();
    let (customer, owner) = business(OWNER);
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let s = session(&w, OWNER).await;
    let enrolment = s.enrol_totp(Password::new(PASSWORD)).await.unwrap();
    let secret = secrecy::ExposeSecret::expose_secret(&enrolment.secret).to_owned();
    assert!(!format!("{enrolment:?}").contains(&secret));
    let bytes = b32decode(&secret);
    let codes = s.confirm_totp(&code(&w, &bytes)).await.unwrap();
    let shown = format!("{codes:?}");
    assert!(codes.expose().iter().all(|c| !shown.contains(c)));
    w.clock.advance(Duration::seconds(31));
    let outcome = login(&w, OWNER).await;
    let LoginOutcome::SecondFactorRequired(c) = &outcome else {
        panic!("expected a challenge");
    };
    assert!(!format!("{outcome:?}").contains(c.token()));
    // The wire form carries the secrets on purpose and reads back.
    let json = serde_json::to_string(&enrolment).unwrap();
    assert!(json.contains(&secret));
    let back: selfcare::second_factor::TotpEnrolment = serde_json::from_str(&json).unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&back.secret), secret);
    // Neither the audit log nor the stored record shows the secret or a code.
    let mut tx = w.store.begin(reg.org).await.unwrap();
    let record = tx.totp(reg.owner).await.unwrap().unwrap();
    assert!(!format!("{record:?}").contains(&secret));
    drop(tx);
    let log = format!("{:?}", events(&w, reg.org).await);
    assert!(!log.contains(&secret) && codes.expose().iter().all(|c| !log.contains(c)));
}
