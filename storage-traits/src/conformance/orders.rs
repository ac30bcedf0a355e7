//! Conformance cases for orders, their documents and document bytes.

use std::collections::BTreeSet;
use std::fmt::Debug;
use std::sync::Arc;

use selfcare_core::address::{AddressInput, AddressSnapshot, PostalAddress};
use selfcare_core::catalogue::{Catalogue, Seller, Sku};
use selfcare_core::contact::{Country, Email, Language};
use selfcare_core::ids::{CardId, DocumentId, OrderId, OrgId, ShipmentId};
use selfcare_core::orders::{
    DocumentFile, DocumentKind, DocumentTrail, Invoice, InvoiceNumber, InvoiceNumbering,
    NewDocument, NewInvoice, NewOrder, Order, OrderNumber, OrderPayment, OrderStatus, OrderType,
    Shipment, ShipmentStatus, TaxCustomer, TrackingNumber, price_order,
};
use time::OffsetDateTime;
use time::macros::{date, datetime};

use crate::conformance::Failure;
use crate::conformance_check as check;
use crate::error::{StoreError, StoreResult};
use crate::orders::{OrderDocument, OrderRecord};
use crate::page::{Cursor, PageRequest};
use crate::store::{OrgTransaction, Store};
use crate::version::Version;

crate::conformance_cases! {
    "orders.insert_get_round_trip" => insert_get_round_trip,
    "orders.duplicate_id_is_conflict" => duplicate_id_is_conflict,
    "orders.number_unique_across_orgs" => number_unique_across_orgs,
    "orders.order_of_another_org_is_refused" => order_of_another_org_is_refused,
    "orders.stale_update_is_conflict" => stale_update_is_conflict,
    "orders.update_keeps_number_and_needs_the_row" => update_keeps_number_and_needs_the_row,
    "orders.dropped_transaction_leaves_nothing" => dropped_transaction_leaves_nothing,
    "orders.tenant_scoping" => tenant_scoping,
    "orders.has_orders_per_org" => has_orders_per_org,
    "orders.list_newest_first_stable_at_depth" => list_newest_first_stable_at_depth,
    "orders.invalid_page_is_invalid_input" => invalid_page_is_invalid_input,
    "orders.documents_are_insert_only" => documents_are_insert_only,
    "orders.documents_listed_per_order_oldest_first" => documents_listed_per_order_oldest_first,
    "orders.document_bytes_round_trip_once" => document_bytes_round_trip_once,
}

// ---------------------------------------------------------------------------------------------
// Fixtures, shared with the sims cases.

/// The instant every fixture starts from.
pub(super) const T0: OffsetDateTime = datetime!(2026-05-01 12:00 UTC);

/// Ten id bytes made of a tag and a counter, so fixtures never collide.
pub(super) fn bytes(tag: u8, n: u32) -> [u8; 10] {
    let [a, b, c, d] = n.to_be_bytes();
    [tag, a, b, c, d, 0x5a, 0xa5, tag, 1, 2]
}

/// An instant `n` milliseconds after [`T0`]: ids made at increasing `n` sort by `n`.
pub(super) fn at(n: u32) -> OffsetDateTime {
    T0 + time::Duration::milliseconds(i64::from(n))
}

/// The organisation numbered `n`.
pub(super) fn org(n: u8) -> OrgId {
    OrgId::new(T0, bytes(n, 0))
}

/// Unwraps an `Option` or fails the case with `what`.
pub(super) fn need<T>(value: Option<T>, what: &str) -> Result<T, Failure> {
    value.ok_or_else(|| Failure(format!("expected {what}, found none")))
}

/// Fails unless `result` is exactly the error `want`.
pub(super) fn expect_err<T: Debug>(
    result: StoreResult<T>,
    want: &StoreError,
    context: &str,
) -> Result<(), Failure> {
    match result {
        Err(e) if e == *want => Ok(()),
        other => Err(Failure(format!(
            "{context}: expected Err({want:?}), got {other:?}"
        ))),
    }
}

fn address(name: &str, postal_code: &str) -> Result<AddressSnapshot, Failure> {
    Ok(PostalAddress::parse(&AddressInput {
        name: name.into(),
        street: "Invalidenstraße".into(),
        house_number: Some("116".into()),
        postal_code: postal_code.into(),
        city: "Berlin".into(),
        country: "DE".into(),
        ..AddressInput::default()
    })?
    .snapshot())
}

/// The order `n` of the organisation [`org`]`(tag)` (id and number unique per `(tag, n)`; id
/// made `n` ms after [`T0`], so orders of one org with increasing `n` sort by `n`).
pub(super) fn order(tag: u8, n: u32) -> Result<Order, Failure> {
    let [a, b, c, d] = n.to_be_bytes();
    let priced = price_order(
        &Catalogue::example(),
        &Seller::example()?,
        &TaxCustomer {
            business: false,
            vat_id: None,
            billing_country: Country::parse("DE")?,
        },
        &[(Sku::parse("SIM-STD")?, n % 7 + 1)],
    )?;
    Ok(Order::new(NewOrder {
        id: OrderId::new(at(n), bytes(tag, n)),
        org: org(tag),
        number: OrderNumber::new([tag ^ a, b, c, d, tag]),
        order_type: OrderType::FirstOrder,
        placed_at: at(n),
        priced,
        email: Email::parse("buyer@example.com")?,
        billing_address: address("Ada Lovelace", "10115")?,
        shipping_address: address("Grace Hopper", "10119")?,
        payment: OrderPayment::Card {
            card: CardId::new(T0, bytes(tag, 7)),
            brand: "visa".into(),
            last4: "4242".into(),
            charge_id: None,
        },
    }))
}

/// Inserts `order` in its own committed transaction.
pub(super) async fn insert_order(store: &Arc<dyn Store>, order: &Order) -> Result<(), Failure> {
    let mut tx = store.begin(order.org).await?;
    tx.insert_order(order.clone()).await?;
    tx.commit().await?;
    Ok(())
}

const PDF: &[u8] = b"%PDF-1.7\n\x00\x01\xff binary \r\n body\n%%EOF";

fn invoice(order: &Order, n: u32) -> Result<Invoice, Failure> {
    Ok(Invoice::new(NewInvoice {
        id: DocumentId::new(at(n), bytes(0xd0, n)),
        order: order.id,
        number: InvoiceNumbering::default().format(2026, u64::from(n))?,
        issued_on: date!(2026 - 05 - 02),
        amounts: order.priced.totals,
        language: Language::German,
        file: DocumentFile::pdf(PDF)?,
    })?)
}

/// An order's invoice and `extra` additional documents (notes), ids increasing.
fn trail(order: &Order, n: u32, extra: u32) -> Result<Vec<OrderDocument>, Failure> {
    let invoice = invoice(order, n)?;
    let mut trail = DocumentTrail::new(invoice.clone());
    let mut documents = vec![OrderDocument::Invoice(invoice)];
    for k in 1..=extra {
        let added = trail.add(NewDocument {
            id: DocumentId::new(at(n + k), bytes(0xd1, n + k)),
            kind: DocumentKind::Other,
            number: InvoiceNumber::parse(&format!("DN-{n}-{k}"))?,
            issued_on: date!(2026 - 05 - 03),
            amounts: None,
            language: Language::English,
            file: DocumentFile::pdf(PDF)?,
            note: format!("delivery note {k}"),
        })?;
        documents.push(OrderDocument::Additional(added.clone()));
    }
    Ok(documents)
}

async fn get(tx: &mut Box<dyn OrgTransaction>, id: OrderId) -> Result<OrderRecord, Failure> {
    need(tx.order(id).await?, "the order")
}

// ---------------------------------------------------------------------------------------------
// Cases.

async fn has_orders_per_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let mut tx = store.begin(a).await?;
    check!(!tx.has_orders().await?, "a new organisation has orders");
    tx.insert_order(order(1, 1)?).await?;
    check!(
        tx.has_orders().await?,
        "an order inserted in this transaction is not seen"
    );
    drop(tx);
    let mut tx = store.begin(a).await?;
    check!(
        !tx.has_orders().await?,
        "a rolled back order is still counted"
    );
    tx.insert_order(order(1, 2)?).await?;
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    check!(tx.has_orders().await?, "a committed order is not seen");
    drop(tx);
    let mut tx = store.begin(b).await?;
    check!(
        !tx.has_orders().await?,
        "another organisation's order is counted"
    );
    Ok(())
}

async fn insert_get_round_trip(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let o = order(1, 1)?;
    let mut tx = store.begin(a).await?;
    let v = tx.insert_order(o.clone()).await?;
    check!(v == Version::FIRST, "insert returned {v:?}, not version 1");
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let got = get(&mut tx, o.id).await?;
    check!(
        got.value == o,
        "the order read back differs: {:?}",
        got.value
    );
    check!(got.version == Version::FIRST, "version {:?}", got.version);
    check!(
        tx.order(order(1, 2)?.id).await?.is_none(),
        "an unknown id returned an order"
    );
    // Lookups run outside transactions (a store may serialise them behind an open one).
    drop(tx);
    let found = store.order_by_number(&o.number).await?;
    check!(
        found == Some((a, o.id)),
        "order_by_number returned {found:?}"
    );
    let unknown = order(1, 3)?.number;
    check!(
        store.order_by_number(&unknown).await?.is_none(),
        "order_by_number found an unknown number"
    );
    Ok(())
}

async fn duplicate_id_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let o = order(1, 1)?;
    insert_order(&store, &o).await?;
    let mut other_number = o.clone();
    other_number.number = order(1, 2)?.number;
    let mut tx = store.begin(a).await?;
    expect_err(
        tx.insert_order(other_number).await,
        &StoreError::duplicate("order"),
        "insert of an existing order id",
    )?;
    let got = get(&mut tx, o.id).await?;
    check!(
        got.value == o,
        "the duplicate insert changed the stored order"
    );
    Ok(())
}

async fn number_unique_across_orgs(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let first = order(1, 1)?;
    insert_order(&store, &first).await?;
    let mut same_number = order(2, 1)?;
    same_number.number = first.number;
    let mut tx = store.begin(b).await?;
    expect_err(
        tx.insert_order(same_number.clone()).await,
        &StoreError::duplicate("order_number"),
        "an order number used by another organisation",
    )?;
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    check!(
        tx.order(same_number.id).await?.is_none(),
        "the refused order was stored"
    );
    drop(tx);
    let found = store.order_by_number(&first.number).await?;
    check!(
        found == Some((a, first.id)),
        "the number now points to {found:?}"
    );
    Ok(())
}

async fn order_of_another_org_is_refused(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let foreign = order(2, 1)?;
    let mut tx = store.begin(a).await?;
    expect_err(
        tx.insert_order(foreign.clone()).await,
        &StoreError::InvalidInput { what: "order org" },
        "insert of another organisation's order",
    )?;
    tx.commit().await?;
    check!(
        store.order_by_number(&foreign.number).await?.is_none(),
        "the refused order is reachable by number"
    );
    let mut tx = store.begin(b).await?;
    check!(
        tx.order(foreign.id).await?.is_none(),
        "the refused order was stored in its own organisation"
    );
    Ok(())
}

async fn stale_update_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let o = order(1, 1)?;
    insert_order(&store, &o).await?;

    let mut tx = store.begin(a).await?;
    let mut shipped = get(&mut tx, o.id).await?.value;
    shipped.shipments.push(Shipment::new(
        ShipmentId::new(T0, bytes(9, 1)),
        "DHL",
        TrackingNumber::parse("JJD000390007")?,
        None,
        None,
        ShipmentStatus::InTransit,
    )?);
    let v2 = tx.update_order(shipped.clone(), Version::FIRST).await?;
    check!(
        v2 == Version(2),
        "first update returned {v2:?}, not version 2"
    );
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let mut cancelled = shipped.clone();
    cancelled.set_status(OrderStatus::Cancelled)?;
    expect_err(
        tx.update_order(cancelled.clone(), Version::FIRST).await,
        &StoreError::stale(),
        "update with a stale version",
    )?;
    expect_err(
        tx.update_order(cancelled.clone(), Version(3)).await,
        &StoreError::stale(),
        "update with a version from the future",
    )?;
    let got = get(&mut tx, o.id).await?;
    check!(
        got.value == shipped && got.version == v2,
        "a stale update changed the row: {:?} at {:?}",
        got.value.status(),
        got.version
    );
    let v3 = tx.update_order(cancelled.clone(), v2).await?;
    check!(v3 == Version(3), "second update returned {v3:?}");
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let got = get(&mut tx, o.id).await?;
    check!(
        got.value == cancelled && got.version == v3,
        "the committed update did not stick"
    );
    check!(
        got.value.shipments.len() == 1 && got.value.status() == OrderStatus::Cancelled,
        "shipments or status lost"
    );
    Ok(())
}

async fn update_keeps_number_and_needs_the_row(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let o = order(1, 1)?;
    insert_order(&store, &o).await?;
    let mut tx = store.begin(a).await?;
    let mut renumbered = o.clone();
    renumbered.number = order(1, 2)?.number;
    expect_err(
        tx.update_order(renumbered.clone(), Version::FIRST).await,
        &StoreError::InvalidInput {
            what: "order number",
        },
        "update changing the order number",
    )?;
    expect_err(
        tx.update_order(order(1, 3)?, Version::FIRST).await,
        &StoreError::NotFound,
        "update of an order that does not exist",
    )?;
    tx.commit().await?;
    check!(
        store.order_by_number(&renumbered.number).await?.is_none(),
        "the refused number became reachable"
    );
    check!(
        store.order_by_number(&o.number).await?.is_some(),
        "the order lost its number"
    );
    Ok(())
}

async fn dropped_transaction_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let kept = order(1, 1)?;
    insert_order(&store, &kept).await?;
    let (o, documents) = {
        let o = order(1, 2)?;
        let documents = trail(&o, 10, 1)?;
        (o, documents)
    };
    let mut tx = store.begin(a).await?;
    tx.insert_order(o.clone()).await?;
    let mut changed = kept.clone();
    changed.set_status(OrderStatus::Completed)?;
    tx.update_order(changed, Version::FIRST).await?;
    for d in &documents {
        tx.insert_document(d.clone()).await?;
        tx.put_document_bytes(d.id(), PDF.to_vec()).await?;
    }
    // Fails midway, then is dropped without commit.
    expect_err(
        tx.insert_order(o.clone()).await,
        &StoreError::duplicate("order"),
        "second insert inside the transaction",
    )?;
    drop(tx);

    check!(
        store.order_by_number(&o.number).await?.is_none(),
        "the dropped order's number is reachable"
    );
    let mut tx = store.begin(a).await?;
    check!(
        tx.order(o.id).await?.is_none(),
        "the dropped order was stored"
    );
    let got = get(&mut tx, kept.id).await?;
    check!(
        got.version == Version::FIRST && got.value == kept,
        "the dropped update stuck"
    );
    for d in &documents {
        check!(
            tx.document(d.id()).await?.is_none(),
            "a dropped document was stored"
        );
        check!(
            tx.document_bytes(d.id()).await?.is_none(),
            "dropped bytes were stored"
        );
    }
    // Everything can be written again.
    tx.insert_order(o.clone()).await?;
    for d in &documents {
        tx.insert_document(d.clone()).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn tenant_scoping(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let mut theirs = Vec::new();
    for n in 1..=4 {
        insert_order(&store, &order(1, n)?).await?;
        let o = order(2, n + 100)?;
        insert_order(&store, &o).await?;
        theirs.push(o);
    }
    let (first, second) = (
        need(theirs.first(), "B's order")?,
        need(theirs.get(1), "B's order")?,
    );
    let their_docs = trail(first, 20, 1)?;
    let mut tx = store.begin(b).await?;
    for d in &their_docs {
        tx.insert_document(d.clone()).await?;
        tx.put_document_bytes(d.id(), PDF.to_vec()).await?;
    }
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let page = tx.list_orders(&PageRequest::first(100)).await?;
    check!(page.items.len() == 4, "A lists {} orders", page.items.len());
    check!(
        page.items.iter().all(|r| r.value.org == a),
        "A's list holds B's orders"
    );
    for o in &theirs {
        check!(
            tx.order(o.id).await?.is_none(),
            "A's transaction read B's order"
        );
        let mut moved = o.clone();
        moved.org = a;
        expect_err(
            tx.update_order(moved, Version::FIRST).await,
            &StoreError::NotFound,
            "A updating B's order",
        )?;
    }
    let docs = tx
        .list_order_documents(first.id, &PageRequest::first(100))
        .await?;
    check!(docs.items.is_empty(), "A lists B's documents");
    for d in &their_docs {
        check!(tx.document(d.id()).await?.is_none(), "A read B's document");
        check!(
            tx.document_bytes(d.id()).await?.is_none(),
            "A read B's document bytes"
        );
        expect_err(
            tx.put_document_bytes(d.id(), b"%PDF-overwrite".to_vec())
                .await,
            &StoreError::NotFound,
            "A writing bytes of B's document",
        )?;
    }
    let foreign_invoice = trail(second, 30, 0)?;
    for d in foreign_invoice {
        expect_err(
            tx.insert_document(d).await,
            &StoreError::NotFound,
            "A attaching a document to B's order",
        )?;
    }
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    for d in &their_docs {
        let bytes = tx.document_bytes(d.id()).await?;
        check!(bytes.as_deref() == Some(PDF), "B's bytes changed through A");
    }
    Ok(())
}

/// Walks `list_orders` with `limit`, calling `between` after each page; returns the ids seen.
async fn walk_orders(
    store: &Arc<dyn Store>,
    tag: u8,
    limit: u32,
    mut extra: u32,
) -> Result<Vec<OrderId>, Failure> {
    let mut seen = Vec::new();
    let mut after: Option<Cursor> = None;
    for _ in 0..1000 {
        let mut tx = store.begin(org(tag)).await?;
        let page = tx
            .list_orders(&PageRequest {
                after: after.clone(),
                limit,
            })
            .await?;
        drop(tx);
        check!(
            page.items.len() <= limit as usize,
            "a page of {} rows for limit {limit}",
            page.items.len()
        );
        check!(
            page.items.iter().all(|r| r.value.org == org(tag)),
            "a page holds another organisation's order"
        );
        seen.extend(page.items.iter().map(|r| r.value.id));
        let Some(next) = page.next else {
            return Ok(seen);
        };
        after = Some(next);
        // Orders placed between pages: newer ones, and older ones (an import) that land in
        // the part still to be read.
        for n in [extra, extra + 1] {
            let mut fresh = order(tag, 10_000 + n)?;
            if n % 2 == 1 {
                fresh.id = OrderId::new(at(n % 23 * 2 + 1), bytes(0xee, n));
            }
            insert_order(store, &fresh).await?;
        }
        extra += 2;
    }
    Err(Failure("the walk never reached a last page".into()))
}

async fn list_newest_first_stable_at_depth(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut original = Vec::new();
    for n in 0..23 {
        let o = order(1, n * 2)?;
        insert_order(&store, &o).await?;
        original.push(o.id);
        insert_order(&store, &order(2, n * 2)?).await?;
    }
    original.reverse();
    let seen = walk_orders(&store, 1, 5, 0).await?;
    let unique: BTreeSet<_> = seen.iter().collect();
    check!(unique.len() == seen.len(), "an order was listed twice");
    let of_original: Vec<OrderId> = seen
        .iter()
        .copied()
        .filter(|id| original.contains(id))
        .collect();
    check!(
        of_original == original,
        "the original orders were not all listed newest first: {} of {}",
        of_original.len(),
        original.len()
    );
    let mut sorted = seen.clone();
    sorted.sort_by(|x, y| y.cmp(x));
    check!(sorted == seen, "the walk is not newest first");
    Ok(())
}

async fn invalid_page_is_invalid_input(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let o = order(1, 1)?;
    insert_order(&store, &o).await?;
    let mut tx = store.begin(a).await?;
    for limit in [0, 501] {
        expect_err(
            tx.list_orders(&PageRequest::first(limit)).await,
            &StoreError::InvalidInput { what: "page limit" },
            &format!("list_orders with limit {limit}"),
        )?;
        expect_err(
            tx.list_order_documents(o.id, &PageRequest::first(limit))
                .await,
            &StoreError::InvalidInput { what: "page limit" },
            &format!("list_order_documents with limit {limit}"),
        )?;
    }
    let bad = PageRequest::after(Cursor::new("not a cursor of this store"), 5);
    check!(
        matches!(
            tx.list_orders(&bad).await,
            Err(StoreError::InvalidInput { .. })
        ),
        "list_orders accepted a foreign cursor"
    );
    check!(
        matches!(
            tx.list_order_documents(o.id, &bad).await,
            Err(StoreError::InvalidInput { .. })
        ),
        "list_order_documents accepted a foreign cursor"
    );
    let full = tx.list_orders(&PageRequest::first(500)).await?;
    check!(full.items.len() == 1, "limit 500 is refused or wrong");
    Ok(())
}

async fn documents_are_insert_only(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let o = order(1, 1)?;
    insert_order(&store, &o).await?;
    let documents = trail(&o, 10, 1)?;
    let mut tx = store.begin(a).await?;
    for d in &documents {
        tx.insert_document(d.clone()).await?;
    }
    tx.commit().await?;

    let (invoice, note) = (
        need(documents.first(), "invoice")?,
        need(documents.get(1), "note")?,
    );
    let mut tx = store.begin(a).await?;
    for d in &documents {
        let got = tx.document(d.id()).await?;
        check!(
            got.as_ref() == Some(d),
            "document read back differs: {got:?}"
        );
        check!(
            got.map(|g| g.order()) == Some(o.id),
            "document lost its order"
        );
    }
    // The same id again, even with other content, is refused and changes nothing.
    let other_order = order(1, 2)?;
    tx.insert_order(other_order.clone()).await?;
    let mut again = trail(&other_order, 10, 0)?;
    let reissued = need(again.pop(), "an invoice")?;
    check!(
        reissued.id() == invoice.id(),
        "fixture: the re-issued invoice should reuse the id"
    );
    expect_err(
        tx.insert_document(reissued).await,
        &StoreError::duplicate("document"),
        "second insert of a document id",
    )?;
    expect_err(
        tx.insert_document(note.clone()).await,
        &StoreError::duplicate("document"),
        "second insert of the same additional document",
    )?;
    let got = tx.document(invoice.id()).await?;
    check!(
        got.as_ref() == Some(invoice),
        "a refused insert changed the document"
    );
    let unknown = order(1, 3)?;
    for d in trail(&unknown, 40, 0)? {
        expect_err(
            tx.insert_document(d).await,
            &StoreError::NotFound,
            "a document of an unknown order",
        )?;
    }
    tx.commit().await?;
    Ok(())
}

async fn documents_listed_per_order_oldest_first(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let (x, y) = (order(1, 1)?, order(1, 2)?);
    insert_order(&store, &x).await?;
    insert_order(&store, &y).await?;
    let xs = trail(&x, 100, 11)?;
    let ys = trail(&y, 50, 3)?;
    let mut tx = store.begin(a).await?;
    // Interleaved and out of order: the list sorts by id, not by insertion.
    for d in xs.iter().rev().chain(ys.iter()) {
        tx.insert_document(d.clone()).await?;
    }
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let mut seen = Vec::new();
    let mut page = PageRequest::first(5);
    loop {
        let got = tx.list_order_documents(x.id, &page).await?;
        check!(got.items.len() <= 5, "a page longer than its limit");
        seen.extend(got.items);
        match got.next {
            Some(next) => page = PageRequest::after(next, 5),
            None => break,
        }
        check!(
            seen.len() <= xs.len(),
            "the walk returned too many documents"
        );
    }
    check!(
        seen == xs,
        "order x's documents: {} listed, expected {} oldest first",
        seen.len(),
        xs.len()
    );
    let only_y = tx
        .list_order_documents(y.id, &PageRequest::first(500))
        .await?;
    check!(only_y.items == ys, "order y's documents are wrong");
    check!(only_y.next.is_none(), "a complete page has a next cursor");
    let none = tx
        .list_order_documents(order(1, 3)?.id, &PageRequest::first(10))
        .await?;
    check!(none.items.is_empty(), "an unknown order has documents");
    Ok(())
}

async fn document_bytes_round_trip_once(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let o = order(1, 1)?;
    insert_order(&store, &o).await?;
    let documents = trail(&o, 10, 1)?;
    // Every byte value, and a body large enough to cross any page or chunk boundary.
    let mut large = PDF.to_vec();
    large.extend((0..3_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let bodies = [PDF.to_vec(), large];
    let mut tx = store.begin(a).await?;
    for (d, body) in documents.iter().zip(&bodies) {
        tx.insert_document(d.clone()).await?;
        check!(
            tx.document_bytes(d.id()).await?.is_none(),
            "bytes before any were stored"
        );
        tx.put_document_bytes(d.id(), body.clone()).await?;
    }
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    for (d, body) in documents.iter().zip(&bodies) {
        let got = need(tx.document_bytes(d.id()).await?, "the document's bytes")?;
        check!(
            got == *body,
            "bytes differ: {} stored, {} read",
            body.len(),
            got.len()
        );
        expect_err(
            tx.put_document_bytes(d.id(), b"%PDF-1.7 other".to_vec())
                .await,
            &StoreError::duplicate("document_bytes"),
            "second write of a document's bytes",
        )?;
    }
    let missing = DocumentId::new(T0, bytes(0xdf, 1));
    expect_err(
        tx.put_document_bytes(missing, PDF.to_vec()).await,
        &StoreError::NotFound,
        "bytes of a document without metadata",
    )?;
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let invoice = need(documents.first(), "invoice")?;
    let first = tx.document_bytes(invoice.id()).await?;
    check!(
        first.as_deref() == Some(PDF),
        "a refused second write changed the bytes"
    );
    check!(
        tx.document_bytes(missing).await?.is_none(),
        "bytes stored without metadata"
    );
    Ok(())
}
