//! Orders after they are placed, through the sdk (ORD-1..ORD-4, USR-5): the list, one order,
//! cancellation, invoices and additional documents, the SIM export, and the guest lookup.

// Test code: a surprise is a failed test.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use common::{Unreachable, business, ctx};
use selfcare::core::ReasonCode;
use selfcare::core::address::{AddressInput, PostalAddress};
use selfcare::core::catalogue::{Catalogue, Seller, Sku};
use selfcare::core::contact::{Country, Email, Language};
use selfcare::core::export::SimCsvReader;
use selfcare::core::ids::{ApiClientId, CardId, DocumentId, OrderId, OrgId, SimId, UserId};
use selfcare::core::notifications::NotificationKind;
use selfcare::core::numbers::{Iccid, Imsi, Msisdn};
use selfcare::core::orders::{
    DocumentFile, DocumentKind, DocumentTrail, Invoice, InvoiceNumber, InvoiceNumbering,
    NewDocument, NewInvoice, NewOrder, Order, OrderNumber, OrderPayment, OrderStatus, OrderType,
    Shipment, ShipmentStatus, TaxCustomer, TrackingNumber, price_order,
};
use selfcare::core::quota::UsageRecordId;
use selfcare::core::roles::Role;
use selfcare::core::sims::{Sim, SimBilling, SimLabel, SimStatus};
use selfcare::core::tokens::ClientId;
use selfcare::core::tokens::TokenHash;
use selfcare::storage::orders::OrderDocument;
use selfcare::storage::ports::{Clock, ManualClock};
use selfcare::storage::{
    MemoryStore, OrgTransaction, PageRequest, ProviderTransaction, Store, StoreResult,
};
use selfcare::{Error, Portal, Ports, RequestContext, Session};
use time::OffsetDateTime;
use time::macros::{date, datetime};

// ---------------------------------------------------------------------------------------------
// A store that counts the transactions it opens, so a test can see the export read in pages.
// ---------------------------------------------------------------------------------------------

struct CountingStore {
    inner: MemoryStore,
    begins: AtomicUsize,
}

#[async_trait]
impl selfcare::storage::accounts::AccountsLookup for CountingStore {
    async fn user_by_login_key(&self, login_key: &str) -> StoreResult<Option<(OrgId, UserId)>> {
        self.inner.user_by_login_key(login_key).await
    }
    async fn api_client_by_client_id(
        &self,
        client_id: ClientId,
    ) -> StoreResult<Option<(OrgId, ApiClientId)>> {
        self.inner.api_client_by_client_id(client_id).await
    }
}

#[async_trait]
impl selfcare::storage::auth::AuthLookup for CountingStore {
    async fn session_by_hash(
        &self,
        token_hash: TokenHash,
    ) -> StoreResult<Option<(OrgId, TokenHash)>> {
        self.inner.session_by_hash(token_hash).await
    }
    async fn token_by_hash(&self, hash: TokenHash) -> StoreResult<Option<(OrgId, TokenHash)>> {
        self.inner.token_by_hash(hash).await
    }
}

#[async_trait]
impl selfcare::storage::orders::OrdersLookup for CountingStore {
    async fn order_by_number(&self, number: &OrderNumber) -> StoreResult<Option<(OrgId, OrderId)>> {
        self.inner.order_by_number(number).await
    }
}

#[async_trait]
impl selfcare::storage::sims::SimsLookup for CountingStore {
    async fn sim_by_iccid(&self, iccid: &Iccid) -> StoreResult<Option<(OrgId, SimId)>> {
        self.inner.sim_by_iccid(iccid).await
    }

    async fn provisioning_by_id(
        &self,
        id: selfcare::core::ids::ProvisioningId,
    ) -> StoreResult<Option<(OrgId, selfcare::core::ids::PlanId)>> {
        self.inner.provisioning_by_id(id).await
    }
}

#[async_trait]
impl selfcare::storage::usage::UsageLookup for CountingStore {
    async fn sim_by_usage_record(
        &self,
        record_id: &UsageRecordId,
    ) -> StoreResult<Option<(OrgId, SimId)>> {
        self.inner.sim_by_usage_record(record_id).await
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn begin(&self, org: OrgId) -> StoreResult<Box<dyn OrgTransaction>> {
        self.begins.fetch_add(1, Ordering::SeqCst);
        self.inner.begin(org).await
    }
    async fn begin_provider(&self) -> StoreResult<Box<dyn ProviderTransaction>> {
        self.inner.begin_provider().await
    }
}

struct World {
    portal: Portal,
    clock: ManualClock,
    store: Arc<CountingStore>,
}

impl World {
    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    fn begins(&self) -> usize {
        self.store.begins.load(Ordering::SeqCst)
    }
}

fn world() -> World {
    let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
    let store = Arc::new(CountingStore {
        inner: MemoryStore::new(),
        begins: AtomicUsize::new(0),
    });
    let ports = Ports::new(
        Arc::new(Unreachable),
        Arc::new(Unreachable),
        Arc::new(Unreachable),
        Arc::new(Unreachable),
        Arc::new(clock.clone()),
    );
    let config = common::test_config();
    let dyn_store: Arc<dyn Store> = store.clone();
    let portal = Portal::with_store(dyn_store, ports, config).unwrap();
    World {
        portal,
        clock,
        store,
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers: customers, orders, SIMs and documents straight through the store.
// ---------------------------------------------------------------------------------------------

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

async fn member(w: &World, org: OrgId, email: &str, role: Role) -> Session {
    common::insert_member(w.store(), org, email, role).await;
    login(w, email).await
}

fn snapshot(postal_code: &str) -> selfcare::core::address::AddressSnapshot {
    PostalAddress::parse(&AddressInput {
        name: "Grace Hopper".into(),
        company: Some("Acme IoT GmbH".into()),
        street: "Hafenstraße 1".into(),
        postal_code: postal_code.into(),
        city: "Hamburg".into(),
        country: "DE".into(),
        phone: Some("+4915123456789".into()),
        ..AddressInput::default()
    })
    .unwrap()
    .snapshot()
}

/// Puts an order numbered from `n` into `org`, placed at `at`, paid by card, with one
/// shipment; returns it.
async fn insert_order(w: &World, org: OrgId, n: u8, at: OffsetDateTime) -> Order {
    let priced = price_order(
        &Catalogue::example(),
        &Seller::example().unwrap(),
        &TaxCustomer {
            business: true,
            vat_id: None,
            billing_country: Country::parse("DE").unwrap(),
        },
        &[(Sku::parse("SIM-STD").unwrap(), 3)],
    )
    .unwrap();
    let mut order = Order::new(NewOrder {
        id: OrderId::new(at, [n; 10]),
        org,
        number: OrderNumber::new([n, 0x5a, 0x13, 0x77, n]),
        order_type: OrderType::AdditionalOrder,
        placed_at: at,
        priced,
        email: Email::parse("orders@acme.example").unwrap(),
        billing_address: snapshot("20457"),
        shipping_address: snapshot("20459"),
        payment: OrderPayment::Card {
            card: CardId::new(at, [9; 10]),
            brand: "visa".into(),
            last4: "4242".into(),
            charge_id: None,
        },
    });
    order.shipments.push(
        Shipment::new(
            selfcare::core::ids::ShipmentId::new(at, [n; 10]),
            "DHL",
            TrackingNumber::parse("JJD000390007").unwrap(),
            None,
            None,
            ShipmentStatus::InTransit,
        )
        .unwrap(),
    );
    let mut tx = w.store().begin(org).await.unwrap();
    tx.insert_order(order.clone()).await.unwrap();
    tx.commit().await.unwrap();
    order
}

async fn set_status(w: &World, org: OrgId, id: OrderId, status: OrderStatus) {
    let mut tx = w.store().begin(org).await.unwrap();
    let stored = tx.order(id).await.unwrap().unwrap();
    let mut order = stored.value;
    order.set_status(status).unwrap();
    tx.update_order(order, stored.version).await.unwrap();
    tx.commit().await.unwrap();
}

fn pdf(text: &str) -> Vec<u8> {
    format!("%PDF-1.7\n{text}\n%%EOF").into_bytes()
}

/// Attaches an invoice and one credit note to `order`; returns their ids.
async fn insert_documents(w: &World, order: &Order) -> (Invoice, DocumentId) {
    let at = w.clock.now();
    let invoice_bytes = pdf("invoice");
    let invoice = Invoice::new(NewInvoice {
        id: DocumentId::new(at, [1; 10]),
        order: order.id,
        number: InvoiceNumbering::default().format(2026, 42).unwrap(),
        issued_on: date!(2026 - 11 - 23),
        amounts: order.priced.totals,
        language: Language::German,
        file: DocumentFile::pdf(&invoice_bytes).unwrap(),
    })
    .unwrap();
    let mut trail = DocumentTrail::new(invoice.clone());
    let credit_bytes = pdf("credit note");
    let credit = trail
        .add(NewDocument {
            id: DocumentId::new(at, [2; 10]),
            kind: DocumentKind::CreditNote,
            number: InvoiceNumber::parse("CN-2026-000001").unwrap(),
            issued_on: date!(2026 - 11 - 24),
            amounts: Some(order.priced.totals),
            language: Language::German,
            file: DocumentFile::pdf(&credit_bytes).unwrap(),
            note: "Refund of the order".into(),
        })
        .unwrap()
        .clone();
    let mut tx = w.store().begin(order.org).await.unwrap();
    tx.insert_document(OrderDocument::Invoice(invoice.clone()))
        .await
        .unwrap();
    tx.put_document_bytes(invoice.id(), invoice_bytes)
        .await
        .unwrap();
    tx.insert_document(OrderDocument::Additional(credit.clone()))
        .await
        .unwrap();
    tx.put_document_bytes(credit.id(), credit_bytes)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (invoice, credit.id())
}

fn label_of(i: u32) -> String {
    match i % 5 {
        0 => format!("=HYPERLINK(\"http://x\";\"{i}\")"),
        1 => format!("'quoted {i}"),
        2 => format!("Truck, bay \"{i}\""),
        3 => String::new(),
        _ => format!("Sensor {i}"),
    }
}

/// Puts `count` SIMs into `order`, in batches of 500; every other one provisioned.
async fn insert_sims(w: &World, order: &Order, count: u32) -> Vec<Sim> {
    let at = w.clock.now();
    let sims: Vec<Sim> = (0..count)
        .map(|i| {
            let mut random = [0u8; 10];
            random[5..9].copy_from_slice(&i.to_be_bytes());
            random[9] = order.number.bits() as u8;
            let provisioned = i % 2 == 0;
            Sim {
                id: SimId::new(at, random),
                iccid: Iccid::from_payload(&format!(
                    "894910{:03}{i:010}",
                    order.number.bits() % 1000
                ))
                .unwrap(),
                imsi: provisioned.then(|| Imsi::parse(&format!("26201{i:010}")).unwrap()),
                msisdn: provisioned
                    .then(|| Msisdn::parse(&format!("+49151{:08}", 10_000_000 + i)).unwrap()),
                label: SimLabel::parse(&label_of(i)).unwrap(),
                status: SimStatus::Enabled,
                order: order.id,
                billing: SimBilling::Tariff {
                    code: "IOT-S".into(),
                },
                auto_top_up: false,
            }
        })
        .collect();
    for chunk in sims.chunks(500) {
        let mut tx = w.store().begin(order.org).await.unwrap();
        tx.insert_sims(chunk.to_vec()).await.unwrap();
        tx.commit().await.unwrap();
    }
    sims
}

fn other_source(n: u32) -> RequestContext {
    RequestContext::from_source(format!("198.51.100.{n}"))
}

// ---------------------------------------------------------------------------------------------
// ORD-1
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ord_1_orders_are_listed_newest_first_in_keyset_pages() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let t = datetime!(2026-01-01 9:00 UTC);
    let mut placed = Vec::new();
    for n in 1..=7u8 {
        placed.push(insert_order(&w, ada.org(), n, t + time::Duration::days(i64::from(n))).await);
    }
    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    let mut pages = 0;
    loop {
        let got = ada.orders(&page).await.unwrap();
        assert!(got.items.len() <= 3);
        pages += 1;
        seen.extend(got.items.into_iter().map(|o| o.number));
        match got.next {
            Some(cursor) => page = PageRequest::after(cursor, 3),
            None => break,
        }
    }
    assert!(pages >= 3, "7 orders in pages of 3");
    let newest_first: Vec<OrderNumber> = placed.iter().rev().map(|o| o.number).collect();
    assert_eq!(seen, newest_first);

    let err = ada.orders(&PageRequest::first(0)).await.unwrap_err();
    assert!(matches!(err, Error::Validation { .. }), "{err:?}");
}

#[tokio::test]
async fn ord_1_one_order_by_number_in_any_spelling() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    let typed = order.number.to_string().to_lowercase().replace('-', " ");
    let got = ada.order(&typed).await.unwrap();
    assert_eq!(got, order);
    assert_eq!(got.status(), OrderStatus::InPreparation);

    let err = ada.order("not a number").await.unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field, .. } if field == "order_number"),
        "{err:?}"
    );
    let unknown = OrderNumber::new([1, 2, 3, 4, 5]).to_string();
    assert_eq!(ada.order(&unknown).await.unwrap_err(), Error::NotFound);
}

#[tokio::test]
async fn ord_1_cancel_moves_in_preparation_to_cancelled_with_audit_and_message() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    let cancelled = ada.cancel_order(&order.number.to_string()).await.unwrap();
    assert_eq!(cancelled.status(), OrderStatus::Cancelled);
    assert_eq!(
        ada.order(&order.number.to_string()).await.unwrap().status(),
        OrderStatus::Cancelled
    );

    // Audited in the organisation's chain.
    let mut tx = w.store().begin(ada.org()).await.unwrap();
    let entries = tx
        .audit_entries(PageRequest::first(500))
        .await
        .unwrap()
        .items;
    drop(tx);
    let target = format!("order:{}", order.id);
    assert!(
        entries
            .iter()
            .any(|e| e.event.event.to_string() == "order_cancelled"
                && e.event.target.as_str() == target),
        "no order_cancelled entry for {target}"
    );

    // The customer's order contacts are told through the outbox.
    let mut provider = w.store().begin_provider().await.unwrap();
    let due = provider
        .lease_due_messages(w.clock.now(), time::Duration::minutes(1), 500)
        .await
        .unwrap();
    drop(provider);
    let mut tx = w.store().begin(ada.org()).await.unwrap();
    let mut found = false;
    for (org, id) in due {
        assert_eq!(org, ada.org());
        let message = tx.get_outbox_message(id).await.unwrap().unwrap();
        if message.kind == NotificationKind::OrderStatusChanged {
            assert!(message.subject.contains(&order.number.to_string()));
            assert_eq!(
                message.to,
                vec![Email::parse("billing@acme.example").unwrap()]
            );
            found = true;
        }
    }
    assert!(found, "no order_status_changed message");
}

#[tokio::test]
async fn ord_1_nothing_leaves_completed_or_cancelled() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let done = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    set_status(&w, ada.org(), done.id, OrderStatus::Completed).await;
    let err = ada
        .cancel_order(&done.number.to_string())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Conflict {
            reason: ReasonCode::IllegalOrderTransition
        }
    );
    assert_eq!(
        ada.order(&done.number.to_string()).await.unwrap().status(),
        OrderStatus::Completed
    );

    let gone = insert_order(&w, ada.org(), 2, w.clock.now()).await;
    ada.cancel_order(&gone.number.to_string()).await.unwrap();
    let again = ada
        .cancel_order(&gone.number.to_string())
        .await
        .unwrap_err();
    assert_eq!(
        again,
        Error::Conflict {
            reason: ReasonCode::IllegalOrderTransition
        }
    );
}

#[tokio::test]
async fn ord_1_roles_that_may_not_cancel_are_denied() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    let reader = member(&w, ada.org(), "reader@acme.example", Role::ReadOnly).await;
    // ReadOnly sees the order but cannot cancel it.
    reader.order(&order.number.to_string()).await.unwrap();
    let err = reader
        .cancel_order(&order.number.to_string())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert_eq!(
        ada.order(&order.number.to_string()).await.unwrap().status(),
        OrderStatus::InPreparation
    );
}

#[tokio::test]
async fn ord_1_another_organisations_order_is_not_found_on_every_call() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let (mut customer, mut bob_owner) = business("bob@other.example");
    customer.main_contact = "billing@other.example".into();
    bob_owner.name = "Bob Owner".into();
    w.portal
        .register_customer(&customer, bob_owner, &ctx())
        .await
        .unwrap();
    let bob = login(&w, "bob@other.example").await;

    let theirs = insert_order(&w, bob.org(), 9, w.clock.now()).await;
    insert_documents(&w, &theirs).await;
    insert_sims(&w, &theirs, 3).await;
    let number = theirs.number.to_string();
    let unknown = OrderNumber::new([7, 7, 7, 7, 7]).to_string();

    for n in [&number, &unknown] {
        assert_eq!(ada.order(n).await.unwrap_err(), Error::NotFound);
        assert_eq!(ada.invoice(n).await.unwrap_err(), Error::NotFound);
        assert_eq!(ada.documents(n).await.unwrap_err(), Error::NotFound);
        assert_eq!(
            ada.document_bytes(n, DocumentId::new(w.clock.now(), [1; 10]))
                .await
                .unwrap_err(),
            Error::NotFound
        );
        let mut out = Vec::new();
        assert_eq!(
            ada.export_order_sims(n, &mut out).await.unwrap_err(),
            Error::NotFound
        );
        assert!(out.is_empty(), "nothing of another organisation is written");
        assert_eq!(ada.cancel_order(n).await.unwrap_err(), Error::NotFound);
    }
    // Bob's order is untouched and Ada's list does not show it.
    assert_eq!(
        bob.order(&number).await.unwrap().status(),
        OrderStatus::InPreparation
    );
    assert!(
        ada.orders(&PageRequest::first(50))
            .await
            .unwrap()
            .items
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// ORD-2
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ord_2_invoice_and_documents_download_the_stored_bytes() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    let number = order.number.to_string();

    // Before billing attached anything.
    assert_eq!(ada.invoice(&number).await.unwrap_err(), Error::NotFound);
    let empty = ada.documents(&number).await.unwrap();
    assert!(empty.invoice.is_none() && empty.additional.is_empty());

    let (invoice, credit) = insert_documents(&w, &order).await;
    let docs = ada.documents(&number).await.unwrap();
    assert_eq!(docs.order_number, order.number);
    assert_eq!(docs.invoice.as_ref(), Some(&invoice));
    assert_eq!(docs.additional.len(), 1);
    let note = &docs.additional[0];
    assert_eq!(note.id(), credit);
    assert_eq!(note.kind(), DocumentKind::CreditNote);
    // Linked to the invoice, which itself is unchanged.
    assert_eq!(note.corrects(), invoice.id());

    let got = ada.invoice(&number).await.unwrap();
    assert_eq!(got.bytes, pdf("invoice"));
    assert_eq!(got.document, OrderDocument::Invoice(invoice.clone()));

    let got = ada.document_bytes(&number, credit).await.unwrap();
    assert_eq!(got.bytes, pdf("credit note"));
    assert_eq!(got.document.id(), credit);
    let got = ada.document_bytes(&number, invoice.id()).await.unwrap();
    assert_eq!(got.bytes, pdf("invoice"));

    // A document of another order of the same organisation is not this order's.
    let other = insert_order(&w, ada.org(), 2, w.clock.now()).await;
    assert_eq!(
        ada.document_bytes(&other.number.to_string(), credit)
            .await
            .unwrap_err(),
        Error::NotFound
    );
}

#[tokio::test]
async fn ord_2_roles_without_invoice_rights_are_denied() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    let (_, credit) = insert_documents(&w, &order).await;
    let number = order.number.to_string();
    let reader = member(&w, ada.org(), "reader@acme.example", Role::ReadOnly).await;
    for err in [
        reader.invoice(&number).await.unwrap_err(),
        reader.documents(&number).await.unwrap_err(),
        reader.document_bytes(&number, credit).await.unwrap_err(),
    ] {
        assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// ORD-3
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ord_3_export_streams_every_sim_and_parses_back_exactly() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    // More than two chunks of the export.
    let n = 2 * selfcare::orders::EXPORT_CHUNK + 500;
    let sims = insert_sims(&w, &order, n).await;
    // Another order's SIMs are not part of the export.
    let other = insert_order(&w, ada.org(), 2, w.clock.now()).await;
    insert_sims(&w, &other, 7).await;

    let before = w.begins();
    let mut out = Vec::new();
    let rows = ada
        .export_order_sims(&order.number.to_string(), &mut out)
        .await
        .unwrap();
    let transactions = w.begins() - before;
    assert_eq!(rows, u64::from(n));
    // One transaction for the permission check, then one per chunk (the last one short): the
    // SIMs are read in chunks, never all at once.
    assert_eq!(transactions, 1 + 3);

    let text = String::from_utf8(out.clone()).unwrap();
    assert!(text.starts_with("ICCID,Label,IMSI,MSISDN\r\n"));
    assert!(
        text.contains("'=HYPERLINK("),
        "formula labels are neutralised"
    );
    assert!(!text.contains(",=HYPERLINK("), "no formula starts a cell");

    let parsed: Vec<_> = SimCsvReader::new(out.as_slice())
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(parsed.len(), sims.len());
    for (row, sim) in parsed.iter().zip(&sims) {
        assert_eq!(row.iccid, sim.iccid);
        assert_eq!(row.label, sim.label.as_str());
        assert_eq!(row.imsi, sim.imsi);
        assert_eq!(row.msisdn, sim.msisdn);
    }
    assert!(parsed.iter().any(|r| r.label.starts_with('=')));
    assert!(parsed.iter().any(|r| r.label.starts_with('\'')));
}

#[tokio::test]
async fn ord_3_export_of_an_order_without_sims_is_the_header_only() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    let mut out = Vec::new();
    let rows = ada
        .export_order_sims(&order.number.to_string(), &mut out)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    assert_eq!(out, b"ICCID,Label,IMSI,MSISDN\r\n");
}

#[tokio::test]
async fn ord_3_export_to_a_path_writes_the_same_file() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    insert_sims(&w, &order, 1_001).await;
    let number = order.number.to_string();
    let mut in_memory = Vec::new();
    ada.export_order_sims(&number, &mut in_memory)
        .await
        .unwrap();
    let path = std::env::temp_dir().join(format!(
        "selfcare-ord3-{}-{}.csv",
        std::process::id(),
        order.id
    ));
    let rows = ada.export_order_sims_to_path(&number, &path).await.unwrap();
    let on_disk = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(rows, 1_001);
    assert_eq!(on_disk, in_memory);
}

#[tokio::test]
async fn ord_3_a_failing_writer_is_unavailable() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("disk full"))
        }
    }
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    insert_sims(&w, &order, 10).await;
    let err = ada
        .export_order_sims(&order.number.to_string(), Broken)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Unavailable { reason } if reason.contains("disk full")),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// ORD-4
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn ord_4_guest_finds_an_order_by_email_or_postal_code() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    let number = order.number.to_string();

    let by_email = w
        .portal
        .track_order(&number, "  Orders@ACME.example ", &other_source(1))
        .await
        .unwrap();
    assert_eq!(by_email.number, order.number);
    assert_eq!(by_email.status, OrderStatus::InPreparation);
    assert_eq!(by_email.items.len(), 1);
    assert_eq!(by_email.items[0].quantity, 3);
    assert_eq!(by_email.shipments.len(), 1);
    assert_eq!(by_email.shipments[0].carrier, "DHL");

    let by_code = w
        .portal
        .track_order(&number.to_lowercase(), "204 57", &other_source(2))
        .await
        .unwrap();
    assert_eq!(by_code, by_email);
}

#[tokio::test]
async fn ord_4_wrong_pair_is_the_same_not_found_as_an_unknown_number() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    let number = order.number.to_string();
    let unknown = OrderNumber::new([3, 1, 4, 1, 5]).to_string();

    let wrong_email = w
        .portal
        .track_order(&number, "someone@else.example", &other_source(1))
        .await
        .unwrap_err();
    // Past the number's throttle, so each answer is the lookup's own.
    w.clock.advance(time::Duration::minutes(1));
    let wrong_code = w
        .portal
        .track_order(&number, "99999", &other_source(2))
        .await
        .unwrap_err();
    let no_such = w
        .portal
        .track_order(&unknown, "orders@acme.example", &other_source(3))
        .await
        .unwrap_err();
    let malformed = w
        .portal
        .track_order("nonsense!", "orders@acme.example", &other_source(4))
        .await
        .unwrap_err();
    assert_eq!(wrong_email, Error::NotFound);
    assert_eq!(wrong_code, no_such);
    assert_eq!(wrong_email, no_such);
    assert_eq!(malformed, no_such);
    assert_eq!(wrong_email.to_string(), no_such.to_string());
    assert_eq!(wrong_email.reason(), no_such.reason());
}

#[tokio::test]
async fn ord_4_lookups_are_throttled_per_source_and_per_number() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    let number = order.number.to_string();

    // Per source: failures on different numbers from one source.
    let guesser = other_source(66);
    for i in 0..3u8 {
        let guess = OrderNumber::new([i, 9, 9, 9, 9]).to_string();
        let err = w
            .portal
            .track_order(&guess, "x@y.example", &guesser)
            .await
            .unwrap_err();
        if i > 0 {
            assert!(matches!(err, Error::Throttled { .. }), "{err:?}");
        } else {
            assert_eq!(err, Error::NotFound);
        }
    }
    // Even the right pair waits while the source is throttled.
    let err = w
        .portal
        .track_order(&number, "orders@acme.example", &guesser)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Throttled { .. }), "{err:?}");
    // After the wait, the right pair from that source works.
    w.clock.advance(time::Duration::seconds(2));
    w.portal
        .track_order(&number, "orders@acme.example", &guesser)
        .await
        .unwrap();

    // Per number: failures on one number from many sources.
    for n in 0..3u32 {
        let _ = w
            .portal
            .track_order(&number, "wrong@guess.example", &other_source(100 + n))
            .await;
        w.clock.advance(time::Duration::milliseconds(100));
    }
    let err = w
        .portal
        .track_order(&number, "orders@acme.example", &other_source(200))
        .await
        .unwrap_err();
    let Error::Throttled { retry_after } = err else {
        panic!("expected Throttled, got {err:?}");
    };
    assert!(retry_after > std::time::Duration::ZERO);
    w.clock.advance(time::Duration::seconds(5));
    w.portal
        .track_order(&number, "orders@acme.example", &other_source(201))
        .await
        .unwrap();
}

#[tokio::test]
async fn ord_4_guest_view_shows_no_address_payment_or_sim_numbers() {
    let w = world();
    let ada = owner(&w, "ada@acme.example").await;
    let order = insert_order(&w, ada.org(), 1, w.clock.now()).await;
    let sims = insert_sims(&w, &order, 3).await;
    let view = w
        .portal
        .track_order(&order.number.to_string(), "20457", &other_source(1))
        .await
        .unwrap();
    let json = serde_json::to_string(&view).unwrap();
    for secret in [
        "Hafenstra",
        "Hamburg",
        "20457",
        "20459",
        "Grace Hopper",
        "4242",
        "visa",
        "orders@acme.example",
        "+4915123456789",
    ] {
        assert!(!json.contains(secret), "{secret} leaked: {json}");
    }
    for sim in &sims {
        assert!(!json.contains(sim.iccid.as_str()), "ICCID leaked: {json}");
        if let Some(imsi) = &sim.imsi {
            assert!(!json.contains(imsi.as_str()), "IMSI leaked: {json}");
        }
        if let Some(msisdn) = &sim.msisdn {
            assert!(!json.contains(msisdn.digits()), "MSISDN leaked: {json}");
        }
    }
    assert!(
        json.contains("JJD000390007"),
        "the shipment is shown: {json}"
    );
}
