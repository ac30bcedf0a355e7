//! Storage of customers (organisations) with their volume limits and settings, users with their
//! credentials, and API clients (ACC-*, USR-*, AUTH-4).
//!
//! Records are plain data built from `selfcare-core` types, which were validated when they were
//! made; stores keep them and enforce only keys, versions and the cross-organisation uniqueness
//! of login e-mails and API client ids (DESIGN §1, "Scopes").

use async_trait::async_trait;
use selfcare_core::contact::Email;
use selfcare_core::customer::{Customer, MonthlyVolumeLimits};
use selfcare_core::ids::{ApiClientId, OrgId, UserId};
use selfcare_core::password::PasswordHash;
use selfcare_core::roles::Role;
use selfcare_core::tokens::{ClientId, TokenHash};
use time::OffsetDateTime;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};
use crate::version::{Version, Versioned};

/// One organisation's customer row: the customer data and the organisation-wide settings.
///
/// Primary key: `(org_id)`, the organisation is the customer (`customer.id()`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerRecord {
    /// The customer (ACC-1..ACC-4); its id is the organisation id.
    pub customer: Customer,
    /// The monthly volume limits chosen for all SIMs (ACC-5).
    pub volume_limits: MonthlyVolumeLimits,
    /// Whether every user must have a second factor (AUTH-6).
    pub second_factor_required: bool,
    /// Whether the organisation was touched by development ports and is not production data.
    pub test_mode: bool,
}

/// Where a user stands in the organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserStatus {
    /// Invited, the invitation not yet accepted; no password yet.
    Invited,
    /// May log in.
    Active,
    /// Kept for the record, may not log in.
    Disabled,
}

/// A change of login e-mail waiting for confirmation (USR-2) or approval (USR-3).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingEmail {
    /// The new address. It claims no login key until it replaces [`UserRecord::email`].
    pub email: Email,
    /// Whether someone other than the user made the change (then the user must approve it).
    pub by_other: bool,
}

/// A user of the organisation.
///
/// Primary key: `(org_id, id)`. Unique across organisations: `email.key()` (the login key).
/// Organisation-scoped index: `(org_id, role)` for [`AccountsTx::count_users_with_role`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// The user's id (UUID v7).
    pub id: UserId,
    /// The login e-mail; unique across organisations by [`Email::key`].
    pub email: Email,
    /// The user's name as they gave it (validated by the sdk).
    pub name: String,
    /// The user's role (USR-1).
    pub role: Role,
    /// Invited, active or disabled.
    pub status: UserStatus,
    /// The Argon2id hash of the password; `None` until one is set (invited users, API users).
    pub password_hash: Option<PasswordHash>,
    /// A login e-mail change in progress.
    pub pending_email: Option<PendingEmail>,
    /// When the user was created.
    #[serde(with = "selfcare_core::formats::instant")]
    pub created_at: OffsetDateTime,
}

/// An API client: the credentials an ApiUser calls the API with (AUTH-4).
///
/// Primary key: `(org_id, id)`. Unique across organisations: `client_id`.
/// Organisation-scoped index: `(org_id, user, id)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiClientRecord {
    /// The row id.
    pub id: ApiClientId,
    /// The public client id; fixed for the client's life.
    pub client_id: ClientId,
    /// The user (normally an ApiUser) the client acts as.
    pub user: UserId,
    /// SHA-256 of the secret; the secret itself is never stored.
    pub secret_hash: TokenHash,
    /// When the client was created.
    #[serde(with = "selfcare_core::formats::instant")]
    pub created_at: OffsetDateTime,
    /// When it was revoked; a revoked client cannot open sessions.
    #[serde(default, with = "selfcare_core::formats::instant::option")]
    pub revoked_at: Option<OffsetDateTime>,
}

/// Organisation-scoped operations on customers, users and API clients, inside an
/// [`crate::OrgTransaction`]. Every method works on the transaction's organisation only.
#[async_trait]
pub trait AccountsTx: Send {
    /// Inserts the organisation's customer row at [`Version::FIRST`].
    ///
    /// It MUST return `Conflict(Duplicate { what: "customer" })` when the organisation has one,
    /// and MUST return `InvalidInput` when `record.customer.id()` is not the transaction's
    /// organisation.
    ///
    /// # Errors
    /// `Conflict(Duplicate)`, `InvalidInput`, or a store failure.
    async fn insert_customer(&mut self, record: CustomerRecord) -> StoreResult<()>;

    /// The organisation's customer row, `None` when it has none.
    ///
    /// # Errors
    /// A store failure only.
    async fn customer(&mut self) -> StoreResult<Option<Versioned<CustomerRecord>>>;

    /// Replaces the customer row and returns its new version.
    ///
    /// It MUST return `NotFound` when the organisation has no customer row, `InvalidInput` when
    /// `record.customer.id()` is not the transaction's organisation, and
    /// `Conflict(StaleVersion)` without changing anything when the stored version is not
    /// `expected`.
    ///
    /// # Errors
    /// `NotFound`, `InvalidInput`, `Conflict(StaleVersion)`, or a store failure.
    async fn update_customer(
        &mut self,
        record: CustomerRecord,
        expected: Version,
    ) -> StoreResult<Version>;

    /// Inserts a user at [`Version::FIRST`] and claims its login key.
    ///
    /// It MUST return `Conflict(Duplicate { what: "user" })` when the organisation has a user
    /// with this id, and `Conflict(Duplicate { what: "login_email" })` when any user of any
    /// organisation has the same [`Email::key`]; in both cases nothing is written.
    ///
    /// # Errors
    /// `Conflict(Duplicate)`, or a store failure.
    async fn insert_user(&mut self, user: UserRecord) -> StoreResult<()>;

    /// The user `id` of this organisation, `None` when there is none (also when the id belongs
    /// to another organisation).
    ///
    /// # Errors
    /// A store failure only.
    async fn user(&mut self, id: UserId) -> StoreResult<Option<Versioned<UserRecord>>>;

    /// Replaces the user `user.id` and returns its new version.
    ///
    /// When the login key changes, the old key MUST be freed and the new one claimed in the
    /// same write. It MUST return `NotFound` when the organisation has no such user,
    /// `Conflict(StaleVersion)` when the stored version is not `expected`, and
    /// `Conflict(Duplicate { what: "login_email" })` when another user of any organisation
    /// holds the new key; on any error nothing is changed.
    ///
    /// # Errors
    /// `NotFound`, `Conflict`, or a store failure.
    async fn update_user(&mut self, user: UserRecord, expected: Version) -> StoreResult<Version>;

    /// Deletes the user `id`, frees its login key, and deletes what hangs off the user: its
    /// API clients (freeing their client ids), the sessions of the user and of those clients,
    /// and its TOTP record.
    ///
    /// It MUST return `NotFound` when the organisation has no such user and
    /// `Conflict(StaleVersion)` without deleting anything when the stored version is not
    /// `expected`.
    ///
    /// # Errors
    /// `NotFound`, `Conflict(StaleVersion)`, or a store failure.
    async fn delete_user(&mut self, id: UserId, expected: Version) -> StoreResult<()>;

    /// The organisation's users, oldest first (ascending id), one page.
    ///
    /// It MUST NOT return users of another organisation and MUST return `InvalidInput` for a
    /// limit outside 1..=500 or a cursor it did not produce. Paging on while users are added
    /// MUST neither skip nor repeat a user that existed when the first page was read.
    ///
    /// # Errors
    /// `InvalidInput`, or a store failure.
    async fn list_users(&mut self, page: PageRequest) -> StoreResult<Page<Versioned<UserRecord>>>;

    /// How many users of the organisation have `role`, whatever their status (the last-Owner
    /// rule of USR-3 counts Owners).
    ///
    /// # Errors
    /// A store failure only.
    async fn count_users_with_role(&mut self, role: Role) -> StoreResult<u64>;

    /// Inserts an API client at [`Version::FIRST`] and claims its client id.
    ///
    /// It MUST return `NotFound` when `client.user` is not a user of this organisation,
    /// `Conflict(Duplicate { what: "api_client" })` when the organisation has a client with
    /// this id, and `Conflict(Duplicate { what: "client_id" })` when any organisation has a
    /// client with the same client id.
    ///
    /// # Errors
    /// `NotFound`, `Conflict(Duplicate)`, or a store failure.
    async fn insert_api_client(&mut self, client: ApiClientRecord) -> StoreResult<()>;

    /// The API client `id` of this organisation, `None` when there is none.
    ///
    /// # Errors
    /// A store failure only.
    async fn api_client(
        &mut self,
        id: ApiClientId,
    ) -> StoreResult<Option<Versioned<ApiClientRecord>>>;

    /// Replaces the API client `client.id` (e.g. to revoke it or rotate its secret) and returns
    /// its new version.
    ///
    /// It MUST return `NotFound` when the organisation has no such client,
    /// `Conflict(StaleVersion)` when the stored version is not `expected`, and `InvalidInput`
    /// when `client_id` or `user` differ from the stored ones (both are fixed for the client's
    /// life); on any error nothing is changed.
    ///
    /// # Errors
    /// `NotFound`, `Conflict(StaleVersion)`, `InvalidInput`, or a store failure.
    async fn update_api_client(
        &mut self,
        client: ApiClientRecord,
        expected: Version,
    ) -> StoreResult<Version>;

    /// Deletes the API client `id`, frees its client id and deletes its sessions.
    ///
    /// It MUST return `NotFound` when the organisation has no such client and
    /// `Conflict(StaleVersion)` without deleting anything when the stored version is not
    /// `expected`.
    ///
    /// # Errors
    /// `NotFound`, `Conflict(StaleVersion)`, or a store failure.
    async fn delete_api_client(&mut self, id: ApiClientId, expected: Version) -> StoreResult<()>;

    /// The organisation's API clients, oldest first (ascending id), only those of `user` when
    /// given, one page.
    ///
    /// It MUST NOT return clients of another organisation and MUST return `InvalidInput` for a
    /// limit outside 1..=500 or a foreign cursor; paging MUST neither skip nor repeat a client.
    ///
    /// # Errors
    /// `InvalidInput`, or a store failure.
    async fn list_api_clients(
        &mut self,
        user: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<Versioned<ApiClientRecord>>>;
}

/// Provider-scoped reads of accounts (ids only), inside a [`crate::ProviderTransaction`].
#[async_trait]
pub trait AccountsProvider: Send {
    /// The organisations that have a customer row, ascending by id, one page (staff search
    /// and maintenance walk them; every further read runs in the organisation's scope).
    ///
    /// It MUST return `InvalidInput` for a limit outside 1..=500 or a foreign cursor, and
    /// paging MUST neither skip nor repeat an organisation.
    ///
    /// # Errors
    /// `InvalidInput`, or a store failure.
    async fn list_orgs(&mut self, page: PageRequest) -> StoreResult<Page<OrgId>>;
}

/// Global lookups of accounts (ids only), on the [`crate::Store`] itself, outside
/// transactions.
#[async_trait]
pub trait AccountsLookup: Send + Sync {
    /// The organisation and id of the user whose login key ([`Email::key`] /
    /// [`Email::login_key`]) is `login_key`; `None` when no user has it (also after the user
    /// changed address or was deleted).
    ///
    /// # Errors
    /// A store failure only.
    async fn user_by_login_key(&self, login_key: &str) -> StoreResult<Option<(OrgId, UserId)>>;

    /// The organisation and row id of the API client with `client_id`; `None` when there is
    /// none (also after it was deleted; a revoked client is still found).
    ///
    /// # Errors
    /// A store failure only.
    async fn api_client_by_client_id(
        &self,
        client_id: ClientId,
    ) -> StoreResult<Option<(OrgId, ApiClientId)>>;
}
