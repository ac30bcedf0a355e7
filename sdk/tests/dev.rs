//! The development ports (DESIGN §1), each stand-in driven through its port trait.

// Test code: a surprise is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use selfcare::core::contact::{Email, Language};
use selfcare::core::ids::{MessageId, OrgId, ProvisioningId, SimId};
use selfcare::core::money::{Currency, Money};
use selfcare::core::numbers::{Iccid, Msisdn};
use selfcare::core::orders::{GatewayKey, IdempotencyKey};
use selfcare::core::payment::{CardBrand, CardToken};
use selfcare::dev::{
    DevGateway, DevHandles, DevVerifier, GatewayCalls, LedgerEntry, ManualClock, NetworkRequest,
};
use selfcare::storage::MemoryStore;
use selfcare::storage::ports::{
    CallForwardingRequest, ChargeOutcome, ChargeRequest, HumanVerifier, Network, Notifier,
    OutboundMessage, PaymentGateway, PortError, RefundOutcome, RefundRequest, SwapSimRequest,
    UsageReadRequest,
};
use selfcare::{Portal, PortalConfig, Ports};
use time::OffsetDateTime;
use time::macros::{date, datetime};

const NOW: OffsetDateTime = datetime!(2026-11-23 10:00 UTC);

fn dev() -> (Ports, DevHandles) {
    Ports::development_with(Arc::new(ManualClock::new(NOW)))
}

fn token(raw: &str) -> CardToken {
    CardToken::parse(raw).unwrap()
}

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::parse("EUR").unwrap())
}

fn order_key(n: u8) -> GatewayKey {
    let key = IdempotencyKey::parse(&format!("order-{n}")).unwrap();
    GatewayKey::order(OrgId::new(NOW, [n; 10]), &key)
}

fn charge(key: GatewayKey, card: &str, minor: i64) -> ChargeRequest {
    ChargeRequest {
        key,
        amount: eur(minor),
        card: token(card),
        merchant_initiated: false,
        description: "Order".into(),
    }
}

fn charge_id(outcome: &ChargeOutcome) -> String {
    match outcome {
        ChargeOutcome::Succeeded { charge_id } => charge_id.clone(),
        other => panic!("expected a successful charge: {other:?}"),
    }
}

fn config() -> PortalConfig {
    common::test_config()
}

#[test]
fn development_ports_are_marked_test_mode() {
    assert!(Ports::development().test_mode);
    let (ports, _) = dev();
    assert!(ports.test_mode);
    assert!(format!("{ports:?}").contains("test_mode: true"));
}

#[tokio::test]
async fn development_ports_follow_the_given_clock() {
    let (ports, _) = dev();
    assert_eq!(ports.clock.now(), NOW);
}

#[tokio::test]
async fn acc_1_portal_over_memory_store_with_development_ports_marks_customers_test_mode() {
    let store: Arc<dyn selfcare::storage::Store> = Arc::new(MemoryStore::new());
    let portal = Portal::with_store(Arc::clone(&store), Ports::development(), config()).unwrap();
    let (customer, owner) = common::business("dev@acme.example");
    let registered = portal
        .register_customer(&customer, owner, &common::ctx())
        .await
        .unwrap();
    let mut tx = store.begin(registered.org).await.unwrap();
    let record = tx.customer().await.unwrap().unwrap();
    assert!(record.value.test_mode, "a dev-port customer is test_mode");
}

#[tokio::test]
async fn pay_1_dev_gateway_verifies_the_test_tokens() {
    let (ports, _) = dev();
    let gateway: Arc<dyn PaymentGateway> = ports.gateway;
    let today = NOW.date();
    let cases = [
        ("tok_visa", CardBrand::Visa, "4242", false),
        ("tok_mastercard", CardBrand::Mastercard, "4444", false),
        ("tok_expired", CardBrand::Visa, "0069", true),
        ("tok_declined", CardBrand::Visa, "0002", false),
        ("tok_3ds", CardBrand::Visa, "3184", false),
    ];
    assert_eq!(cases.len(), DevGateway::TOKENS.len());
    for (raw, brand, last4, expired) in cases {
        let card = gateway.verify_card(&token(raw)).await.unwrap();
        assert_eq!(card.token, token(raw), "{raw}");
        assert_eq!(card.brand, brand, "{raw}");
        assert_eq!(card.last4.as_str(), last4, "{raw}");
        assert_eq!(card.expiry.is_expired(today), expired, "{raw}");
    }
    assert!(matches!(
        gateway.verify_card(&token("tok_live_123")).await,
        Err(PortError::Rejected { .. })
    ));
}

#[tokio::test]
async fn pay_1_dev_gateway_expiry_follows_the_clock() {
    let clock = ManualClock::new(NOW);
    let (ports, _) = Ports::development_with(Arc::new(clock.clone()));
    clock.set(datetime!(2031-06-01 00:00 UTC));
    let card = ports.gateway.verify_card(&token("tok_visa")).await.unwrap();
    assert!(!card.expiry.is_expired(date!(2031 - 06 - 01)));
    let expired = ports
        .gateway
        .verify_card(&token("tok_expired"))
        .await
        .unwrap();
    assert!(expired.expiry.is_expired(date!(2031 - 06 - 01)));
}

#[tokio::test]
async fn ord_5_same_key_gives_the_first_outcome_and_one_ledger_entry() {
    let (ports, handles) = dev();
    let gateway: Arc<dyn PaymentGateway> = ports.gateway;
    let first = gateway
        .charge(charge(order_key(1), "tok_visa", 1999))
        .await
        .unwrap();
    // Same key, different amount and card: still the first outcome, no second charge.
    let again = gateway
        .charge(charge(order_key(1), "tok_mastercard", 5000))
        .await
        .unwrap();
    assert_eq!(first, again);
    assert!(charge_id(&first).starts_with("ch_test_"));
    let other = gateway
        .charge(charge(order_key(2), "tok_visa", 1999))
        .await
        .unwrap();
    assert_ne!(charge_id(&first), charge_id(&other));

    let ledger = handles.gateway.ledger();
    assert_eq!(ledger.len(), 2, "{ledger:?}");
    assert_eq!(
        ledger[0],
        LedgerEntry::Charge {
            key: order_key(1),
            amount: eur(1999),
            merchant_initiated: false,
            outcome: first,
        }
    );
    assert_eq!(handles.gateway.successful_charges(&order_key(1)), 1);
    assert_eq!(handles.gateway.successful_charges(&order_key(3)), 0);
    assert_eq!(
        handles.gateway.calls(),
        GatewayCalls {
            verify_card: 0,
            charge: 3,
            refund: 0
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ord_5_concurrent_charges_with_one_key_charge_once() {
    let (ports, handles) = dev();
    let key = GatewayKey::auto_top_up(SimId::new(NOW, [9; 10]), 3);
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let gateway = Arc::clone(&ports.gateway);
            let request = ChargeRequest {
                merchant_initiated: true,
                ..charge(key.clone(), "tok_visa", 1000)
            };
            tokio::spawn(async move { gateway.charge(request).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert!(outcomes.windows(2).all(|w| w[0] == w[1]), "{outcomes:?}");
    assert_eq!(handles.gateway.successful_charges(&key), 1);
    assert_eq!(handles.gateway.ledger().len(), 1);
    assert_eq!(handles.gateway.calls().charge, 32);
}

#[tokio::test]
async fn ord_5_declined_and_expired_tokens_take_nothing() {
    let (ports, handles) = dev();
    let gateway: Arc<dyn PaymentGateway> = ports.gateway;
    // The declining card verifies: only its charges fail.
    assert!(gateway.verify_card(&token("tok_declined")).await.is_ok());
    for (n, raw, reason) in [
        (1, "tok_declined", "card_declined"),
        (2, "tok_expired", "expired_card"),
    ] {
        let outcome = gateway
            .charge(charge(order_key(n), raw, 1000))
            .await
            .unwrap();
        assert_eq!(
            outcome,
            ChargeOutcome::Declined {
                reason: reason.into()
            }
        );
        // A repeat keeps the decline, even with a good card.
        let again = gateway
            .charge(charge(order_key(n), "tok_visa", 1000))
            .await
            .unwrap();
        assert_eq!(again, outcome);
        assert_eq!(handles.gateway.successful_charges(&order_key(n)), 0);
    }
    assert!(
        !handles
            .gateway
            .ledger()
            .iter()
            .any(LedgerEntry::is_successful_charge)
    );
    assert!(matches!(
        gateway
            .charge(charge(order_key(3), "tok_unknown", 1000))
            .await,
        Err(PortError::Rejected { .. })
    ));
    assert!(matches!(
        gateway.charge(charge(order_key(4), "tok_visa", 0)).await,
        Err(PortError::Rejected { .. })
    ));
    assert_eq!(handles.gateway.ledger().len(), 2);
}

#[tokio::test]
async fn ord_5_three_d_secure_requires_action_until_completed() {
    let (ports, handles) = dev();
    let gateway: Arc<dyn PaymentGateway> = ports.gateway;
    let key = order_key(1);
    let first = gateway
        .charge(charge(key.clone(), "tok_3ds", 2500))
        .await
        .unwrap();
    let ChargeOutcome::ActionRequired(action) = &first else {
        panic!("expected 3-D Secure: {first:?}");
    };
    assert_eq!(action.kind, "three_d_secure");
    assert_eq!(
        gateway
            .charge(charge(key.clone(), "tok_3ds", 2500))
            .await
            .unwrap(),
        first
    );
    assert_eq!(handles.gateway.successful_charges(&key), 0);

    let settled = handles.gateway.complete_action(&key, true).unwrap();
    assert!(charge_id(&settled).starts_with("ch_test_"));
    // Settled once: a second completion finds nothing waiting.
    assert_eq!(handles.gateway.complete_action(&key, false), None);
    assert_eq!(
        gateway
            .charge(charge(key.clone(), "tok_3ds", 2500))
            .await
            .unwrap(),
        settled
    );
    assert_eq!(handles.gateway.successful_charges(&key), 1);
    assert_eq!(handles.gateway.ledger().len(), 1);

    // A refused authentication declines it.
    gateway
        .charge(charge(order_key(2), "tok_3ds", 2500))
        .await
        .unwrap();
    assert_eq!(
        handles.gateway.complete_action(&order_key(2), false),
        Some(ChargeOutcome::Declined {
            reason: "authentication_failed".into()
        })
    );
    assert_eq!(handles.gateway.complete_action(&order_key(9), true), None);
}

#[tokio::test]
async fn top_2_merchant_initiated_three_d_secure_charge_uses_the_mandate() {
    let (ports, _) = dev();
    let request = ChargeRequest {
        merchant_initiated: true,
        ..charge(
            GatewayKey::auto_top_up(SimId::new(NOW, [1; 10]), 1),
            "tok_3ds",
            1000,
        )
    };
    let outcome = ports.gateway.charge(request).await.unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }));
}

#[tokio::test]
async fn ord_5_refunds_are_idempotent_and_bounded_by_the_charge() {
    let (ports, handles) = dev();
    let gateway: Arc<dyn PaymentGateway> = ports.gateway;
    let charged = charge_id(
        &gateway
            .charge(charge(order_key(1), "tok_visa", 1000))
            .await
            .unwrap(),
    );
    let refund = |n: u8, minor: i64| RefundRequest {
        key: order_key(100 + n),
        charge_id: charged.clone(),
        amount: eur(minor),
    };
    let first = gateway.refund(refund(1, 600)).await.unwrap();
    assert!(
        matches!(&first, RefundOutcome::Succeeded { refund_id } if refund_id.starts_with("re_test_"))
    );
    assert_eq!(gateway.refund(refund(1, 600)).await.unwrap(), first);
    // 600 + 500 > 1000: declined; the rest (400) still goes through.
    assert_eq!(
        gateway.refund(refund(2, 500)).await.unwrap(),
        RefundOutcome::Declined {
            reason: "amount_exceeds_charge".into()
        }
    );
    assert!(matches!(
        gateway.refund(refund(3, 400)).await.unwrap(),
        RefundOutcome::Succeeded { .. }
    ));
    assert!(matches!(
        gateway
            .refund(RefundRequest {
                charge_id: "ch_nowhere".into(),
                ..refund(4, 100)
            })
            .await,
        Err(PortError::Rejected { .. })
    ));
    let ledger = handles.gateway.ledger();
    assert_eq!(ledger.len(), 4, "{ledger:?}");
    assert_eq!(
        ledger.iter().filter(|e| e.is_successful_refund()).count(),
        2
    );
    assert_eq!(handles.gateway.calls().refund, 5);
}

#[tokio::test]
async fn dev_gateway_outage_is_unavailable_and_records_nothing() {
    let (ports, handles) = dev();
    handles.gateway.set_unavailable(true);
    assert!(matches!(
        ports
            .gateway
            .charge(charge(order_key(1), "tok_visa", 1000))
            .await,
        Err(PortError::Unavailable { .. })
    ));
    assert!(handles.gateway.ledger().is_empty());
    handles.gateway.set_unavailable(false);
    let outcome = ports
        .gateway
        .charge(charge(order_key(1), "tok_visa", 1000))
        .await
        .unwrap();
    assert!(matches!(outcome, ChargeOutcome::Succeeded { .. }));
}

fn message(n: u8, to: &str) -> OutboundMessage {
    OutboundMessage {
        id: MessageId::new(NOW, [n; 10]),
        to: vec![Email::parse(to).unwrap()],
        subject: format!("Subject {n}"),
        body: "Body".into(),
        language: Language::English,
    }
}

#[tokio::test]
async fn acc_4_dev_notifier_keeps_messages_and_deduplicates_by_id() {
    let (ports, handles) = dev();
    let notifier: Arc<dyn Notifier> = ports.notifier;
    notifier
        .deliver(message(1, "ada@example.com"))
        .await
        .unwrap();
    notifier
        .deliver(message(1, "ada@example.com"))
        .await
        .unwrap();
    notifier
        .deliver(message(2, "bob@example.com"))
        .await
        .unwrap();
    assert_eq!(
        handles.notifier.messages(),
        vec![message(1, "ada@example.com"), message(2, "bob@example.com")]
    );
    assert_eq!(
        handles
            .notifier
            .messages_to(&Email::parse("ADA@example.com").unwrap()),
        vec![message(1, "ada@example.com")]
    );
    assert_eq!(handles.notifier.deliveries(), 3);
    assert_eq!(handles.notifier.take().len(), 2);
    assert!(handles.notifier.messages().is_empty());
    // Redelivery after a lost acknowledgement: still not kept twice.
    notifier
        .deliver(message(1, "ada@example.com"))
        .await
        .unwrap();
    assert!(handles.notifier.messages().is_empty());

    handles.notifier.set_unavailable(true);
    assert!(matches!(
        notifier.deliver(message(3, "ada@example.com")).await,
        Err(PortError::Unavailable { .. })
    ));
    handles.notifier.set_unavailable(false);
    notifier
        .deliver(message(3, "ada@example.com"))
        .await
        .unwrap();
    assert_eq!(
        handles.notifier.messages(),
        vec![message(3, "ada@example.com")]
    );
}

#[tokio::test]
async fn auth_5_dev_verifier_accepts_only_its_fixed_token() {
    let (ports, handles) = dev();
    let verifier: Arc<dyn HumanVerifier> = ports.verifier;
    assert!(
        verifier
            .verify(DevVerifier::PASSING_TOKEN, "203.0.113.7")
            .await
            .unwrap()
    );
    assert!(
        verifier
            .verify(DevVerifier::PASSING_TOKEN, "198.51.100.1")
            .await
            .unwrap()
    );
    for wrong in ["", "dev-captcha-OK", "dev-captcha-ok ", "bot"] {
        assert!(
            !verifier.verify(wrong, "203.0.113.7").await.unwrap(),
            "{wrong:?}"
        );
    }
    assert_eq!(handles.verifier.checks(), 6);
    handles.verifier.set_unavailable(true);
    assert!(matches!(
        verifier
            .verify(DevVerifier::PASSING_TOKEN, "203.0.113.7")
            .await,
        Err(PortError::Unavailable { .. })
    ));
}

#[tokio::test]
async fn plan_2_dev_network_acknowledges_at_once_and_records_each_request_once() {
    let (ports, handles) = dev();
    let network: Arc<dyn Network> = ports.network;
    let old = Iccid::from_payload("894900000000000001").unwrap();
    let new = Iccid::from_payload("894900000000000002").unwrap();
    let numbers = vec![Msisdn::parse("+4915112345678").unwrap()];
    let swap = SwapSimRequest {
        id: ProvisioningId::new(NOW, [1; 10]),
        numbers: numbers.clone(),
        old_sim: old.clone(),
        new_sim: new,
    };
    let ack = network.swap_sim(swap.clone()).await.unwrap();
    assert_eq!(ack.id, swap.id);
    assert_eq!(ack.reference, Some(format!("test-net-{}", swap.id)));
    // A repeated id is the same request: acknowledged again, recorded once.
    assert_eq!(network.swap_sim(swap.clone()).await.unwrap(), ack);

    let forwarding = CallForwardingRequest {
        id: ProvisioningId::new(NOW, [2; 10]),
        numbers: numbers.clone(),
        forward_to: None,
    };
    network
        .set_call_forwarding(forwarding.clone())
        .await
        .unwrap();
    let usage = UsageReadRequest {
        id: ProvisioningId::new(NOW, [3; 10]),
        sim: old.clone(),
        numbers: numbers.clone(),
    };
    network.read_usage(usage.clone()).await.unwrap();

    let requests = handles.network.requests();
    assert_eq!(
        requests,
        vec![
            NetworkRequest::SwapSim(swap.clone()),
            NetworkRequest::CallForwarding(forwarding),
            NetworkRequest::ReadUsage(usage),
        ]
    );
    assert_eq!(
        requests.iter().map(NetworkRequest::id).collect::<Vec<_>>(),
        vec![
            ProvisioningId::new(NOW, [1; 10]),
            ProvisioningId::new(NOW, [2; 10]),
            ProvisioningId::new(NOW, [3; 10]),
        ]
    );
    assert_eq!(handles.network.take().len(), 3);
    assert!(handles.network.requests().is_empty());

    // A swap onto the same SIM is refused as such.
    assert!(matches!(
        network
            .swap_sim(SwapSimRequest {
                id: ProvisioningId::new(NOW, [4; 10]),
                new_sim: old.clone(),
                ..swap
            })
            .await,
        Err(PortError::Rejected { .. })
    ));
    handles.network.set_unavailable(true);
    assert!(matches!(
        network
            .read_usage(UsageReadRequest {
                id: ProvisioningId::new(NOW, [5; 10]),
                sim: old,
                numbers,
            })
            .await,
        Err(PortError::Unavailable { .. })
    ));
    assert!(handles.network.requests().is_empty());
}
