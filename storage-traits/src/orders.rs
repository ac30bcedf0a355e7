//! Storage of orders with lines, invoices and additional documents (metadata and bytes), shipments (ORD-*).
//!
//! (being written)

use async_trait::async_trait;

/// Organisation-scoped operations on this area, inside an [`crate::OrgTransaction`].
#[async_trait]
pub trait OrdersTx: Send {}

/// Provider-scoped reads of this area (ids and due times), inside a
/// [`crate::ProviderTransaction`].
#[async_trait]
pub trait OrdersProvider: Send {}

/// Global lookups of this area (ids only), on the [`crate::Store`] itself.
#[async_trait]
pub trait OrdersLookup: Send + Sync {}
