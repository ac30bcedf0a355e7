//! The in-memory store's payments tables.
//!
//! (being written)

use async_trait::async_trait;

use super::{MemoryProviderTx, MemoryStore, MemoryTx};
use crate::payments::{PaymentsLookup, PaymentsProvider, PaymentsTx};

/// The payments tables.
#[derive(Debug, Default)]
pub(crate) struct State {}

#[async_trait]
impl PaymentsTx for MemoryTx {}

#[async_trait]
impl PaymentsProvider for MemoryProviderTx {}

#[async_trait]
impl PaymentsLookup for MemoryStore {}
