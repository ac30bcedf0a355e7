//! Usage records from the network (TOP-2, TOP-3, ACC-5) and the automatic top-up they may
//! start (PAY-3), through [`Portal::record_usage`].
//!
//! The records are grouped by SIM. Each SIM's records are applied in ONE transaction: ids seen
//! before are ignored, [`selfcare_core::quota::apply_usage`] decides the new quota, the month's
//! use, the volume notices (sent once per SIM, threshold and generation, or per month) and
//! whether an Auto-Top-Up is due; the transaction stores the record ids, the quota with its
//! once-only marks and the notices (outbox). When an exhausted generation `g` of a SIM with
//! Auto-Top-Up on calls for a top-up, the same transaction also records the pending payment
//! intent of ORD-5 under the key `auto:{sim}:{g}`. After the commit the gateway is charged
//! (merchant-initiated) and the top-up order with the new quota generation is written, by the
//! same engine as a customer's top-up ([`crate::checkout`]).
//!
//! Exactly one top-up per exhaustion: the record ids are unique and the quota row is written
//! with the version read, so of any number of concurrent deliveries of the same records only
//! one transaction applies them and sees the exhaustion; the key, derived from the SIM and the
//! generation, is charged at most once by the gateway. If the caller is cancelled after the
//! commit, the intent is left pending and `run_maintenance` completes it.
//!
//! A decline or a demand for the customer's authentication ends that generation's top-up for
//! good (its intent is final; nothing retries it) and tells the customer
//! ([`NotificationKind::AutoTopUpFailed`]). When the SIM's use this month has reached the
//! organisation's limit (ACC-5), nothing is charged and the VolumeNotifications recipients get
//! [`NotificationKind::MonthlyLimitReached`] instead, once per SIM, kind and month.
//!
//! Records for an ICCID no organisation has are not an error of the batch: they are returned
//! in [`UsageReport::rejected`] and nothing is stored for them (the network may deliver them
//! again once the SIM exists).

use std::collections::BTreeSet;

use async_trait::async_trait;
use selfcare_core::ReasonCode;
use selfcare_core::address::AddressKind;
use selfcare_core::audit::{AuditActor, AuditEventName, Outcome};
use selfcare_core::customer::{Customer, Limit, MonthPeriod};
use selfcare_core::ids::{OrderId, OrgId, SimId};
use selfcare_core::notifications::{NotificationKind, Params, usage_notifications};
use selfcare_core::numbers::Iccid;
use selfcare_core::orders::{
    GatewayKey, IdempotencyKey, NewOrder, Order, OrderNumber, OrderPayment, RequestFingerprint,
    TaxCustomer,
};
use selfcare_core::payment::PaymentSettings;
use selfcare_core::quota::{
    BYTES_PER_MB, MonthlyLimits, MonthlyUsage, QuotaState, SentMarks, UsageEffect, UsageRecord,
    UsageRecordId, UsageRules, VolumeKind, apply_usage,
};
use selfcare_core::roles::Channel;
use selfcare_core::sims::Sim;
use selfcare_core::topups::{TopUpPayment, price_top_up};
use selfcare_storage::usage::QuotaRecord;
use selfcare_storage::{OrgTransaction, StoreError, Version, Versioned};

use crate::checkout::{
    ChargeSpec, Checkout, CheckoutRequest, Fulfilment, FulfilmentKind, Prepared, QuotaTopUp,
    reserve, resume,
};
use crate::error::{Error, Result};
use crate::portal::{Attempt, Portal, target};

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

/// Why a usage record was not applied (and is not an error of the batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// No organisation has a SIM with the record's ICCID.
    UnknownSim,
}

/// A usage record that was not applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectedUsageRecord {
    /// The network's record id.
    pub record_id: UsageRecordId,
    /// The ICCID the record named.
    pub iccid: Iccid,
    /// Why.
    pub reason: RejectReason,
}

/// How an automatic top-up started by this batch ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
pub enum AutoTopUpOutcome {
    /// Charged; the top-up order was written and a new quota generation started.
    Charged {
        /// The top-up order.
        order_number: OrderNumber,
    },
    /// Not charged, for good (declined, authentication demanded, or no order could be
    /// prepared, e.g. no billing address): the customer was told.
    Failed {
        /// The gateway's or the portal's reason.
        reason: String,
    },
    /// The outcome is not known yet (a port or the store failed after the intent was
    /// recorded): `run_maintenance` settles it with the same key.
    Pending,
}

/// One automatic top-up of [`UsageReport::top_ups`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AutoTopUpReport {
    /// The SIM.
    pub iccid: Iccid,
    /// The kind of volume topped up.
    pub kind: VolumeKind,
    /// The exhausted generation.
    pub generation: u32,
    /// The gateway key, `auto:{sim}:{generation}`.
    pub key: GatewayKey,
    /// How it ended.
    pub outcome: AutoTopUpOutcome,
}

/// What [`Portal::record_usage`] did with a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageReport {
    /// Records applied now.
    pub applied: u32,
    /// Records ignored because their id was seen before (or twice in the batch).
    pub duplicates_ignored: u32,
    /// Records not applied, with the reason.
    pub rejected: Vec<RejectedUsageRecord>,
    /// Volume notices put in the outbox (threshold, exhausted, monthly limit, top-up failed).
    pub notices: u32,
    /// Automatic top-ups charged.
    pub top_ups_charged: u32,
    /// Automatic top-ups that failed for good.
    pub top_ups_failed: u32,
    /// Every automatic top-up this batch started.
    pub top_ups: Vec<AutoTopUpReport>,
}

// ---------------------------------------------------------------------------------------------
// The use case
// ---------------------------------------------------------------------------------------------

/// The records of one SIM.
struct SimBatch {
    org: OrgId,
    sim: SimId,
    iccid: Iccid,
    records: Vec<UsageRecord>,
}

/// A top-up whose intent the usage transaction recorded.
struct Reserved {
    kind: VolumeKind,
    generation: u32,
    key: GatewayKey,
    version: Version,
    prepared: Prepared,
}

/// What one SIM's transaction did.
#[derive(Default)]
struct Applied {
    applied: u32,
    duplicates: u32,
    rejected: bool,
    notices: u32,
    failed: Vec<AutoTopUpReport>,
    reserved: Vec<Reserved>,
}

impl Portal {
    /// Applies usage records from the network (TOP-2, TOP-3, ACC-5) and charges the automatic
    /// top-ups they make due (PAY-3); see the [module documentation](crate::usage).
    ///
    /// Safe to call again with the same records, also concurrently: a record seen before is
    /// ignored, and an exhaustion is topped up exactly once.
    ///
    /// # Errors
    /// `Unavailable` when the store cannot be reached (records of SIMs handled before stay
    /// applied; calling again with the whole batch is safe); `Conflict` when the store kept
    /// refusing a SIM's transaction. A gateway failure is not an error: the top-up is reported
    /// [`AutoTopUpOutcome::Pending`].
    pub async fn record_usage(&self, records: Vec<UsageRecord>) -> Result<UsageReport> {
        let mut report = UsageReport::default();
        // Group by SIM, keeping the order the records came in.
        let mut groups: Vec<(Iccid, Vec<UsageRecord>)> = Vec::new();
        for record in records {
            match groups.iter_mut().find(|(iccid, _)| *iccid == record.iccid) {
                Some((_, list)) => list.push(record),
                None => groups.push((record.iccid.clone(), vec![record])),
            }
        }
        for (iccid, records) in groups {
            // A global lookup: no transaction is open here.
            let Some((org, sim)) = self.store().sim_by_iccid(&iccid).await? else {
                reject(&mut report, records);
                continue;
            };
            let batch = SimBatch {
                org,
                sim,
                iccid,
                records,
            };
            let applied = self.retry(|| apply_batch(self, &batch)).await?;
            if applied.rejected {
                reject(&mut report, batch.records);
                continue;
            }
            report.applied += applied.applied;
            report.duplicates_ignored += applied.duplicates;
            report.notices += applied.notices;
            report.top_ups_failed += u32::try_from(applied.failed.len()).unwrap_or(u32::MAX);
            report.top_ups.extend(applied.failed);
            for reserved in applied.reserved {
                let (outcome, notices) = self.charge_reserved(&batch, &reserved).await;
                match outcome {
                    AutoTopUpOutcome::Charged { .. } => report.top_ups_charged += 1,
                    AutoTopUpOutcome::Failed { .. } => report.top_ups_failed += 1,
                    AutoTopUpOutcome::Pending => {}
                }
                report.notices += notices;
                report.top_ups.push(AutoTopUpReport {
                    iccid: batch.iccid.clone(),
                    kind: reserved.kind,
                    generation: reserved.generation,
                    key: reserved.key,
                    outcome,
                });
            }
        }
        Ok(report)
    }

    /// Steps 2 and 3 of ORD-5 for a reserved automatic top-up; a decline or a demand for
    /// authentication is final and tells the customer. Returns the outcome and the notices sent.
    async fn charge_reserved(
        &self,
        batch: &SimBatch,
        reserved: &Reserved,
    ) -> (AutoTopUpOutcome, u32) {
        let request = AutoTopUp {
            portal: self,
            sim: batch.sim,
            kind: reserved.kind,
        };
        let Ok(checkout) = auto_checkout(batch, reserved.kind, reserved.generation, &request)
        else {
            return (AutoTopUpOutcome::Pending, 0);
        };
        let reason =
            match resume(self, &checkout, reserved.version, reserved.prepared.clone()).await {
                Ok(order) => {
                    return (
                        AutoTopUpOutcome::Charged {
                            order_number: order.number,
                        },
                        0,
                    );
                }
                Err(Error::PaymentDeclined { reason }) => reason,
                Err(Error::PaymentActionRequired { .. }) => "authentication_required".to_owned(),
                // Unknown outcome: the intent stays pending under the same key for maintenance.
                Err(_) => return (AutoTopUpOutcome::Pending, 0),
            };
        let params = reserved.prepared.fulfilment.notice.clone();
        let told = self
            .retry(|| async {
                let mut tx = self.store().begin(batch.org).await?;
                let sent = tell_failure(
                    self,
                    tx.as_mut(),
                    batch,
                    reserved.kind,
                    params.clone(),
                    &reason,
                )
                .await?;
                tx.commit().await?;
                Ok(sent)
            })
            .await;
        if told.is_err() {
            tracing::warn!("selfcare: the failure of an automatic top-up was not announced");
        }
        (
            AutoTopUpOutcome::Failed { reason },
            u32::from(told.unwrap_or(false)),
        )
    }
}

fn reject(report: &mut UsageReport, records: Vec<UsageRecord>) {
    report
        .rejected
        .extend(records.into_iter().map(|r| RejectedUsageRecord {
            record_id: r.record_id,
            iccid: r.iccid,
            reason: RejectReason::UnknownSim,
        }));
}

/// The ORD-5 checkout of the automatic top-up of `kind` for the exhausted `generation`.
fn auto_checkout<'a>(
    batch: &SimBatch,
    kind: VolumeKind,
    generation: u32,
    request: &'a AutoTopUp<'a>,
) -> Result<Checkout<'a>> {
    let gateway_key = GatewayKey::auto_top_up(batch.sim, generation);
    Ok(Checkout {
        org: batch.org,
        key: IdempotencyKey::auto_top_up(batch.sim, generation),
        fingerprint: RequestFingerprint::of(&(batch.sim, kind, generation)).map_err(Error::from)?,
        gateway_key,
        request,
    })
}

/// A store conflict inside the usage transaction means a concurrent delivery won: the whole
/// transaction runs again and then sees its records as seen.
fn raced(e: StoreError) -> Attempt {
    match e {
        StoreError::Conflict(_) => Attempt::Retry(e),
        other => Attempt::from(other),
    }
}

/// One SIM's transaction (see the module documentation).
async fn apply_batch(portal: &Portal, batch: &SimBatch) -> std::result::Result<Applied, Attempt> {
    let config = portal.config();
    let now = portal.now();
    let today = now.date();
    let mut out = Applied::default();
    // Ids recorded in any organisation are duplicates; looked up before the transaction opens.
    let mut fresh = Vec::new();
    for record in &batch.records {
        if portal
            .store()
            .sim_by_usage_record(&record.record_id)
            .await?
            .is_some()
        {
            out.duplicates += 1;
        } else {
            fresh.push(record);
        }
    }
    if fresh.is_empty() {
        return Ok(out);
    }

    let mut tx = portal.store().begin(batch.org).await?;
    let Some(sim) = tx.sim(batch.sim).await?.map(|s| s.value) else {
        // Removed since the lookup: as unknown.
        out.rejected = true;
        return Ok(out);
    };
    let record = tx.customer().await?.ok_or(Error::NotFound)?.value;
    let limits = MonthlyLimits::from(&record.volume_limits);
    let customer = record.customer;
    let settings = tx
        .payment_settings()
        .await?
        .map(|s| s.value)
        .unwrap_or_else(PaymentSettings::new);
    let auto_top_up =
        settings.auto_top_up_enabled(batch.sim) && settings.auto_top_up_card(today).is_some();
    let (mut state, mut monthly, mut marks, version) = match tx.get_quota(batch.sim).await? {
        Some(Versioned { value, version }) => {
            (value.state, value.monthly, value.marks, Some(version))
        }
        None => (
            QuotaState::new(batch.sim),
            MonthlyUsage::new(MonthPeriod::containing(now, config.time_zone)?),
            SentMarks::new(),
            None,
        ),
    };

    let mut seen: BTreeSet<UsageRecordId> = BTreeSet::new();
    let mut effects = Vec::new();
    for record in fresh {
        if seen.contains(&record.record_id)
            || tx.seen_usage_record(&record.record_id).await?.is_some()
        {
            out.duplicates += 1;
            continue;
        }
        let rules = UsageRules {
            period: MonthPeriod::containing(record.at, config.time_zone)?,
            limits,
            auto_top_up,
            thresholds: &config.volume_thresholds,
        };
        let outcome = apply_usage(&state, &monthly, record, &seen, &marks, &rules);
        tx.record_seen(&record.record_id, batch.sim)
            .await
            .map_err(raced)?;
        seen.insert(record.record_id.clone());
        out.applied += 1;
        state = outcome.state;
        monthly = outcome.monthly;
        marks.extend(outcome.marks);
        effects.extend(outcome.effects);
    }
    if out.applied == 0 {
        return Ok(out);
    }
    let quota = QuotaRecord {
        state: state.clone(),
        monthly,
        marks,
    };
    match version {
        Some(expected) => tx.update_quota(quota, expected).await.map_err(raced)?,
        None => tx.insert_quota(quota).await.map_err(raced)?,
    };

    for note in usage_notifications(&effects) {
        let mut params = notice_params(portal, &customer, &sim, &state, &limits, &monthly, &note)?;
        if let Some(percent) = note.params.get("percent_left") {
            params.set("percent_left", percent);
        }
        let kind = note.kind;
        let to = kind.recipients(customer.contact_emails(), None);
        if !to.is_empty() {
            out.notices += 1;
        }
        portal
            .notify(tx.as_mut(), kind, to, customer.language(), &params)
            .await?;
    }

    for effect in &effects {
        let UsageEffect::AutoTopUp {
            kind,
            generation,
            key,
        } = effect
        else {
            continue;
        };
        let request = AutoTopUp {
            portal,
            sim: batch.sim,
            kind: *kind,
        };
        let checkout = auto_checkout(batch, *kind, *generation, &request)?;
        match reserve(portal, tx.as_mut(), &checkout).await {
            Ok(Some((version, prepared))) => out.reserved.push(Reserved {
                kind: *kind,
                generation: *generation,
                key: key.clone(),
                version,
                prepared,
            }),
            // The key has an intent already: that attempt does the charging.
            Ok(None) => {}
            Err(Attempt::Fail(e)) => {
                // No order can be prepared (no billing address, no top-up product): final.
                let reason = e.reason().as_str().to_owned();
                if tell_failure(portal, tx.as_mut(), batch, *kind, None, &reason).await? {
                    out.notices += 1;
                }
                out.failed.push(AutoTopUpReport {
                    iccid: batch.iccid.clone(),
                    kind: *kind,
                    generation: *generation,
                    key: key.clone(),
                    outcome: AutoTopUpOutcome::Failed { reason },
                });
            }
            Err(retry) => return Err(retry),
        }
    }
    tx.commit().await?;
    Ok(out)
}

/// An amount of `kind` for people: data in MB, messages as a count.
fn amount(kind: VolumeKind, value: u64) -> String {
    match kind {
        VolumeKind::Data => format!("{} MB", value / BYTES_PER_MB),
        VolumeKind::Sms => format!("{value} SMS"),
    }
}

/// Every parameter of a volume notice (TOP-3, ACC-5); the effect's own (`percent_left`) are
/// added by the caller.
fn notice_params(
    portal: &Portal,
    customer: &Customer,
    sim: &Sim,
    state: &QuotaState,
    limits: &MonthlyLimits,
    monthly: &MonthlyUsage,
    note: &selfcare_core::notifications::UsageNotification,
) -> std::result::Result<Params, Attempt> {
    let kind = note.volume;
    let quota = state.quota(kind);
    let remaining = u64::try_from(quota.remaining().max(0)).unwrap_or(0);
    let limit = match limits.limit(kind) {
        Limit::Capped(n) => amount(kind, n),
        Limit::Unlimited => "unlimited".to_owned(),
    };
    let (_, next_month) = monthly.period.bounds_in(&portal.config().time_zone)?;
    let label = if sim.label.as_str().is_empty() {
        sim.iccid.to_string()
    } else {
        sim.label.as_str().to_owned()
    };
    Ok(Params::new()
        .with("customer_name", customer.kind().invoice_name().as_str())
        .with("sim_label", label)
        .with("iccid", sim.iccid.to_string())
        .with("percent_left", "0")
        .with("remaining", amount(kind, remaining))
        .with("allowance", amount(kind, quota.volume))
        .with("limit", limit)
        .with("reset_date", next_month.date().to_string())
        .with("link", format!("sims/{}", sim.iccid)))
}

/// Tells the customer that the automatic top-up of `kind` failed for good, and audits it.
/// `params` are the charged notice's parameters when an order was prepared. Returns whether a
/// message was queued.
async fn tell_failure(
    portal: &Portal,
    tx: &mut dyn OrgTransaction,
    batch: &SimBatch,
    kind: VolumeKind,
    params: Option<Params>,
    reason: &str,
) -> std::result::Result<bool, Attempt> {
    let customer = tx.customer().await?.ok_or(Error::NotFound)?.value.customer;
    let sim = tx.sim(batch.sim).await?.ok_or(Error::NotFound)?.value;
    let params = match params {
        Some(p) => p,
        None => Params::new()
            .with("customer_name", customer.kind().invoice_name().as_str())
            .with("sim_label", sim.label.as_str())
            .with("iccid", sim.iccid.to_string())
            .with("product", kind.as_str())
            .with("amount", "-")
            .with("card_last4", "-"),
    }
    .with("link", format!("sims/{}", sim.iccid));
    let notice = NotificationKind::AutoTopUpFailed;
    let to = notice.recipients(customer.contact_emails(), None);
    let sent = !to.is_empty();
    portal
        .notify(tx, notice, to, customer.language(), &params)
        .await?;
    let mut event = portal.audit_event(
        Some(batch.org),
        AuditActor::System,
        Channel::System,
        AuditEventName::AutoTopUpFailed,
        target("sim", batch.sim)?,
        Outcome::Failure,
    )?;
    // The gateway's reason, when it is one an audit note can hold.
    event.note = selfcare_core::audit::AuditNote::parse(reason).ok();
    portal.audit(tx, event).await?;
    Ok(sent)
}

// ---------------------------------------------------------------------------------------------
// The automatic top-up as a checkout request
// ---------------------------------------------------------------------------------------------

/// An automatic top-up of `kind` for `sim` (TOP-2, PAY-3), charged without the customer.
struct AutoTopUp<'a> {
    portal: &'a Portal,
    sim: SimId,
    kind: VolumeKind,
}

#[async_trait]
impl CheckoutRequest for AutoTopUp<'_> {
    /// Auto-Top-Up must still be on for the SIM, with a valid card stored (PAY-1, PAY-3).
    async fn gate(&self, tx: &mut dyn OrgTransaction) -> std::result::Result<(), Attempt> {
        let today = self.portal.now().date();
        let settings = tx
            .payment_settings()
            .await?
            .map(|s| s.value)
            .unwrap_or_else(PaymentSettings::new);
        if !settings.auto_top_up_enabled(self.sim) || settings.auto_top_up_card(today).is_none() {
            return Err(Error::Conflict {
                reason: ReasonCode::NoValidCard,
            }
            .into());
        }
        Ok(())
    }

    /// One unit of the catalogue's first top-up product of the kind, charged to the newest
    /// valid card (PAY-1), billed to the default billing address.
    async fn prepare(&self, tx: &mut dyn OrgTransaction) -> std::result::Result<Prepared, Attempt> {
        self.gate(tx).await?;
        let portal = self.portal;
        let config = portal.config();
        let now = portal.now();
        let customer = tx.customer().await?.ok_or(Error::NotFound)?.value.customer;
        let sim = tx.sim(self.sim).await?.ok_or(Error::NotFound)?.value;
        let settings = tx
            .payment_settings()
            .await?
            .map(|s| s.value)
            .unwrap_or_else(PaymentSettings::new);
        let card = settings
            .auto_top_up_card(now.date())
            .ok_or(Error::Conflict {
                reason: ReasonCode::NoValidCard,
            })?;
        let book = tx
            .address_book()
            .await?
            .map(|b| b.value)
            .unwrap_or_default();
        let billing = book
            .default_for(AddressKind::Billing)
            .ok_or(Error::Validation {
                field: "billing_address".to_owned(),
                reason: ReasonCode::Required,
                message: "an automatic top-up needs a default billing address".to_owned(),
            })?
            .address
            .snapshot();
        let shipping = match book.default_for(AddressKind::Shipping) {
            Some(entry) => entry.address.snapshot(),
            None => billing.clone(),
        };
        let product = config
            .catalogue
            .products()
            .find(|p| p.kind().top_up_volume().map(|(k, _)| k) == Some(self.kind))
            .ok_or(Error::Validation {
                field: "product".to_owned(),
                reason: ReasonCode::NotATopUp,
                message: format!("the catalogue has no {} top-up", self.kind),
            })?;
        let priced = price_top_up(
            &config.catalogue,
            &config.seller,
            &TaxCustomer::of(&customer),
            product.sku(),
            1,
            TopUpPayment::StoredCard(card.id()),
        )?;
        let (kind, volume) = priced.volume.top_up_volume().ok_or(Error::Internal)?;
        let number = OrderNumber::new(portal.random()?);
        let amount = priced.priced.totals.gross;
        let order = Order::new(NewOrder {
            id: OrderId::new(now, portal.random()?),
            org: tx.org(),
            number,
            order_type: priced.order_type,
            placed_at: now,
            priced: priced.priced,
            email: customer.contact_emails().main().clone(),
            billing_address: billing,
            shipping_address: shipping,
            payment: OrderPayment::Card {
                card: card.id(),
                brand: card.brand().to_string(),
                last4: card.last4().as_str().to_owned(),
                charge_id: None,
            },
        });
        let notice = Params::new()
            .with("customer_name", customer.kind().invoice_name().as_str())
            .with("sim_label", sim.label.as_str())
            .with("iccid", sim.iccid.to_string())
            .with("product", product.name())
            .with("amount", amount.to_string())
            .with("card_last4", card.last4().as_str());
        Ok(Prepared {
            fulfilment: Fulfilment {
                order,
                top_ups: vec![QuotaTopUp {
                    sim: self.sim,
                    kind,
                    volume,
                }],
                kind: FulfilmentKind::AutoTopUp,
                actor: AuditActor::System,
                channel: Channel::System,
                notice: Some(notice),
            },
            charge: Some(ChargeSpec {
                amount,
                card: card.gateway_token().clone(),
                merchant_initiated: true,
                description: format!("{} {number}", config.seller.name()),
            }),
        })
    }
}
