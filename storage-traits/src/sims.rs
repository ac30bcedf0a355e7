//! Storage of SIMs, plans and provisioning requests (SIM-*, PLAN-*).
//!
//! (being written)

use async_trait::async_trait;

/// Organisation-scoped operations on this area, inside an [`crate::OrgTransaction`].
#[async_trait]
pub trait SimsTx: Send {}

/// Provider-scoped reads of this area (ids and due times), inside a
/// [`crate::ProviderTransaction`].
#[async_trait]
pub trait SimsProvider: Send {}

/// Global lookups of this area (ids only), on the [`crate::Store`] itself.
#[async_trait]
pub trait SimsLookup: Send + Sync {}
