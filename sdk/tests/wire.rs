//! The wire (DESIGN §4): every operation's request and response pinned by a golden file under
//! `tests/wire/`, written by a scenario that reaches every operation through `RemotePortal`
//! over an in-process transport (the same `Portal::serve_request` the reference service runs),
//! on a fixed clock with seeded randomness, so the bytes are the same on every run.
//!
//! `SELFCARE_BLESS_WIRE=1 cargo test -p selfcare --test wire` rewrites the files; review the
//! diff: a changed golden file is a change of the wire format.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use secrecy::ExposeSecret;
use selfcare::audit::{AuditChainOf, ChainVerification};
use selfcare::checkout::{Payment, PlaceOrder, TopUpTarget};
use selfcare::core::ReasonCode;
use selfcare::core::address::{AddressInput, AddressKind, AddressUsage};
use selfcare::core::catalogue::Sku;
use selfcare::core::customer::{
    AdditionalEmail, CustomerUpdate, EmailCategory, NewCustomer, NewCustomerKind,
};
use selfcare::core::numbers::Iccid;
use selfcare::core::orders::{DocumentKind, OrderStatus, ShipmentStatus};
use selfcare::core::password::Password;
use selfcare::core::payment::AutoTopUpTarget;
use selfcare::core::plans::VoicemailLanguage;
use selfcare::core::policy::{Action, StaffActor};
use selfcare::core::quota::UsageRecord;
use selfcare::core::roles::{Department, Role, StaffRole};
use selfcare::core::tickets::{NewTicket, TicketEvent};
use selfcare::core::totp::TotpSecret;
use selfcare::dev::{DevHandles, DevVerifier, ManualClock};
use selfcare::permissions::Target;
use selfcare::plans::ProvisioningOutcome;
use selfcare::profile::ProfileChange;
use selfcare::remote::{LocalTransport, RemoteLoginOutcome, RemotePortal, RemoteSession};
use selfcare::staff::{
    DocumentUpload, InvoiceUpload, NewShipment, OwnerChange, RefundInput, SimRow,
};
use selfcare::storage::ports::{
    Clock, SeededRandomness, Transport, TransportError, TransportRequest, TransportResponse,
};
use selfcare::storage::sims::SimFilter;
use selfcare::storage::{MemoryStore, PageRequest};
use selfcare::users::UserUpdate;
use selfcare::wire::{Credentials, Operation, WireError};
use selfcare::{Error, NewOwner, Portal, Ports, RequestContext};
use serde_json::Value;
use time::Duration;
use time::macros::datetime;

const ADA: &str = "ada@nordlicht-iot.example";
const DANA: &str = "dana.levi@example.com";
const BEN: &str = "ben@nordlicht-iot.example";
const PASSWORD: &str = "violet submarines hum under lanterns";
const NEW_PASSWORD: &str = "seven copper owls guard the old mill";
const FULFIL: &str = "staff-token-fulfilment";
const BILLING: &str = "staff-token-billing";
const SUPPORT: &str = "staff-token-support";
const ADMIN: &str = "staff-token-admin";
const NETWORK: &str = "network-token";

/// One request and its answer as they crossed the transport.
#[derive(Debug, Clone, PartialEq)]
struct Exchange {
    operation: String,
    request: Vec<u8>,
    status: u16,
    response: Vec<u8>,
}

/// A transport that records every exchange of the [`LocalTransport`] it wraps.
struct Recorder {
    inner: LocalTransport,
    log: Mutex<Vec<Exchange>>,
}

#[async_trait]
impl Transport for Recorder {
    async fn send(&self, request: TransportRequest) -> Result<TransportResponse, TransportError> {
        let (operation, body) = (request.operation.clone(), request.body.clone());
        let response = self.inner.send(request).await?;
        self.log.lock().unwrap().push(Exchange {
            operation,
            request: body,
            status: response.status,
            response: response.body.clone(),
        });
        Ok(response)
    }
}

struct Service {
    portal: Portal,
    remote: RemotePortal,
    recorder: Arc<Recorder>,
    clock: ManualClock,
    dev: DevHandles,
}

fn staff(id: &str, roles: &[StaffRole], departments: &[Department]) -> StaffActor {
    StaffActor::new(id, roles.iter().copied(), departments.iter().copied()).unwrap()
}

fn service() -> Service {
    let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
    let (ports, dev) = Ports::development_with(Arc::new(clock.clone()));
    let ports = ports.with_randomness(Arc::new(SeededRandomness::new(20261123)));
    let portal =
        Portal::with_store(Arc::new(MemoryStore::new()), ports, common::test_config()).unwrap();
    let credentials = Credentials::new()
        .with_staff(FULFIL, staff("warehouse-1", &[StaffRole::Fulfillment], &[]))
        .with_staff(BILLING, staff("billing-1", &[StaffRole::Billing], &[]))
        .with_staff(
            SUPPORT,
            staff(
                "support-7",
                &[StaffRole::Support],
                &[Department::PlansAndSims],
            ),
        )
        .with_staff(
            ADMIN,
            staff(
                "supervisor-1",
                &[StaffRole::Billing, StaffRole::Supervisor],
                &[],
            ),
        )
        .with_network(NETWORK);
    let recorder = Arc::new(Recorder {
        inner: LocalTransport::new(
            portal.clone(),
            credentials,
            RequestContext::from_source("198.51.100.23"),
        ),
        log: Mutex::new(Vec::new()),
    });
    let remote = RemotePortal::new(recorder.clone());
    Service {
        portal,
        remote,
        recorder,
        clock,
        dev,
    }
}

fn iccid(serial: u64) -> Iccid {
    Iccid::from_payload(&format!("8997212{serial:012}")).unwrap()
}

fn sku(s: &str) -> Sku {
    Sku::parse(s).unwrap()
}

fn address(
    name: &str,
    company: Option<&str>,
    street: &str,
    postal: &str,
    city: &str,
    country: &str,
) -> AddressInput {
    AddressInput {
        name: name.into(),
        company: company.map(Into::into),
        street: street.into(),
        house_number: Some("12".into()),
        postal_code: postal.into(),
        city: city.into(),
        country: country.into(),
        ..AddressInput::default()
    }
}

/// The 43-character token of the newest message to `to` that has one.
fn token_sent_to(dev: &DevHandles, to: &str) -> String {
    dev.notifier
        .messages()
        .into_iter()
        .rev()
        .filter(|m| m.to.iter().any(|e| e.as_str() == to))
        .find_map(|m| {
            m.body
                .split(|c: char| {
                    c.is_whitespace() || matches!(c, '<' | '>' | '"' | '=' | '/' | '?')
                })
                .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ',' | ')' | '(')))
                .find(|w| {
                    w.len() == 43
                        && w.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
                })
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no link in a message to {to}"))
}

fn b32decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes().filter(|c| *c != b'=') {
        let index = ALPHABET.iter().position(|a| *a == c).unwrap() as u32;
        value = (value << 5) | index;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

fn totp(clock: &ManualClock, secret: &[u8]) -> String {
    TotpSecret::from_bytes(secret)
        .unwrap()
        .code_at(clock.now())
        .unwrap()
}

async fn login(s: &Service, email: &str, password: &str) -> RemoteSession {
    match s
        .remote
        .login(email, Password::new(password))
        .await
        .unwrap()
    {
        RemoteLoginOutcome::Session(session) => session,
        other => panic!("{email}: {other:?}"),
    }
}

fn refused<T: std::fmt::Debug>(result: Result<T, Error>) -> Error {
    match result {
        Err(e) => e,
        Ok(v) => panic!("expected a refusal, got {v:?}"),
    }
}

/// Runs the scenario that reaches every operation and returns what crossed the transport,
/// with the names of the exchanges that are pinned as error examples.
async fn scenario() -> (Vec<Exchange>, BTreeMap<String, usize>) {
    let s = service();
    let mut errors = BTreeMap::new();
    let mark = |errors: &mut BTreeMap<String, usize>, name: &str| {
        let last = s.recorder.log.lock().unwrap().len() - 1;
        errors.insert(name.to_owned(), last);
    };
    let fulfil = s.remote.staff(FULFIL);
    let billing = s.remote.staff(BILLING);
    let support = s.remote.staff(SUPPORT);
    let admin = s.remote.staff(ADMIN);
    let network = s.remote.network(NETWORK);

    // -- customers, login --------------------------------------------------------------------
    let nordlicht = s
        .remote
        .register_customer(
            NewCustomer {
                kind: NewCustomerKind::Business {
                    company_name: "Nordlicht IoT GmbH".into(),
                    vat_id: Some("DE129273398".into()),
                },
                main_contact: "billing@nordlicht-iot.example".into(),
                billing_country: "DE".into(),
                language: Some("de".into()),
            },
            NewOwner {
                name: "Ada Brandt".into(),
                email: ADA.into(),
                password: Password::new(PASSWORD),
            },
        )
        .await
        .unwrap();
    let dana_org = s
        .remote
        .register_customer(
            NewCustomer {
                kind: NewCustomerKind::Individual {
                    name: "Dana Levi".into(),
                },
                main_contact: DANA.into(),
                billing_country: "IL".into(),
                language: Some("he".into()),
            },
            NewOwner {
                name: "Dana Levi".into(),
                email: DANA.into(),
                password: Password::new(PASSWORD),
            },
        )
        .await
        .unwrap();
    let e = refused(
        s.remote
            .login(ADA, Password::new("not the password at all"))
            .await,
    );
    assert_eq!(e.reason(), ReasonCode::InvalidCredentials);
    mark(&mut errors, "login.invalid_credentials");
    // AUTH-3: a failed login delays the next attempt from the same source.
    s.clock.advance(Duration::seconds(5));
    let ada = login(&s, ADA, PASSWORD).await;
    let dana = login(&s, DANA, PASSWORD).await;
    let resumed = s.remote.resume(ada.token()).await.unwrap();
    assert_eq!(
        (resumed.org(), resumed.user()),
        (nordlicht.org, nordlicht.owner)
    );
    let e = refused(s.remote.resume("forged-token").await);
    assert!(matches!(e, Error::Unauthenticated { .. }), "{e:?}");
    mark(&mut errors, "resume.forged_token");
    assert_eq!(ada.me().await.unwrap().role, Role::Owner);
    let decision = ada
        .can(Action::InviteUser, Target::Organisation)
        .await
        .unwrap();
    assert!(decision.allowed(), "{decision:?}");

    // -- customer data (ACC) -------------------------------------------------------------------
    let customer = ada.customer().await.unwrap();
    let e = refused(
        ada.update_customer(
            CustomerUpdate {
                company_name: Some("Nordlicht Things GmbH".into()),
                ..CustomerUpdate::default()
            },
            None,
        )
        .await,
    );
    assert!(matches!(e, Error::ImmutableField { .. }), "{e:?}");
    mark(&mut errors, "update_customer.immutable_field");
    ada.update_customer(
        CustomerUpdate {
            main_contact: Some("accounts@nordlicht-iot.example".into()),
            ..CustomerUpdate::default()
        },
        Some(customer.version),
    )
    .await
    .unwrap();
    ada.contact_emails().await.unwrap();
    ada.set_contact_emails(vec![
        AdditionalEmail::new(
            "invoices@nordlicht-iot.example".parse().unwrap(),
            [EmailCategory::Invoice],
        )
        .unwrap(),
    ])
    .await
    .unwrap();
    ada.set_language("en").await.unwrap();
    let limits = ada.volume_limits().await.unwrap();
    ada.set_volume_limits(limits.steps.data_mb()[1], limits.steps.sms()[1])
        .await
        .unwrap();

    // -- users (USR) ---------------------------------------------------------------------------
    let ben_id = ada
        .invite_user(BEN, "Ben Okafor", Role::Admin)
        .await
        .unwrap();
    s.portal.dispatch_notifications().await.unwrap();
    s.remote
        .accept_invitation(
            token_sent_to(&s.dev, BEN),
            "Ben Okafor",
            Password::new(PASSWORD),
        )
        .await
        .unwrap();
    let ben = login(&s, BEN, PASSWORD).await;
    let e = refused(ben.set_role(nordlicht.owner, Role::User).await);
    assert!(matches!(e, Error::PermissionDenied { .. }), "{e:?}");
    mark(&mut errors, "set_role.permission_denied");
    let e = refused(ben.reset_secret(nordlicht.owner).await);
    assert_eq!(e.reason(), ReasonCode::AdminCannotSetOwnerPassword);
    mark(&mut errors, "reset_secret.admin_cannot_set_owner_password");
    ada.users(PageRequest::first(10)).await.unwrap();
    ada.update_user(
        ben_id,
        UserUpdate {
            name: Some("Ben O.".into()),
            email: Some("ben.okafor@nordlicht-iot.example".into()),
        },
    )
    .await
    .unwrap();
    s.portal.dispatch_notifications().await.unwrap();
    s.remote
        .approve_email_change(token_sent_to(&s.dev, BEN))
        .await
        .unwrap();
    let bot = ada
        .invite_user(
            "fleet-bot@nordlicht-iot.example",
            "Fleet bot",
            Role::ApiUser,
        )
        .await
        .unwrap();
    let api = ada.create_api_client(bot).await.unwrap();
    let api_session = s
        .remote
        .api_login(api.client_id.to_string(), api.secret.clone())
        .await
        .unwrap();
    api_session.orders(PageRequest::first(5)).await.unwrap();
    ada.reset_secret(bot).await.unwrap();
    ada.set_role(ben_id, Role::User).await.unwrap();
    let temp = ada
        .invite_user("temp@nordlicht-iot.example", "Temp", Role::ReadOnly)
        .await
        .unwrap();
    ada.remove_user(temp).await.unwrap();

    // -- own profile and second factor (USR-2, AUTH-2, AUTH-6) -------------------------------------
    ada.update_me(
        ProfileChange {
            name: Some("Ada Brandt-Meyer".into()),
            email: Some("ada.brandt@nordlicht-iot.example".into()),
            new_password: None,
        },
        Some(Password::new(PASSWORD)),
        Some(DevVerifier::PASSING_TOKEN.to_owned()),
    )
    .await
    .unwrap();
    s.portal.dispatch_notifications().await.unwrap();
    s.remote
        .confirm_email(token_sent_to(&s.dev, "ada.brandt@nordlicht-iot.example"))
        .await
        .unwrap();
    const ADA_NOW: &str = "ada.brandt@nordlicht-iot.example";
    let ada = login(&s, ADA_NOW, PASSWORD).await;
    ada.second_factor().await.unwrap();
    let enrolment = ada.enrol_totp(Password::new(PASSWORD)).await.unwrap();
    let secret = b32decode(enrolment.secret.expose_secret());
    ada.confirm_totp(totp(&s.clock, &secret)).await.unwrap();
    s.clock.advance(Duration::seconds(31));
    ada.regenerate_recovery_codes(totp(&s.clock, &secret))
        .await
        .unwrap();
    s.clock.advance(Duration::seconds(31));
    let challenge = match s
        .remote
        .login(ADA_NOW, Password::new(PASSWORD))
        .await
        .unwrap()
    {
        RemoteLoginOutcome::SecondFactorRequired(challenge) => challenge,
        other => panic!("{other:?}"),
    };
    let ada = s
        .remote
        .complete_second_factor(challenge.token(), totp(&s.clock, &secret))
        .await
        .unwrap();
    s.clock.advance(Duration::seconds(31));
    ada.disable_totp(Password::new(PASSWORD), totp(&s.clock, &secret))
        .await
        .unwrap();
    ada.require_second_factor(false).await.unwrap();
    s.remote
        .request_password_reset("ben.okafor@nordlicht-iot.example")
        .await
        .unwrap();
    s.portal.dispatch_notifications().await.unwrap();
    s.remote
        .reset_password(
            token_sent_to(&s.dev, "ben.okafor@nordlicht-iot.example"),
            Password::new(NEW_PASSWORD),
        )
        .await
        .unwrap();

    // -- addresses (ADDR) --------------------------------------------------------------------------
    let home = ada
        .add_address(
            address(
                "Ada Brandt",
                Some("Nordlicht IoT GmbH"),
                "Hafenstraße",
                "20457",
                "Hamburg",
                "DE",
            ),
            AddressUsage::BOTH,
            AddressUsage::BOTH,
            None,
        )
        .await
        .unwrap();
    let e = refused(
        ada.add_address(
            address(
                "Ada Brandt",
                Some("Nordlicht IoT GmbH"),
                "Rue de Rivoli",
                "75001",
                "Paris",
                "FR",
            ),
            AddressUsage::BILLING,
            AddressUsage::NONE,
            None,
        )
        .await,
    );
    assert!(
        matches!(e, Error::Validation { .. } | Error::ImmutableField { .. }),
        "{e:?}"
    );
    mark(&mut errors, "add_address.billing_country");
    let depot = ada
        .add_address(
            address(
                "Depot",
                Some("Nordlicht IoT GmbH"),
                "Kaistraße",
                "24103",
                "Kiel",
                "DE",
            ),
            AddressUsage::SHIPPING,
            AddressUsage::NONE,
            None,
        )
        .await
        .unwrap();
    ada.update_address(
        depot.id,
        address(
            "Depot Nord",
            Some("Nordlicht IoT GmbH"),
            "Kaistraße",
            "24103",
            "Kiel",
            "DE",
        ),
        AddressUsage::SHIPPING,
        None,
    )
    .await
    .unwrap();
    ada.set_default(depot.id, AddressKind::Shipping, None)
        .await
        .unwrap();
    ada.set_default(home.id, AddressKind::Shipping, None)
        .await
        .unwrap();
    ada.delete_address(depot.id, None).await.unwrap();
    ada.addresses().await.unwrap();
    dana.add_address(
        address(
            "Dana Levi",
            None,
            "Rothschild Blvd",
            "6688101",
            "Tel Aviv",
            "IL",
        ),
        AddressUsage::BOTH,
        AddressUsage::BOTH,
        None,
    )
    .await
    .unwrap();

    // -- cards (PAY) -------------------------------------------------------------------------------
    let card = ada
        .save_card(
            "tok_visa",
            "Ada Brandt",
            Some(DevVerifier::PASSING_TOKEN.to_owned()),
        )
        .await
        .unwrap();
    let e = refused(ada.save_card("tok_mastercard", "Ada Brandt", None).await);
    mark(&mut errors, "save_card.captcha");
    assert_eq!(e.reason(), ReasonCode::HumanVerificationFailed);
    let spare_card = ada
        .save_card(
            "tok_mastercard",
            "Ada Brandt",
            Some(DevVerifier::PASSING_TOKEN.to_owned()),
        )
        .await
        .unwrap();
    ada.delete_card(spare_card.id).await.unwrap();
    ada.cards().await.unwrap();
    let dana_card = dana
        .save_card(
            "tok_mastercard",
            "Dana Levi",
            Some(DevVerifier::PASSING_TOKEN.to_owned()),
        )
        .await
        .unwrap();

    // -- orders (ORD) ------------------------------------------------------------------------------
    let fleet = PlaceOrder {
        items: vec![(sku("SIM-STD"), 3)],
        billing_address: None,
        shipping_address: None,
        payment: Payment::Card(card.id),
    };
    let order = ada
        .place_order(fleet.clone(), "fleet-order-1")
        .await
        .unwrap();
    let again = ada.place_order(fleet, "fleet-order-1").await.unwrap();
    assert_eq!(order.number, again.number);
    let number = order.number.to_string();
    let spare = ada
        .place_order(
            PlaceOrder {
                items: vec![(sku("SIM-STD"), 1)],
                billing_address: None,
                shipping_address: None,
                payment: Payment::OnInvoice,
            },
            "spare-order-1",
        )
        .await
        .unwrap();
    ada.cancel_order(spare.number.to_string()).await.unwrap();
    ada.orders(PageRequest::first(10)).await.unwrap();
    ada.order(number.clone()).await.unwrap();
    let e = refused(ada.order("ZZZZ-ZZZZ").await);
    mark(&mut errors, "order.not_found");
    assert!(
        matches!(e, Error::NotFound | Error::Validation { .. }),
        "{e:?}"
    );
    let rows: Vec<SimRow> = (0..3)
        .map(|i| SimRow {
            iccid: iccid(i).as_str().to_owned(),
            imsi: Some(format!("26201{i:010}")),
            msisdn: Some(format!("+4915{i:09}")),
            label: Some(if i == 0 {
                "=cmd|' /C calc'!A0".into()
            } else {
                format!("Sensor {i:04}")
            }),
            tariff: "IOT-1GB".into(),
        })
        .collect();
    fulfil.assign_sims(number.clone(), rows).await.unwrap();
    fulfil
        .add_shipment(
            number.clone(),
            NewShipment {
                carrier: "DHL".into(),
                tracking_number: "JJD0001234567".into(),
                tracking_link: Some("https://www.dhl.de/track?id=JJD0001234567".into()),
                status: ShipmentStatus::InTransit,
            },
        )
        .await
        .unwrap();
    let e = refused(
        support
            .set_order_status(number.clone(), OrderStatus::Completed)
            .await,
    );
    mark(&mut errors, "set_order_status.staff_role");
    assert!(matches!(e, Error::PermissionDenied { .. }), "{e:?}");
    let today = s.clock.now().date();
    let invoice = billing
        .attach_invoice(
            number.clone(),
            InvoiceUpload {
                number: "INV-2026-000001".into(),
                issued_on: today,
                amounts: None,
                pdf: b"%PDF-1.7\n% the billing system's invoice\n".to_vec(),
            },
        )
        .await
        .unwrap();
    let corrected = billing
        .add_document(
            number.clone(),
            DocumentUpload {
                kind: DocumentKind::CorrectedInvoice,
                number: "INV-2026-000001-C1".into(),
                issued_on: today,
                amounts: Some(*invoice.amounts()),
                pdf: b"%PDF-1.7\n% corrected\n".to_vec(),
                note: "purchase order reference added".into(),
            },
        )
        .await
        .unwrap();
    billing
        .refund(
            number.clone(),
            RefundInput {
                amounts: *invoice.amounts(),
                reason: "the customer returned the SIMs".into(),
                credit_note_number: "CN-2026-000001".into(),
                issued_on: today,
                pdf: b"%PDF-1.7\n% credit note\n".to_vec(),
            },
            "refund-1",
        )
        .await
        .unwrap();
    fulfil
        .set_order_status(number.clone(), OrderStatus::Completed)
        .await
        .unwrap();
    ada.documents(number.clone()).await.unwrap();
    ada.invoice(number.clone()).await.unwrap();
    ada.document_bytes(number.clone(), corrected.id())
        .await
        .unwrap();
    let mut csv = Vec::new();
    assert_eq!(
        ada.export_order_sims(number.clone(), &mut csv)
            .await
            .unwrap(),
        3
    );
    s.remote.track_order(number.clone(), "20457").await.unwrap();
    let e = refused(s.remote.track_order(number.clone(), "10115").await);
    mark(&mut errors, "track_order.wrong_postal_code");
    assert_eq!(e, Error::NotFound);

    // -- SIMs (SIM) --------------------------------------------------------------------------------
    let sims = ada.sims(SimFilter::default(), None).await.unwrap();
    let sensor = sims
        .items
        .iter()
        .find(|sim| sim.iccid == iccid(1))
        .unwrap()
        .id;
    ada.set_sim_label(sensor, "Sensor Kiel").await.unwrap();
    ada.set_sim_enabled(sensor, false).await.unwrap();
    ada.set_sim_enabled(sensor, true).await.unwrap();

    // -- plans (PLAN) ------------------------------------------------------------------------------
    let travel = dana
        .place_order(
            PlaceOrder {
                items: vec![(sku("TRAVEL-30D"), 1)],
                billing_address: None,
                shipping_address: None,
                payment: Payment::Card(dana_card.id),
            },
            "travel-plan-1",
        )
        .await
        .unwrap();
    let travel_number = travel.number.to_string();
    let dana_sims = [iccid(900_001), iccid(900_002)];
    fulfil
        .assign_sims(
            travel_number.clone(),
            dana_sims
                .iter()
                .map(|i| SimRow {
                    iccid: i.as_str().to_owned(),
                    tariff: "TRAVEL".into(),
                    ..SimRow::default()
                })
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    let start = today + Duration::days(2);
    let plan = fulfil
        .activate_plan(
            travel_number.clone(),
            dana_sims[0].as_str(),
            vec!["+972541234567".to_owned()],
            start,
            start + Duration::days(29),
        )
        .await
        .unwrap();
    dana.plans().await.unwrap();
    dana.change_plan_dates(
        plan.id(),
        Some(start + Duration::days(1)),
        Some(start + Duration::days(31)),
    )
    .await
    .unwrap();
    let e = refused(
        dana.change_plan_dates(plan.id(), None, Some(start - Duration::days(1)))
            .await,
    );
    mark(&mut errors, "change_plan_dates.end_before_start");
    assert!(matches!(e, Error::Validation { .. }), "{e:?}");
    let swap = dana
        .swap_sim(plan.id(), dana_sims[1].as_str())
        .await
        .unwrap();
    let e = refused(
        s.remote
            .network("not-the-network")
            .complete_provisioning(swap.request, ProvisioningOutcome::Succeeded)
            .await,
    );
    mark(&mut errors, "complete_provisioning.credential_not_accepted");
    assert_eq!(e.reason(), ReasonCode::CredentialNotAccepted);
    network
        .complete_provisioning(swap.request, ProvisioningOutcome::Succeeded)
        .await
        .unwrap();
    if let Some(vm) = dana
        .set_voicemail(plan.id(), true, VoicemailLanguage::Hebrew)
        .await
        .unwrap()
    {
        network
            .complete_provisioning(vm.request, ProvisioningOutcome::Succeeded)
            .await
            .unwrap();
    }
    if let Some(cf) = dana
        .set_call_forwarding(plan.id(), "+972 3 555 0101")
        .await
        .unwrap()
    {
        network
            .complete_provisioning(cf.request, ProvisioningOutcome::Succeeded)
            .await
            .unwrap();
    }
    dana.reset_call_forwarding(plan.id()).await.unwrap();
    dana.send_apn_settings(plan.id()).await.unwrap();
    dana.plan_usage(plan.id()).await.unwrap();
    ada.assign_card_to_plans(card.id, std::collections::BTreeSet::new())
        .await
        .unwrap();

    // -- top-ups and usage (TOP, PAY-3) ------------------------------------------------------------
    ada.top_up(
        TopUpTarget::Sim(iccid(1)),
        sku("DATA-1GB"),
        Payment::Card(card.id),
        "topup-1",
    )
    .await
    .unwrap();
    ada.set_auto_top_up(AutoTopUpTarget::Sim(sensor), true)
        .await
        .unwrap();
    ada.auto_top_up_state(sensor).await.unwrap();
    network
        .record_usage(vec![
            UsageRecord::new("net-0001", iccid(1), s.clock.now(), 850_000_000, 0).unwrap(),
        ])
        .await
        .unwrap();

    // -- tickets (TKT) -----------------------------------------------------------------------------
    let ticket = dana
        .create_ticket(
            NewTicket::new(
                Department::PlansAndSims,
                "No data in Rome",
                "My plan shows no data since I landed.",
                None,
            )
            .unwrap(),
        )
        .await
        .unwrap();
    dana.tickets(None, PageRequest::first(10)).await.unwrap();
    support
        .tickets(Department::PlansAndSims, PageRequest::first(10))
        .await
        .unwrap();
    support
        .set_ticket_status(dana_org.org, ticket.id, TicketEvent::Start)
        .await
        .unwrap();
    support
        .reply_ticket(
            dana_org.org,
            ticket.id,
            "Roaming profile re-provisioned.",
            true,
        )
        .await
        .unwrap();
    support
        .reply_ticket(dana_org.org, ticket.id, "Please restart your phone.", false)
        .await
        .unwrap();
    support.ticket(dana_org.org, ticket.id).await.unwrap();
    let seen = dana.ticket(ticket.id).await.unwrap();
    assert!(seen.messages.iter().all(|m| !m.body.contains("Roaming")));
    dana.reply_ticket(ticket.id, "It works, thank you.")
        .await
        .unwrap();
    dana.close_ticket(ticket.id).await.unwrap();

    // -- staff administration (STF-1) --------------------------------------------------------------
    admin
        .change_legal_fields(
            nordlicht.org,
            Some("Nordlicht Things GmbH".to_owned()),
            None,
            "commercial register extract HRB 12345",
        )
        .await
        .unwrap();
    ada.update_user(
        ben_id,
        UserUpdate {
            name: None,
            email: Some("ben@nordlicht-things.example".into()),
        },
    )
    .await
    .unwrap();
    admin
        .approve_email_change(nordlicht.org, ben_id)
        .await
        .unwrap();
    admin
        .administer_owner(nordlicht.org, ben_id, OwnerChange::SetRole(Role::Owner))
        .await
        .unwrap();
    let e = refused(
        support
            .tickets(Department::Billing, PageRequest::first(10))
            .await,
    );
    mark(&mut errors, "staff_tickets.other_department");
    assert!(matches!(e, Error::PermissionDenied { .. }), "{e:?}");

    // -- the audit log (AUD-1) ---------------------------------------------------------------------
    ada.audit_log(PageRequest::first(5)).await.unwrap();
    let chain = AuditChainOf::Organisation(nordlicht.org);
    let head = admin.audit_head(chain).await.unwrap();
    let verified = admin.verify_audit_chain(chain, Some(head)).await.unwrap();
    assert!(
        matches!(verified, ChainVerification::Intact { .. }),
        "{verified:?}"
    );
    let e = refused(ada.audit_log(PageRequest::first(0)).await);
    mark(&mut errors, "audit_log.page_limit");
    assert!(matches!(e, Error::Validation { .. }), "{e:?}");

    dana.logout().await.unwrap();
    let log = s.recorder.log.lock().unwrap().clone();
    (log, errors)
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/wire")
}

fn json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

/// The golden form of one exchange: pretty JSON, stable key order (serde_json's map is sorted).
fn golden(exchange: &Exchange) -> String {
    let value = serde_json::json!({
        "operation": exchange.operation,
        "request": json(&exchange.request),
        "status": exchange.status,
        "response": json(&exchange.response),
    });
    serde_json::to_string_pretty(&value).unwrap() + "\n"
}

/// The files the scenario pins: `<operation>.json` for each operation's first successful
/// exchange, `errors/<name>.json` for the named refusals.
fn expected_files(log: &[Exchange], errors: &BTreeMap<String, usize>) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    for exchange in log.iter().filter(|e| e.status == 200) {
        files
            .entry(PathBuf::from(format!("{}.json", exchange.operation)))
            .or_insert_with(|| golden(exchange));
    }
    for (name, index) in errors {
        files.insert(
            PathBuf::from(format!("errors/{name}.json")),
            golden(&log[*index]),
        );
    }
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_matches_its_golden_file() {
    let (log, errors) = scenario().await;
    let files = expected_files(&log, &errors);
    // Every operation has a successful example.
    let missing: Vec<&str> = Operation::ALL
        .iter()
        .map(|op| op.name())
        .filter(|name| !files.contains_key(&PathBuf::from(format!("{name}.json"))))
        .collect();
    assert!(
        missing.is_empty(),
        "operations the scenario did not reach: {missing:?}"
    );
    let dir = golden_dir();
    if std::env::var_os("SELFCARE_BLESS_WIRE").is_some() {
        std::fs::create_dir_all(dir.join("errors")).unwrap();
        for (path, text) in &files {
            std::fs::write(dir.join(path), text).unwrap();
        }
        return;
    }
    let mut changed = Vec::new();
    for (path, text) in &files {
        match std::fs::read_to_string(dir.join(path)) {
            Ok(on_disk) if on_disk == *text => {}
            Ok(on_disk) => changed.push(format!(
                "{}: differs\n--- on disk\n{on_disk}\n--- now\n{text}",
                path.display()
            )),
            Err(_) => changed.push(format!("{}: missing", path.display())),
        }
    }
    assert!(
        changed.is_empty(),
        "the wire format changed (rerun with SELFCARE_BLESS_WIRE=1 if intended):\n{}",
        changed.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_requests_on_a_fixed_clock_and_seed_give_the_same_bytes() {
    let (first, _) = scenario().await;
    let (second, _) = scenario().await;
    assert_eq!(first.len(), second.len());
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a, b, "{} answered differently", a.operation);
    }
}

#[test]
fn every_golden_request_decodes_and_every_file_names_a_known_operation() {
    let dir = golden_dir();
    let mut seen = 0;
    for sub in [dir.clone(), dir.join("errors")] {
        let Ok(entries) = std::fs::read_dir(&sub) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let value: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let operation = value["operation"].as_str().unwrap();
            let body = serde_json::to_vec(&value["request"]).unwrap();
            let request = selfcare::wire::Request::decode(operation, &body)
                .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
            assert_eq!(request.operation().name(), operation);
            // The typed request writes back exactly the golden input.
            assert_eq!(
                json(&request.input_body()),
                value["request"],
                "{}",
                path.display()
            );
            seen += 1;
        }
    }
    assert!(seen >= Operation::ALL.len(), "only {seen} golden files");
}

#[test]
fn operation_names_are_the_serde_tags_and_unique() {
    let mut names = std::collections::BTreeSet::new();
    for op in Operation::ALL {
        assert_eq!(
            serde_json::to_value(op).unwrap(),
            Value::String(op.name().to_owned())
        );
        assert_eq!(Operation::from_name(op.name()), Some(*op));
        assert!(names.insert(op.name()), "{} twice", op.name());
    }
    assert_eq!(Operation::from_name("drop_table"), None);
}

#[test]
fn bad_requests_are_typed_errors_with_4xx_statuses() {
    let cases: &[(&str, &[u8], u16, ReasonCode)] = &[
        ("login", b"{not json", 400, ReasonCode::MalformedRequest),
        (
            "login",
            br#"{"email": 7, "password": "x"}"#,
            400,
            ReasonCode::MalformedRequest,
        ),
        (
            "login",
            br#"{"email":"a@b.example","password":"x","admin":true}"#,
            400,
            ReasonCode::MalformedRequest,
        ),
        (
            "login",
            br#"{"email":"a@b.example"}"#,
            400,
            ReasonCode::MalformedRequest,
        ),
        (
            "no_such_operation",
            b"{}",
            404,
            ReasonCode::UnknownOperation,
        ),
        ("", b"{}", 404, ReasonCode::UnknownOperation),
        ("track_order", b"[]", 400, ReasonCode::MalformedRequest),
        ("track_order", b"null", 400, ReasonCode::MalformedRequest),
    ];
    for (operation, body, status, reason) in cases {
        let e = selfcare::wire::Request::decode(operation, body).unwrap_err();
        assert_eq!(
            (e.status(), e.reason_code),
            (*status, *reason),
            "{operation} {}",
            String::from_utf8_lossy(body)
        );
        let back = json(&e.to_body());
        assert_eq!(back["wire_version"], 1);
        assert_eq!(back["error"]["reason_code"], reason.as_str());
    }
    // Deeply nested input: refused by the JSON reader's depth limit, not by the stack.
    let deep = format!(
        "{{\"email\":{}1{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let e = selfcare::wire::Request::decode("login", deep.as_bytes()).unwrap_err();
    assert_eq!(e.status(), 400);
    // An empty body is an empty input.
    assert!(selfcare::wire::Request::decode("me", b"").is_ok());
    assert!(selfcare::wire::Request::decode("me", b" \n").is_ok());
}

#[tokio::test]
async fn calls_without_the_right_credential_are_refused_before_anything_runs() {
    use selfcare::wire::{Credential, Request};
    let s = service();
    let ctx = RequestContext::from_source("198.51.100.23");
    let cases = [
        ("me", Credential::Anonymous, 401, ReasonCode::SessionExpired),
        (
            "me",
            Credential::session("forged"),
            401,
            ReasonCode::SessionExpired,
        ),
        (
            "me",
            Credential::Network,
            403,
            ReasonCode::CredentialNotAccepted,
        ),
        (
            "staff_tickets",
            Credential::session("forged"),
            403,
            ReasonCode::CredentialNotAccepted,
        ),
        (
            "audit_head",
            Credential::Anonymous,
            403,
            ReasonCode::CredentialNotAccepted,
        ),
        (
            "record_usage",
            Credential::Anonymous,
            403,
            ReasonCode::CredentialNotAccepted,
        ),
        (
            "record_usage",
            Credential::Staff(staff(
                "supervisor-1",
                &[StaffRole::Billing, StaffRole::Supervisor],
                &[],
            )),
            403,
            ReasonCode::CredentialNotAccepted,
        ),
    ];
    let bodies: BTreeMap<&str, &[u8]> = BTreeMap::from([
        ("me", b"{}".as_slice()),
        (
            "staff_tickets",
            br#"{"department":"billing","page":{"after":null,"limit":10}}"#,
        ),
        ("audit_head", br#"{"chain":{"type":"provider"}}"#),
        ("record_usage", br#"{"records":[]}"#),
    ]);
    for (op, credential, status, reason) in cases {
        let request = Request::decode(op, bodies[op]).unwrap();
        let e = s
            .portal
            .handle(&credential, &ctx, request)
            .await
            .unwrap_err();
        assert_eq!(
            (e.status(), e.reason_code),
            (status, reason),
            "{op} with {credential:?}"
        );
    }
}

#[test]
fn credentials_resolve_bearers_and_never_print_them() {
    use selfcare::wire::Credential;
    let credentials = Credentials::new()
        .with_staff(
            "s3cr3t-staff",
            staff(
                "supervisor-1",
                &[StaffRole::Billing, StaffRole::Supervisor],
                &[],
            ),
        )
        .with_network("s3cr3t-network");
    assert!(matches!(credentials.resolve(None), Credential::Anonymous));
    assert!(matches!(
        credentials.resolve(Some("s3cr3t-network")),
        Credential::Network
    ));
    assert!(matches!(
        credentials.resolve(Some("s3cr3t-staff")),
        Credential::Staff(_)
    ));
    assert!(matches!(
        credentials.resolve(Some("s3cr3t-staf")),
        Credential::Session(_)
    ));
    assert!(matches!(
        credentials.resolve(Some("")),
        Credential::Session(_)
    ));
    let printed = format!(
        "{credentials:?} {:?}",
        credentials.resolve(Some("a-session-token"))
    );
    assert!(
        !printed.contains("s3cr3t") && !printed.contains("a-session-token"),
        "{printed}"
    );
}

mod errors {
    use super::*;
    use proptest::prelude::*;
    use selfcare::UnauthenticatedKind;
    use selfcare::storage::ports::NextAction;

    fn reason() -> impl Strategy<Value = ReasonCode> {
        proptest::sample::select(ReasonCode::ALL.to_vec())
    }

    fn text() -> impl Strategy<Value = String> {
        "[a-z_. ]{0,24}"
    }

    /// Every error a use case can give, with the parts the wire carries.
    fn error() -> impl Strategy<Value = Error> {
        prop_oneof![
            (text(), reason(), text()).prop_map(|(field, reason, message)| Error::Validation {
                field,
                reason,
                message
            }),
            proptest::sample::select(vec![
                UnauthenticatedKind::InvalidCredentials,
                UnauthenticatedKind::SessionExpired,
                UnauthenticatedKind::SecondFactorEnrolmentRequired,
            ])
            .prop_map(|kind| Error::Unauthenticated { kind }),
            reason().prop_map(|reason| Error::PermissionDenied { reason }),
            Just(Error::NotFound),
            reason().prop_map(|reason| Error::Conflict { reason }),
            (text(), reason(), text()).prop_map(|(field, reason, message)| Error::ImmutableField {
                field,
                reason,
                message
            }),
            (0u64..100_000).prop_map(|s| Error::Throttled {
                retry_after: std::time::Duration::from_secs(s)
            }),
            text().prop_map(|reason| Error::PaymentDeclined { reason }),
            (text(), text()).prop_map(|(kind, url)| Error::PaymentActionRequired {
                next_action: NextAction { kind, url }
            }),
            Just(Error::Internal),
        ]
    }

    proptest! {
        /// An error survives the wire: the client gets the error the service had, category,
        /// reason code, field and all.
        #[test]
        fn an_error_crosses_the_wire_unchanged(e in error()) {
            let wire = WireError::from(e.clone());
            let body = wire.to_body();
            let value: Value = serde_json::from_slice(&body).unwrap();
            let back: WireError = serde_json::from_value(value["error"].clone()).unwrap();
            prop_assert_eq!(&back, &wire);
            prop_assert!((400..500).contains(&wire.status()) || wire.status() == 500 && e == Error::Internal);
            prop_assert_eq!(back.into_error(), e);
        }
    }

    #[test]
    fn unavailable_keeps_its_reason_in_the_service_and_says_retry_is_safe() {
        let e = Error::Unavailable {
            reason: "connection refused to db-7.internal:5432".into(),
        };
        let wire = WireError::from(e);
        assert_eq!(
            (wire.status(), wire.reason_code),
            (503, ReasonCode::ServiceUnavailable)
        );
        assert!(!wire.message.contains("db-7"));
        assert!(matches!(wire.into_error(), Error::Unavailable { .. }));
    }

    #[test]
    fn statuses_follow_the_categories() {
        let table = [
            (Error::NotFound, 404),
            (
                Error::Conflict {
                    reason: ReasonCode::StaleVersion,
                },
                409,
            ),
            (
                Error::PermissionDenied {
                    reason: ReasonCode::AdminCannotSetOwnerPassword,
                },
                403,
            ),
            (
                Error::Unauthenticated {
                    kind: UnauthenticatedKind::SessionExpired,
                },
                401,
            ),
            (
                Error::Throttled {
                    retry_after: std::time::Duration::from_millis(1500),
                },
                429,
            ),
            (
                Error::PaymentDeclined {
                    reason: "insufficient funds".into(),
                },
                402,
            ),
            (Error::Internal, 500),
        ];
        for (e, status) in table {
            assert_eq!(WireError::from(e.clone()).status(), status, "{e:?}");
        }
        // Partial seconds round up: retrying earlier would be refused again.
        let w = WireError::from(Error::Throttled {
            retry_after: std::time::Duration::from_millis(1500),
        });
        assert_eq!(w.retry_after, Some(2));
    }
}

#[tokio::test]
async fn a_newer_wire_version_or_a_foreign_body_is_a_clear_error() {
    use selfcare::remote::decode_reply;
    let reply = |status, body: &str| TransportResponse {
        status,
        body: body.as_bytes().to_vec(),
    };
    let e = decode_reply::<selfcare::session::Me>(
        Operation::Me,
        &reply(
            200,
            r#"{"wire_version":2,"operation":"me","output":{"new":"shape"}}"#,
        ),
    )
    .unwrap_err();
    assert_eq!(e.reason(), ReasonCode::WireVersionUnsupported);
    let e = decode_reply::<selfcare::session::Me>(
        Operation::Me,
        &reply(502, "<html>Bad Gateway</html>"),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    let e = decode_reply::<()>(
        Operation::Logout,
        &reply(200, r#"{"wire_version":1,"operation":"me","output":null}"#),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Unavailable { .. }), "{e:?}");
    let ok = decode_reply::<()>(
        Operation::Logout,
        &reply(
            200,
            r#"{"wire_version":1,"operation":"logout","output":null}"#,
        ),
    );
    assert_eq!(ok, Ok(()));
}

#[test]
fn a_unit_target_with_extra_keys_is_refused() {
    for (body, ok) in [
        (
            r#"{"action":"invite_user","target":{"type":"organisation"}}"#,
            true,
        ),
        (
            r#"{"action":"invite_user","target":{"type":"organisation","id":"01a207d9-2100-7c1b-83fa-b0c4ed227d71"}}"#,
            false,
        ),
        (
            r#"{"action":"set_user_role","target":{"type":"user","id":"01a207d9-2100-7c1b-83fa-b0c4ed227d71"}}"#,
            true,
        ),
        (
            r#"{"action":"set_user_role","target":{"type":"user","id":"01a207d9-2100-7c1b-83fa-b0c4ed227d71","x":1}}"#,
            false,
        ),
    ] {
        assert_eq!(
            selfcare::wire::Request::decode("can", body.as_bytes()).is_ok(),
            ok,
            "{body}"
        );
    }
}
