//! Conformance cases for tickets: tickets, their insert-only messages, the staff queues and the
//! resolved tickets due for the automatic close.

use std::collections::BTreeSet;
use std::sync::Arc;

use selfcare_core::ids::{OrgId, TicketId, TicketMessageId, UserId};
use selfcare_core::roles::Department;
use selfcare_core::tickets::{TicketAuthor, TicketMessage, TicketStatus};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

use super::Failure;
use crate::error::{ConflictKind, StoreError};
use crate::page::{Cursor, Page, PageRequest};
use crate::store::Store;
use crate::tickets::{TicketMessageRecord, TicketRecord};
use crate::version::Version;

crate::conformance_cases! {
    "tickets.round_trip" => round_trip,
    "tickets.duplicate_insert_is_conflict" => duplicate_insert_is_conflict,
    "tickets.stale_update_is_conflict" => stale_update_is_conflict,
    "tickets.update_of_missing_ticket_is_not_found" => update_of_missing_ticket_is_not_found,
    "tickets.dropped_transaction_leaves_nothing" => dropped_transaction_leaves_nothing,
    "tickets.failed_transaction_dropped_leaves_nothing" => failed_transaction_dropped_leaves_nothing,
    "tickets.scoped_to_org" => scoped_to_org,
    "tickets.list_newest_first_filtered_by_status" => list_newest_first_filtered_by_status,
    "tickets.list_pagination_complete_and_stable" => list_pagination_complete_and_stable,
    "tickets.invalid_page_is_invalid_input" => invalid_page_is_invalid_input,
    "tickets.messages_insert_only_and_in_order" => messages_insert_only_and_in_order,
    "tickets.staff_queue_only_asked_departments_across_orgs" => staff_queue_only_asked_departments_across_orgs,
    "tickets.staff_queue_pagination_complete" => staff_queue_pagination_complete,
    "tickets.resolved_tickets_due_for_auto_close" => resolved_tickets_due_for_auto_close,
}

const T0: OffsetDateTime = datetime!(2025-06-01 9:00 UTC);

/// A body no provider read may carry.
const SECRET_BODY: &str = "my PIN is 4711";

fn org(n: u8) -> OrgId {
    OrgId::new(T0, [n; 10])
}

fn user(n: u8) -> UserId {
    UserId::new(T0, [n; 10])
}

/// The `n`-th ticket id: later `n`, greater id.
fn ticket_id(n: i64, salt: u8) -> TicketId {
    TicketId::new(T0 + Duration::milliseconds(n), [salt; 10])
}

fn message_id(n: i64) -> TicketMessageId {
    TicketMessageId::new(T0 + Duration::milliseconds(n), [7; 10])
}

fn ticket(id: TicketId, department: Department, status: TicketStatus) -> TicketRecord {
    TicketRecord {
        id,
        opened_by: user(1),
        department,
        subject: "No data on SIM".into(),
        description: format!("It stopped working. {SECRET_BODY}"),
        reference: None,
        status,
        resolved_at: (status == TicketStatus::Resolved).then_some(T0),
        created_at: T0,
        updated_at: T0,
    }
}

fn message(
    id: TicketMessageId,
    ticket: TicketId,
    body: &str,
) -> Result<TicketMessageRecord, Failure> {
    Ok(TicketMessageRecord {
        id,
        ticket,
        message: TicketMessage::new(TicketAuthor::Customer(user(1)), body, false)?,
        at: T0,
    })
}

async fn insert(
    store: &Arc<dyn Store>,
    org_id: OrgId,
    tickets: impl IntoIterator<Item = TicketRecord>,
) -> Result<(), Failure> {
    let mut tx = store.begin(org_id).await?;
    for t in tickets {
        tx.insert_ticket(t).await?;
    }
    tx.commit().await?;
    Ok(())
}

fn invalid<T>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::InvalidInput { .. }))
}

async fn round_trip(store: Arc<dyn Store>) -> Result<(), Failure> {
    let t = ticket(ticket_id(1, 1), Department::Technical, TicketStatus::Open);
    let mut tx = store.begin(org(1)).await?;
    let v = tx.insert_ticket(t.clone()).await?;
    crate::conformance_check!(v == Version::FIRST, "insert returned {v:?}");
    tx.commit().await?;
    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_ticket(t.id).await?;
    crate::conformance_check!(
        got.as_ref().map(|g| (&g.value, g.version)) == Some((&t, Version::FIRST)),
        "get returned {got:?} after inserting {t:?}"
    );
    let none = tx.get_ticket(ticket_id(2, 1)).await?;
    crate::conformance_check!(none.is_none(), "an unknown ticket returned {none:?}");
    Ok(())
}

async fn duplicate_insert_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let t = ticket(ticket_id(1, 1), Department::Billing, TicketStatus::Open);
    insert(&store, org(1), [t.clone()]).await?;
    let mut tx = store.begin(org(1)).await?;
    let mut other = t.clone();
    other.subject = "Changed".into();
    let r = tx.insert_ticket(other).await;
    crate::conformance_check!(
        r == Err(StoreError::duplicate("ticket")),
        "a second insert of one id returned {r:?}"
    );
    drop(tx);
    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_ticket(t.id).await?.map(|g| g.value);
    crate::conformance_check!(
        got == Some(t),
        "a duplicate insert changed the ticket: {got:?}"
    );
    Ok(())
}

async fn stale_update_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let t = ticket(ticket_id(1, 1), Department::Billing, TicketStatus::Open);
    insert(&store, org(1), [t.clone()]).await?;
    let mut started = t.clone();
    started.status = TicketStatus::InProgress;
    let mut tx = store.begin(org(1)).await?;
    let v = tx.update_ticket(started.clone(), Version::FIRST).await?;
    crate::conformance_check!(v == Version(2), "update returned {v:?}");
    tx.commit().await?;

    let mut tx = store.begin(org(1)).await?;
    let mut closed = t.clone();
    closed.status = TicketStatus::Closed;
    let r = tx.update_ticket(closed, Version::FIRST).await;
    crate::conformance_check!(
        matches!(r, Err(StoreError::Conflict(ConflictKind::StaleVersion))),
        "an update with a stale version returned {r:?}"
    );
    drop(tx);
    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_ticket(t.id).await?;
    crate::conformance_check!(
        got.as_ref().map(|g| (&g.value, g.version)) == Some((&started, Version(2))),
        "after a stale update the ticket is {got:?}"
    );
    Ok(())
}

async fn update_of_missing_ticket_is_not_found(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    let t = ticket(ticket_id(1, 1), Department::Billing, TicketStatus::Open);
    let r = tx.update_ticket(t, Version::FIRST).await;
    crate::conformance_check!(r == Err(StoreError::NotFound), "returned {r:?}");
    Ok(())
}

async fn dropped_transaction_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let kept = ticket(ticket_id(1, 1), Department::Billing, TicketStatus::Open);
    insert(&store, org(1), [kept.clone()]).await?;

    let dropped = ticket(ticket_id(2, 1), Department::Billing, TicketStatus::Open);
    let mut tx = store.begin(org(1)).await?;
    tx.insert_ticket(dropped.clone()).await?;
    tx.insert_ticket_message(message(message_id(1), kept.id, "hello")?)
        .await?;
    let mut moved = kept.clone();
    moved.department = Department::Technical;
    tx.update_ticket(moved, Version::FIRST).await?;
    drop(tx);

    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_ticket(dropped.id).await?;
    crate::conformance_check!(got.is_none(), "a dropped insert is visible: {got:?}");
    let msgs = tx.ticket_messages(kept.id, &PageRequest::first(10)).await?;
    crate::conformance_check!(msgs.items.is_empty(), "a dropped message is listed");
    let got = tx.get_ticket(kept.id).await?;
    crate::conformance_check!(
        got.as_ref().map(|g| (&g.value, g.version)) == Some((&kept, Version::FIRST)),
        "a dropped update changed the ticket: {got:?}"
    );
    drop(tx);
    let mut p = store.begin_provider().await?;
    let queue = p
        .staff_ticket_queue(
            &Department::ALL,
            &TicketStatus::ALL,
            &PageRequest::first(10),
        )
        .await?;
    let seen: Vec<_> = queue
        .items
        .iter()
        .map(|e| (e.ticket, e.department))
        .collect();
    crate::conformance_check!(
        seen == vec![(kept.id, Department::Billing)],
        "after a dropped transaction the staff queue shows {seen:?}"
    );
    Ok(())
}

async fn failed_transaction_dropped_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let t = ticket(ticket_id(1, 1), Department::General, TicketStatus::Open);
    let mut tx = store.begin(org(1)).await?;
    tx.insert_ticket(t.clone()).await?;
    tx.insert_ticket_message(message(message_id(1), t.id, "first")?)
        .await?;
    let r = tx
        .insert_ticket_message(message(message_id(2), ticket_id(9, 9), "orphan")?)
        .await;
    crate::conformance_check!(
        r == Err(StoreError::NotFound),
        "a message on an unknown ticket returned {r:?}"
    );
    drop(tx);
    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_ticket(t.id).await?;
    crate::conformance_check!(got.is_none(), "the failed transaction left {got:?}");
    drop(tx);
    let mut p = store.begin_provider().await?;
    let queue = p
        .staff_ticket_queue(
            &Department::ALL,
            &TicketStatus::ALL,
            &PageRequest::first(10),
        )
        .await?;
    crate::conformance_check!(
        queue.items.is_empty(),
        "the failed transaction left queue rows {:?}",
        queue.items
    );
    Ok(())
}

async fn scoped_to_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = ticket(ticket_id(1, 1), Department::Billing, TicketStatus::Open);
    let b = ticket(ticket_id(2, 2), Department::Billing, TicketStatus::Open);
    insert(&store, org(1), [a.clone()]).await?;
    insert(&store, org(2), [b.clone()]).await?;
    let mut tx = store.begin(org(1)).await?;
    tx.insert_ticket_message(message(message_id(1), a.id, "a's message")?)
        .await?;
    tx.commit().await?;

    let mut tx = store.begin(org(2)).await?;
    let listed: Vec<_> = tx
        .list_tickets(None, &PageRequest::first(50))
        .await?
        .items
        .into_iter()
        .map(|t| t.value.id)
        .collect();
    crate::conformance_check!(listed == vec![b.id], "org B lists {listed:?}");
    let got = tx.get_ticket(a.id).await?;
    crate::conformance_check!(got.is_none(), "org B reads org A's ticket: {got:?}");
    let r = tx.update_ticket(a.clone(), Version::FIRST).await;
    crate::conformance_check!(r == Err(StoreError::NotFound), "org B updates A's: {r:?}");
    let r = tx
        .insert_ticket_message(message(message_id(2), a.id, "intruder")?)
        .await;
    crate::conformance_check!(r == Err(StoreError::NotFound), "org B writes on A's: {r:?}");
    let r = tx.ticket_messages(a.id, &PageRequest::first(10)).await;
    crate::conformance_check!(
        r == Err(StoreError::NotFound),
        "org B reads A's messages: {r:?}"
    );
    drop(tx);

    let mut tx = store.begin(org(1)).await?;
    let msgs = tx.ticket_messages(a.id, &PageRequest::first(10)).await?;
    crate::conformance_check!(
        msgs.items.len() == 1,
        "org A's ticket has {} messages",
        msgs.items.len()
    );
    Ok(())
}

async fn list_newest_first_filtered_by_status(store: Arc<dyn Store>) -> Result<(), Failure> {
    let statuses = [
        TicketStatus::Open,
        TicketStatus::Resolved,
        TicketStatus::Open,
        TicketStatus::Closed,
        TicketStatus::Open,
    ];
    let tickets: Vec<_> = statuses
        .iter()
        .zip(1..)
        .map(|(s, n)| ticket(ticket_id(n, 1), Department::General, *s))
        .collect();
    insert(&store, org(1), tickets.iter().rev().cloned()).await?;

    let mut tx = store.begin(org(1)).await?;
    let all: Vec<_> = tx
        .list_tickets(None, &PageRequest::first(50))
        .await?
        .items
        .into_iter()
        .map(|t| t.value.id)
        .collect();
    let expected: Vec<_> = tickets.iter().rev().map(|t| t.id).collect();
    crate::conformance_check!(all == expected, "listed {all:?}, expected {expected:?}");
    let open = tx
        .list_tickets(Some(TicketStatus::Open), &PageRequest::first(2))
        .await?;
    let ids = walk_list(&mut *tx, Some(TicketStatus::Open), open).await?;
    let expected: Vec<_> = tickets
        .iter()
        .rev()
        .filter(|t| t.status == TicketStatus::Open)
        .map(|t| t.id)
        .collect();
    crate::conformance_check!(
        ids == expected,
        "open tickets {ids:?}, expected {expected:?}"
    );
    Ok(())
}

/// Follows the cursors of a ticket list from `first` to the end.
async fn walk_list(
    tx: &mut dyn crate::store::OrgTransaction,
    status: Option<TicketStatus>,
    first: Page<crate::version::Versioned<TicketRecord>>,
) -> Result<Vec<TicketId>, Failure> {
    let mut ids: Vec<_> = first.items.iter().map(|t| t.value.id).collect();
    let mut next = first.next;
    let mut pages = 0;
    while let Some(cursor) = next {
        pages += 1;
        crate::conformance_check!(pages < 1000, "the list does not end");
        let page = tx
            .list_tickets(status, &PageRequest::after(cursor, 2))
            .await?;
        ids.extend(page.items.iter().map(|t| t.value.id));
        next = page.next;
    }
    Ok(ids)
}

async fn list_pagination_complete_and_stable(store: Arc<dyn Store>) -> Result<(), Failure> {
    // 23 tickets 10 ms apart; between pages, tickets are inserted both newer than all and
    // between the existing ones.
    let original: Vec<_> = (0..23)
        .map(|n| {
            ticket(
                ticket_id(n * 10, 1),
                Department::Technical,
                TicketStatus::Open,
            )
        })
        .collect();
    insert(&store, org(1), original.clone()).await?;

    let mut returned = Vec::new();
    let mut cursor: Option<Cursor> = None;
    let mut extra = 0;
    loop {
        let mut tx = store.begin(org(1)).await?;
        let page = tx
            .list_tickets(
                None,
                &PageRequest {
                    after: cursor.clone(),
                    limit: 5,
                },
            )
            .await?;
        crate::conformance_check!(page.items.len() <= 5, "a page of {}", page.items.len());
        returned.extend(page.items.iter().map(|t| t.value.id));
        extra += 1;
        tx.insert_ticket(ticket(
            ticket_id(1_000 + extra, 2),
            Department::Technical,
            TicketStatus::Open,
        ))
        .await?;
        tx.insert_ticket(ticket(
            ticket_id(extra * 40 + 5, 3),
            Department::Technical,
            TicketStatus::Open,
        ))
        .await?;
        tx.commit().await?;
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
        crate::conformance_check!(extra < 100, "the list does not end");
    }
    crate::conformance_check!(
        returned.windows(2).all(|w| w[0] > w[1]),
        "the pages are not newest first: {returned:?}"
    );
    let unique: BTreeSet<_> = returned.iter().collect();
    crate::conformance_check!(unique.len() == returned.len(), "a ticket was repeated");
    for t in &original {
        crate::conformance_check!(returned.contains(&t.id), "ticket {} was lost", t.id);
    }
    Ok(())
}

async fn invalid_page_is_invalid_input(store: Arc<dyn Store>) -> Result<(), Failure> {
    let t = ticket(ticket_id(1, 1), Department::General, TicketStatus::Open);
    insert(&store, org(1), [t.clone()]).await?;
    let bad_cursor = PageRequest::after(Cursor::new("not a cursor of this store"), 5);
    let mut tx = store.begin(org(1)).await?;
    for page in [
        PageRequest::first(0),
        PageRequest::first(501),
        bad_cursor.clone(),
    ] {
        let r = tx.list_tickets(None, &page).await;
        crate::conformance_check!(invalid(&r), "list_tickets({page:?}) returned {r:?}");
        let r = tx.ticket_messages(t.id, &page).await;
        crate::conformance_check!(invalid(&r), "ticket_messages({page:?}) returned {r:?}");
    }
    let ok = tx.list_tickets(None, &PageRequest::first(500)).await;
    crate::conformance_check!(ok.is_ok(), "a limit of 500 returned {ok:?}");
    drop(tx);
    let mut p = store.begin_provider().await?;
    for page in [PageRequest::first(0), PageRequest::first(501), bad_cursor] {
        let r = p
            .staff_ticket_queue(&Department::ALL, &TicketStatus::ALL, &page)
            .await;
        crate::conformance_check!(invalid(&r), "staff_ticket_queue({page:?}) returned {r:?}");
        let r = p.resolved_tickets_due(T0, &page).await;
        crate::conformance_check!(invalid(&r), "resolved_tickets_due({page:?}) returned {r:?}");
    }
    Ok(())
}

async fn messages_insert_only_and_in_order(store: Arc<dyn Store>) -> Result<(), Failure> {
    let t = ticket(ticket_id(1, 1), Department::General, TicketStatus::Open);
    let other = ticket(ticket_id(2, 1), Department::General, TicketStatus::Open);
    insert(&store, org(1), [t.clone(), other.clone()]).await?;
    let mut tx = store.begin(org(1)).await?;
    // Written out of id order, interleaved with another ticket's messages.
    for n in (0..12).rev() {
        tx.insert_ticket_message(message(message_id(n * 10), t.id, &format!("m{n}"))?)
            .await?;
        tx.insert_ticket_message(message(message_id(n * 10 + 1), other.id, "other")?)
            .await?;
    }
    let again = tx
        .insert_ticket_message(message(message_id(0), t.id, "rewritten")?)
        .await;
    crate::conformance_check!(
        again == Err(StoreError::duplicate("ticket_message")),
        "a message id inserted twice returned {again:?}"
    );
    tx.commit().await?;

    let mut bodies = Vec::new();
    let mut cursor = None;
    let mut rounds = 0;
    loop {
        rounds += 1;
        crate::conformance_check!(rounds < 100, "the message list does not end");
        let mut tx = store.begin(org(1)).await?;
        let page = tx
            .ticket_messages(
                t.id,
                &PageRequest {
                    after: cursor,
                    limit: 5,
                },
            )
            .await?;
        for m in &page.items {
            crate::conformance_check!(m.ticket == t.id, "a message of ticket {}", m.ticket);
            bodies.push(m.message.body().to_owned());
        }
        tx.commit().await?;
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let expected: Vec<_> = (0..12).map(|n| format!("m{n}")).collect();
    crate::conformance_check!(
        bodies == expected,
        "messages listed as {bodies:?}, expected oldest first {expected:?}"
    );
    Ok(())
}

async fn staff_queue_only_asked_departments_across_orgs(
    store: Arc<dyn Store>,
) -> Result<(), Failure> {
    let mut all = Vec::new();
    for (o, salt) in [(org(1), 1), (org(2), 2)] {
        let rows: Vec<_> = Department::ALL
            .iter()
            .zip(0..)
            .flat_map(|(d, n)| {
                [
                    ticket(ticket_id(n * 10, salt), *d, TicketStatus::Open),
                    ticket(ticket_id(n * 10 + 1, salt), *d, TicketStatus::Closed),
                ]
            })
            .collect();
        insert(&store, o, rows.clone()).await?;
        let mut tx = store.begin(o).await?;
        for (r, k) in rows.iter().zip(0..) {
            let id = TicketMessageId::new(T0 + Duration::milliseconds(k), [salt; 10]);
            tx.insert_ticket_message(message(id, r.id, SECRET_BODY)?)
                .await?;
        }
        tx.commit().await?;
        all.extend(rows.into_iter().map(|r| (o, r)));
    }
    // Move one Billing ticket of org 2 to Technical: the queue follows committed changes.
    let moved = all
        .iter_mut()
        .find(|(o, r)| {
            *o == org(2) && r.department == Department::Billing && r.status == TicketStatus::Open
        })
        .ok_or_else(|| Failure("no ticket to move".into()))?;
    moved.1.department = Department::Technical;
    let mut tx = store.begin(org(2)).await?;
    tx.update_ticket(moved.1.clone(), Version::FIRST).await?;
    tx.commit().await?;

    let asked = [Department::Technical, Department::PlansAndSims];
    let open = [TicketStatus::Open, TicketStatus::InProgress];
    let mut p = store.begin_provider().await?;
    let queue = p
        .staff_ticket_queue(&asked, &open, &PageRequest::first(100))
        .await?;
    let got: BTreeSet<_> = queue
        .items
        .iter()
        .map(|e| (e.org, e.ticket, e.department, e.status))
        .collect();
    let expected: BTreeSet<_> = all
        .iter()
        .filter(|(_, r)| asked.contains(&r.department) && open.contains(&r.status))
        .map(|(o, r)| (*o, r.id, r.department, r.status))
        .collect();
    crate::conformance_check!(
        got == expected && queue.items.len() == expected.len(),
        "the queue for {asked:?} returned {got:?}, expected {expected:?}"
    );
    for e in &queue.items {
        let shown = format!("{e:?}");
        crate::conformance_check!(
            !shown.contains(SECRET_BODY) && !shown.contains("No data on SIM"),
            "a queue row carries ticket text: {shown}"
        );
    }
    let none = p
        .staff_ticket_queue(&[], &TicketStatus::ALL, &PageRequest::first(100))
        .await?;
    crate::conformance_check!(
        none.items.is_empty(),
        "no department asked gave {:?}",
        none.items
    );
    let none = p
        .staff_ticket_queue(&Department::ALL, &[], &PageRequest::first(100))
        .await?;
    crate::conformance_check!(
        none.items.is_empty(),
        "no status asked gave {:?}",
        none.items
    );
    Ok(())
}

async fn staff_queue_pagination_complete(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut original = Vec::new();
    for (o, salt) in [(org(1), 1), (org(2), 2), (org(3), 3)] {
        let rows: Vec<_> = (0..8)
            .map(|n| {
                ticket(
                    ticket_id(n * 10 + i64::from(salt), salt),
                    Department::Billing,
                    TicketStatus::Open,
                )
            })
            .collect();
        original.extend(rows.iter().map(|r| (o, r.id)));
        insert(&store, o, rows).await?;
    }
    let mut returned = Vec::new();
    let mut cursor = None;
    let mut round = 0;
    loop {
        round += 1;
        crate::conformance_check!(round < 100, "the queue does not end");
        let mut p = store.begin_provider().await?;
        let page = p
            .staff_ticket_queue(
                &[Department::Billing],
                &[TicketStatus::Open],
                &PageRequest {
                    after: cursor,
                    limit: 5,
                },
            )
            .await?;
        drop(p);
        returned.extend(page.items.iter().map(|e| (e.org, e.ticket)));
        // New tickets keep arriving while staff page through the queue.
        insert(
            &store,
            org(1),
            [ticket(
                ticket_id(500 + round, 9),
                Department::Billing,
                TicketStatus::Open,
            )],
        )
        .await?;
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    crate::conformance_check!(
        returned.windows(2).all(|w| w[0].1 < w[1].1),
        "the queue is not oldest first: {returned:?}"
    );
    for row in &original {
        let n = returned.iter().filter(|r| *r == row).count();
        crate::conformance_check!(n == 1, "queue row {row:?} returned {n} times");
    }
    Ok(())
}

async fn resolved_tickets_due_for_auto_close(store: Arc<dyn Store>) -> Result<(), Failure> {
    let cutoff = T0 + Duration::days(1);
    let resolved = |n: i64, salt: u8, at: OffsetDateTime| {
        let mut t = ticket(
            ticket_id(n, salt),
            Department::General,
            TicketStatus::Resolved,
        );
        t.resolved_at = Some(at);
        t
    };
    let a_due = resolved(1, 1, cutoff - Duration::hours(1));
    let a_edge = resolved(2, 1, cutoff);
    let a_late = resolved(3, 1, cutoff + Duration::seconds(1));
    let mut a_closed = resolved(4, 1, T0);
    a_closed.status = TicketStatus::Closed;
    let mut a_reopened = resolved(5, 1, T0);
    a_reopened.status = TicketStatus::InProgress;
    let b_due = resolved(6, 2, T0);
    insert(
        &store,
        org(1),
        [a_due.clone(), a_edge.clone(), a_late, a_closed, a_reopened],
    )
    .await?;
    insert(&store, org(2), [b_due.clone()]).await?;

    let mut p = store.begin_provider().await?;
    let mut got = Vec::new();
    let mut cursor = None;
    let mut round = 0;
    loop {
        round += 1;
        crate::conformance_check!(round < 100, "the due list does not end");
        let page = p
            .resolved_tickets_due(
                cutoff,
                &PageRequest {
                    after: cursor,
                    limit: 1,
                },
            )
            .await?;
        got.extend(page.items.iter().map(|d| (d.org, d.ticket, d.resolved_at)));
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    got.sort();
    let mut expected: Vec<_> = [(org(1), &a_due), (org(1), &a_edge), (org(2), &b_due)]
        .iter()
        .map(|(o, t)| (*o, t.id, t.resolved_at.unwrap_or(T0)))
        .collect();
    expected.sort();
    crate::conformance_check!(
        got == expected,
        "due tickets {got:?}, expected {expected:?}"
    );
    drop(p);

    // Once closed, a ticket is no longer due.
    let mut tx = store.begin(org(2)).await?;
    let mut closed = b_due.clone();
    closed.status = TicketStatus::Closed;
    tx.update_ticket(closed, Version::FIRST).await?;
    tx.commit().await?;
    let mut p = store.begin_provider().await?;
    let page = p
        .resolved_tickets_due(cutoff, &PageRequest::first(10))
        .await?;
    crate::conformance_check!(
        page.items.iter().all(|d| d.ticket != b_due.id) && page.items.len() == 2,
        "after closing, due tickets are {:?}",
        page.items
    );
    Ok(())
}
