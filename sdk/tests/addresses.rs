//! The address book through a session (ADDR-1..ADDR-4, USR-4): validation naming the field,
//! one default per kind, snapshots untouched by edits, the legal fields of billing addresses,
//! permissions, and stale versions.

// The helpers below are test code: a surprise is a failed test.
#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use common::{World, business, ctx, world};
use selfcare::addresses::AddressBookView;
use selfcare::core::ReasonCode;
use selfcare::core::address::{AddressInput, AddressKind, AddressUsage};
use selfcare::core::audit::AuditEventName;
use selfcare::core::ids::{AddressId, OrgId};
use selfcare::core::roles::Role;
use selfcare::storage::PageRequest;
use selfcare::{Error, Session};

async fn login(w: &World, email: &str) -> Session {
    common::session(&w.portal, email).await
}

/// A registered business (Acme IoT GmbH, DE) and its Owner's session.
async fn owner() -> (World, OrgId, Session) {
    let w = world();
    let (customer, owner) = business("ada@acme.example");
    let registered = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let session = login(&w, "ada@acme.example").await;
    (w, registered.org, session)
}

/// A billing address carrying the organisation's legal fields.
fn billing(street: &str) -> AddressInput {
    AddressInput {
        name: "Ada Owner".into(),
        company: Some("Acme IoT GmbH".into()),
        street: street.into(),
        house_number: Some("116".into()),
        postal_code: "10115".into(),
        city: "Berlin".into(),
        country: "DE".into(),
        phone: Some("+49 30 1234567".into()),
        ..AddressInput::default()
    }
}

/// A shipping address abroad, without a company.
fn shipping(city: &str) -> AddressInput {
    AddressInput {
        name: "Warehouse".into(),
        street: "Rue de Rivoli".into(),
        postal_code: "75001".into(),
        city: city.into(),
        country: "FR".into(),
        ..AddressInput::default()
    }
}

fn defaults(book: &AddressBookView) -> (Option<AddressId>, Option<AddressId>) {
    (
        book.default_for(AddressKind::Billing).map(|e| e.id),
        book.default_for(AddressKind::Shipping).map(|e| e.id),
    )
}

/// The organisation's audit events, in order.
async fn audit_events(w: &World, org: OrgId) -> Vec<AuditEventName> {
    let mut tx = w.store.begin(org).await.unwrap();
    let page = tx.audit_entries(PageRequest::first(500)).await.unwrap();
    page.items.into_iter().map(|e| e.event.event).collect()
}

#[tokio::test]
async fn addr_1_bad_postal_code_or_phone_is_validation_naming_the_field() {
    let (_w, _org, session) = owner().await;
    let cases = [
        (
            "postal_code",
            AddressInput {
                postal_code: "10115!".into(),
                ..billing("Invalidenstraße")
            },
        ),
        (
            "phone",
            AddressInput {
                phone: Some("call me maybe".into()),
                ..billing("Invalidenstraße")
            },
        ),
        (
            "name",
            AddressInput {
                name: "x".repeat(101),
                ..billing("Invalidenstraße")
            },
        ),
        (
            "country",
            AddressInput {
                country: "XX".into(),
                ..shipping("Paris")
            },
        ),
    ];
    for (expected, input) in cases {
        let err = session
            .add_address(input, AddressUsage::BOTH, AddressUsage::NONE, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Validation { field, .. } if field == expected),
            "{expected}: {err:?}"
        );
    }
    let book = session.addresses().await.unwrap();
    assert_eq!((book.version, book.entries.len()), (0, 0));

    // The same checks on an edit; the stored address stays as it was.
    let added = session
        .add_address(
            billing("Invalidenstraße"),
            AddressUsage::BOTH,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap();
    let err = session
        .update_address(
            added.id,
            AddressInput {
                postal_code: "   ".into(),
                ..billing("Invalidenstraße")
            },
            AddressUsage::BOTH,
            None,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field, reason: ReasonCode::Required, .. } if field == "postal_code"),
        "{err:?}"
    );
    assert_eq!(session.addresses().await.unwrap(), added.book);
}

#[tokio::test]
async fn addr_2_new_default_clears_the_old() {
    let (w, org, session) = owner().await;
    let first = session
        .add_address(
            billing("Invalidenstraße"),
            AddressUsage::BOTH,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap();
    // The first address of each kind is its default.
    assert_eq!(defaults(&first.book), (Some(first.id), Some(first.id)));

    // A new address made the default for both kinds at once.
    let second = session
        .add_address(
            billing("Chausseestraße"),
            AddressUsage::BILLING,
            AddressUsage::BOTH,
            None,
        )
        .await
        .unwrap();
    assert_eq!(defaults(&second.book), (Some(second.id), Some(second.id)));
    let old = second.book.get(first.id).unwrap();
    assert!(!old.default_billing && !old.default_shipping);
    // `make_default` implies the usage.
    assert_eq!(
        second.book.get(second.id).unwrap().usage,
        AddressUsage::BOTH
    );

    // A shipping address added without `make_default` changes no default.
    let third = session
        .add_address(
            shipping("Paris"),
            AddressUsage::SHIPPING,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap();
    assert_eq!(defaults(&third.book), (Some(second.id), Some(second.id)));

    let book = session
        .set_default(third.id, AddressKind::Shipping, None)
        .await
        .unwrap();
    assert_eq!(defaults(&book), (Some(second.id), Some(third.id)));
    let book = session
        .set_default(first.id, AddressKind::Billing, None)
        .await
        .unwrap();
    assert_eq!(defaults(&book), (Some(first.id), Some(third.id)));
    assert_eq!(
        book.entries
            .iter()
            .filter(|e| e.default_billing || e.default_shipping)
            .count(),
        2
    );
    assert_eq!(session.addresses().await.unwrap(), book);

    // A shipping-only address cannot become the billing default.
    let err = session
        .set_default(third.id, AddressKind::Billing, None)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Conflict {
            reason: ReasonCode::AddressUsageMismatch
        }
    );
    // Deleting a default hands it to the earliest remaining address of that kind.
    let book = session.delete_address(third.id, None).await.unwrap();
    assert_eq!(defaults(&book), (Some(first.id), Some(first.id)));

    let events = audit_events(&w, org).await;
    for name in [
        AuditEventName::AddressCreated,
        AuditEventName::DefaultAddressSet,
        AuditEventName::AddressDeleted,
    ] {
        assert!(events.contains(&name), "{name:?} in {events:?}");
    }
}

#[tokio::test]
async fn addr_3_snapshot_taken_before_an_edit_is_unchanged() {
    let (_w, _org, session) = owner().await;
    let added = session
        .add_address(
            billing("Invalidenstraße"),
            AddressUsage::BOTH,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap();
    let read = session.addresses().await.unwrap();
    let snapshot = read.get(added.id).unwrap().address.snapshot();
    let kept = snapshot.clone();

    let edited = session
        .update_address(
            added.id,
            AddressInput {
                house_number: Some("1".into()),
                ..billing("Friedrichstraße")
            },
            AddressUsage::BOTH,
            Some(read.version),
        )
        .await
        .unwrap();
    let now = &edited.get(added.id).unwrap().address;
    assert_eq!(
        (now.street(), now.house_number()),
        ("Friedrichstraße", Some("1"))
    );
    assert_eq!(snapshot, kept);
    assert_eq!(
        (snapshot.street(), snapshot.house_number()),
        ("Invalidenstraße", Some("116"))
    );
    assert_eq!(snapshot.phone_e164(), Some("+49301234567"));
    assert_eq!(
        snapshot.lines().first().map(String::as_str),
        Some("Ada Owner")
    );
}

#[tokio::test]
async fn addr_4_billing_address_with_another_company_or_country_is_immutable_field() {
    let (_w, _org, session) = owner().await;
    let other_company = AddressInput {
        company: Some("Other Ltd".into()),
        ..billing("Invalidenstraße")
    };
    let other_country = AddressInput {
        country: "AT".into(),
        postal_code: "1010".into(),
        city: "Wien".into(),
        ..billing("Ring")
    };
    for (input, field) in [
        (other_company, "company"),
        (other_country.clone(), "country"),
    ] {
        let err = session
            .add_address(input, AddressUsage::BILLING, AddressUsage::NONE, None)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::ImmutableField { field: f, reason: ReasonCode::BillingAddressLegalField, message }
                if f == field && message.contains("support")),
            "{field}: {err:?}"
        );
    }
    assert!(session.addresses().await.unwrap().entries.is_empty());

    // Fine as shipping-only addresses.
    session
        .add_address(
            other_country.clone(),
            AddressUsage::SHIPPING,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap();
    // An existing billing address cannot be edited to other legal fields either.
    let added = session
        .add_address(
            billing("Invalidenstraße"),
            AddressUsage::BILLING,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap();
    let err = session
        .update_address(added.id, other_country, AddressUsage::BILLING, None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::ImmutableField { field, .. } if field == "country"),
        "{err:?}"
    );
    assert_eq!(session.addresses().await.unwrap(), added.book);
}

#[tokio::test]
async fn addr_4_last_billing_address_cannot_be_deleted() {
    let (_w, _org, session) = owner().await;
    let only = session
        .add_address(
            billing("Invalidenstraße"),
            AddressUsage::BOTH,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap();
    let last = Error::Conflict {
        reason: ReasonCode::LastBillingAddress,
    };
    assert_eq!(
        session.delete_address(only.id, None).await.unwrap_err(),
        last
    );
    // Nor may it stop being a billing address.
    assert_eq!(
        session
            .update_address(
                only.id,
                billing("Invalidenstraße"),
                AddressUsage::SHIPPING,
                None
            )
            .await
            .unwrap_err(),
        last
    );
    assert_eq!(session.addresses().await.unwrap(), only.book);

    // With a second billing address the first can go, and the second becomes the last.
    let second = session
        .add_address(
            billing("Chausseestraße"),
            AddressUsage::BILLING,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap();
    let book = session.delete_address(only.id, None).await.unwrap();
    assert_eq!(defaults(&book), (Some(second.id), None));
    assert_eq!(
        session.delete_address(second.id, None).await.unwrap_err(),
        last
    );
    // An unknown address is NotFound.
    assert_eq!(
        session.delete_address(only.id, None).await.unwrap_err(),
        Error::NotFound
    );
}

#[tokio::test]
async fn usr_4_read_only_user_cannot_add_addresses() {
    let (w, org, session) = owner().await;
    let added = session
        .add_address(
            billing("Invalidenstraße"),
            AddressUsage::BOTH,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap();

    common::insert_member(w.store.as_ref(), org, "reader@acme.example", Role::ReadOnly).await;
    let reader = login(&w, "reader@acme.example").await;

    let err = reader
        .add_address(
            billing("Chausseestraße"),
            AddressUsage::BILLING,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    for err in [
        reader
            .set_default(added.id, AddressKind::Billing, None)
            .await
            .unwrap_err(),
        reader.delete_address(added.id, None).await.unwrap_err(),
        reader
            .update_address(
                added.id,
                billing("Chausseestraße"),
                AddressUsage::BOTH,
                None,
            )
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    }
    assert_eq!(session.addresses().await.unwrap(), added.book);
}

#[tokio::test]
async fn addr_2_edit_with_a_stale_version_is_conflict_and_changes_nothing() {
    let (w, org, session) = owner().await;
    let other = login(&w, "ada@acme.example").await;
    let added = session
        .add_address(
            billing("Invalidenstraße"),
            AddressUsage::BOTH,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap();
    // Both editors read the same version; the first to write wins.
    let seen = session.addresses().await.unwrap();
    let also_seen = other.addresses().await.unwrap();
    assert_eq!(seen, also_seen);
    let won = other
        .update_address(
            added.id,
            billing("Chausseestraße"),
            AddressUsage::BOTH,
            Some(also_seen.version),
        )
        .await
        .unwrap();
    assert_eq!(won.version, seen.version + 1);
    let audited = audit_events(&w, org).await.len();

    let stale = Error::Conflict {
        reason: ReasonCode::StaleVersion,
    };
    let attempts = [
        session
            .update_address(
                added.id,
                billing("Friedrichstraße"),
                AddressUsage::BOTH,
                Some(seen.version),
            )
            .await,
        session
            .add_address(
                shipping("Paris"),
                AddressUsage::SHIPPING,
                AddressUsage::SHIPPING,
                Some(seen.version),
            )
            .await
            .map(|a| a.book),
        session
            .set_default(added.id, AddressKind::Billing, Some(seen.version))
            .await,
        session.delete_address(added.id, Some(seen.version)).await,
    ];
    for attempt in attempts {
        assert_eq!(attempt.unwrap_err(), stale);
    }
    assert_eq!(session.addresses().await.unwrap(), won);
    assert_eq!(audit_events(&w, org).await.len(), audited);

    // A book that does not exist yet is at version 0.
    let (_w2, _org2, fresh) = owner().await;
    let err = fresh
        .add_address(
            billing("Invalidenstraße"),
            AddressUsage::BOTH,
            AddressUsage::NONE,
            Some(1),
        )
        .await
        .unwrap_err();
    assert_eq!(err, stale);
    let first = fresh
        .add_address(
            billing("Invalidenstraße"),
            AddressUsage::BOTH,
            AddressUsage::NONE,
            Some(0),
        )
        .await
        .unwrap();
    assert_eq!(first.book.version, 1);
}

#[tokio::test]
async fn addr_2_concurrent_adds_without_a_version_both_land() {
    let (w, _org, session) = owner().await;
    let other = login(&w, "ada@acme.example").await;
    let (a, b) = tokio::join!(
        session.add_address(
            billing("Invalidenstraße"),
            AddressUsage::BOTH,
            AddressUsage::NONE,
            None
        ),
        other.add_address(
            shipping("Paris"),
            AddressUsage::SHIPPING,
            AddressUsage::SHIPPING,
            None
        ),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let book = session.addresses().await.unwrap();
    assert_eq!(book.version, 2);
    assert!(book.get(a.id).is_some() && book.get(b.id).is_some());
    assert_eq!(
        book.default_for(AddressKind::Billing).map(|e| e.id),
        Some(a.id)
    );
}
