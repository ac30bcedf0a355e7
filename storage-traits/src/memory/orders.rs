//! The in-memory store's orders tables.

use std::collections::BTreeMap;

use async_trait::async_trait;
use selfcare_core::ids::{DocumentId, OrderId, OrgId};
use selfcare_core::orders::{Order, OrderNumber};

use super::{
    MemoryStore, MemoryTx, OrgTable, next_version, page_descending, page_within, rows_of, vacant,
};
use crate::error::{StoreError, StoreResult};
use crate::orders::{OrderDocument, OrderRecord, OrdersLookup, OrdersTx};
use crate::page::{Page, PageRequest};
use crate::version::Version;

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
        let (org, id, number) = (self.org, order.id, order.number);
        self.inner
            .claim(|s| &mut s.orders.numbers, number, (org, id), "order_number")?;
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.orders.orders, org, id, order, Version::FIRST))
    }

    async fn order(&mut self, id: OrderId) -> StoreResult<Option<OrderRecord>> {
        Ok(self.order_row(id).cloned())
    }

    async fn update_order(&mut self, order: Order, expected: Version) -> StoreResult<Version> {
        if order.org != self.org {
            return Err(StoreError::InvalidInput { what: "order org" });
        }
        let stored = self.order_row(order.id).ok_or(StoreError::NotFound)?;
        let version = next_version(Some(stored), expected)?;
        if stored.value.number != order.number {
            return Err(StoreError::InvalidInput {
                what: "order number",
            });
        }
        let (org, id) = (self.org, order.id);
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.orders.orders, org, id, order, version))
    }

    async fn list_orders(&mut self, page: &PageRequest) -> StoreResult<Page<OrderRecord>> {
        page_descending(
            rows_of(&self.inner.orders.orders, self.org),
            page,
            |_, row| Some(row.clone()),
        )
    }

    async fn insert_document(&mut self, document: OrderDocument) -> StoreResult<()> {
        let (org, id, order) = (self.org, document.id(), document.order());
        if self.order_row(order).is_none() {
            return Err(StoreError::NotFound);
        }
        vacant(rows_of(&self.inner.orders.documents, org), &id, "document")?;
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
            |id, ()| documents.and_then(|rows| rows.get(id)).cloned(),
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
        vacant(
            rows_of(&self.inner.orders.bytes, org),
            &id,
            "document_bytes",
        )?;
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
