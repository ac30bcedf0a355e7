//! The audit log through the sdk (AUD-1): heads to anchor, verification, erasure of personal
//! values, and the organisation's own log.

#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use common::{PASSWORD, business, ctx, insert_member, world};
use selfcare::audit::{AuditChainOf, ChainVerification};
use selfcare::core::audit::{BreakKind, ChainHead};
use selfcare::core::password::Password;
use selfcare::core::roles::Role;
use selfcare::storage::page::PageRequest;
use selfcare::{Error, Session};

async fn login(w: &common::World, email: &str) -> Session {
    common::session(&w.portal, email).await
}

async fn setup() -> (common::World, selfcare::Registered, Session) {
    let w = world();
    let (customer, owner) = business("owner@acme.example");
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let s = login(&w, "owner@acme.example").await;
    (w, reg, s)
}

#[tokio::test]
async fn aud_1_each_change_extends_the_chain_and_the_chain_verifies_against_its_head() {
    let (w, reg, s) = setup().await;
    let chain = AuditChainOf::Organisation(reg.org);
    let before = w.portal.audit_head(chain).await.unwrap();
    s.invite_user("new@acme.example", "New Person", Role::User)
        .await
        .unwrap();
    let after = w.portal.audit_head(chain).await.unwrap();
    assert_eq!(after.count, before.count + 1);
    assert_ne!(after.mac, before.mac);
    assert_eq!(
        w.portal
            .verify_audit_chain(chain, Some(after))
            .await
            .unwrap(),
        ChainVerification::Intact { head: after }
    );
    // An older anchor is a prefix of the chain: still intact.
    assert_eq!(
        w.portal
            .verify_audit_chain(chain, Some(before))
            .await
            .unwrap(),
        ChainVerification::Intact { head: after }
    );
}

#[tokio::test]
async fn aud_1_a_chain_shorter_than_its_anchor_is_reported_truncated() {
    let (w, reg, _s) = setup().await;
    let chain = AuditChainOf::Organisation(reg.org);
    let head = w.portal.audit_head(chain).await.unwrap();
    // The anchor says one more entry existed than the store now holds (one was cut off).
    let anchor = ChainHead {
        count: head.count + 1,
        mac: head.mac,
    };
    match w
        .portal
        .verify_audit_chain(chain, Some(anchor))
        .await
        .unwrap()
    {
        ChainVerification::Broken { at } => {
            assert_eq!(at.kind, BreakKind::Truncated);
            assert_eq!(at.index, head.count);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn aud_1_a_chain_that_disagrees_with_its_anchor_is_reported_changed() {
    let (w, reg, s) = setup().await;
    let chain = AuditChainOf::Organisation(reg.org);
    let early = w.portal.audit_head(chain).await.unwrap();
    s.invite_user("new@acme.example", "New Person", Role::User)
        .await
        .unwrap();
    let late = w.portal.audit_head(chain).await.unwrap();
    // An anchor at the late position with the early MAC: the stored entry there differs.
    let anchor = ChainHead {
        count: late.count,
        mac: early.mac,
    };
    match w
        .portal
        .verify_audit_chain(chain, Some(anchor))
        .await
        .unwrap()
    {
        ChainVerification::Broken { at } => {
            assert_eq!(at.kind, BreakKind::Changed);
            assert_eq!(at.index, late.count - 1);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn aud_1_erasing_personal_values_keeps_the_chain_verifying() {
    let (w, reg, s) = setup().await;
    let chain = AuditChainOf::Organisation(reg.org);
    s.invite_user("erase.me@acme.example", "Erin Erase", Role::User)
        .await
        .unwrap();
    let head = w.portal.audit_head(chain).await.unwrap();
    let log = s.audit_log(PageRequest::first(100)).await.unwrap();
    let with_personal: Vec<u64> = log
        .items
        .iter()
        .filter(|e| {
            serde_json::to_string(&e.event.personal)
                .unwrap()
                .contains("erase.me@acme.example")
        })
        .map(|e| e.seq)
        .collect();
    assert!(
        !with_personal.is_empty(),
        "the invitation keeps the e-mail as a personal value"
    );
    let mut tx = w.store.begin(reg.org).await.unwrap();
    for seq in &with_personal {
        tx.erase_audit_personal(*seq).await.unwrap();
    }
    tx.commit().await.unwrap();
    let log = s.audit_log(PageRequest::first(100)).await.unwrap();
    let text = serde_json::to_string(&log.items).unwrap();
    assert!(!text.contains("erase.me@acme.example"));
    assert_eq!(
        w.portal
            .verify_audit_chain(chain, Some(head))
            .await
            .unwrap(),
        ChainVerification::Intact { head }
    );
}

#[tokio::test]
async fn aud_1_the_log_is_for_owners_and_admins_and_holds_no_secret() {
    let (w, reg, owner) = setup().await;
    insert_member(w.store.as_ref(), reg.org, "admin@acme.example", Role::Admin).await;
    insert_member(w.store.as_ref(), reg.org, "user@acme.example", Role::User).await;
    insert_member(w.store.as_ref(), reg.org, "ro@acme.example", Role::ReadOnly).await;
    // A failed login with a password that must not be logged.
    let wrong = "wrong horse battery staple 42";
    assert!(
        w.portal
            .login("owner@acme.example", Password::new(wrong), &ctx())
            .await
            .is_err()
    );
    // The failure throttles the source for a moment (AUTH-3).
    w.clock.advance(time::Duration::seconds(2));
    for (email, allowed) in [
        ("admin@acme.example", true),
        ("user@acme.example", false),
        ("ro@acme.example", false),
    ] {
        let s = login(&w, email).await;
        match s.audit_log(PageRequest::first(10)).await {
            Ok(page) => assert!(allowed && !page.items.is_empty(), "{email}"),
            Err(Error::PermissionDenied { .. }) => assert!(!allowed, "{email}"),
            Err(e) => panic!("{e:?}"),
        }
    }
    let mut all = Vec::new();
    let mut page = PageRequest::first(2);
    loop {
        let p = owner.audit_log(page).await.unwrap();
        all.extend(p.items);
        match p.next {
            Some(c) => page = PageRequest::after(c, 2),
            None => break,
        }
    }
    assert_eq!(
        all.len() as u64,
        w.portal
            .audit_head(AuditChainOf::Organisation(reg.org))
            .await
            .unwrap()
            .count
    );
    assert!(all.windows(2).all(|p| p[0].seq + 1 == p[1].seq));
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(wrong) && !text.contains(PASSWORD));
    assert!(text.contains("authn_login_fail"));
}

#[tokio::test]
async fn aud_1_attempts_for_unknown_accounts_go_to_the_provider_chain_which_verifies() {
    let w = world();
    let before = w.portal.audit_head(AuditChainOf::Provider).await.unwrap();
    assert!(
        w.portal
            .login("nobody@nowhere.example", Password::new(PASSWORD), &ctx())
            .await
            .is_err()
    );
    let after = w.portal.audit_head(AuditChainOf::Provider).await.unwrap();
    assert_eq!(after.count, before.count + 1);
    assert_eq!(
        w.portal
            .verify_audit_chain(AuditChainOf::Provider, Some(after))
            .await
            .unwrap(),
        ChainVerification::Intact { head: after }
    );
}
