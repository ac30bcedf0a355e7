//! The in-memory reference store: every contract of the ports, no persistence.
//!
//! Transactions are serialised by one asynchronous lock over the whole state, which gives
//! serializable isolation trivially; each change is applied in place and recorded in an undo
//! log, so a transaction dropped without commit (an error, a cancelled future) is rolled back
//! synchronously in `Drop`. Tables are ordered maps, so keyset pagination is a range scan.

mod accounts;
mod addresses;
mod audit;
mod auth;
mod orders;
mod outbox;
mod payments;
mod sims;
mod tickets;
mod usage;

use std::collections::BTreeMap;
use std::ops::Deref;
use std::sync::Arc;

use async_trait::async_trait;
use selfcare_core::ids::OrgId;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{StoreError, StoreResult};
use crate::page::{Cursor, Page, PageRequest};
use crate::store::{OrgTransaction, ProviderTransaction, Store};

/// Every table of the in-memory store, one field per area.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) accounts: accounts::State,
    pub(crate) auth: auth::State,
    pub(crate) addresses: addresses::State,
    pub(crate) payments: payments::State,
    pub(crate) orders: orders::State,
    pub(crate) sims: sims::State,
    pub(crate) usage: usage::State,
    pub(crate) tickets: tickets::State,
    pub(crate) outbox: outbox::State,
    pub(crate) audit: audit::State,
}

/// The in-memory reference [`Store`]. Cheap to clone (clones share the data).
///
/// ```
/// use std::sync::Arc;
/// use selfcare_storage::{MemoryStore, Store};
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// # let _ = store;
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Locks the state for a global lookup (read only, released at once).
    pub(crate) async fn read(&self) -> OwnedMutexGuard<State> {
        Arc::clone(&self.state).lock_owned().await
    }
}

/// A table partitioned by organisation: the outer key is the organisation, so every scoped
/// read starts at one organisation's rows (as every SQL primary key starts with the org id).
pub(crate) type OrgTable<K, V> = BTreeMap<OrgId, BTreeMap<K, V>>;

/// The rows of `org` in a per-organisation table (empty when it has none).
pub(crate) fn rows_of<K, V>(table: &OrgTable<K, V>, org: OrgId) -> Option<&BTreeMap<K, V>> {
    table.get(&org)
}

/// One step of the undo log: restores what a change overwrote.
type Undo = Box<dyn FnOnce(&mut State) + Send>;

/// The part shared by both kinds of transaction: the lock, the undo log, commit and rollback.
pub(crate) struct Inner {
    state: OwnedMutexGuard<State>,
    undo: Vec<Undo>,
    committed: bool,
}

impl Inner {
    async fn begin(store: &MemoryStore) -> Self {
        Inner {
            state: Arc::clone(&store.state).lock_owned().await,
            undo: Vec::new(),
            committed: false,
        }
    }

    /// Inserts or replaces `key` in the table that `table` selects, recording how to undo it.
    /// Returns the previous value.
    pub(crate) fn put<K, V>(
        &mut self,
        table: fn(&mut State) -> &mut BTreeMap<K, V>,
        key: K,
        value: V,
    ) -> Option<V>
    where
        K: Ord + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        let previous = table(&mut self.state).insert(key.clone(), value);
        let old = previous.clone();
        self.undo.push(Box::new(move |state| {
            let t = table(state);
            match old {
                Some(v) => t.insert(key, v),
                None => t.remove(&key),
            };
        }));
        previous
    }

    /// Removes `key` from the table that `table` selects, recording how to undo it.
    pub(crate) fn remove<K, V>(
        &mut self,
        table: fn(&mut State) -> &mut BTreeMap<K, V>,
        key: &K,
    ) -> Option<V>
    where
        K: Ord + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        let previous = table(&mut self.state).remove(key);
        if let Some(old) = previous.clone() {
            let key = key.clone();
            self.undo.push(Box::new(move |state| {
                table(state).insert(key, old);
            }));
        }
        previous
    }

    /// Inserts or replaces `key` in `org`'s part of a per-organisation table, recording how to
    /// undo it. Returns the previous value.
    pub(crate) fn put_in<K, V>(
        &mut self,
        table: fn(&mut State) -> &mut OrgTable<K, V>,
        org: OrgId,
        key: K,
        value: V,
    ) -> Option<V>
    where
        K: Ord + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        let previous = table(&mut self.state)
            .entry(org)
            .or_default()
            .insert(key.clone(), value);
        let old = previous.clone();
        self.undo.push(Box::new(move |state| {
            let rows = table(state).entry(org).or_default();
            match old {
                Some(v) => rows.insert(key, v),
                None => rows.remove(&key),
            };
        }));
        previous
    }

    /// Removes `key` from `org`'s part of a per-organisation table, recording how to undo it.
    pub(crate) fn remove_in<K, V>(
        &mut self,
        table: fn(&mut State) -> &mut OrgTable<K, V>,
        org: OrgId,
        key: &K,
    ) -> Option<V>
    where
        K: Ord + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        let previous = table(&mut self.state)
            .get_mut(&org)
            .and_then(|rows| rows.remove(key));
        if let Some(old) = previous.clone() {
            let key = key.clone();
            self.undo.push(Box::new(move |state| {
                table(state).entry(org).or_default().insert(key, old);
            }));
        }
        previous
    }

    fn commit(&mut self) {
        self.committed = true;
        self.undo.clear();
    }
}

impl Deref for Inner {
    type Target = State;
    fn deref(&self) -> &State {
        &self.state
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        if !self.committed {
            // Undo in reverse order, so a key changed twice ends at its first value.
            while let Some(undo) = self.undo.pop() {
                undo(&mut self.state);
            }
        }
    }
}

/// A transaction of the in-memory store inside one organisation.
pub struct MemoryTx {
    pub(crate) org: OrgId,
    pub(crate) inner: Inner,
}

/// A provider transaction of the in-memory store.
pub struct MemoryProviderTx {
    pub(crate) inner: Inner,
}

#[async_trait]
impl Store for MemoryStore {
    async fn begin(&self, org: OrgId) -> StoreResult<Box<dyn OrgTransaction>> {
        Ok(Box::new(MemoryTx {
            org,
            inner: Inner::begin(self).await,
        }))
    }

    async fn begin_provider(&self) -> StoreResult<Box<dyn ProviderTransaction>> {
        Ok(Box::new(MemoryProviderTx {
            inner: Inner::begin(self).await,
        }))
    }
}

#[async_trait]
impl OrgTransaction for MemoryTx {
    fn org(&self) -> OrgId {
        self.org
    }

    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.inner.commit();
        Ok(())
    }
}

#[async_trait]
impl ProviderTransaction for MemoryProviderTx {
    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        self.inner.commit();
        Ok(())
    }
}

/// A key that can stand in a [`Cursor`]: the in-memory store encodes the last key of a page.
pub(crate) trait CursorKey: Sized {
    /// The text form of the key.
    fn encode(&self) -> String;
    /// Reads the text form back; `None` for text this store did not produce.
    fn decode(raw: &str) -> Option<Self>;
}

impl CursorKey for uuid::Uuid {
    fn encode(&self) -> String {
        self.simple().to_string()
    }
    fn decode(raw: &str) -> Option<Self> {
        uuid::Uuid::try_parse(raw).ok()
    }
}

macro_rules! id_cursor_keys {
    ($($id:ident),*) => {$(
        impl CursorKey for selfcare_core::ids::$id {
            fn encode(&self) -> String {
                self.as_uuid().encode()
            }
            fn decode(raw: &str) -> Option<Self> {
                uuid::Uuid::decode(raw).map(Self::from_uuid)
            }
        }
    )*};
}
id_cursor_keys!(
    OrgId,
    UserId,
    ApiClientId,
    AddressId,
    CardId,
    OrderId,
    DocumentId,
    ShipmentId,
    SimId,
    PlanId,
    ProvisioningId,
    TicketId,
    TicketMessageId,
    PaymentIntentId,
    MessageId,
    AuditEntryId
);

impl CursorKey for String {
    fn encode(&self) -> String {
        self.clone()
    }
    fn decode(raw: &str) -> Option<Self> {
        Some(raw.to_owned())
    }
}

impl CursorKey for u64 {
    fn encode(&self) -> String {
        self.to_string()
    }
    fn decode(raw: &str) -> Option<Self> {
        raw.parse().ok()
    }
}

/// Keyset pagination over an ordered map, ascending by key: the rows whose key is greater than
/// the cursor, filtered by `keep`, at most `page.limit`.
///
/// # Errors
/// `InvalidInput` for a bad limit or a cursor this store did not produce.
pub(crate) fn page_ascending<K, V, T>(
    map: Option<&BTreeMap<K, V>>,
    page: &PageRequest,
    keep: impl Fn(&K, &V) -> bool,
    map_row: impl Fn(&K, &V) -> T,
) -> StoreResult<Page<T>>
where
    K: Ord + CursorKey,
{
    let limit = page.checked_limit()?;
    let after = decode_cursor::<K>(page.after.as_ref())?;
    let Some(map) = map else {
        return Ok(Page::empty());
    };
    let rows = match &after {
        Some(a) => map.range((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
        None => map.range(..),
    };
    collect_page(rows.filter(|(k, v)| keep(k, v)), limit, map_row)
}

/// As [`page_ascending`], newest first: descending by key (UUID v7 ids sort by creation).
///
/// # Errors
/// As [`page_ascending`].
pub(crate) fn page_descending<K, V, T>(
    map: Option<&BTreeMap<K, V>>,
    page: &PageRequest,
    keep: impl Fn(&K, &V) -> bool,
    map_row: impl Fn(&K, &V) -> T,
) -> StoreResult<Page<T>>
where
    K: Ord + CursorKey,
{
    let limit = page.checked_limit()?;
    let after = decode_cursor::<K>(page.after.as_ref())?;
    let Some(map) = map else {
        return Ok(Page::empty());
    };
    let rows = match &after {
        Some(a) => map.range(..a),
        None => map.range(..),
    };
    collect_page(rows.rev().filter(|(k, v)| keep(k, v)), limit, map_row)
}

fn decode_cursor<K: CursorKey>(cursor: Option<&Cursor>) -> StoreResult<Option<K>> {
    cursor
        .map(|c| K::decode(c.as_str()).ok_or(StoreError::InvalidInput { what: "cursor" }))
        .transpose()
}

fn collect_page<'a, K, V, T>(
    rows: impl Iterator<Item = (&'a K, &'a V)>,
    limit: usize,
    map_row: impl Fn(&K, &V) -> T,
) -> StoreResult<Page<T>>
where
    K: CursorKey + 'a,
    V: 'a,
{
    let mut items = Vec::with_capacity(limit.min(64));
    let mut last = None;
    let mut more = false;
    for (k, v) in rows {
        if items.len() == limit {
            more = true;
            break;
        }
        items.push(map_row(k, v));
        last = Some(k);
    }
    let next = if more {
        last.map(|k| Cursor::new(k.encode()))
    } else {
        None
    };
    Ok(Page { items, next })
}
