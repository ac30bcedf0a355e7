//! The in-memory store's accounts tables: customers, users with the global login-key index,
//! API clients with the global client-id index.

use std::collections::BTreeMap;

use async_trait::async_trait;
use selfcare_core::ids::{ApiClientId, OrgId, UserId};
use selfcare_core::roles::Role;
use selfcare_core::tokens::ClientId;

use super::{
    MemoryProviderTx, MemoryStore, MemoryTx, OrgTable, next_version, page_ascending, rows_of,
};
use crate::accounts::{
    AccountsLookup, AccountsProvider, AccountsTx, ApiClientRecord, CustomerRecord, UserRecord,
};
use crate::auth::SessionSubject;
use crate::error::{StoreError, StoreResult};
use crate::page::{Page, PageRequest};
use crate::version::{Version, Versioned};

/// The accounts tables.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// One customer row per organisation.
    pub(crate) customers: BTreeMap<OrgId, Versioned<CustomerRecord>>,
    /// Users by organisation and id.
    pub(crate) users: OrgTable<UserId, Versioned<UserRecord>>,
    /// The global unique index of login keys (`Email::key`).
    pub(crate) login_keys: BTreeMap<String, (OrgId, UserId)>,
    /// API clients by organisation and id.
    pub(crate) api_clients: OrgTable<ApiClientId, Versioned<ApiClientRecord>>,
    /// The global unique index of client ids (by the id the client id encodes).
    pub(crate) client_ids: BTreeMap<ApiClientId, (OrgId, ApiClientId)>,
}

fn client_key(client_id: ClientId) -> ApiClientId {
    client_id.api_client_id()
}

impl MemoryTx {
    fn stored_user(&self, id: UserId) -> Option<&Versioned<UserRecord>> {
        self.inner.accounts.users.get(&self.org)?.get(&id)
    }

    fn stored_api_client(&self, id: ApiClientId) -> Option<&Versioned<ApiClientRecord>> {
        self.inner.accounts.api_clients.get(&self.org)?.get(&id)
    }

    /// Whether `user` is a user of this transaction's organisation.
    pub(super) fn has_user(&self, user: UserId) -> bool {
        self.stored_user(user).is_some()
    }

    /// Whether `client` is an API client of this transaction's organisation.
    pub(super) fn has_api_client(&self, client: ApiClientId) -> bool {
        self.stored_api_client(client).is_some()
    }

    /// Removes an API client row, its client-id index entry and its sessions.
    fn remove_api_client(&mut self, id: ApiClientId) {
        let org = self.org;
        if let Some(old) = self
            .inner
            .remove_in(|s| &mut s.accounts.api_clients, org, &id)
        {
            self.inner.remove(
                |s| &mut s.accounts.client_ids,
                &client_key(old.value.client_id),
            );
        }
        self.remove_sessions_of(|subject| subject == SessionSubject::ApiClient(id), None);
    }
}

#[async_trait]
impl AccountsTx for MemoryTx {
    async fn insert_customer(&mut self, record: CustomerRecord) -> StoreResult<()> {
        if record.customer.id() != self.org {
            return Err(StoreError::InvalidInput {
                what: "customer of another organisation",
            });
        }
        self.inner
            .insert_aggregate(|s| &mut s.accounts.customers, self.org, record, "customer")?;
        Ok(())
    }

    async fn customer(&mut self) -> StoreResult<Option<Versioned<CustomerRecord>>> {
        Ok(self.inner.accounts.customers.get(&self.org).cloned())
    }

    async fn update_customer(
        &mut self,
        record: CustomerRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        if record.customer.id() != self.org {
            return Err(StoreError::InvalidInput {
                what: "customer of another organisation",
            });
        }
        self.inner
            .update_aggregate(|s| &mut s.accounts.customers, self.org, record, expected)
    }

    async fn insert_user(&mut self, user: UserRecord) -> StoreResult<()> {
        if self.has_user(user.id) {
            return Err(StoreError::duplicate("user"));
        }
        let key = user.email.key().to_owned();
        let (org, id) = (self.org, user.id);
        self.inner.claim(
            |s| &mut s.accounts.login_keys,
            key,
            (org, id),
            "login_email",
        )?;
        self.inner
            .put_versioned_in(|s| &mut s.accounts.users, org, id, user, Version::FIRST);
        Ok(())
    }

    async fn user(&mut self, id: UserId) -> StoreResult<Option<Versioned<UserRecord>>> {
        Ok(self.stored_user(id).cloned())
    }

    async fn update_user(&mut self, user: UserRecord, expected: Version) -> StoreResult<Version> {
        let stored = self.stored_user(user.id).ok_or(StoreError::NotFound)?;
        let version = next_version(Some(stored), expected)?;
        let old_key = stored.value.email.key().to_owned();
        let new_key = user.email.key().to_owned();
        let (org, id) = (self.org, user.id);
        // The index holds each user's current key only, so a taken new key is another user's.
        if old_key != new_key {
            self.inner.claim(
                |s| &mut s.accounts.login_keys,
                new_key,
                (org, id),
                "login_email",
            )?;
            self.inner.remove(|s| &mut s.accounts.login_keys, &old_key);
        }
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.accounts.users, org, id, user, version))
    }

    async fn delete_user(&mut self, id: UserId, expected: Version) -> StoreResult<()> {
        let stored = self.stored_user(id).ok_or(StoreError::NotFound)?;
        next_version(Some(stored), expected)?;
        let key = stored.value.email.key().to_owned();
        let org = self.org;
        let clients: Vec<ApiClientId> = rows_of(&self.inner.accounts.api_clients, org)
            .map(|rows| {
                rows.values()
                    .filter(|c| c.value.user == id)
                    .map(|c| c.value.id)
                    .collect()
            })
            .unwrap_or_default();
        for client in clients {
            self.remove_api_client(client);
        }
        self.remove_sessions_of(|subject| subject == SessionSubject::User(id), None);
        self.inner.remove_in(|s| &mut s.auth.totp, org, &id);
        self.inner.remove(|s| &mut s.accounts.login_keys, &key);
        self.inner.remove_in(|s| &mut s.accounts.users, org, &id);
        Ok(())
    }

    async fn list_users(&mut self, page: PageRequest) -> StoreResult<Page<Versioned<UserRecord>>> {
        page_ascending(
            rows_of(&self.inner.accounts.users, self.org),
            &page,
            |_, row| Some(row.clone()),
        )
    }

    async fn count_users_with_role(&mut self, role: Role) -> StoreResult<u64> {
        let count = rows_of(&self.inner.accounts.users, self.org)
            .map(|rows| rows.values().filter(|u| u.value.role == role).count())
            .unwrap_or(0);
        u64::try_from(count).map_err(|_| StoreError::Internal {
            reason: "user count does not fit u64".into(),
        })
    }

    async fn insert_api_client(&mut self, client: ApiClientRecord) -> StoreResult<()> {
        if !self.has_user(client.user) {
            return Err(StoreError::NotFound);
        }
        if self.has_api_client(client.id) {
            return Err(StoreError::duplicate("api_client"));
        }
        let (org, id) = (self.org, client.id);
        let key = client_key(client.client_id);
        self.inner
            .claim(|s| &mut s.accounts.client_ids, key, (org, id), "client_id")?;
        self.inner.put_versioned_in(
            |s| &mut s.accounts.api_clients,
            org,
            id,
            client,
            Version::FIRST,
        );
        Ok(())
    }

    async fn api_client(
        &mut self,
        id: ApiClientId,
    ) -> StoreResult<Option<Versioned<ApiClientRecord>>> {
        Ok(self.stored_api_client(id).cloned())
    }

    async fn update_api_client(
        &mut self,
        client: ApiClientRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let stored = self
            .stored_api_client(client.id)
            .ok_or(StoreError::NotFound)?;
        let version = next_version(Some(stored), expected)?;
        if stored.value.client_id != client.client_id || stored.value.user != client.user {
            return Err(StoreError::InvalidInput {
                what: "api client's client id or user",
            });
        }
        let (org, id) = (self.org, client.id);
        Ok(self
            .inner
            .put_versioned_in(|s| &mut s.accounts.api_clients, org, id, client, version))
    }

    async fn delete_api_client(&mut self, id: ApiClientId, expected: Version) -> StoreResult<()> {
        next_version(self.stored_api_client(id), expected)?;
        self.remove_api_client(id);
        Ok(())
    }

    async fn list_api_clients(
        &mut self,
        user: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<Versioned<ApiClientRecord>>> {
        page_ascending(
            rows_of(&self.inner.accounts.api_clients, self.org),
            &page,
            |_, row| {
                user.is_none_or(|u| row.value.user == u)
                    .then(|| row.clone())
            },
        )
    }
}

#[async_trait]
impl AccountsProvider for MemoryProviderTx {
    async fn list_orgs(&mut self, page: PageRequest) -> StoreResult<Page<OrgId>> {
        page_ascending(Some(&self.inner.accounts.customers), &page, |org, _| {
            Some(*org)
        })
    }
}

#[async_trait]
impl AccountsLookup for MemoryStore {
    async fn user_by_login_key(&self, login_key: &str) -> StoreResult<Option<(OrgId, UserId)>> {
        Ok(self
            .read()
            .await
            .accounts
            .login_keys
            .get(login_key)
            .copied())
    }

    async fn api_client_by_client_id(
        &self,
        client_id: ClientId,
    ) -> StoreResult<Option<(OrgId, ApiClientId)>> {
        Ok(self
            .read()
            .await
            .accounts
            .client_ids
            .get(&client_key(client_id))
            .copied())
    }
}
