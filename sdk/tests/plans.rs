//! Consumer plans through a session and the network's answers (PLAN-1..PLAN-6): date rules
//! against today, SIM swaps through the `Network` port completed, failed or timed out, voicemail,
//! call forwarding, APN settings, usage, and another organisation's plan is `NotFound` on every
//! call. The development network records what it was asked; the tests complete it as the real
//! network's callback would.

// The helpers below are test code: a surprise is a failed test.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::{business, ctx};
use selfcare::core::ReasonCode;
use selfcare::core::catalogue::Seller;
use selfcare::core::contact::Email;
use selfcare::core::customer::MonthPeriod;
use selfcare::core::ids::{OrderId, OrgId, PlanId, SimId};
use selfcare::core::notifications::NotificationKind;
use selfcare::core::numbers::{Iccid, Msisdn};
use selfcare::core::orders::OrderPayment;
use selfcare::core::password::PasswordParams;
use selfcare::core::plans::{Plan, PlanState, Voicemail, VoicemailLanguage};
use selfcare::core::quota::{MonthlyUsage, Quota, QuotaState, SentMarks};
use selfcare::core::roles::Role;
use selfcare::core::sims::{Sim, SimBilling, SimLabel, SimStatus};
use selfcare::dev::{DevHandles, NetworkRequest};
use selfcare::plans::{Completion, PlanView, ProvisioningOutcome};
use selfcare::storage::outbox::OutboxMessage;
use selfcare::storage::ports::{Clock, ManualClock};
use selfcare::storage::usage::QuotaRecord;
use selfcare::storage::{MemoryStore, Store};
use selfcare::{Error, Portal, PortalConfig, Ports, Session};
use time::macros::{date, datetime};
use time::{Date, Duration};

struct World {
    portal: Portal,
    clock: ManualClock,
    store: Arc<dyn Store>,
    dev: DevHandles,
}

fn world() -> World {
    let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (ports, dev) = Ports::development_with(Arc::new(clock.clone()));
    let config = common::test_config();
    let portal = Portal::with_store(Arc::clone(&store), ports, config).unwrap();
    World {
        portal,
        clock,
        store,
        dev,
    }
}

async fn login(w: &World, email: &str) -> Session {
    common::session(&w.portal, email).await
}

async fn owner(w: &World, email: &str) -> (OrgId, Session) {
    let (customer, owner) = business(email);
    let registered = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    (registered.org, login(w, email).await)
}

/// A valid ICCID numbered `n` in series `series`.
fn iccid(series: u8, n: u8) -> Iccid {
    Iccid::from_payload(&format!("89882{series:03}{n:010}")).unwrap()
}

fn number(n: u8) -> Msisdn {
    Msisdn::parse(&format!("+9725012345{n:02}")).unwrap()
}

/// An order of `org` (numbered `n`) with a plan on the SIM `iccid(n, 0)`, whose SIM row is
/// stored too; the plan has the number `number(n)` and runs `start..=end`.
async fn plan_of(w: &World, org: OrgId, n: u8, start: Date, end: Date) -> (PlanId, SimId) {
    let now = w.clock.now();
    let order = common::test_order(org, n, now, [n, 1, 2, 3, 4], 1, OrderPayment::OnInvoice);
    let plan = Plan::new(
        PlanId::new(now, [n; 10]),
        order.id,
        vec![number(n)],
        iccid(n, 0),
        start,
        end,
    )
    .unwrap();
    let sim = sim_row(order.id, plan.id(), n, 0);
    let ids = (plan.id(), sim.id);
    let mut tx = w.store.begin(org).await.unwrap();
    tx.insert_order(order).await.unwrap();
    tx.insert_sims(vec![sim]).await.unwrap();
    tx.insert_plan(plan).await.unwrap();
    tx.commit().await.unwrap();
    ids
}

fn sim_row(order: OrderId, plan: PlanId, series: u8, n: u8) -> Sim {
    Sim {
        id: SimId::new(
            datetime!(2026-11-23 10:00 UTC),
            [series, n, 9, 9, 9, 9, 9, 9, 9, 9],
        ),
        iccid: iccid(series, n),
        imsi: None,
        msisdn: None,
        label: SimLabel::empty(),
        status: SimStatus::Enabled,
        order,
        billing: SimBilling::Plan { plan },
        auto_top_up: false,
    }
}

/// A spare SIM `iccid(series, n)` delivered to `org` with the order of `plan`.
async fn spare_sim(w: &World, org: OrgId, plan: PlanId, series: u8, n: u8) -> Iccid {
    let mut tx = w.store.begin(org).await.unwrap();
    let order = tx.plan(plan).await.unwrap().unwrap().value.order();
    tx.insert_sims(vec![sim_row(order, plan, series, n)])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    iccid(series, n)
}

async fn the_plan(session: &Session, plan: PlanId) -> PlanView {
    session
        .plans()
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.plan.id() == plan)
        .expect("the plan is listed")
}

/// Every message in the outbox, read through the store (the lease is rolled back).
async fn outbox(w: &World) -> Vec<OutboxMessage> {
    let ids = {
        let mut tx = w.store.begin_provider().await.unwrap();
        tx.lease_due_messages(w.clock.now() + Duration::days(1), Duration::minutes(1), 500)
            .await
            .unwrap()
    };
    let mut out = Vec::new();
    for (org, id) in ids {
        let mut tx = w.store.begin(org).await.unwrap();
        out.push(tx.get_outbox_message(id).await.unwrap().unwrap());
    }
    out
}

async fn outbox_of(w: &World, kind: NotificationKind) -> Vec<OutboxMessage> {
    outbox(w)
        .await
        .into_iter()
        .filter(|m| m.kind == kind)
        .collect()
}

fn reason<T: std::fmt::Debug>(result: Result<T, Error>) -> ReasonCode {
    result.expect_err("the call should be refused").reason()
}

// ---------------------------------------------------------------------------------------------
// PLAN-1
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn plan_1_dates_end_after_start_no_date_before_today_started_start_cannot_move() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 12 - 01), date!(2026 - 12 - 31)).await;
    assert_eq!(the_plan(&ada, plan).await.state, PlanState::Scheduled);

    let past = ada
        .change_plan_dates(plan, Some(date!(2026 - 11 - 22)), None)
        .await;
    assert!(
        matches!(&past, Err(Error::Validation { field, reason: ReasonCode::DateInPast, .. }) if field == "start"),
        "{past:?}"
    );
    let before_start = ada
        .change_plan_dates(plan, None, Some(date!(2026 - 11 - 30)))
        .await;
    assert_eq!(reason(before_start), ReasonCode::PlanEndBeforeStart);
    let same_day = ada
        .change_plan_dates(plan, None, Some(date!(2026 - 12 - 01)))
        .await;
    assert_eq!(reason(same_day), ReasonCode::PlanEndBeforeStart);

    // Today itself is allowed as a new start.
    let moved = ada
        .change_plan_dates(
            plan,
            Some(date!(2026 - 11 - 23)),
            Some(date!(2026 - 12 - 20)),
        )
        .await
        .unwrap();
    assert_eq!(
        (moved.plan.start(), moved.plan.end()),
        (date!(2026 - 11 - 23), date!(2026 - 12 - 20))
    );
    assert_eq!(moved.state, PlanState::Active);

    // The start is reached: it cannot move any more; the end still can.
    w.clock.set(datetime!(2026-11-25 09:00 UTC));
    // The session idled out meanwhile.
    let ada = login(&w, "ada@acme.example").await;
    let started = ada
        .change_plan_dates(plan, Some(date!(2026 - 11 - 30)), None)
        .await;
    assert!(
        matches!(&started, Err(Error::ImmutableField { field, .. }) if field == "start"),
        "{started:?}"
    );
    let end = ada
        .change_plan_dates(plan, None, Some(date!(2026 - 12 - 24)))
        .await
        .unwrap();
    assert_eq!(end.plan.end(), date!(2026 - 12 - 24));
    assert_eq!(
        the_plan(&ada, plan).await.plan.start(),
        date!(2026 - 11 - 23)
    );
}

#[tokio::test]
async fn plan_1_today_is_the_date_in_the_configured_time_zone() {
    let clock = ManualClock::new(datetime!(2026-11-23 22:30 UTC));
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (ports, dev) = Ports::development_with(Arc::new(clock.clone()));
    let mut config = PortalConfig::new(Seller::example().unwrap(), &[7u8; 32]).unwrap();
    config.password_params = PasswordParams::testing();
    // Israel in winter: 00:30 on the 24th there.
    config.time_zone = time::UtcOffset::from_hms(2, 0, 0).unwrap();
    let portal = Portal::with_store(Arc::clone(&store), ports, config).unwrap();
    let w = World {
        portal,
        clock,
        store,
        dev,
    };
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 12 - 01), date!(2026 - 12 - 31)).await;
    // The 23rd is still today in UTC, but yesterday in the configured zone.
    let refused = ada
        .change_plan_dates(plan, Some(date!(2026 - 11 - 23)), None)
        .await;
    assert_eq!(reason(refused), ReasonCode::DateInPast);
    ada.change_plan_dates(plan, Some(date!(2026 - 11 - 24)), None)
        .await
        .unwrap();
}

#[tokio::test]
async fn plan_1_another_organisations_plan_is_not_found_on_every_call() {
    let w = world();
    let (_org_a, ada) = owner(&w, "ada@acme.example").await;
    let (org_b, _bob) = owner(&w, "bob@other.example").await;
    let (theirs, _) = plan_of(&w, org_b, 2, date!(2026 - 12 - 01), date!(2026 - 12 - 31)).await;
    let spare = iccid(7, 1).to_string();

    assert!(ada.plans().await.unwrap().is_empty());
    let calls: Vec<(&str, Result<(), Error>)> = vec![
        (
            "change_plan_dates",
            ada.change_plan_dates(theirs, None, Some(date!(2026 - 12 - 30)))
                .await
                .map(drop),
        ),
        ("swap_sim", ada.swap_sim(theirs, &spare).await.map(drop)),
        (
            "set_voicemail",
            ada.set_voicemail(theirs, true, VoicemailLanguage::Hebrew)
                .await
                .map(drop),
        ),
        ("send_apn_settings", ada.send_apn_settings(theirs).await),
        ("plan_usage", ada.plan_usage(theirs).await.map(drop)),
        (
            "set_call_forwarding",
            ada.set_call_forwarding(theirs, "+4915112345678")
                .await
                .map(drop),
        ),
        (
            "reset_call_forwarding",
            ada.reset_call_forwarding(theirs).await.map(drop),
        ),
    ];
    for (name, result) in calls {
        assert!(matches!(result, Err(Error::NotFound)), "{name}: {result:?}");
    }
    assert!(
        w.dev.network.requests().is_empty(),
        "the network was never asked"
    );
    assert!(
        outbox_of(&w, NotificationKind::ApnSettings)
            .await
            .is_empty()
    );
    let mut tx = w.store.begin(org_b).await.unwrap();
    let stored = tx.plan(theirs).await.unwrap().unwrap().value;
    assert_eq!(stored.end(), date!(2026 - 12 - 31));
    assert_eq!(stored.pending_swap(), None);
}

// ---------------------------------------------------------------------------------------------
// PLAN-2
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn plan_2_swap_to_a_sim_in_use_is_conflict() {
    let w = world();
    let (org_a, ada) = owner(&w, "ada@acme.example").await;
    let (org_b, _bob) = owner(&w, "bob@other.example").await;
    let (plan, _) = plan_of(&w, org_a, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    // Another plan of the same organisation runs on iccid(2, 0).
    plan_of(&w, org_a, 2, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    // Another organisation's SIM.
    plan_of(&w, org_b, 3, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;

    for taken in [iccid(2, 0), iccid(3, 0)] {
        let refused = ada.swap_sim(plan, &taken.to_string()).await;
        assert!(
            matches!(
                &refused,
                Err(Error::Conflict {
                    reason: ReasonCode::SimInUse
                })
            ),
            "{taken}: {refused:?}"
        );
    }
    let same = ada.swap_sim(plan, &iccid(1, 0).to_string()).await;
    assert_eq!(reason(same), ReasonCode::SimSwapSameSim);
    assert!(w.dev.network.requests().is_empty());
    assert_eq!(the_plan(&ada, plan).await.state, PlanState::Active);
}

#[tokio::test]
async fn plan_2_bad_check_digit_is_validation_on_new_sim() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    let good = iccid(7, 1).to_string();
    let last = good.chars().last().unwrap().to_digit(10).unwrap();
    let bad = format!("{}{}", &good[..good.len() - 1], (last + 1) % 10);
    let refused = ada.swap_sim(plan, &bad).await;
    assert!(
        matches!(&refused, Err(Error::Validation { field, .. }) if field == "new_sim"),
        "{refused:?}"
    );
    assert!(w.dev.network.requests().is_empty());
}

#[tokio::test]
async fn plan_2_completed_swap_moves_the_plan_and_sends_numbers_and_new_sim() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    let new = spare_sim(&w, org, plan, 1, 1).await;

    // Spaces are normalised (SIM-1).
    let spaced = new
        .to_string()
        .chars()
        .enumerate()
        .fold(String::new(), |mut s, (i, c)| {
            if i > 0 && i % 4 == 0 {
                s.push(' ');
            }
            s.push(c);
            s
        });
    let started = ada.swap_sim(plan, &spaced).await.unwrap();
    let during = the_plan(&ada, plan).await;
    assert_eq!(during.state, PlanState::Provisioning);
    assert_eq!(
        during.plan.sim(),
        &iccid(1, 0),
        "the old SIM until the network completes"
    );
    let again = ada.swap_sim(plan, &iccid(7, 7).to_string()).await;
    assert_eq!(reason(again), ReasonCode::ProvisioningInProgress);
    match w.dev.network.requests().as_slice() {
        [NetworkRequest::SwapSim(r)] => {
            assert_eq!(r.id, started.request);
            assert_eq!(r.new_sim, new);
            assert_eq!(r.old_sim, iccid(1, 0));
            assert_eq!(r.numbers, vec![number(1)]);
        }
        other => panic!("one swap request expected: {other:?}"),
    }
    assert!(
        outbox_of(&w, NotificationKind::SimSwapCompleted)
            .await
            .is_empty()
    );

    let done = w
        .portal
        .complete_provisioning(started.request, ProvisioningOutcome::Succeeded)
        .await
        .unwrap();
    assert_eq!(done, Completion::Applied);
    let after = the_plan(&ada, plan).await;
    assert_eq!(after.plan.sim(), &new);
    assert_eq!(after.state, PlanState::Active);

    let sent = outbox_of(&w, NotificationKind::SimSwapCompleted).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].to,
        vec![Email::parse("billing@acme.example").unwrap()]
    );
    assert!(sent[0].body.contains(number(1).e164()), "{}", sent[0].body);
    assert!(sent[0].body.contains(&new.to_string()), "{}", sent[0].body);

    // A second completion (either outcome) changes nothing and sends nothing.
    for outcome in [ProvisioningOutcome::Succeeded, ProvisioningOutcome::Failed] {
        let repeated = w
            .portal
            .complete_provisioning(started.request, outcome)
            .await
            .unwrap();
        assert_eq!(repeated, Completion::NotPending);
    }
    assert_eq!(the_plan(&ada, plan).await.plan.sim(), &new);
    assert_eq!(outbox(&w).await.len(), 1);

    // The old SIM is free again, the new one is taken.
    let (other, _) = plan_of(&w, org, 2, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    let taken = ada.swap_sim(other, &new.to_string()).await;
    assert_eq!(reason(taken), ReasonCode::SimInUse);
}

#[tokio::test]
async fn plan_2_failed_swap_keeps_the_old_sim_and_tells_the_customer() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    let new = iccid(7, 1);
    let started = ada.swap_sim(plan, &new.to_string()).await.unwrap();
    let done = w
        .portal
        .complete_provisioning(started.request, ProvisioningOutcome::Failed)
        .await
        .unwrap();
    assert_eq!(done, Completion::Applied);
    let after = the_plan(&ada, plan).await;
    assert_eq!(after.plan.sim(), &iccid(1, 0));
    assert_eq!(after.state, PlanState::Active);
    let told = outbox_of(&w, NotificationKind::SimSwapFailed).await;
    assert_eq!(told.len(), 1);
    assert!(told[0].body.contains(&new.to_string()), "{}", told[0].body);
    assert!(
        outbox_of(&w, NotificationKind::SimSwapCompleted)
            .await
            .is_empty()
    );
    // A late success does not move the plan any more.
    let late = w
        .portal
        .complete_provisioning(started.request, ProvisioningOutcome::Succeeded)
        .await
        .unwrap();
    assert_eq!(late, Completion::NotPending);
    assert_eq!(the_plan(&ada, plan).await.plan.sim(), &iccid(1, 0));
    // The swap can be asked again.
    ada.swap_sim(plan, &new.to_string()).await.unwrap();
}

#[tokio::test]
async fn plan_2_unreachable_network_fails_the_swap_and_keeps_the_old_sim() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    w.dev.network.set_unavailable(true);
    let refused = ada.swap_sim(plan, &iccid(7, 1).to_string()).await;
    assert!(
        matches!(refused, Err(Error::Unavailable { .. })),
        "{refused:?}"
    );
    let after = the_plan(&ada, plan).await;
    assert_eq!(after.plan.sim(), &iccid(1, 0));
    assert_eq!(after.plan.pending_swap(), None);
    assert_eq!(after.state, PlanState::Active);
    w.dev.network.set_unavailable(false);
    ada.swap_sim(plan, &iccid(7, 1).to_string()).await.unwrap();
    assert_eq!(w.dev.network.requests().len(), 1);
}

#[tokio::test]
async fn plan_2_unanswered_swap_times_out_after_an_hour_keeping_the_old_sim() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    let started = ada.swap_sim(plan, &iccid(7, 1).to_string()).await.unwrap();

    let early = w.clock.advance(Duration::minutes(59));
    assert_eq!(
        w.portal
            .run_maintenance(early)
            .await
            .unwrap()
            .swaps_timed_out,
        0
    );
    // The session idled out meanwhile.
    let ada = login(&w, "ada@acme.example").await;
    assert_eq!(the_plan(&ada, plan).await.state, PlanState::Provisioning);

    let late = w.clock.advance(Duration::minutes(1));
    assert_eq!(
        w.portal
            .run_maintenance(late)
            .await
            .unwrap()
            .swaps_timed_out,
        1
    );
    let after = the_plan(&ada, plan).await;
    assert_eq!(after.plan.sim(), &iccid(1, 0));
    assert_eq!(after.state, PlanState::Active);
    assert_eq!(
        outbox_of(&w, NotificationKind::SimSwapFailed).await.len(),
        1
    );
    // Nothing is due twice, and a late completion changes nothing.
    assert_eq!(
        w.portal
            .run_maintenance(late)
            .await
            .unwrap()
            .swaps_timed_out,
        0
    );
    let completion = w
        .portal
        .complete_provisioning(started.request, ProvisioningOutcome::Succeeded)
        .await
        .unwrap();
    assert_eq!(completion, Completion::NotPending);
    assert_eq!(the_plan(&ada, plan).await.plan.sim(), &iccid(1, 0));
}

#[tokio::test]
async fn plan_2_read_only_cannot_swap() {
    let w = world();
    let (org, _ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    common::insert_member(w.store.as_ref(), org, "reader@acme.example", Role::ReadOnly).await;
    let reader = login(&w, "reader@acme.example").await;
    let refused = reader.swap_sim(plan, &iccid(7, 1).to_string()).await;
    assert!(
        matches!(refused, Err(Error::PermissionDenied { .. })),
        "{refused:?}"
    );
    assert!(w.dev.network.requests().is_empty());
    // ReadOnly may look at the plan.
    assert_eq!(the_plan(&reader, plan).await.state, PlanState::Active);
}

// ---------------------------------------------------------------------------------------------
// PLAN-3
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn plan_3_voicemail_in_hebrew_applies_when_the_network_completes_it() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    let hebrew = Voicemail {
        enabled: true,
        language: VoicemailLanguage::Hebrew,
    };
    let started = ada
        .set_voicemail(plan, true, VoicemailLanguage::parse("he").unwrap())
        .await
        .unwrap()
        .expect("a change is asked for");
    // Not claimed before the network confirms it.
    assert_eq!(
        the_plan(&ada, plan).await.plan.voicemail(),
        Voicemail::default()
    );
    match w.dev.network.requests().as_slice() {
        [NetworkRequest::Voicemail(r)] => {
            assert_eq!(r.id, started.request);
            assert_eq!(r.voicemail, hebrew);
            assert_eq!(r.numbers, vec![number(1)]);
        }
        other => panic!("one voicemail request expected: {other:?}"),
    }
    w.portal
        .complete_provisioning(started.request, ProvisioningOutcome::Succeeded)
        .await
        .unwrap();
    assert_eq!(the_plan(&ada, plan).await.plan.voicemail(), hebrew);
    // The same setting again asks nothing.
    assert_eq!(
        ada.set_voicemail(plan, true, VoicemailLanguage::Hebrew)
            .await
            .unwrap(),
        None
    );
    assert_eq!(w.dev.network.requests().len(), 1);
}

#[tokio::test]
async fn plan_3_voicemail_refused_by_the_network_is_not_claimed() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    let started = ada
        .set_voicemail(plan, true, VoicemailLanguage::English)
        .await
        .unwrap()
        .unwrap();
    w.portal
        .complete_provisioning(started.request, ProvisioningOutcome::Failed)
        .await
        .unwrap();
    assert_eq!(
        the_plan(&ada, plan).await.plan.voicemail(),
        Voicemail::default()
    );

    w.dev.network.set_unavailable(true);
    let down = ada
        .set_voicemail(plan, true, VoicemailLanguage::Hebrew)
        .await;
    assert!(matches!(down, Err(Error::Unavailable { .. })), "{down:?}");
    assert_eq!(
        the_plan(&ada, plan).await.plan.voicemail(),
        Voicemail::default()
    );
    // The refused request is settled: nothing is left for the timeout.
    let later = w.clock.advance(Duration::hours(2));
    assert_eq!(
        w.portal
            .run_maintenance(later)
            .await
            .unwrap()
            .swaps_timed_out,
        0
    );
}

// ---------------------------------------------------------------------------------------------
// PLAN-4
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn plan_4_apn_settings_go_to_the_service_contacts_in_their_language() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    ada.send_apn_settings(plan).await.unwrap();
    let sent = outbox_of(&w, NotificationKind::ApnSettings).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].to,
        vec![Email::parse("billing@acme.example").unwrap()]
    );
    assert_eq!(sent[0].language, selfcare::core::contact::Language::German);
    assert!(
        sent[0].body.contains(selfcare::plans::DEFAULT_APN),
        "{}",
        sent[0].body
    );
    assert!(sent[0].body.contains(number(1).e164()), "{}", sent[0].body);
}

// ---------------------------------------------------------------------------------------------
// PLAN-5
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn plan_5_usage_of_the_plans_sim_is_readable() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, sim) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;

    let empty = ada.plan_usage(plan).await.unwrap();
    assert_eq!(empty.data_bytes.used, 0);
    assert_eq!(empty.period_start(), date!(2026 - 11 - 01));
    assert_eq!(empty.period_end(), date!(2026 - 12 - 31));

    let mut tx = w.store.begin(org).await.unwrap();
    tx.insert_quota(QuotaRecord {
        state: QuotaState::restore(
            sim,
            2,
            Quota {
                generation: 1,
                volume: 1_000_000,
                used: 250_000,
            },
            Quota {
                generation: 2,
                volume: 100,
                used: 7,
            },
        ),
        monthly: MonthlyUsage::new(MonthPeriod::new(2026, 11).unwrap()),
        marks: SentMarks::new(),
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let usage = ada.plan_usage(plan).await.unwrap();
    assert_eq!(usage.data_bytes.used, 250_000);
    assert_eq!(usage.data_bytes.included, Some(1_000_000));
    assert_eq!(usage.data_bytes.percent_used(), Some(25));
    assert_eq!(usage.sms.used, 7);
    assert_eq!(usage.sms.remaining(), Some(93));
}

// ---------------------------------------------------------------------------------------------
// PLAN-6
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn plan_6_call_forwarding_to_the_plans_own_number_is_refused() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    for own in [number(1).e164().to_owned(), "+972 50-123-4501".to_owned()] {
        let refused = ada.set_call_forwarding(plan, &own).await;
        assert!(
            matches!(&refused, Err(Error::Validation { field, reason: ReasonCode::CallForwardingToOwnNumber, .. }) if field == "forward_to"),
            "{own}: {refused:?}"
        );
    }
    let bad = ada.set_call_forwarding(plan, "12").await;
    assert!(
        matches!(&bad, Err(Error::Validation { field, .. }) if field == "forward_to"),
        "{bad:?}"
    );
    assert!(w.dev.network.requests().is_empty());
    assert_eq!(the_plan(&ada, plan).await.plan.call_forwarding(), None);
}

#[tokio::test]
async fn plan_6_call_forwarding_set_and_reset_apply_when_the_network_completes_them() {
    let w = world();
    let (org, ada) = owner(&w, "ada@acme.example").await;
    let (plan, _) = plan_of(&w, org, 1, date!(2026 - 11 - 01), date!(2026 - 12 - 31)).await;
    let to = Msisdn::parse("+4915112345678").unwrap();
    assert_eq!(ada.reset_call_forwarding(plan).await.unwrap(), None);

    let set = ada
        .set_call_forwarding(plan, "+49 151 12345678")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(the_plan(&ada, plan).await.plan.call_forwarding(), None);
    w.portal
        .complete_provisioning(set.request, ProvisioningOutcome::Succeeded)
        .await
        .unwrap();
    assert_eq!(the_plan(&ada, plan).await.plan.call_forwarding(), Some(&to));

    let reset = ada.reset_call_forwarding(plan).await.unwrap().unwrap();
    match w.dev.network.requests().as_slice() {
        [
            NetworkRequest::CallForwarding(first),
            NetworkRequest::CallForwarding(second),
        ] => {
            assert_eq!(first.forward_to, Some(to.clone()));
            assert_eq!(second.forward_to, None);
            assert_eq!(second.id, reset.request);
        }
        other => panic!("two call-forwarding requests expected: {other:?}"),
    }
    w.portal
        .complete_provisioning(reset.request, ProvisioningOutcome::Succeeded)
        .await
        .unwrap();
    assert_eq!(the_plan(&ada, plan).await.plan.call_forwarding(), None);
}

#[tokio::test]
async fn plan_2_a_completion_for_an_unknown_request_is_not_found() {
    let w = common::world();
    let unknown =
        selfcare::core::ids::ProvisioningId::new(datetime!(2026-11-23 10:00 UTC), [0x42; 10]);
    let err = w
        .portal
        .complete_provisioning(unknown, ProvisioningOutcome::Succeeded)
        .await
        .unwrap_err();
    assert_eq!(err, Error::NotFound);
}
