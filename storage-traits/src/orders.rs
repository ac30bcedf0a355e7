//! Storage of orders with lines, shipments, invoices and additional documents (metadata and
//! bytes) (ORD-1, ORD-2, ORD-4).
//!
//! An order is one row: its lines, totals, address copies (ADDR-3), payment and shipments are
//! part of the core [`Order`]. Its SIMs are not: they are rows of their own
//! ([`crate::sims`]), read in batches. Documents are insert-only, metadata and bytes apart, so a
//! list of documents never loads a PDF.
//!
//! Keys, for SQL stores (every key and org-scoped index starts with the organisation id):
//! - `orders`: primary key `(org, id)`; global unique index `number` → `(org, id)` (guest
//!   lookup, [`OrdersLookup::order_by_number`]).
//! - `order_documents`: primary key `(org, id)`; index `(org, order, id)` for the list of an
//!   order's documents.
//! - `document_bytes`: primary key `(org, document)`.

use async_trait::async_trait;
use selfcare_core::ids::{DocumentId, OrderId, OrgId};
use selfcare_core::orders::{AdditionalDocument, Invoice, Order, OrderNumber};

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::version::{Version, Versioned};

/// An order as stored: the core [`Order`] (status, lines, totals, address copies, payment,
/// shipments) with its version. Primary key `(org, id)`; `number` is unique across
/// organisations.
pub type OrderRecord = Versioned<Order>;

/// A document of an order (ORD-2): the invoice or an additional document (credit note,
/// corrected invoice, …) linked to it. Metadata only; the bytes are stored apart
/// ([`OrdersTx::put_document_bytes`]). Primary key `(org, id)`, index `(org, order, id)`.
/// Documents are never edited, so they carry no version.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OrderDocument {
    /// The order's invoice.
    Invoice(Invoice),
    /// A document added later, correcting the invoice.
    Additional(AdditionalDocument),
}

impl OrderDocument {
    /// The document's id.
    pub fn id(&self) -> DocumentId {
        match self {
            OrderDocument::Invoice(i) => i.id(),
            OrderDocument::Additional(d) => d.id(),
        }
    }

    /// The order it belongs to.
    pub fn order(&self) -> OrderId {
        match self {
            OrderDocument::Invoice(i) => i.order(),
            OrderDocument::Additional(d) => d.order(),
        }
    }
}

/// Organisation-scoped operations on orders and their documents, inside an
/// [`crate::OrgTransaction`].
#[async_trait]
pub trait OrdersTx: Send {
    /// Inserts a new order at [`Version::FIRST`].
    ///
    /// The store MUST refuse an order whose `org` is not the transaction's organisation, MUST
    /// refuse an id that exists, and MUST refuse a number that any organisation's order has
    /// (order numbers are unique across organisations, for the guest lookup).
    ///
    /// # Errors
    /// `InvalidInput { what: "order org" }` for another organisation's order;
    /// `Conflict(Duplicate { what: "order" })` for an existing id;
    /// `Conflict(Duplicate { what: "order_number" })` for a number in use.
    async fn insert_order(&mut self, order: Order) -> StoreResult<Version>;

    /// The order `id` of this organisation with its version, or `None` (also for another
    /// organisation's order: it MUST NOT be returned).
    ///
    /// # Errors
    /// `Unavailable`, `Corrupt` for stored data that no longer parses.
    async fn order(&mut self, id: OrderId) -> StoreResult<Option<OrderRecord>>;

    /// Replaces the stored order (status change, shipments added or updated) and returns its
    /// new version.
    ///
    /// The store MUST write only when the stored version equals `expected`, and MUST refuse a
    /// change of the order's number or organisation (neither ever changes).
    ///
    /// # Errors
    /// `NotFound` when this organisation has no order `order.id`;
    /// `Conflict(StaleVersion)` when the stored version is not `expected` (nothing written);
    /// `InvalidInput { what: "order number" }` or `{ what: "order org" }` for a changed number
    /// or organisation.
    async fn update_order(&mut self, order: Order, expected: Version) -> StoreResult<Version>;

    /// The organisation's orders, newest first (by id, UUID v7, descending; ids are made when
    /// the order is placed), keyset-paginated.
    ///
    /// It MUST return only this organisation's orders, each once across the pages of one
    /// walk, even while orders are placed between pages.
    ///
    /// # Errors
    /// `InvalidInput` for a page limit outside 1..=500 or a cursor this store did not make.
    async fn list_orders(&mut self, page: &PageRequest) -> StoreResult<Page<OrderRecord>>;

    /// Whether the organisation has placed any order (its next SIM order is then an
    /// additional one, ORD-1). The default reads the first page of [`list_orders`]; a store
    /// answers it from an index without reading an order.
    ///
    /// # Errors
    /// `Retryable`, `Unavailable`.
    ///
    /// [`list_orders`]: OrdersTx::list_orders
    async fn has_orders(&mut self) -> StoreResult<bool> {
        Ok(!self
            .list_orders(&PageRequest::first(1))
            .await?
            .items
            .is_empty())
    }

    /// Inserts a document's metadata. Documents are insert-only: there is no update.
    ///
    /// The store MUST refuse a document whose order is not an order of this organisation and
    /// MUST refuse an id that exists (a second insert of the same document).
    ///
    /// # Errors
    /// `NotFound` when this organisation has no order `document.order()`;
    /// `Conflict(Duplicate { what: "document" })` for an existing id.
    async fn insert_document(&mut self, document: OrderDocument) -> StoreResult<()>;

    /// The document `id` of this organisation, or `None`.
    ///
    /// # Errors
    /// `Unavailable`, `Corrupt`.
    async fn document(&mut self, id: DocumentId) -> StoreResult<Option<OrderDocument>>;

    /// The documents of the order `order`, oldest first (by id ascending: the invoice, then
    /// the additional documents in the order they were added), keyset-paginated. An unknown
    /// order has none.
    ///
    /// It MUST return only documents of that order of this organisation.
    ///
    /// # Errors
    /// `InvalidInput` for a bad page limit or cursor.
    async fn list_order_documents(
        &mut self,
        order: OrderId,
        page: &PageRequest,
    ) -> StoreResult<Page<OrderDocument>>;

    /// Stores the bytes of the document `id` (the billing system's PDF), once.
    ///
    /// The store MUST refuse bytes for a document whose metadata this organisation does not
    /// have, MUST refuse a second write for the same document, and MUST return exactly these
    /// bytes from [`OrdersTx::document_bytes`].
    ///
    /// # Errors
    /// `NotFound` without the document's metadata;
    /// `Conflict(Duplicate { what: "document_bytes" })` when bytes are stored already.
    async fn put_document_bytes(&mut self, id: DocumentId, bytes: Vec<u8>) -> StoreResult<()>;

    /// The bytes of the document `id` of this organisation, or `None`.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn document_bytes(&mut self, id: DocumentId) -> StoreResult<Option<Vec<u8>>>;
}

/// Global lookups of orders (ids only), on the [`crate::Store`] itself.
#[async_trait]
pub trait OrdersLookup: Send + Sync {
    /// The organisation and id of the order numbered `number`, in any organisation, or
    /// `None` (the guest lookup, ORD-4). It MUST see only committed orders.
    ///
    /// # Errors
    /// `Unavailable`.
    async fn order_by_number(&self, number: &OrderNumber) -> StoreResult<Option<(OrgId, OrderId)>>;
}
