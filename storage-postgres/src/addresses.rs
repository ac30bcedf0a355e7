//! The address book (ADDR-*): one row per organisation, the book as JSON with its version,
//! through the one-row-per-organisation statements the customer row uses.

use async_trait::async_trait;
use selfcare_core::address::AddressBook;
use selfcare_storage::addresses::AddressesTx;
use selfcare_storage::{StoreResult, Version, Versioned};

use crate::PgTx;
use crate::accounts::{Singleton, insert_singleton, singleton, update_singleton};

/// The address book rows.
const ADDRESS_BOOKS: Singleton = Singleton {
    select: "SELECT version, body FROM address_books WHERE org_id = $1",
    insert: "INSERT INTO address_books (org_id, version, body) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
    update: "WITH changed AS (
                 UPDATE address_books SET version = $1, body = $2
                 WHERE org_id = $3 AND version = $4 RETURNING 1)
             SELECT EXISTS (SELECT 1 FROM changed) AS changed,
                    EXISTS (SELECT 1 FROM address_books WHERE org_id = $3) AS present",
    what: "address_book",
};

#[async_trait]
impl AddressesTx for PgTx {
    async fn address_book(&mut self) -> StoreResult<Option<Versioned<AddressBook>>> {
        singleton(self.tx.conn(), &ADDRESS_BOOKS, self.org.as_uuid()).await
    }

    async fn insert_address_book(&mut self, book: AddressBook) -> StoreResult<Version> {
        insert_singleton(self.tx.conn(), &ADDRESS_BOOKS, self.org.as_uuid(), &book).await
    }

    async fn update_address_book(
        &mut self,
        book: AddressBook,
        expected: Version,
    ) -> StoreResult<Version> {
        update_singleton(
            self.tx.conn(),
            &ADDRESS_BOOKS,
            self.org.as_uuid(),
            &book,
            expected,
        )
        .await
    }
}
