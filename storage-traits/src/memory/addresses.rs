//! The in-memory store's addresses tables.

use std::collections::BTreeMap;

use async_trait::async_trait;
use selfcare_core::address::AddressBook;
use selfcare_core::ids::OrgId;

use super::MemoryTx;
use crate::addresses::AddressesTx;
use crate::error::StoreResult;
use crate::version::{Version, Versioned};

/// The addresses tables.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// One address book per organisation.
    books: BTreeMap<OrgId, Versioned<AddressBook>>,
}

#[async_trait]
impl AddressesTx for MemoryTx {
    async fn address_book(&mut self) -> StoreResult<Option<Versioned<AddressBook>>> {
        Ok(self.inner.addresses.books.get(&self.org).cloned())
    }

    async fn insert_address_book(&mut self, book: AddressBook) -> StoreResult<Version> {
        self.inner
            .insert_aggregate(|s| &mut s.addresses.books, self.org, book, "address_book")
    }

    async fn update_address_book(
        &mut self,
        book: AddressBook,
        expected: Version,
    ) -> StoreResult<Version> {
        self.inner
            .update_aggregate(|s| &mut s.addresses.books, self.org, book, expected)
    }
}
