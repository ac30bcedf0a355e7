//! (being written) the addresses area of the PostgreSQL store: every method is a stub.

#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use selfcare_core::address::AddressBook;
use selfcare_storage::StoreError;
use selfcare_storage::addresses::*;
use selfcare_storage::error::StoreResult;
use selfcare_storage::version::{Version, Versioned};

use crate::{PgProviderTx, PgStore, PgTx};

#[async_trait]
impl selfcare_storage::addresses::AddressesTx for PgTx {
    async fn address_book(&mut self) -> StoreResult<Option<Versioned<AddressBook>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_address_book(&mut self, book: AddressBook) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_address_book(
        &mut self,
        book: AddressBook,
        expected: Version,
    ) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}
