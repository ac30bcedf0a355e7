//! Conformance cases for usage: quota rows, seen usage-record ids and their lookup.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use selfcare_core::customer::MonthPeriod;
use selfcare_core::ids::{OrgId, SimId};
use selfcare_core::quota::{
    MonthlyUsage, Quota, QuotaState, SentMark, SentMarks, UsageRecordId, VolumeKind,
};
use time::OffsetDateTime;
use time::macros::datetime;

use super::Failure;
use crate::error::{ConflictKind, StoreError};
use crate::store::Store;
use crate::usage::QuotaRecord;
use crate::version::Version;

crate::conformance_cases! {
    "usage.quota_round_trip" => quota_round_trip,
    "usage.duplicate_quota_insert_is_conflict" => duplicate_quota_insert_is_conflict,
    "usage.stale_quota_update_is_conflict" => stale_quota_update_is_conflict,
    "usage.update_of_missing_quota_is_not_found" => update_of_missing_quota_is_not_found,
    "usage.dropped_transaction_leaves_nothing" => dropped_transaction_leaves_nothing,
    "usage.failed_transaction_dropped_leaves_nothing" => failed_transaction_dropped_leaves_nothing,
    "usage.seen_record_id_is_duplicate_across_orgs" => seen_record_id_is_duplicate_across_orgs,
    "usage.quota_and_seen_ids_scoped_to_org" => quota_and_seen_ids_scoped_to_org,
    "usage.lookup_finds_committed_record_ids_only" => lookup_finds_committed_record_ids_only,
    "usage.racing_duplicate_records_apply_once" => racing_duplicate_records_apply_once,
}

const T0: OffsetDateTime = datetime!(2025-03-01 12:00 UTC);

fn org(n: u8) -> OrgId {
    OrgId::new(T0, [n; 10])
}

fn sim(n: u8) -> SimId {
    SimId::new(T0, [n; 10])
}

fn record_id(raw: &str) -> Result<UsageRecordId, Failure> {
    Ok(UsageRecordId::parse(raw)?)
}

/// A quota row of `sim` with `used` bytes of data used out of a 1 000 000-byte generation.
fn quota(sim: SimId, used: u64) -> Result<QuotaRecord, Failure> {
    let data = Quota {
        generation: 1,
        volume: 1_000_000,
        used,
    };
    let period = MonthPeriod::new(2025, 3)?;
    let mut marks = SentMarks::new();
    if used > 0 {
        marks.insert(SentMark::MonthlyLimit {
            kind: VolumeKind::Sms,
            period,
        });
    }
    Ok(QuotaRecord {
        state: QuotaState::restore(sim, 1, data, Quota::default()),
        monthly: MonthlyUsage {
            period,
            data_bytes: used,
            sms: 0,
        },
        marks,
    })
}

fn is_duplicate<T>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(ConflictKind::Duplicate { .. })))
}

fn is_stale<T>(r: &Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(ConflictKind::StaleVersion)))
}

async fn quota_round_trip(store: Arc<dyn Store>) -> Result<(), Failure> {
    let row = quota(sim(1), 42)?;
    let mut tx = store.begin(org(1)).await?;
    let v = tx.insert_quota(row.clone()).await?;
    crate::conformance_check!(v == Version::FIRST, "insert returned {v:?}, not version 1");
    tx.commit().await?;

    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_quota(sim(1)).await?;
    crate::conformance_check!(
        got.as_ref().map(|g| (&g.value, g.version)) == Some((&row, Version::FIRST)),
        "get returned {got:?} after inserting {row:?}"
    );
    let none = tx.get_quota(sim(2)).await?;
    crate::conformance_check!(none.is_none(), "a SIM without a row returned {none:?}");
    Ok(())
}

async fn duplicate_quota_insert_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let first = quota(sim(1), 1)?;
    let mut tx = store.begin(org(1)).await?;
    tx.insert_quota(first.clone()).await?;
    tx.commit().await?;

    let mut tx = store.begin(org(1)).await?;
    let again = tx.insert_quota(quota(sim(1), 2)?).await;
    crate::conformance_check!(
        again == Err(StoreError::duplicate("quota")),
        "second insert for the same SIM returned {again:?}"
    );
    drop(tx);
    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_quota(sim(1)).await?.map(|g| g.value);
    crate::conformance_check!(
        got.as_ref() == Some(&first),
        "the row changed after a duplicate insert: {got:?}"
    );
    Ok(())
}

async fn stale_quota_update_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    tx.insert_quota(quota(sim(1), 0)?).await?;
    tx.commit().await?;

    // Two writers that read the same version: the first wins, the second is stale.
    let mut tx = store.begin(org(1)).await?;
    let v = tx.update_quota(quota(sim(1), 10)?, Version::FIRST).await?;
    crate::conformance_check!(v == Version(2), "update returned {v:?}, not version 2");
    tx.commit().await?;
    let mut tx = store.begin(org(1)).await?;
    let second = tx.update_quota(quota(sim(1), 20)?, Version::FIRST).await;
    crate::conformance_check!(
        is_stale(&second),
        "a second update with the same version returned {second:?}"
    );
    drop(tx);

    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_quota(sim(1)).await?;
    let expected = quota(sim(1), 10)?;
    crate::conformance_check!(
        got.as_ref().map(|g| (&g.value, g.version)) == Some((&expected, Version(2))),
        "after a stale update the row is {got:?}"
    );
    let v = tx.update_quota(quota(sim(1), 30)?, Version(2)).await?;
    crate::conformance_check!(v == Version(3), "update returned {v:?}, not version 3");
    Ok(())
}

async fn update_of_missing_quota_is_not_found(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    let r = tx.update_quota(quota(sim(9), 1)?, Version::FIRST).await;
    crate::conformance_check!(
        r == Err(StoreError::NotFound),
        "updating a missing row returned {r:?}"
    );
    Ok(())
}

async fn dropped_transaction_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let rid = record_id("net-1")?;
    let mut tx = store.begin(org(1)).await?;
    tx.insert_quota(quota(sim(1), 5)?).await?;
    tx.record_seen(&rid, sim(1)).await?;
    drop(tx);

    let found = store.sim_by_usage_record(&rid).await?;
    crate::conformance_check!(found.is_none(), "a dropped record_seen is found: {found:?}");
    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_quota(sim(1)).await?;
    crate::conformance_check!(got.is_none(), "a dropped insert is visible: {got:?}");
    let seen = tx.seen_usage_record(&rid).await?;
    crate::conformance_check!(seen.is_none(), "a dropped record_seen is seen: {seen:?}");
    // The id is free again, and a dropped update leaves the committed row.
    tx.record_seen(&rid, sim(1)).await?;
    tx.insert_quota(quota(sim(1), 5)?).await?;
    tx.commit().await?;
    let mut tx = store.begin(org(1)).await?;
    tx.update_quota(quota(sim(1), 6)?, Version::FIRST).await?;
    drop(tx);
    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_quota(sim(1)).await?;
    let expected = quota(sim(1), 5)?;
    crate::conformance_check!(
        got.as_ref().map(|g| (&g.value, g.version)) == Some((&expected, Version::FIRST)),
        "a dropped update changed the row: {got:?}"
    );
    Ok(())
}

async fn failed_transaction_dropped_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let rid = record_id("net-1")?;
    let mut tx = store.begin(org(1)).await?;
    tx.record_seen(&rid, sim(1)).await?;
    tx.commit().await?;

    // The sdk's write of a duplicate: quota first, then the seen id fails; the whole
    // transaction is dropped.
    let mut tx = store.begin(org(1)).await?;
    tx.insert_quota(quota(sim(2), 7)?).await?;
    tx.record_seen(&record_id("net-2")?, sim(2)).await?;
    let dup = tx.record_seen(&rid, sim(2)).await;
    crate::conformance_check!(is_duplicate(&dup), "a repeated id returned {dup:?}");
    drop(tx);

    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_quota(sim(2)).await?;
    crate::conformance_check!(got.is_none(), "the failed transaction left {got:?}");
    let seen = tx.seen_usage_record(&record_id("net-2")?).await?;
    crate::conformance_check!(
        seen.is_none(),
        "the failed transaction left seen id {seen:?}"
    );
    let owner = tx.seen_usage_record(&rid).await?;
    crate::conformance_check!(
        owner == Some(sim(1)),
        "the first record's SIM became {owner:?}"
    );
    Ok(())
}

async fn seen_record_id_is_duplicate_across_orgs(store: Arc<dyn Store>) -> Result<(), Failure> {
    let rid = record_id("cdr-0001")?;
    let mut tx = store.begin(org(1)).await?;
    tx.record_seen(&rid, sim(1)).await?;
    tx.commit().await?;

    let mut tx = store.begin(org(1)).await?;
    let same_org = tx.record_seen(&rid, sim(1)).await;
    crate::conformance_check!(
        same_org == Err(StoreError::duplicate("usage_record_id")),
        "a record id seen twice in one org returned {same_org:?}"
    );
    drop(tx);
    let mut tx = store.begin(org(2)).await?;
    let other_org = tx.record_seen(&rid, sim(2)).await;
    crate::conformance_check!(
        other_org == Err(StoreError::duplicate("usage_record_id")),
        "a record id seen by another org returned {other_org:?}"
    );
    drop(tx);
    let found = store.sim_by_usage_record(&rid).await?;
    crate::conformance_check!(
        found == Some((org(1), sim(1))),
        "the lookup after duplicates returned {found:?}"
    );
    Ok(())
}

async fn quota_and_seen_ids_scoped_to_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let rid = record_id("cdr-a")?;
    let mut a = store.begin(org(1)).await?;
    a.insert_quota(quota(sim(1), 3)?).await?;
    a.record_seen(&rid, sim(1)).await?;
    a.commit().await?;

    let mut b = store.begin(org(2)).await?;
    let got = b.get_quota(sim(1)).await?;
    crate::conformance_check!(got.is_none(), "org B reads org A's quota: {got:?}");
    let upd = b.update_quota(quota(sim(1), 99)?, Version::FIRST).await;
    crate::conformance_check!(
        upd == Err(StoreError::NotFound),
        "org B updating org A's quota returned {upd:?}"
    );
    let seen = b.seen_usage_record(&rid).await?;
    crate::conformance_check!(seen.is_none(), "org B sees org A's record id: {seen:?}");
    // Org B may have its own row for the same SIM id; it does not touch A's.
    b.insert_quota(quota(sim(1), 50)?).await?;
    b.commit().await?;

    let mut a = store.begin(org(1)).await?;
    let mine = a.get_quota(sim(1)).await?.map(|g| g.value);
    crate::conformance_check!(
        mine == Some(quota(sim(1), 3)?),
        "org A's quota became {mine:?}"
    );
    let seen = a.seen_usage_record(&rid).await?;
    crate::conformance_check!(seen == Some(sim(1)), "org A's own record id: {seen:?}");
    Ok(())
}

async fn lookup_finds_committed_record_ids_only(store: Arc<dyn Store>) -> Result<(), Failure> {
    let rid = record_id("cdr-7")?;
    let none = store.sim_by_usage_record(&rid).await?;
    crate::conformance_check!(none.is_none(), "an unknown id is found: {none:?}");
    let mut tx = store.begin(org(3)).await?;
    tx.record_seen(&rid, sim(4)).await?;
    tx.commit().await?;
    let found = store.sim_by_usage_record(&rid).await?;
    crate::conformance_check!(
        found == Some((org(3), sim(4))),
        "the lookup returned {found:?}"
    );
    let other = store.sim_by_usage_record(&record_id("cdr-8")?).await?;
    crate::conformance_check!(other.is_none(), "another id is found: {other:?}");
    Ok(())
}

/// Polls every future until all are done, interleaving them at their await points (so
/// transactions race on stores with real concurrency, and queue on the in-memory store).
async fn join_all<F: Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(o) => *output = Some(o),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

/// What the sdk does with one usage record: read the quota, skip a seen id, record the id and
/// write the quota in one transaction. `Ok(true)` when this attempt applied it.
async fn apply_once(store: Arc<dyn Store>, rid: UsageRecordId) -> Result<bool, Failure> {
    let lost = |e: &StoreError| {
        matches!(
            e,
            StoreError::Conflict(ConflictKind::Duplicate { .. } | ConflictKind::StaleVersion)
                | StoreError::Retryable { .. }
        )
    };
    let mut tx = store.begin(org(1)).await?;
    let Some(read) = tx.get_quota(sim(1)).await? else {
        return Err(Failure("the quota row vanished".into()));
    };
    if tx.seen_usage_record(&rid).await?.is_some() {
        return Ok(false);
    }
    let used = read.value.state.quota(VolumeKind::Data).used;
    // Stop at the first refusal: a SQL transaction is unusable after a failed statement.
    match tx.record_seen(&rid, sim(1)).await {
        Ok(()) => {}
        Err(e) if lost(&e) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    let next = quota(sim(1), used.saturating_add(1_000_000))?;
    match tx.update_quota(next, read.version).await {
        Ok(_) => {}
        Err(e) if lost(&e) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    match tx.commit().await {
        Ok(()) => Ok(true),
        Err(e) if lost(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

async fn racing_duplicate_records_apply_once(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    tx.insert_quota(quota(sim(1), 0)?).await?;
    tx.commit().await?;

    let rid = record_id("cdr-dup")?;
    let attempts = (0..6)
        .map(|_| apply_once(Arc::clone(&store), rid.clone()))
        .collect();
    let mut applied = 0;
    for outcome in join_all(attempts).await {
        if outcome? {
            applied += 1;
        }
    }
    crate::conformance_check!(
        applied == 1,
        "six deliveries of one record were applied {applied} times"
    );
    let mut tx = store.begin(org(1)).await?;
    let got = tx.get_quota(sim(1)).await?;
    crate::conformance_check!(
        got.as_ref().map(|g| g.version) == Some(Version(2))
            && got
                .as_ref()
                .map(|g| g.value.state.quota(VolumeKind::Data).used)
                == Some(1_000_000),
        "after racing duplicates the quota is {got:?}"
    );
    Ok(())
}
