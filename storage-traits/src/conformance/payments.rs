//! Conformance cases for payments: the payment-settings aggregate, payment intents with their
//! lease (ORD-5), idempotency records and their purge.
//!
//! Checks after a failed statement run in a fresh transaction: some databases abort the whole
//! transaction on an error.

use std::collections::BTreeSet;
use std::sync::Arc;

use selfcare_core::ids::{CardId, OrgId, PaymentIntentId};
use selfcare_core::orders::{GatewayKey, IdempotencyKey, PaymentIntentState, RequestFingerprint};
use selfcare_core::payment::{
    AutoTopUpTarget, CardBrand, CardExpiry, CardToken, Last4, PaymentSettings, StoredCard,
    VerifiedCard,
};
use time::macros::{date, datetime};
use time::{Duration, OffsetDateTime};

use super::Failure;
use crate::conformance_check as check;
use crate::error::{ConflictKind, StoreError, StoreResult};
use crate::page::{Cursor, PageRequest};
use crate::payments::{DueIntent, IdempotencyRecord, PaymentIntentRecord};
use crate::store::Store;
use crate::version::{Version, Versioned};

crate::conformance_cases! {
    "payments.settings_absent_before_first_insert" => settings_absent_before_first_insert,
    "payments.settings_insert_get_round_trip" => settings_round_trip,
    "payments.settings_duplicate_insert_is_conflict" => settings_duplicate_insert,
    "payments.settings_update_bumps_version" => settings_update_bumps_version,
    "payments.settings_stale_update_is_conflict_and_changes_nothing" => settings_stale_update,
    "payments.settings_update_without_settings_is_not_found" => settings_update_not_found,
    "payments.settings_dropped_transaction_leaves_nothing" => settings_dropped_transaction,
    "payments.settings_are_scoped_to_their_organisation" => settings_scoped,
    "payments.intent_insert_get_round_trip" => intent_round_trip,
    "payments.intent_duplicate_key_or_id_is_conflict" => intent_duplicate,
    "payments.intent_update_bumps_version_and_stale_is_conflict" => intent_update_and_stale,
    "payments.intent_lease_race_only_one_of_two_updates_with_the_same_version_wins" => intent_lease_race,
    "payments.intent_update_cannot_change_key" => intent_update_cannot_change_key,
    "payments.intent_update_of_unknown_id_is_not_found" => intent_update_unknown,
    "payments.intent_dropped_transaction_leaves_nothing" => intent_dropped_transaction,
    "payments.intent_keys_are_per_organisation" => intent_keys_per_org,
    "payments.due_intents_lists_only_intents_in_the_state_leased_before_the_cut_off" => due_intents_filter,
    "payments.due_intents_pagination_complete_and_stable" => due_intents_pagination,
    "payments.due_intents_invalid_page_is_invalid_input" => due_intents_invalid_page,
    "payments.idempotency_record_replays_exactly_the_stored_bytes_and_fingerprint" => idempotency_replay,
    "payments.idempotency_duplicate_is_conflict_and_keeps_the_first" => idempotency_duplicate,
    "payments.idempotency_keys_are_per_organisation" => idempotency_keys_per_org,
    "payments.idempotency_dropped_transaction_leaves_nothing" => idempotency_dropped_transaction,
    "payments.idempotency_purge_removes_only_records_before_the_cut_off" => idempotency_purge,
}

const T0: OffsetDateTime = datetime!(2025-03-01 12:00 UTC);

fn org(n: u8) -> OrgId {
    OrgId::new(datetime!(2025-01-01 0:00 UTC), [n; 10])
}

fn is_stale<T>(r: &StoreResult<T>) -> bool {
    matches!(r, Err(StoreError::Conflict(ConflictKind::StaleVersion)))
}

fn is_duplicate<T>(r: &StoreResult<T>, what: &str) -> bool {
    matches!(r, Err(StoreError::Conflict(ConflictKind::Duplicate { what: w })) if *w == what)
}

// ---------------------------------------------------------------------------------------------
// Payment settings
// ---------------------------------------------------------------------------------------------

/// Settings with one card per token; Auto-Top-Up on for all SIMs when `auto`.
fn settings(tokens: &[&str], auto: bool) -> Result<PaymentSettings, Failure> {
    let today = date!(2025 - 01 - 01);
    let mut settings = PaymentSettings::new();
    for (i, token) in tokens.iter().enumerate() {
        let n = u8::try_from(i).map_err(|_| Failure("too many test cards".into()))?;
        let verified = VerifiedCard {
            token: CardToken::parse(token)?,
            brand: CardBrand::Visa,
            last4: Last4::parse("4242")?,
            expiry: CardExpiry::new(12, 2030)?,
        };
        let card = StoredCard::new(CardId::new(T0, [n; 10]), verified, "Ada Lovelace", today)?;
        settings.save_card(card)?;
    }
    if auto {
        settings.set_auto_top_up(AutoTopUpTarget::AllSims, true, today)?;
    }
    Ok(settings)
}

async fn stored_settings(
    store: &Arc<dyn Store>,
    org: OrgId,
) -> Result<Option<(PaymentSettings, Version)>, Failure> {
    let mut tx = store.begin(org).await?;
    Ok(tx.payment_settings().await?.map(|v| (v.value, v.version)))
}

async fn settings_absent_before_first_insert(store: Arc<dyn Store>) -> Result<(), Failure> {
    check!(
        stored_settings(&store, org(1)).await?.is_none(),
        "a fresh organisation has payment settings"
    );
    let mut tx = store.begin(org(2)).await?;
    tx.insert_payment_settings(settings(&["tok_b"], false)?)
        .await?;
    tx.commit().await?;
    check!(
        stored_settings(&store, org(1)).await?.is_none(),
        "another organisation's settings appeared in this organisation"
    );
    Ok(())
}

async fn settings_round_trip(store: Arc<dyn Store>) -> Result<(), Failure> {
    let s = settings(&["tok_visa", "tok_mc"], true)?;
    let mut tx = store.begin(org(1)).await?;
    let v = tx.insert_payment_settings(s.clone()).await?;
    check!(v == Version::FIRST, "insert returned {v:?}, expected 1");
    let own = tx.payment_settings().await?;
    check!(
        own.as_ref().map(|v| &v.value) == Some(&s),
        "the transaction does not read its own insert back"
    );
    tx.commit().await?;
    check!(
        stored_settings(&store, org(1)).await? == Some((s, Version::FIRST)),
        "the committed settings differ from the inserted ones or are not at version 1"
    );
    Ok(())
}

async fn settings_duplicate_insert(store: Arc<dyn Store>) -> Result<(), Failure> {
    let first = settings(&["tok_visa"], false)?;
    let mut tx = store.begin(org(1)).await?;
    tx.insert_payment_settings(first.clone()).await?;
    tx.commit().await?;
    let mut tx = store.begin(org(1)).await?;
    let second = tx
        .insert_payment_settings(settings(&["tok_mc"], true)?)
        .await;
    check!(
        is_duplicate(&second, "payment_settings"),
        "a second insert gave {second:?}, expected Duplicate(payment_settings)"
    );
    drop(tx);
    check!(
        stored_settings(&store, org(1)).await? == Some((first, Version::FIRST)),
        "a refused second insert changed the stored settings"
    );
    Ok(())
}

async fn settings_update_bumps_version(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    let v1 = tx
        .insert_payment_settings(settings(&["tok_visa"], false)?)
        .await?;
    tx.commit().await?;
    let on = settings(&["tok_visa"], true)?;
    let mut tx = store.begin(org(1)).await?;
    let v2 = tx.update_payment_settings(on.clone(), v1).await?;
    tx.commit().await?;
    check!(v2 == v1.next(), "update returned {v2:?} after {v1:?}");
    check!(
        stored_settings(&store, org(1)).await? == Some((on, v2)),
        "the updated settings or their version were not stored"
    );
    let two = settings(&["tok_visa", "tok_mc"], true)?;
    let mut tx = store.begin(org(1)).await?;
    let v3 = tx.update_payment_settings(two.clone(), v2).await?;
    tx.commit().await?;
    check!(
        v3 == v2.next() && stored_settings(&store, org(1)).await? == Some((two, v3)),
        "a second update did not store the settings at the next version"
    );
    Ok(())
}

async fn settings_stale_update(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    let v1 = tx
        .insert_payment_settings(settings(&["tok_visa"], false)?)
        .await?;
    tx.commit().await?;
    let current = settings(&["tok_visa"], true)?;
    let mut tx = store.begin(org(1)).await?;
    let v2 = tx.update_payment_settings(current.clone(), v1).await?;
    tx.commit().await?;
    for stale in [v1, Version(v2.0 + 7)] {
        let mut tx = store.begin(org(1)).await?;
        let outcome = tx
            .update_payment_settings(settings(&["tok_evil"], false)?, stale)
            .await;
        check!(
            is_stale(&outcome),
            "an update with {stale:?} while the settings are at {v2:?} gave {outcome:?}"
        );
        drop(tx);
        check!(
            stored_settings(&store, org(1)).await? == Some((current.clone(), v2)),
            "a stale update changed the stored settings"
        );
    }
    Ok(())
}

async fn settings_update_not_found(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    let outcome = tx
        .update_payment_settings(settings(&["tok_visa"], false)?, Version::FIRST)
        .await;
    check!(
        matches!(outcome, Err(StoreError::NotFound)),
        "updating settings that do not exist gave {outcome:?}"
    );
    drop(tx);
    check!(
        stored_settings(&store, org(1)).await?.is_none(),
        "a refused update created settings"
    );
    Ok(())
}

async fn settings_dropped_transaction(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    tx.insert_payment_settings(settings(&["tok_visa"], false)?)
        .await?;
    drop(tx);
    check!(
        stored_settings(&store, org(1)).await?.is_none(),
        "an insert survived its dropped transaction"
    );
    let first = settings(&["tok_visa"], false)?;
    let mut tx = store.begin(org(1)).await?;
    let v1 = tx.insert_payment_settings(first.clone()).await?;
    tx.commit().await?;
    let mut tx = store.begin(org(1)).await?;
    tx.update_payment_settings(settings(&["tok_visa"], true)?, v1)
        .await?;
    let failed = tx
        .update_payment_settings(settings(&["tok_mc"], false)?, v1)
        .await;
    check!(is_stale(&failed), "a stale update gave {failed:?}");
    drop(tx);
    check!(
        stored_settings(&store, org(1)).await? == Some((first, v1)),
        "part of a dropped transaction was kept"
    );
    Ok(())
}

async fn settings_scoped(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let sa = settings(&["tok_a"], false)?;
    let sb = settings(&["tok_b1", "tok_b2"], true)?;
    let mut tx = store.begin(a).await?;
    tx.insert_payment_settings(sa.clone()).await?;
    tx.commit().await?;
    let mut tx = store.begin(b).await?;
    let vb = tx.insert_payment_settings(sb.clone()).await?;
    tx.commit().await?;
    check!(
        stored_settings(&store, a).await? == Some((sa.clone(), Version::FIRST)),
        "organisation A reads settings other than its own"
    );
    check!(
        stored_settings(&store, b).await? == Some((sb, Version::FIRST)),
        "organisation B reads settings other than its own"
    );
    let mut tx = store.begin(b).await?;
    tx.update_payment_settings(settings(&["tok_b1"], false)?, vb)
        .await?;
    tx.commit().await?;
    check!(
        stored_settings(&store, a).await? == Some((sa, Version::FIRST)),
        "updating B's settings changed A's"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Payment intents
// ---------------------------------------------------------------------------------------------

fn key(raw: &str) -> Result<IdempotencyKey, Failure> {
    Ok(IdempotencyKey::parse(raw)?)
}

fn intent_id(n: u32) -> PaymentIntentId {
    let mut random = [0u8; 10];
    for (slot, byte) in random.iter_mut().zip(n.to_be_bytes()) {
        *slot = byte;
    }
    PaymentIntentId::new(T0 + Duration::milliseconds(i64::from(n)), random)
}

/// A pending intent `n` of `org` under `raw_key`, leased at `leased_at`.
fn intent(
    org: OrgId,
    n: u32,
    raw_key: &str,
    leased_at: OffsetDateTime,
) -> Result<PaymentIntentRecord, Failure> {
    let key = key(raw_key)?;
    Ok(PaymentIntentRecord {
        id: intent_id(n),
        fingerprint: RequestFingerprint::of(&("order", raw_key, n))?,
        gateway_key: GatewayKey::order(org, &key),
        key,
        state: PaymentIntentState::Pending,
        leased_at,
        attempts: 1,
        created_at: leased_at,
        result: None,
    })
}

async fn intent_by_key(
    store: &Arc<dyn Store>,
    org: OrgId,
    raw_key: &str,
) -> Result<Option<Versioned<PaymentIntentRecord>>, Failure> {
    let mut tx = store.begin(org).await?;
    Ok(tx.payment_intent(&key(raw_key)?).await?)
}

async fn intent_by_id(
    store: &Arc<dyn Store>,
    org: OrgId,
    id: PaymentIntentId,
) -> Result<Option<Versioned<PaymentIntentRecord>>, Failure> {
    let mut tx = store.begin(org).await?;
    Ok(tx.payment_intent_by_id(id).await?)
}

async fn insert_intent(
    store: &Arc<dyn Store>,
    org: OrgId,
    intent: PaymentIntentRecord,
) -> Result<Version, Failure> {
    let mut tx = store.begin(org).await?;
    let version = tx.insert_payment_intent(intent).await?;
    tx.commit().await?;
    Ok(version)
}

fn versioned(
    value: PaymentIntentRecord,
    version: Version,
) -> Option<Versioned<PaymentIntentRecord>> {
    Some(Versioned { value, version })
}

async fn intent_round_trip(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut rec = intent(org(1), 1, "order-1", T0)?;
    // Bytes that are not UTF-8 must come back as they are.
    rec.result = Some(vec![0, 159, 146, 150, 255, b'{', b'}']);
    rec.attempts = 3;
    let mut tx = store.begin(org(1)).await?;
    let v = tx.insert_payment_intent(rec.clone()).await?;
    check!(v == Version::FIRST, "insert returned {v:?}, expected 1");
    let own = tx.payment_intent(&rec.key).await?;
    check!(
        own == versioned(rec.clone(), v),
        "the transaction does not read its own intent back: {own:?}"
    );
    tx.commit().await?;
    let by_key = intent_by_key(&store, org(1), "order-1").await?;
    check!(
        by_key == versioned(rec.clone(), v),
        "get by key after commit gave {by_key:?}"
    );
    let by_id = intent_by_id(&store, org(1), rec.id).await?;
    check!(
        by_id == versioned(rec, v),
        "get by id after commit gave {by_id:?}"
    );
    check!(
        intent_by_key(&store, org(1), "order-2").await?.is_none(),
        "an unused key returned an intent"
    );
    Ok(())
}

async fn intent_duplicate(store: Arc<dyn Store>) -> Result<(), Failure> {
    let first = intent(org(1), 1, "order-1", T0)?;
    insert_intent(&store, org(1), first.clone()).await?;

    // Same key, other id, other request.
    let mut tx = store.begin(org(1)).await?;
    let outcome = tx
        .insert_payment_intent(intent(org(1), 2, "order-1", T0 + Duration::hours(1))?)
        .await;
    check!(
        is_duplicate(&outcome, "payment_intent_key"),
        "a second intent under the same key gave {outcome:?}"
    );
    drop(tx);
    // Same id, other key.
    let mut tx = store.begin(org(1)).await?;
    let outcome = tx
        .insert_payment_intent(intent(org(1), 1, "order-2", T0)?)
        .await;
    check!(
        is_duplicate(&outcome, "payment_intent_id"),
        "a second intent with the same id gave {outcome:?}"
    );
    drop(tx);

    check!(
        intent_by_key(&store, org(1), "order-1").await? == versioned(first, Version::FIRST),
        "a refused insert changed the first intent"
    );
    check!(
        intent_by_key(&store, org(1), "order-2").await?.is_none(),
        "a refused insert left its key behind"
    );
    check!(
        intent_by_id(&store, org(1), intent_id(2)).await?.is_none(),
        "a refused insert left its id behind"
    );
    Ok(())
}

async fn intent_update_and_stale(store: Arc<dyn Store>) -> Result<(), Failure> {
    let rec = intent(org(1), 1, "order-1", T0)?;
    let v1 = insert_intent(&store, org(1), rec.clone()).await?;
    let mut done = rec.clone();
    done.state = PaymentIntentState::Succeeded;
    done.result = Some(b"{\"order\":\"SC-1\"}".to_vec());
    let mut tx = store.begin(org(1)).await?;
    let v2 = tx.update_payment_intent(done.clone(), v1).await?;
    tx.commit().await?;
    check!(v2 == v1.next(), "update returned {v2:?} after {v1:?}");
    check!(
        intent_by_key(&store, org(1), "order-1").await? == versioned(done.clone(), v2),
        "the update was not stored at the next version"
    );

    for stale in [v1, Version(v2.0 + 5)] {
        let mut other = rec.clone();
        other.state = PaymentIntentState::Declined;
        let mut tx = store.begin(org(1)).await?;
        let outcome = tx.update_payment_intent(other, stale).await;
        check!(
            is_stale(&outcome),
            "an update with {stale:?} while at {v2:?} gave {outcome:?}"
        );
        drop(tx);
        check!(
            intent_by_id(&store, org(1), rec.id).await? == versioned(done.clone(), v2),
            "a stale update changed the intent"
        );
    }
    Ok(())
}

async fn intent_lease_race(store: Arc<dyn Store>) -> Result<(), Failure> {
    let rec = intent(org(1), 1, "order-1", T0)?;
    insert_intent(&store, org(1), rec).await?;

    // Two attempts read the intent (its lease expired) and both decide to take it over.
    let first_read = intent_by_key(&store, org(1), "order-1").await?;
    let second_read = intent_by_key(&store, org(1), "order-1").await?;
    let (Some(first), Some(second)) = (first_read, second_read) else {
        return Err(Failure("the recorded intent cannot be read".into()));
    };
    check!(
        first.version == second.version,
        "two reads without a write in between gave different versions"
    );
    let take_over = |read: &Versioned<PaymentIntentRecord>, at: OffsetDateTime| {
        let mut value = read.value.clone();
        value.leased_at = at;
        value.attempts = value.attempts.saturating_add(1);
        value
    };
    let winner = take_over(&first, T0 + Duration::seconds(61));
    let loser = take_over(&second, T0 + Duration::seconds(62));

    let mut tx = store.begin(org(1)).await?;
    let won = tx
        .update_payment_intent(winner.clone(), first.version)
        .await;
    if won.is_ok() {
        tx.commit().await?;
    } else {
        drop(tx);
    }
    let mut tx = store.begin(org(1)).await?;
    let lost = tx.update_payment_intent(loser, second.version).await;
    if lost.is_ok() {
        tx.commit().await?;
    } else {
        drop(tx);
    }
    check!(
        won == Ok(first.version.next()),
        "the first take-over gave {won:?}, expected the next version"
    );
    check!(
        is_stale(&lost),
        "the second take-over with the same version gave {lost:?}, expected StaleVersion"
    );
    let now = intent_by_key(&store, org(1), "order-1").await?;
    check!(
        now == versioned(winner, first.version.next()),
        "the stored lease is not the winner's: {now:?}"
    );
    Ok(())
}

async fn intent_update_cannot_change_key(store: Arc<dyn Store>) -> Result<(), Failure> {
    let rec = intent(org(1), 1, "order-1", T0)?;
    let v1 = insert_intent(&store, org(1), rec.clone()).await?;
    let mut moved = rec.clone();
    moved.key = key("order-9")?;
    let mut tx = store.begin(org(1)).await?;
    let outcome = tx.update_payment_intent(moved, v1).await;
    check!(
        matches!(outcome, Err(StoreError::InvalidInput { .. })),
        "changing an intent's key gave {outcome:?}"
    );
    drop(tx);
    check!(
        intent_by_key(&store, org(1), "order-1").await? == versioned(rec, v1),
        "a refused key change altered the intent"
    );
    check!(
        intent_by_key(&store, org(1), "order-9").await?.is_none(),
        "a refused key change made the new key resolve"
    );
    Ok(())
}

async fn intent_update_unknown(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    let outcome = tx
        .update_payment_intent(intent(org(1), 1, "order-1", T0)?, Version::FIRST)
        .await;
    check!(
        matches!(outcome, Err(StoreError::NotFound)),
        "updating an intent that does not exist gave {outcome:?}"
    );
    drop(tx);
    check!(
        intent_by_id(&store, org(1), intent_id(1)).await?.is_none(),
        "a refused update created an intent"
    );
    Ok(())
}

async fn intent_dropped_transaction(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    tx.insert_payment_intent(intent(org(1), 1, "order-1", T0)?)
        .await?;
    drop(tx);
    check!(
        intent_by_key(&store, org(1), "order-1").await?.is_none()
            && intent_by_id(&store, org(1), intent_id(1)).await?.is_none(),
        "an intent survived its dropped transaction"
    );

    // The key index was rolled back too: the key is free again.
    let kept = intent(org(1), 2, "order-1", T0)?;
    let v1 = insert_intent(&store, org(1), kept.clone()).await?;

    // Several writes, then a failure midway, then the transaction is dropped.
    let mut tx = store.begin(org(1)).await?;
    tx.insert_payment_intent(intent(org(1), 3, "order-3", T0)?)
        .await?;
    let mut changed = kept.clone();
    changed.state = PaymentIntentState::Declined;
    tx.update_payment_intent(changed, v1).await?;
    let failed = tx
        .insert_payment_intent(intent(org(1), 4, "order-1", T0)?)
        .await;
    check!(
        is_duplicate(&failed, "payment_intent_key"),
        "a duplicate key gave {failed:?}"
    );
    drop(tx);
    check!(
        intent_by_key(&store, org(1), "order-3").await?.is_none(),
        "an insert of a transaction that failed midway was kept"
    );
    check!(
        intent_by_key(&store, org(1), "order-1").await? == versioned(kept, v1),
        "an update of a transaction that failed midway was kept"
    );
    Ok(())
}

async fn intent_keys_per_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let in_a = intent(a, 1, "same-key", T0)?;
    let in_b = intent(b, 2, "same-key", T0 + Duration::seconds(5))?;
    insert_intent(&store, a, in_a.clone()).await?;
    let vb = insert_intent(&store, b, in_b.clone()).await?;
    check!(
        intent_by_key(&store, a, "same-key").await? == versioned(in_a.clone(), Version::FIRST),
        "organisation A's key resolves to another intent"
    );
    check!(
        intent_by_key(&store, b, "same-key").await? == versioned(in_b.clone(), vb),
        "organisation B's key resolves to another intent"
    );
    check!(
        intent_by_id(&store, a, in_b.id).await?.is_none(),
        "organisation A reads B's intent by id"
    );
    let mut hijack = in_b.clone();
    hijack.state = PaymentIntentState::Abandoned;
    let mut tx = store.begin(a).await?;
    let outcome = tx.update_payment_intent(hijack, vb).await;
    check!(
        matches!(outcome, Err(StoreError::NotFound)),
        "organisation A updating B's intent gave {outcome:?}"
    );
    drop(tx);
    check!(
        intent_by_key(&store, b, "same-key").await? == versioned(in_b, vb),
        "B's intent changed through A's transaction"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Due intents (provider)
// ---------------------------------------------------------------------------------------------

async fn due(
    store: &Arc<dyn Store>,
    state: PaymentIntentState,
    cut_off: OffsetDateTime,
    page: &PageRequest,
) -> Result<crate::page::Page<DueIntent>, Failure> {
    let mut tx = store.begin_provider().await?;
    Ok(tx.due_payment_intents(state, cut_off, page).await?)
}

async fn due_intents_filter(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let cut_off = T0 + Duration::minutes(10);
    let old = T0;
    let mut rows = vec![
        (a, intent(a, 1, "due-a", old)?),
        (a, intent(a, 2, "at-cut-off", cut_off)?),
        (a, intent(a, 3, "fresh", cut_off + Duration::seconds(1))?),
        (b, intent(b, 6, "due-b", old)?),
    ];
    let mut action = intent(a, 4, "action", old)?;
    action.state = PaymentIntentState::ActionRequired;
    rows.push((a, action));
    let mut done = intent(a, 5, "done", old)?;
    done.state = PaymentIntentState::Succeeded;
    rows.push((a, done));
    for (org, rec) in rows {
        insert_intent(&store, org, rec).await?;
    }

    let page = due(
        &store,
        PaymentIntentState::Pending,
        cut_off,
        &PageRequest::first(50),
    )
    .await?;
    let got: BTreeSet<_> = page.items.iter().map(|d| (d.org, d.id)).collect();
    let want: BTreeSet<_> = [(a, intent_id(1)), (b, intent_id(6))].into();
    check!(
        got == want && page.items.len() == 2,
        "due pending intents were {:?}, expected due-a and due-b",
        page.items
    );
    check!(
        page.items
            .iter()
            .all(|d| d.state == PaymentIntentState::Pending && d.leased_at == old),
        "due intents carry a wrong state or lease time: {:?}",
        page.items
    );
    check!(page.next.is_none(), "a short list has a next page");

    let page = due(
        &store,
        PaymentIntentState::ActionRequired,
        cut_off,
        &PageRequest::first(50),
    )
    .await?;
    let got: Vec<_> = page.items.iter().map(|d| (d.org, d.id, d.state)).collect();
    check!(
        got == vec![(a, intent_id(4), PaymentIntentState::ActionRequired)],
        "due intents awaiting an action were {got:?}"
    );
    Ok(())
}

async fn due_intents_pagination(store: Arc<dyn Store>) -> Result<(), Failure> {
    let orgs = [org(3), org(1), org(2)];
    let cut_off = T0 + Duration::hours(1);
    let mut original = BTreeSet::new();
    let mut n = 0u32;
    for i in 0..23usize {
        let o = orgs[i % orgs.len()];
        n += 1;
        insert_intent(&store, o, intent(o, n, &format!("k{n}"), T0)?).await?;
        original.insert((o, intent_id(n)));
    }

    let mut seen: Vec<(OrgId, PaymentIntentId)> = Vec::new();
    let mut after: Option<Cursor> = None;
    for round in 0..50 {
        let request = PageRequest {
            after: after.clone(),
            limit: 5,
        };
        let page = due(&store, PaymentIntentState::Pending, cut_off, &request).await?;
        check!(
            page.items.len() <= 5,
            "a page of limit 5 had {} rows",
            page.items.len()
        );
        seen.extend(page.items.iter().map(|d| (d.org, d.id)));
        // Rows inserted between pages, due and not due, in every organisation.
        for o in orgs {
            n += 1;
            insert_intent(&store, o, intent(o, n, &format!("k{n}"), T0)?).await?;
            n += 1;
            let fresh = intent(o, n, &format!("k{n}"), cut_off + Duration::seconds(1))?;
            insert_intent(&store, o, fresh).await?;
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
        check!(round < 49, "pagination did not end");
    }

    let distinct: BTreeSet<_> = seen.iter().copied().collect();
    check!(
        distinct.len() == seen.len(),
        "a due intent was listed twice across pages"
    );
    let lost: Vec<_> = original.difference(&distinct).collect();
    check!(lost.is_empty(), "due intents lost across pages: {lost:?}");
    check!(
        seen.windows(2).all(|w| match w {
            [x, y] => x < y,
            _ => true,
        }),
        "due intents are not ordered by organisation then id"
    );
    Ok(())
}

async fn due_intents_invalid_page(store: Arc<dyn Store>) -> Result<(), Failure> {
    insert_intent(&store, org(1), intent(org(1), 1, "k1", T0)?).await?;
    let cut_off = T0 + Duration::hours(1);
    for limit in [0, 501] {
        let mut tx = store.begin_provider().await?;
        let outcome = tx
            .due_payment_intents(
                PaymentIntentState::Pending,
                cut_off,
                &PageRequest::first(limit),
            )
            .await;
        check!(
            matches!(outcome, Err(StoreError::InvalidInput { .. })),
            "page limit {limit} gave {outcome:?}"
        );
    }
    let mut tx = store.begin_provider().await?;
    let outcome = tx
        .due_payment_intents(
            PaymentIntentState::Pending,
            cut_off,
            &PageRequest::after(Cursor::new("not a cursor of this store"), 5),
        )
        .await;
    check!(
        matches!(outcome, Err(StoreError::InvalidInput { .. })),
        "a foreign cursor gave {outcome:?}"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Idempotency records
// ---------------------------------------------------------------------------------------------

fn record(
    raw_key: &str,
    result: Vec<u8>,
    created_at: OffsetDateTime,
) -> Result<IdempotencyRecord, Failure> {
    Ok(IdempotencyRecord {
        key: key(raw_key)?,
        fingerprint: RequestFingerprint::of(&("request", raw_key, result.len()))?,
        result,
        created_at,
    })
}

async fn stored_record(
    store: &Arc<dyn Store>,
    org: OrgId,
    raw_key: &str,
) -> Result<Option<IdempotencyRecord>, Failure> {
    let mut tx = store.begin(org).await?;
    Ok(tx.idempotency_record(&key(raw_key)?).await?)
}

async fn insert_record(
    store: &Arc<dyn Store>,
    org: OrgId,
    rec: IdempotencyRecord,
) -> Result<(), Failure> {
    let mut tx = store.begin(org).await?;
    tx.insert_idempotency_record(rec).await?;
    tx.commit().await?;
    Ok(())
}

async fn idempotency_replay(store: Arc<dyn Store>) -> Result<(), Failure> {
    // Every byte value, in an order that is neither sorted nor UTF-8.
    let bytes: Vec<u8> = (0..=255u8).rev().chain(0..=255u8).collect();
    let rec = record("replay-1", bytes, T0)?;
    let empty = record("replay-2", Vec::new(), T0 + Duration::seconds(1))?;
    insert_record(&store, org(1), rec.clone()).await?;
    insert_record(&store, org(1), empty.clone()).await?;
    let got = stored_record(&store, org(1), "replay-1").await?;
    check!(
        got.as_ref().map(|r| (&r.result, &r.fingerprint)) == Some((&rec.result, &rec.fingerprint)),
        "the replayed bytes or fingerprint differ from the stored ones: {got:?}"
    );
    check!(
        got == Some(rec),
        "the replayed record differs from the stored one (key or time): {got:?}"
    );
    check!(
        stored_record(&store, org(1), "replay-2").await? == Some(empty),
        "an empty result did not replay as empty"
    );
    check!(
        stored_record(&store, org(1), "replay-3").await?.is_none(),
        "an unused key has a record"
    );
    Ok(())
}

async fn idempotency_duplicate(store: Arc<dyn Store>) -> Result<(), Failure> {
    let first = record("dup", b"first".to_vec(), T0)?;
    insert_record(&store, org(1), first.clone()).await?;
    let mut tx = store.begin(org(1)).await?;
    let outcome = tx
        .insert_idempotency_record(record("dup", b"second result".to_vec(), T0)?)
        .await;
    check!(
        is_duplicate(&outcome, "idempotency_key"),
        "a second record under the same key gave {outcome:?}"
    );
    drop(tx);
    check!(
        stored_record(&store, org(1), "dup").await? == Some(first),
        "a refused insert replaced the first result"
    );
    Ok(())
}

async fn idempotency_keys_per_org(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let in_a = record("same-key", b"result of A".to_vec(), T0)?;
    let in_b = record("same-key", b"B".to_vec(), T0 + Duration::seconds(3))?;
    insert_record(&store, a, in_a.clone()).await?;
    insert_record(&store, b, in_b.clone()).await?;
    check!(
        stored_record(&store, a, "same-key").await? == Some(in_a),
        "organisation A replays a record other than its own"
    );
    check!(
        stored_record(&store, b, "same-key").await? == Some(in_b),
        "organisation B replays a record other than its own"
    );
    check!(
        stored_record(&store, org(3), "same-key").await?.is_none(),
        "a third organisation sees a record under the key"
    );
    Ok(())
}

async fn idempotency_dropped_transaction(store: Arc<dyn Store>) -> Result<(), Failure> {
    let mut tx = store.begin(org(1)).await?;
    tx.insert_idempotency_record(record("k1", b"x".to_vec(), T0)?)
        .await?;
    drop(tx);
    check!(
        stored_record(&store, org(1), "k1").await?.is_none(),
        "a record survived its dropped transaction"
    );
    let kept = record("k2", b"kept".to_vec(), T0)?;
    insert_record(&store, org(1), kept.clone()).await?;
    let mut tx = store.begin(org(1)).await?;
    tx.insert_idempotency_record(record("k3", b"y".to_vec(), T0)?)
        .await?;
    let failed = tx
        .insert_idempotency_record(record("k2", b"z".to_vec(), T0)?)
        .await;
    check!(
        is_duplicate(&failed, "idempotency_key"),
        "a duplicate key gave {failed:?}"
    );
    drop(tx);
    check!(
        stored_record(&store, org(1), "k3").await?.is_none(),
        "an insert of a transaction that failed midway was kept"
    );
    check!(
        stored_record(&store, org(1), "k2").await? == Some(kept),
        "the first record changed"
    );
    Ok(())
}

async fn idempotency_purge(store: Arc<dyn Store>) -> Result<(), Failure> {
    let (a, b) = (org(1), org(2));
    let cut_off = T0 - Duration::days(7);
    insert_record(
        &store,
        a,
        record("old", b"1".to_vec(), cut_off - Duration::days(1))?,
    )
    .await?;
    insert_record(&store, a, record("edge", b"2".to_vec(), cut_off)?).await?;
    insert_record(
        &store,
        a,
        record("recent", b"3".to_vec(), T0 - Duration::days(1))?,
    )
    .await?;
    insert_record(
        &store,
        b,
        record("old", b"4".to_vec(), cut_off - Duration::seconds(1))?,
    )
    .await?;

    // A purge whose transaction is dropped deletes nothing.
    let mut tx = store.begin_provider().await?;
    let counted = tx.purge_idempotency_records(cut_off).await?;
    check!(
        counted == 2,
        "the purge counted {counted} records, expected 2"
    );
    drop(tx);
    check!(
        stored_record(&store, a, "old").await?.is_some()
            && stored_record(&store, b, "old").await?.is_some(),
        "a dropped purge deleted records"
    );

    let mut tx = store.begin_provider().await?;
    let purged = tx.purge_idempotency_records(cut_off).await?;
    tx.commit().await?;
    check!(
        purged == 2,
        "the purge deleted {purged} records, expected 2"
    );
    check!(
        stored_record(&store, a, "old").await?.is_none()
            && stored_record(&store, b, "old").await?.is_none(),
        "a record older than the cut-off survived the purge"
    );
    check!(
        stored_record(&store, a, "edge").await?.is_some()
            && stored_record(&store, a, "recent").await?.is_some(),
        "the purge deleted a record created at or after the cut-off"
    );
    let mut tx = store.begin_provider().await?;
    let again = tx.purge_idempotency_records(cut_off).await?;
    tx.commit().await?;
    check!(again == 0, "a second purge deleted {again} records");
    Ok(())
}
