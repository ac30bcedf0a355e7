//! Conformance cases for the audit log (AUD-1): the empty head, appends that must continue the
//! stored head, entries in order that verify with `selfcare-core`, erasure of personal values,
//! rollback, paging at depth, and the provider's chain kept apart from every organisation's.

use std::sync::Arc;

use selfcare_core::audit::{
    AuditActor, AuditChain, AuditEntry, AuditEvent, AuditEventName, AuditTarget, ChainHead,
    FieldName, HostKey, Mac, Outcome, PersonalField, PersonalValues,
};
use selfcare_core::ids::{AuditEntryId, OrgId, UserId};
use selfcare_core::roles::Channel;
use time::Duration;
use time::macros::datetime;

use super::Failure;
use crate::conformance_check as check;
use crate::error::{ConflictKind, StoreError};
use crate::page::{Cursor, MAX_PAGE, Page, PageRequest};
use crate::store::Store;

crate::conformance_cases! {
    "audit.empty_head_is_genesis" => empty_head_is_genesis,
    "audit.entries_in_order_verify" => entries_in_order_verify,
    "audit.wrong_previous_mac_is_chain_mismatch" => wrong_previous_mac_is_chain_mismatch,
    "audit.appends_after_the_same_head_cannot_fork" => appends_after_the_same_head_cannot_fork,
    "audit.erasing_personal_values_keeps_verification" => erasing_personal_values_keeps_verification,
    "audit.dropped_transaction_leaves_nothing" => dropped_transaction_leaves_nothing,
    "audit.entries_paged_stably" => entries_paged_stably,
    "audit.provider_entries_paged_stably" => provider_entries_paged_stably,
    "audit.provider_chain_is_separate" => provider_chain_is_separate,
    "audit.entry_of_another_scope_is_refused" => entry_of_another_scope_is_refused,
}

pub(super) fn key() -> Result<HostKey, Failure> {
    Ok(HostKey::from_bytes(&[7; 32])?)
}

fn org(n: u8) -> OrgId {
    OrgId::new(datetime!(2025-01-01 00:00 UTC), [n; 10])
}

/// An event of `org` (`None`: the provider's chain) with personal values, `i` seconds in.
pub(super) fn event(org: Option<OrgId>, i: u32) -> Result<AuditEvent, Failure> {
    let at = datetime!(2025-03-01 09:00 UTC) + Duration::seconds(i64::from(i));
    let seed = u8::try_from(i % 251).unwrap_or(0);
    Ok(AuditEvent {
        id: AuditEntryId::new(at, [seed; 10]),
        at,
        org,
        actor: match org {
            Some(_) => AuditActor::User {
                id: UserId::new(at, [seed; 10]),
            },
            None => AuditActor::Anonymous,
        },
        channel: Channel::Portal,
        event: match org {
            Some(_) => AuditEventName::UserUpdated,
            None => AuditEventName::AuthnLoginFail,
        },
        target: AuditTarget::of("user", i)?,
        changed_fields: FieldName::list(["email"])?,
        outcome: Outcome::Success,
        reason: None,
        note: None,
        personal: PersonalValues::new(
            [seed; 16],
            [
                (
                    PersonalField::OldEmail,
                    format!("old{i}@example.com").as_str(),
                ),
                (PersonalField::Source, "203.0.113.9"),
            ],
        )?,
    })
}

/// Appends `n` events to `org`'s chain (`None`: the provider's), one transaction each, and
/// returns the entries written and the head.
async fn append_many(
    store: &Arc<dyn Store>,
    org: Option<OrgId>,
    from: u32,
    n: u32,
) -> Result<(Vec<AuditEntry>, ChainHead), Failure> {
    let key = key()?;
    let mut entries = Vec::new();
    let mut head = head_of(store, org).await?;
    for i in from..from.saturating_add(n) {
        let (entry, next) = AuditChain::append(&head, event(org, i)?, &key);
        let stored = match org {
            Some(o) => {
                let mut tx = store.begin(o).await?;
                let h = tx.append_audit(head, entry.clone()).await?;
                tx.commit().await?;
                h
            }
            None => {
                let mut tx = store.begin_provider().await?;
                let h = tx.append_audit(head, entry.clone()).await?;
                tx.commit().await?;
                h
            }
        };
        check!(
            stored == next,
            "append returned {stored:?}, expected {next:?}"
        );
        entries.push(entry);
        head = next;
    }
    Ok((entries, head))
}

async fn head_of(store: &Arc<dyn Store>, org: Option<OrgId>) -> Result<ChainHead, Failure> {
    Ok(match org {
        Some(o) => store.begin(o).await?.audit_head().await?,
        None => store.begin_provider().await?.audit_head().await?,
    })
}

async fn page_of(
    store: &Arc<dyn Store>,
    org: Option<OrgId>,
    page: PageRequest,
) -> Result<Page<AuditEntry>, StoreError> {
    match org {
        Some(o) => store.begin(o).await?.audit_entries(page).await,
        None => store.begin_provider().await?.audit_entries(page).await,
    }
}

/// Every entry of a chain, read in pages of `limit`.
async fn all_entries(
    store: &Arc<dyn Store>,
    org: Option<OrgId>,
    limit: u32,
) -> Result<Vec<AuditEntry>, Failure> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(limit);
    loop {
        let got = page_of(store, org, page).await?;
        let len = u64::try_from(got.items.len()).unwrap_or(u64::MAX);
        check!(
            len <= u64::from(limit),
            "page of {len} entries, limit {limit}"
        );
        out.extend(got.items);
        match got.next {
            Some(next) => page = PageRequest::after(next, limit),
            None => return Ok(out),
        }
    }
}

async fn empty_head_is_genesis(store: Arc<dyn Store>) -> Result<(), Failure> {
    for scope in [Some(org(1)), None] {
        let head = head_of(&store, scope).await?;
        check!(head == ChainHead::GENESIS, "empty head {head:?}");
        let page = page_of(&store, scope, PageRequest::first(10)).await?;
        check!(
            page.items.is_empty() && page.next.is_none(),
            "entries {page:?}"
        );
    }
    Ok(())
}

async fn entries_in_order_verify(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (written, head) = append_many(&store, Some(org(1)), 0, 7).await?;
    let stored = head_of(&store, Some(org(1))).await?;
    check!(stored == head, "head {stored:?}, expected {head:?}");
    let read = all_entries(&store, Some(org(1)), 3).await?;
    check!(
        read == written,
        "entries read back differ from those written"
    );
    let verified = AuditChain::verify_chain(&read, &key()?, Some(&stored));
    check!(
        verified == Ok(head),
        "stored chain does not verify: {verified:?}"
    );
    Ok(())
}

async fn wrong_previous_mac_is_chain_mismatch(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (written, head) = append_many(&store, Some(org(1)), 0, 2).await?;
    let key = key()?;
    let forged = ChainHead {
        count: head.count,
        mac: Some(Mac::from_bytes([9; 32])),
    };
    let (on_forged, _) = AuditChain::append(&forged, event(Some(org(1)), 10)?, &key);
    let (on_stale, _) = AuditChain::append(&ChainHead::GENESIS, event(Some(org(1)), 11)?, &key);
    let (mut wrong_seq, _) = AuditChain::append(&head, event(Some(org(1)), 12)?, &key);
    wrong_seq.seq = head.count.saturating_add(3);
    let mut tx = store.begin(org(1)).await?;
    for (name, after, entry) in [
        ("a forged previous MAC", forged, on_forged),
        ("a stale head", ChainHead::GENESIS, on_stale.clone()),
        ("the stored head with a stale entry", head, on_stale),
        ("a sequence gap", head, wrong_seq),
    ] {
        let got = tx.append_audit(after, entry).await;
        check!(
            got == Err(StoreError::Conflict(ConflictKind::ChainMismatch)),
            "{name} gave {got:?}"
        );
    }
    tx.commit().await?;
    let stored = head_of(&store, Some(org(1))).await?;
    check!(
        stored == head,
        "a refused append moved the head to {stored:?}"
    );
    let read = all_entries(&store, Some(org(1)), 10).await?;
    check!(read == written, "a refused append wrote an entry");
    Ok(())
}

async fn appends_after_the_same_head_cannot_fork(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (_, head) = append_many(&store, Some(org(1)), 0, 1).await?;
    let key = key()?;
    let (first, first_head) = AuditChain::append(&head, event(Some(org(1)), 5)?, &key);
    let (second, _) = AuditChain::append(&head, event(Some(org(1)), 6)?, &key);
    let mut tx = store.begin(org(1)).await?;
    tx.append_audit(head, first).await?;
    tx.commit().await?;
    let mut tx = store.begin(org(1)).await?;
    let got = tx.append_audit(head, second.clone()).await;
    check!(
        got == Err(StoreError::Conflict(ConflictKind::ChainMismatch)),
        "a second append after the same head gave {got:?}"
    );
    // Within one transaction as well.
    let got = tx.append_audit(first_head, second).await;
    check!(
        got == Err(StoreError::Conflict(ConflictKind::ChainMismatch)),
        "an entry built on an older head gave {got:?}"
    );
    drop(tx);
    let read = all_entries(&store, Some(org(1)), 10).await?;
    let verified = AuditChain::verify_chain(&read, &key, None);
    check!(
        verified == Ok(first_head),
        "chain after the race: {verified:?}"
    );
    Ok(())
}

async fn erasing_personal_values_keeps_verification(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (written, head) = append_many(&store, Some(org(1)), 0, 4).await?;
    let mut tx = store.begin(org(1)).await?;
    tx.erase_audit_personal(1).await?;
    tx.erase_audit_personal(3).await?;
    tx.erase_audit_personal(3).await?;
    let missing = tx.erase_audit_personal(4).await;
    check!(
        missing == Err(StoreError::NotFound),
        "erasing seq 4 gave {missing:?}"
    );
    tx.commit().await?;
    let read = all_entries(&store, Some(org(1)), 10).await?;
    for (i, (r, w)) in read.iter().zip(&written).enumerate() {
        let mut expected = w.clone();
        if i == 1 || i == 3 {
            expected.erase_personal();
            check!(
                r.event.personal.is_erased()
                    && r.event.personal.get(PersonalField::OldEmail).is_none(),
                "entry {i} still holds personal values"
            );
        }
        check!(
            *r == expected,
            "entry {i} changed beyond its personal values"
        );
    }
    check!(read.len() == written.len(), "{} entries read", read.len());
    let verified = AuditChain::verify_chain(&read, &key()?, Some(&head));
    check!(
        verified == Ok(head),
        "erasure broke verification: {verified:?}"
    );
    let stored = head_of(&store, Some(org(1))).await?;
    check!(stored == head, "erasure moved the head to {stored:?}");
    // The provider's chain too, and erasing there leaves the organisation's alone.
    append_many(&store, None, 0, 2).await?;
    let mut tx = store.begin_provider().await?;
    tx.erase_audit_personal(0).await?;
    let missing = tx.erase_audit_personal(2).await;
    check!(
        missing == Err(StoreError::NotFound),
        "erasing seq 2 gave {missing:?}"
    );
    tx.commit().await?;
    let provider = all_entries(&store, None, 10).await?;
    check!(
        provider
            .first()
            .is_some_and(|e| e.event.personal.is_erased())
            && provider
                .get(1)
                .is_some_and(|e| !e.event.personal.is_erased()),
        "provider erasure hit the wrong entries"
    );
    let org_read = all_entries(&store, Some(org(1)), 10).await?;
    check!(
        org_read
            .first()
            .is_some_and(|e| !e.event.personal.is_erased()),
        "provider erasure reached the organisation's chain"
    );
    Ok(())
}

async fn dropped_transaction_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (written, head) = append_many(&store, Some(org(1)), 0, 2).await?;
    let key = key()?;
    {
        let mut tx = store.begin(org(1)).await?;
        let (e, next) = AuditChain::append(&head, event(Some(org(1)), 5)?, &key);
        tx.append_audit(head, e).await?;
        tx.erase_audit_personal(0).await?;
        // Fails midway; the transaction is then dropped.
        let (e2, _) = AuditChain::append(&head, event(Some(org(1)), 6)?, &key);
        check!(tx.append_audit(head, e2).await.is_err(), "fork accepted");
        check!(
            tx.audit_head().await? == next,
            "head inside the transaction"
        );
    }
    {
        let mut tx = store.begin_provider().await?;
        let (e, _) = AuditChain::append(&ChainHead::GENESIS, event(None, 7)?, &key);
        tx.append_audit(ChainHead::GENESIS, e).await?;
    }
    let stored = head_of(&store, Some(org(1))).await?;
    check!(
        stored == head,
        "a dropped append moved the head to {stored:?}"
    );
    let read = all_entries(&store, Some(org(1)), 10).await?;
    check!(read == written, "a dropped append or erasure was kept");
    let provider = head_of(&store, None).await?;
    check!(
        provider == ChainHead::GENESIS,
        "dropped provider append kept"
    );
    Ok(())
}

async fn entries_paged_stably(store: Arc<dyn Store>) -> Result<(), Failure> {
    chain_paged_stably(store, Some(org(1))).await
}

async fn provider_entries_paged_stably(store: Arc<dyn Store>) -> Result<(), Failure> {
    chain_paged_stably(store, None).await
}

/// 23 entries read in pages of 5 while 2 more are appended between pages: every entry once, in
/// sequence order, and the pages verify as one chain.
async fn chain_paged_stably(store: Arc<dyn Store>, scope: Option<OrgId>) -> Result<(), Failure> {
    let (written, _) = append_many(&store, scope, 0, 23).await?;
    let mut seen: Vec<AuditEntry> = Vec::new();
    let mut page = PageRequest::first(5);
    let mut next_event = 100;
    loop {
        let got = page_of(&store, scope, page).await?;
        check!(got.items.len() <= 5, "page of {} entries", got.items.len());
        seen.extend(got.items);
        let Some(next) = got.next else { break };
        append_many(&store, scope, next_event, 2).await?;
        next_event += 2;
        page = PageRequest::after(next, 5);
    }
    for (i, e) in seen.iter().enumerate() {
        check!(
            u64::try_from(i).ok() == Some(e.seq),
            "position {i} holds seq {}",
            e.seq
        );
    }
    check!(
        seen.get(..written.len()) == Some(&written[..]),
        "the original entries were not all read in order"
    );
    let verified = AuditChain::verify_chain(&seen, &key()?, None);
    check!(verified.is_ok(), "entries read across pages: {verified:?}");
    for page in [
        PageRequest::first(0),
        PageRequest::first(MAX_PAGE + 1),
        PageRequest::after(Cursor::new("not a cursor"), 5),
    ] {
        for scope in [Some(org(1)), None] {
            let got = page_of(&store, scope, page.clone()).await;
            check!(
                matches!(got, Err(StoreError::InvalidInput { .. })),
                "{page:?} gave {got:?}"
            );
        }
    }
    Ok(())
}

async fn provider_chain_is_separate(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, a_head) = append_many(&store, Some(org(1)), 0, 3).await?;
    let (p, p_head) = append_many(&store, None, 10, 2).await?;
    let (b, b_head) = append_many(&store, Some(org(2)), 20, 1).await?;
    let key = key()?;
    for (scope, written, head) in [
        (Some(org(1)), &a, a_head),
        (None, &p, p_head),
        (Some(org(2)), &b, b_head),
    ] {
        let stored = head_of(&store, scope).await?;
        check!(
            stored == head,
            "{scope:?}: head {stored:?}, expected {head:?}"
        );
        let read = all_entries(&store, scope, 10).await?;
        check!(
            read == *written,
            "{scope:?}: entries of another chain listed"
        );
        let verified = AuditChain::verify_chain(&read, &key, Some(&head));
        check!(verified == Ok(head), "{scope:?}: {verified:?}");
    }
    let other = head_of(&store, Some(org(3))).await?;
    check!(
        other == ChainHead::GENESIS,
        "an organisation with no entries: {other:?}"
    );
    Ok(())
}

async fn entry_of_another_scope_is_refused(store: Arc<dyn Store>) -> Result<(), Failure> {
    let key = key()?;
    let g = ChainHead::GENESIS;
    let mut tx = store.begin(org(1)).await?;
    for (name, scope) in [("organisation B's", Some(org(2))), ("the provider's", None)] {
        let (e, _) = AuditChain::append(&g, event(scope, 1)?, &key);
        let got = tx.append_audit(g, e).await;
        check!(
            matches!(got, Err(StoreError::InvalidInput { .. })),
            "{name} entry in A's chain gave {got:?}"
        );
    }
    tx.commit().await?;
    let mut tx = store.begin_provider().await?;
    let (e, _) = AuditChain::append(&g, event(Some(org(1)), 1)?, &key);
    let got = tx.append_audit(g, e).await;
    check!(
        matches!(got, Err(StoreError::InvalidInput { .. })),
        "an organisation's entry in the provider's chain gave {got:?}"
    );
    tx.commit().await?;
    for scope in [Some(org(1)), Some(org(2)), None] {
        let head = head_of(&store, scope).await?;
        check!(head == g, "{scope:?}: a refused entry was written");
    }
    Ok(())
}
