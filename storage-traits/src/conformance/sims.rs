//! Conformance cases for SIMs, plans and provisioning requests.

use std::collections::BTreeSet;
use std::sync::Arc;

use selfcare_core::ids::{OrderId, PlanId, ProvisioningId, SimId};
use selfcare_core::numbers::{Iccid, Msisdn};
use selfcare_core::orders::Order;
use selfcare_core::plans::{Plan, SwapRequest, Voicemail, VoicemailLanguage};
use selfcare_core::sims::{Sim, SimBilling, SimLabel, SimStatus};
use time::OffsetDateTime;
use time::macros::date;

use super::orders::{T0, at, bytes, expect_err, insert_order, need, order, org};
use crate::conformance::Failure;
use crate::conformance_check as check;
use crate::error::StoreError;
use crate::page::{Cursor, PageRequest};
use crate::sims::{ProvisioningKind, ProvisioningRequest, ProvisioningState, SimFilter, SimRecord};
use crate::store::Store;
use crate::version::Version;

crate::conformance_cases! {
    "sims.insert_get_round_trip" => insert_get_round_trip,
    "sims.iccid_unique_across_orgs" => iccid_unique_across_orgs,
    "sims.insert_sims_is_all_or_nothing" => insert_sims_is_all_or_nothing,
    "sims.stale_update_is_conflict" => stale_update_is_conflict,
    "sims.dropped_transaction_leaves_nothing" => dropped_transaction_leaves_nothing,
    "sims.tenant_scoping" => tenant_scoping,
    "sims.list_filters_by_order_and_status" => list_filters_by_order_and_status,
    "sims.list_stable_at_depth" => list_stable_at_depth,
    "sims.invalid_page_or_batch_is_invalid_input" => invalid_page_or_batch_is_invalid_input,
    "sims.order_sims_streams_each_once_in_order" => order_sims_streams_each_once_in_order,
    "sims.order_sims_csv_is_the_export_of_order_sims" => order_sims_csv_is_the_export_of_order_sims,
    "sims.plans_round_trip_and_versions" => plans_round_trip_and_versions,
    "sims.provisioning_round_trip_and_due" => provisioning_round_trip_and_due,
    "sims.provisioning_by_id_finds_the_organisation" => provisioning_by_id_finds_the_organisation,
}

// ---------------------------------------------------------------------------------------------
// Fixtures.

/// The ICCID numbered `k` (unique per `k`).
pub(super) fn iccid(k: u32) -> Result<Iccid, Failure> {
    Ok(Iccid::from_payload(&format!("8988228{k:011}"))?)
}

/// The SIM numbered `k` of `order` (id made `k` ms after `T0`, so SIMs sort by `k`).
pub(super) fn sim(order: &Order, k: u32) -> Result<Sim, Failure> {
    Ok(Sim {
        id: SimId::new(at(k), bytes(0x51, k)),
        iccid: iccid(k)?,
        imsi: None,
        msisdn: None,
        label: SimLabel::empty(),
        status: SimStatus::Enabled,
        order: order.id,
        billing: SimBilling::Tariff {
            code: "IOT-1GB".into(),
        },
        auto_top_up: false,
    })
}

pub(super) fn sims(order: &Order, ks: impl IntoIterator<Item = u32>) -> Result<Vec<Sim>, Failure> {
    ks.into_iter().map(|k| sim(order, k)).collect()
}

/// Inserts the order `n` of `org(tag)` with the SIMs `ks`, committed.
async fn order_with_sims(
    store: &Arc<dyn Store>,
    tag: u8,
    n: u32,
    ks: impl IntoIterator<Item = u32>,
) -> Result<(Order, Vec<Sim>), Failure> {
    let o = order(tag, n)?;
    let s = sims(&o, ks)?;
    let mut tx = store.begin(org(tag)).await?;
    tx.insert_order(o.clone()).await?;
    tx.insert_sims(s.clone()).await?;
    tx.commit().await?;
    Ok((o, s))
}

fn plan(order: &Order, k: u32) -> Result<Plan, Failure> {
    Ok(Plan::new(
        PlanId::new(at(k), bytes(0x71, k)),
        order.id,
        vec![Msisdn::parse("+972501234567")?],
        iccid(500_000 + k)?,
        date!(2026 - 05 - 10),
        date!(2026 - 06 - 10),
    )?)
}

fn minutes(m: i64) -> OffsetDateTime {
    T0 + time::Duration::minutes(m)
}

fn request(plan: &Plan, k: u32, at_minute: i64) -> ProvisioningRequest {
    ProvisioningRequest {
        id: ProvisioningId::new(minutes(at_minute), bytes(0x91, k)),
        plan: plan.id(),
        kind: ProvisioningKind::Voicemail {
            setting: Voicemail {
                enabled: true,
                language: VoicemailLanguage::Hebrew,
            },
        },
        requested_at: minutes(at_minute),
        state: ProvisioningState::Pending,
    }
}

fn ids(records: &[SimRecord]) -> Vec<SimId> {
    records.iter().map(|r| r.value.id).collect()
}

/// Walks `list_sims` with `filter` and `limit`, inserting SIMs of `extra_order` between pages
/// (newer ones and older ones, numbered from `extra_from`); returns the records seen.
async fn walk_sims(
    store: &Arc<dyn Store>,
    filter: SimFilter,
    limit: u32,
    extra_order: &Order,
    mut extra_from: u32,
) -> Result<Vec<SimRecord>, Failure> {
    let mut seen = Vec::new();
    let mut after: Option<Cursor> = None;
    for _ in 0..1000 {
        let mut tx = store.begin(extra_order.org).await?;
        let page = tx
            .list_sims(
                &filter,
                &PageRequest {
                    after: after.clone(),
                    limit,
                },
            )
            .await?;
        check!(
            page.items.len() <= limit as usize,
            "a page of {} rows for limit {limit}",
            page.items.len()
        );
        seen.extend(page.items);
        let Some(next) = page.next else {
            return Ok(seen);
        };
        after = Some(next);
        let mut newer = sim(extra_order, 100_000 + extra_from)?;
        // An older id too, landing in the part of the list still to be read or passed.
        let mut older = sim(extra_order, 200_000 + extra_from)?;
        older.id = SimId::new(at(extra_from % 40), bytes(0x5e, extra_from));
        newer.id = SimId::new(at(100_000 + extra_from), bytes(0x5f, extra_from));
        tx.insert_sims(vec![newer, older]).await?;
        tx.commit().await?;
        extra_from += 1;
    }
    Err(Failure("the walk never reached a last page".into()))
}

// ---------------------------------------------------------------------------------------------
// Cases.

async fn insert_get_round_trip(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let (_, inserted) = order_with_sims(&store, 1, 1, [1, 2, 3]).await?;
    let mut tx = store.begin(a).await?;
    for s in &inserted {
        let got = need(tx.sim(s.id).await?, "the SIM")?;
        check!(
            got.value == *s,
            "the SIM read back differs: {:?}",
            got.value
        );
        check!(got.version == Version::FIRST, "version {:?}", got.version);
    }
    check!(
        tx.sim(SimId::new(T0, bytes(0x52, 1))).await?.is_none(),
        "an unknown id returned a SIM"
    );
    tx.insert_sims(Vec::new()).await?;
    tx.commit().await?;
    for s in &inserted {
        let found = store.sim_by_iccid(&s.iccid).await?;
        check!(found == Some((a, s.id)), "sim_by_iccid returned {found:?}");
    }
    check!(
        store.sim_by_iccid(&iccid(99)?).await?.is_none(),
        "sim_by_iccid found an unknown ICCID"
    );
    Ok(())
}

async fn iccid_unique_across_orgs(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let (_, theirs) = order_with_sims(&store, 1, 1, [1]).await?;
    let first = need(theirs.first(), "A's SIM")?;
    let (ours, _) = order_with_sims(&store, 2, 1, []).await?;
    let mut copy = sim(&ours, 2)?;
    copy.iccid = first.iccid.clone();
    let mut tx = store.begin(b).await?;
    expect_err(
        tx.insert_sims(vec![copy.clone()]).await,
        &StoreError::duplicate("iccid"),
        "an ICCID another organisation has",
    )?;
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    check!(
        tx.sim(copy.id).await?.is_none(),
        "the refused SIM was stored"
    );
    drop(tx);
    let found = store.sim_by_iccid(&first.iccid).await?;
    check!(
        found == Some((a, first.id)),
        "the ICCID now points to {found:?}"
    );
    Ok(())
}

async fn insert_sims_is_all_or_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let (o, existing) = order_with_sims(&store, 1, 1, [1]).await?;
    let existing = need(existing.first(), "the SIM")?;
    let (foreign, _) = order_with_sims(&store, 2, 1, []).await?;

    let mut dup_iccid = sims(&o, [10, 11, 12, 13])?;
    if let Some(s) = dup_iccid.get_mut(2) {
        s.iccid = existing.iccid.clone();
    }
    let mut twice_in_batch = sims(&o, [20, 21, 22])?;
    if let Some(s) = twice_in_batch.get_mut(2) {
        s.iccid = iccid(20)?;
    }
    let mut dup_id = sims(&o, [30, 31])?;
    if let Some(s) = dup_id.get_mut(1) {
        s.id = existing.id;
    }
    let mut other_order = sims(&o, [40, 41])?;
    if let Some(s) = other_order.get_mut(1) {
        s.order = foreign.id;
    }
    let mut unknown_order = sims(&o, [50])?;
    if let Some(s) = unknown_order.get_mut(0) {
        s.order = OrderId::new(T0, bytes(0x0f, 1));
    }
    let batches = [
        (
            dup_iccid,
            StoreError::duplicate("iccid"),
            "an existing ICCID",
        ),
        (
            twice_in_batch,
            StoreError::duplicate("iccid"),
            "an ICCID twice in the batch",
        ),
        (dup_id, StoreError::duplicate("sim"), "an existing SIM id"),
        (
            other_order,
            StoreError::NotFound,
            "another organisation's order",
        ),
        (unknown_order, StoreError::NotFound, "an unknown order"),
    ];
    let mut tx = store.begin(a).await?;
    let mut refused = Vec::new();
    for (batch, error, what) in batches {
        expect_err(
            tx.insert_sims(batch.clone()).await,
            &error,
            &format!("a batch with {what}"),
        )?;
        refused.extend(batch);
    }
    // The transaction goes on and commits: the refused batches must have left nothing.
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    for s in &refused {
        if s.id == existing.id {
            let kept = need(tx.sim(s.id).await?, "the existing SIM")?;
            check!(kept.value == *existing, "a refused batch replaced a SIM");
        } else {
            check!(
                tx.sim(s.id).await?.is_none(),
                "a SIM of a refused batch was stored"
            );
        }
    }
    let listed = tx
        .list_sims(&SimFilter::default(), &PageRequest::first(500))
        .await?;
    check!(
        ids(&listed.items) == vec![existing.id],
        "a refused batch left {} SIMs",
        listed.items.len()
    );
    // A whole order of 1 000 SIMs goes in at once.
    let thousand = sims(&o, 1_000..2_000)?;
    tx.insert_sims(thousand.clone()).await?;
    tx.commit().await?;
    for s in &refused {
        if s.iccid != existing.iccid {
            check!(
                store.sim_by_iccid(&s.iccid).await?.is_none(),
                "the ICCID of a refused batch is reachable"
            );
        }
    }
    let mut tx = store.begin(a).await?;
    let mut count = 0;
    let mut after = None;
    loop {
        let batch = tx.order_sims(o.id, after, 500).await?;
        count += batch.len();
        match batch.last() {
            Some(last) if batch.len() == 500 => after = Some(last.value.id),
            _ => break,
        }
    }
    check!(count == 1_001, "the order has {count} SIMs, expected 1 001");
    Ok(())
}

async fn stale_update_is_conflict(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let (o, inserted) = order_with_sims(&store, 1, 1, [1]).await?;
    let original = need(inserted.first(), "the SIM")?.clone();
    let mut tx = store.begin(a).await?;
    let mut labelled = original.clone();
    labelled.set_label("Truck 17")?;
    labelled.set_status(SimStatus::Disabled);
    labelled.auto_top_up = true;
    let v2 = tx.update_sim(labelled.clone(), Version::FIRST).await?;
    check!(v2 == Version(2), "first update returned {v2:?}");
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let mut relabelled = labelled.clone();
    relabelled.set_label("Truck 18")?;
    expect_err(
        tx.update_sim(relabelled.clone(), Version::FIRST).await,
        &StoreError::stale(),
        "update with a stale version",
    )?;
    let mut new_iccid = labelled.clone();
    new_iccid.iccid = iccid(2)?;
    expect_err(
        tx.update_sim(new_iccid, v2).await,
        &StoreError::InvalidInput { what: "iccid" },
        "update changing the ICCID",
    )?;
    let mut moved = labelled.clone();
    moved.order = order(1, 2)?.id;
    expect_err(
        tx.update_sim(moved, v2).await,
        &StoreError::InvalidInput { what: "sim order" },
        "update changing the order",
    )?;
    expect_err(
        tx.update_sim(sim(&o, 3)?, Version::FIRST).await,
        &StoreError::NotFound,
        "update of an unknown SIM",
    )?;
    let got = need(tx.sim(original.id).await?, "the SIM")?;
    check!(
        got.value == labelled && got.version == v2,
        "a refused update changed the row"
    );
    let v3 = tx.update_sim(relabelled.clone(), v2).await?;
    check!(v3 == Version(3), "second update returned {v3:?}");
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    let got = need(tx.sim(original.id).await?, "the SIM")?;
    check!(
        got.value == relabelled && got.version == v3,
        "the committed update did not stick"
    );
    check!(
        got.value.label.as_str() == "Truck 18" && got.value.auto_top_up,
        "label or Auto-Top-Up lost"
    );
    drop(tx);
    check!(
        store.sim_by_iccid(&original.iccid).await? == Some((a, original.id)),
        "the ICCID lookup changed with an update"
    );
    Ok(())
}

async fn dropped_transaction_leaves_nothing(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let (o, inserted) = order_with_sims(&store, 1, 1, [1]).await?;
    let kept = need(inserted.first(), "the SIM")?.clone();
    let kept_plan = plan(&o, 1)?;
    let mut tx = store.begin(a).await?;
    tx.insert_plan(kept_plan.clone()).await?;
    tx.commit().await?;

    let fresh = sims(&o, [2, 3, 4])?;
    let new_plan = plan(&o, 2)?;
    let pending = request(&kept_plan, 1, 0);
    let mut tx = store.begin(a).await?;
    tx.insert_sims(fresh.clone()).await?;
    let mut changed = kept.clone();
    changed.set_status(SimStatus::Disabled);
    tx.update_sim(changed, Version::FIRST).await?;
    tx.insert_plan(new_plan.clone()).await?;
    let mut voicemail = kept_plan.clone();
    voicemail.set_voicemail(true, VoicemailLanguage::Hebrew);
    tx.update_plan(voicemail, Version::FIRST).await?;
    tx.insert_provisioning(pending.clone()).await?;
    // Fails midway, then is dropped without commit.
    expect_err(
        tx.insert_sims(sims(&o, [5])?.into_iter().chain(fresh.clone()).collect())
            .await,
        &StoreError::duplicate("iccid"),
        "a batch repeating the transaction's own SIMs",
    )?;
    drop(tx);

    for s in &fresh {
        check!(
            store.sim_by_iccid(&s.iccid).await?.is_none(),
            "a dropped SIM's ICCID is reachable"
        );
    }
    let mut tx = store.begin(a).await?;
    for s in &fresh {
        check!(tx.sim(s.id).await?.is_none(), "a dropped SIM was stored");
    }
    check!(
        tx.order_sims(o.id, None, 100).await?.len() == 1,
        "the order streams dropped SIMs"
    );
    let got = need(tx.sim(kept.id).await?, "the kept SIM")?;
    check!(
        got.version == Version::FIRST && got.value == kept,
        "a dropped SIM update stuck"
    );
    check!(
        tx.plan(new_plan.id()).await?.is_none(),
        "a dropped plan was stored"
    );
    let got = need(tx.plan(kept_plan.id()).await?, "the kept plan")?;
    check!(
        got.version == Version::FIRST && got.value == kept_plan,
        "a dropped plan update stuck"
    );
    check!(
        tx.provisioning(pending.id).await?.is_none(),
        "a dropped provisioning request was stored"
    );
    drop(tx);
    let mut provider = store.begin_provider().await?;
    let due = provider
        .pending_provisioning_before(minutes(600), 500)
        .await?;
    check!(due.is_empty(), "a dropped request is due: {due:?}");
    drop(provider);
    // Everything can be written again.
    let mut tx = store.begin(a).await?;
    tx.insert_sims(fresh).await?;
    tx.insert_plan(new_plan).await?;
    tx.insert_provisioning(pending).await?;
    tx.commit().await?;
    Ok(())
}

async fn provisioning_by_id_finds_the_organisation(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let (ours, _) = order_with_sims(&store, 1, 1, [0]).await?;
    let (theirs, _) = order_with_sims(&store, 2, 1, [1]).await?;
    let (our_plan, their_plan) = (plan(&ours, 3)?, plan(&theirs, 4)?);
    let (our_request, their_request) = (request(&our_plan, 3, 0), request(&their_plan, 4, 1));
    for (o, p, r) in [
        (a, &our_plan, &our_request),
        (b, &their_plan, &their_request),
    ] {
        let mut tx = store.begin(o).await?;
        tx.insert_plan(p.clone()).await?;
        tx.insert_provisioning(r.clone()).await?;
        tx.commit().await?;
    }
    // A request that was never committed is not found.
    let dropped = request(&our_plan, 5, 2);
    let mut tx = store.begin(a).await?;
    tx.insert_provisioning(dropped.clone()).await?;
    drop(tx);
    for (r, want) in [
        (&our_request, Some((a, our_plan.id()))),
        (&their_request, Some((b, their_plan.id()))),
        (&dropped, None),
    ] {
        let got = store.provisioning_by_id(r.id).await?;
        check!(got == want, "provisioning_by_id({:?}) = {got:?}", r.id);
    }
    // Settled requests are still found (a late, repeated completion is answered, not lost).
    let mut tx = store.begin(a).await?;
    let mut done = our_request.clone();
    done.state = ProvisioningState::Completed;
    tx.update_provisioning(done, Version::FIRST).await?;
    tx.commit().await?;
    let got = store.provisioning_by_id(our_request.id).await?;
    check!(
        got == Some((a, our_plan.id())),
        "a completed request: {got:?}"
    );
    Ok(())
}

async fn tenant_scoping(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let (ours, _) = order_with_sims(&store, 1, 1, (0..10).map(|i| i * 2)).await?;
    let (theirs, their_sims) = order_with_sims(&store, 2, 1, (0..10).map(|i| i * 2 + 1)).await?;
    let their_plan = plan(&theirs, 7)?;
    let their_request = request(&their_plan, 7, 0);
    let mut tx = store.begin(b).await?;
    tx.insert_plan(their_plan.clone()).await?;
    tx.insert_provisioning(their_request.clone()).await?;
    tx.commit().await?;
    let mut tx = store.begin(a).await?;
    tx.insert_plan(plan(&ours, 8)?).await?;
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let all = tx
        .list_sims(&SimFilter::default(), &PageRequest::first(500))
        .await?;
    check!(all.items.len() == 10, "A lists {} SIMs", all.items.len());
    check!(
        all.items.iter().all(|s| s.value.order == ours.id),
        "A's list holds B's SIMs"
    );
    let filtered = tx
        .list_sims(
            &SimFilter {
                order: Some(theirs.id),
                status: None,
            },
            &PageRequest::first(500),
        )
        .await?;
    check!(filtered.items.is_empty(), "A lists SIMs of B's order");
    check!(
        tx.order_sims(theirs.id, None, 500).await?.is_empty(),
        "A streams SIMs of B's order"
    );
    for s in &their_sims {
        check!(tx.sim(s.id).await?.is_none(), "A read B's SIM");
        expect_err(
            tx.update_sim(s.clone(), Version::FIRST).await,
            &StoreError::NotFound,
            "A updating B's SIM",
        )?;
    }
    check!(tx.plan(their_plan.id()).await?.is_none(), "A read B's plan");
    expect_err(
        tx.update_plan(their_plan.clone(), Version::FIRST).await,
        &StoreError::NotFound,
        "A updating B's plan",
    )?;
    let plans = tx.list_plans(&PageRequest::first(500)).await?;
    check!(
        plans.items.len() == 1 && plans.items.iter().all(|p| p.value.order() == ours.id),
        "A's plan list holds B's plans"
    );
    check!(
        tx.provisioning(their_request.id).await?.is_none(),
        "A read B's provisioning request"
    );
    expect_err(
        tx.insert_plan(plan(&theirs, 9)?).await,
        &StoreError::NotFound,
        "A adding a plan to B's order",
    )?;
    expect_err(
        tx.insert_provisioning(request(&their_plan, 9, 1)).await,
        &StoreError::NotFound,
        "A adding a request to B's plan",
    )?;
    Ok(())
}

async fn list_filters_by_order_and_status(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let (x, xs) = order_with_sims(&store, 1, 1, (0..7).map(|i| i * 2)).await?;
    let (y, ys) = order_with_sims(&store, 1, 2, (0..5).map(|i| i * 2 + 1)).await?;
    let mut tx = store.begin(a).await?;
    let mut disabled = BTreeSet::new();
    for s in xs.iter().step_by(2).chain(ys.iter().step_by(3)) {
        let mut off = s.clone();
        off.set_status(SimStatus::Disabled);
        tx.update_sim(off, Version::FIRST).await?;
        disabled.insert(s.id);
    }
    tx.commit().await?;

    let mut all: Vec<SimId> = xs.iter().chain(&ys).map(|s| s.id).collect();
    all.sort();
    let cases = [
        (None, None),
        (Some(x.id), None),
        (Some(y.id), None),
        (None, Some(SimStatus::Disabled)),
        (None, Some(SimStatus::Enabled)),
        (Some(x.id), Some(SimStatus::Disabled)),
        (Some(y.id), Some(SimStatus::Enabled)),
    ];
    for (order, status) in cases {
        let expected: Vec<SimId> = all
            .iter()
            .copied()
            .filter(|id| {
                order.is_none_or(|o| {
                    if o == x.id {
                        xs.iter().any(|s| s.id == *id)
                    } else {
                        ys.iter().any(|s| s.id == *id)
                    }
                })
            })
            .filter(|id| {
                status.is_none_or(|st| disabled.contains(id) == (st == SimStatus::Disabled))
            })
            .collect();
        let filter = SimFilter { order, status };
        // Small pages, so the filter meets the page boundary too.
        let mut seen = Vec::new();
        let mut page = PageRequest::first(2);
        let mut tx = store.begin(a).await?;
        for _ in 0..100 {
            let got = tx.list_sims(&filter, &page).await?;
            seen.extend(ids(&got.items));
            match got.next {
                Some(next) => page = PageRequest::after(next, 2),
                None => break,
            }
        }
        check!(
            seen == expected,
            "filter {filter:?}: listed {} SIMs, expected {} by id ascending",
            seen.len(),
            expected.len()
        );
    }
    Ok(())
}

async fn list_stable_at_depth(store: Arc<dyn Store>) -> Result<(), Failure> {
    // 23 SIMs on two orders, interleaved, plus another organisation's.
    let (x, xs) = order_with_sims(&store, 1, 1, (0..12).map(|i| i * 3)).await?;
    let (_, ys) = order_with_sims(&store, 1, 2, (0..11).map(|i| i * 3 + 1)).await?;
    let (foreign, _) = order_with_sims(&store, 2, 1, (0..20).map(|i| i * 3 + 2)).await?;
    let foreign = foreign.id;
    let mut original_all: Vec<SimId> = xs.iter().chain(&ys).map(|s| s.id).collect();
    original_all.sort();
    let original_x: Vec<SimId> = xs.iter().map(|s| s.id).collect();

    for (filter, original, from) in [
        (SimFilter::default(), original_all, 0),
        (
            SimFilter {
                order: Some(x.id),
                status: None,
            },
            original_x,
            1_000,
        ),
    ] {
        let seen = walk_sims(&store, filter, 5, &x, from).await?;
        check!(
            seen.iter().all(|s| s.value.order != foreign),
            "a page holds another organisation's SIM"
        );
        if let Some(o) = filter.order {
            check!(
                seen.iter().all(|s| s.value.order == o),
                "a page filtered by order holds another order's SIM"
            );
        }
        let seen = ids(&seen);
        let unique: BTreeSet<_> = seen.iter().collect();
        check!(unique.len() == seen.len(), "a SIM was listed twice");
        let of_original: Vec<SimId> = seen
            .iter()
            .copied()
            .filter(|id| original.contains(id))
            .collect();
        check!(
            of_original == original,
            "filter {filter:?}: {} of {} original SIMs listed in order",
            of_original.len(),
            original.len()
        );
        let mut sorted = seen.clone();
        sorted.sort();
        check!(sorted == seen, "the walk is not by id ascending");
    }
    Ok(())
}

async fn invalid_page_or_batch_is_invalid_input(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let (o, _) = order_with_sims(&store, 1, 1, [1, 2]).await?;
    let mut tx = store.begin(a).await?;
    for n in [0, 501] {
        expect_err(
            tx.list_sims(&SimFilter::default(), &PageRequest::first(n))
                .await,
            &StoreError::InvalidInput { what: "page limit" },
            &format!("list_sims with limit {n}"),
        )?;
        expect_err(
            tx.list_plans(&PageRequest::first(n)).await,
            &StoreError::InvalidInput { what: "page limit" },
            &format!("list_plans with limit {n}"),
        )?;
        expect_err(
            tx.order_sims(o.id, None, n).await,
            &StoreError::InvalidInput { what: "batch" },
            &format!("order_sims with batch {n}"),
        )?;
    }
    let bad = PageRequest::after(Cursor::new("not a cursor of this store"), 5);
    for filter in [
        SimFilter::default(),
        SimFilter {
            order: Some(o.id),
            status: None,
        },
    ] {
        check!(
            matches!(
                tx.list_sims(&filter, &bad).await,
                Err(StoreError::InvalidInput { .. })
            ),
            "list_sims {filter:?} accepted a foreign cursor"
        );
    }
    check!(
        matches!(
            tx.list_plans(&bad).await,
            Err(StoreError::InvalidInput { .. })
        ),
        "list_plans accepted a foreign cursor"
    );
    check!(
        tx.order_sims(o.id, None, 500).await?.len() == 2,
        "batch 500 is refused or wrong"
    );
    drop(tx);
    let mut provider = store.begin_provider().await?;
    for n in [0, 501] {
        expect_err(
            provider.pending_provisioning_before(T0, n).await,
            &StoreError::InvalidInput { what: "max" },
            &format!("pending_provisioning_before with max {n}"),
        )?;
    }
    Ok(())
}

async fn order_sims_csv_is_the_export_of_order_sims(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let (x, _) = order_with_sims(&store, 1, 1, (0..1_234).map(|i| i * 2)).await?;
    order_with_sims(&store, 1, 2, (0..50).map(|i| i * 2 + 1)).await?;
    order_with_sims(&store, 2, 1, (0..50).map(|i| i * 2 + 1_000_001)).await?;
    let mut tx = store.begin(a).await?;
    // The reference: the core writer over every SIM of `order_sims`, by id ascending.
    let mut reference = selfcare_core::export::SimCsvWriter::continuing(Vec::new());
    let mut after = None;
    loop {
        let batch = tx.order_sims(x.id, after, 500).await?;
        for sim in &batch {
            reference
                .write_sim(&sim.value)
                .map_err(|e| Failure(format!("{e}")))?;
        }
        match batch.last() {
            Some(last) if batch.len() == 500 => after = Some(last.value.id),
            _ => break,
        }
    }
    let reference = reference.finish().map_err(|e| Failure(format!("{e}")))?;
    for batch in [1u32, 333, 10_000] {
        let mut bytes = Vec::new();
        let mut rows = 0u32;
        let mut after = None;
        let mut chunks = 0;
        loop {
            let chunk = tx.order_sims_csv(x.id, after, batch).await?;
            chunks += 1;
            check!(
                chunk.rows <= batch,
                "a chunk of {} rows for {batch}",
                chunk.rows
            );
            bytes.extend_from_slice(&chunk.bytes);
            rows += chunk.rows;
            if chunk.rows < batch {
                break;
            }
            after = chunk.last;
            check!(chunks <= 1_300, "the chunks do not end");
        }
        check!(rows == 1_234, "{rows} rows in chunks of {batch}, not 1 234");
        check!(
            bytes == reference,
            "the chunks of {batch} differ from the export of order_sims"
        );
    }
    for bad in [0, crate::sims::MAX_EXPORT_BATCH + 1] {
        expect_err(
            tx.order_sims_csv(x.id, None, bad).await,
            &StoreError::InvalidInput { what: "batch" },
            "a CSV batch out of range",
        )?;
    }
    Ok(())
}

async fn order_sims_streams_each_once_in_order(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    // Order x's 1 050 SIMs interleave by id with order y's and with organisation B's.
    let x = order(1, 1)?;
    let xs = sims(&x, (0..1_050).map(|i| i * 3))?;
    let mut tx = store.begin(a).await?;
    tx.insert_order(x.clone()).await?;
    // Inserted in two batches, the second first, so insertion order is not id order.
    let (head, tail) = xs.split_at(600);
    tx.insert_sims(tail.to_vec()).await?;
    tx.insert_sims(head.to_vec()).await?;
    tx.commit().await?;
    order_with_sims(&store, 1, 2, (0..300).map(|i| i * 3 + 1)).await?;
    let (z, _) = order_with_sims(&store, 2, 1, (0..300).map(|i| i * 3 + 2)).await?;
    insert_order(&store, &order(1, 3)?).await?;

    let mut expected: Vec<SimId> = xs.iter().map(|s| s.id).collect();
    expected.sort();
    let mut tx = store.begin(a).await?;
    let mut seen = Vec::new();
    let mut after = None;
    let mut batches = 0;
    loop {
        let batch = tx.order_sims(x.id, after, 100).await?;
        batches += 1;
        check!(batch.len() <= 100, "a batch of {} SIMs", batch.len());
        check!(
            batch.iter().all(|s| s.value.order == x.id),
            "the stream of order x returned another order's SIM"
        );
        seen.extend(ids(&batch));
        match batch.last() {
            Some(last) if batch.len() == 100 => after = Some(last.value.id),
            _ => break,
        }
        check!(batches <= 20, "the stream does not end");
    }
    check!(batches == 11, "{batches} batches for 1 050 SIMs of 100");
    check!(
        seen == expected,
        "the stream returned {} SIMs, expected each of 1 050 once by id ascending",
        seen.len()
    );
    let last = need(expected.last(), "a last SIM")?;
    check!(
        tx.order_sims(x.id, Some(*last), 100).await?.is_empty(),
        "the stream goes on after the last SIM"
    );
    check!(
        tx.order_sims(order(1, 3)?.id, None, 100).await?.is_empty(),
        "an order without SIMs streams some"
    );
    check!(
        tx.order_sims(z.id, None, 100).await?.is_empty(),
        "A streams SIMs of B's order"
    );
    Ok(())
}

async fn plans_round_trip_and_versions(store: Arc<dyn Store>) -> Result<(), Failure> {
    let a = org(1);
    let o = order(1, 1)?;
    insert_order(&store, &o).await?;
    let p = plan(&o, 1)?;
    let mut tx = store.begin(a).await?;
    let v = tx.insert_plan(p.clone()).await?;
    check!(v == Version::FIRST, "insert returned {v:?}");
    expect_err(
        tx.insert_plan(p.clone()).await,
        &StoreError::duplicate("plan"),
        "second insert of a plan",
    )?;
    expect_err(
        tx.insert_plan(plan(&order(1, 2)?, 2)?).await,
        &StoreError::NotFound,
        "a plan of an unknown order",
    )?;
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let got = need(tx.plan(p.id()).await?, "the plan")?;
    check!(
        got.value == p && got.version == Version::FIRST,
        "the plan read back differs"
    );
    let mut forwarded = p.clone();
    forwarded.set_call_forwarding("+972521234567")?;
    let v2 = tx.update_plan(forwarded.clone(), Version::FIRST).await?;
    check!(v2 == Version(2), "update returned {v2:?}");
    let mut voicemail = forwarded.clone();
    voicemail.set_voicemail(true, VoicemailLanguage::Hebrew);
    expect_err(
        tx.update_plan(voicemail.clone(), Version::FIRST).await,
        &StoreError::stale(),
        "plan update with a stale version",
    )?;
    let mut parts = forwarded.clone().into_parts();
    parts.order = order(1, 2)?.id;
    expect_err(
        tx.update_plan(Plan::from_parts(parts)?, v2).await,
        &StoreError::InvalidInput { what: "plan order" },
        "plan update changing its order",
    )?;
    expect_err(
        tx.update_plan(plan(&o, 3)?, Version::FIRST).await,
        &StoreError::NotFound,
        "update of an unknown plan",
    )?;
    let got = need(tx.plan(p.id()).await?, "the plan")?;
    check!(
        got.value == forwarded && got.version == v2,
        "a refused update changed the plan"
    );
    tx.commit().await?;

    // Newest first, paginated, while plans are added between pages.
    let mut original = vec![p.id()];
    let mut tx = store.begin(a).await?;
    for k in 10..22 {
        let q = plan(&o, k)?;
        original.push(q.id());
        tx.insert_plan(q).await?;
    }
    tx.commit().await?;
    original.reverse();
    let mut seen = Vec::new();
    let mut page = PageRequest::first(5);
    for round in 0..100u32 {
        let mut tx = store.begin(a).await?;
        let got = tx.list_plans(&page).await?;
        seen.extend(got.items.iter().map(|r| r.value.id()));
        let Some(next) = got.next else { break };
        page = PageRequest::after(next, 5);
        tx.insert_plan(plan(&o, 1_000 + round)?).await?;
        tx.insert_plan(plan(&o, 2 + round % 8)?).await?;
        tx.commit().await?;
    }
    let of_original: Vec<PlanId> = seen
        .iter()
        .copied()
        .filter(|id| original.contains(id))
        .collect();
    check!(
        of_original == original,
        "{} of {} plans listed newest first",
        of_original.len(),
        original.len()
    );
    let unique: BTreeSet<_> = seen.iter().collect();
    check!(unique.len() == seen.len(), "a plan was listed twice");
    Ok(())
}

async fn provisioning_round_trip_and_due(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let (oa, ob) = (order(1, 1)?, order(2, 1)?);
    insert_order(&store, &oa).await?;
    insert_order(&store, &ob).await?;
    let mut pa = plan(&oa, 1)?;
    let pb = plan(&ob, 2)?;

    let swap = SwapRequest::request(
        &mut pa,
        ProvisioningId::new(minutes(5), bytes(0x90, 1)),
        iccid(777)?.as_str(),
        false,
        minutes(5),
        date!(2026 - 05 - 01),
    )?;
    let swap = ProvisioningRequest::swap(swap);
    check!(
        swap.state == ProvisioningState::Pending && swap.requested_at == minutes(5),
        "fixture: a new swap is pending"
    );
    let early_a = request(&pa, 1, 0);
    let late_a = request(&pa, 2, 90);
    let mid_b = request(&pb, 3, 30);
    let mut done_b = request(&pb, 4, 10);
    done_b.state = ProvisioningState::Completed;

    let mut tx = store.begin(a).await?;
    tx.insert_plan(pa.clone()).await?;
    for r in [&swap, &early_a, &late_a] {
        let v = tx.insert_provisioning(r.clone()).await?;
        check!(v == Version::FIRST, "insert returned {v:?}");
    }
    expect_err(
        tx.insert_provisioning(early_a.clone()).await,
        &StoreError::duplicate("provisioning"),
        "second insert of a provisioning request",
    )?;
    expect_err(
        tx.insert_provisioning(request(&plan(&oa, 9)?, 9, 0)).await,
        &StoreError::NotFound,
        "a request for an unknown plan",
    )?;
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    tx.insert_plan(pb.clone()).await?;
    tx.insert_provisioning(mid_b.clone()).await?;
    tx.insert_provisioning(done_b.clone()).await?;
    tx.commit().await?;

    let mut tx = store.begin(a).await?;
    let got = need(tx.provisioning(swap.id).await?, "the swap")?;
    check!(
        got.value == swap && got.version == Version::FIRST,
        "the swap read back differs"
    );
    drop(tx);

    // Due one hour after being requested: at minute 60 the requests of minutes 0 and 5, at
    // minute 90 also B's of minute 30; never the completed one nor the one of minute 90.
    let mut provider = store.begin_provider().await?;
    let due = provider
        .pending_provisioning_before(minutes(0), 500)
        .await?;
    check!(
        due == vec![(a, early_a.id, minutes(0))],
        "due at minute 0: {due:?}"
    );
    let due = provider
        .pending_provisioning_before(minutes(30), 500)
        .await?;
    check!(
        due == vec![
            (a, early_a.id, minutes(0)),
            (a, swap.id, minutes(5)),
            (b, mid_b.id, minutes(30)),
        ],
        "due at minute 30, oldest first: {due:?}"
    );
    let due = provider.pending_provisioning_before(minutes(30), 2).await?;
    check!(due.len() == 2, "max 2 returned {}", due.len());
    drop(provider);

    // Completing, failing or timing out takes a request off the due list.
    let mut tx = store.begin(a).await?;
    let mut timed_out = early_a.clone();
    timed_out.state = ProvisioningState::TimedOut;
    expect_err(
        tx.update_provisioning(timed_out.clone(), Version(2)).await,
        &StoreError::stale(),
        "provisioning update with a stale version",
    )?;
    let mut moved = timed_out.clone();
    moved.plan = pb.id();
    expect_err(
        tx.update_provisioning(moved, Version::FIRST).await,
        &StoreError::InvalidInput {
            what: "provisioning plan",
        },
        "provisioning update changing the plan",
    )?;
    let mut later = timed_out.clone();
    later.requested_at = minutes(1);
    expect_err(
        tx.update_provisioning(later, Version::FIRST).await,
        &StoreError::InvalidInput {
            what: "requested_at",
        },
        "provisioning update changing requested_at",
    )?;
    expect_err(
        tx.update_provisioning(request(&pa, 8, 0), Version::FIRST)
            .await,
        &StoreError::NotFound,
        "update of an unknown request",
    )?;
    let v2 = tx
        .update_provisioning(timed_out.clone(), Version::FIRST)
        .await?;
    check!(v2 == Version(2), "update returned {v2:?}");
    tx.commit().await?;
    let mut provider = store.begin_provider().await?;
    let due = provider
        .pending_provisioning_before(minutes(600), 500)
        .await?;
    check!(
        due == vec![
            (a, swap.id, minutes(5)),
            (b, mid_b.id, minutes(30)),
            (a, late_a.id, minutes(90)),
        ],
        "due after the timeout of minute 0's request: {due:?}"
    );
    drop(provider);
    let mut tx = store.begin(a).await?;
    let got = need(tx.provisioning(early_a.id).await?, "the request")?;
    check!(
        got.value == timed_out && got.version == v2,
        "the committed update did not stick"
    );
    Ok(())
}
