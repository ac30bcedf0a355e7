//! Customer-side support tickets through the sdk (TKT-1, TKT-2, USR-4, USR-5).

// The helpers below are test code: a surprise is a failed test.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{World, business, ctx, world};
use selfcare::core::ReasonCode;
use selfcare::core::ids::{OrgId, PlanId, TicketId, TicketMessageId};
use selfcare::core::roles::{Department, Role};
use selfcare::core::tickets::{
    NewTicket, TicketAuthor, TicketMessage, TicketReference, TicketStatus,
};
use selfcare::storage::PageRequest;
use selfcare::storage::ports::Clock;
use selfcare::storage::tickets::TicketMessageRecord;
use selfcare::tickets::TicketMessageAuthor;
use selfcare::{Error, Session};
use time::Duration;

async fn login(w: &World, email: &str) -> Session {
    common::session(&w.portal, email).await
}

/// Registers a business whose Owner is `email` and logs the Owner in.
async fn owner(w: &World, email: &str) -> Session {
    let (customer, owner) = business(email);
    w.portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    login(w, email).await
}

/// Puts a user of `role` into `org` directly through the store and logs them in.
async fn member(w: &World, org: OrgId, email: &str, role: Role) -> Session {
    common::insert_member(w.store.as_ref(), org, email, role).await;
    login(w, email).await
}

fn new_ticket(subject: &str) -> NewTicket {
    NewTicket::new(
        Department::Technical,
        subject,
        "The SIM has no data since this morning.",
        None,
    )
    .unwrap()
}

/// Sets a ticket's status (and resolution time) directly, as staff would.
async fn set_status(w: &World, org: OrgId, id: TicketId, status: TicketStatus) {
    let mut tx = w.store.begin(org).await.unwrap();
    let current = tx.get_ticket(id).await.unwrap().unwrap();
    let mut ticket = current.value;
    ticket.status = status;
    if status == TicketStatus::Resolved {
        ticket.resolved_at = Some(w.clock.now());
    }
    tx.update_ticket(ticket, current.version).await.unwrap();
    tx.commit().await.unwrap();
}

/// The ticket events of `org`'s audit chain, oldest first, with their target.
async fn ticket_audit(w: &World, org: OrgId) -> Vec<(String, String)> {
    let mut tx = w.store.begin(org).await.unwrap();
    let page = tx.audit_entries(PageRequest::first(500)).await.unwrap();
    page.items
        .into_iter()
        .filter(|e| e.event.target.as_str().starts_with("ticket:"))
        .map(|e| {
            (
                e.event.event.to_string(),
                e.event.target.as_str().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn tkt_1_required_fields_are_refused_with_the_field_named() {
    let subject = NewTicket::new(Department::General, "   ", "body", None)
        .map_err(Error::from)
        .unwrap_err();
    assert!(
        matches!(&subject, Error::Validation { field, reason: ReasonCode::Required, .. } if field == "subject"),
        "{subject:?}"
    );
    let description = NewTicket::new(Department::General, "Subject", "\n", None)
        .map_err(Error::from)
        .unwrap_err();
    assert!(
        matches!(&description, Error::Validation { field, reason: ReasonCode::Required, .. } if field == "description"),
        "{description:?}"
    );
    // A reply needs a body too, checked by the sdk before anything is stored.
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let t = ada.create_ticket(&new_ticket("No data")).await.unwrap();
    let err = ada.reply_ticket(t.id, "  ").await.unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field, reason: ReasonCode::Required, .. } if field == "body"),
        "{err:?}"
    );
    assert!(ada.ticket(t.id).await.unwrap().messages.is_empty());
}

#[tokio::test]
async fn tkt_1_create_list_newest_first_reply_and_close_by_opener() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let first = ada.create_ticket(&new_ticket("First")).await.unwrap();
    w.clock.advance(Duration::seconds(1));
    let second = ada.create_ticket(&new_ticket("Second")).await.unwrap();
    assert_eq!(first.status, TicketStatus::Open);
    assert_eq!(first.opened_by, ada.user());

    let page = ada.tickets(None, &PageRequest::first(10)).await.unwrap();
    let subjects: Vec<&str> = page.items.iter().map(|t| t.subject.as_str()).collect();
    assert_eq!(subjects, vec!["Second", "First"]);
    assert!(page.next.is_none());

    let replied = ada.reply_ticket(second.id, "Still broken.").await.unwrap();
    assert_eq!(replied.status, TicketStatus::Open);
    let view = ada.ticket(second.id).await.unwrap();
    assert_eq!(view.description, "The SIM has no data since this morning.");
    assert_eq!(view.messages.len(), 1);
    assert_eq!(view.messages[0].body, "Still broken.");
    assert_eq!(
        view.messages[0].author,
        TicketMessageAuthor::Customer(ada.user())
    );

    let closed = ada.close_ticket(second.id).await.unwrap();
    assert_eq!(closed.status, TicketStatus::Closed);
    let target = |id: TicketId| format!("ticket:{id}");
    assert_eq!(
        ticket_audit(&w, ada.org()).await,
        [
            ("ticket_created".to_owned(), target(first.id)),
            ("ticket_created".to_owned(), target(second.id)),
            ("ticket_replied".to_owned(), target(second.id)),
            ("ticket_closed".to_owned(), target(second.id)),
        ]
    );
    let open = ada
        .tickets(Some(TicketStatus::Open), &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        open.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        [first.id]
    );
    // Nothing leaves Closed: neither a reply nor a second close.
    for err in [
        ada.reply_ticket(second.id, "Hello?").await.unwrap_err(),
        ada.close_ticket(second.id).await.unwrap_err(),
    ] {
        assert_eq!(
            err,
            Error::Conflict {
                reason: ReasonCode::IllegalTicketTransition
            }
        );
    }
}

#[tokio::test]
async fn tkt_1_waiting_for_customer_goes_back_in_progress_on_a_customer_reply() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let t = ada.create_ticket(&new_ticket("APN")).await.unwrap();
    set_status(&w, ada.org(), t.id, TicketStatus::WaitingForCustomer).await;
    let replied = ada.reply_ticket(t.id, "Here is the APN.").await.unwrap();
    assert_eq!(replied.status, TicketStatus::InProgress);
}

#[tokio::test]
async fn tkt_1_a_user_who_did_not_open_it_cannot_close_it_but_an_admin_can() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let opener = member(&w, ada.org(), "olga@acme.example", Role::User).await;
    let other = member(&w, ada.org(), "bruno@acme.example", Role::User).await;
    let admin = member(&w, ada.org(), "admina@acme.example", Role::Admin).await;

    let t = opener.create_ticket(&new_ticket("Invoice")).await.unwrap();
    let err = other.close_ticket(t.id).await.unwrap_err();
    assert_eq!(
        err,
        Error::PermissionDenied {
            reason: ReasonCode::TicketOpenerOwnerOrAdminOnly
        }
    );
    assert_eq!(
        ada.ticket(t.id).await.unwrap().ticket.status,
        TicketStatus::Open
    );
    // The other user may still reply: any customer who may act on tickets replies.
    other.reply_ticket(t.id, "Same here.").await.unwrap();
    let closed = admin.close_ticket(t.id).await.unwrap();
    assert_eq!(closed.status, TicketStatus::Closed);

    // The opener closes their own ticket.
    let mine = opener.create_ticket(&new_ticket("Mine")).await.unwrap();
    assert_eq!(
        opener.close_ticket(mine.id).await.unwrap().status,
        TicketStatus::Closed
    );
}

#[tokio::test]
async fn tkt_1_reply_reopens_a_resolved_ticket_within_14_days_and_not_after() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let t = ada.create_ticket(&new_ticket("Roaming")).await.unwrap();
    set_status(&w, ada.org(), t.id, TicketStatus::Resolved).await;
    w.clock.advance(Duration::days(14) - Duration::seconds(1));
    // Sessions do not last 14 days (AUTH-4): log in again after each jump.
    let ada = login(&w, "ada@acme.example").await;
    let reopened = ada.reply_ticket(t.id, "It is back.").await.unwrap();
    assert_eq!(reopened.status, TicketStatus::InProgress);

    set_status(&w, ada.org(), t.id, TicketStatus::Resolved).await;
    w.clock.advance(Duration::days(14));
    let ada = login(&w, "ada@acme.example").await;
    let err = ada.reply_ticket(t.id, "Again.").await.unwrap_err();
    assert_eq!(
        err,
        Error::Conflict {
            reason: ReasonCode::TicketReopenWindowPassed
        }
    );
    let view = ada.ticket(t.id).await.unwrap();
    assert_eq!(view.ticket.status, TicketStatus::Resolved);
    assert_eq!(
        view.messages
            .iter()
            .map(|m| m.body.as_str())
            .collect::<Vec<_>>(),
        ["It is back."],
        "a refused reply leaves no message"
    );
}

#[tokio::test]
async fn tkt_2_read_only_user_reads_tickets_but_cannot_create_reply_or_close() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let reader = member(&w, ada.org(), "rita@acme.example", Role::ReadOnly).await;
    let t = ada.create_ticket(&new_ticket("Shipment")).await.unwrap();

    let list = reader.tickets(None, &PageRequest::first(10)).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(
        reader.ticket(t.id).await.unwrap().ticket.subject,
        "Shipment"
    );

    for err in [
        reader
            .create_ticket(&new_ticket("Mine"))
            .await
            .map(|_| ())
            .unwrap_err(),
        reader
            .reply_ticket(t.id, "Hi")
            .await
            .map(|_| ())
            .unwrap_err(),
        reader.close_ticket(t.id).await.map(|_| ()).unwrap_err(),
    ] {
        assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    }
    let list = ada.tickets(None, &PageRequest::first(10)).await.unwrap();
    assert_eq!(list.items.len(), 1, "nothing was created");
    assert_eq!(list.items[0].status, TicketStatus::Open);
}

#[tokio::test]
async fn tkt_2_internal_notes_never_appear_to_customers() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let t = ada.create_ticket(&new_ticket("Slow data")).await.unwrap();
    ada.reply_ticket(t.id, "Since Monday.").await.unwrap();
    w.clock.advance(Duration::seconds(1));
    let now = w.clock.now();
    let mut tx = w.store.begin(ada.org()).await.unwrap();
    for (n, (body, internal)) in [
        ("Customer is on the old APN", true),
        ("Please switch to the new APN.", false),
    ]
    .into_iter()
    .enumerate()
    {
        tx.insert_ticket_message(TicketMessageRecord {
            id: TicketMessageId::new(now + Duration::milliseconds(n as i64), [n as u8; 10]),
            ticket: t.id,
            message: TicketMessage::new(TicketAuthor::Staff("sso:kim".into()), body, internal)
                .unwrap(),
            at: now,
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();

    let view = ada.ticket(t.id).await.unwrap();
    let shown: Vec<(&TicketMessageAuthor, &str)> = view
        .messages
        .iter()
        .map(|m| (&m.author, m.body.as_str()))
        .collect();
    assert_eq!(
        shown,
        [
            (&TicketMessageAuthor::Customer(ada.user()), "Since Monday."),
            (
                &TicketMessageAuthor::Support,
                "Please switch to the new APN."
            ),
        ]
    );
    let shown_anywhere = format!("{view:?}");
    assert!(!shown_anywhere.contains("old APN"), "{shown_anywhere}");
    assert!(!shown_anywhere.contains("sso:kim"), "{shown_anywhere}");
}

#[tokio::test]
async fn usr_5_another_organisations_ticket_is_not_found() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let eve = owner(&w, "eve@other.example").await;
    let t = ada.create_ticket(&new_ticket("Private")).await.unwrap();

    assert_eq!(eve.ticket(t.id).await.unwrap_err(), Error::NotFound);
    assert_eq!(
        eve.reply_ticket(t.id, "Hi").await.unwrap_err(),
        Error::NotFound
    );
    assert_eq!(eve.close_ticket(t.id).await.unwrap_err(), Error::NotFound);
    let list = eve.tickets(None, &PageRequest::first(10)).await.unwrap();
    assert!(list.items.is_empty());
    assert_eq!(
        ada.ticket(t.id).await.unwrap().ticket.status,
        TicketStatus::Open
    );
}

#[tokio::test]
async fn tkt_1_reference_to_an_unknown_plan_is_not_found() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let plan = PlanId::new(w.clock.now(), [9; 10]);
    let new = NewTicket::new(
        Department::PlansAndSims,
        "Plan",
        "Which plan?",
        Some(TicketReference::Plan(plan)),
    )
    .unwrap();
    assert_eq!(ada.create_ticket(&new).await.unwrap_err(), Error::NotFound);
    let sim = TicketReference::parse_sim("8988228000000000004").unwrap();
    let new = NewTicket::new(Department::PlansAndSims, "SIM", "Which SIM?", Some(sim)).unwrap();
    assert_eq!(ada.create_ticket(&new).await.unwrap_err(), Error::NotFound);
    let list = ada.tickets(None, &PageRequest::first(10)).await.unwrap();
    assert!(list.items.is_empty());
}
