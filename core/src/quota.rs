//! Usage records, quota generations, volume notifications and the Auto-Top-Up decision
//! (TOP-2, TOP-3, and the "monthly limit reached" part of ACC-5).
//!
//! The centre is [`apply_usage`]: a pure function from (quota state, the SIM's use this month,
//! one usage record, what was already seen and sent) to the new state and the effects the caller
//! must carry out (notifications, one Auto-Top-Up charge). The caller stores the new state, the
//! record id ([`UsageOutcome::seen`]) and the marks ([`UsageOutcome::marks`]) in the same
//! transaction; that is what makes a record delivered twice, or two deliveries racing, produce
//! exactly one charge and one notification of each kind.
//!
//! Units: data in bytes, SMS as a count ([`VolumeKind::unit`]); the monthly data limit of ACC-5 is
//! in MB of [`BYTES_PER_MB`] bytes.
//!
//! ```
//! use selfcare_core::customer::MonthPeriod;
//! use selfcare_core::ids::SimId;
//! use selfcare_core::numbers::Iccid;
//! use selfcare_core::quota::*;
//! use time::macros::datetime;
//!
//! let sim = SimId::new(datetime!(2025-01-01 0:00 UTC), [1; 10]);
//! let iccid = Iccid::from_payload("898822800000000000").unwrap();
//! let state = start_generation(&QuotaState::new(sim), VolumeKind::Data, 1_000).unwrap();
//! let period = MonthPeriod::new(2025, 3).unwrap();
//! let record = UsageRecord::new("r-1", iccid, datetime!(2025-03-02 10:00 UTC), 1_000, 0).unwrap();
//! let rules = UsageRules {
//!     period,
//!     limits: MonthlyLimits::UNLIMITED,
//!     auto_top_up: true,
//!     thresholds: &DEFAULT_THRESHOLDS,
//! };
//! let out = apply_usage(&state, &MonthlyUsage::new(period), &record,
//!                       &Vec::<UsageRecordId>::new(), &SentMarks::new(), &rules);
//! assert!(out.effects.iter().any(|e| matches!(e, UsageEffect::AutoTopUp { .. })));
//! ```

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use time::OffsetDateTime;

use crate::customer::{Limit, MonthPeriod, MonthlyVolumeLimits};
use crate::error::{Error, ReasonCode, Result};
use crate::ids::SimId;
use crate::numbers::Iccid;
use crate::orders::GatewayKey;

/// Bytes in one MB of the monthly data limit (ACC-5). Decimal (SI), as mobile tariffs count.
pub const BYTES_PER_MB: u64 = 1_000_000;

/// The longest network usage-record id accepted, in characters.
pub const RECORD_ID_MAX_CHARS: usize = 128;

/// The default volume-notification thresholds of remaining volume (TOP-3): 20 % and 0 %.
pub const DEFAULT_THRESHOLDS: [Percent; 2] = [Percent(20), Percent(0)];

/// A kind of volume a quota counts (TOP-1: a top-up adds data or SMS volume).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum VolumeKind {
    /// Mobile data, counted in bytes.
    Data,
    /// Text messages, counted one by one.
    Sms,
}

impl VolumeKind {
    /// Every kind.
    pub const ALL: [VolumeKind; 2] = [VolumeKind::Data, VolumeKind::Sms];

    /// The stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            VolumeKind::Data => "data",
            VolumeKind::Sms => "sms",
        }
    }

    /// The unit quotas and usage of this kind are counted in: `bytes` or `messages`.
    pub const fn unit(self) -> &'static str {
        match self {
            VolumeKind::Data => "bytes",
            VolumeKind::Sms => "messages",
        }
    }
}

impl fmt::Display for VolumeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A whole percentage, 0..=100: a volume-notification threshold of remaining volume (TOP-3).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u8", into = "u8")]
pub struct Percent(u8);

impl Percent {
    /// A percentage.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `percent` with `OutOfRange` above 100.
    pub fn new(value: u8) -> Result<Self> {
        if value > 100 {
            return Err(Error::validation(
                "percent",
                ReasonCode::OutOfRange,
                format!("is {value}; a percentage is at most 100"),
            ));
        }
        Ok(Percent(value))
    }

    /// The number of percent.
    pub const fn value(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Percent {
    type Error = Error;
    fn try_from(value: u8) -> Result<Self> {
        Percent::new(value)
    }
}

impl From<Percent> for u8 {
    fn from(value: Percent) -> u8 {
        value.0
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} %", self.0)
    }
}

/// The network's id of a usage record (TOP-2): 1..=128 printable ASCII characters, trimmed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UsageRecordId(String);

impl UsageRecordId {
    /// Parses a record id.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `record_id` with `Required`, `TooLong` or `InvalidFormat`
    /// (anything but printable ASCII).
    pub fn parse(raw: &str) -> Result<Self> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Error::validation(
                "record_id",
                ReasonCode::Required,
                "is required",
            ));
        }
        if !trimmed.chars().all(|c| matches!(c, ' '..='~')) {
            return Err(Error::validation(
                "record_id",
                ReasonCode::InvalidFormat,
                "may contain only printable ASCII characters",
            ));
        }
        // Only ASCII is left, so bytes are characters.
        if trimmed.len() > RECORD_ID_MAX_CHARS {
            return Err(Error::validation(
                "record_id",
                ReasonCode::TooLong,
                format!(
                    "is {} characters long; at most {RECORD_ID_MAX_CHARS} are allowed",
                    trimmed.len()
                ),
            ));
        }
        Ok(UsageRecordId(trimmed.to_owned()))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UsageRecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for UsageRecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UsageRecordId({})", self.0)
    }
}

impl TryFrom<String> for UsageRecordId {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        UsageRecordId::parse(&raw)
    }
}

impl From<UsageRecordId> for String {
    fn from(value: UsageRecordId) -> String {
        value.0
    }
}

/// One usage record from the network (TOP-2): what one SIM used, with the network's record id.
///
/// The SIM is named by its ICCID, as the network sends it; the caller resolves it to the SIM
/// (a global lookup) and applies the record to that SIM's [`QuotaState`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageRecord {
    /// The network's id; a record seen before is ignored.
    pub record_id: UsageRecordId,
    /// The SIM that used the volume.
    pub iccid: Iccid,
    /// When the use happened (decides the month it counts toward, ACC-5).
    #[serde(with = "crate::formats::instant")]
    pub at: OffsetDateTime,
    /// Data used, in bytes.
    pub data_bytes: u64,
    /// Text messages sent.
    pub sms: u64,
}

impl UsageRecord {
    /// A record, validating the network's record id.
    ///
    /// # Errors
    /// As [`UsageRecordId::parse`].
    pub fn new(
        record_id: &str,
        iccid: Iccid,
        at: OffsetDateTime,
        data_bytes: u64,
        sms: u64,
    ) -> Result<Self> {
        Ok(UsageRecord {
            record_id: UsageRecordId::parse(record_id)?,
            iccid,
            at,
            data_bytes,
            sms,
        })
    }

    /// The amount of `kind` this record used.
    pub const fn amount(&self, kind: VolumeKind) -> u64 {
        match kind {
            VolumeKind::Data => self.data_bytes,
            VolumeKind::Sms => self.sms,
        }
    }
}

/// One generation of one kind of a SIM's quota (TOP-2): its volume and what was used of it.
/// Any combination of values is a possible stored state, so the fields are public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quota {
    /// The generation number; 0 means no top-up yet (volume 0).
    pub generation: u32,
    /// The generation's volume: its top-up volume + max(the previous remaining, 0).
    pub volume: u64,
    /// Used in this generation; may exceed `volume` (remaining goes negative).
    pub used: u64,
}

impl Quota {
    /// Remaining volume, `volume - used`; negative when over-used (saturating at `i64::MIN`).
    pub fn remaining(&self) -> i64 {
        let exact = i128::from(self.volume) - i128::from(self.used);
        i64::try_from(exact).unwrap_or(if exact < 0 { i64::MIN } else { i64::MAX })
    }

    fn remaining_exact(&self) -> i128 {
        i128::from(self.volume) - i128::from(self.used)
    }

    /// Whether nothing is left (remaining ≤ 0).
    pub fn is_exhausted(&self) -> bool {
        self.remaining_exact() <= 0
    }
}

/// A SIM's quota: one current generation per kind (TOP-2).
///
/// Generation numbers come from one counter per SIM, shared by both kinds, so the Auto-Top-Up
/// key `auto:{sim}:{generation}` of TOP-2 names one exhaustion of one kind unambiguously.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuotaState {
    sim: SimId,
    last_generation: u32,
    data: Quota,
    sms: Quota,
}

impl QuotaState {
    /// A SIM without any volume yet (generation 0 of both kinds, volume 0).
    pub fn new(sim: SimId) -> Self {
        QuotaState {
            sim,
            last_generation: 0,
            data: Quota::default(),
            sms: Quota::default(),
        }
    }

    /// Rebuilds a stored state. The generation counter is raised to the newest generation held,
    /// so a new generation can never reuse a number.
    pub fn restore(sim: SimId, last_generation: u32, data: Quota, sms: Quota) -> Self {
        QuotaState {
            sim,
            last_generation: last_generation.max(data.generation).max(sms.generation),
            data,
            sms,
        }
    }

    /// The SIM.
    pub const fn sim(&self) -> SimId {
        self.sim
    }

    /// The newest generation number issued for this SIM (either kind).
    pub const fn last_generation(&self) -> u32 {
        self.last_generation
    }

    /// The current generation of `kind`.
    pub const fn quota(&self, kind: VolumeKind) -> &Quota {
        match kind {
            VolumeKind::Data => &self.data,
            VolumeKind::Sms => &self.sms,
        }
    }

    fn quota_mut(&mut self, kind: VolumeKind) -> &mut Quota {
        match kind {
            VolumeKind::Data => &mut self.data,
            VolumeKind::Sms => &mut self.sms,
        }
    }
}

/// Starts a new generation of `kind` after a top-up of `top_up_volume` (bytes or messages):
/// its volume is `top_up_volume + max(previous remaining, 0)` and nothing of it is used (TOP-2).
/// An over-use of the previous generation is not carried over.
///
/// # Errors
/// [`Error::Conflict`] with `QuotaOverflow` when the generation counter or the volume would
/// overflow.
pub fn start_generation(
    state: &QuotaState,
    kind: VolumeKind,
    top_up_volume: u64,
) -> Result<QuotaState> {
    let overflow = || Error::conflict(ReasonCode::QuotaOverflow);
    let generation = state.last_generation.checked_add(1).ok_or_else(overflow)?;
    let carried =
        u64::try_from(state.quota(kind).remaining_exact().max(0)).map_err(|_| overflow())?;
    let volume = top_up_volume.checked_add(carried).ok_or_else(overflow)?;
    let mut next = state.clone();
    next.last_generation = generation;
    *next.quota_mut(kind) = Quota {
        generation,
        volume,
        used: 0,
    };
    Ok(next)
}

/// A SIM's own use in one month (ACC-5, TOP-2: the monthly limit counts each SIM's own use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthlyUsage {
    /// The month counted.
    pub period: MonthPeriod,
    /// Data used in the month, in bytes.
    pub data_bytes: u64,
    /// Text messages sent in the month.
    pub sms: u64,
}

impl MonthlyUsage {
    /// Nothing used yet in `period`.
    pub const fn new(period: MonthPeriod) -> Self {
        MonthlyUsage {
            period,
            data_bytes: 0,
            sms: 0,
        }
    }

    /// Used of `kind` (bytes or messages).
    pub const fn used(&self, kind: VolumeKind) -> u64 {
        match kind {
            VolumeKind::Data => self.data_bytes,
            VolumeKind::Sms => self.sms,
        }
    }

    fn used_mut(&mut self, kind: VolumeKind) -> &mut u64 {
        match kind {
            VolumeKind::Data => &mut self.data_bytes,
            VolumeKind::Sms => &mut self.sms,
        }
    }
}

/// The organisation's monthly volume limits (ACC-5) as quota applies them to each SIM's own use.
///
/// The values are the customer's [`Limit`]s, data in MB: build it from the organisation's
/// chosen [`MonthlyVolumeLimits`] with `From`. Quota counts data in bytes, so
/// [`MonthlyLimits::limit`] converts with [`BYTES_PER_MB`]; that conversion happens here and
/// nowhere else. It is a separate type from [`MonthlyVolumeLimits`] because quota does not care
/// whether a limit is one of the configured steps (steps may change after a choice was made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthlyLimits {
    /// Data per SIM and month, in MB of [`BYTES_PER_MB`] bytes.
    pub data_mb: Limit,
    /// Text messages per SIM and month.
    pub sms: Limit,
}

impl MonthlyLimits {
    /// No limit for either kind.
    pub const UNLIMITED: MonthlyLimits = MonthlyLimits {
        data_mb: Limit::Unlimited,
        sms: Limit::Unlimited,
    };

    /// The limit of `kind` in its counting unit ([`VolumeKind::unit`]: bytes or messages).
    /// A data limit too large for bytes in a `u64` saturates, which is unlimited in practice.
    pub const fn limit(&self, kind: VolumeKind) -> Limit {
        match kind {
            VolumeKind::Data => match self.data_mb {
                Limit::Capped(mb) => Limit::Capped(mb.saturating_mul(BYTES_PER_MB)),
                Limit::Unlimited => Limit::Unlimited,
            },
            VolumeKind::Sms => self.sms,
        }
    }

    /// Whether `used` (bytes or messages) of `kind` has reached the limit.
    pub fn reached(&self, kind: VolumeKind, used: u64) -> bool {
        self.limit(kind).is_reached(used)
    }
}

impl From<&MonthlyVolumeLimits> for MonthlyLimits {
    fn from(chosen: &MonthlyVolumeLimits) -> Self {
        MonthlyLimits {
            data_mb: chosen.data_mb(),
            sms: chosen.sms(),
        }
    }
}

impl From<MonthlyVolumeLimits> for MonthlyLimits {
    fn from(chosen: MonthlyVolumeLimits) -> Self {
        MonthlyLimits::from(&chosen)
    }
}

/// The usage-record ids already applied to a SIM (TOP-2: a record seen before is ignored).
pub trait SeenRecords {
    /// Whether `id` was applied before.
    fn contains_record(&self, id: &UsageRecordId) -> bool;
}

impl SeenRecords for [UsageRecordId] {
    fn contains_record(&self, id: &UsageRecordId) -> bool {
        self.contains(id)
    }
}

impl SeenRecords for Vec<UsageRecordId> {
    fn contains_record(&self, id: &UsageRecordId) -> bool {
        self.contains(id)
    }
}

impl<S: std::hash::BuildHasher> SeenRecords for HashSet<UsageRecordId, S> {
    fn contains_record(&self, id: &UsageRecordId) -> bool {
        self.contains(id)
    }
}

impl SeenRecords for BTreeSet<UsageRecordId> {
    fn contains_record(&self, id: &UsageRecordId) -> bool {
        self.contains(id)
    }
}

/// A record that a once-only effect happened for a SIM (TOP-2, TOP-3); stored with the SIM and
/// passed back in [`SentMarks`], so the effect never happens twice.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(tag = "mark", rename_all = "snake_case", deny_unknown_fields)]
pub enum SentMark {
    /// The notification for `percent` of `kind` in `generation` was sent.
    Threshold {
        /// The kind.
        kind: VolumeKind,
        /// The threshold.
        percent: Percent,
        /// The generation.
        generation: u32,
    },
    /// The "monthly limit reached" notification of `kind` for `period` was sent.
    MonthlyLimit {
        /// The kind.
        kind: VolumeKind,
        /// The month.
        period: MonthPeriod,
    },
    /// The Auto-Top-Up decision for the exhaustion of `kind` in `generation` was made (charged,
    /// or skipped for the monthly limit).
    AutoTopUp {
        /// The kind.
        kind: VolumeKind,
        /// The exhausted generation.
        generation: u32,
    },
}

/// The once-only effects already done for a SIM.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SentMarks(BTreeSet<SentMark>);

impl SentMarks {
    /// No marks.
    pub fn new() -> Self {
        SentMarks(BTreeSet::new())
    }

    /// Whether `mark` is recorded.
    pub fn contains(&self, mark: &SentMark) -> bool {
        self.0.contains(mark)
    }

    /// Records `mark`; `false` when it was recorded already.
    pub fn insert(&mut self, mark: SentMark) -> bool {
        self.0.insert(mark)
    }

    /// The marks, in order.
    pub fn iter(&self) -> impl Iterator<Item = &SentMark> {
        self.0.iter()
    }

    /// How many marks.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Extend<SentMark> for SentMarks {
    fn extend<T: IntoIterator<Item = SentMark>>(&mut self, iter: T) {
        self.0.extend(iter);
    }
}

impl FromIterator<SentMark> for SentMarks {
    fn from_iter<T: IntoIterator<Item = SentMark>>(iter: T) -> Self {
        SentMarks(iter.into_iter().collect())
    }
}

/// What applying a usage record requires of the caller. Notifications go to the
/// `VolumeNotifications` recipients (ACC-3, ACC-4) in the contact language.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "effect", rename_all = "snake_case", deny_unknown_fields)]
pub enum UsageEffect {
    /// The record was applied before; nothing else happened.
    Ignored {
        /// The duplicate record.
        record_id: UsageRecordId,
    },
    /// Remaining volume fell to `percent` of the generation's volume or below: send "volume
    /// threshold reached" (or, for 0 %, "volume exhausted").
    /// [`crate::notifications::usage_notifications`] maps effects to notifications.
    ThresholdReached {
        /// The kind.
        kind: VolumeKind,
        /// The threshold crossed: the share of the volume LEFT (20 % = a fifth remains).
        percent: Percent,
        /// The generation.
        generation: u32,
    },
    /// Remaining volume went from > 0 to ≤ 0 in this generation (a fact; its notification is the
    /// 0 % threshold when configured).
    Exhausted {
        /// The kind.
        kind: VolumeKind,
        /// The exhausted generation.
        generation: u32,
    },
    /// The SIM's own use of `kind` reached the monthly limit: send "monthly limit reached".
    MonthlyLimitReached {
        /// The kind.
        kind: VolumeKind,
        /// The month.
        period: MonthPeriod,
    },
    /// Charge one Auto-Top-Up of `kind` to the stored card, merchant-initiated, with `key`.
    AutoTopUp {
        /// The kind to top up.
        kind: VolumeKind,
        /// The exhausted generation.
        generation: u32,
        /// The gateway idempotency key, [`GatewayKey::auto_top_up`] of the SIM and the exhausted
        /// generation.
        key: GatewayKey,
    },
    /// Auto-Top-Up is on but the monthly limit is reached: no charge; send "monthly limit
    /// reached" (the recipients learn why no top-up came).
    AutoTopUpSkippedMonthlyLimit {
        /// The kind.
        kind: VolumeKind,
        /// The exhausted generation.
        generation: u32,
        /// The month whose limit is reached.
        period: MonthPeriod,
    },
}

/// The settings a usage record is judged by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageRules<'a> {
    /// The month the record's `at` falls in, in the configured time zone
    /// ([`MonthPeriod::containing`]).
    pub period: MonthPeriod,
    /// The organisation's monthly limits (ACC-5).
    pub limits: MonthlyLimits,
    /// Whether Auto-Top-Up is on for this SIM and a valid card is stored (PAY-1, PAY-3).
    pub auto_top_up: bool,
    /// The configured notification thresholds ([`DEFAULT_THRESHOLDS`]); duplicates are ignored.
    pub thresholds: &'a [Percent],
}

/// The result of [`apply_usage`]: store `state`, `monthly`, `seen` and `marks` together, in one
/// transaction, then carry out `effects` (through the outbox and the gateway).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageOutcome {
    /// The SIM's quota after the record.
    pub state: QuotaState,
    /// The SIM's use in the current month after the record.
    pub monthly: MonthlyUsage,
    /// What the caller must do, in order.
    pub effects: Vec<UsageEffect>,
    /// The once-only effects to record.
    pub marks: Vec<SentMark>,
    /// The record id to record as seen; `None` for a duplicate.
    pub seen: Option<UsageRecordId>,
}

/// Applies one usage record to a SIM's quota and month (TOP-2, TOP-3, ACC-5).
///
/// - A record whose id is in `seen` changes nothing and yields only [`UsageEffect::Ignored`].
/// - Each kind's use is added to the current generation; each configured threshold whose level
///   (`percent` of the generation's volume) the remaining volume falls to or below, from above,
///   yields [`UsageEffect::ThresholdReached`] unless already marked.
/// - Remaining going from > 0 to ≤ 0 yields [`UsageEffect::Exhausted`]; with Auto-Top-Up on and
///   no decision marked for that generation, one [`UsageEffect::AutoTopUp`] — or
///   [`UsageEffect::AutoTopUpSkippedMonthlyLimit`] when the SIM's use this month (this record
///   included) has reached the limit.
/// - The SIM's use this month reaching the limit yields [`UsageEffect::MonthlyLimitReached`]
///   once per SIM, kind and month.
///
/// A record of a later month than `monthly` starts that month from zero; a late record of an
/// earlier month counts toward the quota but not toward the current month (that month is over).
/// Arithmetic saturates; nothing here can fail or panic.
pub fn apply_usage<S: SeenRecords + ?Sized>(
    state: &QuotaState,
    monthly: &MonthlyUsage,
    record: &UsageRecord,
    seen: &S,
    sent: &SentMarks,
    rules: &UsageRules<'_>,
) -> UsageOutcome {
    if seen.contains_record(&record.record_id) {
        return UsageOutcome {
            state: state.clone(),
            monthly: *monthly,
            effects: vec![UsageEffect::Ignored {
                record_id: record.record_id.clone(),
            }],
            marks: Vec::new(),
            seen: None,
        };
    }

    let mut next = state.clone();
    let mut month = if rules.period > monthly.period {
        MonthlyUsage::new(rules.period)
    } else {
        *monthly
    };
    let counts_this_month = rules.period == month.period;
    // Highest threshold first, so notifications read in the order they were crossed.
    let thresholds: BTreeSet<Percent> = rules.thresholds.iter().copied().collect();
    let mut effects = Vec::new();
    let mut marks = Vec::new();
    let mut sent = sent.clone();
    let mut once = |mark: SentMark, marks: &mut Vec<SentMark>| {
        let new = sent.insert(mark);
        if new {
            marks.push(mark);
        }
        new
    };

    for kind in VolumeKind::ALL {
        let amount = record.amount(kind);
        let quota = next.quota_mut(kind);
        let before = quota.remaining_exact();
        quota.used = quota.used.saturating_add(amount);
        let after = quota.remaining_exact();
        let (generation, volume) = (quota.generation, i128::from(quota.volume));

        for percent in thresholds.iter().rev().copied() {
            // remaining ≤ volume × p / 100, compared exactly in integers.
            let level = volume * i128::from(percent.value());
            if before * 100 > level
                && after * 100 <= level
                && once(
                    SentMark::Threshold {
                        kind,
                        percent,
                        generation,
                    },
                    &mut marks,
                )
            {
                effects.push(UsageEffect::ThresholdReached {
                    kind,
                    percent,
                    generation,
                });
            }
        }

        let month_before = month.used(kind);
        if counts_this_month {
            let used = month.used_mut(kind);
            *used = used.saturating_add(amount);
        }
        let month_after = month.used(kind);
        let limit_reached = rules.limits.reached(kind, month_after);
        if counts_this_month
            && limit_reached
            && !rules.limits.reached(kind, month_before)
            && once(
                SentMark::MonthlyLimit {
                    kind,
                    period: month.period,
                },
                &mut marks,
            )
        {
            effects.push(UsageEffect::MonthlyLimitReached {
                kind,
                period: month.period,
            });
        }

        if before > 0 && after <= 0 {
            effects.push(UsageEffect::Exhausted { kind, generation });
            if rules.auto_top_up && once(SentMark::AutoTopUp { kind, generation }, &mut marks) {
                effects.push(if limit_reached {
                    UsageEffect::AutoTopUpSkippedMonthlyLimit {
                        kind,
                        generation,
                        period: month.period,
                    }
                } else {
                    UsageEffect::AutoTopUp {
                        kind,
                        generation,
                        key: GatewayKey::auto_top_up(next.sim, generation),
                    }
                });
            }
        }
    }

    UsageOutcome {
        state: next,
        monthly: month,
        effects,
        marks,
        seen: Some(record.record_id.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use time::macros::{datetime, offset};

    fn sim() -> SimId {
        SimId::new(datetime!(2025-01-01 0:00 UTC), [7; 10])
    }

    fn iccid() -> Iccid {
        Iccid::from_payload("898822800000000000").unwrap()
    }

    fn period(month: u8) -> MonthPeriod {
        MonthPeriod::new(2025, month).unwrap()
    }

    fn rec(id: &str, data: u64, sms: u64) -> UsageRecord {
        UsageRecord::new(id, iccid(), datetime!(2025-03-10 12:00 UTC), data, sms).unwrap()
    }

    fn rules(auto: bool, limits: MonthlyLimits) -> UsageRules<'static> {
        UsageRules {
            period: period(3),
            limits,
            auto_top_up: auto,
            thresholds: &DEFAULT_THRESHOLDS,
        }
    }

    fn data_state(volume: u64) -> QuotaState {
        start_generation(&QuotaState::new(sim()), VolumeKind::Data, volume).unwrap()
    }

    /// A tiny store: applies records one after another, keeping seen ids and marks as the
    /// caller's transaction would.
    struct Sim {
        state: QuotaState,
        monthly: MonthlyUsage,
        seen: BTreeSet<UsageRecordId>,
        marks: SentMarks,
    }

    impl Sim {
        fn new(state: QuotaState) -> Self {
            Sim {
                state,
                monthly: MonthlyUsage::new(period(3)),
                seen: BTreeSet::new(),
                marks: SentMarks::new(),
            }
        }

        fn apply(&mut self, record: &UsageRecord, rules: &UsageRules<'_>) -> Vec<UsageEffect> {
            let out = apply_usage(
                &self.state,
                &self.monthly,
                record,
                &self.seen,
                &self.marks,
                rules,
            );
            self.state = out.state;
            self.monthly = out.monthly;
            self.seen.extend(out.seen);
            self.marks.extend(out.marks);
            out.effects
        }
    }

    fn count(effects: &[UsageEffect], pred: impl Fn(&UsageEffect) -> bool) -> usize {
        effects.iter().filter(|e| pred(e)).count()
    }

    #[test]
    fn top_2_record_id_is_validated() {
        assert_eq!(UsageRecordId::parse("  r-1 ").unwrap().as_str(), "r-1");
        assert_eq!(
            UsageRecordId::parse(" ").unwrap_err().reason(),
            ReasonCode::Required
        );
        assert!(UsageRecordId::parse(&"a".repeat(128)).is_ok());
        let long = UsageRecordId::parse(&"a".repeat(129)).unwrap_err();
        assert_eq!(
            (long.field(), long.reason()),
            (Some("record_id"), ReasonCode::TooLong)
        );
        for bad in ["a\u{0}b", "ab\tc", "récord"] {
            assert_eq!(
                UsageRecordId::parse(bad).unwrap_err().reason(),
                ReasonCode::InvalidFormat,
                "{bad:?}"
            );
        }
        let json = serde_json::to_string(&rec("x 1", 5, 1)).unwrap();
        let back: UsageRecord = serde_json::from_str(&json).unwrap();
        assert_eq!(back, rec("x 1", 5, 1));
        assert!(serde_json::from_str::<UsageRecordId>("\"\"").is_err());
    }

    #[test]
    fn top_2_a_record_seen_before_is_ignored() {
        let mut s = Sim::new(data_state(1_000));
        let r = rules(true, MonthlyLimits::UNLIMITED);
        let first = s.apply(&rec("r1", 1_000, 0), &r);
        assert_eq!(
            count(&first, |e| matches!(e, UsageEffect::AutoTopUp { .. })),
            1
        );
        let (state, monthly, marks) = (s.state.clone(), s.monthly, s.marks.clone());
        let second = s.apply(&rec("r1", 1_000, 0), &r);
        assert_eq!(
            second,
            vec![UsageEffect::Ignored {
                record_id: UsageRecordId::parse("r1").unwrap()
            }]
        );
        assert_eq!(s.state.quota(VolumeKind::Data).used, 1_000);
        assert_eq!((s.state, s.monthly, s.marks), (state, monthly, marks));
    }

    #[test]
    fn top_2_new_generation_adds_only_positive_remaining() {
        let mut s = Sim::new(data_state(1_000));
        let r = rules(false, MonthlyLimits::UNLIMITED);
        s.apply(&rec("a", 300, 0), &r);
        let next = start_generation(&s.state, VolumeKind::Data, 500).unwrap();
        let q = next.quota(VolumeKind::Data);
        assert_eq!((q.generation, q.volume, q.used), (2, 1_200, 0));

        let mut s = Sim::new(next);
        s.apply(&rec("b", 1_500, 0), &r);
        assert_eq!(s.state.quota(VolumeKind::Data).remaining(), -300);
        let after = start_generation(&s.state, VolumeKind::Data, 500).unwrap();
        assert_eq!(after.quota(VolumeKind::Data).volume, 500);
        // The SMS quota is untouched by a data top-up.
        assert_eq!(after.quota(VolumeKind::Sms), &Quota::default());
    }

    #[test]
    fn top_2_generations_are_numbered_per_sim_so_keys_never_collide() {
        let state = data_state(10);
        let state = start_generation(&state, VolumeKind::Sms, 5).unwrap();
        assert_eq!(state.quota(VolumeKind::Data).generation, 1);
        assert_eq!(state.quota(VolumeKind::Sms).generation, 2);
        let mut s = Sim::new(state);
        let effects = s.apply(&rec("r", 10, 5), &rules(true, MonthlyLimits::UNLIMITED));
        let keys: Vec<String> = effects
            .iter()
            .filter_map(|e| match e {
                UsageEffect::AutoTopUp { key, .. } => Some(key.to_string()),
                _ => None,
            })
            .collect();
        assert_eq!(
            keys,
            vec![format!("auto:{}:1", sim()), format!("auto:{}:2", sim())]
        );
        let restored = QuotaState::restore(
            sim(),
            0,
            Quota::default(),
            Quota {
                generation: 9,
                volume: 1,
                used: 0,
            },
        );
        assert_eq!(restored.last_generation(), 9);
        assert_eq!(
            start_generation(&restored, VolumeKind::Data, 1)
                .unwrap()
                .quota(VolumeKind::Data)
                .generation,
            10
        );
    }

    #[test]
    fn top_2_exhaustion_is_the_crossing_and_happens_once_per_generation() {
        let mut s = Sim::new(data_state(1_000));
        let r = rules(true, MonthlyLimits::UNLIMITED);
        assert!(s.apply(&rec("a", 999, 0), &r).iter().all(|e| !matches!(
            e,
            UsageEffect::Exhausted { .. } | UsageEffect::AutoTopUp { .. }
        )));
        let effects = s.apply(&rec("b", 1, 0), &r);
        assert!(effects.contains(&UsageEffect::Exhausted {
            kind: VolumeKind::Data,
            generation: 1
        }));
        assert!(effects.contains(&UsageEffect::AutoTopUp {
            kind: VolumeKind::Data,
            generation: 1,
            key: GatewayKey::auto_top_up(sim(), 1),
        }));
        // Already at or below zero: further use is no new exhaustion.
        assert!(s.apply(&rec("c", 50, 0), &r).is_empty());
        assert_eq!(s.state.quota(VolumeKind::Data).remaining(), -50);
    }

    #[test]
    fn top_2_no_auto_top_up_when_it_is_off() {
        let mut s = Sim::new(data_state(100));
        let effects = s.apply(&rec("a", 100, 0), &rules(false, MonthlyLimits::UNLIMITED));
        assert!(effects.contains(&UsageEffect::Exhausted {
            kind: VolumeKind::Data,
            generation: 1
        }));
        assert_eq!(
            count(&effects, |e| matches!(e, UsageEffect::AutoTopUp { .. })),
            0
        );
        assert!(!s.marks.contains(&SentMark::AutoTopUp {
            kind: VolumeKind::Data,
            generation: 1
        }));
    }

    #[test]
    fn top_2_racing_records_charge_once_thanks_to_the_mark() {
        // Two different records crossing from the same stored state, the second retried with
        // the marks the first committed: one charge.
        let state = data_state(100);
        let monthly = MonthlyUsage::new(period(3));
        let r = rules(true, MonthlyLimits::UNLIMITED);
        let none: Vec<UsageRecordId> = Vec::new();
        let first = apply_usage(
            &state,
            &monthly,
            &rec("a", 100, 0),
            &none,
            &SentMarks::new(),
            &r,
        );
        let marks: SentMarks = first.marks.iter().copied().collect();
        let second = apply_usage(&state, &monthly, &rec("b", 100, 0), &none, &marks, &r);
        assert_eq!(
            count(&first.effects, |e| matches!(
                e,
                UsageEffect::AutoTopUp { .. }
            )),
            1
        );
        assert_eq!(
            count(&second.effects, |e| matches!(
                e,
                UsageEffect::AutoTopUp { .. }
            )),
            0
        );
    }

    #[test]
    fn top_2_a_sim_without_volume_is_never_exhausted() {
        let mut s = Sim::new(QuotaState::new(sim()));
        let effects = s.apply(&rec("a", 10, 1), &rules(true, MonthlyLimits::UNLIMITED));
        assert!(effects.is_empty(), "{effects:?}");
        assert_eq!(s.state.quota(VolumeKind::Sms).remaining(), -1);
    }

    #[test]
    fn top_2_arithmetic_saturates_and_overflow_is_refused() {
        let mut s = Sim::new(data_state(u64::MAX));
        let r = rules(true, MonthlyLimits::UNLIMITED);
        s.apply(&rec("a", 1, 0), &r);
        s.apply(&rec("b", u64::MAX, 0), &r);
        assert_eq!(s.state.quota(VolumeKind::Data).used, u64::MAX);
        assert_eq!(s.monthly.data_bytes, u64::MAX);
        let full = QuotaState::restore(sim(), u32::MAX, Quota::default(), Quota::default());
        assert_eq!(
            start_generation(&full, VolumeKind::Data, 1).unwrap_err(),
            Error::conflict(ReasonCode::QuotaOverflow)
        );
        let big = data_state(u64::MAX);
        assert_eq!(
            start_generation(&big, VolumeKind::Data, 1)
                .unwrap_err()
                .reason(),
            ReasonCode::QuotaOverflow
        );
        let mut neg = Sim::new(data_state(0));
        neg.apply(&rec("c", u64::MAX, 0), &r);
        assert_eq!(neg.state.quota(VolumeKind::Data).remaining(), i64::MIN);
    }

    #[test]
    fn top_3_default_thresholds_notify_once_each() {
        let mut s = Sim::new(data_state(1_000));
        let r = rules(false, MonthlyLimits::UNLIMITED);
        assert!(s.apply(&rec("a", 799, 0), &r).is_empty());
        assert_eq!(
            s.apply(&rec("b", 1, 0), &r),
            vec![UsageEffect::ThresholdReached {
                kind: VolumeKind::Data,
                percent: Percent::new(20).unwrap(),
                generation: 1
            }]
        );
        assert!(s.apply(&rec("c", 100, 0), &r).is_empty());
        assert_eq!(
            s.apply(&rec("d", 150, 0), &r),
            vec![
                UsageEffect::ThresholdReached {
                    kind: VolumeKind::Data,
                    percent: Percent::new(0).unwrap(),
                    generation: 1
                },
                UsageEffect::Exhausted {
                    kind: VolumeKind::Data,
                    generation: 1
                }
            ]
        );
        assert!(s.apply(&rec("e", 1, 0), &r).is_empty());
    }

    #[test]
    fn top_3_one_record_crossing_both_thresholds_sends_both_highest_first() {
        let mut s = Sim::new(data_state(1_000));
        let effects = s.apply(&rec("a", 2_000, 0), &rules(false, MonthlyLimits::UNLIMITED));
        let percents: Vec<u8> = effects
            .iter()
            .filter_map(|e| match e {
                UsageEffect::ThresholdReached { percent, .. } => Some(percent.value()),
                _ => None,
            })
            .collect();
        assert_eq!(percents, vec![20, 0]);
    }

    #[test]
    fn top_3_threshold_level_is_compared_exactly() {
        // 20 % of 1 001 is 200.2: remaining 201 is above it, 200 is at or below.
        let mut s = Sim::new(data_state(1_001));
        let r = rules(false, MonthlyLimits::UNLIMITED);
        assert!(s.apply(&rec("a", 800, 0), &r).is_empty());
        assert_eq!(s.apply(&rec("b", 1, 0), &r).len(), 1);
    }

    #[test]
    fn top_3_marked_threshold_is_not_sent_again_and_new_generation_sends_again() {
        let mut s = Sim::new(data_state(100));
        let r = rules(false, MonthlyLimits::UNLIMITED);
        s.marks.insert(SentMark::Threshold {
            kind: VolumeKind::Data,
            percent: Percent::new(20).unwrap(),
            generation: 1,
        });
        assert!(s.apply(&rec("a", 85, 0), &r).is_empty());
        s.state = start_generation(&s.state, VolumeKind::Data, 85).unwrap();
        assert_eq!(s.state.quota(VolumeKind::Data).volume, 100);
        let effects = s.apply(&rec("b", 85, 0), &r);
        assert_eq!(
            effects,
            vec![UsageEffect::ThresholdReached {
                kind: VolumeKind::Data,
                percent: Percent::new(20).unwrap(),
                generation: 2
            }]
        );
    }

    #[test]
    fn top_3_configured_thresholds_are_deduplicated_and_validated() {
        let t = [Percent::new(50).unwrap(), Percent::new(50).unwrap()];
        let r = UsageRules {
            thresholds: &t,
            ..rules(false, MonthlyLimits::UNLIMITED)
        };
        let mut s = Sim::new(data_state(10));
        assert_eq!(s.apply(&rec("a", 5, 0), &r).len(), 1);
        assert_eq!(
            Percent::new(101).unwrap_err().reason(),
            ReasonCode::OutOfRange
        );
        assert!(serde_json::from_str::<Percent>("101").is_err());
    }

    #[test]
    fn top_3_sms_thresholds_are_independent_of_data() {
        let state = start_generation(&QuotaState::new(sim()), VolumeKind::Sms, 10).unwrap();
        let mut s = Sim::new(state);
        let effects = s.apply(&rec("a", 0, 8), &rules(false, MonthlyLimits::UNLIMITED));
        assert_eq!(
            effects,
            vec![UsageEffect::ThresholdReached {
                kind: VolumeKind::Sms,
                percent: Percent::new(20).unwrap(),
                generation: 1
            }]
        );
    }

    #[test]
    fn acc_5_monthly_limit_reached_is_notified_once_per_sim_kind_and_month() {
        let limits = MonthlyLimits {
            data_mb: Limit::Capped(1),
            sms: Limit::Unlimited,
        };
        let mut s = Sim::new(data_state(10_000_000));
        let r = rules(false, limits);
        assert!(s.apply(&rec("a", 999_999, 5_000), &r).is_empty());
        assert_eq!(
            s.apply(&rec("b", 1, 0), &r),
            vec![UsageEffect::MonthlyLimitReached {
                kind: VolumeKind::Data,
                period: period(3)
            }]
        );
        assert!(s.apply(&rec("c", 1, 0), &r).is_empty());
        // A new month starts from zero and may notify again.
        let april = UsageRules {
            period: period(4),
            ..r
        };
        let effects = s.apply(&rec("d", 1_000_000, 0), &april);
        assert_eq!(s.monthly.period, period(4));
        assert_eq!(s.monthly.data_bytes, 1_000_000);
        assert_eq!(
            effects,
            vec![UsageEffect::MonthlyLimitReached {
                kind: VolumeKind::Data,
                period: period(4)
            }]
        );
    }

    #[test]
    fn acc_5_exhaustion_at_the_monthly_limit_tells_instead_of_charging() {
        let limits = MonthlyLimits {
            data_mb: Limit::Capped(1),
            sms: Limit::Unlimited,
        };
        let mut s = Sim::new(data_state(1_000_000));
        let effects = s.apply(&rec("a", 1_000_000, 0), &rules(true, limits));
        assert_eq!(
            effects,
            vec![
                UsageEffect::ThresholdReached {
                    kind: VolumeKind::Data,
                    percent: Percent::new(20).unwrap(),
                    generation: 1
                },
                UsageEffect::ThresholdReached {
                    kind: VolumeKind::Data,
                    percent: Percent::new(0).unwrap(),
                    generation: 1
                },
                UsageEffect::MonthlyLimitReached {
                    kind: VolumeKind::Data,
                    period: period(3)
                },
                UsageEffect::Exhausted {
                    kind: VolumeKind::Data,
                    generation: 1
                },
                UsageEffect::AutoTopUpSkippedMonthlyLimit {
                    kind: VolumeKind::Data,
                    generation: 1,
                    period: period(3)
                },
            ]
        );
        // Under the limit the same exhaustion charges.
        let mut s = Sim::new(data_state(1_000_000));
        let effects = s.apply(
            &rec("a", 1_000_000, 0),
            &rules(
                true,
                MonthlyLimits {
                    data_mb: Limit::Capped(2),
                    sms: Limit::Capped(0),
                },
            ),
        );
        assert_eq!(
            count(&effects, |e| matches!(e, UsageEffect::AutoTopUp { .. })),
            1
        );
    }

    #[test]
    fn acc_5_late_record_of_an_earlier_month_does_not_count_toward_this_month() {
        let limits = MonthlyLimits {
            data_mb: Limit::Capped(1),
            sms: Limit::Capped(10),
        };
        let mut s = Sim::new(data_state(10_000_000));
        let feb = UsageRules {
            period: period(2),
            ..rules(false, limits)
        };
        assert!(s.apply(&rec("late", 5_000_000, 20), &feb).is_empty());
        assert_eq!(s.monthly, MonthlyUsage::new(period(3)));
        assert_eq!(s.state.quota(VolumeKind::Data).used, 5_000_000);
    }

    #[test]
    fn acc_5_limits_convert_mb_and_none_is_unlimited() {
        let l = MonthlyLimits {
            data_mb: Limit::Capped(5_000),
            sms: Limit::Capped(100),
        };
        assert_eq!(l.limit(VolumeKind::Data), Limit::Capped(5_000_000_000));
        assert!(!l.reached(VolumeKind::Data, 4_999_999_999));
        assert!(l.reached(VolumeKind::Data, 5_000_000_000));
        assert!(l.reached(VolumeKind::Sms, 100));
        assert!(!MonthlyLimits::UNLIMITED.reached(VolumeKind::Sms, u64::MAX));
        let huge = MonthlyLimits {
            data_mb: Limit::Capped(u64::MAX),
            sms: Limit::Unlimited,
        };
        assert_eq!(huge.limit(VolumeKind::Data), Limit::Capped(u64::MAX));
    }

    #[test]
    fn acc_5_limits_from_the_customers_choice_count_data_in_mb() {
        use crate::customer::{MonthlyVolumeLimits, VolumeLimitSteps};
        let steps = VolumeLimitSteps::default();
        let chosen =
            MonthlyVolumeLimits::new(Limit::Capped(1_000), Limit::Capped(500), &steps).unwrap();
        let limits = MonthlyLimits::from(&chosen);
        assert_eq!(limits.limit(VolumeKind::Data), Limit::Capped(1_000_000_000));
        assert_eq!(limits.limit(VolumeKind::Sms), Limit::Capped(500));
        assert!(!limits.reached(VolumeKind::Data, 999_999_999));
        assert!(limits.reached(VolumeKind::Data, 1_000_000_000));
        let initial = MonthlyLimits::from(MonthlyVolumeLimits::initial(&steps));
        assert_eq!(initial, MonthlyLimits::UNLIMITED);
    }

    #[test]
    fn acc_5_month_follows_the_configured_offset() {
        let at = datetime!(2025-01-31 23:30 UTC);
        assert_eq!(
            MonthPeriod::containing(at, offset!(UTC)).unwrap(),
            period(1)
        );
        assert_eq!(MonthPeriod::containing(at, offset!(+1)).unwrap(), period(2));
        assert_eq!(MonthPeriod::parse("2025-02").unwrap(), period(2));
        assert_eq!(period(2).to_string(), "2025-02");
        for bad in ["2025-13", "2025-2", "25-02", "2025/02", "+025-02"] {
            assert!(MonthPeriod::parse(bad).is_err(), "{bad}");
        }
        assert!(period(12) < MonthPeriod::new(2026, 1).unwrap());
        let json = serde_json::to_string(&period(3)).unwrap();
        assert_eq!(json, "\"2025-03\"");
    }

    #[test]
    fn top_3_effects_and_marks_have_a_stable_json_form() {
        let mark = SentMark::Threshold {
            kind: VolumeKind::Sms,
            percent: Percent::new(20).unwrap(),
            generation: 3,
        };
        assert_eq!(
            serde_json::to_string(&mark).unwrap(),
            r#"{"mark":"threshold","kind":"sms","percent":20,"generation":3}"#
        );
        let marks: SentMarks = [mark].into_iter().collect();
        let back: SentMarks =
            serde_json::from_str(&serde_json::to_string(&marks).unwrap()).unwrap();
        assert_eq!(back, marks);
        let effect = UsageEffect::AutoTopUp {
            kind: VolumeKind::Data,
            generation: 1,
            key: GatewayKey::auto_top_up(sim(), 1),
        };
        let back: UsageEffect =
            serde_json::from_str(&serde_json::to_string(&effect).unwrap()).unwrap();
        assert_eq!(back, effect);
    }

    // ---- properties -------------------------------------------------------------------------

    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    struct Step {
        data: u64,
        sms: u64,
        next_month: bool,
    }

    #[derive(Debug, Clone)]
    struct Scenario {
        data_volume: u64,
        sms_volume: u64,
        auto: bool,
        limits: MonthlyLimits,
        auto_data: u64,
        auto_sms: u64,
        steps: Vec<Step>,
        /// (original, slot): a copy of record `original` arrives after record `slot ≥ original`.
        dups: Vec<(prop::sample::Index, prop::sample::Index)>,
    }

    fn scenario() -> impl Strategy<Value = Scenario> {
        (
            (0u64..2_000, 0u64..20, any::<bool>()),
            (prop::option::of(1u64..4), prop::option::of(0u64..40)),
            (0u64..1_500, 0u64..15),
            prop::collection::vec(
                (0u64..600, 0u64..6, prop::bool::weighted(0.15)).prop_map(|(data, sms, m)| Step {
                    data: data * 1_000,
                    sms,
                    next_month: m,
                }),
                1..40,
            ),
            prop::collection::vec(any::<(prop::sample::Index, prop::sample::Index)>(), 0..20),
        )
            .prop_map(
                |((dv, sv, auto), (dl, sl), (ad, asms), steps, dups)| Scenario {
                    data_volume: dv * 1_000,
                    sms_volume: sv,
                    auto,
                    limits: MonthlyLimits {
                        data_mb: dl.map_or(Limit::Unlimited, Limit::Capped),
                        sms: sl.map_or(Limit::Unlimited, Limit::Capped),
                    },
                    auto_data: ad * 1_000,
                    auto_sms: asms,
                    steps,
                    dups,
                },
            )
    }

    /// The unique records with their months, and the delivery order with duplicates.
    fn deliveries(sc: &Scenario) -> (Vec<(UsageRecord, MonthPeriod)>, Vec<usize>) {
        let mut month = 1u8;
        let mut unique = Vec::new();
        for (i, step) in sc.steps.iter().enumerate() {
            if step.next_month && month < 12 {
                month += 1;
            }
            unique.push((rec(&format!("r{i}"), step.data, step.sms), period(month)));
        }
        let n = unique.len();
        let mut after: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (orig, slot) in &sc.dups {
            let o = orig.index(n);
            let s = o + slot.index(n - o);
            after.entry(s).or_default().push(o);
        }
        let mut order = Vec::new();
        for i in 0..n {
            order.push(i);
            order.extend(after.get(&i).into_iter().flatten().copied());
        }
        (unique, order)
    }

    fn initial(sc: &Scenario) -> QuotaState {
        let s = start_generation(&QuotaState::new(sim()), VolumeKind::Data, sc.data_volume);
        start_generation(&s.unwrap(), VolumeKind::Sms, sc.sms_volume).unwrap()
    }

    /// Delivers `order`; each AutoTopUp effect is completed at once with a new generation.
    fn run(
        sc: &Scenario,
        s: &mut Sim,
        unique: &[(UsageRecord, MonthPeriod)],
        order: &[usize],
    ) -> Vec<UsageEffect> {
        let mut all = Vec::new();
        for &i in order {
            let (record, p) = &unique[i];
            let r = UsageRules {
                period: *p,
                limits: sc.limits,
                auto_top_up: sc.auto,
                thresholds: &DEFAULT_THRESHOLDS,
            };
            let effects = s.apply(record, &r);
            for e in &effects {
                if let UsageEffect::AutoTopUp { kind, .. } = e {
                    let v = match kind {
                        VolumeKind::Data => sc.auto_data,
                        VolumeKind::Sms => sc.auto_sms,
                    };
                    s.state = start_generation(&s.state, *kind, v).unwrap();
                }
            }
            all.extend(effects);
        }
        all
    }

    fn non_ignored(effects: &[UsageEffect]) -> Vec<UsageEffect> {
        effects
            .iter()
            .filter(|e| !matches!(e, UsageEffect::Ignored { .. }))
            .cloned()
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn top_2_auto_top_up_exactly_once_per_exhaustion(sc in scenario()) {
            let (unique, order) = deliveries(&sc);
            let mut s = Sim::new(initial(&sc));
            s.monthly = MonthlyUsage::new(period(1));
            let effects = run(&sc, &mut s, &unique, &order);

            // An independent model over the unique records in first-delivery order.
            let mut expected: BTreeMap<(VolumeKind, u32), bool> = BTreeMap::new();
            let mut gens = [(1u32, sc.data_volume, 0u64), (2u32, sc.sms_volume, 0u64)];
            let mut next_gen = 2u32;
            let mut month_use: BTreeMap<(VolumeKind, MonthPeriod), u64> = BTreeMap::new();
            for (record, p) in &unique {
                for (k, kind) in VolumeKind::ALL.into_iter().enumerate() {
                    let (g, volume, used) = gens[k];
                    let amount = record.amount(kind);
                    *month_use.entry((kind, *p)).or_default() += amount;
                    let before = volume as i128 - used as i128;
                    let after = before - amount as i128;
                    gens[k].2 = used + amount;
                    if before > 0 && after <= 0 {
                        let limit_hit = match sc.limits.limit(kind) {
                            Limit::Capped(l) => month_use[&(kind, *p)] >= l,
                            Limit::Unlimited => false,
                        };
                        let charge = sc.auto && !limit_hit;
                        expected.insert((kind, g), charge);
                        if charge {
                            next_gen += 1;
                            let top = if k == 0 { sc.auto_data } else { sc.auto_sms };
                            gens[k] = (next_gen, top + u64::try_from(after.max(0)).unwrap(), 0);
                        }
                    }
                }
            }
            let mut charged: BTreeMap<(VolumeKind, u32), usize> = BTreeMap::new();
            let mut exhausted: BTreeMap<(VolumeKind, u32), usize> = BTreeMap::new();
            let mut notified: BTreeMap<(VolumeKind, u8, u32), usize> = BTreeMap::new();
            for e in &effects {
                match e {
                    UsageEffect::AutoTopUp { kind, generation, key } => {
                        prop_assert_eq!(key, &GatewayKey::auto_top_up(sim(), *generation));
                        *charged.entry((*kind, *generation)).or_default() += 1;
                    }
                    UsageEffect::Exhausted { kind, generation } => {
                        *exhausted.entry((*kind, *generation)).or_default() += 1;
                    }
                    UsageEffect::ThresholdReached { kind, percent, generation } => {
                        *notified.entry((*kind, percent.value(), *generation)).or_default() += 1;
                    }
                    _ => {}
                }
            }
            prop_assert!(charged.values().all(|&n| n == 1));
            prop_assert!(exhausted.values().all(|&n| n == 1));
            prop_assert!(notified.values().all(|&n| n == 1));
            let exp_charged: Vec<_> =
                expected.iter().filter(|(_, c)| **c).map(|(k, _)| *k).collect();
            let got_charged: Vec<_> = charged.keys().copied().collect();
            prop_assert_eq!(got_charged, exp_charged);
            let exp_exhausted: Vec<_> = expected.keys().copied().collect();
            let got_exhausted: Vec<_> = exhausted.keys().copied().collect();
            prop_assert_eq!(got_exhausted, exp_exhausted);
            let ignored = effects.iter()
                .filter(|e| matches!(e, UsageEffect::Ignored { .. })).count();
            prop_assert_eq!(ignored, order.len() - unique.len());
        }

        #[test]
        fn top_2_replaying_everything_changes_nothing(sc in scenario()) {
            let (unique, order) = deliveries(&sc);
            let mut s = Sim::new(initial(&sc));
            s.monthly = MonthlyUsage::new(period(1));
            run(&sc, &mut s, &unique, &order);
            let before = (s.state.clone(), s.monthly, s.marks.clone(), s.seen.clone());
            let replay = run(&sc, &mut s, &unique, &order);
            let all_ignored = replay.iter().all(|e| matches!(e, UsageEffect::Ignored { .. }));
            prop_assert!(all_ignored);
            prop_assert_eq!(replay.len(), order.len());
            prop_assert_eq!((s.state, s.monthly, s.marks, s.seen), before);
        }

        #[test]
        fn top_2_where_duplicates_arrive_does_not_matter(sc in scenario()) {
            let (unique, order) = deliveries(&sc);
            let plain: Vec<usize> = (0..unique.len()).collect();
            let mut a = Sim::new(initial(&sc));
            a.monthly = MonthlyUsage::new(period(1));
            let with_dups = run(&sc, &mut a, &unique, &order);
            let mut b = Sim::new(initial(&sc));
            b.monthly = MonthlyUsage::new(period(1));
            let without = run(&sc, &mut b, &unique, &plain);
            prop_assert_eq!(non_ignored(&with_dups), without);
            prop_assert_eq!((a.state, a.monthly, a.marks), (b.state, b.monthly, b.marks));
        }

        #[test]
        fn acc_5_monthly_limit_notified_once_per_kind_and_period_under_any_delivery(
            sc in scenario()
        ) {
            // Monthly notifications are once per kind and period whatever arrives.
            let (unique, order) = deliveries(&sc);
            let mut s = Sim::new(initial(&sc));
            s.monthly = MonthlyUsage::new(period(1));
            let effects = run(&sc, &mut s, &unique, &order);
            let mut monthly: BTreeMap<(VolumeKind, MonthPeriod), usize> = BTreeMap::new();
            for e in &effects {
                if let UsageEffect::MonthlyLimitReached { kind, period } = e {
                    *monthly.entry((*kind, *period)).or_default() += 1;
                }
            }
            prop_assert!(monthly.values().all(|&n| n == 1));
            for ((kind, p), _) in monthly {
                let mark = SentMark::MonthlyLimit { kind, period: p };
                prop_assert!(s.marks.contains(&mark));
            }
        }
    }
}
