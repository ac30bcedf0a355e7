//! The `Store` port: transactions scoped to one organisation, provider transactions, and the
//! closed list of global lookups (DESIGN §1, "Scopes").
//!
//! Tenant isolation holds by construction: an [`OrgTransaction`] is opened for one organisation
//! and none of its methods takes an organisation id, so a scoped read cannot name another one.
//! The only ways across organisations are the lookups of the `*Lookup` traits (ids only) and the
//! [`ProviderTransaction`] (ids and due times only).

use async_trait::async_trait;
use selfcare_core::ids::OrgId;

use crate::error::StoreResult;

/// A store: every aggregate the rules need, behind transactions.
///
/// Implementations MUST be usable as `Arc<dyn Store>` from many tasks at once, MUST make each
/// transaction all-or-nothing, and MUST pass the conformance suite of this crate
/// (feature `conformance`).
///
/// Global lookups see committed rows only and MAY wait while another transaction is open
/// (the in-memory store serialises everything behind one lock). Callers therefore MUST NOT
/// call a lookup from a task that holds an open transaction of the same store: resolve the
/// organisation first, then begin its transaction.
#[async_trait]
pub trait Store:
    crate::accounts::AccountsLookup
    + crate::auth::AuthLookup
    + crate::orders::OrdersLookup
    + crate::sims::SimsLookup
    + crate::usage::UsageLookup
    + Send
    + Sync
{
    /// Opens a transaction in the organisation `org`.
    ///
    /// It MUST see only that organisation's rows and MUST write nothing until
    /// [`OrgTransaction::commit`]; dropping it without commit MUST leave the store unchanged.
    ///
    /// # Errors
    /// `Retryable` when the store is busy; `Unavailable` when it cannot be reached.
    async fn begin(&self, org: OrgId) -> StoreResult<Box<dyn OrgTransaction>>;

    /// Opens a provider transaction (maintenance, dispatch, staff queues, throttling).
    ///
    /// # Errors
    /// As [`Store::begin`].
    async fn begin_provider(&self) -> StoreResult<Box<dyn ProviderTransaction>>;
}

/// A transaction inside one organisation.
#[async_trait]
pub trait OrgTransaction:
    crate::accounts::AccountsTx
    + crate::auth::AuthTx
    + crate::addresses::AddressesTx
    + crate::payments::PaymentsTx
    + crate::orders::OrdersTx
    + crate::sims::SimsTx
    + crate::usage::UsageTx
    + crate::tickets::TicketsTx
    + crate::outbox::OutboxTx
    + crate::audit::AuditTx
    + Send
{
    /// The organisation this transaction works in.
    fn org(&self) -> OrgId;

    /// Makes every change of this transaction durable at once.
    ///
    /// # Errors
    /// `Retryable` on a serialization failure or deadlock (nothing was written);
    /// `Unavailable` when the outcome is unknown.
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}

/// A provider transaction: reads across organisations return ids and due times only.
#[async_trait]
pub trait ProviderTransaction:
    crate::accounts::AccountsProvider
    + crate::auth::AuthProvider
    + crate::payments::PaymentsProvider
    + crate::sims::SimsProvider
    + crate::tickets::TicketsProvider
    + crate::outbox::OutboxProvider
    + crate::audit::AuditProvider
    + Send
{
    /// Makes every change of this transaction durable at once.
    ///
    /// # Errors
    /// As [`OrgTransaction::commit`].
    async fn commit(self: Box<Self>) -> StoreResult<()>;
}
