//! Storage of the audit log: HMAC chain per organisation and the provider's own chain (AUD-1).
//!
//! The store keeps [`AuditEntry`] values as `selfcare-core` built them
//! ([`AuditChain::append`](selfcare_core::audit::AuditChain::append)); it holds no key and
//! computes no MAC. What it guarantees is that a chain cannot fork: an append names the head it
//! continues, and the store refuses it unless that is the stored head, so of two concurrent
//! appends after the same head exactly one is written (the other's use case is re-run on the
//! new head). Entries are never edited; the only change is erasing an entry's personal values,
//! which keeps their hash and so keeps the chain verifying.
//!
//! The append pattern, inside the transaction that makes the change:
//!
//! ```ignore
//! let head = tx.audit_head().await?;
//! let (entry, _next) = AuditChain::append(&head, event, &host_key);
//! tx.append_audit(head, entry).await?;
//! ```
//!
//! Records (for SQL stores): organisation entries have the primary key `(org, seq)`; the
//! provider's chain is a separate table with the primary key `seq`. The head is the last entry
//! (`count = seq + 1`, its MAC), or [`ChainHead::GENESIS`] when there is none.

use async_trait::async_trait;
use selfcare_core::audit::{AuditEntry, ChainHead};

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};

/// Organisation-scoped operations on this organisation's audit chain, inside an
/// [`crate::OrgTransaction`].
#[async_trait]
pub trait AuditTx: Send {
    /// Appends `entry`, which was built on the head `after`, to this organisation's chain and
    /// returns the new head.
    ///
    /// The store MUST write the entry only when `after` is the stored head (same count and
    /// same last MAC) and `entry.seq` is that count, so a chain never forks; when it refuses,
    /// it MUST write nothing. The new head MUST be `{ count: after.count + 1, mac:
    /// Some(entry.mac) }`.
    ///
    /// # Errors
    /// - `Conflict(ChainMismatch)` when `after` is not the stored head or `entry.seq` does not
    ///   follow it (another append came first: re-run on the new head);
    /// - `InvalidInput { what: "audit entry organisation" }` when the entry's event belongs to
    ///   another organisation or to the provider.
    async fn append_audit(&mut self, after: ChainHead, entry: AuditEntry)
    -> StoreResult<ChainHead>;

    /// The head of this organisation's chain: the number of entries and the last MAC, or
    /// [`ChainHead::GENESIS`] before the first entry.
    ///
    /// # Errors
    /// Only the store's own failures (`Unavailable`, `Corrupt`, …).
    async fn audit_head(&mut self) -> StoreResult<ChainHead>;

    /// This organisation's entries in chain order (ascending `seq`), as stored, so
    /// [`AuditChain::verify_chain`](selfcare_core::audit::AuditChain::verify_chain) can check
    /// them page by page.
    ///
    /// It MUST NOT return entries of another organisation or of the provider's chain, and
    /// MUST return each entry once, in order, while entries are appended between pages.
    ///
    /// # Errors
    /// `InvalidInput` for a page limit out of range or a cursor this store did not produce.
    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>>;

    /// Erases the personal values of the entry at `seq`
    /// ([`AuditEntry::erase_personal`]): they are replaced by their erased form, which keeps
    /// their hash, so the chain still verifies.
    ///
    /// The store MUST change nothing else of the entry; erasing an erased entry MUST change
    /// nothing. No other method changes a stored entry.
    ///
    /// # Errors
    /// `NotFound` when this organisation's chain has no entry `seq`.
    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()>;
}

/// The provider's own audit chain (events that belong to no organisation, such as a login
/// attempt for an unknown e-mail), inside a [`crate::ProviderTransaction`]. The same contracts
/// as [`AuditTx`], on a chain separate from every organisation's.
#[async_trait]
pub trait AuditProvider: Send {
    /// Appends `entry`, built on the head `after`, to the provider's chain; as
    /// [`AuditTx::append_audit`].
    ///
    /// # Errors
    /// `Conflict(ChainMismatch)` as [`AuditTx::append_audit`];
    /// `InvalidInput { what: "audit entry organisation" }` when the entry's event belongs to
    /// an organisation (`event.org` is not `None`).
    async fn append_audit(&mut self, after: ChainHead, entry: AuditEntry)
    -> StoreResult<ChainHead>;

    /// The head of the provider's chain ([`ChainHead::GENESIS`] before the first entry).
    ///
    /// # Errors
    /// Only the store's own failures.
    async fn audit_head(&mut self) -> StoreResult<ChainHead>;

    /// The provider's entries in chain order; as [`AuditTx::audit_entries`], never an
    /// organisation's entry.
    ///
    /// # Errors
    /// `InvalidInput` for a page limit out of range or a cursor this store did not produce.
    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>>;

    /// Erases the personal values of the provider's entry at `seq`; as
    /// [`AuditTx::erase_audit_personal`].
    ///
    /// # Errors
    /// `NotFound` when the provider's chain has no entry `seq`.
    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()>;
}
