//! Stored cards and Auto-Top-Up through a session (PAY-1, PAY-2, PAY-3, AUTH-5, USR-4), with
//! the development ports: a card number never reaches the gateway, expired cards are refused,
//! deleting a card reports what it turned off, tokens never reach the audit log, plans and SIMs
//! of another organisation are `NotFound`, Auto-Top-Up needs a valid card, the portal channel
//! needs a passed captcha, and a User cannot manage cards.

// The helpers below are test code: a surprise is a failed test.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::{business, ctx};
use selfcare::core::ReasonCode;
use selfcare::core::ids::{CardId, OrgId, PlanId, SimId};
use selfcare::core::numbers::{Iccid, Msisdn};
use selfcare::core::orders::OrderPayment;
use selfcare::core::payment::{AutoTopUpTarget, CardDeletionConsequence};
use selfcare::core::plans::Plan;
use selfcare::core::roles::Role;
use selfcare::core::sims::{Sim, SimBilling, SimLabel, SimStatus};
use selfcare::dev::{DevHandles, DevVerifier};
use selfcare::storage::PageRequest;
use selfcare::storage::ports::{Clock, ManualClock};
use selfcare::storage::{MemoryStore, Store};
use selfcare::{Error, Portal, Ports, Session};
use time::macros::{date, datetime};

/// A portal over a fresh in-memory store with the development ports.
struct World {
    portal: Portal,
    clock: ManualClock,
    store: Arc<dyn Store>,
    dev: DevHandles,
}

fn world() -> World {
    let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (ports, dev) = Ports::development_with(Arc::new(clock.clone()));
    let config = common::test_config();
    let portal = Portal::with_store(Arc::clone(&store), ports, config).unwrap();
    World {
        portal,
        clock,
        store,
        dev,
    }
}

const PASS: Option<&str> = Some(DevVerifier::PASSING_TOKEN);

fn pass() -> Option<String> {
    PASS.map(str::to_owned)
}

async fn login(w: &World, email: &str) -> Session {
    common::session(&w.portal, email).await
}

/// A registered business with its Owner's session.
async fn owner(w: &World, email: &str) -> (OrgId, Session) {
    let (customer, owner) = business(email);
    let registered = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    (registered.org, login(w, email).await)
}

/// A user of `org` with `role`, logged in.
async fn member(w: &World, org: OrgId, email: &str, role: Role) -> Session {
    common::insert_member(w.store.as_ref(), org, email, role).await;
    login(w, email).await
}

/// An order of `org` (numbered `n`) with one SIM and one plan, as staff would create them.
async fn order_with_sim_and_plan(w: &World, org: OrgId, n: u8) -> (SimId, PlanId) {
    let now = w.clock.now();
    let order = common::test_order(org, n, now, [n, 1, 2, 3, 4], 1, OrderPayment::OnInvoice);
    let sim = Sim {
        id: SimId::new(now, [n; 10]),
        iccid: Iccid::from_payload(&format!("8988228{:011}", n)).unwrap(),
        imsi: None,
        msisdn: None,
        label: SimLabel::empty(),
        status: SimStatus::Enabled,
        order: order.id,
        billing: SimBilling::Tariff {
            code: "IOT-1GB".into(),
        },
        auto_top_up: false,
    };
    let plan = Plan::new(
        PlanId::new(now, [n; 10]),
        order.id,
        vec![Msisdn::parse("+972501234567").unwrap()],
        Iccid::from_payload(&format!("8988229{:011}", n)).unwrap(),
        date!(2026 - 11 - 01),
        date!(2026 - 12 - 01),
    )
    .unwrap();
    let (sim_id, plan_id) = (sim.id, plan.id());
    let mut tx = w.store.begin(org).await.unwrap();
    tx.insert_order(order).await.unwrap();
    tx.insert_sims(vec![sim]).await.unwrap();
    tx.insert_plan(plan).await.unwrap();
    tx.commit().await.unwrap();
    (sim_id, plan_id)
}

fn reason(result: Result<impl std::fmt::Debug, Error>) -> ReasonCode {
    result.expect_err("the call should be refused").reason()
}

#[tokio::test]
async fn pay_1_card_number_as_token_is_refused_without_a_gateway_call() {
    let w = world();
    let (_, ada) = owner(&w, "ada@acme.example").await;
    for pan in [
        "4242424242424242",
        "4242 4242 4242 4242",
        "5555-5555-5555-4444",
    ] {
        let refused = ada.save_card(pan.into(), "Ada Owner", pass()).await;
        assert_eq!(reason(refused), ReasonCode::CardNumberNotAccepted, "{pan}");
    }
    assert_eq!(w.dev.gateway.calls().verify_card, 0);
    assert!(ada.cards().await.unwrap().is_empty());
}

#[tokio::test]
async fn pay_1_expired_card_is_refused_and_not_stored() {
    let w = world();
    let (_, ada) = owner(&w, "ada@acme.example").await;
    let refused = ada
        .save_card("tok_expired".into(), "Ada Owner", pass())
        .await;
    assert!(
        matches!(&refused, Err(Error::Validation { field, reason: ReasonCode::CardExpired, .. }) if field == "expiry"),
        "{refused:?}"
    );
    assert_eq!(w.dev.gateway.calls().verify_card, 1);
    assert!(ada.cards().await.unwrap().is_empty());
}

#[tokio::test]
async fn pay_1_save_list_and_delete_returns_the_consequences() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (sim, plan) = order_with_sim_and_plan(&w, org, 1).await;
    let card = ada
        .save_card("tok_visa".into(), "Ada Owner", pass())
        .await
        .unwrap();
    assert_eq!(card.last4, "4242");
    assert!(card.valid);
    let again = ada.save_card("tok_visa".into(), "Ada Owner", pass()).await;
    assert_eq!(reason(again), ReasonCode::CardAlreadyStored);

    ada.assign_card_to_plans(card.id, BTreeSet::from([plan]))
        .await
        .unwrap();
    ada.set_auto_top_up(AutoTopUpTarget::Sim(sim), true)
        .await
        .unwrap();
    let listed = ada.cards().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].plans, BTreeSet::from([plan]));

    let consequences = ada.delete_card(card.id).await.unwrap();
    assert_eq!(
        consequences,
        vec![
            CardDeletionConsequence::PlansUnassigned {
                plans: BTreeSet::from([plan])
            },
            CardDeletionConsequence::AutoTopUpDisabled {
                all_sims: false,
                sims: BTreeSet::from([sim]),
            },
        ]
    );
    assert!(ada.cards().await.unwrap().is_empty());
    assert!(!ada.auto_top_up_state(sim).await.unwrap().enabled);
    assert_eq!(
        ada.delete_card(card.id).await.map(|_| ()),
        Err(Error::NotFound)
    );
}

#[tokio::test]
async fn pay_1_deleting_an_unused_card_has_no_consequences() {
    let w = world();
    let (_, ada) = owner(&w, "ada@acme.example").await;
    let card = ada
        .save_card("tok_mastercard".into(), "Ada Owner", pass())
        .await
        .unwrap();
    assert_eq!(ada.delete_card(card.id).await.unwrap(), vec![]);
}

#[tokio::test]
async fn pay_1_card_token_never_appears_in_the_audit_log() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let card = ada
        .save_card("tok_visa".into(), "Ada Owner", pass())
        .await
        .unwrap();
    ada.set_auto_top_up(AutoTopUpTarget::AllSims, true)
        .await
        .unwrap();
    ada.delete_card(card.id).await.unwrap();
    let mut tx = w.store.begin(org).await.unwrap();
    let entries = tx
        .audit_entries(PageRequest::first(500))
        .await
        .unwrap()
        .items;
    drop(tx);
    let events: Vec<String> = entries.iter().map(|e| e.event.event.to_string()).collect();
    for name in ["card_saved", "auto_top_up_changed", "card_deleted"] {
        assert!(events.iter().any(|e| e == name), "{name} in {events:?}");
    }
    let text = format!("{entries:?}");
    assert!(!text.contains("tok_visa"));
    assert!(
        text.contains(&card.id.to_string()),
        "the entries name the card"
    );
}

#[tokio::test]
async fn pay_2_assignment_to_a_plan_of_another_org_is_not_found() {
    let w = world();
    let (org_a, ada) = owner(&w, "ada@acme.example").await;
    let (org_b, _bob) = owner(&w, "bob@other.example").await;
    let (_, own_plan) = order_with_sim_and_plan(&w, org_a, 1).await;
    let (_, foreign_plan) = order_with_sim_and_plan(&w, org_b, 2).await;
    let card = ada
        .save_card("tok_visa".into(), "Ada Owner", pass())
        .await
        .unwrap();
    let refused = ada
        .assign_card_to_plans(card.id, BTreeSet::from([own_plan, foreign_plan]))
        .await;
    assert_eq!(refused, Err(Error::NotFound));
    assert!(ada.cards().await.unwrap()[0].plans.is_empty());
    let change = ada
        .assign_card_to_plans(card.id, BTreeSet::from([own_plan]))
        .await
        .unwrap();
    assert_eq!(change.assigned, BTreeSet::from([own_plan]));
    // Another organisation's card looks like no card at all.
    let unknown = CardId::new(w.clock.now(), [9; 10]);
    assert_eq!(
        ada.assign_card_to_plans(unknown, BTreeSet::new())
            .await
            .map(|_| ()),
        Err(Error::NotFound)
    );
}

#[tokio::test]
async fn pay_3_auto_top_up_needs_a_valid_card_and_reads_back_per_sim() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (sim1, _) = order_with_sim_and_plan(&w, org, 1).await;
    let (sim2, _) = order_with_sim_and_plan(&w, org, 2).await;
    let refused = ada.set_auto_top_up(AutoTopUpTarget::AllSims, true).await;
    assert_eq!(reason(refused), ReasonCode::NoValidCard);
    assert!(!ada.auto_top_up_state(sim1).await.unwrap().enabled);

    let card = ada
        .save_card("tok_visa".into(), "Ada Owner", pass())
        .await
        .unwrap();
    ada.set_auto_top_up(AutoTopUpTarget::AllSims, true)
        .await
        .unwrap();
    ada.set_auto_top_up(AutoTopUpTarget::Sim(sim2), false)
        .await
        .unwrap();
    let one = ada.auto_top_up_state(sim1).await.unwrap();
    let two = ada.auto_top_up_state(sim2).await.unwrap();
    assert!(one.enabled && one.all_sims);
    assert_eq!(one.card, Some(card.id));
    assert!(!two.enabled && two.all_sims);
    // Switching off never needs a card.
    ada.set_auto_top_up(AutoTopUpTarget::AllSims, false)
        .await
        .unwrap();
    assert!(!ada.auto_top_up_state(sim1).await.unwrap().enabled);
}

#[tokio::test]
async fn pay_3_sim_of_another_org_is_not_found() {
    let w = world();
    let (_, ada) = owner(&w, "ada@acme.example").await;
    let (org_b, _bob) = owner(&w, "bob@other.example").await;
    let (foreign_sim, _) = order_with_sim_and_plan(&w, org_b, 2).await;
    ada.save_card("tok_visa".into(), "Ada Owner", pass())
        .await
        .unwrap();
    assert_eq!(
        ada.set_auto_top_up(AutoTopUpTarget::Sim(foreign_sim), true)
            .await,
        Err(Error::NotFound)
    );
    assert_eq!(
        ada.auto_top_up_state(foreign_sim).await.map(|_| ()),
        Err(Error::NotFound)
    );
}

#[tokio::test]
async fn auth_5_portal_card_save_needs_a_passed_captcha() {
    let w = world();
    let (_, ada) = owner(&w, "ada@acme.example").await;
    let missing = ada.save_card("tok_visa".into(), "Ada Owner", None).await;
    assert!(
        matches!(&missing, Err(Error::Validation { field, reason: ReasonCode::HumanVerificationFailed, .. }) if field == "captcha"),
        "{missing:?}"
    );
    let failed = ada
        .save_card("tok_visa".into(), "Ada Owner", Some("robot".into()))
        .await;
    assert!(
        matches!(&failed, Err(Error::Validation { field, .. }) if field == "captcha"),
        "{failed:?}"
    );
    // A refused captcha stops the save before the gateway is asked.
    assert_eq!(w.dev.gateway.calls().verify_card, 0);
    assert!(ada.cards().await.unwrap().is_empty());
    ada.save_card("tok_visa".into(), "Ada Owner", pass())
        .await
        .unwrap();
    assert_eq!(ada.cards().await.unwrap().len(), 1);
}

#[tokio::test]
async fn usr_4_user_cannot_manage_cards() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let card = ada
        .save_card("tok_visa".into(), "Ada Owner", pass())
        .await
        .unwrap();
    let calls = w.dev.gateway.calls().verify_card;
    let user = member(&w, org, "olga@acme.example", Role::User).await;
    assert!(matches!(
        user.cards().await,
        Err(Error::PermissionDenied { .. })
    ));
    assert!(matches!(
        user.save_card("tok_mastercard".into(), "Olga", pass())
            .await,
        Err(Error::PermissionDenied { .. })
    ));
    assert_eq!(w.dev.gateway.calls().verify_card, calls, "no gateway call");
    assert!(matches!(
        user.delete_card(card.id).await,
        Err(Error::PermissionDenied { .. })
    ));
    assert!(matches!(
        user.assign_card_to_plans(card.id, BTreeSet::new()).await,
        Err(Error::PermissionDenied { .. })
    ));
    assert!(matches!(
        user.set_auto_top_up(AutoTopUpTarget::AllSims, true).await,
        Err(Error::PermissionDenied { .. })
    ));
    assert_eq!(ada.cards().await.unwrap().len(), 1);
}
