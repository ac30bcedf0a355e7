//! Storage of the address book (ADDR-*).
//!
//! An organisation has one address book, a single versioned aggregate
//! ([`selfcare_core::address::AddressBook`]): the book keeps its own invariants (one default per
//! kind, the last billing address stays, ADDR-2/4), so the store keeps it whole and never edits
//! single entries. Orders and top-ups keep snapshots of the addresses they use (ADDR-3) in their
//! own records, so nothing here is read by a past order.
//!
//! Primary key for SQL stores: `(org_id)` — one row per organisation, the book serialised with
//! its version; there is no other index.

use async_trait::async_trait;
use selfcare_core::address::AddressBook;

use crate::error::StoreResult;
use crate::version::{Version, Versioned};

/// Organisation-scoped operations on this area, inside an [`crate::OrgTransaction`]. Reads take
/// `&mut self` too: a SQL transaction runs every statement on its one connection.
#[async_trait]
pub trait AddressesTx: Send {
    /// The organisation's address book with its version.
    ///
    /// MUST return `None` before the first [`AddressesTx::insert_address_book`] in this
    /// organisation, and MUST NOT return another organisation's book.
    ///
    /// # Errors
    /// `Corrupt` when the stored book no longer parses; `Retryable`/`Unavailable` from the
    /// backend.
    async fn address_book(&mut self) -> StoreResult<Option<Versioned<AddressBook>>>;

    /// Stores the organisation's first address book, at [`Version::FIRST`].
    ///
    /// MUST return `Conflict(Duplicate { what: "address_book" })` and change nothing when the
    /// organisation already has a book (two first addresses racing: one wins, the other re-runs
    /// and updates).
    ///
    /// # Errors
    /// `Conflict(Duplicate)` as above; `Retryable`/`Unavailable` from the backend.
    async fn insert_address_book(&mut self, book: AddressBook) -> StoreResult<Version>;

    /// Replaces the organisation's book when its stored version is `expected`, returning the
    /// new version (`expected.next()`).
    ///
    /// MUST return `Conflict(StaleVersion)` and change nothing when the stored version differs
    /// from `expected`, and `NotFound` when the organisation has no book.
    ///
    /// # Errors
    /// `Conflict(StaleVersion)`, `NotFound` as above; `Retryable`/`Unavailable` from the
    /// backend.
    async fn update_address_book(
        &mut self,
        book: AddressBook,
        expected: Version,
    ) -> StoreResult<Version>;
}
