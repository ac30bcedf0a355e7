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
use std::ops::{Bound, Deref};
use std::sync::Arc;

use async_trait::async_trait;
use selfcare_core::ids::OrgId;
use tokio::sync::{Mutex, OwnedMutexGuard};

use crate::error::{StoreError, StoreResult};
use crate::page::{Cursor, MAX_PAGE, Page, PageRequest};
use crate::store::{OrgTransaction, ProviderTransaction, Store};
use crate::version::{Version, Versioned};

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
    yielding: bool,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store that suspends once (returns `Pending`, waking itself) before every
    /// `begin`, `commit` and global lookup, as a networked store would at each round trip.
    /// Tests of cancel-safety use it: a future dropped after any number of polls stops at
    /// one of those points.
    pub fn yielding() -> Self {
        MemoryStore {
            yielding: true,
            ..Self::default()
        }
    }

    /// Locks the state for a global lookup (read only, released at once).
    pub(crate) async fn read(&self) -> OwnedMutexGuard<State> {
        suspend(self.yielding).await;
        Arc::clone(&self.state).lock_owned().await
    }
}

/// Returns `Pending` once (waking its task at once) when `yielding`, else nothing.
async fn suspend(yielding: bool) {
    struct YieldOnce(bool);
    impl std::future::Future for YieldOnce {
        type Output = ();
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            if self.0 {
                std::task::Poll::Ready(())
            } else {
                self.0 = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        }
    }
    if yielding {
        YieldOnce(false).await;
    }
}

/// A table partitioned by organisation: the outer key is the organisation, so every scoped
/// read starts at one organisation's rows (as every SQL primary key starts with the org id).
pub(crate) type OrgTable<K, V> = BTreeMap<OrgId, BTreeMap<K, V>>;

/// The rows of `org` in a per-organisation table (empty when it has none).
pub(crate) fn rows_of<K, V>(table: &OrgTable<K, V>, org: OrgId) -> Option<&BTreeMap<K, V>> {
    table.get(&org)
}

/// The version an update or delete of `stored` writes: the next one.
///
/// # Errors
/// `NotFound` when nothing is stored, `Conflict(StaleVersion)` when `expected` is not the
/// stored version.
pub(crate) fn next_version<V>(
    stored: Option<&Versioned<V>>,
    expected: Version,
) -> StoreResult<Version> {
    let stored = stored.ok_or(StoreError::NotFound)?;
    if stored.version == expected {
        Ok(stored.version.next())
    } else {
        Err(StoreError::stale())
    }
}

/// Checks that `key` is free in `rows` (a flat table, or one organisation's rows).
///
/// # Errors
/// `Conflict(Duplicate { what })` when it is taken.
pub(crate) fn vacant<K: Ord, V>(
    rows: Option<&BTreeMap<K, V>>,
    key: &K,
    what: &'static str,
) -> StoreResult<()> {
    if rows.is_some_and(|rows| rows.contains_key(key)) {
        Err(StoreError::duplicate(what))
    } else {
        Ok(())
    }
}

/// `1..=MAX_PAGE` as a `usize`, for batch sizes that are not pages.
///
/// # Errors
/// `InvalidInput { what }` otherwise.
pub(crate) fn checked_count(n: u32, what: &'static str) -> StoreResult<usize> {
    if n == 0 || n > MAX_PAGE {
        return Err(StoreError::InvalidInput { what });
    }
    usize::try_from(n).map_err(|_| StoreError::InvalidInput { what })
}

/// One step of the undo log: restores what a change overwrote.
type Undo = Box<dyn FnOnce(&mut State) + Send>;

/// The part shared by both kinds of transaction: the lock, the undo log, commit and rollback.
pub(crate) struct Inner {
    state: OwnedMutexGuard<State>,
    undo: Vec<Undo>,
    committed: bool,
    yielding: bool,
}

impl Inner {
    async fn begin(store: &MemoryStore) -> Self {
        suspend(store.yielding).await;
        Inner {
            state: Arc::clone(&store.state).lock_owned().await,
            undo: Vec::new(),
            committed: false,
            yielding: store.yielding,
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

    /// Writes `value` as version `version` of `key` (through [`Inner::put`]); returns the
    /// version.
    pub(crate) fn put_versioned<K, V>(
        &mut self,
        table: fn(&mut State) -> &mut BTreeMap<K, Versioned<V>>,
        key: K,
        value: V,
        version: Version,
    ) -> Version
    where
        K: Ord + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        self.put(table, key, Versioned { value, version });
        version
    }

    /// As [`Inner::put_versioned`], in `org`'s part of a per-organisation table.
    pub(crate) fn put_versioned_in<K, V>(
        &mut self,
        table: fn(&mut State) -> &mut OrgTable<K, Versioned<V>>,
        org: OrgId,
        key: K,
        value: V,
        version: Version,
    ) -> Version
    where
        K: Ord + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        self.put_in(table, org, key, Versioned { value, version });
        version
    }

    /// Takes `key` of a flat table (a global unique index) for `value`.
    ///
    /// Make every other check first: a refusal must leave no write behind, even in a
    /// transaction the caller goes on to commit.
    ///
    /// # Errors
    /// `Conflict(Duplicate { what })` when `key` is taken.
    pub(crate) fn claim<K, V>(
        &mut self,
        table: fn(&mut State) -> &mut BTreeMap<K, V>,
        key: K,
        value: V,
        what: &'static str,
    ) -> StoreResult<()>
    where
        K: Ord + Clone + Send + 'static,
        V: Clone + Send + 'static,
    {
        vacant(Some(table(&mut self.state)), &key, what)?;
        self.put(table, key, value);
        Ok(())
    }

    /// Inserts the one aggregate of `org` in a table holding one per organisation, at
    /// [`Version::FIRST`].
    ///
    /// # Errors
    /// `Conflict(Duplicate { what })` when `org` has one already.
    pub(crate) fn insert_aggregate<V>(
        &mut self,
        table: fn(&mut State) -> &mut BTreeMap<OrgId, Versioned<V>>,
        org: OrgId,
        value: V,
        what: &'static str,
    ) -> StoreResult<Version>
    where
        V: Clone + Send + 'static,
    {
        vacant(Some(table(&mut self.state)), &org, what)?;
        Ok(self.put_versioned(table, org, value, Version::FIRST))
    }

    /// Replaces the one aggregate of `org` in a table holding one per organisation.
    ///
    /// # Errors
    /// As [`next_version`].
    pub(crate) fn update_aggregate<V>(
        &mut self,
        table: fn(&mut State) -> &mut BTreeMap<OrgId, Versioned<V>>,
        org: OrgId,
        value: V,
        expected: Version,
    ) -> StoreResult<Version>
    where
        V: Clone + Send + 'static,
    {
        let version = next_version(table(&mut self.state).get(&org), expected)?;
        Ok(self.put_versioned(table, org, value, version))
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
        suspend(self.inner.yielding).await;
        self.inner.commit();
        Ok(())
    }
}

#[async_trait]
impl ProviderTransaction for MemoryProviderTx {
    async fn commit(mut self: Box<Self>) -> StoreResult<()> {
        suspend(self.inner.yielding).await;
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

/// A composite key, as `first.second` (the parts' text forms contain no `.`).
impl<A: CursorKey, B: CursorKey> CursorKey for (A, B) {
    fn encode(&self) -> String {
        format!("{}.{}", self.0.encode(), self.1.encode())
    }
    fn decode(raw: &str) -> Option<Self> {
        let (a, b) = raw.split_once('.')?;
        Some((A::decode(a)?, B::decode(b)?))
    }
}

/// Keyset pagination over an ordered map, ascending by key: the rows whose key is greater than
/// the cursor that `row` maps to `Some`, at most `page.limit`.
///
/// # Errors
/// `InvalidInput` for a bad limit or a cursor this store did not produce.
pub(crate) fn page_ascending<K, V, T>(
    map: Option<&BTreeMap<K, V>>,
    page: &PageRequest,
    row: impl FnMut(&K, &V) -> Option<T>,
) -> StoreResult<Page<T>>
where
    K: Ord + Clone + CursorKey,
{
    page_map(map, page, false, row)
}

/// As [`page_ascending`], newest first: descending by key (UUID v7 ids sort by creation).
///
/// # Errors
/// As [`page_ascending`].
pub(crate) fn page_descending<K, V, T>(
    map: Option<&BTreeMap<K, V>>,
    page: &PageRequest,
    row: impl FnMut(&K, &V) -> Option<T>,
) -> StoreResult<Page<T>>
where
    K: Ord + Clone + CursorKey,
{
    page_map(map, page, true, row)
}

fn page_map<K, V, T>(
    map: Option<&BTreeMap<K, V>>,
    page: &PageRequest,
    descending: bool,
    row: impl FnMut(&K, &V) -> Option<T>,
) -> StoreResult<Page<T>>
where
    K: Ord + Clone + CursorKey,
{
    let limit = page.checked_limit()?;
    let after = decode_cursor::<K>(page.after.as_ref())?;
    let Some(map) = map else {
        return Ok(Page::empty());
    };
    let rows: Box<dyn Iterator<Item = (&K, &V)>> = match (&after, descending) {
        (Some(a), false) => Box::new(map.range((Bound::Excluded(a), Bound::Unbounded))),
        (Some(a), true) => Box::new(map.range(..a).rev()),
        (None, false) => Box::new(map.iter()),
        (None, true) => Box::new(map.iter().rev()),
    };
    Ok(collect_page(rows.map(|(k, v)| (k.clone(), v)), limit, row))
}

/// The rows of a map keyed `(parent, child)` under one `parent`, by child ascending, after the
/// child `after` (from `min`, the smallest child key, without one). A range scan: the cost
/// follows what is read, not the parent's size.
pub(crate) fn within<P, C, V>(
    map: &BTreeMap<(P, C), V>,
    parent: P,
    after: Option<C>,
    min: C,
) -> impl Iterator<Item = (C, &V)>
where
    P: Ord + Copy,
    C: Ord + Copy,
{
    let start = match after {
        Some(a) => Bound::Excluded((parent, a)),
        None => Bound::Included((parent, min)),
    };
    map.range((start, Bound::Unbounded))
        .take_while(move |((p, _), _)| *p == parent)
        .map(|((_, c), v)| (*c, v))
}

/// Keyset pagination over the rows of one `parent` of a map keyed `(parent, child)` (see
/// [`within`]); the cursor is the last child's key, `row` maps a row to `Some` to keep it.
///
/// # Errors
/// As [`page_ascending`].
pub(crate) fn page_within<P, C, V, T>(
    map: Option<&BTreeMap<(P, C), V>>,
    parent: P,
    min: C,
    page: &PageRequest,
    row: impl FnMut(&C, &V) -> Option<T>,
) -> StoreResult<Page<T>>
where
    P: Ord + Copy,
    C: Ord + Copy + CursorKey,
{
    let limit = page.checked_limit()?;
    let after = decode_cursor::<C>(page.after.as_ref())?;
    let Some(map) = map else {
        return Ok(Page::empty());
    };
    Ok(collect_page(within(map, parent, after, min), limit, row))
}

/// Keyset pagination across every organisation of a per-organisation table, by
/// `(organisation, key)` ascending (a provider scan).
///
/// # Errors
/// As [`page_ascending`].
pub(crate) fn page_across<K, V, T>(
    table: &OrgTable<K, V>,
    page: &PageRequest,
    row: impl FnMut(&(OrgId, K), &V) -> Option<T>,
) -> StoreResult<Page<T>>
where
    K: Ord + Clone + CursorKey,
{
    let limit = page.checked_limit()?;
    let after = decode_cursor::<(OrgId, K)>(page.after.as_ref())?;
    let orgs = match &after {
        Some((org, _)) => table.range(org..),
        None => table.range(..),
    };
    let rows = orgs.flat_map(|(&org, rows)| {
        let keys = match &after {
            Some((after_org, key)) if *after_org == org => {
                rows.range((Bound::Excluded(key), Bound::Unbounded))
            }
            _ => rows.range(..),
        };
        keys.map(move |(k, v)| ((org, k.clone()), v))
    });
    Ok(collect_page(rows, limit, row))
}

fn decode_cursor<K: CursorKey>(cursor: Option<&Cursor>) -> StoreResult<Option<K>> {
    cursor
        .map(|c| K::decode(c.as_str()).ok_or(StoreError::InvalidInput { what: "cursor" }))
        .transpose()
}

/// At most `limit` of the rows that `row` maps to `Some`, with a cursor at the last one when
/// another follows.
fn collect_page<K: CursorKey, V, T>(
    rows: impl Iterator<Item = (K, V)>,
    limit: usize,
    mut row: impl FnMut(&K, V) -> Option<T>,
) -> Page<T> {
    let mut items = Vec::with_capacity(limit.min(64));
    let mut last = None;
    for (k, v) in rows {
        let Some(item) = row(&k, v) else { continue };
        if items.len() == limit {
            let next = last.map(|k: K| Cursor::new(k.encode()));
            return Page { items, next };
        }
        items.push(item);
        last = Some(k);
    }
    Page { items, next: None }
}
