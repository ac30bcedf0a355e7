//! The in-memory store's audit tables.
//!
//! (being written)

use async_trait::async_trait;

use super::{MemoryProviderTx, MemoryStore, MemoryTx};
use crate::audit::{AuditLookup, AuditProvider, AuditTx};

/// The audit tables.
#[derive(Debug, Default)]
pub(crate) struct State {}

#[async_trait]
impl AuditTx for MemoryTx {}

#[async_trait]
impl AuditProvider for MemoryProviderTx {}

#[async_trait]
impl AuditLookup for MemoryStore {}
