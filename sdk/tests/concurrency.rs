//! Optimistic concurrency through the `Store` under real concurrency (issue 6, point 3), on the
//! store `SELFCARE_TEST_STORE` names: 16 tasks write the same address book with the same
//! expected version; exactly one wins, the rest get `Conflict(StaleVersion)`, and the book is
//! the winner's.
//!
//! Each task does what the sdk does with a transaction: a `Retryable` answer (PostgreSQL's
//! serializable transactions report a concurrent update as a serialization failure) re-runs
//! it, with the same expected version, so a loser ends on the stale version.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{business, ctx};
use selfcare::core::address::{
    AddressBook, AddressInput, AddressUsage, LegalIdentity, PostalAddress,
};
use selfcare::core::contact::Country;
use selfcare::core::ids::{AddressId, OrgId};
use selfcare::storage::ports::ManualClock;
use selfcare::storage::{ConflictKind, Store, StoreError, Version};
use selfcare::{Portal, Ports};
use time::macros::datetime;

const TASKS: usize = 16;

/// The book with one more shipping address in `city` (what task `i` writes).
fn with_city(book: &AddressBook, i: usize) -> AddressBook {
    let address = PostalAddress::parse(&AddressInput {
        city: format!("Potsdam {i}"),
        ..common::billing_address()
    })
    .unwrap();
    let id = AddressId::new(datetime!(2026-11-23 10:00 UTC), [i as u8; 10]);
    let legal = LegalIdentity {
        company_name: Some("Acme IoT GmbH"),
        billing_country: Country::parse("DE").unwrap(),
    };
    book.add(
        id,
        address,
        AddressUsage::SHIPPING,
        AddressUsage::NONE,
        legal,
    )
    .unwrap()
}

/// One task: the write, re-run on `Retryable` as the sdk re-runs a use case.
async fn write(
    store: Arc<dyn Store>,
    org: OrgId,
    book: AddressBook,
    expected: Version,
) -> Result<Version, StoreError> {
    let mut last = None;
    for _ in 0..20 {
        let attempt = async {
            let mut tx = store.begin(org).await?;
            let v = tx.update_address_book(book.clone(), expected).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(v)
        }
        .await;
        match attempt {
            Err(e @ StoreError::Retryable { .. }) => {
                last = Some(e);
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            other => return other,
        }
    }
    Err(last.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_of_one_version_one_wins_the_rest_conflict() {
    let store = common::test_store().await;
    let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
    let (ports, _) = Ports::development_with(Arc::new(clock));
    let portal = Portal::with_store(Arc::clone(&store), ports, common::test_config()).unwrap();
    let (customer, owner) = business("ada@acme.example");
    let org = portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap()
        .org;
    let ada = common::session(&portal, "ada@acme.example").await;
    ada.add_address(
        common::billing_address(),
        AddressUsage::BOTH,
        AddressUsage::BOTH,
        None,
    )
    .await
    .unwrap();
    let mut tx = store.begin(org).await.unwrap();
    let current = tx.address_book().await.unwrap().unwrap();
    drop(tx);

    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = Arc::clone(&store);
            let book = with_city(&current.value, i);
            let expected = current.version;
            tokio::spawn(async move { (i, write(store, org, book, expected).await) })
        })
        .collect();
    let mut winners = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        match task.await.unwrap() {
            (i, Ok(v)) => winners.push((i, v)),
            (_, Err(StoreError::Conflict(ConflictKind::StaleVersion))) => conflicts += 1,
            (i, Err(other)) => panic!("task {i}: {other:?}"),
        }
    }
    assert_eq!(winners.len(), 1, "winners: {winners:?}");
    assert_eq!(conflicts, TASKS - 1);
    let (winner, version) = winners[0];
    let mut tx = store.begin(org).await.unwrap();
    let stored = tx.address_book().await.unwrap().unwrap();
    assert_eq!(stored.version, version);
    assert_eq!(
        stored.value,
        with_city(&current.value, winner),
        "the book is the winner's"
    );
}
