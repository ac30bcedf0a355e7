//! API clients (AUTH-4, USR-4): client id and secret open an API-channel session for an
//! ApiUser, which reaches the SIM, order and Auto-Top-Up operations and nothing of the portal.

#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use common::{PASSWORD, World, business, ctx, insert_member, world};
use selfcare::core::ReasonCode;
use selfcare::core::password::Password;
use selfcare::core::roles::Role;
use selfcare::storage::sims::SimFilter;
use selfcare::users::{ApiClientSecret, SecretReset};
use selfcare::{Error, LoginOutcome, Session, UnauthenticatedKind};
use time::Duration;

async fn setup(w: &World) -> (Session, ApiClientSecret) {
    let (customer, owner) = business("owner@acme.example");
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let bot = insert_member(w.store.as_ref(), reg.org, "bot@acme.example", Role::ApiUser).await;
    let LoginOutcome::Session(owner) = w
        .portal
        .login("owner@acme.example", Password::new(PASSWORD), &ctx())
        .await
        .unwrap()
    else {
        panic!("no second factor here")
    };
    let secret = owner.create_api_client(bot).await.unwrap();
    (owner, secret)
}

fn invalid() -> Error {
    Error::Unauthenticated {
        kind: UnauthenticatedKind::InvalidCredentials,
    }
}

#[tokio::test]
async fn auth_4_an_api_client_opens_an_api_session_that_reaches_api_operations_only() {
    let w = world();
    let (_, secret) = setup(&w).await;
    let api = w
        .portal
        .api_login(&secret.client_id.to_string(), &secret.secret, &ctx())
        .await
        .unwrap();
    // USR-4: SIMs through the API, not the customer data of the portal.
    assert!(api.sims(SimFilter::default(), None).await.is_ok());
    assert_eq!(
        api.customer().await.unwrap_err(),
        Error::PermissionDenied {
            reason: ReasonCode::RoleLacksPermission
        }
    );
    // The token resumes as an API session.
    let resumed = w.portal.resume(api.token()).await.unwrap();
    assert!(resumed.sims(SimFilter::default(), None).await.is_ok());
}

#[tokio::test]
async fn auth_4_unknown_client_wrong_secret_and_garbage_look_alike_and_are_throttled() {
    let w = world();
    let (_, secret) = setup(&w).await;
    let id = secret.client_id.to_string();
    let wrong = secret.secret.chars().rev().collect::<String>();
    for (client, key) in [
        (id.as_str(), wrong.as_str()),
        ("01JD4S7A0Q8V3W9X2Y5Z6B7C8D", secret.secret.as_str()),
        ("not a client id", "not a secret"),
    ] {
        let err = w.portal.api_login(client, key, &ctx()).await.unwrap_err();
        assert_eq!(err, invalid(), "{client}");
        // AUTH-3: the source now waits before the next attempt.
        let err = w
            .portal
            .api_login(&id, &secret.secret, &ctx())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Throttled { .. }), "{err:?}");
        w.clock.advance(Duration::minutes(16));
    }
    assert!(
        w.portal
            .api_login(&id, &secret.secret, &ctx())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn auth_4_a_rotated_secret_ends_the_clients_sessions_and_the_old_secret() {
    let w = world();
    let (owner, secret) = setup(&w).await;
    let id = secret.client_id.to_string();
    let api = w
        .portal
        .api_login(&id, &secret.secret, &ctx())
        .await
        .unwrap();
    let users = owner
        .users(selfcare::storage::PageRequest::first(10))
        .await
        .unwrap();
    let bot = users
        .items
        .iter()
        .find(|u| u.role == Role::ApiUser)
        .unwrap()
        .id;
    let SecretReset::ApiSecret(rotated) = owner.reset_secret(bot).await.unwrap() else {
        panic!("an ApiUser's reset rotates its secret")
    };
    assert_eq!(
        api.sims(SimFilter::default(), None).await.unwrap_err(),
        Error::Unauthenticated {
            kind: UnauthenticatedKind::SessionExpired
        }
    );
    assert_eq!(
        w.portal
            .api_login(&id, &secret.secret, &ctx())
            .await
            .unwrap_err(),
        invalid()
    );
    w.clock.advance(Duration::seconds(2));
    assert!(
        w.portal
            .api_login(&id, &rotated.secret, &ctx())
            .await
            .is_ok()
    );
}

/// AUTH-6: the organisation's second-factor requirement is a portal matter; API clients are
/// never challenged and keep working.
#[tokio::test]
async fn auth_6_api_clients_are_not_held_by_the_second_factor_requirement() {
    let w = world();
    let (owner, secret) = setup(&w).await;
    owner.require_second_factor(true).await.unwrap();
    let api = w
        .portal
        .api_login(&secret.client_id.to_string(), &secret.secret, &ctx())
        .await
        .unwrap();
    assert!(api.sims(SimFilter::default(), None).await.is_ok());
}
