//! The in-memory store's addresses tables.

use std::collections::BTreeMap;

use async_trait::async_trait;
use selfcare_core::address::AddressBook;
use selfcare_core::ids::OrgId;

use super::MemoryTx;
use crate::addresses::AddressesTx;
use crate::error::{StoreError, StoreResult};
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
        if self.inner.addresses.books.contains_key(&self.org) {
            return Err(StoreError::duplicate("address_book"));
        }
        let versioned = Versioned {
            value: book,
            version: Version::FIRST,
        };
        self.inner
            .put(|s| &mut s.addresses.books, self.org, versioned);
        Ok(Version::FIRST)
    }

    async fn update_address_book(
        &mut self,
        book: AddressBook,
        expected: Version,
    ) -> StoreResult<Version> {
        let stored = self
            .inner
            .addresses
            .books
            .get(&self.org)
            .ok_or(StoreError::NotFound)?;
        if stored.version != expected {
            return Err(StoreError::stale());
        }
        let version = expected.next();
        self.inner.put(
            |s| &mut s.addresses.books,
            self.org,
            Versioned {
                value: book,
                version,
            },
        );
        Ok(version)
    }
}
