//! The in-memory store's addresses tables.
//!
//! (being written)

use async_trait::async_trait;

use super::{MemoryProviderTx, MemoryStore, MemoryTx};
use crate::addresses::{AddressesLookup, AddressesProvider, AddressesTx};

/// The addresses tables.
#[derive(Debug, Default)]
pub(crate) struct State {}

#[async_trait]
impl AddressesTx for MemoryTx {}

#[async_trait]
impl AddressesProvider for MemoryProviderTx {}

#[async_trait]
impl AddressesLookup for MemoryStore {}
