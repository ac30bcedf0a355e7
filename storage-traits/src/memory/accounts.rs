//! The in-memory store's accounts tables.
//!
//! (being written)

use async_trait::async_trait;

use super::{MemoryProviderTx, MemoryStore, MemoryTx};
use crate::accounts::{AccountsLookup, AccountsProvider, AccountsTx};

/// The accounts tables.
#[derive(Debug, Default)]
pub(crate) struct State {}

#[async_trait]
impl AccountsTx for MemoryTx {}

#[async_trait]
impl AccountsProvider for MemoryProviderTx {}

#[async_trait]
impl AccountsLookup for MemoryStore {}
