//! Consumer plans (PLAN-1..PLAN-6): dates, SIM swap, voicemail, APN settings, usage and call
//! forwarding.
//!
//! Dates are calendar dates in the configured time zone; the caller computes `today` there and
//! passes it in. A plan runs from its start date through its end date, both inclusive.

use std::fmt;

use time::{Date, Duration, OffsetDateTime};

use crate::error::{Error, ReasonCode, Result, text_field};
use crate::ids::{OrderId, PlanId, ProvisioningId};
use crate::numbers::{Iccid, Msisdn};

/// How long a SIM swap may stay unanswered before `run_maintenance` times it out (PLAN-2).
pub const DEFAULT_SWAP_TIMEOUT: Duration = Duration::HOUR;

/// The language of a plan's voicemail (PLAN-3).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum VoicemailLanguage {
    /// Hebrew (`he`).
    Hebrew,
    /// English (`en`); the default.
    #[default]
    English,
}

impl VoicemailLanguage {
    /// Parses `he`/`hebrew` or `en`/`english`, ignoring case and surrounding spaces.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `voicemail.language` with `LanguageUnsupported`.
    pub fn parse(raw: &str) -> Result<Self> {
        let raw = raw.trim();
        if raw.eq_ignore_ascii_case("he") || raw.eq_ignore_ascii_case("hebrew") {
            Ok(VoicemailLanguage::Hebrew)
        } else if raw.eq_ignore_ascii_case("en") || raw.eq_ignore_ascii_case("english") {
            Ok(VoicemailLanguage::English)
        } else {
            Err(Error::validation(
                "voicemail.language",
                ReasonCode::LanguageUnsupported,
                "must be Hebrew (he) or English (en)",
            ))
        }
    }

    /// The BCP 47 code, `he` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            VoicemailLanguage::Hebrew => "he",
            VoicemailLanguage::English => "en",
        }
    }
}

/// A plan's voicemail setting (PLAN-3). The default is off, in English, until the customer
/// turns it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Voicemail {
    /// Whether unanswered calls go to voicemail.
    pub enabled: bool,
    /// The language of the voicemail prompts.
    pub language: VoicemailLanguage,
}

/// Where a plan stands on a given day (PLAN-1, PLAN-2). Derived from the dates and the pending
/// swap, never stored, so it cannot drift from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanState {
    /// Today is before the start date.
    Scheduled,
    /// Today is between the start and end dates, inclusive.
    Active,
    /// A SIM swap is being provisioned.
    Provisioning,
    /// The end date has passed.
    Ended,
}

impl PlanState {
    /// Every value.
    pub const ALL: [PlanState; 4] = [
        PlanState::Scheduled,
        PlanState::Active,
        PlanState::Provisioning,
        PlanState::Ended,
    ];

    /// The stable snake_case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            PlanState::Scheduled => "scheduled",
            PlanState::Active => "active",
            PlanState::Provisioning => "provisioning",
            PlanState::Ended => "ended",
        }
    }
}

impl fmt::Display for PlanState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Every field of a [`Plan`], public: what a store reads back and hands to
/// [`Plan::from_parts`], which checks the plan's invariants.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanParts {
    /// The plan's id.
    pub id: PlanId,
    /// The order the plan belongs to.
    pub order: OrderId,
    /// The plan's phone numbers (at least one, no duplicates).
    pub numbers: Vec<Msisdn>,
    /// The SIM the plan runs on.
    pub sim: Iccid,
    /// First day of the plan.
    #[serde(with = "crate::formats::date")]
    pub start: Date,
    /// Last day of the plan; after `start`.
    #[serde(with = "crate::formats::date")]
    pub end: Date,
    /// Voicemail setting.
    pub voicemail: Voicemail,
    /// The number calls are forwarded to; never one of `numbers`.
    pub call_forwarding: Option<Msisdn>,
    /// The SIM swap being provisioned, if any.
    pub pending_swap: Option<ProvisioningId>,
}

/// A consumer plan (PLAN-1): an order's phone numbers on one SIM between two dates.
///
/// The fields are private so that every plan keeps its invariants: at least one number, no
/// duplicate numbers, end after start, call forwarding never to an own number.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "PlanParts")]
pub struct Plan {
    id: PlanId,
    order: OrderId,
    numbers: Vec<Msisdn>,
    sim: Iccid,
    #[serde(with = "crate::formats::date")]
    start: Date,
    #[serde(with = "crate::formats::date")]
    end: Date,
    voicemail: Voicemail,
    call_forwarding: Option<Msisdn>,
    pending_swap: Option<ProvisioningId>,
}

impl Plan {
    /// A newly activated plan (`staff.activate_plan`): voicemail off, no call forwarding, no
    /// swap. Staff may activate with a start in the past, so `today` is not checked here.
    ///
    /// # Errors
    /// As [`Plan::from_parts`].
    pub fn new(
        id: PlanId,
        order: OrderId,
        numbers: Vec<Msisdn>,
        sim: Iccid,
        start: Date,
        end: Date,
    ) -> Result<Self> {
        Self::from_parts(PlanParts {
            id,
            order,
            numbers,
            sim,
            start,
            end,
            voicemail: Voicemail::default(),
            call_forwarding: None,
            pending_swap: None,
        })
    }

    /// Builds a plan from its parts, checking the invariants.
    ///
    /// # Errors
    /// [`Error::Validation`] on `numbers` (`PlanWithoutNumbers`, or `InvalidFormat` for a
    /// duplicate), `end` (`PlanEndBeforeStart`) or `call_forwarding`
    /// (`CallForwardingToOwnNumber`).
    pub fn from_parts(parts: PlanParts) -> Result<Self> {
        if parts.numbers.is_empty() {
            return Err(Error::validation(
                "numbers",
                ReasonCode::PlanWithoutNumbers,
                "a plan needs at least one phone number",
            ));
        }
        for (i, n) in parts.numbers.iter().enumerate() {
            if parts.numbers.iter().take(i).any(|m| m == n) {
                return Err(Error::validation(
                    "numbers",
                    ReasonCode::InvalidFormat,
                    format!("lists {n} twice"),
                ));
            }
        }
        if parts.end <= parts.start {
            return Err(end_before_start());
        }
        if let Some(to) = &parts.call_forwarding
            && parts.numbers.contains(to)
        {
            return Err(own_number("call_forwarding"));
        }
        Ok(Plan {
            id: parts.id,
            order: parts.order,
            numbers: parts.numbers,
            sim: parts.sim,
            start: parts.start,
            end: parts.end,
            voicemail: parts.voicemail,
            call_forwarding: parts.call_forwarding,
            pending_swap: parts.pending_swap,
        })
    }

    /// All fields, for a store to write.
    pub fn into_parts(self) -> PlanParts {
        PlanParts {
            id: self.id,
            order: self.order,
            numbers: self.numbers,
            sim: self.sim,
            start: self.start,
            end: self.end,
            voicemail: self.voicemail,
            call_forwarding: self.call_forwarding,
            pending_swap: self.pending_swap,
        }
    }

    /// The plan's id.
    pub fn id(&self) -> PlanId {
        self.id
    }

    /// The order the plan belongs to.
    pub fn order(&self) -> OrderId {
        self.order
    }

    /// The plan's phone numbers.
    pub fn numbers(&self) -> &[Msisdn] {
        &self.numbers
    }

    /// The SIM the plan runs on.
    pub fn sim(&self) -> &Iccid {
        &self.sim
    }

    /// First day.
    pub fn start(&self) -> Date {
        self.start
    }

    /// Last day.
    pub fn end(&self) -> Date {
        self.end
    }

    /// The voicemail setting.
    pub fn voicemail(&self) -> Voicemail {
        self.voicemail
    }

    /// The number calls are forwarded to, if any.
    pub fn call_forwarding(&self) -> Option<&Msisdn> {
        self.call_forwarding.as_ref()
    }

    /// The SIM swap being provisioned, if any.
    pub fn pending_swap(&self) -> Option<ProvisioningId> {
        self.pending_swap
    }

    /// The plan's state on `today` (configured time zone).
    pub fn state(&self, today: Date) -> PlanState {
        if self.pending_swap.is_some() {
            PlanState::Provisioning
        } else if today < self.start {
            PlanState::Scheduled
        } else if today > self.end {
            PlanState::Ended
        } else {
            PlanState::Active
        }
    }

    /// Applies [`change_dates`] to the plan; returns the new `(start, end)`.
    ///
    /// # Errors
    /// As [`change_dates`]; the plan is left unchanged.
    pub fn change_dates(
        &mut self,
        new_start: Option<Date>,
        new_end: Option<Date>,
        today: Date,
    ) -> Result<(Date, Date)> {
        let (start, end) = change_dates(self, new_start, new_end, today)?;
        self.start = start;
        self.end = end;
        Ok((start, end))
    }

    /// Sets voicemail on/off and its language (PLAN-3); returns whether anything changed (an
    /// unchanged setting needs no network call).
    pub fn set_voicemail(&mut self, enabled: bool, language: VoicemailLanguage) -> bool {
        let new = Voicemail { enabled, language };
        let changed = new != self.voicemail;
        self.voicemail = new;
        changed
    }

    /// Forwards calls to `raw` (PLAN-6): a valid E.164 number that is not one of the plan's
    /// own numbers. Returns whether the setting changed.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `forward_to`: as [`Msisdn::parse_field`], or
    /// `CallForwardingToOwnNumber`. The plan is left unchanged.
    pub fn set_call_forwarding(&mut self, raw: &str) -> Result<bool> {
        let to = Msisdn::parse_field("forward_to", raw)?;
        if self.numbers.contains(&to) {
            return Err(own_number("forward_to"));
        }
        let changed = self.call_forwarding.as_ref() != Some(&to);
        self.call_forwarding = Some(to);
        Ok(changed)
    }

    /// Turns call forwarding off (PLAN-6); returns whether it was on.
    pub fn reset_call_forwarding(&mut self) -> bool {
        self.call_forwarding.take().is_some()
    }
}

impl TryFrom<PlanParts> for Plan {
    type Error = Error;
    fn try_from(parts: PlanParts) -> Result<Self> {
        Plan::from_parts(parts)
    }
}

fn end_before_start() -> Error {
    Error::validation(
        "end",
        ReasonCode::PlanEndBeforeStart,
        "the end date must be after the start date",
    )
}

fn own_number(field: &str) -> Error {
    Error::validation(
        field,
        ReasonCode::CallForwardingToOwnNumber,
        "calls cannot be forwarded to one of the plan's own numbers",
    )
}

/// Decides new plan dates (PLAN-1) and returns the resulting `(start, end)`; `None` keeps a
/// date. A date given equal to the current one counts as unchanged, so a form can always send
/// both.
///
/// - a start already reached (`start <= today`) cannot move;
/// - no changed date may lie before `today` (the end may be today: the plan ends tonight);
/// - the end of a plan that has ended (`end < today`) cannot move;
/// - the end must be after the start.
///
/// # Errors
/// - [`Error::ImmutableField`] on `start` with `PlanStarted`;
/// - [`Error::Validation`] on `start` or `end` with `DateInPast`;
/// - [`Error::Conflict`] with `PlanEnded`;
/// - [`Error::Validation`] on `end` with `PlanEndBeforeStart`.
///
/// ```
/// use selfcare_core::plans::change_dates;
/// # use selfcare_core::plans::Plan;
/// # use selfcare_core::{ids::*, numbers::*};
/// # use time::macros::{date, datetime};
/// # let now = datetime!(2025-03-01 10:00 UTC);
/// # let plan = Plan::new(PlanId::new(now, [1; 10]), OrderId::new(now, [2; 10]),
/// #     vec![Msisdn::parse("+972501234567").unwrap()],
/// #     Iccid::parse("8988228000000000004").unwrap(), date!(2025-03-10), date!(2025-03-20)).unwrap();
/// let today = time::macros::date!(2025-03-05);
/// assert_eq!(
///     change_dates(&plan, Some(date!(2025-03-06)), None, today).unwrap(),
///     (date!(2025-03-06), date!(2025-03-20))
/// );
/// assert!(change_dates(&plan, Some(date!(2025-03-04)), None, today).is_err());
/// ```
pub fn change_dates(
    plan: &Plan,
    new_start: Option<Date>,
    new_end: Option<Date>,
    today: Date,
) -> Result<(Date, Date)> {
    let start = new_start.unwrap_or(plan.start);
    let end = new_end.unwrap_or(plan.end);
    if start != plan.start {
        if plan.start <= today {
            return Err(Error::immutable(
                "start",
                ReasonCode::PlanStarted,
                "the plan has started, so its start date cannot move",
            ));
        }
        if start < today {
            return Err(Error::validation(
                "start",
                ReasonCode::DateInPast,
                "must not be before today",
            ));
        }
    }
    if end != plan.end {
        if plan.end < today {
            return Err(Error::conflict(ReasonCode::PlanEnded));
        }
        if end < today {
            return Err(Error::validation(
                "end",
                ReasonCode::DateInPast,
                "must not be before today",
            ));
        }
    }
    if end <= start {
        return Err(end_before_start());
    }
    Ok((start, end))
}

/// The states of a SIM swap (PLAN-2).
///
/// `Requested → Provisioning → Completed`; `Requested` or `Provisioning → Failed | TimedOut`.
/// Completed, Failed and TimedOut are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SwapState {
    /// Recorded; the network has not been asked yet.
    Requested,
    /// The network was asked and has not answered.
    Provisioning,
    /// The network switched the plan to the new SIM.
    Completed,
    /// The network refused; the old SIM stays.
    Failed,
    /// No answer within the timeout; the old SIM stays.
    TimedOut,
}

impl SwapState {
    /// The stable snake_case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            SwapState::Requested => "requested",
            SwapState::Provisioning => "provisioning",
            SwapState::Completed => "completed",
            SwapState::Failed => "failed",
            SwapState::TimedOut => "timed_out",
        }
    }
}

impl fmt::Display for SwapState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl SwapState {
    /// Every state, for exhaustive tables.
    pub const ALL: [SwapState; 5] = [
        SwapState::Requested,
        SwapState::Provisioning,
        SwapState::Completed,
        SwapState::Failed,
        SwapState::TimedOut,
    ];

    /// Whether a swap may go from `self` to `to`.
    pub fn can_become(self, to: SwapState) -> bool {
        use SwapState::*;
        matches!(
            (self, to),
            (Requested, Provisioning)
                | (Provisioning, Completed)
                | (Requested | Provisioning, Failed | TimedOut)
        )
    }

    /// Whether nothing can follow this state.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            SwapState::Completed | SwapState::Failed | SwapState::TimedOut
        )
    }
}

/// Whether a swap requested at `requested_at` has run out of time at `now` (PLAN-2): at least
/// `timeout` (usually [`DEFAULT_SWAP_TIMEOUT`]) has passed.
pub fn swap_timed_out(
    requested_at: OffsetDateTime,
    now: OffsetDateTime,
    timeout: Duration,
) -> bool {
    now - requested_at >= timeout
}

/// A request to move a plan to another SIM (PLAN-2).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SwapRequest {
    id: ProvisioningId,
    plan: PlanId,
    old_sim: Iccid,
    new_sim: Iccid,
    #[serde(with = "crate::formats::instant")]
    requested_at: OffsetDateTime,
    state: SwapState,
}

impl SwapRequest {
    /// Requests a swap of `plan` to the SIM `new_sim` and marks the plan as provisioning.
    /// `in_use` says whether the store knows the new ICCID already (on any plan or SIM, in
    /// any organisation).
    ///
    /// # Errors
    /// - [`Error::Validation`] on `new_sim`: as [`Iccid::parse`], or `SimSwapSameSim`;
    /// - [`Error::Conflict`] with `PlanEnded`, `ProvisioningInProgress` or `SimInUse`.
    ///
    /// The plan is left unchanged on error.
    pub fn request(
        plan: &mut Plan,
        id: ProvisioningId,
        new_sim: &str,
        in_use: bool,
        now: OffsetDateTime,
        today: Date,
    ) -> Result<Self> {
        let new_sim = Iccid::parse(new_sim).map_err(|e| match e {
            Error::Validation {
                reason, message, ..
            } => Error::validation("new_sim", reason, message),
            other => other,
        })?;
        if new_sim == plan.sim {
            return Err(Error::validation(
                "new_sim",
                ReasonCode::SimSwapSameSim,
                "is the plan's current SIM",
            ));
        }
        if plan.end < today {
            return Err(Error::conflict(ReasonCode::PlanEnded));
        }
        if plan.pending_swap.is_some() {
            return Err(Error::conflict(ReasonCode::ProvisioningInProgress));
        }
        if in_use {
            return Err(Error::conflict(ReasonCode::SimInUse));
        }
        plan.pending_swap = Some(id);
        Ok(SwapRequest {
            id,
            plan: plan.id,
            old_sim: plan.sim.clone(),
            new_sim,
            requested_at: now,
            state: SwapState::Requested,
        })
    }

    /// The request's id (the `Network` port's request id).
    pub fn id(&self) -> ProvisioningId {
        self.id
    }

    /// The plan being swapped.
    pub fn plan(&self) -> PlanId {
        self.plan
    }

    /// The SIM the plan had when the swap was requested.
    pub fn old_sim(&self) -> &Iccid {
        &self.old_sim
    }

    /// The SIM the plan moves to.
    pub fn new_sim(&self) -> &Iccid {
        &self.new_sim
    }

    /// When the swap was requested.
    pub fn requested_at(&self) -> OffsetDateTime {
        self.requested_at
    }

    /// The current state.
    pub fn state(&self) -> SwapState {
        self.state
    }

    /// Whether the swap is still open and its time has run out at `now`.
    pub fn is_due(&self, now: OffsetDateTime, timeout: Duration) -> bool {
        !self.state.is_final() && swap_timed_out(self.requested_at, now, timeout)
    }

    fn transition(&mut self, to: SwapState) -> Result<()> {
        if self.state.can_become(to) {
            self.state = to;
            Ok(())
        } else {
            Err(Error::conflict(ReasonCode::SimSwapTransition))
        }
    }

    fn check_plan(&self, plan: &Plan) -> Result<()> {
        if plan.id != self.plan {
            return Err(Error::NotFound);
        }
        if plan.pending_swap != Some(self.id) {
            return Err(Error::conflict(ReasonCode::SimSwapTransition));
        }
        Ok(())
    }

    /// The network has been asked: `Requested → Provisioning`.
    ///
    /// # Errors
    /// [`Error::Conflict`] with `SimSwapTransition` from any other state.
    pub fn start_provisioning(&mut self) -> Result<()> {
        self.transition(SwapState::Provisioning)
    }

    /// The network completed the swap: `Provisioning → Completed`; the plan now runs on the new
    /// SIM and is no longer provisioning.
    ///
    /// # Errors
    /// [`Error::NotFound`] when `plan` is another plan; [`Error::Conflict`] with
    /// `SimSwapTransition` from another state or when the plan is not waiting for this swap.
    /// Nothing changes on error.
    pub fn complete(&mut self, plan: &mut Plan) -> Result<()> {
        self.check_plan(plan)?;
        self.transition(SwapState::Completed)?;
        plan.sim = self.new_sim.clone();
        plan.pending_swap = None;
        Ok(())
    }

    /// The network refused the swap: the plan keeps its old SIM.
    ///
    /// # Errors
    /// As [`SwapRequest::complete`].
    pub fn fail(&mut self, plan: &mut Plan) -> Result<()> {
        self.check_plan(plan)?;
        self.transition(SwapState::Failed)?;
        plan.pending_swap = None;
        Ok(())
    }

    /// Times the swap out (`run_maintenance`): the plan keeps its old SIM.
    ///
    /// # Errors
    /// As [`SwapRequest::complete`]; also [`Error::Conflict`] with `SimSwapTransition` when
    /// the swap is not yet [due](SwapRequest::is_due).
    pub fn time_out(
        &mut self,
        plan: &mut Plan,
        now: OffsetDateTime,
        timeout: Duration,
    ) -> Result<()> {
        self.check_plan(plan)?;
        if !self.is_due(now, timeout) {
            return Err(Error::conflict(ReasonCode::SimSwapTransition));
        }
        self.transition(SwapState::TimedOut)?;
        plan.pending_swap = None;
        Ok(())
    }
}

/// An Access Point Name (PLAN-4), as 3GPP TS 23.003 §9.1 defines the network identifier:
/// labels of ASCII letters, digits and hyphens (not at either end of a label), 1–63 characters
/// each, separated by dots, at most 100 characters in all; it must not end in `.gprs` nor start
/// with `rac`, `lac`, `sgsn` or `rnc` (reserved by TS 23.003). Kept as given, compared as
/// given (APNs are case-insensitive, but operators publish one spelling).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApnName(String);

impl ApnName {
    /// Parses an APN (surrounding spaces removed).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `name` with `Required`, `TooLong` or `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let name = raw.trim();
        let invalid = |message: &str| Error::validation("name", ReasonCode::InvalidFormat, message);
        if name.is_empty() {
            return Err(Error::validation(
                "name",
                ReasonCode::Required,
                "is required",
            ));
        }
        if name.len() > 100 {
            return Err(Error::validation(
                "name",
                ReasonCode::TooLong,
                "is longer than 100 characters",
            ));
        }
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return Err(invalid(
                    "each dot-separated part must have 1 to 63 characters",
                ));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return Err(invalid(
                    "may contain only letters, digits, hyphens and dots",
                ));
            }
            if label.starts_with('-') || label.ends_with('-') {
                return Err(invalid("a part must not start or end with a hyphen"));
            }
        }
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".gprs") {
            return Err(invalid("must not end in .gprs"));
        }
        if ["rac", "lac", "sgsn", "rnc"]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            return Err(invalid("must not start with rac, lac, sgsn or rnc"));
        }
        Ok(ApnName(name.to_owned()))
    }

    /// The APN text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ApnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ApnName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApnName({})", self.0)
    }
}

impl TryFrom<String> for ApnName {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}

impl From<ApnName> for String {
    fn from(name: ApnName) -> String {
        name.0
    }
}

/// How the device authenticates at the APN (PLAN-4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ApnAuth {
    /// No authentication (the usual case).
    #[default]
    None,
    /// PAP.
    Pap,
    /// CHAP.
    Chap,
    /// PAP or CHAP, whichever the network offers.
    PapOrChap,
}

/// The IP protocol of the APN (PLAN-4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum ApnProtocol {
    /// IPv4 only.
    Ipv4,
    /// IPv6 only.
    Ipv6,
    /// Dual stack; the default.
    #[default]
    Ipv4v6,
}

/// The input of [`ApnSettings::new`] and the form they deserialise from.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApnSettingsInput {
    /// The APN.
    pub name: String,
    /// The user name, if the APN needs one.
    pub username: Option<String>,
    /// The password, if the APN needs one.
    pub password: Option<String>,
    /// The authentication type.
    #[serde(default)]
    pub auth: ApnAuth,
    /// The IP protocol.
    #[serde(default)]
    pub protocol: ApnProtocol,
}

/// The APN settings "Send APN settings" sends to the customer's Service contacts (PLAN-4).
///
/// The APN password is not a secret in the usual sense: operators publish it and PLAN-4 sends
/// it to the customer in a message, so it serialises. It is still kept out of `Debug`, so it
/// never lands in a log.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "ApnSettingsInput")]
pub struct ApnSettings {
    name: ApnName,
    username: Option<String>,
    password: Option<String>,
    auth: ApnAuth,
    protocol: ApnProtocol,
}

impl ApnSettings {
    /// Validates APN settings. Empty user name or password count as none.
    ///
    /// # Errors
    /// [`Error::Validation`] on `apn.name` (as [`ApnName::parse`]), `apn.username` or
    /// `apn.password` (`TooLong`, `ControlCharacters`; at most 64 characters), or `apn.auth`
    /// (`InvalidFormat`: credentials without an authentication type).
    pub fn new(input: ApnSettingsInput) -> Result<Self> {
        let name = ApnName::parse(&input.name).map_err(|e| e.within("apn"))?;
        let optional = |field: &str, raw: Option<String>| -> Result<Option<String>> {
            let Some(raw) = raw else { return Ok(None) };
            let value = text_field(field, &raw, 64, false, false).map_err(|e| e.within("apn"))?;
            Ok(Some(value).filter(|v| !v.is_empty()))
        };
        let username = optional("username", input.username)?;
        let password = optional("password", input.password)?;
        if input.auth == ApnAuth::None && (username.is_some() || password.is_some()) {
            return Err(Error::validation(
                "apn.auth",
                ReasonCode::InvalidFormat,
                "a user name or password needs PAP or CHAP authentication",
            ));
        }
        Ok(ApnSettings {
            name,
            username,
            password,
            auth: input.auth,
            protocol: input.protocol,
        })
    }

    /// The APN.
    pub fn name(&self) -> &ApnName {
        &self.name
    }

    /// The user name, if any.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The password, if any (for the message to the customer; never log it).
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The authentication type.
    pub fn auth(&self) -> ApnAuth {
        self.auth
    }

    /// The IP protocol.
    pub fn protocol(&self) -> ApnProtocol {
        self.protocol
    }
}

impl TryFrom<ApnSettingsInput> for ApnSettings {
    type Error = Error;
    fn try_from(input: ApnSettingsInput) -> Result<Self> {
        ApnSettings::new(input)
    }
}

impl fmt::Debug for ApnSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApnSettings")
            .field("name", &self.name)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("auth", &self.auth)
            .field("protocol", &self.protocol)
            .finish()
    }
}

/// One usage counter of a plan (PLAN-5): what was used and what the plan includes. Arithmetic
/// saturates, so no network figure can overflow it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageCounter {
    /// Used in the period.
    pub used: u64,
    /// Included in the period; `None` is unlimited.
    pub included: Option<u64>,
}

impl UsageCounter {
    /// A counter with `used` of `included` (`None`: unlimited).
    pub fn new(used: u64, included: Option<u64>) -> Self {
        UsageCounter { used, included }
    }

    /// What is left: `None` when unlimited, never below zero.
    pub fn remaining(&self) -> Option<u64> {
        self.included.map(|i| i.saturating_sub(self.used))
    }

    /// How much was used beyond what is included (0 when unlimited or within).
    pub fn overage(&self) -> u64 {
        self.included.map_or(0, |i| self.used.saturating_sub(i))
    }

    /// The share used, in whole percent rounded down and capped at 100; `None` when
    /// unlimited. Nothing included and something used counts as 100.
    pub fn percent_used(&self) -> Option<u8> {
        let included = self.included?;
        if included == 0 {
            return Some(if self.used == 0 { 0 } else { 100 });
        }
        let percent = (u128::from(self.used) * 100) / u128::from(included);
        Some(u8::try_from(percent.min(100)).unwrap_or(100))
    }

    /// Whether nothing is left (never for unlimited counters).
    pub fn is_exhausted(&self) -> bool {
        self.remaining() == Some(0)
    }

    /// Adds `amount` to what was used, saturating.
    pub fn record(&mut self, amount: u64) {
        self.used = self.used.saturating_add(amount);
    }
}

/// A plan's usage in one period (PLAN-5): minutes, SMS and data bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanUsage {
    #[serde(with = "crate::formats::date")]
    period_start: Date,
    #[serde(with = "crate::formats::date")]
    period_end: Date,
    /// Voice minutes.
    pub minutes: UsageCounter,
    /// Text messages.
    pub sms: UsageCounter,
    /// Data, in bytes.
    pub data_bytes: UsageCounter,
}

impl PlanUsage {
    /// Usage for the period `period_start..=period_end`.
    ///
    /// # Errors
    /// [`Error::Validation`] on `period_end` with `OutOfRange` when it is before the start.
    pub fn new(
        period_start: Date,
        period_end: Date,
        minutes: UsageCounter,
        sms: UsageCounter,
        data_bytes: UsageCounter,
    ) -> Result<Self> {
        if period_end < period_start {
            return Err(Error::validation(
                "period_end",
                ReasonCode::OutOfRange,
                "must not be before the start of the period",
            ));
        }
        Ok(PlanUsage {
            period_start,
            period_end,
            minutes,
            sms,
            data_bytes,
        })
    }

    /// First day of the period.
    pub fn period_start(&self) -> Date {
        self.period_start
    }

    /// Last day of the period.
    pub fn period_end(&self) -> Date {
        self.period_end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_1_plan_state_names_are_the_serde_names() {
        for value in PlanState::ALL {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", value.as_str()));
            assert_eq!(value.to_string(), value.as_str());
        }
    }

    #[test]
    fn plan_2_swap_state_names_are_the_serde_names() {
        for value in SwapState::ALL {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", value.as_str()));
            assert_eq!(value.to_string(), value.as_str());
        }
    }
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    const NOW: OffsetDateTime = datetime!(2025-03-05 10:00 UTC);
    const TODAY: Date = date!(2025 - 03 - 05);

    fn own() -> Msisdn {
        Msisdn::parse("+972501234567").unwrap()
    }

    fn sim(n: u32) -> Iccid {
        Iccid::from_payload(&format!("8997200{n:011}")).unwrap()
    }

    /// A requested swap of `p` to `sim(2)`, the provisioning id drawn from `seed`.
    fn swap_to_sim_2(p: &mut Plan, seed: u8) -> SwapRequest {
        let id = ProvisioningId::new(NOW, [seed; 10]);
        SwapRequest::request(p, id, sim(2).as_str(), false, NOW, TODAY).unwrap()
    }

    fn plan(start: Date, end: Date) -> Plan {
        Plan::new(
            PlanId::new(NOW, [1; 10]),
            OrderId::new(NOW, [2; 10]),
            vec![own(), Msisdn::parse("+491701234567").unwrap()],
            sim(1),
            start,
            end,
        )
        .unwrap()
    }

    fn reason(r: Result<(Date, Date)>) -> ReasonCode {
        r.unwrap_err().reason()
    }

    #[test]
    fn plan_1_plan_invariants() {
        let p = |numbers: Vec<Msisdn>, start, end| {
            Plan::new(
                PlanId::new(NOW, [1; 10]),
                OrderId::new(NOW, [2; 10]),
                numbers,
                sim(1),
                start,
                end,
            )
        };
        assert_eq!(
            p(vec![], TODAY, date!(2025 - 04 - 01))
                .unwrap_err()
                .reason(),
            ReasonCode::PlanWithoutNumbers
        );
        assert_eq!(
            p(vec![own(), own()], TODAY, date!(2025 - 04 - 01))
                .unwrap_err()
                .field(),
            Some("numbers")
        );
        assert_eq!(
            p(vec![own()], TODAY, TODAY).unwrap_err().reason(),
            ReasonCode::PlanEndBeforeStart
        );
        let mut parts = plan(TODAY, date!(2025 - 04 - 01)).into_parts();
        parts.call_forwarding = Some(own());
        assert_eq!(
            Plan::from_parts(parts).unwrap_err().reason(),
            ReasonCode::CallForwardingToOwnNumber
        );
    }

    #[test]
    fn plan_1_state_follows_dates() {
        let p = plan(date!(2025 - 03 - 10), date!(2025 - 03 - 20));
        assert_eq!(p.state(date!(2025 - 03 - 09)), PlanState::Scheduled);
        assert_eq!(p.state(date!(2025 - 03 - 10)), PlanState::Active);
        assert_eq!(p.state(date!(2025 - 03 - 20)), PlanState::Active);
        assert_eq!(p.state(date!(2025 - 03 - 21)), PlanState::Ended);
    }

    #[test]
    fn plan_1_end_must_be_after_start() {
        let p = plan(date!(2025 - 03 - 10), date!(2025 - 03 - 20));
        for end in [date!(2025 - 03 - 10), date!(2025 - 03 - 09)] {
            let e = change_dates(&p, None, Some(end), TODAY).unwrap_err();
            assert_eq!(e.reason(), ReasonCode::PlanEndBeforeStart);
            assert_eq!(e.field(), Some("end"));
        }
        assert_eq!(
            reason(change_dates(&p, Some(date!(2025 - 03 - 25)), None, TODAY)),
            ReasonCode::PlanEndBeforeStart
        );
        assert_eq!(
            change_dates(
                &p,
                Some(date!(2025 - 03 - 25)),
                Some(date!(2025 - 03 - 26)),
                TODAY
            )
            .unwrap(),
            (date!(2025 - 03 - 25), date!(2025 - 03 - 26))
        );
    }

    #[test]
    fn plan_1_started_plan_cannot_move_its_start() {
        for start in [TODAY, date!(2025 - 03 - 01)] {
            let p = plan(start, date!(2025 - 03 - 20));
            let e = change_dates(&p, Some(date!(2025 - 03 - 06)), None, TODAY).unwrap_err();
            assert!(matches!(e, Error::ImmutableField { .. }));
            assert_eq!(e.reason(), ReasonCode::PlanStarted);
            // Sending the unchanged start back with a new end is fine.
            assert_eq!(
                change_dates(&p, Some(start), Some(date!(2025 - 03 - 30)), TODAY).unwrap(),
                (start, date!(2025 - 03 - 30))
            );
        }
    }

    #[test]
    fn plan_1_no_date_before_today() {
        let p = plan(date!(2025 - 03 - 10), date!(2025 - 03 - 20));
        let e = change_dates(&p, Some(date!(2025 - 03 - 04)), None, TODAY).unwrap_err();
        assert_eq!(
            (e.reason(), e.field()),
            (ReasonCode::DateInPast, Some("start"))
        );
        // Moving a future start to today is allowed.
        assert!(change_dates(&p, Some(TODAY), None, TODAY).is_ok());

        let running = plan(date!(2025 - 03 - 01), date!(2025 - 03 - 20));
        let e = change_dates(&running, None, Some(date!(2025 - 03 - 04)), TODAY).unwrap_err();
        assert_eq!(
            (e.reason(), e.field()),
            (ReasonCode::DateInPast, Some("end"))
        );
        // Ending today is allowed.
        assert_eq!(
            change_dates(&running, None, Some(TODAY), TODAY).unwrap(),
            (date!(2025 - 03 - 01), TODAY)
        );

        let ended = plan(date!(2025 - 02 - 01), date!(2025 - 03 - 01));
        assert_eq!(
            change_dates(&ended, None, Some(date!(2025 - 03 - 30)), TODAY).unwrap_err(),
            Error::conflict(ReasonCode::PlanEnded)
        );
    }

    #[test]
    fn plan_1_method_applies_only_on_success() {
        let mut p = plan(date!(2025 - 03 - 10), date!(2025 - 03 - 20));
        assert!(
            p.change_dates(Some(date!(2025 - 03 - 01)), None, TODAY)
                .is_err()
        );
        assert_eq!(
            (p.start(), p.end()),
            (date!(2025 - 03 - 10), date!(2025 - 03 - 20))
        );
        p.change_dates(None, Some(date!(2025 - 04 - 20)), TODAY)
            .unwrap();
        assert_eq!(p.end(), date!(2025 - 04 - 20));
    }

    proptest! {
        #[test]
        fn plan_1_accepted_changes_obey_every_rule(
            s in -5i64..6, len in 1i64..6, ns in proptest::option::of(-6i64..8),
            ne in proptest::option::of(-6i64..12),
        ) {
            let day = |d: i64| TODAY + Duration::days(d);
            let p = plan(day(s), day(s + len));
            let result = change_dates(&p, ns.map(day), ne.map(day), TODAY);
            let start = ns.map_or(p.start(), day);
            let end = ne.map_or(p.end(), day);
            let rules_ok = end > start
                && (start == p.start() || (p.start() > TODAY && start >= TODAY))
                && (end == p.end() || (p.end() >= TODAY && end >= TODAY));
            prop_assert_eq!(result.is_ok(), rules_ok);
            if let Ok(dates) = result {
                prop_assert_eq!(dates, (start, end));
            }
        }
    }

    #[test]
    fn plan_2_swap_completes_and_moves_plan_to_new_sim() {
        let mut p = plan(date!(2025 - 03 - 01), date!(2025 - 03 - 20));
        let id = ProvisioningId::new(NOW, [9; 10]);
        let new = sim(2);
        let mut swap =
            SwapRequest::request(&mut p, id, &format!("{new}F"), false, NOW, TODAY).unwrap();
        assert_eq!(swap.state(), SwapState::Requested);
        assert_eq!(p.state(TODAY), PlanState::Provisioning);
        assert_eq!(p.sim(), &sim(1));
        swap.start_provisioning().unwrap();
        swap.complete(&mut p).unwrap();
        assert_eq!(swap.state(), SwapState::Completed);
        assert_eq!(p.sim(), &new);
        assert_eq!(swap.old_sim(), &sim(1));
        assert_eq!(p.state(TODAY), PlanState::Active);
        // Nothing leaves Completed.
        assert_eq!(
            swap.fail(&mut p).unwrap_err(),
            Error::conflict(ReasonCode::SimSwapTransition)
        );
    }

    #[test]
    fn plan_2_failed_or_timed_out_swap_keeps_old_sim() {
        let mut p = plan(date!(2025 - 03 - 01), date!(2025 - 03 - 20));
        let mut swap = swap_to_sim_2(&mut p, 9);
        swap.start_provisioning().unwrap();
        swap.fail(&mut p).unwrap();
        assert_eq!(p.sim(), &sim(1));
        assert_eq!(p.pending_swap(), None);

        let mut swap = swap_to_sim_2(&mut p, 8);
        swap.start_provisioning().unwrap();
        let early = NOW + Duration::minutes(59);
        assert!(!swap.is_due(early, DEFAULT_SWAP_TIMEOUT));
        assert!(swap.time_out(&mut p, early, DEFAULT_SWAP_TIMEOUT).is_err());
        let late = NOW + DEFAULT_SWAP_TIMEOUT;
        assert!(swap.is_due(late, DEFAULT_SWAP_TIMEOUT));
        swap.time_out(&mut p, late, DEFAULT_SWAP_TIMEOUT).unwrap();
        assert_eq!(swap.state(), SwapState::TimedOut);
        assert_eq!(p.sim(), &sim(1));
        assert_eq!(p.state(TODAY), PlanState::Active);
        assert!(!swap.is_due(late, DEFAULT_SWAP_TIMEOUT));
    }

    #[test]
    fn plan_2_request_is_validated() {
        let mut p = plan(date!(2025 - 03 - 01), date!(2025 - 03 - 20));
        let id = ProvisioningId::new(NOW, [9; 10]);
        let e =
            SwapRequest::request(&mut p, id, "8997200000000000005", false, NOW, TODAY).unwrap_err();
        assert_eq!(e.field(), Some("new_sim"));
        assert_eq!(e.reason(), ReasonCode::IccidCheckDigit);
        let e = SwapRequest::request(&mut p, id, sim(1).as_str(), false, NOW, TODAY).unwrap_err();
        assert_eq!(
            (e.reason(), e.field()),
            (ReasonCode::SimSwapSameSim, Some("new_sim"))
        );
        let e = SwapRequest::request(&mut p, id, sim(2).as_str(), true, NOW, TODAY).unwrap_err();
        assert_eq!(e, Error::conflict(ReasonCode::SimInUse));
        assert_eq!(
            p.pending_swap(),
            None,
            "a refused request leaves the plan alone"
        );
        SwapRequest::request(&mut p, id, sim(2).as_str(), false, NOW, TODAY).unwrap();
        let e = SwapRequest::request(&mut p, id, sim(3).as_str(), false, NOW, TODAY).unwrap_err();
        assert_eq!(e, Error::conflict(ReasonCode::ProvisioningInProgress));

        let mut ended = plan(date!(2025 - 02 - 01), date!(2025 - 03 - 01));
        let e =
            SwapRequest::request(&mut ended, id, sim(2).as_str(), false, NOW, TODAY).unwrap_err();
        assert_eq!(e, Error::conflict(ReasonCode::PlanEnded));
    }

    #[test]
    fn plan_2_swap_only_completes_its_own_plan() {
        let mut p = plan(date!(2025 - 03 - 01), date!(2025 - 03 - 20));
        let mut other = Plan::new(
            PlanId::new(NOW, [7; 10]),
            OrderId::new(NOW, [2; 10]),
            vec![own()],
            sim(5),
            TODAY,
            date!(2025 - 04 - 01),
        )
        .unwrap();
        let mut swap = swap_to_sim_2(&mut p, 9);
        swap.start_provisioning().unwrap();
        assert_eq!(swap.complete(&mut other).unwrap_err(), Error::NotFound);
        assert_eq!(other.sim(), &sim(5));
        assert_eq!(swap.state(), SwapState::Provisioning);
    }

    #[test]
    fn plan_2_transition_table_is_exhaustive() {
        use SwapState::*;
        let allowed = [
            (Requested, Provisioning),
            (Requested, Failed),
            (Requested, TimedOut),
            (Provisioning, Completed),
            (Provisioning, Failed),
            (Provisioning, TimedOut),
        ];
        for from in SwapState::ALL {
            for to in SwapState::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from:?} -> {to:?}"
                );
            }
            assert_eq!(from.is_final(), !allowed.iter().any(|(f, _)| *f == from));
        }
        // Completing straight from Requested (network not asked yet) is refused.
        let mut p = plan(date!(2025 - 03 - 01), date!(2025 - 03 - 20));
        let mut swap = swap_to_sim_2(&mut p, 9);
        assert_eq!(
            swap.complete(&mut p).unwrap_err(),
            Error::conflict(ReasonCode::SimSwapTransition)
        );
        assert_eq!(p.sim(), &sim(1));
    }

    #[test]
    fn plan_2_timeout_boundary() {
        let t = NOW;
        assert!(!swap_timed_out(
            t,
            t + Duration::minutes(59),
            DEFAULT_SWAP_TIMEOUT
        ));
        assert!(swap_timed_out(t, t + Duration::HOUR, DEFAULT_SWAP_TIMEOUT));
        assert!(!swap_timed_out(t, t - Duration::HOUR, DEFAULT_SWAP_TIMEOUT));
    }

    #[test]
    fn plan_3_voicemail_on_off_and_language() {
        let mut p = plan(date!(2025 - 03 - 01), date!(2025 - 03 - 20));
        assert!(!p.voicemail().enabled);
        assert!(p.set_voicemail(true, VoicemailLanguage::parse(" HE ").unwrap()));
        assert_eq!(
            p.voicemail(),
            Voicemail {
                enabled: true,
                language: VoicemailLanguage::Hebrew
            }
        );
        assert!(!p.set_voicemail(true, VoicemailLanguage::Hebrew));
        assert!(p.set_voicemail(true, VoicemailLanguage::parse("english").unwrap()));
        assert_eq!(p.voicemail().language.code(), "en");
        assert!(p.set_voicemail(false, VoicemailLanguage::English));
        let e = VoicemailLanguage::parse("de").unwrap_err();
        assert_eq!(
            (e.reason(), e.field()),
            (ReasonCode::LanguageUnsupported, Some("voicemail.language"))
        );
    }

    fn apn(name: &str) -> Result<ApnSettings> {
        ApnSettings::new(ApnSettingsInput {
            name: name.into(),
            ..ApnSettingsInput::default()
        })
    }

    #[test]
    fn plan_4_apn_name_follows_ts_23_003() {
        for ok in [
            "internet",
            "web.example-mobile.com",
            "A1.b2",
            &"a".repeat(63),
        ] {
            assert_eq!(apn(ok).unwrap().name().as_str(), ok);
        }
        let long = ["abcdefghi"; 10].join("."); // 99 characters
        assert!(apn(&long).is_ok());
        assert_eq!(
            apn(&format!("{long}xx")).unwrap_err().reason(),
            ReasonCode::TooLong
        );
        for bad in [
            "a..b",
            ".a",
            "a.",
            "-a",
            "a-",
            "a_b",
            "ש",
            "a b",
            &"a".repeat(64),
            "x.gprs",
            "sgsn1",
            "RAC.x",
            "",
        ] {
            let e = apn(bad).unwrap_err();
            assert_eq!(e.field(), Some("apn.name"), "{bad:?}");
        }
    }

    #[test]
    fn plan_4_apn_credentials_need_auth_and_password_stays_out_of_debug() {
        let input = ApnSettingsInput {
            name: "internet".into(),
            username: Some("user".into()),
            password: Some("hunter2".into()),
            auth: ApnAuth::None,
            protocol: ApnProtocol::Ipv4,
        };
        assert_eq!(
            ApnSettings::new(input.clone()).unwrap_err().field(),
            Some("apn.auth")
        );
        let s = ApnSettings::new(ApnSettingsInput {
            auth: ApnAuth::Pap,
            ..input
        })
        .unwrap();
        assert_eq!(s.password(), Some("hunter2"));
        assert!(!format!("{s:?}").contains("hunter2"));
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<ApnSettings>(&json).unwrap(), s);
        assert!(serde_json::from_str::<ApnSettings>(r#"{"name":"a..b"}"#).is_err());
        let e = ApnSettings::new(ApnSettingsInput {
            name: "internet".into(),
            username: Some("a\u{0}".into()),
            auth: ApnAuth::Chap,
            ..ApnSettingsInput::default()
        })
        .unwrap_err();
        assert_eq!(e.field(), Some("apn.username"));
        let empty = ApnSettings::new(ApnSettingsInput {
            name: "internet".into(),
            username: Some(" ".into()),
            ..ApnSettingsInput::default()
        })
        .unwrap();
        assert_eq!(empty.username(), None);
    }

    #[test]
    fn plan_5_usage_remaining_and_percent() {
        let c = UsageCounter::new(30, Some(120));
        assert_eq!(c.remaining(), Some(90));
        assert_eq!(c.percent_used(), Some(25));
        assert_eq!(c.overage(), 0);
        let over = UsageCounter::new(150, Some(120));
        assert_eq!((over.remaining(), over.overage()), (Some(0), 30));
        assert_eq!(over.percent_used(), Some(100));
        assert!(over.is_exhausted());
        let unlimited = UsageCounter::new(5, None);
        assert_eq!(
            (
                unlimited.remaining(),
                unlimited.percent_used(),
                unlimited.is_exhausted()
            ),
            (None, None, false)
        );
        assert_eq!(UsageCounter::new(0, Some(0)).percent_used(), Some(0));
        assert_eq!(UsageCounter::new(1, Some(0)).percent_used(), Some(100));
        let mut max = UsageCounter::new(u64::MAX - 1, Some(u64::MAX));
        assert_eq!(max.percent_used(), Some(99));
        max.record(10);
        assert_eq!(max.used, u64::MAX);
        assert_eq!(max.remaining(), Some(0));

        let usage = PlanUsage::new(TODAY, date!(2025 - 04 - 04), c, over, unlimited).unwrap();
        assert_eq!(usage.period_end(), date!(2025 - 04 - 04));
        assert_eq!(
            PlanUsage::new(TODAY, date!(2025 - 03 - 04), c, c, c)
                .unwrap_err()
                .reason(),
            ReasonCode::OutOfRange
        );
    }

    proptest! {
        #[test]
        fn plan_5_usage_arithmetic_never_overflows(used in any::<u64>(), included in proptest::option::of(any::<u64>()), add in any::<u64>()) {
            let mut c = UsageCounter::new(used, included);
            c.record(add);
            if let Some(i) = included {
                let remaining = c.remaining().unwrap();
                prop_assert!(remaining <= i);
                prop_assert_eq!(u128::from(remaining) + u128::from(c.used.min(i)), u128::from(i));
                prop_assert!(c.percent_used().unwrap() <= 100);
            } else {
                prop_assert_eq!(c.remaining(), None);
            }
        }
    }

    #[test]
    fn plan_6_call_forwarding_set_and_reset() {
        let mut p = plan(date!(2025 - 03 - 01), date!(2025 - 03 - 20));
        assert!(p.set_call_forwarding("+44 20 7946 0958").unwrap());
        assert_eq!(p.call_forwarding().unwrap().e164(), "+442079460958");
        assert!(!p.set_call_forwarding("0044 20 7946 0958").unwrap());
        let e = p.set_call_forwarding("+49 170 1234567").unwrap_err();
        assert_eq!(
            (e.reason(), e.field()),
            (ReasonCode::CallForwardingToOwnNumber, Some("forward_to"))
        );
        let e = p.set_call_forwarding("not a number").unwrap_err();
        assert_eq!(e.field(), Some("forward_to"));
        assert_eq!(p.call_forwarding().unwrap().e164(), "+442079460958");
        assert!(p.reset_call_forwarding());
        assert!(!p.reset_call_forwarding());
        assert_eq!(p.call_forwarding(), None);
    }

    #[test]
    fn plan_6_deserialising_checks_invariants() {
        let p = plan(date!(2025 - 03 - 01), date!(2025 - 03 - 20));
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(serde_json::from_value::<Plan>(json.clone()).unwrap(), p);
        let mut bad = json;
        bad["call_forwarding"] = serde_json::json!("+972501234567");
        assert!(serde_json::from_value::<Plan>(bad).is_err());
    }

    #[test]
    fn plan_1_a_plan_is_stored_with_its_dates_as_yyyy_mm_dd() {
        let p = plan(date!(2025 - 03 - 01), date!(2025 - 12 - 31));
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            (&json["start"], &json["end"]),
            (&"2025-03-01".into(), &"2025-12-31".into())
        );
        assert_eq!(serde_json::from_value::<Plan>(json.clone()).unwrap(), p);
        let mut unknown = json;
        unknown["ends"] = "2025-12-31".into();
        assert!(serde_json::from_value::<Plan>(unknown).is_err());
    }
}
