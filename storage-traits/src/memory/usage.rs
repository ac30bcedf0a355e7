//! The in-memory store's usage tables.
//!
//! (being written)

use async_trait::async_trait;

use super::{MemoryProviderTx, MemoryStore, MemoryTx};
use crate::usage::{UsageLookup, UsageProvider, UsageTx};

/// The usage tables.
#[derive(Debug, Default)]
pub(crate) struct State {}

#[async_trait]
impl UsageTx for MemoryTx {}

#[async_trait]
impl UsageProvider for MemoryProviderTx {}

#[async_trait]
impl UsageLookup for MemoryStore {}
