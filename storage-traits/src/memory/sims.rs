//! The in-memory store's sims tables.
//!
//! (being written)

use async_trait::async_trait;

use super::{MemoryProviderTx, MemoryStore, MemoryTx};
use crate::sims::{SimsLookup, SimsProvider, SimsTx};

/// The sims tables.
#[derive(Debug, Default)]
pub(crate) struct State {}

#[async_trait]
impl SimsTx for MemoryTx {}

#[async_trait]
impl SimsProvider for MemoryProviderTx {}

#[async_trait]
impl SimsLookup for MemoryStore {}
