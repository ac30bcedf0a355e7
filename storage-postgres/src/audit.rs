//! (being written) the audit area of the PostgreSQL store: every method is a stub.

#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use selfcare_core::audit::{AuditEntry, ChainHead};
use selfcare_storage::StoreError;
use selfcare_storage::audit::*;
use selfcare_storage::error::StoreResult;
use selfcare_storage::page::{Page, PageRequest};

use crate::{PgProviderTx, PgStore, PgTx};

#[async_trait]
impl selfcare_storage::audit::AuditTx for PgTx {
    async fn append_audit(
        &mut self,
        after: ChainHead,
        entry: AuditEntry,
    ) -> StoreResult<ChainHead> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn audit_head(&mut self) -> StoreResult<ChainHead> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::audit::AuditProvider for PgProviderTx {
    async fn append_audit(
        &mut self,
        after: ChainHead,
        entry: AuditEntry,
    ) -> StoreResult<ChainHead> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn audit_head(&mut self) -> StoreResult<ChainHead> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}
