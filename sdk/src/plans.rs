//! Consumer plans on a [`Session`] (PLAN-1..PLAN-6) and the network's answers on the
//! [`Portal`] (`complete_provisioning`, the provisioning timeout of `run_maintenance`).
//!
//! Every rule is decided in `selfcare_core::plans`; dates are compared with today in the
//! configured time zone ([`crate::PortalConfig::time_zone`]).
//!
//! # What goes to the network, and when
//! The `Network` port acknowledges a request now and reports its outcome later through
//! [`Portal::complete_provisioning`]. So every network-backed change (SIM swap, voicemail, call
//! forwarding) runs in three steps, and the store never claims a setting the network has not
//! confirmed:
//! 1. a transaction checks the permission and the rule and records a pending provisioning
//!    request (for a swap, the plan also goes to `Provisioning`), with its audit entry;
//! 2. the network is asked, outside any transaction, with the request's id (it treats a
//!    repeated id as the same request);
//! 3. when the network refuses or cannot be reached, a transaction marks the request failed
//!    (the plan keeps its old SIM and settings) and the caller gets `Unavailable`; when it
//!    does not answer in time the outcome is unknown, so the request stays pending until the
//!    completion arrives or the timeout (default one hour) settles it.
//!
//! The plan takes the new SIM, voicemail or forwarding only in the transaction of a
//! successful completion. The swap is recorded as `Provisioning` (not `Requested`) in step 1
//! because the network may complete it before step 2 returns. A future dropped after step 1
//! leaves a pending request that the timeout settles: cancel-safe.
//!
//! Choices where the rules are silent:
//! - a SIM "in use" (PLAN-2) is one of another organisation, or one that another plan of this
//!   organisation runs on or is being swapped to; a spare SIM of the organisation may be used;
//! - APN settings (PLAN-4) go to the Service recipients through the outbox only (the rule says
//!   "sends to the customer's Service contacts"); the APN is [`DEFAULT_APN`] until the
//!   configuration carries one;
//! - usage (PLAN-5) is read from the store, where the network's usage records land
//!   (`record_usage`): data and SMS of the SIM's current quota generation; voice minutes are not
//!   metered by usage records, so they show as 0 of unlimited;
//! - a failed or timed-out swap tells the Service recipients (PLAN-2); a swap refused at once
//!   is answered to the caller instead.

use selfcare_core::audit::{AuditActor, AuditEventName, Outcome};
use selfcare_core::contact::Language;
use selfcare_core::customer::Customer;
use selfcare_core::ids::{OrgId, PlanId, ProvisioningId};
use selfcare_core::notifications::{NotificationKind, Params};
use selfcare_core::numbers::Iccid;
use selfcare_core::plans::{
    Plan, PlanState, PlanUsage, SwapRequest, UsageCounter, Voicemail, VoicemailLanguage,
};
use selfcare_core::policy::{Action, Actor};
use selfcare_core::quota::VolumeKind;
use selfcare_core::roles::Channel;
use selfcare_storage::page::MAX_PAGE;
use selfcare_storage::ports::{
    CallForwardingRequest, NetworkAck, PortError, SwapSimRequest, VoicemailRequest,
};
use selfcare_storage::sims::{ProvisioningKind, ProvisioningRequest, ProvisioningState};
use selfcare_storage::{OrgTransaction, PageRequest};
use time::{Date, Duration, OffsetDateTime};

use crate::error::{Error, Result};
use crate::portal::{Attempt, Portal, fields, target};
use crate::session::Session;

/// The APN sent by [`Session::send_apn_settings`] until [`crate::PortalConfig`] carries the
/// provider's APN.
pub const DEFAULT_APN: &str = "internet";

/// How long a provisioning request may stay unanswered (PLAN-2: one hour) until
/// [`crate::PortalConfig`] carries the setting.
/// The provisioning timeout in force (PLAN-2), for `run_maintenance`.
pub(crate) fn provisioning_timeout(portal: &Portal) -> Duration {
    portal.config().provisioning_timeout
}

/// A plan as a session sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanView {
    /// The plan: numbers, SIM, dates, voicemail, call forwarding, pending swap.
    pub plan: Plan,
    /// Where it stands today (configured time zone).
    pub state: PlanState,
}

/// A change the network was asked for; its outcome arrives through
/// [`Portal::complete_provisioning`] with [`ProvisioningStarted::request`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisioningStarted {
    /// The provisioning request (the network's request id).
    pub request: ProvisioningId,
    /// The plan it changes.
    pub plan: PlanId,
    /// The network's own reference, for support.
    pub reference: Option<String>,
}

/// The network's answer to a provisioning request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningOutcome {
    /// Done: the plan takes the new SIM or setting.
    Succeeded,
    /// Refused: the plan keeps what it had.
    Failed,
}

/// What [`Portal::complete_provisioning`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Completion {
    /// The outcome was applied now.
    Applied,
    /// The request was no longer pending (already completed, failed or timed out): nothing
    /// changed, so a repeated completion is harmless.
    NotPending,
}

/// How a pending request is settled.
#[derive(Debug, Clone, Copy)]
enum Settlement {
    /// The network reported success.
    Succeeded,
    /// The network reported failure (`tell`: send the customer the failure notice).
    Failed { tell: bool },
    /// Nobody answered within `timeout` (run_maintenance at `now`).
    TimedOut {
        now: OffsetDateTime,
        timeout: Duration,
    },
}

fn today(portal: &Portal) -> Date {
    portal.now().to_offset(portal.config().time_zone).date()
}

fn view(plan: Plan, today: Date) -> PlanView {
    PlanView {
        state: plan.state(today),
        plan,
    }
}

fn numbers_text(plan: &Plan) -> String {
    plan.numbers()
        .iter()
        .map(|n| n.e164().to_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

fn customer_name(customer: &Customer) -> String {
    customer.kind().invoice_name().as_str().to_owned()
}

impl Session {
    /// The organisation's plans, newest first, with their state today (PLAN-1).
    ///
    /// # Errors
    /// `PermissionDenied` (ApiUser); `Unauthenticated`; `Unavailable`.
    pub async fn plans(&self) -> Result<Vec<PlanView>> {
        let portal = self.portal();
        let today = today(portal);
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewPlans).await?;
            let plans = all_plans(tx.as_mut()).await?;
            tx.commit().await?;
            Ok(plans.into_iter().map(|p| view(p, today)).collect())
        })
        .await
    }

    /// Moves the start and/or end date of a plan (PLAN-1); `None` keeps a date. The end must
    /// be after the start, a start already reached cannot move, and no changed date may lie
    /// before today (configured time zone).
    ///
    /// # Errors
    /// `ImmutableField` on `start` (`plan_started`); `Validation` on `start`/`end`
    /// (`date_in_past`, `plan_end_before_start`); `Conflict(plan_ended)`; `NotFound` for a plan
    /// not of this organisation; `PermissionDenied`; `Unauthenticated`; `Unavailable`.
    pub async fn change_plan_dates(
        &self,
        plan: PlanId,
        start: Option<Date>,
        end: Option<Date>,
    ) -> Result<PlanView> {
        let portal = self.portal();
        let today = today(portal);
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::ChangePlanDates).await?;
            let stored = tx.plan(plan).await?.ok_or(Error::NotFound)?;
            let mut changed = stored.value.clone();
            changed.change_dates(start, end, today)?;
            let mut names = Vec::new();
            if changed.start() != stored.value.start() {
                names.push("start");
            }
            if changed.end() != stored.value.end() {
                names.push("end");
            }
            if !names.is_empty() {
                tx.update_plan(changed.clone(), stored.version).await?;
                self.audit_plan(
                    tx.as_mut(),
                    &actor,
                    AuditEventName::PlanDatesChanged,
                    plan,
                    &names,
                )
                .await?;
            }
            tx.commit().await?;
            Ok(view(changed, today))
        })
        .await
    }

    /// Asks the network to move the plan to the SIM `new_iccid` (PLAN-2). The ICCID is
    /// validated (SIM-1) and must not be in use; the plan is `Provisioning` until the network
    /// completes the swap through [`Portal::complete_provisioning`], which tells the Service
    /// recipients the plan's numbers and the new SIM.
    ///
    /// # Errors
    /// `Validation` on `new_sim` (SIM-1 format or check digit, `sim_swap_same_sim`);
    /// `Conflict` (`sim_in_use`, `provisioning_in_progress`, `plan_ended`); `NotFound` for a
    /// plan not of this organisation; `PermissionDenied`; `Unauthenticated`; `Unavailable`
    /// when the network refuses or cannot be reached (the swap is then failed and the plan
    /// keeps its SIM) or does not answer in time (the swap stays pending).
    pub async fn swap_sim(&self, plan: PlanId, new_iccid: &str) -> Result<ProvisioningStarted> {
        let portal = self.portal();
        let new_sim = Iccid::parse(new_iccid).map_err(|e| match e {
            selfcare_core::Error::Validation {
                reason, message, ..
            } => Error::Validation {
                field: "new_sim".to_owned(),
                reason,
                message,
            },
            other => Error::from(other),
        })?;
        // A global lookup, before any transaction of this task is open.
        let elsewhere = portal
            .store()
            .sim_by_iccid(&new_sim)
            .await?
            .is_some_and(|(org, _)| org != self.org());
        let now = portal.now();
        let today = today(portal);
        let id = ProvisioningId::new(now, portal.random()?);
        let request = self
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                let (_, actor) = self.authorize(tx.as_mut(), Action::SwapSim).await?;
                let stored = tx.plan(plan).await?.ok_or(Error::NotFound)?;
                let in_use = elsewhere || used_here(tx.as_mut(), plan, &new_sim).await?;
                let mut changed = stored.value.clone();
                let mut swap =
                    SwapRequest::request(&mut changed, id, new_iccid, in_use, now, today)?;
                swap.start_provisioning()?;
                tx.update_plan(changed.clone(), stored.version).await?;
                tx.insert_provisioning(ProvisioningRequest::swap(swap.clone()))
                    .await?;
                self.audit_plan(
                    tx.as_mut(),
                    &actor,
                    AuditEventName::SimSwapRequested,
                    plan,
                    &["sim"],
                )
                .await?;
                tx.commit().await?;
                Ok(SwapSimRequest {
                    id,
                    numbers: changed.numbers().to_vec(),
                    old_sim: swap.old_sim().clone(),
                    new_sim: swap.new_sim().clone(),
                })
            })
            .await?;
        let answer = portal.inner.ports.network.swap_sim(request).await;
        self.after_network(plan, id, answer).await
    }

    /// Switches voicemail on or off and sets its language, Hebrew or English (PLAN-3). The
    /// plan shows the new setting once the network completes it; `None` when the setting is
    /// already in force (nothing is asked).
    ///
    /// # Errors
    /// `NotFound`; `PermissionDenied`; `Unauthenticated`; `Unavailable` when the network
    /// refuses or cannot be reached (nothing changes).
    pub async fn set_voicemail(
        &self,
        plan: PlanId,
        enabled: bool,
        language: VoicemailLanguage,
    ) -> Result<Option<ProvisioningStarted>> {
        let setting = Voicemail { enabled, language };
        self.provision(
            plan,
            Action::SetVoicemail,
            AuditEventName::VoicemailChanged,
            &["voicemail"],
            |p| Ok((p.voicemail() != setting).then_some(ProvisioningKind::Voicemail { setting })),
        )
        .await
    }

    /// Forwards the plan's calls to `to` (PLAN-6): a valid E.164 number that is not one of the
    /// plan's own numbers. The plan shows it once the network completes it; `None` when it is
    /// already in force.
    ///
    /// # Errors
    /// `Validation` on `forward_to` (format, `call_forwarding_to_own_number`); `NotFound`;
    /// `PermissionDenied`; `Unauthenticated`; `Unavailable` as [`Session::set_voicemail`].
    pub async fn set_call_forwarding(
        &self,
        plan: PlanId,
        to: &str,
    ) -> Result<Option<ProvisioningStarted>> {
        self.provision(
            plan,
            Action::SetCallForwarding,
            AuditEventName::CallForwardingChanged,
            &["call_forwarding"],
            |p| {
                let mut changed = p.clone();
                Ok(changed
                    .set_call_forwarding(to)?
                    .then(|| ProvisioningKind::CallForwarding {
                        to: changed.call_forwarding().cloned(),
                    }))
            },
        )
        .await
    }

    /// Stops forwarding the plan's calls (PLAN-6); `None` when nothing is forwarded.
    ///
    /// # Errors
    /// `NotFound`; `PermissionDenied`; `Unauthenticated`; `Unavailable` as
    /// [`Session::set_voicemail`].
    pub async fn reset_call_forwarding(&self, plan: PlanId) -> Result<Option<ProvisioningStarted>> {
        self.provision(
            plan,
            Action::ResetCallForwarding,
            AuditEventName::CallForwardingReset,
            &["call_forwarding"],
            |p| {
                Ok(p.call_forwarding()
                    .is_some()
                    .then_some(ProvisioningKind::CallForwarding { to: None }))
            },
        )
        .await
    }

    /// Sends the plan's APN settings to the customer's Service recipients (PLAN-4, ACC-3),
    /// in the customer's language, through the outbox.
    ///
    /// # Errors
    /// `NotFound`; `PermissionDenied`; `Unauthenticated`; `Unavailable`.
    pub async fn send_apn_settings(&self, plan: PlanId) -> Result<()> {
        let portal = self.portal();
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            let (_, actor) = self.authorize(tx.as_mut(), Action::SendApnSettings).await?;
            let stored = tx.plan(plan).await?.ok_or(Error::NotFound)?;
            let customer = tx.customer().await?.ok_or(Error::NotFound)?.value.customer;
            let kind = NotificationKind::ApnSettings;
            let params = Params::new()
                .with("customer_name", customer_name(&customer))
                .with("phone_number", numbers_text(&stored.value))
                .with("apn", DEFAULT_APN);
            portal
                .notify(
                    tx.as_mut(),
                    kind,
                    kind.recipients(customer.contact_emails(), None),
                    customer.language(),
                    &params,
                )
                .await?;
            self.audit_plan(
                tx.as_mut(),
                &actor,
                AuditEventName::ApnSettingsSent,
                plan,
                &[],
            )
            .await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// The plan's usage over its dates (PLAN-5): data (bytes) and SMS of its SIM's current
    /// quota, as the network's usage records reported them; minutes are not metered by usage
    /// records and show as 0 of unlimited.
    ///
    /// # Errors
    /// `NotFound`; `PermissionDenied` (ApiUser); `Unauthenticated`; `Unavailable`.
    pub async fn plan_usage(&self, plan: PlanId) -> Result<PlanUsage> {
        let portal = self.portal();
        let iccid = self
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                self.authorize(tx.as_mut(), Action::ViewPlanUsage).await?;
                let stored = tx.plan(plan).await?.ok_or(Error::NotFound)?;
                Ok(stored.value.sim().clone())
            })
            .await?;
        // The plan names its SIM by ICCID; the quota is kept by SIM id (global lookup, with
        // no transaction open).
        let sim = portal
            .store()
            .sim_by_iccid(&iccid)
            .await?
            .filter(|(org, _)| *org == self.org())
            .map(|(_, sim)| sim);
        self.retry(|| async {
            let mut tx = portal.store().begin(self.org()).await?;
            self.authorize(tx.as_mut(), Action::ViewPlanUsage).await?;
            let stored = tx.plan(plan).await?.ok_or(Error::NotFound)?.value;
            let quota = match sim {
                Some(sim) if *stored.sim() == iccid => tx.get_quota(sim).await?,
                _ => None,
            };
            let counter = |kind: VolumeKind| match &quota {
                Some(q) => {
                    let current = q.value.state.quota(kind);
                    UsageCounter::new(current.used, Some(current.volume))
                }
                None => UsageCounter::new(0, Some(0)),
            };
            let usage = PlanUsage::new(
                stored.start(),
                stored.end(),
                UsageCounter::new(0, None),
                counter(VolumeKind::Sms),
                counter(VolumeKind::Data),
            )?;
            tx.commit().await?;
            Ok(usage)
        })
        .await
    }

    /// Steps 1 to 3 of a network-backed setting (module docs): `decide` says what to ask for,
    /// or `None` when the plan already has it.
    async fn provision<F>(
        &self,
        plan: PlanId,
        action: Action,
        event: AuditEventName,
        changed: &[&str],
        decide: F,
    ) -> Result<Option<ProvisioningStarted>>
    where
        F: Fn(&Plan) -> selfcare_core::Result<Option<ProvisioningKind>>,
    {
        let portal = self.portal();
        let now = portal.now();
        let id = ProvisioningId::new(now, portal.random()?);
        let asked = self
            .retry(|| async {
                let mut tx = portal.store().begin(self.org()).await?;
                let (_, actor) = self.authorize(tx.as_mut(), action).await?;
                let stored = tx.plan(plan).await?.ok_or(Error::NotFound)?.value;
                let Some(kind) = decide(&stored)? else {
                    return Ok(None);
                };
                tx.insert_provisioning(ProvisioningRequest {
                    id,
                    plan,
                    kind: kind.clone(),
                    requested_at: now,
                    state: ProvisioningState::Pending,
                })
                .await?;
                self.audit_plan(tx.as_mut(), &actor, event, plan, changed)
                    .await?;
                tx.commit().await?;
                Ok(Some((kind, stored)))
            })
            .await?;
        let Some((kind, stored)) = asked else {
            return Ok(None);
        };
        let network = &portal.inner.ports.network;
        let numbers = stored.numbers().to_vec();
        let answer = match kind {
            ProvisioningKind::Voicemail { setting } => {
                network
                    .set_voicemail(VoicemailRequest {
                        id,
                        numbers,
                        voicemail: setting,
                    })
                    .await
            }
            ProvisioningKind::CallForwarding { to } => {
                network
                    .set_call_forwarding(CallForwardingRequest {
                        id,
                        numbers,
                        forward_to: to,
                    })
                    .await
            }
            // Swaps have their own path; APN settings go through the outbox.
            ProvisioningKind::SimSwap { .. } | ProvisioningKind::Apn => {
                return Err(Error::Internal);
            }
        };
        self.after_network(plan, id, answer).await.map(Some)
    }

    /// Step 3: a refusal or an unreachable network fails the request at once; no answer in
    /// time leaves it pending (the network may still act on it).
    async fn after_network(
        &self,
        plan: PlanId,
        id: ProvisioningId,
        answer: std::result::Result<NetworkAck, PortError>,
    ) -> Result<ProvisioningStarted> {
        match answer {
            Ok(ack) => Ok(ProvisioningStarted {
                request: id,
                plan,
                reference: ack.reference,
            }),
            Err(PortError::Timeout) => Err(Error::from(PortError::Timeout)),
            Err(e) => {
                self.portal()
                    .settle(
                        self.org(),
                        id,
                        Settlement::Failed { tell: false },
                        Channel::System,
                    )
                    .await?;
                Err(Error::from(e))
            }
        }
    }

    async fn audit_plan(
        &self,
        tx: &mut dyn OrgTransaction,
        actor: &Actor,
        name: AuditEventName,
        plan: PlanId,
        changed: &[&str],
    ) -> std::result::Result<(), Attempt> {
        let portal = self.portal();
        let mut event = portal.audit_event(
            Some(self.org()),
            AuditActor::User { id: actor.user },
            actor.channel,
            name,
            target("plan", plan)?,
            Outcome::Success,
        )?;
        event.changed_fields = fields(changed)?;
        portal.audit(tx, event).await?;
        Ok(())
    }
}

/// Every plan of the organisation, newest first.
async fn all_plans(tx: &mut dyn OrgTransaction) -> std::result::Result<Vec<Plan>, Attempt> {
    let mut out = Vec::new();
    let mut page = PageRequest::first(MAX_PAGE);
    loop {
        let listed = tx.list_plans(&page).await?;
        out.extend(listed.items.into_iter().map(|r| r.value));
        match listed.next {
            Some(next) => page = PageRequest::after(next, MAX_PAGE),
            None => return Ok(out),
        }
    }
}

/// Whether another plan of this organisation runs on `iccid` or is being swapped to it.
async fn used_here(
    tx: &mut dyn OrgTransaction,
    plan: PlanId,
    iccid: &Iccid,
) -> std::result::Result<bool, Attempt> {
    for other in all_plans(tx).await? {
        if other.id() == plan {
            continue;
        }
        if other.sim() == iccid {
            return Ok(true);
        }
        if let Some(pending) = other.pending_swap()
            && let Some(request) = tx.provisioning(pending).await?
            && let ProvisioningKind::SimSwap { request } = &request.value.kind
            && request.new_sim() == iccid
        {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Portal {
    /// The network's answer to the provisioning request `request` (a SIM swap, voicemail or
    /// call-forwarding change), called by the network side with no session.
    ///
    /// On success the plan takes the new SIM or setting; a completed swap sends the Service
    /// recipients the plan's phone numbers and the new SIM number (PLAN-2). On failure the
    /// plan keeps what it had, and a failed swap tells the Service recipients. Message, plan
    /// change and audit entry are one transaction. A request that is no longer pending
    /// answers [`Completion::NotPending`] and changes nothing, so a repeated completion is
    /// harmless.
    ///
    /// # Errors
    /// `NotFound` for a request id no organisation has; `Unavailable` when the store fails.
    pub async fn complete_provisioning(
        &self,
        request: ProvisioningId,
        outcome: ProvisioningOutcome,
    ) -> Result<Completion> {
        let (org, _) = self
            .store()
            .provisioning_by_id(request)
            .await?
            .ok_or(Error::NotFound)?;
        let settlement = match outcome {
            ProvisioningOutcome::Succeeded => Settlement::Succeeded,
            ProvisioningOutcome::Failed => Settlement::Failed { tell: true },
        };
        self.settle(org, request, settlement, Channel::Network)
            .await
    }

    /// Times out every provisioning request left unanswered for the provisioning timeout
    /// (PLAN-2, default one hour) at `now`: a swap keeps the old SIM and the Service recipients
    /// are told; a setting stays as it was. Returns how many requests were timed out.
    /// `run_maintenance` calls it; a host may also call it on its own schedule.
    ///
    /// # Errors
    /// `Unavailable` when the store fails.
    pub(crate) async fn time_out_provisioning(&self, now: OffsetDateTime) -> Result<usize> {
        let timeout = provisioning_timeout(self);
        let cutoff = now.checked_sub(timeout).ok_or(Error::Internal)?;
        let mut done = 0;
        loop {
            let due = self
                .retry(|| async {
                    let mut tx = self.store().begin_provider().await?;
                    let due = tx.pending_provisioning_before(cutoff, MAX_PAGE).await?;
                    tx.commit().await?;
                    Ok(due)
                })
                .await?;
            let full = due.len() >= MAX_PAGE as usize;
            let mut progressed = false;
            for (org, id, _) in due {
                let settled = self
                    .settle(
                        org,
                        id,
                        Settlement::TimedOut { now, timeout },
                        Channel::System,
                    )
                    .await?;
                if settled == Completion::Applied {
                    done += 1;
                    progressed = true;
                }
            }
            if !full || !progressed {
                return Ok(done);
            }
        }
    }

    /// Settles the pending request `id` of `org` in one transaction: plan, request, message and
    /// audit entry (by the provider's system).
    async fn settle(
        &self,
        org: OrgId,
        id: ProvisioningId,
        settlement: Settlement,
        channel: Channel,
    ) -> Result<Completion> {
        self.retry(|| async {
            let mut tx = self.store().begin(org).await?;
            let Some(stored) = tx.provisioning(id).await? else {
                return Ok(Completion::NotPending);
            };
            if stored.value.state != ProvisioningState::Pending {
                return Ok(Completion::NotPending);
            }
            let plan_record = tx.plan(stored.value.plan).await?.ok_or(Error::NotFound)?;
            let mut plan = plan_record.value.clone();
            let mut request = stored.value.clone();
            let succeeded = matches!(settlement, Settlement::Succeeded);
            request.state = match settlement {
                Settlement::Succeeded => ProvisioningState::Completed,
                Settlement::Failed { .. } => ProvisioningState::Failed,
                Settlement::TimedOut { .. } => ProvisioningState::TimedOut,
            };
            let mut message = None;
            let event = match &mut request.kind {
                ProvisioningKind::SimSwap { request: swap } => {
                    match settlement {
                        Settlement::Succeeded => swap.complete(&mut plan)?,
                        Settlement::Failed { .. } => swap.fail(&mut plan)?,
                        Settlement::TimedOut { now, timeout } => {
                            swap.time_out(&mut plan, now, timeout)?;
                        }
                    }
                    let tell = match settlement {
                        Settlement::Succeeded => Some(NotificationKind::SimSwapCompleted),
                        Settlement::Failed { tell: false } => None,
                        _ => Some(NotificationKind::SimSwapFailed),
                    };
                    message = tell.map(|kind| (kind, swap.new_sim().to_string()));
                    if succeeded {
                        AuditEventName::SimSwapCompleted
                    } else {
                        AuditEventName::SimSwapFailed
                    }
                }
                ProvisioningKind::Voicemail { setting } => {
                    if succeeded {
                        plan.set_voicemail(setting.enabled, setting.language);
                    }
                    AuditEventName::VoicemailChanged
                }
                ProvisioningKind::CallForwarding { to } => {
                    match (succeeded, to.as_ref()) {
                        (true, Some(to)) => {
                            // The plan's numbers cannot change meanwhile, but should the rule
                            // refuse now, the completion is recorded as failed, not applied.
                            if plan.set_call_forwarding(to.e164()).is_err() {
                                request.state = ProvisioningState::Failed;
                            }
                        }
                        (true, None) => {
                            plan.reset_call_forwarding();
                        }
                        (false, _) => {}
                    }
                    if to.is_some() {
                        AuditEventName::CallForwardingChanged
                    } else {
                        AuditEventName::CallForwardingReset
                    }
                }
                ProvisioningKind::Apn => AuditEventName::ApnSettingsSent,
            };
            if plan != plan_record.value {
                tx.update_plan(plan.clone(), plan_record.version).await?;
            }
            tx.update_provisioning(request, stored.version).await?;
            if let Some((kind, new_iccid)) = message {
                let customer = tx.customer().await?.map(|c| c.value.customer);
                let (to, language, name) = match &customer {
                    Some(c) => (
                        kind.recipients(c.contact_emails(), None),
                        c.language(),
                        customer_name(c),
                    ),
                    None => (Vec::new(), Language::English, String::new()),
                };
                let params = Params::new()
                    .with("customer_name", name)
                    .with("phone_number", numbers_text(&plan))
                    .with("new_iccid", new_iccid)
                    // The notice points the customer to support; the portal's address is the
                    // host's to add through a text override.
                    .with("link", "");
                self.notify(tx.as_mut(), kind, to, language, &params)
                    .await?;
            }
            let audit = self.audit_event(
                Some(org),
                AuditActor::System,
                channel,
                event,
                target("plan", plan.id())?,
                if succeeded {
                    Outcome::Success
                } else {
                    Outcome::Failure
                },
            )?;
            self.audit(tx.as_mut(), audit).await?;
            tx.commit().await?;
            Ok(Completion::Applied)
        })
        .await
    }
}
