//! Conformance cases for the outbox: round trip, duplicates, rollback, tenant scoping, leasing
//! in creation order up to `max`, at-least-once after an expired lease, delivered and dead
//! messages never leased again, dead letters paged stably.

use std::collections::BTreeSet;
use std::sync::Arc;

use selfcare_core::contact::{Email, Language};
use selfcare_core::ids::{MessageId, OrgId};
use selfcare_core::notifications::NotificationKind;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::Failure;
use crate::conformance_check as check;
use crate::error::{ConflictKind, StoreError};
use crate::outbox::OutboxMessage;
use crate::page::PageRequest;
use crate::store::Store;

crate::conformance_cases! {
    "outbox.enqueue_get_round_trip" => enqueue_get_round_trip,
    "outbox.duplicate_enqueue_is_conflict" => duplicate_enqueue_is_conflict,
    "outbox.dropped_transaction_leaves_nothing" => dropped_transaction_leaves_nothing,
    "outbox.tenant_scoping" => tenant_scoping,
    "outbox.lease_in_creation_order_up_to_max" => lease_in_creation_order_up_to_max,
    "outbox.expired_lease_is_due_again" => expired_lease_is_due_again,
    "outbox.delivered_never_leased_again" => delivered_never_leased_again,
    "outbox.failed_message_waits_for_next_attempt" => failed_message_waits_for_next_attempt,
    "outbox.dead_letters_never_leased" => dead_letters_never_leased,
    "outbox.dead_letters_paged_stably" => dead_letters_paged_stably,
    "outbox.invalid_input" => invalid_input,
    "outbox.marks_of_unknown_message_not_found" => marks_of_unknown_message_not_found,
}

const T0: OffsetDateTime = datetime!(2025-03-01 09:00 UTC);

fn org(n: u8) -> OrgId {
    OrgId::new(datetime!(2025-01-01 00:00 UTC), [n; 10])
}

/// The `n`-th message, created `n` seconds after `T0` (so ids and creation times agree).
pub(super) fn message(n: u8) -> Result<OutboxMessage, Failure> {
    let at = T0 + Duration::seconds(i64::from(n));
    Ok(OutboxMessage::new(
        MessageId::new(at, [n; 10]),
        NotificationKind::OrderStatusChanged,
        vec![Email::parse(&format!("ops{n}@example.com"))?],
        Language::German,
        format!("Subject {n}"),
        format!("Body {n}\nline two"),
        at,
    ))
}

async fn enqueue(store: &Arc<dyn Store>, org: OrgId, m: &OutboxMessage) -> Result<(), Failure> {
    let mut tx = store.begin(org).await?;
    tx.enqueue_outbox_message(m.clone()).await?;
    tx.commit().await?;
    Ok(())
}

async fn get(
    store: &Arc<dyn Store>,
    org: OrgId,
    id: MessageId,
) -> Result<Option<OutboxMessage>, Failure> {
    let mut tx = store.begin(org).await?;
    Ok(tx.get_outbox_message(id).await?)
}

async fn lease(
    store: &Arc<dyn Store>,
    now: OffsetDateTime,
    lease_for: Duration,
    max: u32,
) -> Result<Vec<(OrgId, MessageId)>, Failure> {
    let mut tx = store.begin_provider().await?;
    let leased = tx.lease_due_messages(now, lease_for, max).await?;
    tx.commit().await?;
    Ok(leased)
}

async fn mark_failed(
    store: &Arc<dyn Store>,
    org: OrgId,
    id: MessageId,
    next: OffsetDateTime,
    dead: bool,
) -> Result<(), Failure> {
    let mut tx = store.begin(org).await?;
    tx.outbox_mark_failed(id, next, dead, "smtp 451 try later".to_owned())
        .await?;
    tx.commit().await?;
    Ok(())
}

async fn mark_delivered(
    store: &Arc<dyn Store>,
    org: OrgId,
    id: MessageId,
    at: OffsetDateTime,
) -> Result<(), Failure> {
    let mut tx = store.begin(org).await?;
    tx.outbox_mark_delivered(id, at).await?;
    tx.commit().await?;
    Ok(())
}

const LEASE: Duration = Duration::minutes(5);

async fn enqueue_get_round_trip(store: Arc<dyn Store>) -> Result<(), Failure> {
    let m = message(1)?;
    enqueue(&store, org(1), &m).await?;
    let back = get(&store, org(1), m.id).await?;
    check!(back.as_ref() == Some(&m), "read back {back:?}, wrote {m:?}");
    // Every field survives, including the ones a dispatcher sets.
    let mut full = message(2)?;
    full.attempts = 3;
    full.next_attempt_at = T0 + Duration::hours(1);
    full.leased_until = Some(T0 + Duration::minutes(1));
    full.last_error = Some("mailbox full".to_owned());
    full.language = Language::Hebrew;
    enqueue(&store, org(1), &full).await?;
    let back = get(&store, org(1), full.id).await?;
    check!(back.as_ref() == Some(&full), "read back {back:?}");
    let missing = get(&store, org(1), message(3)?.id).await?;
    check!(missing.is_none(), "an unknown id gave {missing:?}");
    Ok(())
}

async fn duplicate_enqueue_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let m = message(1)?;
    enqueue(&store, org(1), &m).await?;
    let mut other = m.clone();
    other.subject = "Another subject".to_owned();
    let mut tx = store.begin(org(1)).await?;
    let err = tx.enqueue_outbox_message(other).await;
    check!(
        err == Err(StoreError::Conflict(ConflictKind::Duplicate {
            what: "outbox_message"
        })),
        "duplicate id gave {err:?}"
    );
    tx.commit().await?;
    let back = get(&store, org(1), m.id).await?;
    check!(
        back.as_ref() == Some(&m),
        "the first message changed: {back:?}"
    );
    Ok(())
}

async fn dropped_transaction_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (message(1)?, message(2)?);
    {
        let mut tx = store.begin(org(1)).await?;
        tx.enqueue_outbox_message(a.clone()).await?;
        tx.enqueue_outbox_message(b.clone()).await?;
        // Fails midway; the transaction is then dropped.
        let dup = tx.enqueue_outbox_message(a.clone()).await;
        check!(dup.is_err(), "duplicate in the same transaction accepted");
    }
    check!(
        get(&store, org(1), a.id).await?.is_none(),
        "dropped enqueue kept"
    );
    check!(
        get(&store, org(1), b.id).await?.is_none(),
        "dropped enqueue kept"
    );
    check!(
        lease(&store, T0 + Duration::hours(1), LEASE, 10)
            .await?
            .is_empty(),
        "a dropped message was leased"
    );
    // A dropped mark and a dropped lease change nothing.
    enqueue(&store, org(1), &a).await?;
    {
        let mut tx = store.begin(org(1)).await?;
        tx.outbox_mark_delivered(a.id, T0).await?;
    }
    {
        let mut tx = store.begin(org(1)).await?;
        tx.outbox_mark_failed(a.id, T0, true, "x".to_owned())
            .await?;
    }
    {
        let mut tx = store.begin_provider().await?;
        let leased = tx
            .lease_due_messages(T0 + Duration::hours(1), LEASE, 10)
            .await?;
        check!(leased.len() == 1, "leased {leased:?}");
    }
    let back = get(&store, org(1), a.id).await?;
    check!(
        back.as_ref() == Some(&a),
        "dropped marks or lease kept: {back:?}"
    );
    let leased = lease(&store, T0 + Duration::hours(1), LEASE, 10).await?;
    check!(
        leased == vec![(org(1), a.id)],
        "after rollback leased {leased:?}"
    );
    Ok(())
}

async fn tenant_scoping(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (message(1)?, message(2)?);
    enqueue(&store, org(1), &a).await?;
    enqueue(&store, org(2), &b).await?;
    let cross = get(&store, org(1), b.id).await?;
    check!(
        cross.is_none(),
        "A's transaction read B's message: {cross:?}"
    );
    let mut tx = store.begin(org(1)).await?;
    let delivered = tx.outbox_mark_delivered(b.id, T0).await;
    let failed = tx.outbox_mark_failed(b.id, T0, true, "x".to_owned()).await;
    tx.commit().await?;
    check!(
        delivered == Err(StoreError::NotFound) && failed == Err(StoreError::NotFound),
        "marking B's message in A gave {delivered:?} / {failed:?}"
    );
    let back = get(&store, org(2), b.id).await?;
    check!(
        back.as_ref() == Some(&b),
        "B's message changed from A: {back:?}"
    );
    // The same id in two organisations is two messages.
    let mut same = a.clone();
    same.subject = "B's own".to_owned();
    enqueue(&store, org(2), &same).await?;
    let a_back = get(&store, org(1), a.id).await?;
    check!(
        a_back.as_ref() == Some(&a),
        "A's message changed: {a_back:?}"
    );
    // Leases name the owning organisation.
    let leased = lease(&store, T0 + Duration::hours(1), LEASE, 10).await?;
    let want: BTreeSet<_> = [(org(1), a.id), (org(2), b.id), (org(2), a.id)].into();
    let got: BTreeSet<_> = leased.iter().copied().collect();
    check!(got == want && leased.len() == 3, "leased {leased:?}");
    Ok(())
}

async fn lease_in_creation_order_up_to_max(store: Arc<dyn Store>) -> Result<(), Failure> {
    // Written out of creation order, across two organisations.
    let order = [5u8, 1, 7, 3, 2, 6, 4];
    for n in order {
        enqueue(&store, org(n % 2), &message(n)?).await?;
    }
    // One more whose first attempt is later: not due yet.
    let mut later = message(8)?;
    later.next_attempt_at = T0 + Duration::days(1);
    enqueue(&store, org(1), &later).await?;
    let now = T0 + Duration::minutes(1);
    let mut seen = Vec::new();
    for want in [3usize, 3, 1, 0] {
        let got = lease(&store, now, LEASE, 3).await?;
        check!(got.len() == want, "lease of 3 gave {} ({got:?})", got.len());
        seen.extend(got);
    }
    let mut expected = Vec::new();
    for n in 1..=7u8 {
        expected.push((org(n % 2), message(n)?.id));
    }
    check!(seen == expected, "leased {seen:?}, expected {expected:?}");
    for n in 1..=7u8 {
        let m = get(&store, org(n % 2), message(n)?.id).await?;
        let until = m.and_then(|m| m.leased_until);
        check!(
            until == Some(now + LEASE),
            "message {n} leased until {until:?}"
        );
    }
    let back = get(&store, org(1), later.id).await?;
    check!(
        back.is_some_and(|m| m.leased_until.is_none()),
        "a message not due was leased"
    );
    Ok(())
}

async fn expired_lease_is_due_again(store: Arc<dyn Store>) -> Result<(), Failure> {
    let m = message(1)?;
    let t = T0 + Duration::minutes(1);
    enqueue(&store, org(1), &m).await?;
    let first = lease(&store, t, LEASE, 10).await?;
    check!(first == vec![(org(1), m.id)], "first lease {first:?}");
    let during = lease(&store, t + LEASE - Duration::seconds(1), LEASE, 10).await?;
    check!(
        during.is_empty(),
        "leased twice within the lease: {during:?}"
    );
    // Not marked within its lease: due again (at least once).
    let again = lease(&store, t + LEASE, LEASE, 10).await?;
    check!(
        again == vec![(org(1), m.id)],
        "a message whose lease ended was lost: {again:?}"
    );
    let back = get(&store, org(1), m.id).await?;
    let until = back.and_then(|m| m.leased_until);
    check!(until == Some(t + LEASE + LEASE), "renewed lease {until:?}");
    Ok(())
}

async fn delivered_never_leased_again(store: Arc<dyn Store>) -> Result<(), Failure> {
    let m = message(1)?;
    enqueue(&store, org(1), &m).await?;
    let leased = lease(&store, T0 + Duration::minutes(1), LEASE, 10).await?;
    check!(leased == vec![(org(1), m.id)], "not leased: {leased:?}");
    let at = T0 + Duration::seconds(30);
    mark_delivered(&store, org(1), m.id, at).await?;
    let back = get(&store, org(1), m.id)
        .await?
        .ok_or_else(|| Failure("lost".into()))?;
    check!(
        back.delivered_at == Some(at) && back.leased_until.is_none() && back.attempts == 1,
        "after delivery: {back:?}"
    );
    for later in [LEASE, Duration::days(30)] {
        let got = lease(&store, T0 + later, LEASE, 10).await?;
        check!(
            got.is_empty(),
            "a delivered message was leased again: {got:?}"
        );
    }
    // A second report and a late failure change nothing.
    mark_delivered(&store, org(1), m.id, at + Duration::hours(1)).await?;
    mark_failed(&store, org(1), m.id, T0, true).await?;
    let again = get(&store, org(1), m.id).await?;
    check!(
        again.as_ref() == Some(&back),
        "a delivered message changed: {again:?}"
    );
    Ok(())
}

async fn failed_message_waits_for_next_attempt(store: Arc<dyn Store>) -> Result<(), Failure> {
    let m = message(1)?;
    enqueue(&store, org(1), &m).await?;
    let leased = lease(&store, T0 + Duration::minutes(1), LEASE, 10).await?;
    check!(leased == vec![(org(1), m.id)], "not leased: {leased:?}");
    let next = T0 + Duration::minutes(30);
    mark_failed(&store, org(1), m.id, next, false).await?;
    let back = get(&store, org(1), m.id)
        .await?
        .ok_or_else(|| Failure("lost".into()))?;
    check!(
        back.attempts == 1
            && back.next_attempt_at == next
            && back.leased_until.is_none()
            && !back.dead
            && back.delivered_at.is_none()
            && back.last_error.as_deref() == Some("smtp 451 try later"),
        "after a failure: {back:?}"
    );
    let early = lease(&store, next - Duration::seconds(1), LEASE, 10).await?;
    check!(
        early.is_empty(),
        "leased before its next attempt: {early:?}"
    );
    let due = lease(&store, next, LEASE, 10).await?;
    check!(
        due == vec![(org(1), m.id)],
        "not leased at its next attempt: {due:?}"
    );
    Ok(())
}

async fn dead_letters_never_leased(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (message(1)?, message(2)?);
    enqueue(&store, org(1), &a).await?;
    enqueue(&store, org(2), &b).await?;
    mark_failed(&store, org(1), a.id, T0, true).await?;
    let back = get(&store, org(1), a.id).await?;
    check!(
        back.as_ref().is_some_and(|m| m.dead && m.attempts == 1),
        "after dead-lettering: {back:?}"
    );
    let leased = lease(&store, T0 + Duration::days(30), LEASE, 10).await?;
    check!(leased == vec![(org(2), b.id)], "leased {leased:?}");
    let mut tx = store.begin_provider().await?;
    let dead = tx.outbox_dead_letters(PageRequest::first(10)).await?;
    check!(
        dead.items == vec![(org(1), a.id)] && dead.next.is_none(),
        "dead letters {dead:?}"
    );
    drop(tx);
    // A late delivery report takes it off the dead letters.
    mark_delivered(&store, org(1), a.id, T0 + Duration::hours(1)).await?;
    let mut tx = store.begin_provider().await?;
    let dead = tx.outbox_dead_letters(PageRequest::first(10)).await?;
    check!(
        dead.items.is_empty(),
        "a delivered message is a dead letter: {dead:?}"
    );
    Ok(())
}

async fn dead_letters_paged_stably(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut original = BTreeSet::new();
    for n in 10..33u8 {
        let o = org(n % 3);
        let m = message(n)?;
        enqueue(&store, o, &m).await?;
        mark_failed(&store, o, m.id, T0, true).await?;
        original.insert((o, m.id));
    }
    let mut seen = Vec::new();
    let mut page = PageRequest::first(5);
    let mut extra = 0u8;
    loop {
        let mut tx = store.begin_provider().await?;
        let got = tx.outbox_dead_letters(page.clone()).await?;
        drop(tx);
        check!(got.items.len() <= 5, "page of {} rows", got.items.len());
        seen.extend(got.items);
        let Some(next) = got.next else { break };
        // Rows added between pages, older and newer than every original row.
        for n in [extra, 200u8.saturating_add(extra)] {
            let m = message(n)?;
            enqueue(&store, org(9), &m).await?;
            mark_failed(&store, org(9), m.id, T0, true).await?;
        }
        extra = extra.saturating_add(1);
        page = PageRequest::after(next, 5);
    }
    for pair in seen.windows(2) {
        if let [x, y] = pair {
            check!(
                (x.1, x.0) < (y.1, y.0),
                "out of order or repeated: {x:?}, {y:?}"
            );
        }
    }
    let found: BTreeSet<_> = seen
        .iter()
        .copied()
        .filter(|r| original.contains(r))
        .collect();
    check!(
        found == original,
        "lost {} of the original dead letters",
        original.len() - found.len()
    );
    Ok(())
}

async fn invalid_input(store: Arc<dyn Store>) -> Result<(), Failure> {
    enqueue(&store, org(1), &message(1)?).await?;
    let mut tx = store.begin_provider().await?;
    for (lease_for, max) in [
        (LEASE, 0),
        (LEASE, crate::page::MAX_PAGE + 1),
        (Duration::ZERO, 10),
        (Duration::seconds(-5), 10),
    ] {
        let got = tx.lease_due_messages(T0, lease_for, max).await;
        check!(
            matches!(got, Err(StoreError::InvalidInput { .. })),
            "lease for {lease_for} max {max} gave {got:?}"
        );
    }
    let far = tx
        .lease_due_messages(T0, Duration::MAX, crate::page::MAX_PAGE)
        .await;
    check!(
        matches!(far, Err(StoreError::InvalidInput { .. })),
        "a lease past the representable time gave {far:?}"
    );
    for page in [
        PageRequest::first(0),
        PageRequest::first(crate::page::MAX_PAGE + 1),
        PageRequest::after(crate::page::Cursor::new("not a cursor"), 5),
    ] {
        let got = tx.outbox_dead_letters(page.clone()).await;
        check!(
            matches!(got, Err(StoreError::InvalidInput { .. })),
            "dead letters {page:?} gave {got:?}"
        );
    }
    drop(tx);
    // Refused input leased nothing.
    let back = get(&store, org(1), message(1)?.id).await?;
    check!(
        back.is_some_and(|m| m.leased_until.is_none()),
        "an invalid lease request leased"
    );
    Ok(())
}

async fn marks_of_unknown_message_not_found(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    let id = message(1)?.id;
    let d = tx.outbox_mark_delivered(id, T0).await;
    let f = tx.outbox_mark_failed(id, T0, false, "x".to_owned()).await;
    check!(
        d == Err(StoreError::NotFound) && f == Err(StoreError::NotFound),
        "marks of an unknown message gave {d:?} / {f:?}"
    );
    Ok(())
}
