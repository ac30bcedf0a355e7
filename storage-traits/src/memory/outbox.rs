//! The in-memory store's outbox tables.
//!
//! (being written)

use async_trait::async_trait;

use super::{MemoryProviderTx, MemoryStore, MemoryTx};
use crate::outbox::{OutboxLookup, OutboxProvider, OutboxTx};

/// The outbox tables.
#[derive(Debug, Default)]
pub(crate) struct State {}

#[async_trait]
impl OutboxTx for MemoryTx {}

#[async_trait]
impl OutboxProvider for MemoryProviderTx {}

#[async_trait]
impl OutboxLookup for MemoryStore {}
