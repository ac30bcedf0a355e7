//! Storage of quotas with generations, seen usage-record ids, sent notification marks, monthly usage (TOP-2, TOP-3, ACC-5).
//!
//! (being written)

use async_trait::async_trait;

/// Organisation-scoped operations on this area, inside an [`crate::OrgTransaction`].
#[async_trait]
pub trait UsageTx: Send {}

/// Provider-scoped reads of this area (ids and due times), inside a
/// [`crate::ProviderTransaction`].
#[async_trait]
pub trait UsageProvider: Send {}

/// Global lookups of this area (ids only), on the [`crate::Store`] itself.
#[async_trait]
pub trait UsageLookup: Send + Sync {}
