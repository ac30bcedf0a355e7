//! (being written) the accounts area of the PostgreSQL store: every method is a stub.

#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use selfcare_core::contact::Email;
use selfcare_core::customer::{Customer, MonthlyVolumeLimits};
use selfcare_core::ids::{ApiClientId, OrgId, UserId};
use selfcare_core::password::PasswordHash;
use selfcare_core::roles::Role;
use selfcare_core::tokens::{ClientId, TokenHash};
use selfcare_storage::StoreError;
use selfcare_storage::accounts::*;
use selfcare_storage::error::StoreResult;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::version::{Version, Versioned};
use time::OffsetDateTime;

use crate::{PgProviderTx, PgStore, PgTx};

#[async_trait]
impl selfcare_storage::accounts::AccountsTx for PgTx {
    async fn insert_customer(&mut self, record: CustomerRecord) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn customer(&mut self) -> StoreResult<Option<Versioned<CustomerRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_customer(
        &mut self,
        record: CustomerRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_user(&mut self, user: UserRecord) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn user(&mut self, id: UserId) -> StoreResult<Option<Versioned<UserRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_user(&mut self, user: UserRecord, expected: Version) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn delete_user(&mut self, id: UserId, expected: Version) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn list_users(&mut self, page: PageRequest) -> StoreResult<Page<Versioned<UserRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn count_users_with_role(&mut self, role: Role) -> StoreResult<u64> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_api_client(&mut self, client: ApiClientRecord) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn api_client(
        &mut self,
        id: ApiClientId,
    ) -> StoreResult<Option<Versioned<ApiClientRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_api_client(
        &mut self,
        client: ApiClientRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn delete_api_client(&mut self, id: ApiClientId, expected: Version) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn list_api_clients(
        &mut self,
        user: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<Versioned<ApiClientRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::accounts::AccountsProvider for PgProviderTx {
    async fn list_orgs(&mut self, page: PageRequest) -> StoreResult<Page<OrgId>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::accounts::AccountsLookup for PgStore {
    async fn user_by_login_key(&self, login_key: &str) -> StoreResult<Option<(OrgId, UserId)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn api_client_by_client_id(
        &self,
        client_id: ClientId,
    ) -> StoreResult<Option<(OrgId, ApiClientId)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}
