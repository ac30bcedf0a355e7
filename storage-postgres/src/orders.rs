//! (being written) the orders area of the PostgreSQL store: every method is a stub.

#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use selfcare_core::ids::{DocumentId, OrderId, OrgId};
use selfcare_core::orders::{AdditionalDocument, Invoice, Order, OrderNumber};
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::orders::*;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::version::{Version, Versioned};

use crate::{PgProviderTx, PgStore, PgTx};

#[async_trait]
impl selfcare_storage::orders::OrdersTx for PgTx {
    async fn insert_order(&mut self, order: Order) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn order(&mut self, id: OrderId) -> StoreResult<Option<OrderRecord>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_order(&mut self, order: Order, expected: Version) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn list_orders(&mut self, page: &PageRequest) -> StoreResult<Page<OrderRecord>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_document(&mut self, document: OrderDocument) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn document(&mut self, id: DocumentId) -> StoreResult<Option<OrderDocument>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn list_order_documents(
        &mut self,
        order: OrderId,
        page: &PageRequest,
    ) -> StoreResult<Page<OrderDocument>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn put_document_bytes(&mut self, id: DocumentId, bytes: Vec<u8>) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn document_bytes(&mut self, id: DocumentId) -> StoreResult<Option<Vec<u8>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::orders::OrdersLookup for PgStore {
    async fn order_by_number(&self, number: &OrderNumber) -> StoreResult<Option<(OrgId, OrderId)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}
