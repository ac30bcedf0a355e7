//! Orders after they are placed (ORD-1..ORD-4): the organisation's order list, one order, its
//! cancellation, its invoice and additional documents, the CSV export of its SIMs, and the
//! guest lookup without a login. Placing orders and top-ups is [`crate::checkout`].
//!
//! Orders are addressed by their human-friendly number. The number is resolved through the
//! store's global lookup *before* any transaction opens (a lookup never runs while a transaction
//! of the same task is open); inside the transaction the permission is checked first, then the
//! order must belong to the session's organisation: another organisation's number is `NotFound`,
//! exactly like an unknown one (USR-5).
//!
//! Choices where the rules are silent:
//! - **Cancelling a card-paid order does not refund it here.** The stored order carries the
//!   card (id, brand, last four digits) but not the gateway's charge id, and core has no refund
//!   key for orders, so a refund cannot be made safely from this call. ORD-1 says a refund is a
//!   credit note: Billing staff refund through the gateway and attach the credit note
//!   (`StaffSession`, STF-1). The cancellation itself is audited (`order_cancelled`) and the
//!   customer's order contacts are told through the outbox (`order_status_changed`), in the
//!   same transaction.
//! - The export reads the CSV in chunks of [`EXPORT_CHUNK`] SIMs, each in a short transaction
//!   of its own, which the store writes straight from its rows through `core`'s CSV writer
//!   (`SimsTx::order_sims_csv`); each chunk is written before the next is read: memory stays
//!   bounded by one chunk and no transaction is open while the host's writer blocks. The permission is checked once,
//!   when the export starts.
//! - A guest lookup that fails for any reason (malformed number, unknown number, wrong proof)
//!   counts against both the source and the number; a successful one clears the number's
//!   counter (the source's stays, as for logins).

use selfcare_core::audit::{AuditActor, AuditEventName, Outcome};
use selfcare_core::customer::EmailCategory;
use selfcare_core::digest::Sha256Digest;
use selfcare_core::export::SimCsvWriter;
use selfcare_core::ids::{DocumentId, OrderId, OrgId, SimId};
use selfcare_core::notifications::{NotificationKind, Params};
use selfcare_core::orders::{
    AdditionalDocument, GuestLookup, GuestOrderView, Invoice, Order, OrderNumber, OrderStatus,
    guest_lookup,
};
use selfcare_core::policy::{Action, decide};
use selfcare_core::throttle::ThrottleKey;
use selfcare_storage::orders::OrderDocument;
use selfcare_storage::page::MAX_PAGE;
use selfcare_storage::{OrgTransaction, Page, PageRequest};

use crate::error::{Error, Result};
use crate::portal::{Attempt, Portal, RequestContext, fields, target};
use crate::session::Session;

/// How many SIMs the export reads per store call (the store's largest CSV chunk).
pub const EXPORT_CHUNK: u32 = selfcare_storage::sims::MAX_EXPORT_BATCH;

/// The documents of an order (ORD-2): its invoice, once issued, and the additional documents
/// (credit notes, corrected invoices, …) linked to it, oldest first. Metadata only; the bytes
/// come from [`Session::document_bytes`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderDocuments {
    /// The order's number.
    pub order_number: OrderNumber,
    /// The invoice; `None` until billing attached it.
    pub invoice: Option<Invoice>,
    /// The documents added later; each names the invoice it corrects
    /// ([`AdditionalDocument::corrects`]).
    pub additional: Vec<AdditionalDocument>,
}

/// One downloaded document: its metadata and exactly the stored bytes (the billing system's
/// PDF), checked against the SHA-256 recorded when it was attached.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentDownload {
    /// What the document is (number, amounts, language, media type, size).
    pub document: OrderDocument,
    /// The file (base64 on the wire).
    #[serde(with = "selfcare_core::formats::base64")]
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for DocumentDownload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A PDF dumped into a log helps nobody.
        f.debug_struct("DocumentDownload")
            .field("document", &self.document)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl Session {
    /// The organisation's orders, newest first, one keyset page at a time (ORD-1): pass
    /// `PageRequest::first(limit)`, then `PageRequest::after(page.next, limit)` while `next`
    /// is `Some`.
    ///
    /// # Errors
    /// `Validation` for a page limit outside 1..=500 or a cursor of another list;
    /// `PermissionDenied` for a role that may not view orders; `Unauthenticated(SessionExpired)`;
    /// `Unavailable`.
    pub async fn orders(&self, page: &PageRequest) -> Result<Page<Order>> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewOrders).await?;
            let listed = tx.list_orders(page).await?;
            // Keeps the idle timer `authorize` touched.
            tx.commit().await?;
            Ok(Page {
                items: listed.items.into_iter().map(|o| o.value).collect(),
                next: listed.next,
            })
        })
        .await
    }

    /// One order of the organisation by its number (ORD-1): lines, totals, status, address
    /// copies, payment and shipments.
    ///
    /// # Errors
    /// `Validation` on `order_number` for a malformed number; `NotFound` for an unknown number
    /// or another organisation's order; `PermissionDenied`; `Unauthenticated(SessionExpired)`;
    /// `Unavailable`.
    pub async fn order(&self, number: &str) -> Result<Order> {
        let found = self.resolve(number).await?;
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewOrders).await?;
            let order = self.own_order(tx.as_mut(), found).await?;
            tx.commit().await?;
            Ok(order)
        })
        .await
    }

    /// Cancels an order that is still `InPreparation` (ORD-1), audited as `order_cancelled`,
    /// with an `order_status_changed` message to the organisation's order contacts in the
    /// same transaction. A card payment is not refunded by this call: Billing staff refund it
    /// and attach the credit note (see the module documentation).
    ///
    /// # Errors
    /// `Conflict(illegal_order_transition)` for a completed or cancelled order;
    /// `Conflict(stale_version)` when the order changed meanwhile and the retries ran out;
    /// `Validation` on `order_number`; `NotFound` for an unknown number or another
    /// organisation's order; `PermissionDenied` for roles that may not cancel orders;
    /// `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn cancel_order(&self, number: &str) -> Result<Order> {
        let found = self.resolve(number).await?;
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::CancelOrder).await?;
            let (_, id) = found
                .filter(|(org, _)| *org == self.org())
                .ok_or(Error::NotFound)?;
            let stored = tx.order(id).await?.ok_or(Error::NotFound)?;
            let mut order = stored.value;
            order.set_status(OrderStatus::Cancelled)?;
            tx.update_order(order.clone(), stored.version).await?;
            let mut event = portal.audit_event(
                Some(self.org()),
                AuditActor::User { id: actor.user },
                actor.channel,
                AuditEventName::OrderCancelled,
                target("order", order.id)?,
                Outcome::Success,
            )?;
            event.changed_fields = fields(&["status"])?;
            portal.audit(tx.as_mut(), event).await?;
            let customer = tx.customer().await?.ok_or(Error::NotFound)?.value.customer;
            let params = Params::new()
                .with("customer_name", customer.kind().invoice_name().as_str())
                .with("order_number", order.number.to_string())
                .with("status", OrderStatus::Cancelled.as_str())
                // No portal address is configured; the host's mailer can prefix this path.
                .with("link", format!("/orders/{}", order.number));
            portal
                .notify(
                    tx.as_mut(),
                    NotificationKind::OrderStatusChanged,
                    customer.recipients(EmailCategory::Orders),
                    customer.language(),
                    &params,
                )
                .await?;
            tx.commit().await?;
            Ok(order)
        })
        .await
    }

    /// The invoice and the additional documents of an order (ORD-2), metadata only.
    ///
    /// # Errors
    /// `Validation` on `order_number`; `NotFound` for an unknown number or another
    /// organisation's order; `PermissionDenied` for roles that may not download documents;
    /// `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn documents(&self, number: &str) -> Result<OrderDocuments> {
        let found = self.resolve(number).await?;
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::ViewDocuments).await?;
            decide(&actor, Action::ViewInvoices, self.org())
                .into_result()
                .map_err(Error::from)?;
            let order = self.own_order(tx.as_mut(), found).await?;
            let mut invoice = None;
            let mut additional = Vec::new();
            for document in all_documents(tx.as_mut(), order.id).await? {
                match document {
                    OrderDocument::Invoice(i) => invoice = Some(i),
                    OrderDocument::Additional(d) => additional.push(d),
                }
            }
            tx.commit().await?;
            Ok(OrderDocuments {
                order_number: order.number,
                invoice,
                additional,
            })
        })
        .await
    }

    /// Downloads the invoice of an order (ORD-2): its metadata and the stored bytes.
    ///
    /// # Errors
    /// `NotFound` when the order has no invoice yet, for an unknown number or another
    /// organisation's order; `Validation` on `order_number`; `PermissionDenied` for roles that
    /// may not download invoices; `Internal` when the stored bytes no longer match their
    /// recorded SHA-256; `Unauthenticated(SessionExpired)`; `Unavailable`.
    pub async fn invoice(&self, number: &str) -> Result<DocumentDownload> {
        self.download(number, None).await
    }

    /// Downloads one document of an order (its invoice or an additional document) (ORD-2):
    /// its metadata and the stored bytes.
    ///
    /// # Errors
    /// `NotFound` for a document that is not one of this order's, for an unknown number or
    /// another organisation's order; otherwise as [`Session::invoice`].
    pub async fn document_bytes(
        &self,
        number: &str,
        document: DocumentId,
    ) -> Result<DocumentDownload> {
        self.download(number, Some(document)).await
    }

    /// Writes the SIMs of an order as the CSV of ORD-3 (`ICCID,Label,IMSI,MSISDN`, RFC 4180,
    /// UTF-8, labels neutralised against spreadsheet formulas) into `out`, and returns how
    /// many SIM rows it wrote.
    ///
    /// The CSV is read from the store in chunks of [`EXPORT_CHUNK`] SIMs, each in a short
    /// transaction of its own, and each chunk is written before the next is read, so memory
    /// does not grow with the number of SIMs and no transaction stays open while `out` is
    /// written. `out` is written synchronously on the calling task: pass a fast sink (a
    /// buffer, a file, a pipe) or use [`Session::export_order_sims_to_path`], which writes on
    /// the blocking pool. When an error is returned, `out` may hold part of the export.
    ///
    /// # Errors
    /// `Validation` on `order_number`; `NotFound` for an unknown number or another
    /// organisation's order; `PermissionDenied`; `Unavailable` when `out` fails (the reason
    /// names the I/O error) or the store does; `Unauthenticated(SessionExpired)`.
    pub async fn export_order_sims<W: std::io::Write>(
        &self,
        number: &str,
        mut out: W,
    ) -> Result<u64> {
        let order = self.start_export(number).await?;
        out.write_all(&csv_header()?).map_err(io_error)?;
        let mut rows = 0u64;
        let mut after = None;
        loop {
            let chunk = self.sim_chunk(order, after).await?;
            out.write_all(&chunk.bytes).map_err(io_error)?;
            rows = rows.saturating_add(u64::from(chunk.rows));
            if chunk.rows < EXPORT_CHUNK {
                break;
            }
            after = chunk.last;
        }
        out.flush().map_err(io_error)?;
        Ok(rows)
    }

    /// [`Session::export_order_sims`] into a new file at `path` (replaced if it exists), each
    /// batch written on the blocking pool so the executor never waits for the disk. Returns
    /// the number of SIM rows.
    ///
    /// # Errors
    /// As [`Session::export_order_sims`]; `Unavailable` when the file cannot be created or
    /// written.
    pub async fn export_order_sims_to_path(
        &self,
        number: &str,
        path: impl AsRef<std::path::Path>,
    ) -> Result<u64> {
        use std::io::Write as _;
        let order = self.start_export(number).await?;
        let path = path.as_ref().to_owned();
        let header = csv_header()?;
        let mut file = crate::portal::blocking(move || {
            let mut file = std::io::BufWriter::new(std::fs::File::create(path).map_err(io_error)?);
            file.write_all(&header).map_err(io_error)?;
            Ok(file)
        })
        .await?;
        let mut rows = 0u64;
        let mut after = None;
        loop {
            let chunk = self.sim_chunk(order, after).await?;
            let full = chunk.rows == EXPORT_CHUNK;
            rows = rows.saturating_add(u64::from(chunk.rows));
            after = chunk.last;
            file = crate::portal::blocking(move || {
                file.write_all(&chunk.bytes).map_err(io_error)?;
                Ok(file)
            })
            .await?;
            if !full {
                break;
            }
        }
        crate::portal::blocking(move || {
            file.flush().map_err(io_error)?;
            file.into_inner()
                .map_err(|e| io_error(e.into_error()))?
                .sync_all()
                .map_err(io_error)
        })
        .await?;
        Ok(rows)
    }

    /// Resolves an order number through the store's global lookup. Called before any
    /// transaction of this task opens; the caller judges the organisation inside its own
    /// transaction, after the permission check.
    async fn resolve(&self, number: &str) -> Result<Option<(OrgId, OrderId)>> {
        let number = OrderNumber::parse(number)?;
        Ok(self.portal().store().order_by_number(&number).await?)
    }

    /// The order `found` points at, if it is one of this session's organisation.
    async fn own_order(
        &self,
        tx: &mut dyn OrgTransaction,
        found: Option<(OrgId, OrderId)>,
    ) -> std::result::Result<Order, Attempt> {
        let (_, id) = found
            .filter(|(org, _)| *org == self.org())
            .ok_or(Error::NotFound)?;
        Ok(tx.order(id).await?.ok_or(Error::NotFound)?.value)
    }

    /// One document of an order with its bytes: `document`, or the invoice when `None`.
    async fn download(
        &self,
        number: &str,
        document: Option<DocumentId>,
    ) -> Result<DocumentDownload> {
        let found = self.resolve(number).await?;
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let first = if document.is_some() {
                Action::ViewDocuments
            } else {
                Action::ViewInvoices
            };
            let (_, actor) = self.authorize(tx.as_mut(), first).await?;
            let order = self.own_order(tx.as_mut(), found).await?;
            let metadata = match document {
                Some(id) => tx
                    .document(id)
                    .await?
                    .filter(|d| d.order() == order.id)
                    .ok_or(Error::NotFound)?,
                None => all_documents(tx.as_mut(), order.id)
                    .await?
                    .into_iter()
                    .find(|d| matches!(d, OrderDocument::Invoice(_)))
                    .ok_or(Error::NotFound)?,
            };
            // The invoice needs ViewInvoices whichever call asks for it.
            if matches!(metadata, OrderDocument::Invoice(_)) {
                decide(&actor, Action::ViewInvoices, self.org())
                    .into_result()
                    .map_err(Error::from)?;
            }
            let bytes = tx
                .document_bytes(metadata.id())
                .await?
                .ok_or(Error::NotFound)?;
            let file = match &metadata {
                OrderDocument::Invoice(i) => i.file(),
                OrderDocument::Additional(d) => d.file(),
            };
            if Sha256Digest::of(&bytes) != file.sha256() {
                tracing::error!(
                    document = %metadata.id(),
                    "selfcare: stored document bytes do not match their recorded SHA-256"
                );
                return Err(Attempt::Fail(Error::Internal));
            }
            tx.commit().await?;
            Ok(DocumentDownload {
                document: metadata,
                bytes,
            })
        })
        .await
    }

    /// Checks the permission to export and finds the order; returns its id.
    async fn start_export(&self, number: &str) -> Result<OrderId> {
        let found = self.resolve(number).await?;
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ExportOrderSims).await?;
            let order = self.own_order(tx.as_mut(), found).await?;
            tx.commit().await?;
            Ok(order.id)
        })
        .await
    }

    /// The next chunk of the order's SIM CSV after `after`, in a transaction of its own, so
    /// no transaction stays open while the caller's writer works.
    async fn sim_chunk(
        &self,
        order: OrderId,
        after: Option<SimId>,
    ) -> Result<selfcare_storage::sims::SimCsvChunk> {
        let portal = self.portal();
        portal
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                Ok(tx.order_sims_csv(order, after, EXPORT_CHUNK).await?)
            })
            .await
    }
}

impl Portal {
    /// Looks an order up without logging in (ORD-4): by its number plus the order's e-mail
    /// or billing postal code. The view shows number, status, items and shipments only —
    /// never addresses, payment details, ICCIDs, IMSIs or MSISDNs.
    ///
    /// A malformed number, an unknown number and a wrong e-mail or postal code all give the
    /// same `NotFound`, and each counts as a failure against the request's source and against
    /// the number; while either counter asks for a wait, the lookup is refused with
    /// `Throttled` before anything is read.
    ///
    /// # Errors
    /// `NotFound`; `Throttled { retry_after }`; `Unavailable`.
    pub async fn track_order(
        &self,
        order_number: &str,
        email_or_postal_code: &str,
        ctx: &RequestContext,
    ) -> Result<GuestOrderView> {
        let source_key = ThrottleKey::order_lookup_source(&ctx.source).storage_key();
        let number_key = ThrottleKey::order_lookup_number(order_number).storage_key();
        self.check_throttle(&[&source_key, &number_key]).await?;

        let answer = match GuestLookup::parse(order_number, email_or_postal_code) {
            Ok(lookup) => {
                let found = self.store().order_by_number(&lookup.number).await?;
                let order = match found {
                    Some((org, id)) => {
                        self.retry(|| async {
                            let mut tx = self.store().begin(org).await?;
                            Ok(tx.order(id).await?.map(|o| o.value))
                        })
                        .await?
                    }
                    None => None,
                };
                guest_lookup(&lookup, order.as_ref()).ok()
            }
            Err(_) => None,
        };
        match answer {
            Some(view) => {
                self.clear_throttle(&number_key).await?;
                Ok(view)
            }
            None => {
                self.count_failures(&[&source_key, &number_key]).await?;
                Err(Error::NotFound)
            }
        }
    }
}

/// Every document of `order`, oldest first (an order has a handful), walking the store's pages.
async fn all_documents(
    tx: &mut dyn OrgTransaction,
    order: OrderId,
) -> std::result::Result<Vec<OrderDocument>, Attempt> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(MAX_PAGE);
    loop {
        let got = tx.list_order_documents(order, &page).await?;
        out.extend(got.items);
        match got.next {
            Some(cursor) => page = PageRequest::after(cursor, MAX_PAGE),
            None => return Ok(out),
        }
    }
}

/// The CSV header, written by `core`'s writer (the one place that knows the format).
fn csv_header() -> Result<Vec<u8>> {
    SimCsvWriter::new(Vec::new())
        .and_then(SimCsvWriter::finish)
        .map_err(io_error)
}

fn io_error(e: std::io::Error) -> Error {
    Error::Unavailable {
        reason: format!("the export could not be written: {e}"),
    }
}
