//! Delivery of the outbox (ACC-4, DESIGN §3): at least once, leased, backoff, dead letters.

#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{Unreachable, business, ctx};
use selfcare::core::contact::Language;
use selfcare::notifications::DispatchReport;
use selfcare::storage::page::PageRequest;
use selfcare::storage::ports::{Clock, ManualClock, Notifier, OutboundMessage, PortError};
use selfcare::storage::{MemoryStore, Store};
use selfcare::{Portal, Ports};
use time::Duration;
use time::macros::datetime;

/// A notifier that answers from a script (then succeeds) and records what it accepted.
#[derive(Default)]
struct Scripted {
    script: Mutex<Vec<Result<(), PortError>>>,
    accepted: Mutex<Vec<OutboundMessage>>,
    calls: Mutex<u32>,
}

#[async_trait]
impl Notifier for Scripted {
    async fn deliver(&self, message: OutboundMessage) -> Result<(), PortError> {
        *self.calls.lock().unwrap() += 1;
        let next = {
            let mut script = self.script.lock().unwrap();
            if script.is_empty() {
                Ok(())
            } else {
                script.remove(0)
            }
        };
        if next.is_ok() {
            self.accepted.lock().unwrap().push(message);
        }
        next
    }
}

struct Setup {
    portal: Portal,
    clock: ManualClock,
    store: Arc<dyn Store>,
    notifier: Arc<Scripted>,
}

async fn setup(script: Vec<Result<(), PortError>>) -> Setup {
    let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let notifier = Arc::new(Scripted {
        script: Mutex::new(script),
        ..Scripted::default()
    });
    let ports = Ports::new(
        Arc::new(Unreachable),
        Arc::clone(&notifier) as Arc<dyn Notifier>,
        Arc::new(Unreachable),
        Arc::new(Unreachable),
        Arc::new(clock.clone()),
    );
    let config = common::test_config();
    let portal = Portal::with_store(Arc::clone(&store), ports, config).unwrap();
    // A business customer whose language is German, and one message to its Owner.
    let (customer, owner) = business("owner@acme.example");
    portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    portal
        .request_password_reset("owner@acme.example", &ctx())
        .await
        .unwrap();
    Setup {
        portal,
        clock,
        store,
        notifier,
    }
}

async fn dead_letters(store: &dyn Store) -> usize {
    let mut tx = store.begin_provider().await.unwrap();
    let page = tx
        .outbox_dead_letters(PageRequest::first(100))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    page.items.len()
}

#[tokio::test]
async fn acc_4_dispatch_delivers_each_message_once_in_the_customers_language() {
    let s = setup(Vec::new()).await;
    let first = s.portal.dispatch_notifications().await.unwrap();
    assert!(first.delivered >= 1, "{first:?}");
    assert_eq!((first.retrying, first.dead), (0, 0));
    let accepted = s.notifier.accepted.lock().unwrap().clone();
    assert_eq!(accepted.len() as u32, first.delivered);
    assert!(
        accepted.iter().all(|m| m.language == Language::German),
        "{accepted:?}"
    );
    // Nothing is delivered twice, also after every lease would have ended.
    s.clock.advance(Duration::hours(1));
    let second = s.portal.dispatch_notifications().await.unwrap();
    assert_eq!(second, DispatchReport::default());
    assert_eq!(*s.notifier.calls.lock().unwrap(), first.delivered);
}

#[tokio::test]
async fn acc_4_a_failing_notifier_is_retried_with_doubling_waits_then_dead_lettered() {
    let unavailable = || {
        Err(PortError::Unavailable {
            reason: "smtp down".into(),
        })
    };
    let s = setup((0..50).map(|_| unavailable()).collect()).await;
    let messages = s.portal.dispatch_notifications().await.unwrap().retrying;
    assert!(messages >= 1);
    // Not due again before the first wait (30 s) is over.
    s.clock.advance(Duration::seconds(29));
    assert_eq!(
        s.portal.dispatch_notifications().await.unwrap(),
        DispatchReport::default()
    );
    let mut waits = Vec::new();
    let mut wait = Duration::seconds(1);
    let mut dead = 0;
    // Attempts 2..=8, each after the doubled wait; the 8th gives up.
    for _ in 2..=8 {
        s.clock.advance(wait);
        let r = s.portal.dispatch_notifications().await.unwrap();
        assert_eq!(r.delivered, 0);
        dead += r.dead;
        waits.push(wait);
        wait = if waits.len() == 1 {
            Duration::seconds(60)
        } else {
            wait * 2
        };
    }
    assert_eq!(dead, messages);
    assert_eq!(dead_letters(s.store.as_ref()).await as u32, messages);
    // A dead letter is never tried again.
    let calls = *s.notifier.calls.lock().unwrap();
    s.clock.advance(Duration::days(2));
    assert_eq!(
        s.portal.dispatch_notifications().await.unwrap(),
        DispatchReport::default()
    );
    assert_eq!(*s.notifier.calls.lock().unwrap(), calls);
    assert_eq!(calls, messages * 8);
}

#[tokio::test]
async fn acc_4_a_message_the_notifier_rejects_is_a_dead_letter_at_once() {
    let s = setup(vec![Err(PortError::Rejected {
        reason: "no such mailbox".into(),
    })])
    .await;
    let r = s.portal.dispatch_notifications().await.unwrap();
    assert_eq!(r.dead, 1);
    assert_eq!(dead_letters(s.store.as_ref()).await, 1);
}

/// A dispatcher that leased messages and died: once the lease ends they are delivered.
#[tokio::test]
async fn acc_4_a_lease_left_by_a_dead_dispatcher_runs_out_and_the_message_goes_out() {
    let s = setup(Vec::new()).await;
    let now = s.clock.now();
    let mut tx = s.store.begin_provider().await.unwrap();
    let stolen = tx
        .lease_due_messages(now, Duration::minutes(5), 100)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(!stolen.is_empty());
    assert_eq!(
        s.portal.dispatch_notifications().await.unwrap(),
        DispatchReport::default()
    );
    s.clock.advance(Duration::minutes(5));
    let r = s.portal.dispatch_notifications().await.unwrap();
    assert_eq!(r.delivered as usize, stolen.len());
}
