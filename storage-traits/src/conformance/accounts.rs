//! Conformance cases for accounts: customers, users with the global login key, API clients
//! with the global client id. Also the fixtures the auth cases share.

use std::collections::BTreeSet;
use std::sync::Arc;

use selfcare_core::contact::Email;
use selfcare_core::customer::VolumeLimitSteps;
use selfcare_core::customer::{Customer, MonthlyVolumeLimits, NewCustomer, NewCustomerKind};
use selfcare_core::ids::{ApiClientId, OrgId, UserId};
use selfcare_core::roles::{Channel, Role};
use selfcare_core::tokens::{ClientId, SessionTimes, TokenHash};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::Failure;
use crate::accounts::{ApiClientRecord, CustomerRecord, PendingEmail, UserRecord, UserStatus};
use crate::auth::{SessionRecord, SessionSubject, TotpRecord};
use crate::error::{ConflictKind, StoreError, StoreResult};
use crate::page::{Cursor, PageRequest};
use crate::store::Store;
use crate::version::Version;
use crate::{Page, conformance_check as check};

crate::conformance_cases! {
    "accounts.customer_round_trip" => customer_round_trip,
    "accounts.customer_duplicate_is_conflict" => customer_duplicate_is_conflict,
    "accounts.customer_of_other_org_is_invalid_input" => customer_of_other_org_is_invalid_input,
    "accounts.customer_stale_update_is_conflict" => customer_stale_update_is_conflict,
    "accounts.customers_scoped_to_org" => customers_scoped_to_org,
    "accounts.user_round_trip" => user_round_trip,
    "accounts.user_duplicate_id_is_conflict" => user_duplicate_id_is_conflict,
    "accounts.login_email_unique_across_orgs" => login_email_unique_across_orgs,
    "accounts.email_change_frees_old_key" => email_change_frees_old_key,
    "accounts.user_stale_update_and_delete_are_conflicts" => user_stale_update_and_delete,
    "accounts.user_delete_frees_login_and_cascades" => user_delete_frees_login_and_cascades,
    "accounts.users_scoped_to_org" => users_scoped_to_org,
    "accounts.users_pagination_stable_at_depth" => users_pagination_stable_at_depth,
    "accounts.invalid_page_is_invalid_input" => invalid_page_is_invalid_input,
    "accounts.count_users_with_role" => count_users_with_role,
    "accounts.api_client_round_trip_and_lookup" => api_client_round_trip_and_lookup,
    "accounts.api_client_id_unique_across_orgs" => api_client_id_unique_across_orgs,
    "accounts.api_client_needs_user_of_org" => api_client_needs_user_of_org,
    "accounts.api_client_stale_update_and_delete" => api_client_stale_update_and_delete,
    "accounts.api_clients_paginated_and_filtered" => api_clients_paginated_and_filtered,
    "accounts.dropped_transaction_leaves_nothing" => dropped_transaction_leaves_nothing,
}

// ---- fixtures (shared with the auth cases) ----

/// The instant every case starts from.
pub(super) const T0: OffsetDateTime = datetime!(2025-03-01 12:00 UTC);

/// Ten "random" bytes that differ for every `n`.
fn bytes(n: u32) -> [u8; 10] {
    let b = n.to_be_bytes();
    [0x5c, 0xa1, 0, 0, 0, 0, b[0], b[1], b[2], b[3]]
}

/// The `n`-th instant after [`T0`], a millisecond apart, so ids made from it sort by `n`.
pub(super) fn at(n: u32) -> OffsetDateTime {
    T0 + Duration::milliseconds(i64::from(n))
}

/// The organisation number `n`.
pub(super) fn org(n: u32) -> OrgId {
    OrgId::new(at(n), bytes(n))
}

/// The user id number `n` (ascending with `n`).
pub(super) fn user_id(n: u32) -> UserId {
    UserId::new(at(n), bytes(n))
}

/// The API client id number `n` (ascending with `n`).
pub(super) fn client_id(n: u32) -> ApiClientId {
    ApiClientId::new(at(n), bytes(n))
}

/// A token hash that differs for every `n`.
pub(super) fn hash(n: u32) -> TokenHash {
    let mut b = [0x42; 32];
    b[28..].copy_from_slice(&n.to_be_bytes());
    TokenHash::from_bytes(b)
}

/// A customer row for `org`.
pub(super) fn customer(org: OrgId) -> Result<CustomerRecord, Failure> {
    let input = NewCustomer {
        kind: NewCustomerKind::Business {
            company_name: "Acme IoT GmbH".into(),
            vat_id: None,
        },
        main_contact: "billing@acme.example".into(),
        billing_country: "DE".into(),
        language: None,
    };
    Ok(CustomerRecord {
        customer: Customer::create(org, &input, T0)?,
        volume_limits: MonthlyVolumeLimits::initial(&VolumeLimitSteps::default()),
        second_factor_required: false,
        test_mode: true,
    })
}

/// An active Owner `id` logging in as `email`.
pub(super) fn user(id: UserId, email: &str) -> Result<UserRecord, Failure> {
    Ok(UserRecord {
        id,
        email: Email::parse(email)?,
        name: "Ada Lovelace".into(),
        role: Role::Owner,
        status: UserStatus::Active,
        password_hash: None,
        pending_email: None,
        created_at: T0,
    })
}

/// An API client `id` acting as `user`.
pub(super) fn api_client(id: ApiClientId, user: UserId) -> ApiClientRecord {
    ApiClientRecord {
        id,
        client_id: ClientId::of(id),
        user,
        secret_hash: hash(0xC11E_0000 ^ 7),
        created_at: T0,
        revoked_at: None,
    }
}

/// A portal session of `user` with token hash `h`.
pub(super) fn session(h: TokenHash, user: UserId) -> SessionRecord {
    SessionRecord {
        token_hash: h,
        subject: SessionSubject::User(user),
        channel: Channel::Portal,
        times: SessionTimes::new(T0),
        second_factor_passed: false,
    }
}

/// An unconfirmed TOTP enrolment of `user`.
pub(super) fn totp(user: UserId) -> TotpRecord {
    TotpRecord {
        user,
        sealed_secret: vec![1, 2, 3, 4],
        last_used_step: None,
        confirmed: false,
        recovery_codes: Vec::new(),
    }
}

/// Inserts and commits a customer row and one user `(n, email)` in `org`.
pub(super) async fn seed_user(
    store: &Arc<dyn Store>,
    org: OrgId,
    n: u32,
    email: &str,
) -> Result<UserId, Failure> {
    let mut tx = store.begin(org).await?;
    if tx.customer().await?.is_none() {
        tx.insert_customer(customer(org)?).await?;
    }
    let id = user_id(n);
    tx.insert_user(user(id, email)?).await?;
    tx.commit().await?;
    Ok(id)
}

pub(super) fn is_duplicate<T>(r: &StoreResult<T>, what: &str) -> bool {
    matches!(r, Err(StoreError::Conflict(ConflictKind::Duplicate { what: w })) if *w == what)
}

pub(super) fn is_stale<T>(r: &StoreResult<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(ConflictKind::StaleVersion)))
}

pub(super) fn is_not_found<T>(r: &StoreResult<T>) -> bool {
    matches!(r, Err(StoreError::NotFound))
}

pub(super) fn is_invalid<T>(r: &StoreResult<T>) -> bool {
    matches!(r, Err(StoreError::InvalidInput { .. }))
}

/// A short description of a result, without the row (records may hold personal data).
pub(super) fn outcome<T>(r: &StoreResult<T>) -> String {
    match r {
        Ok(_) => "Ok".into(),
        Err(e) => format!("{e:?}"),
    }
}

// ---- customers ----

async fn customer_round_trip(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let record = customer(a)?;
    let mut tx = store.begin(a).await?;
    tx.insert_customer(record.clone()).await?;
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let read = tx.customer().await?;
    check!(read.is_some(), "a committed customer row is not read back");
    let read = read.ok_or_else(|| Failure("missing".into()))?;
    check!(read.value == record, "the customer row read back differs");
    check!(
        read.version == Version::FIRST,
        "a new row has version {:?}",
        read.version
    );

    let mut changed = record.clone();
    changed.second_factor_required = true;
    let v2 = tx.update_customer(changed.clone(), read.version).await?;
    check!(v2 == Version(2), "update returned {v2:?}, not version 2");
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let read = tx.customer().await?;
    check!(
        read.as_ref().map(|r| (&r.value, r.version)) == Some((&changed, v2)),
        "the updated customer row is not read back with its new version"
    );
    Ok(())
}

async fn customer_duplicate_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let mut tx = store.begin(a).await?;
    tx.insert_customer(customer(a)?).await?;
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let mut other = customer(a)?;
    other.test_mode = false;
    let r = tx.insert_customer(other).await;
    check!(
        is_duplicate(&r, "customer"),
        "a second customer row gave {}",
        outcome(&r)
    );
    let read = tx.customer().await?;
    check!(
        read.map(|r| r.value.test_mode) == Some(true),
        "a refused duplicate changed the stored customer row"
    );
    Ok(())
}

async fn customer_of_other_org_is_invalid_input(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let mut tx = store.begin(a).await?;
    let r = tx.insert_customer(customer(b)?).await;
    check!(
        is_invalid(&r),
        "inserting B's customer in A's transaction gave {}",
        outcome(&r)
    );
    tx.insert_customer(customer(a)?).await?;
    let r = tx.update_customer(customer(b)?, Version::FIRST).await;
    check!(
        is_invalid(&r),
        "updating with B's customer in A's transaction gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    check!(
        tx.customer().await?.is_none(),
        "B got a customer row through A's transaction"
    );
    Ok(())
}

async fn customer_stale_update_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let record = customer(a)?;
    let mut tx = store.begin(a).await?;
    let r = tx.update_customer(record.clone(), Version::FIRST).await;
    check!(
        is_not_found(&r),
        "updating a missing customer gave {}",
        outcome(&r)
    );
    tx.insert_customer(record.clone()).await?;
    tx.commit().await?;

    let mut changed = record.clone();
    changed.test_mode = false;
    let mut tx = store.begin(a).await?;
    let r = tx.update_customer(changed.clone(), Version(7)).await;
    check!(
        is_stale(&r),
        "an update with a wrong version gave {}",
        outcome(&r)
    );
    let v2 = tx.update_customer(changed.clone(), Version::FIRST).await?;
    let r = tx.update_customer(record.clone(), Version::FIRST).await;
    check!(
        is_stale(&r),
        "a second update with the old version gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let read = tx.customer().await?;
    check!(
        read.map(|r| (r.value, r.version)) == Some((changed, v2)),
        "a stale update changed the customer row"
    );
    Ok(())
}

async fn customers_scoped_to_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let orgs: Vec<OrgId> = (1..=7).map(org).collect();
    for &o in &orgs {
        let mut tx = store.begin(o).await?;
        tx.insert_customer(customer(o)?).await?;
        tx.commit().await?;
    }
    for &o in &orgs {
        let mut tx = store.begin(o).await?;
        let read = tx.customer().await?;
        check!(
            read.map(|r| r.value.customer.id()) == Some(o),
            "an organisation's transaction read another organisation's customer row"
        );
    }
    let mut tx = store.begin(org(99)).await?;
    check!(
        tx.customer().await?.is_none(),
        "an organisation without a customer row read one"
    );
    drop(tx);

    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    let mut provider = store.begin_provider().await?;
    loop {
        let Page { items, next } = provider.list_orgs(page).await?;
        seen.extend(items);
        match next {
            Some(cursor) => page = PageRequest::after(cursor, 3),
            None => break,
        }
        check!(seen.len() <= orgs.len(), "list_orgs repeats organisations");
    }
    check!(
        seen == orgs,
        "list_orgs did not return every organisation once, ascending"
    );
    Ok(())
}

// ---- users ----

async fn user_round_trip(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let id = seed_user(&store, a, 10, "Ada@Example.com").await?;
    let mut tx = store.begin(a).await?;
    let read = tx
        .user(id)
        .await?
        .ok_or_else(|| Failure("user not read back".into()))?;
    let expected = user(id, "Ada@Example.com")?;
    check!(read.value == expected, "the user read back differs");
    check!(
        read.value.email.as_str() == "Ada@Example.com",
        "the login e-mail lost its spelling"
    );
    check!(
        read.version == Version::FIRST,
        "a new user has version {:?}",
        read.version
    );

    let mut changed = read.value.clone();
    changed.name = "Ada King".into();
    changed.role = Role::Admin;
    changed.status = UserStatus::Disabled;
    changed.pending_email = Some(PendingEmail {
        email: Email::parse("ada.king@example.com")?,
        by_other: true,
    });
    let v2 = tx.update_user(changed.clone(), read.version).await?;
    check!(v2 == Version(2), "update returned {v2:?}, not version 2");
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let read = tx.user(id).await?;
    check!(
        read.map(|r| (r.value, r.version)) == Some((changed, v2)),
        "the updated user is not read back with its new version"
    );
    drop(tx);
    check!(
        store.user_by_login_key("ada@example.com").await? == Some((a, id)),
        "the login key does not find the user"
    );
    check!(
        store
            .user_by_login_key("ada.king@example.com")
            .await?
            .is_none(),
        "a pending e-mail claimed a login key"
    );
    Ok(())
}

async fn user_duplicate_id_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let id = seed_user(&store, a, 10, "ada@example.com").await?;
    let mut tx = store.begin(a).await?;
    let r = tx.insert_user(user(id, "other@example.com")?).await;
    check!(
        is_duplicate(&r, "user"),
        "a second user with the same id gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    check!(
        store
            .user_by_login_key("other@example.com")
            .await?
            .is_none(),
        "a refused insert claimed its login key"
    );
    Ok(())
}

async fn login_email_unique_across_orgs(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let ada = seed_user(&store, a, 10, "Ada@Example.com").await?;
    let mut tx = store.begin(b).await?;
    tx.insert_customer(customer(b)?).await?;
    let r = tx
        .insert_user(user(user_id(11), "  ada@EXAMPLE.com ")?)
        .await;
    check!(
        is_duplicate(&r, "login_email"),
        "the same login e-mail (other case) in another organisation gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let r = tx.insert_user(user(user_id(12), "ADA@example.com")?).await;
    check!(
        is_duplicate(&r, "login_email"),
        "the same login e-mail in the same organisation gave {}",
        outcome(&r)
    );
    drop(tx);
    let mut tx = store.begin(b).await?;
    check!(
        tx.user(user_id(11)).await?.is_none(),
        "a refused user was stored"
    );
    drop(tx);
    check!(
        store.user_by_login_key("ada@example.com").await? == Some((a, ada)),
        "the login key no longer finds the first user"
    );
    Ok(())
}

async fn email_change_frees_old_key(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let ada = seed_user(&store, a, 10, "ada@example.com").await?;
    let bob = seed_user(&store, b, 20, "bob@example.com").await?;

    let mut tx = store.begin(a).await?;
    let row = tx
        .user(ada)
        .await?
        .ok_or_else(|| Failure("user missing".into()))?;
    let mut moved = row.value.clone();
    moved.email = Email::parse("ada.king@example.com")?;
    let v2 = tx.update_user(moved.clone(), row.version).await?;
    tx.commit().await?;
    check!(
        store.user_by_login_key("ada@example.com").await?.is_none(),
        "the old login key still finds the user after an e-mail change"
    );
    check!(
        store.user_by_login_key("ada.king@example.com").await? == Some((a, ada)),
        "the new login key does not find the user"
    );

    // The freed key can be taken by anyone, in any organisation.
    let mut tx = store.begin(b).await?;
    tx.insert_user(user(user_id(21), "Ada@example.com")?)
        .await?;
    tx.commit().await?;
    check!(
        store.user_by_login_key("ada@example.com").await? == Some((b, user_id(21))),
        "the freed login key could not be claimed again"
    );

    // A key held in another organisation is refused and nothing changes.
    let mut tx = store.begin(a).await?;
    let mut taken = moved.clone();
    taken.email = Email::parse("BOB@example.com")?;
    let r = tx.update_user(taken, v2).await;
    check!(
        is_duplicate(&r, "login_email"),
        "changing to another organisation's login e-mail gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    check!(
        store.user_by_login_key("bob@example.com").await? == Some((b, bob)),
        "a refused e-mail change moved another user's login key"
    );
    check!(
        store.user_by_login_key("ada.king@example.com").await? == Some((a, ada)),
        "a refused e-mail change freed the user's own login key"
    );

    // Changing only the spelling keeps the key.
    let mut tx = store.begin(a).await?;
    let row = tx
        .user(ada)
        .await?
        .ok_or_else(|| Failure("user missing".into()))?;
    check!(
        row.version == v2,
        "a refused e-mail change bumped the version"
    );
    let mut respelt = row.value.clone();
    respelt.email = Email::parse("Ada.King@Example.com")?;
    tx.update_user(respelt, row.version).await?;
    tx.commit().await?;
    check!(
        store.user_by_login_key("ada.king@example.com").await? == Some((a, ada)),
        "respelling the login e-mail lost the login key"
    );
    Ok(())
}

async fn user_stale_update_and_delete(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let id = seed_user(&store, a, 10, "ada@example.com").await?;
    let mut tx = store.begin(a).await?;
    let original = tx
        .user(id)
        .await?
        .ok_or_else(|| Failure("user missing".into()))?;
    let mut changed = original.value.clone();
    changed.name = "Someone Else".into();
    changed.email = Email::parse("else@example.com")?;
    let r = tx.update_user(changed.clone(), Version(5)).await;
    check!(
        is_stale(&r),
        "an update with a wrong version gave {}",
        outcome(&r)
    );
    let r = tx.delete_user(id, Version(5)).await;
    check!(
        is_stale(&r),
        "a delete with a wrong version gave {}",
        outcome(&r)
    );
    let missing = user_id(99);
    let r = tx
        .update_user(user(missing, "x@example.com")?, Version::FIRST)
        .await;
    check!(
        is_not_found(&r),
        "updating a missing user gave {}",
        outcome(&r)
    );
    let r = tx.delete_user(missing, Version::FIRST).await;
    check!(
        is_not_found(&r),
        "deleting a missing user gave {}",
        outcome(&r)
    );
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let read = tx.user(id).await?;
    check!(
        read == Some(original),
        "a stale update or delete changed the user"
    );
    drop(tx);
    check!(
        store.user_by_login_key("else@example.com").await?.is_none()
            && store.user_by_login_key("ada@example.com").await? == Some((a, id)),
        "a stale update moved the login key"
    );
    Ok(())
}

async fn user_delete_frees_login_and_cascades(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let id = seed_user(&store, a, 10, "ada@example.com").await?;
    let keep = seed_user(&store, a, 11, "kept@example.com").await?;
    let mut tx = store.begin(a).await?;
    tx.insert_api_client(api_client(client_id(1), id)).await?;
    tx.insert_session(session(hash(1), id)).await?;
    let mut by_client = session(hash(2), id);
    by_client.subject = SessionSubject::ApiClient(client_id(1));
    tx.insert_session(by_client).await?;
    tx.insert_session(session(hash(3), keep)).await?;
    tx.insert_totp(totp(id)).await?;
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    tx.delete_user(id, Version::FIRST).await?;
    tx.commit().await?;
    check!(
        store.user_by_login_key("ada@example.com").await?.is_none(),
        "a deleted user is still found by login key"
    );
    check!(
        store
            .api_client_by_client_id(ClientId::of(client_id(1)))
            .await?
            .is_none(),
        "a deleted user's API client is still found by client id"
    );
    check!(
        store.session_by_hash(hash(1)).await?.is_none()
            && store.session_by_hash(hash(2)).await?.is_none(),
        "a deleted user's sessions are still found"
    );
    check!(
        store.session_by_hash(hash(3)).await? == Some((a, hash(3))),
        "deleting a user ended another user's session"
    );
    let mut tx = store.begin(a).await?;
    check!(tx.user(id).await?.is_none(), "a deleted user is still read");
    check!(
        tx.api_client(client_id(1)).await?.is_none(),
        "the API client survived its user"
    );
    check!(
        tx.totp(id).await?.is_none(),
        "the TOTP record survived its user"
    );
    check!(
        tx.user(keep).await?.is_some(),
        "deleting a user deleted another"
    );
    let r = tx.delete_user(id, Version::FIRST).await;
    check!(
        is_not_found(&r),
        "deleting a deleted user gave {}",
        outcome(&r)
    );
    // The key is free again.
    tx.insert_user(user(user_id(12), "ADA@example.com")?)
        .await?;
    Ok(())
}

async fn users_scoped_to_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let mut a_users = BTreeSet::new();
    for n in 0..6 {
        a_users.insert(seed_user(&store, a, 100 + n, &format!("a{n}@example.com")).await?);
    }
    let mut b_users = Vec::new();
    for n in 0..4 {
        b_users.push(seed_user(&store, b, 200 + n * 2, &format!("b{n}@example.com")).await?);
    }
    let mut tx = store.begin(a).await?;
    let page = tx.list_users(PageRequest::first(500)).await?;
    let listed: BTreeSet<UserId> = page.items.iter().map(|u| u.value.id).collect();
    check!(listed == a_users, "A's user list is not exactly A's users");
    check!(
        tx.count_users_with_role(Role::Owner).await? == 6,
        "count_users_with_role counted another organisation's users"
    );
    for &foreign in &b_users {
        check!(
            tx.user(foreign).await?.is_none(),
            "A's transaction read B's user"
        );
        let r = tx
            .update_user(user(foreign, "taken@example.com")?, Version::FIRST)
            .await;
        check!(
            is_not_found(&r),
            "updating B's user in A gave {}",
            outcome(&r)
        );
        let r = tx.delete_user(foreign, Version::FIRST).await;
        check!(
            is_not_found(&r),
            "deleting B's user in A gave {}",
            outcome(&r)
        );
    }
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    let page = tx.list_users(PageRequest::first(500)).await?;
    let listed: Vec<UserId> = page.items.iter().map(|u| u.value.id).collect();
    check!(
        listed == b_users,
        "B's users changed through A's transaction"
    );
    Ok(())
}

async fn users_pagination_stable_at_depth(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let mut original = Vec::new();
    for n in 0..23 {
        original.push(seed_user(&store, a, 1000 + n * 10, &format!("u{n}@example.com")).await?);
        if n % 4 == 0 {
            seed_user(&store, b, 1000 + n * 10 + 5, &format!("b{n}@example.com")).await?;
        }
    }
    let mut seen: Vec<UserId> = Vec::new();
    let mut page = PageRequest::first(5);
    let mut extra = 0u32;
    for _ in 0..100 {
        let mut tx = store.begin(a).await?;
        let got = tx.list_users(page).await?;
        check!(
            got.items.len() <= 5,
            "a page of limit 5 held {}",
            got.items.len()
        );
        seen.extend(got.items.iter().map(|u| u.value.id));
        // Rows arrive between pages: before, among and after the original ones.
        extra += 1;
        for id in [
            user_id(10 + extra),
            user_id(1000 + (extra % 23) * 10 + 1 + (extra / 23) % 4),
            user_id(100_000 + extra),
        ] {
            let email = format!("x{}@example.com", id.as_uuid().simple());
            tx.insert_user(user(id, &email)?).await?;
        }
        tx.commit().await?;
        match got.next {
            Some(cursor) => page = PageRequest::after(cursor, 5),
            None => break,
        }
    }
    let sorted = {
        let mut s = seen.clone();
        s.sort();
        s.dedup();
        s
    };
    check!(
        sorted == seen,
        "pages are not in ascending id order or repeat a user"
    );
    let seen_set: BTreeSet<UserId> = seen.iter().copied().collect();
    let lost: Vec<&UserId> = original.iter().filter(|u| !seen_set.contains(u)).collect();
    check!(
        lost.is_empty(),
        "paging lost {} of the original users",
        lost.len()
    );
    check!(
        !seen_set
            .iter()
            .any(|u| (0..23).any(|n| *u == user_id(1000 + n * 10 + 5))),
        "paging returned another organisation's users"
    );
    Ok(())
}

async fn invalid_page_is_invalid_input(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    seed_user(&store, a, 10, "ada@example.com").await?;
    let mut tx = store.begin(a).await?;
    for limit in [0, 501, u32::MAX] {
        let r = tx.list_users(PageRequest::first(limit)).await;
        check!(
            is_invalid(&r),
            "list_users with limit {limit} gave {}",
            outcome(&r)
        );
        let r = tx.list_api_clients(None, PageRequest::first(limit)).await;
        check!(
            is_invalid(&r),
            "list_api_clients with limit {limit} gave {}",
            outcome(&r)
        );
    }
    let bogus = Cursor::new("not a cursor of this store");
    let r = tx.list_users(PageRequest::after(bogus.clone(), 5)).await;
    check!(
        is_invalid(&r),
        "list_users with a foreign cursor gave {}",
        outcome(&r)
    );
    drop(tx);
    let mut provider = store.begin_provider().await?;
    let r = provider.list_orgs(PageRequest::first(0)).await;
    check!(
        is_invalid(&r),
        "list_orgs with limit 0 gave {}",
        outcome(&r)
    );
    let r = provider.list_orgs(PageRequest::after(bogus, 5)).await;
    check!(
        is_invalid(&r),
        "list_orgs with a foreign cursor gave {}",
        outcome(&r)
    );
    Ok(())
}

async fn count_users_with_role(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    seed_user(&store, a, 10, "owner@example.com").await?;
    let mut tx = store.begin(a).await?;
    let roles = [
        Role::Admin,
        Role::Admin,
        Role::User,
        Role::ReadOnly,
        Role::Owner,
    ];
    for (n, role) in (20u32..).zip(roles) {
        let mut u = user(user_id(n), &format!("r{n}@example.com"))?;
        u.role = role;
        u.status = UserStatus::Invited;
        tx.insert_user(u).await?;
    }
    for (role, want) in [
        (Role::Owner, 2u64),
        (Role::Admin, 2),
        (Role::User, 1),
        (Role::ReadOnly, 1),
        (Role::ApiUser, 0),
    ] {
        let got = tx.count_users_with_role(role).await?;
        check!(got == want, "{role:?}: counted {got}, expected {want}");
    }
    // A demotion is counted at once.
    let owner = tx
        .user(user_id(10))
        .await?
        .ok_or_else(|| Failure("owner missing".into()))?;
    let mut demoted = owner.value.clone();
    demoted.role = Role::Admin;
    tx.update_user(demoted, owner.version).await?;
    let got = tx.count_users_with_role(Role::Owner).await?;
    check!(got == 1, "after a demotion {got} Owners are counted, not 1");
    Ok(())
}

// ---- API clients ----

async fn api_client_round_trip_and_lookup(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let owner = seed_user(&store, a, 10, "api@example.com").await?;
    let record = api_client(client_id(1), owner);
    let mut tx = store.begin(a).await?;
    tx.insert_api_client(record.clone()).await?;
    tx.commit().await?;
    check!(
        store.api_client_by_client_id(record.client_id).await? == Some((a, record.id)),
        "the client id does not find the API client"
    );
    let mut tx = store.begin(a).await?;
    let read = tx.api_client(record.id).await?;
    check!(
        read.as_ref().map(|r| (&r.value, r.version)) == Some((&record, Version::FIRST)),
        "the API client read back differs"
    );
    let mut revoked = record.clone();
    revoked.revoked_at = Some(at(5));
    revoked.secret_hash = hash(77);
    let v2 = tx
        .update_api_client(revoked.clone(), Version::FIRST)
        .await?;
    tx.commit().await?;
    check!(
        store.api_client_by_client_id(record.client_id).await? == Some((a, record.id)),
        "a revoked API client is no longer found by client id"
    );
    let mut tx = store.begin(a).await?;
    let read = tx.api_client(record.id).await?;
    check!(
        read.map(|r| (r.value, r.version)) == Some((revoked, v2)),
        "the revoked API client is not read back with its new version"
    );
    tx.delete_api_client(record.id, v2).await?;
    tx.commit().await?;
    check!(
        store
            .api_client_by_client_id(record.client_id)
            .await?
            .is_none(),
        "a deleted API client is still found by client id"
    );
    Ok(())
}

async fn api_client_id_unique_across_orgs(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let ua = seed_user(&store, a, 10, "a@example.com").await?;
    let ub = seed_user(&store, b, 11, "b@example.com").await?;
    let mut tx = store.begin(a).await?;
    tx.insert_api_client(api_client(client_id(1), ua)).await?;
    let r = tx.insert_api_client(api_client(client_id(1), ua)).await;
    check!(
        is_duplicate(&r, "api_client"),
        "a second client with the same id gave {}",
        outcome(&r)
    );
    tx.commit().await?;

    let mut tx = store.begin(b).await?;
    let mut copy = api_client(client_id(2), ub);
    copy.client_id = ClientId::of(client_id(1));
    let r = tx.insert_api_client(copy).await;
    check!(
        is_duplicate(&r, "client_id"),
        "A's client id in B gave {}",
        outcome(&r)
    );
    check!(
        tx.api_client(client_id(2)).await?.is_none(),
        "a refused API client was stored"
    );
    tx.commit().await?;
    check!(
        store
            .api_client_by_client_id(ClientId::of(client_id(1)))
            .await?
            == Some((a, client_id(1))),
        "a refused duplicate moved the client id to another organisation"
    );
    Ok(())
}

async fn api_client_needs_user_of_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    seed_user(&store, a, 10, "a@example.com").await?;
    let ub = seed_user(&store, b, 11, "b@example.com").await?;
    let mut tx = store.begin(a).await?;
    let r = tx.insert_api_client(api_client(client_id(1), ub)).await;
    check!(
        is_not_found(&r),
        "an API client of B's user in A gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    check!(
        store
            .api_client_by_client_id(ClientId::of(client_id(1)))
            .await?
            .is_none(),
        "a refused API client claimed its client id"
    );
    Ok(())
}

async fn api_client_stale_update_and_delete(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let owner = seed_user(&store, a, 10, "a@example.com").await?;
    let other = seed_user(&store, a, 11, "b@example.com").await?;
    let record = api_client(client_id(1), owner);
    let mut tx = store.begin(a).await?;
    tx.insert_api_client(record.clone()).await?;
    let mut revoked = record.clone();
    revoked.revoked_at = Some(at(3));
    let r = tx.update_api_client(revoked.clone(), Version(3)).await;
    check!(
        is_stale(&r),
        "an update with a wrong version gave {}",
        outcome(&r)
    );
    let r = tx.delete_api_client(record.id, Version(3)).await;
    check!(
        is_stale(&r),
        "a delete with a wrong version gave {}",
        outcome(&r)
    );
    let mut moved = record.clone();
    moved.user = other;
    let r = tx.update_api_client(moved, Version::FIRST).await;
    check!(
        is_invalid(&r),
        "changing an API client's user gave {}",
        outcome(&r)
    );
    let mut renamed = record.clone();
    renamed.client_id = ClientId::of(client_id(9));
    let r = tx.update_api_client(renamed, Version::FIRST).await;
    check!(
        is_invalid(&r),
        "changing an API client's client id gave {}",
        outcome(&r)
    );
    let r = tx
        .update_api_client(api_client(client_id(8), owner), Version::FIRST)
        .await;
    check!(
        is_not_found(&r),
        "updating a missing API client gave {}",
        outcome(&r)
    );
    let r = tx.delete_api_client(client_id(8), Version::FIRST).await;
    check!(
        is_not_found(&r),
        "deleting a missing API client gave {}",
        outcome(&r)
    );
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let read = tx.api_client(record.id).await?;
    check!(
        read.map(|r| (r.value, r.version)) == Some((record.clone(), Version::FIRST)),
        "a refused update or delete changed the API client"
    );
    drop(tx);
    check!(
        store
            .api_client_by_client_id(ClientId::of(client_id(9)))
            .await?
            .is_none(),
        "a refused client id change claimed the new client id"
    );
    Ok(())
}

async fn api_clients_paginated_and_filtered(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let u1 = seed_user(&store, a, 10, "one@example.com").await?;
    let u2 = seed_user(&store, a, 11, "two@example.com").await?;
    let ub = seed_user(&store, b, 12, "b@example.com").await?;
    let mut tx = store.begin(a).await?;
    let mut all = Vec::new();
    let mut of_u1 = Vec::new();
    for n in 0..13u32 {
        let owner = if n % 3 == 0 { u2 } else { u1 };
        tx.insert_api_client(api_client(client_id(100 + n * 2), owner))
            .await?;
        all.push(client_id(100 + n * 2));
        if owner == u1 {
            of_u1.push(client_id(100 + n * 2));
        }
    }
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    tx.insert_api_client(api_client(client_id(101), ub)).await?;
    tx.commit().await?;

    for (filter, want) in [(None, &all), (Some(u1), &of_u1)] {
        let mut seen = Vec::new();
        let mut page = PageRequest::first(4);
        for _ in 0..50 {
            let mut tx = store.begin(a).await?;
            let got = tx.list_api_clients(filter, page).await?;
            seen.extend(got.items.iter().map(|c| c.value.id));
            match got.next {
                Some(cursor) => page = PageRequest::after(cursor, 4),
                None => break,
            }
        }
        check!(
            &seen == want,
            "paging API clients (filter {:?}) returned {} rows, expected {} in ascending order",
            filter.is_some(),
            seen.len(),
            want.len()
        );
    }
    Ok(())
}

// ---- transactions ----

async fn dropped_transaction_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    // Everything written, then dropped.
    let mut tx = store.begin(a).await?;
    tx.insert_customer(customer(a)?).await?;
    tx.insert_user(user(user_id(10), "ada@example.com")?)
        .await?;
    tx.insert_api_client(api_client(client_id(1), user_id(10)))
        .await?;
    drop(tx);
    check!(
        store.user_by_login_key("ada@example.com").await?.is_none(),
        "a dropped transaction left a login key"
    );
    check!(
        store
            .api_client_by_client_id(ClientId::of(client_id(1)))
            .await?
            .is_none(),
        "a dropped transaction left a client id"
    );
    let mut tx = store.begin(a).await?;
    check!(
        tx.customer().await?.is_none(),
        "a dropped transaction left a customer row"
    );
    check!(
        tx.user(user_id(10)).await?.is_none(),
        "a dropped transaction left a user"
    );
    drop(tx);

    // Committed state, then a transaction that changes it, fails midway and is dropped.
    let ada = seed_user(&store, a, 10, "ada@example.com").await?;
    seed_user(&store, b, 20, "bob@example.com").await?;
    let mut tx = store.begin(a).await?;
    let row = tx
        .user(ada)
        .await?
        .ok_or_else(|| Failure("user missing".into()))?;
    let mut moved = row.value.clone();
    moved.email = Email::parse("ada.new@example.com")?;
    tx.update_user(moved, row.version).await?;
    tx.insert_user(user(user_id(11), "carol@example.com")?)
        .await?;
    let customer_row = tx
        .customer()
        .await?
        .ok_or_else(|| Failure("customer missing".into()))?;
    let mut changed = customer_row.value.clone();
    changed.second_factor_required = true;
    tx.update_customer(changed, customer_row.version).await?;
    let r = tx.insert_user(user(user_id(12), "bob@example.com")?).await;
    check!(
        is_duplicate(&r, "login_email"),
        "the midway failure did not happen: {}",
        outcome(&r)
    );
    drop(tx);

    check!(
        store.user_by_login_key("ada@example.com").await? == Some((a, ada)),
        "a dropped e-mail change did not give the old login key back"
    );
    for key in ["ada.new@example.com", "carol@example.com"] {
        check!(
            store.user_by_login_key(key).await?.is_none(),
            "a dropped transaction left a login key behind"
        );
    }
    let mut tx = store.begin(a).await?;
    let read = tx.user(ada).await?;
    check!(read == Some(row), "a dropped update changed the user");
    check!(
        tx.user(user_id(11)).await?.is_none(),
        "a dropped insert left a user"
    );
    check!(
        tx.customer().await? == Some(customer_row),
        "a dropped update changed the customer row"
    );
    Ok(())
}
