//! The address book (ADDR-*): one row per organisation, the book as JSON with its version.

use async_trait::async_trait;
use selfcare_core::address::AddressBook;
use selfcare_storage::addresses::AddressesTx;
use selfcare_storage::{StoreResult, Version, Versioned};

use crate::SqliteTx;
use crate::rows::{insert_singleton, singleton, update_singleton};

const TABLE: &str = "address_books";

#[async_trait]
impl AddressesTx for SqliteTx {
    async fn address_book(&mut self) -> StoreResult<Option<Versioned<AddressBook>>> {
        let org = self.org.as_uuid();
        self.conn.call(move |c| singleton(c, TABLE, org)).await
    }

    async fn insert_address_book(&mut self, book: AddressBook) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| insert_singleton(c, TABLE, org, &book, "address_book"))
            .await
    }

    async fn update_address_book(
        &mut self,
        book: AddressBook,
        expected: Version,
    ) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| update_singleton(c, TABLE, org, &book, expected))
            .await
    }
}
