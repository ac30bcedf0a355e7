//! Tests of the conformance suite itself: broken stores, each of which must fail a named case.
//!
//! [`Broken`] wraps the in-memory store and delegates every method to it, except where its
//! [`Fault`] changes behaviour. With [`Fault::None`] it passes the whole suite (the wrapper is
//! faithful); with every other fault, the cases whose contract the fault breaks must fail.
//! Version and page faults are also injected into one method at a time, so every versioned
//! write and every paged list is shown to be checked by some case (known gaps are listed).
//!
//! The wrapper never calls a lookup, and opens its extra transactions (`LeakAcrossOrgs`,
//! `HalfCommit`) only while none of its own is open: the memory store has one lock.
//! This is the proof that the suite can fail.

use std::any::Any;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use selfcare_core::address::AddressBook;
use selfcare_core::audit::{AuditEntry, ChainHead};
use selfcare_core::ids::{
    ApiClientId, DocumentId, MessageId, OrderId, OrgId, PaymentIntentId, PlanId, ProvisioningId,
    SimId, TicketId, UserId,
};
use selfcare_core::numbers::Iccid;
use selfcare_core::orders::{IdempotencyKey, Order, OrderNumber, PaymentIntentState};
use selfcare_core::payment::PaymentSettings;
use selfcare_core::plans::Plan;
use selfcare_core::quota::UsageRecordId;
use selfcare_core::roles::{Department, Role};
use selfcare_core::sims::Sim;
use selfcare_core::throttle::FailureCounter;
use selfcare_core::tickets::TicketStatus;
use selfcare_core::tokens::{ClientId, TokenHash, TokenLifetimes};
use selfcare_storage::accounts::{
    AccountsLookup, AccountsProvider, AccountsTx, ApiClientRecord, CustomerRecord, UserRecord,
};
use selfcare_storage::addresses::AddressesTx;
use selfcare_storage::audit::{AuditProvider, AuditTx};
use selfcare_storage::auth::{
    AuthLookup, AuthProvider, AuthTx, SessionRecord, TokenRecord, TotpRecord,
};
use selfcare_storage::conformance::{self, Report};
use selfcare_storage::orders::{OrderDocument, OrderRecord, OrdersLookup, OrdersTx};
use selfcare_storage::outbox::{OutboxMessage, OutboxProvider, OutboxTx};
use selfcare_storage::page::MAX_PAGE;
use selfcare_storage::payments::{
    DueIntent, IdempotencyRecord, PaymentIntentRecord, PaymentsProvider, PaymentsTx,
};
use selfcare_storage::sims::{
    PlanRecord, ProvisioningRecord, ProvisioningRequest, SimFilter, SimRecord, SimsLookup,
    SimsProvider, SimsTx,
};
use selfcare_storage::tickets::{
    DueTicket, StaffQueueEntry, TicketMessageRecord, TicketRecord, TicketsProvider, TicketsTx,
};
use selfcare_storage::usage::{QuotaRecord, UsageLookup, UsageTx};
use selfcare_storage::{
    Cursor, MemoryStore, OrgTransaction, Page, PageRequest, ProviderTransaction, Store, StoreError,
    StoreResult, Version, Versioned,
};
use time::OffsetDateTime;

/// What a [`Broken`] store gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// Nothing: the control.
    None,
    /// Every write that takes an expected version passes the stored one instead.
    IgnoreVersions,
    /// `list_users`/`user` and `list_orders`/`order` also return other organisations' rows.
    LeakAcrossOrgs,
    /// The first write of an organisation transaction is committed at once.
    HalfCommit,
    /// Every non-final page drops its last row (the cursor still points past it).
    PageSkip,
    /// Every page after the first starts with the last row of the page before.
    PageRepeat,
    /// An idempotency record replays other result bytes than were stored.
    IdempotencyReplay,
    /// A message leased once is never handed out again, even after its lease ended.
    OutboxLeaseLoss,
}

/// A fault, in every method or only in the one named (`provider.` prefixes the methods of
/// provider transactions that share a name with an organisation transaction's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Bug {
    fault: Fault,
    only: Option<&'static str>,
}

impl Bug {
    fn everywhere(fault: Fault) -> Self {
        Bug { fault, only: None }
    }

    fn hits(self, fault: Fault, method: &str) -> bool {
        self.fault == fault && self.only.is_none_or(|m| m == method)
    }
}

/// State shared by a broken store and its transactions.
#[derive(Default)]
struct Shared {
    /// Every organisation a transaction was opened for (`LeakAcrossOrgs`).
    orgs: BTreeSet<OrgId>,
    /// Every message leased so far (`OutboxLeaseLoss`).
    leased: BTreeSet<(OrgId, MessageId)>,
    /// The last row of a page, by the page's next cursor (`PageRepeat`).
    held_back: HashMap<String, Box<dyn Any + Send>>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Applies the page faults to a page that `method` read after `after`.
fn bend<T: Clone + Send + 'static>(
    bug: Bug,
    method: &str,
    shared: &Mutex<Shared>,
    after: Option<Cursor>,
    mut page: Page<T>,
) -> Page<T> {
    if bug.hits(Fault::PageSkip, method) && page.next.is_some() {
        page.items.pop();
    }
    if bug.hits(Fault::PageRepeat, method) {
        let mut shared = lock(shared);
        let held = after.and_then(|c| shared.held_back.get(c.as_str()).map(|b| &**b));
        if let Some(row) = held.and_then(|b| b.downcast_ref::<T>()) {
            page.items.insert(0, row.clone());
        }
        if let (Some(next), Some(last)) = (&page.next, page.items.last()) {
            let row: Box<dyn Any + Send> = Box::new(last.clone());
            shared.held_back.insert(next.as_str().to_owned(), row);
        }
    }
    page
}

/// Other organisations' rows a `LeakAcrossOrgs` transaction mixes into its reads.
#[derive(Default)]
struct Leaked {
    users: Vec<Versioned<UserRecord>>,
    orders: Vec<OrderRecord>,
}

/// The in-memory store with one [`Fault`].
struct Broken {
    inner: MemoryStore,
    bug: Bug,
    shared: Arc<Mutex<Shared>>,
}

impl Broken {
    fn new(bug: Bug) -> Self {
        Broken {
            inner: MemoryStore::new(),
            bug,
            shared: Arc::default(),
        }
    }

    /// Under `LeakAcrossOrgs`, every user and order of the other organisations seen so far.
    /// Read before `org`'s own transaction opens: the memory store has one lock, so a second
    /// transaction may not be opened while one is.
    async fn foreign_rows(&self, org: OrgId) -> StoreResult<Leaked> {
        let mut leaked = Leaked::default();
        if self.bug.fault != Fault::LeakAcrossOrgs {
            return Ok(leaked);
        }
        let others: Vec<OrgId> = lock(&self.shared).orgs.iter().copied().collect();
        for other in others.into_iter().filter(|o| *o != org) {
            let mut tx = self.inner.begin(other).await?;
            let mut request = PageRequest::first(MAX_PAGE);
            loop {
                let page = tx.list_users(request).await?;
                leaked.users.extend(page.items);
                let Some(next) = page.next else { break };
                request = PageRequest::after(next, MAX_PAGE);
            }
            let mut request = PageRequest::first(MAX_PAGE);
            loop {
                let page = tx.list_orders(&request).await?;
                leaked.orders.extend(page.items);
                let Some(next) = page.next else { break };
                request = PageRequest::after(next, MAX_PAGE);
            }
        }
        Ok(leaked)
    }
}

#[async_trait]
impl Store for Broken {
    async fn begin(&self, org: OrgId) -> StoreResult<Box<dyn OrgTransaction>> {
        lock(&self.shared).orgs.insert(org);
        let leaked = self.foreign_rows(org).await?;
        Ok(Box::new(BrokenTx {
            inner: Some(self.inner.begin(org).await?),
            store: self.inner.clone(),
            org,
            bug: self.bug,
            shared: Arc::clone(&self.shared),
            split: false,
            leaked,
        }))
    }

    async fn begin_provider(&self) -> StoreResult<Box<dyn ProviderTransaction>> {
        Ok(Box::new(BrokenProviderTx {
            inner: self.inner.begin_provider().await?,
            bug: self.bug,
            shared: Arc::clone(&self.shared),
        }))
    }
}

// -- Global lookups: delegated unchanged. --

#[async_trait]
impl AccountsLookup for Broken {
    async fn user_by_login_key(&self, login_key: &str) -> StoreResult<Option<(OrgId, UserId)>> {
        self.inner.user_by_login_key(login_key).await
    }
    async fn api_client_by_client_id(
        &self,
        client_id: ClientId,
    ) -> StoreResult<Option<(OrgId, ApiClientId)>> {
        self.inner.api_client_by_client_id(client_id).await
    }
}

#[async_trait]
impl AuthLookup for Broken {
    async fn session_by_hash(&self, hash: TokenHash) -> StoreResult<Option<(OrgId, TokenHash)>> {
        self.inner.session_by_hash(hash).await
    }
    async fn token_by_hash(&self, hash: TokenHash) -> StoreResult<Option<(OrgId, TokenHash)>> {
        self.inner.token_by_hash(hash).await
    }
}

#[async_trait]
impl OrdersLookup for Broken {
    async fn order_by_number(&self, number: &OrderNumber) -> StoreResult<Option<(OrgId, OrderId)>> {
        self.inner.order_by_number(number).await
    }
}

#[async_trait]
impl SimsLookup for Broken {
    async fn sim_by_iccid(&self, iccid: &Iccid) -> StoreResult<Option<(OrgId, SimId)>> {
        self.inner.sim_by_iccid(iccid).await
    }

    async fn provisioning_by_id(
        &self,
        id: selfcare_core::ids::ProvisioningId,
    ) -> StoreResult<Option<(OrgId, selfcare_core::ids::PlanId)>> {
        self.inner.provisioning_by_id(id).await
    }
}

#[async_trait]
impl UsageLookup for Broken {
    async fn sim_by_usage_record(
        &self,
        record_id: &UsageRecordId,
    ) -> StoreResult<Option<(OrgId, SimId)>> {
        self.inner.sim_by_usage_record(record_id).await
    }
}

/// An organisation transaction of a [`Broken`] store.
struct BrokenTx {
    /// `None` only when `HalfCommit` could not reopen a transaction after its first write.
    inner: Option<Box<dyn OrgTransaction>>,
    store: MemoryStore,
    org: OrgId,
    bug: Bug,
    shared: Arc<Mutex<Shared>>,
    /// `HalfCommit`: the first write has been committed.
    split: bool,
    leaked: Leaked,
}

impl BrokenTx {
    fn tx(&mut self) -> StoreResult<&mut (dyn OrgTransaction + 'static)> {
        self.inner
            .as_deref_mut()
            .ok_or_else(|| StoreError::Internal {
                reason: "the half-committed transaction was not reopened".into(),
            })
    }

    /// Called after every write: under `HalfCommit`, commits the first one and goes on in a new
    /// transaction, so dropping this one leaves that write behind.
    async fn wrote<T: Send>(&mut self, result: StoreResult<T>) -> StoreResult<T> {
        if self.bug.fault == Fault::HalfCommit && !self.split {
            self.split = true;
            if let Some(first) = self.inner.take() {
                first.commit().await?;
            }
            self.inner = Some(self.store.begin(self.org).await?);
        }
        result
    }

    fn bend<T: Clone + Send + 'static>(
        &self,
        method: &str,
        after: Option<Cursor>,
        page: Page<T>,
    ) -> Page<T> {
        bend(self.bug, method, &self.shared, after, page)
    }
}

/// Delegates a write that takes an expected version `$v`; under `IgnoreVersions` it passes
/// the stored version instead (read by `$read`) when there is a row.
macro_rules! versioned {
    ($s:ident, $v:ident, $read:ident($($ra:tt)*), $write:ident($($wa:tt)*)) => {{
        let $v = if $s.bug.hits(Fault::IgnoreVersions, stringify!($write)) {
            $s.tx()?.$read($($ra)*).await?.map_or($v, |row| row.version)
        } else {
            $v
        };
        wrote!($s, $write($($wa)*))
    }};
}

/// Delegates a write of an organisation transaction (see [`BrokenTx::wrote`]).
macro_rules! wrote {
    ($s:ident, $($call:tt)+) => {{
        let result = $s.tx()?.$($call)+.await;
        $s.wrote(result).await
    }};
}

/// Delegates a paged read and applies the page faults.
macro_rules! paged {
    ($s:ident, $request:expr, $method:ident($($args:tt)*)) => {{
        let after = $request.after.clone();
        let page = $s.tx()?.$method($($args)*).await?;
        Ok($s.bend(stringify!($method), after, page))
    }};
}

#[async_trait]
impl OrgTransaction for BrokenTx {
    fn org(&self) -> OrgId {
        self.org
    }
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        match self.inner {
            Some(tx) => tx.commit().await,
            None => Err(StoreError::Internal {
                reason: "the half-committed transaction was not reopened".into(),
            }),
        }
    }
}

#[async_trait]
impl AccountsTx for BrokenTx {
    async fn insert_customer(&mut self, record: CustomerRecord) -> StoreResult<()> {
        wrote!(self, insert_customer(record))
    }
    async fn customer(&mut self) -> StoreResult<Option<Versioned<CustomerRecord>>> {
        self.tx()?.customer().await
    }
    async fn update_customer(
        &mut self,
        record: CustomerRecord,
        v: Version,
    ) -> StoreResult<Version> {
        versioned!(self, v, customer(), update_customer(record, v))
    }
    async fn insert_user(&mut self, user: UserRecord) -> StoreResult<()> {
        wrote!(self, insert_user(user))
    }
    async fn user(&mut self, id: UserId) -> StoreResult<Option<Versioned<UserRecord>>> {
        let own = self.tx()?.user(id).await?;
        Ok(own.or_else(|| self.leaked.users.iter().find(|u| u.value.id == id).cloned()))
    }
    async fn update_user(&mut self, user: UserRecord, v: Version) -> StoreResult<Version> {
        versioned!(self, v, user(user.id), update_user(user, v))
    }
    async fn delete_user(&mut self, id: UserId, v: Version) -> StoreResult<()> {
        versioned!(self, v, user(id), delete_user(id, v))
    }
    async fn list_users(&mut self, page: PageRequest) -> StoreResult<Page<Versioned<UserRecord>>> {
        let mut page = paged!(self, page, list_users(page))?;
        if page.next.is_none() {
            page.items.extend(self.leaked.users.iter().cloned());
        }
        Ok(page)
    }
    async fn count_users_with_role(&mut self, role: Role) -> StoreResult<u64> {
        self.tx()?.count_users_with_role(role).await
    }
    async fn insert_api_client(&mut self, client: ApiClientRecord) -> StoreResult<()> {
        wrote!(self, insert_api_client(client))
    }
    async fn api_client(
        &mut self,
        id: ApiClientId,
    ) -> StoreResult<Option<Versioned<ApiClientRecord>>> {
        self.tx()?.api_client(id).await
    }
    async fn update_api_client(
        &mut self,
        client: ApiClientRecord,
        v: Version,
    ) -> StoreResult<Version> {
        versioned!(self, v, api_client(client.id), update_api_client(client, v))
    }
    async fn delete_api_client(&mut self, id: ApiClientId, v: Version) -> StoreResult<()> {
        versioned!(self, v, api_client(id), delete_api_client(id, v))
    }
    async fn list_api_clients(
        &mut self,
        user: Option<UserId>,
        page: PageRequest,
    ) -> StoreResult<Page<Versioned<ApiClientRecord>>> {
        paged!(self, page, list_api_clients(user, page))
    }
}

#[async_trait]
impl AuthTx for BrokenTx {
    async fn insert_session(&mut self, session: SessionRecord) -> StoreResult<()> {
        wrote!(self, insert_session(session))
    }
    async fn session(&mut self, hash: TokenHash) -> StoreResult<Option<Versioned<SessionRecord>>> {
        self.tx()?.session(hash).await
    }
    async fn update_session(&mut self, session: SessionRecord, v: Version) -> StoreResult<Version> {
        versioned!(
            self,
            v,
            session(session.token_hash),
            update_session(session, v)
        )
    }
    async fn touch_session(&mut self, hash: TokenHash, now: OffsetDateTime) -> StoreResult<()> {
        wrote!(self, touch_session(hash, now))
    }
    async fn delete_session(&mut self, hash: TokenHash) -> StoreResult<bool> {
        wrote!(self, delete_session(hash))
    }
    async fn delete_user_sessions(
        &mut self,
        user: UserId,
        keep: Option<TokenHash>,
    ) -> StoreResult<u64> {
        wrote!(self, delete_user_sessions(user, keep))
    }
    async fn delete_api_client_sessions(
        &mut self,
        client: selfcare_core::ids::ApiClientId,
    ) -> StoreResult<u64> {
        wrote!(self, delete_api_client_sessions(client))
    }
    async fn insert_token(&mut self, token: TokenRecord) -> StoreResult<()> {
        wrote!(self, insert_token(token))
    }
    async fn token(&mut self, hash: TokenHash) -> StoreResult<Option<Versioned<TokenRecord>>> {
        self.tx()?.token(hash).await
    }
    async fn mark_token_used(
        &mut self,
        hash: TokenHash,
        at: OffsetDateTime,
        v: Version,
    ) -> StoreResult<Version> {
        versioned!(self, v, token(hash), mark_token_used(hash, at, v))
    }
    async fn delete_token(&mut self, hash: TokenHash) -> StoreResult<bool> {
        wrote!(self, delete_token(hash))
    }
    async fn insert_totp(&mut self, totp: TotpRecord) -> StoreResult<()> {
        wrote!(self, insert_totp(totp))
    }
    async fn totp(&mut self, user: UserId) -> StoreResult<Option<Versioned<TotpRecord>>> {
        self.tx()?.totp(user).await
    }
    async fn update_totp(&mut self, totp: TotpRecord, v: Version) -> StoreResult<Version> {
        versioned!(self, v, totp(totp.user), update_totp(totp, v))
    }
    async fn delete_totp(&mut self, user: UserId, v: Version) -> StoreResult<()> {
        versioned!(self, v, totp(user), delete_totp(user, v))
    }
}

#[async_trait]
impl AddressesTx for BrokenTx {
    async fn address_book(&mut self) -> StoreResult<Option<Versioned<AddressBook>>> {
        self.tx()?.address_book().await
    }
    async fn insert_address_book(&mut self, book: AddressBook) -> StoreResult<Version> {
        wrote!(self, insert_address_book(book))
    }
    async fn update_address_book(&mut self, book: AddressBook, v: Version) -> StoreResult<Version> {
        versioned!(self, v, address_book(), update_address_book(book, v))
    }
}

#[async_trait]
impl PaymentsTx for BrokenTx {
    async fn payment_settings(&mut self) -> StoreResult<Option<Versioned<PaymentSettings>>> {
        self.tx()?.payment_settings().await
    }
    async fn insert_payment_settings(&mut self, settings: PaymentSettings) -> StoreResult<Version> {
        wrote!(self, insert_payment_settings(settings))
    }
    async fn update_payment_settings(
        &mut self,
        settings: PaymentSettings,
        v: Version,
    ) -> StoreResult<Version> {
        versioned!(
            self,
            v,
            payment_settings(),
            update_payment_settings(settings, v)
        )
    }
    async fn insert_payment_intent(&mut self, intent: PaymentIntentRecord) -> StoreResult<Version> {
        wrote!(self, insert_payment_intent(intent))
    }
    async fn payment_intent(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
        self.tx()?.payment_intent(key).await
    }
    async fn payment_intent_by_id(
        &mut self,
        id: PaymentIntentId,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
        self.tx()?.payment_intent_by_id(id).await
    }
    async fn update_payment_intent(
        &mut self,
        intent: PaymentIntentRecord,
        v: Version,
    ) -> StoreResult<Version> {
        versioned!(
            self,
            v,
            payment_intent_by_id(intent.id),
            update_payment_intent(intent, v)
        )
    }
    async fn insert_idempotency_record(&mut self, record: IdempotencyRecord) -> StoreResult<()> {
        wrote!(self, insert_idempotency_record(record))
    }
    async fn idempotency_record(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let mut record = self.tx()?.idempotency_record(key).await?;
        if let (Fault::IdempotencyReplay, Some(r)) = (self.bug.fault, record.as_mut()) {
            r.result.push(b'!');
        }
        Ok(record)
    }
}

#[async_trait]
impl OrdersTx for BrokenTx {
    async fn insert_order(&mut self, order: Order) -> StoreResult<Version> {
        wrote!(self, insert_order(order))
    }
    async fn order(&mut self, id: OrderId) -> StoreResult<Option<OrderRecord>> {
        let own = self.tx()?.order(id).await?;
        Ok(own.or_else(|| {
            self.leaked
                .orders
                .iter()
                .find(|o| o.value.id == id)
                .cloned()
        }))
    }
    async fn update_order(&mut self, order: Order, v: Version) -> StoreResult<Version> {
        versioned!(self, v, order(order.id), update_order(order, v))
    }
    async fn list_orders(&mut self, page: &PageRequest) -> StoreResult<Page<OrderRecord>> {
        let mut page = paged!(self, page, list_orders(page))?;
        if page.next.is_none() {
            page.items.extend(self.leaked.orders.iter().cloned());
        }
        Ok(page)
    }
    async fn insert_document(&mut self, document: OrderDocument) -> StoreResult<()> {
        wrote!(self, insert_document(document))
    }
    async fn document(&mut self, id: DocumentId) -> StoreResult<Option<OrderDocument>> {
        self.tx()?.document(id).await
    }
    async fn list_order_documents(
        &mut self,
        order: OrderId,
        page: &PageRequest,
    ) -> StoreResult<Page<OrderDocument>> {
        paged!(self, page, list_order_documents(order, page))
    }
    async fn put_document_bytes(&mut self, id: DocumentId, bytes: Vec<u8>) -> StoreResult<()> {
        wrote!(self, put_document_bytes(id, bytes))
    }
    async fn document_bytes(&mut self, id: DocumentId) -> StoreResult<Option<Vec<u8>>> {
        self.tx()?.document_bytes(id).await
    }
}

#[async_trait]
impl SimsTx for BrokenTx {
    async fn insert_sims(&mut self, sims: Vec<Sim>) -> StoreResult<()> {
        wrote!(self, insert_sims(sims))
    }
    async fn sim(&mut self, id: SimId) -> StoreResult<Option<SimRecord>> {
        self.tx()?.sim(id).await
    }
    async fn update_sim(&mut self, sim: Sim, v: Version) -> StoreResult<Version> {
        versioned!(self, v, sim(sim.id), update_sim(sim, v))
    }
    async fn list_sims(
        &mut self,
        filter: &SimFilter,
        page: &PageRequest,
    ) -> StoreResult<Page<SimRecord>> {
        paged!(self, page, list_sims(filter, page))
    }
    async fn order_sims(
        &mut self,
        order: OrderId,
        after: Option<SimId>,
        batch: u32,
    ) -> StoreResult<Vec<SimRecord>> {
        self.tx()?.order_sims(order, after, batch).await
    }
    async fn insert_plan(&mut self, plan: Plan) -> StoreResult<Version> {
        wrote!(self, insert_plan(plan))
    }
    async fn plan(&mut self, id: PlanId) -> StoreResult<Option<PlanRecord>> {
        self.tx()?.plan(id).await
    }
    async fn update_plan(&mut self, plan: Plan, v: Version) -> StoreResult<Version> {
        versioned!(self, v, plan(plan.id()), update_plan(plan, v))
    }
    async fn list_plans(&mut self, page: &PageRequest) -> StoreResult<Page<PlanRecord>> {
        paged!(self, page, list_plans(page))
    }
    async fn insert_provisioning(&mut self, request: ProvisioningRequest) -> StoreResult<Version> {
        wrote!(self, insert_provisioning(request))
    }
    async fn provisioning(
        &mut self,
        id: ProvisioningId,
    ) -> StoreResult<Option<ProvisioningRecord>> {
        self.tx()?.provisioning(id).await
    }
    async fn update_provisioning(
        &mut self,
        request: ProvisioningRequest,
        v: Version,
    ) -> StoreResult<Version> {
        versioned!(
            self,
            v,
            provisioning(request.id),
            update_provisioning(request, v)
        )
    }
}

#[async_trait]
impl UsageTx for BrokenTx {
    async fn get_quota(&mut self, sim: SimId) -> StoreResult<Option<Versioned<QuotaRecord>>> {
        self.tx()?.get_quota(sim).await
    }
    async fn insert_quota(&mut self, record: QuotaRecord) -> StoreResult<Version> {
        wrote!(self, insert_quota(record))
    }
    async fn update_quota(&mut self, record: QuotaRecord, v: Version) -> StoreResult<Version> {
        versioned!(self, v, get_quota(record.sim()), update_quota(record, v))
    }
    async fn record_seen(&mut self, record_id: &UsageRecordId, sim: SimId) -> StoreResult<()> {
        wrote!(self, record_seen(record_id, sim))
    }
    async fn seen_usage_record(&mut self, record_id: &UsageRecordId) -> StoreResult<Option<SimId>> {
        self.tx()?.seen_usage_record(record_id).await
    }
}

#[async_trait]
impl TicketsTx for BrokenTx {
    async fn insert_ticket(&mut self, ticket: TicketRecord) -> StoreResult<Version> {
        wrote!(self, insert_ticket(ticket))
    }
    async fn get_ticket(&mut self, id: TicketId) -> StoreResult<Option<Versioned<TicketRecord>>> {
        self.tx()?.get_ticket(id).await
    }
    async fn update_ticket(&mut self, ticket: TicketRecord, v: Version) -> StoreResult<Version> {
        versioned!(self, v, get_ticket(ticket.id), update_ticket(ticket, v))
    }
    async fn list_tickets(
        &mut self,
        status: Option<TicketStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Versioned<TicketRecord>>> {
        paged!(self, page, list_tickets(status, page))
    }
    async fn insert_ticket_message(&mut self, message: TicketMessageRecord) -> StoreResult<()> {
        wrote!(self, insert_ticket_message(message))
    }
    async fn ticket_messages(
        &mut self,
        ticket: TicketId,
        page: &PageRequest,
    ) -> StoreResult<Page<TicketMessageRecord>> {
        paged!(self, page, ticket_messages(ticket, page))
    }
}

#[async_trait]
impl OutboxTx for BrokenTx {
    async fn enqueue_outbox_message(&mut self, message: OutboxMessage) -> StoreResult<()> {
        wrote!(self, enqueue_outbox_message(message))
    }
    async fn get_outbox_message(&mut self, id: MessageId) -> StoreResult<Option<OutboxMessage>> {
        self.tx()?.get_outbox_message(id).await
    }
    async fn outbox_mark_delivered(
        &mut self,
        id: MessageId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        wrote!(self, outbox_mark_delivered(id, at))
    }
    async fn outbox_mark_failed(
        &mut self,
        id: MessageId,
        next_attempt_at: OffsetDateTime,
        dead: bool,
        error: String,
    ) -> StoreResult<()> {
        wrote!(self, outbox_mark_failed(id, next_attempt_at, dead, error))
    }
}

#[async_trait]
impl AuditTx for BrokenTx {
    async fn append_audit(
        &mut self,
        after: ChainHead,
        entry: AuditEntry,
    ) -> StoreResult<ChainHead> {
        wrote!(self, append_audit(after, entry))
    }
    async fn audit_head(&mut self) -> StoreResult<ChainHead> {
        self.tx()?.audit_head().await
    }
    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        paged!(self, page, audit_entries(page))
    }
    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()> {
        wrote!(self, erase_audit_personal(seq))
    }
}

/// A provider transaction of a [`Broken`] store (`HalfCommit` leaves provider transactions
/// alone).
struct BrokenProviderTx {
    inner: Box<dyn ProviderTransaction>,
    bug: Bug,
    shared: Arc<Mutex<Shared>>,
}

impl BrokenProviderTx {
    #[allow(clippy::unnecessary_wraps)] // the shape of `BrokenTx::tx`, for the macros
    fn tx(&mut self) -> StoreResult<&mut (dyn ProviderTransaction + 'static)> {
        Ok(self.inner.as_mut())
    }

    fn bend<T: Clone + Send + 'static>(
        &self,
        method: &str,
        after: Option<Cursor>,
        page: Page<T>,
    ) -> Page<T> {
        let method = format!("provider.{method}");
        bend(self.bug, &method, &self.shared, after, page)
    }
}

#[async_trait]
impl ProviderTransaction for BrokenProviderTx {
    async fn commit(self: Box<Self>) -> StoreResult<()> {
        self.inner.commit().await
    }
}

#[async_trait]
impl AccountsProvider for BrokenProviderTx {
    async fn list_orgs(&mut self, page: PageRequest) -> StoreResult<Page<OrgId>> {
        paged!(self, page, list_orgs(page))
    }
}

#[async_trait]
impl AuthProvider for BrokenProviderTx {
    async fn expired_tokens(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>> {
        self.tx()?.expired_tokens(now, lifetimes, max).await
    }
    async fn expired_sessions(
        &mut self,
        now: OffsetDateTime,
        lifetimes: &TokenLifetimes,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, TokenHash)>> {
        self.tx()?.expired_sessions(now, lifetimes, max).await
    }
    async fn throttle_counter(
        &mut self,
        key: &str,
    ) -> StoreResult<Option<Versioned<FailureCounter>>> {
        self.tx()?.throttle_counter(key).await
    }
    async fn put_throttle_counter(
        &mut self,
        key: &str,
        counter: FailureCounter,
        v: Option<Version>,
    ) -> StoreResult<Version> {
        let v = if self.bug.hits(Fault::IgnoreVersions, "put_throttle_counter") {
            self.tx()?.throttle_counter(key).await?.map(|c| c.version)
        } else {
            v
        };
        self.tx()?.put_throttle_counter(key, counter, v).await
    }
    async fn delete_throttle_counter(&mut self, key: &str) -> StoreResult<bool> {
        self.tx()?.delete_throttle_counter(key).await
    }
    async fn purge_throttle_counters(&mut self, before: OffsetDateTime) -> StoreResult<u64> {
        self.tx()?.purge_throttle_counters(before).await
    }
}

#[async_trait]
impl PaymentsProvider for BrokenProviderTx {
    async fn due_payment_intents(
        &mut self,
        state: PaymentIntentState,
        leased_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueIntent>> {
        paged!(self, page, due_payment_intents(state, leased_before, page))
    }
    async fn purge_idempotency_records(&mut self, before: OffsetDateTime) -> StoreResult<u64> {
        self.tx()?.purge_idempotency_records(before).await
    }
}

#[async_trait]
impl SimsProvider for BrokenProviderTx {
    async fn pending_provisioning_before(
        &mut self,
        cutoff: OffsetDateTime,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, ProvisioningId, OffsetDateTime)>> {
        self.tx()?.pending_provisioning_before(cutoff, max).await
    }
}

#[async_trait]
impl TicketsProvider for BrokenProviderTx {
    async fn staff_ticket_queue(
        &mut self,
        departments: &[Department],
        statuses: &[TicketStatus],
        page: &PageRequest,
    ) -> StoreResult<Page<StaffQueueEntry>> {
        paged!(self, page, staff_ticket_queue(departments, statuses, page))
    }
    async fn resolved_tickets_due(
        &mut self,
        resolved_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueTicket>> {
        paged!(self, page, resolved_tickets_due(resolved_before, page))
    }
}

#[async_trait]
impl OutboxProvider for BrokenProviderTx {
    async fn lease_due_messages(
        &mut self,
        now: OffsetDateTime,
        lease_for: time::Duration,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, MessageId)>> {
        let leased = self.tx()?.lease_due_messages(now, lease_for, max).await?;
        if self.bug.fault != Fault::OutboxLeaseLoss {
            return Ok(leased);
        }
        // Leased again in the store, but never handed out: the message is lost.
        let mut shared = lock(&self.shared);
        Ok(leased
            .into_iter()
            .filter(|m| shared.leased.insert(*m))
            .collect())
    }
    async fn outbox_dead_letters(
        &mut self,
        page: PageRequest,
    ) -> StoreResult<Page<(OrgId, MessageId)>> {
        paged!(self, page, outbox_dead_letters(page))
    }
}

#[async_trait]
impl AuditProvider for BrokenProviderTx {
    async fn append_audit(
        &mut self,
        after: ChainHead,
        entry: AuditEntry,
    ) -> StoreResult<ChainHead> {
        self.tx()?.append_audit(after, entry).await
    }
    async fn audit_head(&mut self) -> StoreResult<ChainHead> {
        self.tx()?.audit_head().await
    }
    async fn audit_entries(&mut self, page: PageRequest) -> StoreResult<Page<AuditEntry>> {
        paged!(self, page, audit_entries(page))
    }
    async fn erase_audit_personal(&mut self, seq: u64) -> StoreResult<()> {
        self.tx()?.erase_audit_personal(seq).await
    }
}

// -- The tests: the whole suite against each fault. --

/// Every write that takes an expected version (`put_throttle_counter` an optional one).
const VERSIONED_WRITES: [&str; 19] = [
    "update_customer",
    "update_user",
    "delete_user",
    "update_api_client",
    "delete_api_client",
    "update_session",
    "mark_token_used",
    "update_totp",
    "delete_totp",
    "update_address_book",
    "update_payment_settings",
    "update_payment_intent",
    "update_order",
    "update_sim",
    "update_plan",
    "update_provisioning",
    "update_quota",
    "update_ticket",
    "put_throttle_counter",
];

/// Every method that returns a [`Page`].
const PAGED_READS: [&str; 15] = [
    "list_users",
    "list_api_clients",
    "list_orders",
    "list_order_documents",
    "list_sims",
    "list_plans",
    "list_tickets",
    "ticket_messages",
    "audit_entries",
    "provider.list_orgs",
    "provider.due_payment_intents",
    "provider.staff_ticket_queue",
    "provider.resolved_tickets_due",
    "provider.outbox_dead_letters",
    "provider.audit_entries",
];

/// Runs the whole suite on fresh broken stores (bounded, so a case that hangs fails the test).
async fn run(bug: Bug) -> Report {
    let suite = conformance::run("", || async move {
        Arc::new(Broken::new(bug)) as Arc<dyn Store>
    });
    let report = tokio::time::timeout(std::time::Duration::from_secs(600), suite).await;
    assert!(report.is_ok(), "the suite did not finish within 10 minutes");
    let report = report.unwrap_or_default();
    println!("{bug:?}: failed {:?}", report.failed());
    report
}

/// Runs the suite with `fault` everywhere and asserts that every case in `cases` failed.
async fn assert_caught(fault: Fault, cases: &[&str]) {
    let known: BTreeSet<&str> = conformance::cases().iter().map(|c| c.name).collect();
    let unknown: Vec<&&str> = cases.iter().filter(|c| !known.contains(**c)).collect();
    assert!(unknown.is_empty(), "no such cases: {unknown:?}");
    let report = run(Bug::everywhere(fault)).await;
    let missed: Vec<&&str> = cases.iter().filter(|c| !report.case_failed(c)).collect();
    assert!(missed.is_empty(), "{fault:?} was not caught by {missed:?}");
}

/// Runs the suite with `fault` in each of `methods` alone and returns the methods for which no
/// case failed.
async fn uncaught_per_method(fault: Fault, methods: &[&'static str]) -> Vec<&'static str> {
    let mut uncaught = Vec::new();
    for &method in methods {
        let report = run(Bug {
            fault,
            only: Some(method),
        })
        .await;
        if report.failed().is_empty() {
            uncaught.push(method);
        }
    }
    uncaught
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faithful_wrapper_passes_every_case() {
    let report = run(Bug::everywhere(Fault::None)).await;
    assert_eq!(report.results.len(), conformance::cases().len());
    assert!(report.failed().is_empty(), "{}", report.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignoring_versions_is_caught() {
    assert_caught(
        Fault::IgnoreVersions,
        &[
            "accounts.customer_stale_update_is_conflict",
            "accounts.user_stale_update_and_delete_are_conflicts",
            "accounts.api_client_stale_update_and_delete",
            "auth.session_stale_update_is_conflict",
            "auth.used_token_stays_used",
            "auth.totp_round_trip_duplicate_and_versions",
            "auth.throttle_counters_are_provider_scoped",
            "addresses.stale_update_is_conflict_and_changes_nothing",
            "payments.settings_stale_update_is_conflict_and_changes_nothing",
            "payments.intent_update_bumps_version_and_stale_is_conflict",
            "payments.intent_lease_race_only_one_of_two_updates_with_the_same_version_wins",
            "orders.stale_update_is_conflict",
            "sims.stale_update_is_conflict",
            "sims.plans_round_trip_and_versions",
            "sims.provisioning_round_trip_and_due",
            "usage.stale_quota_update_is_conflict",
            "tickets.stale_update_is_conflict",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignoring_versions_in_any_single_write_is_caught() {
    let uncaught = uncaught_per_method(Fault::IgnoreVersions, &VERSIONED_WRITES).await;
    assert!(
        uncaught.is_empty(),
        "no case checks the version of {uncaught:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leaking_rows_across_organisations_is_caught() {
    assert_caught(
        Fault::LeakAcrossOrgs,
        &["accounts.users_scoped_to_org", "orders.tenant_scoping"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committing_half_a_transaction_is_caught() {
    assert_caught(
        Fault::HalfCommit,
        &[
            "accounts.dropped_transaction_leaves_nothing",
            "auth.dropped_transaction_leaves_nothing",
            "addresses.dropped_transaction_leaves_nothing",
            "payments.settings_dropped_transaction_leaves_nothing",
            "payments.intent_dropped_transaction_leaves_nothing",
            "payments.idempotency_dropped_transaction_leaves_nothing",
            "orders.dropped_transaction_leaves_nothing",
            "sims.dropped_transaction_leaves_nothing",
            "usage.dropped_transaction_leaves_nothing",
            "usage.failed_transaction_dropped_leaves_nothing",
            "tickets.dropped_transaction_leaves_nothing",
            "tickets.failed_transaction_dropped_leaves_nothing",
            "outbox.dropped_transaction_leaves_nothing",
            "audit.dropped_transaction_leaves_nothing",
        ],
    )
    .await;
}

/// The pagination cases that walk a list at depth while rows are added.
const PAGINATION_CASES: [&str; 9] = [
    "accounts.users_pagination_stable_at_depth",
    "accounts.api_clients_paginated_and_filtered",
    "payments.due_intents_pagination_complete_and_stable",
    "orders.list_newest_first_stable_at_depth",
    "sims.list_stable_at_depth",
    "tickets.list_pagination_complete_and_stable",
    "tickets.staff_queue_pagination_complete",
    "outbox.dead_letters_paged_stably",
    "audit.entries_paged_stably",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skipping_a_row_at_a_page_boundary_is_caught() {
    assert_caught(Fault::PageSkip, &PAGINATION_CASES).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeating_a_row_at_a_page_boundary_is_caught() {
    assert_caught(Fault::PageRepeat, &PAGINATION_CASES).await;
}

/// Lists whose page faults no case notices. Empty since `audit.provider_entries_paged_stably`
/// pages the provider's chain; a list added without a paging case shows up here.
const UNCAUGHT_PAGE_FAULTS: [&str; 0] = [];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_fault_in_any_single_list_is_caught() {
    for fault in [Fault::PageSkip, Fault::PageRepeat] {
        let uncaught = uncaught_per_method(fault, &PAGED_READS).await;
        assert_eq!(
            uncaught, UNCAUGHT_PAGE_FAULTS,
            "{fault:?} goes unnoticed in these lists"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaying_another_result_for_an_idempotency_key_is_caught() {
    assert_caught(
        Fault::IdempotencyReplay,
        &["payments.idempotency_record_replays_exactly_the_stored_bytes_and_fingerprint"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_a_message_after_its_lease_expired_is_caught() {
    assert_caught(
        Fault::OutboxLeaseLoss,
        &["outbox.expired_lease_is_due_again"],
    )
    .await;
}
