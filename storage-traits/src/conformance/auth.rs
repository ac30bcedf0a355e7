//! Conformance cases for auth: sessions and tokens with their global hashes, TOTP records, and
//! the provider's throttle counters.

use std::collections::BTreeSet;
use std::sync::Arc;

use selfcare_core::contact::Email;
use selfcare_core::roles::{Channel, Role};
use selfcare_core::throttle::{FailureCounter, ThrottleKey};
use selfcare_core::tokens::{TokenKind, TokenLifetimes, TokenState};
use time::Duration;

use super::Failure;
use super::accounts::{
    T0, api_client, client_id, customer, hash, is_duplicate, is_invalid, is_not_found, is_stale,
    org, outcome, seed_user, session, totp, user_id,
};
use crate::auth::{RecoveryCodeSlot, SessionSubject, TokenPayload, TokenRecord};
use crate::conformance_check as check;
use crate::store::Store;
use crate::version::Version;

crate::conformance_cases! {
    "auth.session_round_trip_and_lookup" => session_round_trip_and_lookup,
    "auth.session_hash_unique_across_orgs" => session_hash_unique_across_orgs,
    "auth.session_needs_subject_of_org" => session_needs_subject_of_org,
    "auth.session_stale_update_is_conflict" => session_stale_update_is_conflict,
    "auth.session_touch_never_moves_back" => session_touch_never_moves_back,
    "auth.ending_other_sessions_keeps_exactly_the_named_one" => ending_other_sessions_keeps_one,
    "auth.sessions_scoped_to_org" => sessions_scoped_to_org,
    "auth.expired_sessions_listed" => expired_sessions_listed,
    "auth.token_round_trip_and_lookup" => token_round_trip_and_lookup,
    "auth.token_hash_unique_across_orgs" => token_hash_unique_across_orgs,
    "auth.used_token_stays_used" => used_token_stays_used,
    "auth.tokens_scoped_to_org" => tokens_scoped_to_org,
    "auth.expired_tokens_listed_for_purge" => expired_tokens_listed_for_purge,
    "auth.totp_round_trip_duplicate_and_versions" => totp_round_trip_duplicate_and_versions,
    "auth.totp_needs_user_of_org" => totp_needs_user_of_org,
    "auth.throttle_counters_are_provider_scoped" => throttle_counters_are_provider_scoped,
    "auth.throttle_purge_keeps_recent_counters" => throttle_purge_keeps_recent_counters,
    "auth.dropped_transaction_leaves_nothing" => dropped_transaction_leaves_nothing,
}

fn token(n: u32, kind: TokenKind, user: Option<selfcare_core::ids::UserId>) -> TokenRecord {
    TokenRecord {
        hash: hash(n),
        state: TokenState::issued(kind, T0),
        user,
        payload: TokenPayload::None,
    }
}

fn counter(failures: u32, minutes: i64) -> FailureCounter {
    FailureCounter {
        failures,
        last_failure_at: T0 + Duration::minutes(minutes),
    }
}

// ---- sessions ----

async fn session_round_trip_and_lookup(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let ada = seed_user(&store, a, 10, "ada@example.com").await?;
    let mut tx = store.begin(a).await?;
    tx.insert_api_client(api_client(client_id(1), ada)).await?;
    let portal = session(hash(1), ada);
    let mut api = session(hash(2), ada);
    api.subject = SessionSubject::ApiClient(client_id(1));
    api.channel = Channel::Api;
    tx.insert_session(portal.clone()).await?;
    tx.insert_session(api.clone()).await?;
    tx.commit().await?;
    for h in [hash(1), hash(2)] {
        check!(
            store.session_by_hash(h).await? == Some((a, h)),
            "the token hash does not find the session"
        );
    }
    let mut tx = store.begin(a).await?;
    for s in [&portal, &api] {
        let read = tx.session(s.token_hash).await?;
        check!(
            read.map(|r| (r.value, r.version)) == Some((s.clone(), Version::FIRST)),
            "the session read back differs"
        );
    }
    let mut passed = portal.clone();
    passed.second_factor_passed = true;
    let v2 = tx.update_session(passed.clone(), Version::FIRST).await?;
    check!(v2 == Version(2), "update returned {v2:?}, not version 2");
    check!(
        tx.delete_session(hash(2)).await?,
        "deleting an existing session said it was absent"
    );
    check!(
        !tx.delete_session(hash(2)).await?,
        "deleting a deleted session said it existed"
    );
    tx.commit().await?;
    check!(
        store.session_by_hash(hash(2)).await?.is_none(),
        "a deleted session is still found by its hash"
    );
    let mut tx = store.begin(a).await?;
    let read = tx.session(hash(1)).await?;
    check!(
        read.map(|r| (r.value, r.version)) == Some((passed, v2)),
        "the updated session is not read back with its new version"
    );
    Ok(())
}

async fn session_hash_unique_across_orgs(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let ua = seed_user(&store, a, 10, "a@example.com").await?;
    let ub = seed_user(&store, b, 11, "b@example.com").await?;
    let mut tx = store.begin(a).await?;
    tx.insert_session(session(hash(1), ua)).await?;
    let r = tx.insert_session(session(hash(1), ua)).await;
    check!(
        is_duplicate(&r, "session_token"),
        "a second session with one hash gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    let r = tx.insert_session(session(hash(1), ub)).await;
    check!(
        is_duplicate(&r, "session_token"),
        "A's session hash in B gave {}",
        outcome(&r)
    );
    check!(
        tx.session(hash(1)).await?.is_none(),
        "B's transaction reads A's session"
    );
    tx.commit().await?;
    check!(
        store.session_by_hash(hash(1)).await? == Some((a, hash(1))),
        "a refused duplicate moved the session to another organisation"
    );
    Ok(())
}

async fn session_needs_subject_of_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    seed_user(&store, a, 10, "a@example.com").await?;
    let ub = seed_user(&store, b, 11, "b@example.com").await?;
    let mut tx = store.begin(b).await?;
    tx.insert_api_client(api_client(client_id(1), ub)).await?;
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let r = tx.insert_session(session(hash(1), ub)).await;
    check!(
        is_not_found(&r),
        "a session of B's user in A gave {}",
        outcome(&r)
    );
    let mut by_client = session(hash(2), ub);
    by_client.subject = SessionSubject::ApiClient(client_id(1));
    let r = tx.insert_session(by_client).await;
    check!(
        is_not_found(&r),
        "a session of B's API client in A gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    check!(
        store.session_by_hash(hash(1)).await?.is_none()
            && store.session_by_hash(hash(2)).await?.is_none(),
        "a refused session claimed its hash"
    );
    Ok(())
}

async fn session_stale_update_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let ada = seed_user(&store, a, 10, "a@example.com").await?;
    let bob = seed_user(&store, a, 11, "b@example.com").await?;
    let original = session(hash(1), ada);
    let mut tx = store.begin(a).await?;
    tx.insert_session(original.clone()).await?;
    let mut passed = original.clone();
    passed.second_factor_passed = true;
    let r = tx.update_session(passed.clone(), Version(4)).await;
    check!(
        is_stale(&r),
        "an update with a wrong version gave {}",
        outcome(&r)
    );
    let mut stolen = original.clone();
    stolen.subject = SessionSubject::User(bob);
    let r = tx.update_session(stolen, Version::FIRST).await;
    check!(
        is_invalid(&r),
        "changing a session's subject gave {}",
        outcome(&r)
    );
    let r = tx
        .update_session(session(hash(9), ada), Version::FIRST)
        .await;
    check!(
        is_not_found(&r),
        "updating a missing session gave {}",
        outcome(&r)
    );
    let r = tx.touch_session(hash(9), T0).await;
    check!(
        is_not_found(&r),
        "touching a missing session gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let read = tx.session(hash(1)).await?;
    check!(
        read.map(|r| (r.value, r.version)) == Some((original, Version::FIRST)),
        "a refused update changed the session"
    );
    Ok(())
}

async fn session_touch_never_moves_back(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let ada = seed_user(&store, a, 10, "a@example.com").await?;
    let mut tx = store.begin(a).await?;
    tx.insert_session(session(hash(1), ada)).await?;
    let later = T0 + Duration::minutes(10);
    tx.touch_session(hash(1), later).await?;
    tx.touch_session(hash(1), T0 + Duration::minutes(3)).await?;
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let read = tx
        .session(hash(1))
        .await?
        .ok_or_else(|| Failure("session missing".into()))?;
    check!(
        read.value.times.last_seen_at == later,
        "touching moved last_seen_at to other than the latest request"
    );
    check!(
        read.value.times.created_at == T0,
        "touching changed the login time"
    );
    // Touches commute: an update with the version read before a touch still succeeds.
    tx.touch_session(hash(1), later + Duration::minutes(1))
        .await?;
    let mut passed = read.value.clone();
    passed.second_factor_passed = true;
    let r = tx.update_session(passed, read.version).await;
    check!(
        r.is_ok(),
        "a touch made the session's version stale: {}",
        outcome(&r)
    );
    Ok(())
}

async fn ending_other_sessions_keeps_one(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let ada = seed_user(&store, a, 10, "a@example.com").await?;
    let bob = seed_user(&store, a, 11, "b@example.com").await?;
    let carol = seed_user(&store, b, 12, "c@example.com").await?;
    let mut tx = store.begin(a).await?;
    tx.insert_api_client(api_client(client_id(1), ada)).await?;
    for n in 1..=4 {
        tx.insert_session(session(hash(n), ada)).await?;
    }
    tx.insert_session(session(hash(5), bob)).await?;
    let mut by_client = session(hash(6), ada);
    by_client.subject = SessionSubject::ApiClient(client_id(1));
    tx.insert_session(by_client).await?;
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    tx.insert_session(session(hash(7), carol)).await?;
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let ended = tx.delete_user_sessions(ada, Some(hash(2))).await?;
    check!(
        ended == 3,
        "ending the other sessions reported {ended}, not 3"
    );
    tx.commit().await?;
    let alive: Vec<u32> = {
        let mut alive = Vec::new();
        for n in 1..=7 {
            if store.session_by_hash(hash(n)).await?.is_some() {
                alive.push(n);
            }
        }
        alive
    };
    check!(
        alive == [2, 5, 6, 7],
        "after ending the user's other sessions the sessions {alive:?} remain, not [2, 5, 6, 7]"
    );

    // With nothing kept, every session of the user ends (AUTH-2).
    let mut tx = store.begin(a).await?;
    let ended = tx.delete_user_sessions(ada, None).await?;
    check!(ended == 1, "ending all sessions reported {ended}, not 1");
    check!(
        tx.session(hash(2)).await?.is_none(),
        "the kept session survived ending all"
    );
    check!(
        tx.session(hash(5)).await?.is_some(),
        "another user's session ended"
    );
    // The API client's sessions end on their own (a rotated secret), nobody else's.
    let ended = tx.delete_api_client_sessions(client_id(1)).await?;
    check!(
        ended == 1,
        "ending the client's sessions reported {ended}, not 1"
    );
    check!(
        tx.session(hash(6)).await?.is_none() && tx.session(hash(5)).await?.is_some(),
        "ending the client's sessions ended the wrong ones"
    );
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    check!(
        tx.delete_api_client_sessions(client_id(1)).await? == 0,
        "B's transaction ended A's client sessions"
    );
    Ok(())
}

async fn sessions_scoped_to_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    seed_user(&store, a, 10, "a@example.com").await?;
    let ub = seed_user(&store, b, 11, "b@example.com").await?;
    let mut tx = store.begin(b).await?;
    tx.insert_session(session(hash(1), ub)).await?;
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    check!(
        tx.session(hash(1)).await?.is_none(),
        "A's transaction reads B's session"
    );
    check!(
        !tx.delete_session(hash(1)).await?,
        "A's transaction deleted B's session"
    );
    let r = tx.touch_session(hash(1), T0 + Duration::minutes(1)).await;
    check!(
        is_not_found(&r),
        "touching B's session in A gave {}",
        outcome(&r)
    );
    let r = tx
        .update_session(session(hash(1), ub), Version::FIRST)
        .await;
    check!(
        is_not_found(&r),
        "updating B's session in A gave {}",
        outcome(&r)
    );
    let ended = tx.delete_user_sessions(ub, None).await?;
    check!(ended == 0, "A's transaction ended {ended} of B's sessions");
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    let read = tx.session(hash(1)).await?;
    check!(
        read.map(|r| (r.value, r.version)) == Some((session(hash(1), ub), Version::FIRST)),
        "B's session changed through A's transaction"
    );
    Ok(())
}

async fn expired_sessions_listed(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let ua = seed_user(&store, a, 10, "a@example.com").await?;
    let ub = seed_user(&store, b, 11, "b@example.com").await?;
    let lifetimes = TokenLifetimes::default();
    let now = T0 + Duration::hours(13);
    let mut tx = store.begin(a).await?;
    // Absolute expiry: logged in at T0, active until just now.
    let mut long = session(hash(1), ua);
    long.times.last_seen_at = now - Duration::minutes(1);
    tx.insert_session(long).await?;
    // Alive: logged in two hours ago, seen a minute ago.
    let mut alive = session(hash(2), ua);
    alive.times.created_at = now - Duration::hours(2);
    alive.times.last_seen_at = now - Duration::minutes(1);
    tx.insert_session(alive).await?;
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    // Idle expiry: logged in two hours ago, idle for 31 minutes.
    let mut idle = session(hash(3), ub);
    idle.times.created_at = now - Duration::hours(2);
    idle.times.last_seen_at = now - Duration::minutes(31);
    tx.insert_session(idle).await?;
    tx.commit().await?;

    let mut provider = store.begin_provider().await?;
    let due: BTreeSet<_> = provider
        .expired_sessions(now, &lifetimes, 100)
        .await?
        .into_iter()
        .map(|(o, h)| (o, h.to_hex()))
        .collect();
    let want: BTreeSet<_> = [(a, hash(1).to_hex()), (b, hash(3).to_hex())].into();
    check!(
        due == want,
        "expired_sessions listed {} sessions, not exactly the 2 ended ones",
        due.len()
    );
    let one = provider.expired_sessions(now, &lifetimes, 1).await?;
    check!(
        one.len() == 1,
        "expired_sessions ignored max = 1 and listed {}",
        one.len()
    );
    Ok(())
}

// ---- tokens ----

async fn token_round_trip_and_lookup(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let ada = seed_user(&store, a, 10, "a@example.com").await?;
    let mut tx = store.begin(a).await?;
    let reset = token(1, TokenKind::PasswordReset, Some(ada));
    let mut confirm = token(2, TokenKind::EmailConfirmation, Some(ada));
    confirm.payload = TokenPayload::NewEmail {
        email: Email::parse("ada.new@example.com")?,
    };
    let mut invite = token(3, TokenKind::Invitation, None);
    invite.payload = TokenPayload::Invitation {
        email: Email::parse("newcomer@example.com")?,
        role: Role::User,
    };
    for t in [&reset, &confirm, &invite] {
        tx.insert_token(t.clone()).await?;
    }
    tx.commit().await?;
    for t in [&reset, &confirm, &invite] {
        check!(
            store.token_by_hash(t.hash).await? == Some((a, t.hash)),
            "the hash does not find the {:?} token",
            t.state.kind
        );
    }
    let mut tx = store.begin(a).await?;
    for t in [&reset, &confirm, &invite] {
        let read = tx.token(t.hash).await?;
        check!(
            read.map(|r| (r.value, r.version)) == Some((t.clone(), Version::FIRST)),
            "the {:?} token read back differs",
            t.state.kind
        );
    }
    check!(
        tx.delete_token(hash(1)).await?,
        "deleting an existing token said it was absent"
    );
    check!(
        !tx.delete_token(hash(1)).await?,
        "deleting a deleted token said it existed"
    );
    tx.commit().await?;
    check!(
        store.token_by_hash(hash(1)).await?.is_none(),
        "a deleted token is still found by its hash"
    );
    Ok(())
}

async fn token_hash_unique_across_orgs(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let ua = seed_user(&store, a, 10, "a@example.com").await?;
    let ub = seed_user(&store, b, 11, "b@example.com").await?;
    let mut tx = store.begin(a).await?;
    tx.insert_token(token(1, TokenKind::PasswordReset, Some(ua)))
        .await?;
    let r = tx.insert_token(token(1, TokenKind::Invitation, None)).await;
    check!(
        is_duplicate(&r, "token"),
        "a second token with one hash gave {}",
        outcome(&r)
    );
    let r = tx
        .insert_token(token(2, TokenKind::PasswordReset, Some(ub)))
        .await;
    check!(
        is_not_found(&r),
        "a token for B's user in A gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    let r = tx
        .insert_token(token(1, TokenKind::PasswordReset, Some(ub)))
        .await;
    check!(
        is_duplicate(&r, "token"),
        "A's token hash in B gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    check!(
        store.token_by_hash(hash(1)).await? == Some((a, hash(1))),
        "a refused duplicate moved the token to another organisation"
    );
    check!(
        store.token_by_hash(hash(2)).await?.is_none(),
        "a refused token claimed its hash"
    );
    Ok(())
}

async fn used_token_stays_used(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let ada = seed_user(&store, a, 10, "a@example.com").await?;
    let mut tx = store.begin(a).await?;
    tx.insert_token(token(1, TokenKind::PasswordReset, Some(ada)))
        .await?;
    let r = tx.mark_token_used(hash(1), T0, Version(3)).await;
    check!(
        is_stale(&r),
        "marking with a wrong version gave {}",
        outcome(&r)
    );
    let r = tx.mark_token_used(hash(9), T0, Version::FIRST).await;
    check!(
        is_not_found(&r),
        "marking a missing token gave {}",
        outcome(&r)
    );
    let first_use = T0 + Duration::minutes(5);
    let v2 = tx
        .mark_token_used(hash(1), first_use, Version::FIRST)
        .await?;
    check!(
        v2 == Version(2),
        "marking used returned {v2:?}, not version 2"
    );
    tx.commit().await?;

    // A second redeemer that read the token before the first use loses.
    let mut tx = store.begin(a).await?;
    let r = tx
        .mark_token_used(hash(1), first_use + Duration::minutes(1), Version::FIRST)
        .await;
    check!(
        is_stale(&r),
        "a concurrent second redemption gave {}",
        outcome(&r)
    );
    // Marking again keeps the first use.
    let again = tx
        .mark_token_used(hash(1), first_use + Duration::minutes(2), v2)
        .await?;
    check!(
        again == v2,
        "marking a used token again changed its version to {again:?}"
    );
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let read = tx
        .token(hash(1))
        .await?
        .ok_or_else(|| Failure("token missing".into()))?;
    check!(
        read.value.state.used_at == Some(first_use),
        "the used token's first use time was not kept"
    );
    drop(tx);
    check!(
        store.token_by_hash(hash(1)).await? == Some((a, hash(1))),
        "a used token is no longer found by its hash"
    );
    Ok(())
}

async fn tokens_scoped_to_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    seed_user(&store, a, 10, "a@example.com").await?;
    let ub = seed_user(&store, b, 11, "b@example.com").await?;
    let mut tx = store.begin(b).await?;
    tx.insert_token(token(1, TokenKind::PasswordReset, Some(ub)))
        .await?;
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    check!(
        tx.token(hash(1)).await?.is_none(),
        "A's transaction reads B's token"
    );
    let r = tx.mark_token_used(hash(1), T0, Version::FIRST).await;
    check!(
        is_not_found(&r),
        "marking B's token in A gave {}",
        outcome(&r)
    );
    check!(
        !tx.delete_token(hash(1)).await?,
        "A's transaction deleted B's token"
    );
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    let read = tx.token(hash(1)).await?;
    check!(
        read.map(|r| (r.value.state.used_at, r.version)) == Some((None, Version::FIRST)),
        "B's token changed through A's transaction"
    );
    Ok(())
}

async fn expired_tokens_listed_for_purge(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let ua = seed_user(&store, a, 10, "a@example.com").await?;
    let ub = seed_user(&store, b, 11, "b@example.com").await?;
    let lifetimes = TokenLifetimes::default();
    // 31 minutes after T0: resets (30 min) have expired, confirmations (24 h) have not.
    let now = T0 + Duration::minutes(31);
    let mut tx = store.begin(a).await?;
    tx.insert_token(token(1, TokenKind::PasswordReset, Some(ua)))
        .await?;
    tx.insert_token(token(2, TokenKind::EmailConfirmation, Some(ua)))
        .await?;
    let mut used = token(3, TokenKind::Invitation, None);
    used.state.used_at = Some(T0 + Duration::minutes(1));
    tx.insert_token(used).await?;
    let mut fresh_reset = token(4, TokenKind::PasswordReset, Some(ua));
    fresh_reset.state.issued_at = now - Duration::minutes(29);
    tx.insert_token(fresh_reset).await?;
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    let mut old_invite = token(5, TokenKind::Invitation, Some(ub));
    old_invite.state.issued_at = now - Duration::hours(73);
    tx.insert_token(old_invite).await?;
    tx.commit().await?;

    let mut provider = store.begin_provider().await?;
    let due = provider.expired_tokens(now, &lifetimes, 100).await?;
    let listed: BTreeSet<_> = due.iter().map(|(o, h)| (*o, h.to_hex())).collect();
    let want: BTreeSet<_> = [(a, hash(1).to_hex()), (b, hash(5).to_hex())].into();
    check!(
        listed == want,
        "expired_tokens listed {} tokens, not exactly the 2 expired ones",
        listed.len()
    );
    check!(
        due.first().map(|(o, h)| (*o, h.to_hex())) == Some((b, hash(5).to_hex())),
        "expired_tokens did not list the oldest first"
    );
    let one = provider.expired_tokens(now, &lifetimes, 1).await?;
    check!(
        one.len() == 1,
        "expired_tokens ignored max = 1 and listed {}",
        one.len()
    );
    drop(provider);

    // The purge runs in each owning organisation's scope.
    for (o, h) in due {
        let mut tx = store.begin(o).await?;
        check!(
            tx.delete_token(h).await?,
            "a listed token could not be deleted in its org"
        );
        tx.commit().await?;
    }
    let mut provider = store.begin_provider().await?;
    let left = provider.expired_tokens(now, &lifetimes, 100).await?;
    check!(
        left.is_empty(),
        "{} expired tokens remain after the purge",
        left.len()
    );
    drop(provider);
    check!(
        store.token_by_hash(hash(2)).await?.is_some()
            && store.token_by_hash(hash(3)).await?.is_some()
            && store.token_by_hash(hash(4)).await?.is_some(),
        "the purge removed a token that had not expired"
    );
    Ok(())
}

// ---- TOTP ----

async fn totp_round_trip_duplicate_and_versions(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let ada = seed_user(&store, a, 10, "a@example.com").await?;
    let enrol = totp(ada);
    let mut tx = store.begin(a).await?;
    let r = tx.update_totp(enrol.clone(), Version::FIRST).await;
    check!(
        is_not_found(&r),
        "updating a missing TOTP record gave {}",
        outcome(&r)
    );
    let r = tx.delete_totp(ada, Version::FIRST).await;
    check!(
        is_not_found(&r),
        "deleting a missing TOTP record gave {}",
        outcome(&r)
    );
    tx.insert_totp(enrol.clone()).await?;
    let r = tx.insert_totp(enrol.clone()).await;
    check!(
        is_duplicate(&r, "totp"),
        "a second TOTP record gave {}",
        outcome(&r)
    );
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let read = tx.totp(ada).await?;
    check!(
        read.map(|r| (r.value, r.version)) == Some((enrol.clone(), Version::FIRST)),
        "the TOTP record read back differs"
    );
    let mut confirmed = enrol.clone();
    confirmed.confirmed = true;
    confirmed.last_used_step = Some(58_000_000);
    confirmed.recovery_codes = (0..10)
        .map(|n| RecoveryCodeSlot {
            hash: hash(100 + n),
            used: n == 3,
        })
        .collect();
    let v2 = tx.update_totp(confirmed.clone(), Version::FIRST).await?;
    // The same step (or recovery code) presented twice concurrently: the second loses.
    let r = tx.update_totp(confirmed.clone(), Version::FIRST).await;
    check!(
        is_stale(&r),
        "a second update with the old version gave {}",
        outcome(&r)
    );
    let r = tx.delete_totp(ada, Version::FIRST).await;
    check!(
        is_stale(&r),
        "a delete with the old version gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let read = tx.totp(ada).await?;
    check!(
        read.map(|r| (r.value, r.version)) == Some((confirmed, v2)),
        "the confirmed TOTP record is not read back with its new version"
    );
    tx.delete_totp(ada, v2).await?;
    check!(
        tx.totp(ada).await?.is_none(),
        "a deleted TOTP record is still read"
    );
    Ok(())
}

async fn totp_needs_user_of_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    seed_user(&store, a, 10, "a@example.com").await?;
    let ub = seed_user(&store, b, 11, "b@example.com").await?;
    let mut tx = store.begin(b).await?;
    tx.insert_totp(totp(ub)).await?;
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let r = tx.insert_totp(totp(ub)).await;
    check!(
        is_not_found(&r),
        "a TOTP record for B's user in A gave {}",
        outcome(&r)
    );
    check!(
        tx.totp(ub).await?.is_none(),
        "A's transaction reads B's TOTP record"
    );
    let r = tx.update_totp(totp(ub), Version::FIRST).await;
    check!(
        is_not_found(&r),
        "updating B's TOTP record in A gave {}",
        outcome(&r)
    );
    let r = tx.delete_totp(ub, Version::FIRST).await;
    check!(
        is_not_found(&r),
        "deleting B's TOTP record in A gave {}",
        outcome(&r)
    );
    let r = tx.insert_totp(totp(user_id(99))).await;
    check!(
        is_not_found(&r),
        "a TOTP record for no user gave {}",
        outcome(&r)
    );
    Ok(())
}

// ---- throttle counters ----

async fn throttle_counters_are_provider_scoped(store: Arc<dyn Store>) -> Result<(), Failure> {
    let email = ThrottleKey::login_email(" Ada@Example.com ").storage_key();
    let source = ThrottleKey::login_source("192.0.2.7").storage_key();
    let mut provider = store.begin_provider().await?;
    check!(
        provider.throttle_counter(&email).await?.is_none(),
        "an empty store has a throttle counter"
    );
    let v1 = provider
        .put_throttle_counter(&email, counter(1, 0), None)
        .await?;
    check!(v1 == Version::FIRST, "a new counter has version {v1:?}");
    provider
        .put_throttle_counter(&source, counter(4, 0), None)
        .await?;
    provider.commit().await?;

    // Organisations exist, but counters belong to none of them: the same key is one counter.
    seed_user(&store, org(1), 10, "ada@example.com").await?;
    let mut provider = store.begin_provider().await?;
    let same = ThrottleKey::login_email("ada@example.com").storage_key();
    let read = provider.throttle_counter(&same).await?;
    check!(
        read == Some(crate::version::Versioned {
            value: counter(1, 0),
            version: v1
        }),
        "the counter is not read back under its key in another provider transaction"
    );
    let r = provider
        .put_throttle_counter(&email, counter(9, 1), None)
        .await;
    check!(
        is_stale(&r),
        "inserting over an existing counter gave {}",
        outcome(&r)
    );
    let r = provider
        .put_throttle_counter(&email, counter(9, 1), Some(Version(7)))
        .await;
    check!(
        is_stale(&r),
        "a put with a wrong version gave {}",
        outcome(&r)
    );
    let missing = ThrottleKey::login_source("198.51.100.1").storage_key();
    let r = provider
        .put_throttle_counter(&missing, counter(1, 1), Some(Version::FIRST))
        .await;
    check!(
        is_stale(&r),
        "updating a missing counter gave {}",
        outcome(&r)
    );
    let v2 = provider
        .put_throttle_counter(&email, counter(2, 1), Some(v1))
        .await?;
    check!(v2 == Version(2), "an updated counter has version {v2:?}");
    for bad in [
        provider.throttle_counter("").await.map(|_| ()),
        provider
            .put_throttle_counter("", counter(1, 0), None)
            .await
            .map(|_| ()),
        provider.delete_throttle_counter("").await.map(|_| ()),
    ] {
        check!(
            is_invalid(&bad),
            "an empty throttle key gave {}",
            outcome(&bad)
        );
    }
    check!(
        provider.delete_throttle_counter(&source).await?,
        "deleting a counter said it was absent"
    );
    check!(
        !provider.delete_throttle_counter(&source).await?,
        "deleting twice said it existed"
    );
    provider.commit().await?;
    let mut provider = store.begin_provider().await?;
    check!(
        provider
            .throttle_counter(&email)
            .await?
            .map(|c| (c.value, c.version))
            == Some((counter(2, 1), v2)),
        "the updated counter is not read back"
    );
    check!(
        provider.throttle_counter(&source).await?.is_none()
            && provider.throttle_counter(&missing).await?.is_none(),
        "a deleted or refused counter is read"
    );
    Ok(())
}

async fn throttle_purge_keeps_recent_counters(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut provider = store.begin_provider().await?;
    let keys: Vec<String> = (0..6)
        .map(|n| ThrottleKey::login_source(&format!("192.0.2.{n}")).storage_key())
        .collect();
    for (minutes, key) in (0i64..).map(|n| n * 60).zip(&keys) {
        provider
            .put_throttle_counter(key, counter(3, minutes), None)
            .await?;
    }
    provider.commit().await?;
    let mut provider = store.begin_provider().await?;
    // Counters whose last failure is before T0 + 150 min: those at 0, 60 and 120.
    let purged = provider
        .purge_throttle_counters(T0 + Duration::minutes(150))
        .await?;
    check!(purged == 3, "the purge reported {purged} counters, not 3");
    provider.commit().await?;
    let mut provider = store.begin_provider().await?;
    for (n, key) in keys.iter().enumerate() {
        let present = provider.throttle_counter(key).await?.is_some();
        check!(
            present == (n >= 3),
            "after the purge counter {n} present = {present}"
        );
    }
    Ok(())
}

// ---- transactions ----

async fn dropped_transaction_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let ada = seed_user(&store, a, 10, "a@example.com").await?;
    let mut tx = store.begin(a).await?;
    tx.insert_session(session(hash(1), ada)).await?;
    tx.insert_session(session(hash(2), ada)).await?;
    tx.insert_token(token(3, TokenKind::PasswordReset, Some(ada)))
        .await?;
    tx.commit().await?;

    // Writes of every kind, a failure midway, then the transaction is dropped.
    let mut tx = store.begin(a).await?;
    tx.insert_session(session(hash(4), ada)).await?;
    tx.insert_token(token(5, TokenKind::EmailConfirmation, Some(ada)))
        .await?;
    tx.insert_totp(totp(ada)).await?;
    tx.mark_token_used(hash(3), T0, Version::FIRST).await?;
    tx.touch_session(hash(1), T0 + Duration::minutes(5)).await?;
    let ended = tx.delete_user_sessions(ada, Some(hash(4))).await?;
    check!(
        ended == 2,
        "the dropped transaction ended {ended} sessions, not 2"
    );
    let r = tx.insert_session(session(hash(4), ada)).await;
    check!(
        is_duplicate(&r, "session_token"),
        "the midway failure did not happen: {}",
        outcome(&r)
    );
    drop(tx);

    let present = [
        store.session_by_hash(hash(1)).await?.is_some(),
        store.session_by_hash(hash(2)).await?.is_some(),
        store.session_by_hash(hash(4)).await?.is_some(),
        store.token_by_hash(hash(5)).await?.is_some(),
    ];
    check!(
        present == [true, true, false, false],
        "after a dropped transaction the lookups found {present:?}, not [true, true, false, false]"
    );
    let mut tx = store.begin(a).await?;
    let s1 = tx
        .session(hash(1))
        .await?
        .ok_or_else(|| Failure("session missing".into()))?;
    check!(
        s1.value.times.last_seen_at == T0,
        "a dropped touch was kept"
    );
    let t3 = tx
        .token(hash(3))
        .await?
        .ok_or_else(|| Failure("token missing".into()))?;
    check!(
        t3.value.state.used_at.is_none() && t3.version == Version::FIRST,
        "a dropped mark-used was kept"
    );
    check!(
        tx.totp(ada).await?.is_none(),
        "a dropped TOTP insert was kept"
    );
    drop(tx);

    let key = ThrottleKey::login_email("a@example.com").storage_key();
    let mut provider = store.begin_provider().await?;
    provider
        .put_throttle_counter(&key, counter(1, 0), None)
        .await?;
    drop(provider);
    let mut provider = store.begin_provider().await?;
    check!(
        provider.throttle_counter(&key).await?.is_none(),
        "a dropped provider transaction left a throttle counter"
    );
    drop(provider);
    // A customer row is not required by these tables, but one exists: nothing else changed.
    let mut tx = store.begin(a).await?;
    check!(
        tx.customer().await?.map(|c| c.value) == Some(customer(a)?),
        "the customer changed"
    );
    Ok(())
}
