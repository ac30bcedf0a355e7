//! The in-memory store's orders tables.

use std::collections::BTreeMap;
use std::ops::Bound;

use async_trait::async_trait;
use selfcare_core::ids::{DocumentId, OrderId, OrgId};
use selfcare_core::orders::{Order, OrderNumber};

use super::{CursorKey, MemoryStore, MemoryTx, OrgTable, page_descending, rows_of};
use crate::error::{StoreError, StoreResult};
use crate::orders::{OrderDocument, OrderRecord, OrdersLookup, OrdersTx};
use crate::page::{Cursor, Page, PageRequest};
use crate::version::{Version, Versioned};

/// The orders tables.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// `(org, id)` → order.
    orders: OrgTable<OrderId, OrderRecord>,
    /// Global unique index: number → `(org, id)`.
    numbers: BTreeMap<OrderNumber, (OrgId, OrderId)>,
    /// `(org, id)` → document metadata.
    documents: OrgTable<DocumentId, OrderDocument>,
    /// Index `(org, order, id)` over the documents.
    documents_by_order: OrgTable<(OrderId, DocumentId), ()>,
    /// `(org, document)` → bytes.
    bytes: OrgTable<DocumentId, Vec<u8>>,
}

impl State {
    /// Whether `org` has the order `id` (for the other areas' references to orders).
    pub(crate) fn has_order(&self, org: OrgId, id: OrderId) -> bool {
        self.orders
            .get(&org)
            .is_some_and(|rows| rows.contains_key(&id))
    }
}

/// Keyset pagination over an index `(parent, child)` of one organisation, restricted to
/// `parent`, by child ascending; the cursor is the last child's key. `min` is the smallest
/// child key; `row` reads the row of a child, `None` skipping it (filtered out). A range scan:
/// the cost follows the page, not the parent's size.
///
/// # Errors
/// `InvalidInput` for a bad limit or a cursor this store did not make.
pub(crate) fn page_within<P, C, T>(
    index: Option<&BTreeMap<(P, C), ()>>,
    parent: P,
    min: C,
    page: &PageRequest,
    mut row: impl FnMut(C) -> Option<T>,
) -> StoreResult<Page<T>>
where
    P: Ord + Copy,
    C: Ord + Copy + CursorKey,
{
    let limit = page.checked_limit()?;
    let after = page
        .after
        .as_ref()
        .map(|c| C::decode(c.as_str()).ok_or(StoreError::InvalidInput { what: "cursor" }))
        .transpose()?;
    let Some(index) = index else {
        return Ok(Page::empty());
    };
    let rows = match after {
        Some(a) => index.range((Bound::Excluded((parent, a)), Bound::Unbounded)),
        None => index.range((Bound::Included((parent, min)), Bound::Unbounded)),
    };
    let mut items = Vec::with_capacity(limit.min(64));
    let mut last = None;
    let mut more = false;
    for ((p, child), ()) in rows {
        if *p != parent {
            break;
        }
        let Some(item) = row(*child) else { continue };
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(item);
        last = Some(*child);
    }
    let next = if more {
        last.map(|c| Cursor::new(c.encode()))
    } else {
        None
    };
    Ok(Page { items, next })
}

impl MemoryTx {
    fn order_row(&self, id: OrderId) -> Option<&OrderRecord> {
        self.inner.orders.orders.get(&self.org)?.get(&id)
    }
}

#[async_trait]
impl OrdersTx for MemoryTx {
    async fn insert_order(&mut self, order: Order) -> StoreResult<Version> {
        if order.org != self.org {
            return Err(StoreError::InvalidInput { what: "order org" });
        }
        if self.order_row(order.id).is_some() {
            return Err(StoreError::duplicate("order"));
        }
        if self.inner.orders.numbers.contains_key(&order.number) {
            return Err(StoreError::duplicate("order_number"));
        }
        let (org, id, number) = (self.org, order.id, order.number);
        self.inner.put(|s| &mut s.orders.numbers, number, (org, id));
        self.inner.put_in(
            |s| &mut s.orders.orders,
            org,
            id,
            Versioned {
                value: order,
                version: Version::FIRST,
            },
        );
        Ok(Version::FIRST)
    }

    async fn order(&mut self, id: OrderId) -> StoreResult<Option<OrderRecord>> {
        Ok(self.order_row(id).cloned())
    }

    async fn update_order(&mut self, order: Order, expected: Version) -> StoreResult<Version> {
        if order.org != self.org {
            return Err(StoreError::InvalidInput { what: "order org" });
        }
        let stored = self.order_row(order.id).ok_or(StoreError::NotFound)?;
        if stored.version != expected {
            return Err(StoreError::stale());
        }
        if stored.value.number != order.number {
            return Err(StoreError::InvalidInput {
                what: "order number",
            });
        }
        let version = expected.next();
        let (org, id) = (self.org, order.id);
        self.inner.put_in(
            |s| &mut s.orders.orders,
            org,
            id,
            Versioned {
                value: order,
                version,
            },
        );
        Ok(version)
    }

    async fn list_orders(&mut self, page: &PageRequest) -> StoreResult<Page<OrderRecord>> {
        page_descending(
            rows_of(&self.inner.orders.orders, self.org),
            page,
            |_, _| true,
            |_, row| row.clone(),
        )
    }

    async fn insert_document(&mut self, document: OrderDocument) -> StoreResult<()> {
        let (org, id, order) = (self.org, document.id(), document.order());
        if self.order_row(order).is_none() {
            return Err(StoreError::NotFound);
        }
        let exists = self
            .inner
            .orders
            .documents
            .get(&org)
            .is_some_and(|rows| rows.contains_key(&id));
        if exists {
            return Err(StoreError::duplicate("document"));
        }
        self.inner
            .put_in(|s| &mut s.orders.documents_by_order, org, (order, id), ());
        self.inner
            .put_in(|s| &mut s.orders.documents, org, id, document);
        Ok(())
    }

    async fn document(&mut self, id: DocumentId) -> StoreResult<Option<OrderDocument>> {
        Ok(self
            .inner
            .orders
            .documents
            .get(&self.org)
            .and_then(|rows| rows.get(&id))
            .cloned())
    }

    async fn list_order_documents(
        &mut self,
        order: OrderId,
        page: &PageRequest,
    ) -> StoreResult<Page<OrderDocument>> {
        let documents = self.inner.orders.documents.get(&self.org);
        page_within(
            self.inner.orders.documents_by_order.get(&self.org),
            order,
            DocumentId::from_uuid(uuid::Uuid::nil()),
            page,
            |id| documents.and_then(|rows| rows.get(&id)).cloned(),
        )
    }

    async fn put_document_bytes(&mut self, id: DocumentId, bytes: Vec<u8>) -> StoreResult<()> {
        let org = self.org;
        let known = self
            .inner
            .orders
            .documents
            .get(&org)
            .is_some_and(|rows| rows.contains_key(&id));
        if !known {
            return Err(StoreError::NotFound);
        }
        let stored = self
            .inner
            .orders
            .bytes
            .get(&org)
            .is_some_and(|rows| rows.contains_key(&id));
        if stored {
            return Err(StoreError::duplicate("document_bytes"));
        }
        self.inner.put_in(|s| &mut s.orders.bytes, org, id, bytes);
        Ok(())
    }

    async fn document_bytes(&mut self, id: DocumentId) -> StoreResult<Option<Vec<u8>>> {
        Ok(self
            .inner
            .orders
            .bytes
            .get(&self.org)
            .and_then(|rows| rows.get(&id))
            .cloned())
    }
}

#[async_trait]
impl OrdersLookup for MemoryStore {
    async fn order_by_number(&self, number: &OrderNumber) -> StoreResult<Option<(OrgId, OrderId)>> {
        Ok(self.read().await.orders.numbers.get(number).copied())
    }
}
