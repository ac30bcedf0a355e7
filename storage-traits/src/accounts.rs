//! Storage of customers (organisations) with contact e-mails and volume limits, users with their credentials, API clients (ACC-*, USR-*).
//!
//! (being written)

use async_trait::async_trait;

/// Organisation-scoped operations on this area, inside an [`crate::OrgTransaction`].
#[async_trait]
pub trait AccountsTx: Send {}

/// Provider-scoped reads of this area (ids and due times), inside a
/// [`crate::ProviderTransaction`].
#[async_trait]
pub trait AccountsProvider: Send {}

/// Global lookups of this area (ids only), on the [`crate::Store`] itself.
#[async_trait]
pub trait AccountsLookup: Send + Sync {}
