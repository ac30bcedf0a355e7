//! The organisation's SIMs through a session (SIM-2): labels of at most 64 characters,
//! enabling and disabling by every role but ReadOnly, and another organisation's SIM is
//! `NotFound` on every call.

// The helpers below are test code: a surprise is a failed test.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{business, ctx};
use selfcare::core::ReasonCode;
use selfcare::core::ids::{OrderId, OrgId, SimId};
use selfcare::core::numbers::Iccid;
use selfcare::core::orders::OrderPayment;
use selfcare::core::roles::Role;
use selfcare::core::sims::{Sim, SimBilling, SimLabel, SimStatus};
use selfcare::storage::ports::{Clock, ManualClock};
use selfcare::storage::sims::SimFilter;
use selfcare::storage::{MemoryStore, Store};
use selfcare::{Error, Portal, Ports, Session};
use time::macros::datetime;

struct World {
    portal: Portal,
    clock: ManualClock,
    store: Arc<dyn Store>,
}

fn world() -> World {
    let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (ports, _dev) = Ports::development_with(Arc::new(clock.clone()));
    let config = common::test_config();
    let portal = Portal::with_store(Arc::clone(&store), ports, config).unwrap();
    World {
        portal,
        clock,
        store,
    }
}

async fn login(w: &World, email: &str) -> Session {
    common::session(&w.portal, email).await
}

async fn owner(w: &World, email: &str) -> (OrgId, Session) {
    let (customer, owner) = business(email);
    let registered = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    (registered.org, login(w, email).await)
}

/// An order of `org` (numbered `n`) with `count` SIMs, as staff would assign them.
async fn order_with_sims(w: &World, org: OrgId, n: u8, count: u8) -> (OrderId, Vec<SimId>) {
    let now = w.clock.now();
    let order = common::test_order(org, n, now, [n, 1, 2, 3, 4], 1, OrderPayment::OnInvoice);
    let sims: Vec<Sim> = (0..count)
        .map(|i| Sim {
            id: SimId::new(now, [n, i, 0, 0, 0, 0, 0, 0, 0, 0]),
            iccid: Iccid::from_payload(&format!("8988228{n:03}{i:08}")).unwrap(),
            imsi: None,
            msisdn: None,
            label: SimLabel::empty(),
            status: SimStatus::Enabled,
            order: order.id,
            billing: SimBilling::Tariff {
                code: "IOT-1GB".into(),
            },
            auto_top_up: false,
        })
        .collect();
    let ids = sims.iter().map(|s| s.id).collect();
    let order_id = order.id;
    let mut tx = w.store.begin(org).await.unwrap();
    tx.insert_order(order).await.unwrap();
    tx.insert_sims(sims).await.unwrap();
    tx.commit().await.unwrap();
    (order_id, ids)
}

#[tokio::test]
async fn sim_2_label_up_to_64_characters_is_kept_longer_is_refused() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (_, sims) = order_with_sims(&w, org, 1, 1).await;
    let label = "ü".repeat(64);
    let sim = ada.set_sim_label(sims[0], &label).await.unwrap();
    assert_eq!(sim.label.as_str(), label);

    let refused = ada.set_sim_label(sims[0], &"x".repeat(65)).await;
    assert!(
        matches!(&refused, Err(Error::Validation { field, reason: ReasonCode::TooLong, .. }) if field == "label"),
        "{refused:?}"
    );
    let listed = ada.sims(SimFilter::default(), None).await.unwrap();
    assert_eq!(
        listed.items[0].label.as_str(),
        label,
        "the refused label changed nothing"
    );
}

#[tokio::test]
async fn sim_2_enable_and_disable_allowed_for_every_role_but_read_only() {
    let w = world();
    let (org, _ada) = owner(&w, "ada@acme.example").await;
    let (_, sims) = order_with_sims(&w, org, 1, 1).await;
    // ApiUser is allowed too by the policy table, but it logs in through an API client,
    // which is not part of these tests.
    for (role, email, allowed) in [
        (Role::Owner, "owner2@acme.example", true),
        (Role::Admin, "admin@acme.example", true),
        (Role::User, "user@acme.example", true),
        (Role::ReadOnly, "reader@acme.example", false),
    ] {
        common::insert_member(w.store.as_ref(), org, email, role).await;
        let session = login(&w, email).await;
        let off = session.set_sim_enabled(sims[0], false).await;
        let on = session.set_sim_enabled(sims[0], true).await;
        if allowed {
            assert_eq!(off.unwrap().status, SimStatus::Disabled, "{role:?}");
            assert_eq!(on.unwrap().status, SimStatus::Enabled, "{role:?}");
        } else {
            assert!(
                matches!(off, Err(Error::PermissionDenied { .. })),
                "{role:?}: {off:?}"
            );
            assert!(
                matches!(on, Err(Error::PermissionDenied { .. })),
                "{role:?}: {on:?}"
            );
            // It may still look at the SIMs.
            assert_eq!(
                session
                    .sims(SimFilter::default(), None)
                    .await
                    .unwrap()
                    .items[0]
                    .status,
                SimStatus::Enabled
            );
        }
    }
}

#[tokio::test]
async fn sim_2_list_filters_by_order_and_status_and_pages() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (first, _) = order_with_sims(&w, org, 1, 3).await;
    let (_, second) = order_with_sims(&w, org, 2, 2).await;
    ada.set_sim_enabled(second[0], false).await.unwrap();

    let all = ada.sims(SimFilter::default(), None).await.unwrap();
    assert_eq!(all.items.len(), 5);
    let of_first = ada
        .sims(
            SimFilter {
                order: Some(first),
                status: None,
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(of_first.items.len(), 3);
    assert!(of_first.items.iter().all(|s| s.order == first));
    let disabled = ada
        .sims(
            SimFilter {
                order: None,
                status: Some(SimStatus::Disabled),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(
        disabled.items.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![second[0]]
    );
}

#[tokio::test]
async fn sim_2_another_organisations_sim_is_not_found_on_every_call() {
    let w = world();
    let (org_a, ada) = owner(&w, "ada@acme.example").await;
    let (org_b, _bob) = owner(&w, "bob@other.example").await;
    order_with_sims(&w, org_a, 1, 1).await;
    let (_, theirs) = order_with_sims(&w, org_b, 2, 1).await;

    assert!(matches!(
        ada.set_sim_label(theirs[0], "mine now").await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        ada.set_sim_enabled(theirs[0], false).await,
        Err(Error::NotFound)
    ));
    let listed = ada.sims(SimFilter::default(), None).await.unwrap();
    assert!(listed.items.iter().all(|s| s.id != theirs[0]));
    assert_eq!(listed.items.len(), 1);
    // B's SIM is untouched.
    let mut tx = w.store.begin(org_b).await.unwrap();
    let sim = tx.sim(theirs[0]).await.unwrap().unwrap().value;
    assert!(sim.label.is_empty());
    assert_eq!(sim.status, SimStatus::Enabled);
}
