//! The in-memory store's auth tables.
//!
//! (being written)

use async_trait::async_trait;

use super::{MemoryProviderTx, MemoryStore, MemoryTx};
use crate::auth::{AuthLookup, AuthProvider, AuthTx};

/// The auth tables.
#[derive(Debug, Default)]
pub(crate) struct State {}

#[async_trait]
impl AuthTx for MemoryTx {}

#[async_trait]
impl AuthProvider for MemoryProviderTx {}

#[async_trait]
impl AuthLookup for MemoryStore {}
