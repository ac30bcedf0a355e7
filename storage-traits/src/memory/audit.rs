//! The in-memory store's audit tables.

use std::collections::BTreeMap;

use async_trait::async_trait;
use selfcare_core::audit::{AuditEntry, ChainHead};
use selfcare_core::ids::OrgId;

use super::{MemoryProviderTx, MemoryTx, OrgTable, page_ascending, rows_of};
use crate::audit::{AuditProvider, AuditTx};
use crate::error::{ConflictKind, StoreError, StoreResult};
use crate::page::{Page, PageRequest};

/// The audit tables: one chain per organisation and the provider's chain, by sequence number.
#[derive(Debug, Default)]
pub(crate) struct State {
    entries: OrgTable<u64, AuditEntry>,
    provider: BTreeMap<u64, AuditEntry>,
}

/// The head of a chain held as a map by sequence number: its last entry.
fn head_of(chain: Option<&BTreeMap<u64, AuditEntry>>) -> ChainHead {
    chain
        .and_then(|c| c.last_key_value())
        .map_or(ChainHead::GENESIS, |(seq, e)| ChainHead {
            count: seq.saturating_add(1),
            mac: Some(e.mac),
        })
}

/// Checks that `entry`, built on `after`, continues the chain whose head is `stored`, and
/// belongs to `org` (`None`: the provider); returns the new head.
fn continue_chain(
    stored: ChainHead,
    after: ChainHead,
    entry: &AuditEntry,
    org: Option<OrgId>,
) -> StoreResult<ChainHead> {
    if entry.event.org != org {
        return Err(StoreError::InvalidInput {
            what: "audit entry organisation",
        });
    }
    if after != stored || entry.seq != stored.count {
        return Err(StoreError::Conflict(ConflictKind::ChainMismatch));
    }
    Ok(ChainHead {
        count: stored.count.saturating_add(1),
        mac: Some(entry.mac),
    })
}

fn erased(chain: Option<&BTreeMap<u64, AuditEntry>>, seq: u64) -> StoreResult<Option<AuditEntry>> {
    let entry = chain
        .and_then(|c| c.get(&seq))
        .ok_or(StoreError::NotFound)?;
    if entry.event.personal.is_erased() {
        return Ok(None);
    }
    let mut entry = entry.clone();
    entry.erase_personal();
    Ok(Some(entry))
}

#[async_trait]
impl AuditTx for MemoryTx {
    async fn append_audit(
        &mut self,
        after: ChainHead,
        entry: AuditEntry,
    ) -> StoreResult<ChainHead> {
        let stored = head_of(rows_of(&self.inner.audit.entries, self.org));
        let head = continue_chain(stored, after, &entry, Some(self.org))?;
        self.inner
            .put_in(|s| &mut s.audit.entries, self.org, entry.seq, entry);
        Ok(head)
    }

    async fn audit_head(&mut self) -> StoreResult<ChainHead> {
        Ok(head_of(rows_of(&self.inner.audit.entries, self.org)))
    }

    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        page_ascending(
            rows_of(&self.inner.audit.entries, self.org),
            &page,
            |_, e| Some(e.clone()),
        )
    }

    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()> {
        if let Some(entry) = erased(rows_of(&self.inner.audit.entries, self.org), seq)? {
            self.inner
                .put_in(|s| &mut s.audit.entries, self.org, seq, entry);
        }
        Ok(())
    }
}

#[async_trait]
impl AuditProvider for MemoryProviderTx {
    async fn append_audit(
        &mut self,
        after: ChainHead,
        entry: AuditEntry,
    ) -> StoreResult<ChainHead> {
        let stored = head_of(Some(&self.inner.audit.provider));
        let head = continue_chain(stored, after, &entry, None)?;
        self.inner.put(|s| &mut s.audit.provider, entry.seq, entry);
        Ok(head)
    }

    async fn audit_head(&mut self) -> StoreResult<ChainHead> {
        Ok(head_of(Some(&self.inner.audit.provider)))
    }

    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        page_ascending(Some(&self.inner.audit.provider), &page, |_, e| {
            Some(e.clone())
        })
    }

    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()> {
        if let Some(entry) = erased(Some(&self.inner.audit.provider), seq)? {
            self.inner.put(|s| &mut s.audit.provider, seq, entry);
        }
        Ok(())
    }
}
