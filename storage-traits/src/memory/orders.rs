//! The in-memory store's orders tables.
//!
//! (being written)

use async_trait::async_trait;

use super::{MemoryProviderTx, MemoryStore, MemoryTx};
use crate::orders::{OrdersLookup, OrdersProvider, OrdersTx};

/// The orders tables.
#[derive(Debug, Default)]
pub(crate) struct State {}

#[async_trait]
impl OrdersTx for MemoryTx {}

#[async_trait]
impl OrdersProvider for MemoryProviderTx {}

#[async_trait]
impl OrdersLookup for MemoryStore {}
