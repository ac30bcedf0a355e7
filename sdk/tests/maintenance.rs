//! `run_maintenance` (DESIGN §3): tickets closed 14 days after resolution (TKT-1), expired
//! tokens and sessions purged (AUTH-2, AUTH-4), idempotency records kept 7 days (ORD-5).

#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use common::{PASSWORD, World, business, ctx, world};
use selfcare::core::orders::{IdempotencyKey, RequestFingerprint};
use selfcare::core::password::Password;
use selfcare::core::roles::Department;
use selfcare::core::tickets::{NewTicket, TicketStatus};
use selfcare::storage::payments::IdempotencyRecord;
use selfcare::storage::ports::Clock;

use selfcare::{Error, LoginOutcome, Session, UnauthenticatedKind};
use time::Duration;

async fn owner(w: &World) -> Session {
    let (customer, owner) = business("owner@acme.example");
    w.portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    login(w).await
}

async fn login(w: &World) -> Session {
    match w
        .portal
        .login("owner@acme.example", Password::new(PASSWORD), &ctx())
        .await
        .unwrap()
    {
        LoginOutcome::Session(s) => s,
        #[allow(unreachable_patterns)]
        _ => panic!("no second factor in these tests"),
    }
}

#[tokio::test]
async fn tkt_1_maintenance_closes_a_ticket_14_days_after_its_resolution_and_not_before() {
    let w = world();
    let s = owner(&w).await;
    let new = NewTicket::new(
        Department::Technical,
        "No data",
        "Since this morning.",
        None,
    )
    .unwrap();
    let t = s.create_ticket(&new).await.unwrap();
    let reopened = s.create_ticket(&new).await.unwrap();
    for id in [t.id, reopened.id] {
        let mut tx = w.store.begin(s.org()).await.unwrap();
        let current = tx.get_ticket(id).await.unwrap().unwrap();
        let mut ticket = current.value;
        ticket.status = TicketStatus::Resolved;
        ticket.resolved_at = Some(w.clock.now());
        tx.update_ticket(ticket, current.version).await.unwrap();
        tx.commit().await.unwrap();
    }
    // The customer answers one of them within the window: it is open again.
    w.clock.advance(Duration::days(3));
    let s = login(&w).await;
    s.reply_ticket(reopened.id, "Still broken.").await.unwrap();

    let early = w
        .portal
        .run_maintenance(w.clock.now() + Duration::days(11) - Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(early.tickets_closed, 0);
    w.clock.advance(Duration::days(11));
    let due = w.portal.run_maintenance(w.clock.now()).await.unwrap();
    assert_eq!(due.tickets_closed, 1);
    let s = login(&w).await;
    assert_eq!(
        s.ticket(t.id).await.unwrap().ticket.status,
        TicketStatus::Closed
    );
    assert_eq!(
        s.ticket(reopened.id).await.unwrap().ticket.status,
        TicketStatus::InProgress
    );
    // Nothing is due twice.
    let again = w.portal.run_maintenance(w.clock.now()).await.unwrap();
    assert_eq!(again.tickets_closed, 0);
    let log = s
        .audit_log(selfcare::storage::PageRequest::first(100))
        .await
        .unwrap();
    let closes = log
        .items
        .iter()
        .filter(|e| e.event.event.to_string() == "ticket_closed")
        .count();
    assert_eq!(closes, 1);
}

#[tokio::test]
async fn auth_4_maintenance_purges_ended_sessions_and_only_those() {
    let w = world();
    let old = owner(&w).await;
    w.clock.advance(Duration::minutes(25));
    let fresh = match w
        .portal
        .login("owner@acme.example", Password::new(PASSWORD), &ctx())
        .await
        .unwrap()
    {
        LoginOutcome::Session(s) => s,
        #[allow(unreachable_patterns)]
        _ => panic!(),
    };
    // 31 minutes after the first login its idle time is over; the second is 6 minutes old.
    w.clock.advance(Duration::minutes(6));
    let report = w.portal.run_maintenance(w.clock.now()).await.unwrap();
    assert_eq!(report.sessions_purged, 1);
    assert_eq!(
        old.me().await.unwrap_err(),
        Error::Unauthenticated {
            kind: UnauthenticatedKind::SessionExpired
        }
    );
    assert!(fresh.me().await.is_ok());
}

#[tokio::test]
async fn auth_2_maintenance_purges_expired_reset_tokens() {
    let w = world();
    let _ = owner(&w).await;
    w.portal
        .request_password_reset("owner@acme.example", &ctx())
        .await
        .unwrap();
    let fresh = w.portal.run_maintenance(w.clock.now()).await.unwrap();
    assert_eq!(fresh.tokens_purged, 0);
    w.clock.advance(Duration::minutes(31));
    let later = w.portal.run_maintenance(w.clock.now()).await.unwrap();
    assert_eq!(later.tokens_purged, 1);
}

#[tokio::test]
async fn ord_5_idempotency_records_are_kept_seven_days() {
    let w = world();
    let s = owner(&w).await;
    let now = w.clock.now();
    let mut tx = w.store.begin(s.org()).await.unwrap();
    for (key, age) in [
        ("old", Duration::days(7) + Duration::seconds(1)),
        ("young", Duration::days(6)),
    ] {
        tx.insert_idempotency_record(IdempotencyRecord {
            key: IdempotencyKey::parse(key).unwrap(),
            fingerprint: RequestFingerprint::of(&key).unwrap(),
            result: b"{}".to_vec(),
            created_at: now - age,
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    let report = w.portal.run_maintenance(now).await.unwrap();
    assert_eq!(report.idempotency_records_purged, 1);
    let mut tx = w.store.begin(s.org()).await.unwrap();
    assert!(
        tx.idempotency_record(&IdempotencyKey::parse("old").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tx.idempotency_record(&IdempotencyKey::parse("young").unwrap())
            .await
            .unwrap()
            .is_some()
    );
}
