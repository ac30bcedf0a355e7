//! Storage of sessions, reset/confirmation/approval/invitation tokens, login-throttling counters, TOTP secrets and recovery codes (AUTH-*).
//!
//! (being written)

use async_trait::async_trait;

/// Organisation-scoped operations on this area, inside an [`crate::OrgTransaction`].
#[async_trait]
pub trait AuthTx: Send {}

/// Provider-scoped reads of this area (ids and due times), inside a
/// [`crate::ProviderTransaction`].
#[async_trait]
pub trait AuthProvider: Send {}

/// Global lookups of this area (ids only), on the [`crate::Store`] itself.
#[async_trait]
pub trait AuthLookup: Send + Sync {}
