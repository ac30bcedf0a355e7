//! Conformance cases that cross areas: atomicity of a transaction touching several aggregates,
//! and behaviour under concurrent use (version races, unique-value races, two organisations at
//! once, a task aborted with its transaction open).
//!
//! Every wait is bounded ([`WAIT`]), so a store that deadlocks fails a case instead of hanging
//! the suite. No case calls a global lookup while its own task holds an open transaction
//! (the contract on [`Store`]).

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use selfcare_core::address::AddressBook;
use selfcare_core::audit::{AuditChain, AuditEntry, ChainHead};
use selfcare_core::ids::{OrderId, OrgId, UserId};
use selfcare_core::orders::Order;
use selfcare_core::sims::Sim;
use time::macros::datetime;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::Failure;
use super::accounts::{customer, user, user_id};
use super::orders::{need, order, org};
use crate::accounts::{CustomerRecord, UserRecord};
use crate::conformance_check as check;
use crate::error::{ConflictKind, StoreError, StoreResult};
use crate::outbox::OutboxMessage;
use crate::page::PageRequest;
use crate::sims::SimFilter;
use crate::store::{OrgTransaction, Store};
use crate::version::Version;

crate::conformance_cases! {
    "transactions.all_or_nothing_across_areas" => all_or_nothing_across_areas,
    "transactions.failure_midway_leaves_nothing" => failure_midway_leaves_nothing,
    "transactions.concurrent_version_races_lose_no_update" => concurrent_version_races_lose_no_update,
    "transactions.concurrent_unique_inserts_exactly_one_wins" => concurrent_unique_inserts_exactly_one_wins,
    "transactions.concurrent_transactions_of_two_orgs_stay_apart" => concurrent_transactions_of_two_orgs_stay_apart,
    "transactions.dropped_future_leaves_store_consistent" => dropped_future_leaves_store_consistent,
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// How long any single wait of these cases may take before the store counts as stuck.
const WAIT: StdDuration = StdDuration::from_secs(10);

/// How many concurrent tasks the race cases start.
const TASKS: u32 = 16;

/// How often one racing task may retry before the case gives up (a livelock is a failure).
const MAX_ATTEMPTS: u32 = 1_000;

/// Awaits `fut` for at most [`WAIT`], failing the case (not hanging) when it takes longer.
async fn within<F: Future>(what: &str, fut: F) -> Result<F::Output, Failure> {
    tokio::time::timeout(WAIT, fut).await.map_err(|_| {
        Failure(format!(
            "{what}: no answer within {WAIT:?}; the store is stuck"
        ))
    })
}

/// Awaits every task by one shared deadline; aborts the rest and fails when it passes.
async fn join_all<T>(
    what: &str,
    handles: Vec<JoinHandle<Result<T, Failure>>>,
) -> Result<Vec<T>, Failure> {
    let deadline = Instant::now() + WAIT * 3;
    let mut out = Vec::with_capacity(handles.len());
    let mut pending = handles.into_iter();
    while let Some(mut handle) = pending.next() {
        match tokio::time::timeout_at(deadline, &mut handle).await {
            Ok(Ok(result)) => out.push(result?),
            Ok(Err(e)) => {
                pending.for_each(|h| h.abort());
                return Err(Failure(format!("{what}: a task died: {e}")));
            }
            Err(_) => {
                handle.abort();
                pending.for_each(|h| h.abort());
                return Err(Failure(format!(
                    "{what}: the tasks did not finish within {:?}; the store is stuck",
                    WAIT * 3
                )));
            }
        }
    }
    Ok(out)
}

/// One organisation's rows in every area a use case touches at once.
struct World {
    org: OrgId,
    customer: CustomerRecord,
    user: UserRecord,
    book: AddressBook,
    order: Order,
    sims: Vec<Sim>,
    message: OutboxMessage,
    entry: AuditEntry,
    head: ChainHead,
}

/// The world of [`org`]`(tag)`: its unique values (login e-mail, order number, ICCIDs) differ
/// for every `tag`.
fn world(tag: u8) -> Result<World, Failure> {
    let org = org(tag);
    let order = order(tag, 1)?;
    let k = u32::from(tag) * 100;
    let (entry, head) = AuditChain::append(
        &ChainHead::GENESIS,
        super::audit::event(Some(org), u32::from(tag))?,
        &super::audit::key()?,
    );
    Ok(World {
        org,
        customer: customer(org)?,
        user: user(user_id(u32::from(tag)), &format!("ada{tag}@example.com"))?,
        book: super::addresses::book(&["Ada Lovelace", "Grace Hopper"])?,
        sims: super::sims::sims(&order, k..k + 3)?,
        order,
        message: super::outbox::message(tag)?,
        entry,
        head,
    })
}

/// Writes the whole world in `tx`: seven areas, one transaction.
async fn write_world(tx: &mut Box<dyn OrgTransaction>, w: &World) -> StoreResult<()> {
    tx.insert_customer(w.customer.clone()).await?;
    tx.insert_user(w.user.clone()).await?;
    tx.insert_address_book(w.book.clone()).await?;
    tx.insert_order(w.order.clone()).await?;
    tx.insert_sims(w.sims.clone()).await?;
    tx.enqueue_outbox_message(w.message.clone()).await?;
    tx.append_audit(ChainHead::GENESIS, w.entry.clone()).await?;
    Ok(())
}

/// A moment after every fixture message is due.
const LATER: time::OffsetDateTime = datetime!(2030-01-01 00:00 UTC);

/// The outbox messages a provider dispatcher would lease now (the lease is not committed).
async fn due_messages(
    store: &Arc<dyn Store>,
) -> Result<Vec<(OrgId, selfcare_core::ids::MessageId)>, Failure> {
    let mut tx = within("begin_provider", store.begin_provider()).await??;
    Ok(tx
        .lease_due_messages(LATER, time::Duration::minutes(1), 500)
        .await?)
}

/// Fails unless none of `w` is visible: in a new transaction of its organisation, through the
/// global lookups, and to the provider's outbox dispatcher.
async fn check_absent(store: &Arc<dyn Store>, w: &World, why: &str) -> Result<(), Failure> {
    {
        let mut tx = within("begin", store.begin(w.org)).await??;
        check!(
            tx.customer().await?.is_none(),
            "{why}: a customer row remains"
        );
        check!(tx.user(w.user.id).await?.is_none(), "{why}: a user remains");
        check!(
            tx.list_users(PageRequest::first(10))
                .await?
                .items
                .is_empty(),
            "{why}: users are listed"
        );
        check!(
            tx.address_book().await?.is_none(),
            "{why}: an address book remains"
        );
        check!(
            tx.order(w.order.id).await?.is_none(),
            "{why}: an order remains"
        );
        check!(
            tx.list_orders(&PageRequest::first(10))
                .await?
                .items
                .is_empty(),
            "{why}: orders are listed"
        );
        for s in &w.sims {
            check!(tx.sim(s.id).await?.is_none(), "{why}: a SIM remains");
        }
        check!(
            tx.list_sims(&SimFilter::default(), &PageRequest::first(10))
                .await?
                .items
                .is_empty(),
            "{why}: SIMs are listed"
        );
        check!(
            tx.get_outbox_message(w.message.id).await?.is_none(),
            "{why}: an outbox message remains"
        );
        let head = tx.audit_head().await?;
        check!(
            head == ChainHead::GENESIS,
            "{why}: the audit head moved to {head:?}"
        );
        check!(
            tx.audit_entries(PageRequest::first(10))
                .await?
                .items
                .is_empty(),
            "{why}: audit entries remain"
        );
    }
    check!(
        store.user_by_login_key(w.user.email.key()).await?.is_none(),
        "{why}: the login e-mail is still claimed"
    );
    check!(
        store.order_by_number(&w.order.number).await?.is_none(),
        "{why}: the order number is still claimed"
    );
    for s in &w.sims {
        check!(
            store.sim_by_iccid(&s.iccid).await?.is_none(),
            "{why}: an ICCID is still claimed"
        );
    }
    check!(
        !due_messages(store).await?.iter().any(|(o, _)| *o == w.org),
        "{why}: the provider's dispatcher sees an outbox message"
    );
    Ok(())
}

/// Fails unless all of `w` is visible, as written, at its first version.
async fn check_present(store: &Arc<dyn Store>, w: &World, why: &str) -> Result<(), Failure> {
    {
        let mut tx = within("begin", store.begin(w.org)).await??;
        let c = need(tx.customer().await?, "the customer row")?;
        check!(
            c.value == w.customer && c.version == Version::FIRST,
            "{why}: the customer row differs"
        );
        let u = need(tx.user(w.user.id).await?, "the user")?;
        check!(
            u.value == w.user && u.version == Version::FIRST,
            "{why}: the user differs"
        );
        let b = need(tx.address_book().await?, "the address book")?;
        check!(b.value == w.book, "{why}: the address book differs");
        let o = need(tx.order(w.order.id).await?, "the order")?;
        check!(
            o.value == w.order && o.version == Version::FIRST,
            "{why}: the order differs"
        );
        let listed = tx
            .list_sims(&SimFilter::default(), &PageRequest::first(10))
            .await?;
        let sims: Vec<Sim> = listed.items.into_iter().map(|r| r.value).collect();
        check!(sims == w.sims, "{why}: the SIMs differ");
        let m = need(
            tx.get_outbox_message(w.message.id).await?,
            "the outbox message",
        )?;
        check!(m == w.message, "{why}: the outbox message differs");
        let head = tx.audit_head().await?;
        check!(head == w.head, "{why}: the audit head is {head:?}");
        let entries = tx.audit_entries(PageRequest::first(10)).await?.items;
        check!(
            entries == [w.entry.clone()],
            "{why}: the audit entries differ"
        );
    }
    check!(
        store.user_by_login_key(w.user.email.key()).await? == Some((w.org, w.user.id)),
        "{why}: the login e-mail does not find the user"
    );
    check!(
        store.order_by_number(&w.order.number).await? == Some((w.org, w.order.id)),
        "{why}: the order number does not find the order"
    );
    for s in &w.sims {
        check!(
            store.sim_by_iccid(&s.iccid).await? == Some((w.org, s.id)),
            "{why}: an ICCID does not find its SIM"
        );
    }
    check!(
        due_messages(store).await?.contains(&(w.org, w.message.id)),
        "{why}: the provider's dispatcher does not see the outbox message"
    );
    Ok(())
}

/// Writes and commits `w` in one transaction.
async fn commit_world(store: &Arc<dyn Store>, w: &World) -> Result<(), Failure> {
    let mut tx = within("begin", store.begin(w.org)).await??;
    write_world(&mut tx, w).await?;
    within("commit", tx.commit()).await??;
    Ok(())
}

fn is_stale<T>(r: &StoreResult<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(ConflictKind::StaleVersion)))
}

fn is_duplicate<T>(r: &StoreResult<T>, what: &str) -> bool {
    matches!(r, Err(StoreError::Conflict(ConflictKind::Duplicate { what: w })) if *w == what)
}

// ---------------------------------------------------------------------------------------------
// Atomicity.

async fn all_or_nothing_across_areas(store: Arc<dyn Store>) -> Result<(), Failure> {
    let w = world(0x21)?;
    {
        let mut tx = within("begin", store.begin(w.org)).await??;
        write_world(&mut tx, &w).await?;
        // The transaction sees its own writes before it ends.
        check!(
            tx.customer().await?.is_some(),
            "a transaction does not see its customer"
        );
        check!(
            tx.order(w.order.id).await?.is_some(),
            "a transaction does not see its order"
        );
        check!(
            tx.audit_head().await? == w.head,
            "a transaction does not see its audit entry"
        );
        // Dropped without commit.
    }
    check_absent(&store, &w, "after a dropped transaction").await?;

    commit_world(&store, &w).await?;
    check_present(&store, &w, "after the same writes were committed").await
}

async fn failure_midway_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let w = world(0x22)?;
    // Another organisation already holds a login e-mail and an ICCID.
    let other = world(0x23)?;
    commit_world(&store, &other).await?;
    let taken_sim = need(
        other.sims.first().cloned(),
        "a SIM of the other organisation",
    )?;

    // The third insert fails: an ICCID of the other organisation.
    {
        let mut tx = within("begin", store.begin(w.org)).await??;
        tx.insert_customer(w.customer.clone()).await?;
        tx.insert_order(w.order.clone()).await?;
        let mut batch = w.sims.clone();
        batch.push(super::sims::sim(&w.order, 7)?);
        if let Some(last) = batch.last_mut() {
            last.iccid = taken_sim.iccid.clone();
        }
        let r = tx.insert_sims(batch).await;
        check!(
            is_duplicate(&r, "iccid"),
            "the midway failure did not happen: {r:?}"
        );
    }
    check_absent(&store, &w, "after a failure at the third insert").await?;

    // Every area written, then the eighth write fails: the other organisation's login e-mail.
    {
        let mut tx = within("begin", store.begin(w.org)).await??;
        write_world(&mut tx, &w).await?;
        let r = tx
            .insert_user(user(user_id(0x22_00), other.user.email.as_str())?)
            .await;
        check!(
            is_duplicate(&r, "login_email"),
            "the late failure did not happen: {r:?}"
        );
    }
    check_absent(&store, &w, "after a failure at the eighth write").await?;

    // The store still accepts the same writes, and the other organisation is untouched.
    commit_world(&store, &w).await?;
    check_present(&store, &w, "after the writes were retried").await?;
    check_present(&store, &other, "the other organisation").await
}

// ---------------------------------------------------------------------------------------------
// Concurrency.

/// The outcome of one attempt of a racing task.
enum Attempt {
    Done,
    Stale,
    Retry,
}

/// Classifies a racing task's store result; any error other than a stale version or a
/// retryable failure fails the case.
fn classify(r: StoreResult<()>, what: &str) -> Result<Attempt, Failure> {
    match r {
        Ok(()) => Ok(Attempt::Done),
        Err(StoreError::Conflict(ConflictKind::StaleVersion)) => Ok(Attempt::Stale),
        Err(e) if e.is_retryable() => Ok(Attempt::Retry),
        Err(e) => Err(Failure(format!(
            "{what}: a lost race was reported as {e:?}, not Conflict(StaleVersion)"
        ))),
    }
}

/// Adds one to the counter kept in the user's name: reads it, then writes it back with the
/// version read. With `split`, the read and the write are two transactions (the usual
/// optimistic round trip of a use case); otherwise one.
async fn bump_once(store: &Arc<dyn Store>, org: OrgId, id: UserId, split: bool) -> StoreResult<()> {
    let mut tx = store.begin(org).await?;
    let read = tx.user(id).await?.ok_or(StoreError::NotFound)?;
    if split {
        drop(tx);
        tokio::task::yield_now().await;
        tx = store.begin(org).await?;
    } else {
        tokio::task::yield_now().await;
    }
    let n: u32 = read.value.name.parse().map_err(|_| StoreError::Corrupt {
        what: "the counter in the user's name".into(),
    })?;
    let mut next = read.value;
    next.name = n.saturating_add(1).to_string();
    let version = tx.update_user(next, read.version).await?;
    if version != read.version.next() {
        return Err(StoreError::Internal {
            reason: format!("update from {:?} returned {version:?}", read.version),
        });
    }
    tx.commit().await
}

async fn concurrent_version_races_lose_no_update(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(0x31);
    let id = user_id(0x31);
    let mut counter = user(id, "counter@example.com")?;
    counter.name = "0".into();
    {
        let mut tx = within("begin", store.begin(a)).await??;
        tx.insert_user(counter).await?;
        within("commit", tx.commit()).await??;
    }

    let mut handles = Vec::new();
    for task in 0..TASKS {
        let store = Arc::clone(&store);
        handles.push(tokio::spawn(async move {
            let mut stale = 0u32;
            for _ in 0..MAX_ATTEMPTS {
                let r = bump_once(&store, a, id, task % 2 == 0).await;
                match classify(r, "read-modify-write")? {
                    Attempt::Done => return Ok(stale),
                    Attempt::Stale => stale += 1,
                    Attempt::Retry => {}
                }
            }
            Err(Failure(format!(
                "task {task} gave up after {MAX_ATTEMPTS} attempts"
            )))
        }));
    }
    join_all("racing updates", handles).await?;

    let mut tx = within("begin", store.begin(a)).await??;
    let end = need(tx.user(id).await?, "the counter user")?;
    check!(
        end.value.name == TASKS.to_string(),
        "{TASKS} successful increments left the counter at {}: an update was lost",
        end.value.name
    );
    check!(
        end.version == Version(1 + u64::from(TASKS)),
        "{TASKS} successful updates left the version at {:?}",
        end.version
    );
    // A write with the first version read is stale now and changes nothing.
    let mut late = end.value.clone();
    late.name = "late".into();
    let r = tx.update_user(late, Version::FIRST).await;
    check!(is_stale(&r), "a long-stale update gave {r:?}");
    check!(
        tx.user(id).await? == Some(end),
        "a stale update changed the user"
    );
    Ok(())
}

/// Inserts a user with a contested login e-mail (and commits); retries a retryable failure.
async fn claim_login(store: Arc<dyn Store>, org: OrgId, id: UserId) -> Result<bool, Failure> {
    for _ in 0..MAX_ATTEMPTS {
        let r: StoreResult<()> = async {
            let mut tx = store.begin(org).await?;
            tx.insert_user(
                user(id, "same@example.com")
                    .map_err(|_| StoreError::InvalidInput { what: "fixture" })?,
            )
            .await?;
            tokio::task::yield_now().await;
            tx.commit().await
        }
        .await;
        if is_duplicate(&r, "login_email") {
            return Ok(false);
        }
        match r {
            Ok(()) => return Ok(true),
            Err(e) if e.is_retryable() => {}
            Err(e) => {
                return Err(Failure(format!(
                    "a lost login race gave {e:?}, not Duplicate"
                )));
            }
        }
    }
    Err(Failure("a login race never settled".into()))
}

/// Inserts an order with one SIM of a contested ICCID (and commits); retries a retryable
/// failure.
async fn claim_iccid(store: Arc<dyn Store>, tag: u8) -> Result<bool, Failure> {
    let o = order(tag, 1)?;
    let sim = super::sims::sim(&o, 0x5EED)?;
    for _ in 0..MAX_ATTEMPTS {
        let r: StoreResult<()> = async {
            let mut tx = store.begin(o.org).await?;
            tx.insert_order(o.clone()).await?;
            tokio::task::yield_now().await;
            tx.insert_sims(vec![sim.clone()]).await?;
            tx.commit().await
        }
        .await;
        if is_duplicate(&r, "iccid") {
            return Ok(false);
        }
        match r {
            Ok(()) => return Ok(true),
            Err(e) if e.is_retryable() => {}
            Err(e) => {
                return Err(Failure(format!(
                    "a lost ICCID race gave {e:?}, not Duplicate"
                )));
            }
        }
    }
    Err(Failure("an ICCID race never settled".into()))
}

/// The one tag whose task won (outcome `true`), tags and outcomes in the same order.
fn sole_winner(tags: &[u8], outcomes: &[bool], what: &str) -> Result<u8, Failure> {
    let winners: Vec<u8> = tags
        .iter()
        .zip(outcomes)
        .filter(|(_, won)| **won)
        .map(|(tag, _)| *tag)
        .collect();
    check!(
        winners.len() == 1 && outcomes.len() == tags.len(),
        "{} of {} concurrent inserts of one {what} succeeded, not exactly one",
        winners.len(),
        outcomes.len()
    );
    need(winners.first().copied(), "a winner")
}

async fn concurrent_unique_inserts_exactly_one_wins(store: Arc<dyn Store>) -> Result<(), Failure> {
    let tags: Vec<u8> = (0..TASKS)
        .map(|i| u8::try_from(0x40 + i).map_err(|_| Failure("too many tasks".into())))
        .collect::<Result<_, _>>()?;

    // The same login e-mail, from an organisation per task.
    let handles = tags
        .iter()
        .map(|&tag| {
            tokio::spawn(claim_login(
                Arc::clone(&store),
                org(tag),
                user_id(u32::from(tag)),
            ))
        })
        .collect();
    let outcomes = join_all("racing login e-mails", handles).await?;
    let winner = sole_winner(&tags, &outcomes, "login e-mail")?;
    check!(
        store.user_by_login_key("same@example.com").await?
            == Some((org(winner), user_id(u32::from(winner)))),
        "the login e-mail does not find the one user that won"
    );

    // The same ICCID, from an organisation per task (its order in the same transaction).
    let handles = tags
        .iter()
        .map(|&tag| tokio::spawn(claim_iccid(Arc::clone(&store), tag)))
        .collect();
    let outcomes = join_all("racing ICCIDs", handles).await?;
    let winner = sole_winner(&tags, &outcomes, "ICCID")?;
    let sim = super::sims::sim(&order(winner, 1)?, 0x5EED)?;
    check!(
        store.sim_by_iccid(&sim.iccid).await? == Some((org(winner), sim.id)),
        "the ICCID does not find the one SIM that won"
    );
    for &tag in &tags {
        let mut tx = within("begin", store.begin(org(tag))).await??;
        let listed = tx
            .list_sims(&SimFilter::default(), &PageRequest::first(10))
            .await?
            .items
            .len();
        let order_kept = tx.order(order(tag, 1)?.id).await?.is_some();
        let won = tag == winner;
        check!(
            listed == usize::from(won) && order_kept == won,
            "organisation {tag:#x} (winner: {won}) holds {listed} SIMs, order kept: {order_kept}"
        );
    }
    Ok(())
}

/// What one writer task of one organisation inserts: three users and three orders.
fn batch_of(tag: u8, task: u32) -> Result<(Vec<UserRecord>, Vec<Order>), Failure> {
    let mut users = Vec::new();
    let mut orders = Vec::new();
    for k in 0..3 {
        let n = task * 10 + k;
        users.push(user(
            user_id(u32::from(tag) * 1_000 + n),
            &format!("o{tag}-t{task}-{k}@example.com"),
        )?);
        orders.push(order(tag, n)?);
    }
    Ok((users, orders))
}

/// Inserts a writer's batch in one transaction, yielding between writes so the tasks of both
/// organisations interleave; retries a retryable failure.
async fn write_batch(store: Arc<dyn Store>, tag: u8, task: u32) -> Result<(), Failure> {
    let (users, orders) = batch_of(tag, task)?;
    for _ in 0..MAX_ATTEMPTS {
        let r: StoreResult<()> = async {
            let mut tx = store.begin(org(tag)).await?;
            for (u, o) in users.iter().zip(&orders) {
                tx.insert_user(u.clone()).await?;
                tokio::task::yield_now().await;
                tx.insert_order(o.clone()).await?;
                tokio::task::yield_now().await;
            }
            tx.commit().await
        }
        .await;
        match r {
            Ok(()) => return Ok(()),
            Err(e) if e.is_retryable() => {}
            Err(e) => return Err(Failure(format!("writer {tag:#x}/{task} failed: {e:?}"))),
        }
    }
    Err(Failure("a writer never committed".into()))
}

/// Every user and order listed in `org`, walking pages of 4.
async fn listed(
    store: &Arc<dyn Store>,
    org: OrgId,
) -> Result<(Vec<UserRecord>, Vec<Order>), Failure> {
    let mut tx = within("begin", store.begin(org)).await??;
    let mut users = Vec::new();
    let mut page = PageRequest::first(4);
    loop {
        let got = tx.list_users(page).await?;
        users.extend(got.items.into_iter().map(|r| r.value));
        match got.next {
            Some(next) => page = PageRequest::after(next, 4),
            None => break,
        }
    }
    let mut orders = Vec::new();
    let mut page = PageRequest::first(4);
    loop {
        let got = tx.list_orders(&page).await?;
        orders.extend(got.items.into_iter().map(|r| r.value));
        match got.next {
            Some(next) => page = PageRequest::after(next, 4),
            None => break,
        }
    }
    Ok((users, orders))
}

async fn concurrent_transactions_of_two_orgs_stay_apart(
    store: Arc<dyn Store>,
) -> Result<(), Failure> {
    let (ta, tb) = (0x51u8, 0x52u8);
    let writers = 8u32;
    let mut handles = Vec::new();
    for task in 0..writers {
        for tag in [ta, tb] {
            handles.push(tokio::spawn(write_batch(Arc::clone(&store), tag, task)));
        }
    }
    join_all("writers of two organisations", handles).await?;

    for (tag, other) in [(ta, tb), (tb, ta)] {
        let mut want_users = BTreeSet::new();
        let mut want_orders = BTreeSet::new();
        for task in 0..writers {
            let (users, orders) = batch_of(tag, task)?;
            want_users.extend(users.into_iter().map(|u| u.id));
            want_orders.extend(orders.into_iter().map(|o| o.id));
        }
        let (users, orders) = listed(&store, org(tag)).await?;
        let got_users: BTreeSet<UserId> = users.iter().map(|u| u.id).collect();
        let got_orders: BTreeSet<OrderId> = orders.iter().map(|o| o.id).collect();
        check!(
            got_users.len() == users.len() && got_orders.len() == orders.len(),
            "organisation {tag:#x}: a row was listed twice"
        );
        check!(
            got_users == want_users,
            "organisation {tag:#x} lists {} users, wrote {} (rows of {other:#x} or lost rows)",
            got_users.len(),
            want_users.len()
        );
        check!(
            got_orders == want_orders && orders.iter().all(|o| o.org == org(tag)),
            "organisation {tag:#x} lists {} orders, wrote {} (rows of {other:#x} or lost rows)",
            got_orders.len(),
            want_orders.len()
        );
        // The other organisation's ids are not readable here.
        let (their_users, their_orders) = batch_of(other, 0)?;
        let mut tx = within("begin", store.begin(org(tag))).await??;
        for (u, o) in their_users.iter().zip(&their_orders) {
            check!(
                tx.user(u.id).await?.is_none() && tx.order(o.id).await?.is_none(),
                "organisation {tag:#x} reads a row of {other:#x}"
            );
        }
    }
    Ok(())
}

async fn dropped_future_leaves_store_consistent(store: Arc<dyn Store>) -> Result<(), Failure> {
    // A task writes into every area and is aborted before it commits.
    let w = world(0x61)?;
    let (written, written_rx) = tokio::sync::oneshot::channel::<()>();
    let task = {
        let store = Arc::clone(&store);
        let org = w.org;
        let w2 = world(0x61)?;
        tokio::spawn(async move {
            let mut tx = store.begin(org).await?;
            write_world(&mut tx, &w2).await?;
            let _ = written.send(());
            // Holds the open transaction until aborted.
            std::future::pending::<()>().await;
            tx.commit().await?;
            Ok::<(), Failure>(())
        })
    };
    let signalled = within("the writer task", written_rx).await?;
    if signalled.is_err() {
        let outcome = within("the writer task", task).await?;
        return Err(Failure(format!("the writer task ended early: {outcome:?}")));
    }
    task.abort();
    let joined = within("the aborted task", task).await?;
    check!(
        matches!(&joined, Err(e) if e.is_cancelled()),
        "the aborted task was not cancelled: {joined:?}"
    );
    check_absent(
        &store,
        &w,
        "after the task holding the transaction was aborted",
    )
    .await?;
    commit_world(&store, &w).await?;
    check_present(&store, &w, "after an abort, a new transaction").await?;

    // A task aborted while it may still wait to begin (another transaction of the org is open):
    // afterwards its writes are all there or none, and the store still serves.
    let late = user(user_id(0x61_01), "late@example.com")?;
    let late_order = order(0x61, 2)?;
    let holder = within("begin", store.begin(w.org)).await??;
    let waiter = {
        let store = Arc::clone(&store);
        let (u, o) = (late.clone(), late_order.clone());
        tokio::spawn(async move {
            let mut tx = store.begin(o.org).await?;
            tx.insert_user(u).await?;
            tx.insert_order(o).await?;
            tx.commit().await?;
            Ok::<(), Failure>(())
        })
    };
    tokio::time::sleep(StdDuration::from_millis(50)).await;
    waiter.abort();
    drop(holder);
    let joined = within("the aborted waiter", waiter).await?;
    if let Ok(Err(f)) = joined {
        return Err(Failure(format!("the waiter failed before the abort: {f}")));
    }
    let mut tx = within("begin after an aborted waiter", store.begin(w.org)).await??;
    let has_user = tx.user(late.id).await?.is_some();
    let has_order = tx.order(late_order.id).await?.is_some();
    check!(
        has_user == has_order,
        "an aborted transaction kept half its writes (user: {has_user}, order: {has_order})"
    );
    check!(
        tx.customer().await?.is_some(),
        "the committed world was lost"
    );
    drop(tx);
    let claimed = store.user_by_login_key(late.email.key()).await?.is_some();
    check!(
        claimed == has_user,
        "the login e-mail of an aborted transaction disagrees with its rows"
    );
    Ok(())
}
