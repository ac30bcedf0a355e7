//! Conformance cases for addresses: the one versioned address book per organisation.
//!
//! Checks after a failed statement run in a fresh transaction: some databases abort the whole
//! transaction on an error.

use std::sync::Arc;

use selfcare_core::address::{
    AddressBook, AddressInput, AddressUsage, LegalIdentity, PostalAddress,
};
use selfcare_core::contact::Country;
use selfcare_core::ids::{AddressId, OrgId};
use time::macros::datetime;

use super::Failure;
use crate::conformance_check as check;
use crate::error::{ConflictKind, StoreError, StoreResult};
use crate::store::Store;
use crate::version::Version;

crate::conformance_cases! {
    "addresses.book_absent_before_first_insert" => book_absent_before_first_insert,
    "addresses.insert_get_round_trip" => insert_get_round_trip,
    "addresses.duplicate_insert_is_conflict" => duplicate_insert_is_conflict,
    "addresses.update_bumps_version" => update_bumps_version,
    "addresses.stale_update_is_conflict_and_changes_nothing" => stale_update_is_conflict,
    "addresses.update_without_book_is_not_found" => update_without_book_is_not_found,
    "addresses.dropped_transaction_leaves_nothing" => dropped_transaction_leaves_nothing,
    "addresses.books_are_scoped_to_their_organisation" => books_are_scoped,
}

fn org(n: u8) -> OrgId {
    OrgId::new(datetime!(2025-01-01 0:00 UTC), [n; 10])
}

/// A book of shipping addresses, one per name, with distinct ids.
pub(super) fn book(names: &[&str]) -> Result<AddressBook, Failure> {
    let legal = LegalIdentity {
        company_name: None,
        billing_country: Country::parse("DE")?,
    };
    let mut book = AddressBook::new();
    for (i, name) in names.iter().enumerate() {
        let address = PostalAddress::parse(&AddressInput {
            name: (*name).to_owned(),
            street: "Invalidenstraße".into(),
            house_number: Some("116".into()),
            postal_code: "10115".into(),
            city: "Berlin".into(),
            country: "DE".into(),
            ..AddressInput::default()
        })?;
        let n = u8::try_from(i).map_err(|_| Failure("too many test addresses".into()))?;
        let id = AddressId::new(datetime!(2025-01-01 0:00 UTC), [n; 10]);
        book = book.add(
            id,
            address,
            AddressUsage::SHIPPING,
            AddressUsage::NONE,
            legal,
        )?;
    }
    Ok(book)
}

fn is_stale<T>(r: &StoreResult<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(ConflictKind::StaleVersion)))
}

/// The committed book of `org` with its version.
async fn stored(
    store: &Arc<dyn Store>,
    org: OrgId,
) -> Result<Option<(AddressBook, Version)>, Failure> {
    let mut tx = store.begin(org).await?;
    Ok(tx.address_book().await?.map(|v| (v.value, v.version)))
}

async fn book_absent_before_first_insert(store: Arc<dyn Store>) -> Result<(), Failure> {
    check!(
        stored(&store, org(1)).await?.is_none(),
        "a fresh organisation has an address book"
    );
    let mut tx = store.begin(org(2)).await?;
    tx.insert_address_book(book(&["Ada"])?).await?;
    tx.commit().await?;
    check!(
        stored(&store, org(1)).await?.is_none(),
        "another organisation's first book made one appear in this organisation"
    );
    Ok(())
}

async fn insert_get_round_trip(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = book(&["Ada", "Grace", "Hedy"])?;
    let mut tx = store.begin(org(1)).await?;
    let version = tx.insert_address_book(a.clone()).await?;
    check!(
        version == Version::FIRST,
        "insert returned {version:?}, expected version 1"
    );
    let seen = tx.address_book().await?;
    check!(
        seen.as_ref().map(|v| &v.value) == Some(&a),
        "the transaction does not read its own insert back"
    );
    tx.commit().await?;
    let got = stored(&store, org(1)).await?;
    check!(
        got == Some((a, Version::FIRST)),
        "the committed book differs from the inserted one or is not at version 1"
    );
    Ok(())
}

async fn duplicate_insert_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let first = book(&["Ada"])?;
    let mut tx = store.begin(org(1)).await?;
    tx.insert_address_book(first.clone()).await?;
    tx.commit().await?;

    let mut tx = store.begin(org(1)).await?;
    let second = tx.insert_address_book(book(&["Grace"])?).await;
    check!(
        matches!(
            second,
            Err(StoreError::Conflict(ConflictKind::Duplicate {
                what: "address_book"
            }))
        ),
        "a second insert gave {second:?}, expected Duplicate(address_book)"
    );
    drop(tx);
    check!(
        stored(&store, org(1)).await? == Some((first, Version::FIRST)),
        "a refused second insert changed the stored book"
    );
    Ok(())
}

async fn update_bumps_version(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    let v1 = tx.insert_address_book(book(&["Ada"])?).await?;
    tx.commit().await?;

    let two = book(&["Ada", "Grace"])?;
    let mut tx = store.begin(org(1)).await?;
    let v2 = tx.update_address_book(two.clone(), v1).await?;
    check!(v2 == v1.next(), "update returned {v2:?} after {v1:?}");
    tx.commit().await?;
    check!(
        stored(&store, org(1)).await? == Some((two, v2)),
        "the updated book or its version was not stored"
    );

    let three = book(&["Ada", "Grace", "Hedy"])?;
    let mut tx = store.begin(org(1)).await?;
    let v3 = tx.update_address_book(three.clone(), v2).await?;
    tx.commit().await?;
    check!(
        v3 == v2.next() && stored(&store, org(1)).await? == Some((three, v3)),
        "a second update did not store the book at the next version"
    );
    Ok(())
}

async fn stale_update_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    let v1 = tx.insert_address_book(book(&["Ada"])?).await?;
    tx.commit().await?;
    let current = book(&["Ada", "Grace"])?;
    let mut tx = store.begin(org(1)).await?;
    let v2 = tx.update_address_book(current.clone(), v1).await?;
    tx.commit().await?;

    for stale in [v1, Version(v2.0 + 7)] {
        let mut tx = store.begin(org(1)).await?;
        let outcome = tx.update_address_book(book(&["Mallory"])?, stale).await;
        check!(
            is_stale(&outcome),
            "an update with {stale:?} while the book is at {v2:?} gave {outcome:?}"
        );
        drop(tx);
        check!(
            stored(&store, org(1)).await? == Some((current.clone(), v2)),
            "a stale update changed the stored book"
        );
    }
    Ok(())
}

async fn update_without_book_is_not_found(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    let outcome = tx
        .update_address_book(book(&["Ada"])?, Version::FIRST)
        .await;
    check!(
        matches!(outcome, Err(StoreError::NotFound)),
        "updating a book that does not exist gave {outcome:?}"
    );
    drop(tx);
    check!(
        stored(&store, org(1)).await?.is_none(),
        "a refused update created a book"
    );
    Ok(())
}

async fn dropped_transaction_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    tx.insert_address_book(book(&["Ada"])?).await?;
    drop(tx);
    check!(
        stored(&store, org(1)).await?.is_none(),
        "an insert survived its dropped transaction"
    );

    let first = book(&["Ada"])?;
    let mut tx = store.begin(org(1)).await?;
    let v1 = tx.insert_address_book(first.clone()).await?;
    tx.commit().await?;

    // An update, then a failure midway, then the transaction is dropped.
    let mut tx = store.begin(org(1)).await?;
    let v2 = tx.update_address_book(book(&["Grace"])?, v1).await?;
    let failed = tx.update_address_book(book(&["Hedy"])?, v1).await;
    check!(is_stale(&failed), "a stale update gave {failed:?}");
    drop(tx);
    check!(
        stored(&store, org(1)).await? == Some((first, v1)),
        "part of a dropped transaction (the update to {v2:?}) was kept"
    );
    Ok(())
}

async fn books_are_scoped(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let book_a = book(&["Ada"])?;
    let book_b = book(&["Bob", "Bea"])?;
    let mut tx = store.begin(a).await?;
    tx.insert_address_book(book_a.clone()).await?;
    tx.commit().await?;
    // B's first book is not a duplicate of A's.
    let mut tx = store.begin(b).await?;
    let vb = tx.insert_address_book(book_b.clone()).await?;
    tx.commit().await?;

    check!(
        stored(&store, a).await? == Some((book_a.clone(), Version::FIRST)),
        "organisation A reads a book other than its own"
    );
    check!(
        stored(&store, b).await? == Some((book_b, Version::FIRST)),
        "organisation B reads a book other than its own"
    );

    let new_b = book(&["Bob"])?;
    let mut tx = store.begin(b).await?;
    tx.update_address_book(new_b.clone(), vb).await?;
    tx.commit().await?;
    check!(
        stored(&store, a).await? == Some((book_a, Version::FIRST)),
        "updating B's book changed A's book or version"
    );
    check!(
        stored(&store, b).await? == Some((new_b, vb.next())),
        "B's update was not stored"
    );
    Ok(())
}
