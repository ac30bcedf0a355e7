//! The in-memory store's tickets tables.
//!
//! (being written)

use async_trait::async_trait;

use super::{MemoryProviderTx, MemoryStore, MemoryTx};
use crate::tickets::{TicketsLookup, TicketsProvider, TicketsTx};

/// The tickets tables.
#[derive(Debug, Default)]
pub(crate) struct State {}

#[async_trait]
impl TicketsTx for MemoryTx {}

#[async_trait]
impl TicketsProvider for MemoryProviderTx {}

#[async_trait]
impl TicketsLookup for MemoryStore {}
