//! SIMs (SIM-2): the label a customer gives a SIM, its enabled/disabled status, and the SIM
//! record that ties its numbers (SIM-1) to an order, a plan or tariff and the Auto-Top-Up flag.
//!
//! Who may switch a SIM's status (Owner, Admin, User, ApiUser) is decided by [`crate::policy`];
//! the quota of a SIM lives in [`crate::quota`], keyed by the SIM's id. This module only holds
//! the values and their invariants.

use std::fmt;

use crate::error::{Error, Result, text_field};
use crate::ids::{OrderId, PlanId, SimId};
use crate::numbers::{Iccid, Imsi, Msisdn};

/// The longest label, in Unicode scalar values (SIM-2).
pub const SIM_LABEL_MAX_CHARS: usize = 64;

/// A customer's name for a SIM (SIM-2): trimmed, at most 64 characters, possibly empty (a SIM
/// fresh from an order has no label), without control characters.
///
/// Control characters (tab, line breaks, NUL, …) are refused because a label is shown in
/// tables, notifications and logs as one line, and PostgreSQL cannot store NUL in text. The CSV
/// export (ORD-3) still round-trips any text, not only valid labels.
///
/// ```
/// use selfcare_core::sims::SimLabel;
/// let label = SimLabel::parse("  Truck 17  ").unwrap();
/// assert_eq!(label.as_str(), "Truck 17");
/// assert!(SimLabel::parse(&"x".repeat(65)).is_err());
/// assert!(SimLabel::parse("line\nbreak").is_err());
/// ```
#[derive(
    Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct SimLabel(String);

impl SimLabel {
    /// Parses a label: surrounding whitespace is removed, then at most
    /// [`SIM_LABEL_MAX_CHARS`] characters without control characters are accepted.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `label` with `TooLong` or `ControlCharacters`.
    pub fn parse(raw: &str) -> Result<Self> {
        text_field("label", raw, SIM_LABEL_MAX_CHARS, false, false).map(SimLabel)
    }

    /// The empty label.
    pub fn empty() -> Self {
        SimLabel(String::new())
    }

    /// The label text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the SIM has no label.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for SimLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SimLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SimLabel({:?})", self.0)
    }
}

impl TryFrom<String> for SimLabel {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}

impl From<SimLabel> for String {
    fn from(label: SimLabel) -> String {
        label.0
    }
}

impl std::str::FromStr for SimLabel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// Whether a SIM may use the network (SIM-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SimStatus {
    /// The SIM may attach and use its volume.
    Enabled,
    /// The SIM is blocked by the customer; it keeps its numbers, quota and plan.
    Disabled,
}

impl SimStatus {
    /// Whether this is [`SimStatus::Enabled`].
    pub fn is_enabled(self) -> bool {
        self == SimStatus::Enabled
    }

    /// The status for an `enabled` flag (as `set_sim_enabled` takes it).
    pub fn from_enabled(enabled: bool) -> Self {
        if enabled {
            SimStatus::Enabled
        } else {
            SimStatus::Disabled
        }
    }
}

/// What a SIM is billed by (SIM-2): an IoT tariff of the catalogue, or a consumer plan.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", deny_unknown_fields)]
pub enum SimBilling {
    /// An IoT tariff, by its catalogue product code.
    Tariff {
        /// The catalogue's product code of the tariff.
        code: String,
    },
    /// A consumer plan (see [`crate::plans::Plan`]).
    Plan {
        /// The plan's id.
        plan: PlanId,
    },
}

/// A SIM of an organisation (SIM-2).
///
/// The fields are public because each is a validated value and there is no rule across them;
/// changes that carry a rule go through the methods.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sim {
    /// The SIM's id.
    pub id: SimId,
    /// The card number (SIM-1); unique across organisations.
    pub iccid: Iccid,
    /// The subscriber identity, once the SIM is provisioned.
    pub imsi: Option<Imsi>,
    /// The phone number, once the SIM is provisioned.
    pub msisdn: Option<Msisdn>,
    /// The customer's label.
    pub label: SimLabel,
    /// Enabled or disabled.
    pub status: SimStatus,
    /// The order the SIM was delivered with (ORD-3 exports per order).
    pub order: OrderId,
    /// The tariff or plan that bills the SIM.
    pub billing: SimBilling,
    /// Whether an exhausted quota is topped up automatically (PAY-3, TOP-2).
    pub auto_top_up: bool,
}

impl Sim {
    /// Sets the label from customer input; returns whether it changed.
    ///
    /// # Errors
    /// As [`SimLabel::parse`]; the SIM is left unchanged.
    pub fn set_label(&mut self, raw: &str) -> Result<bool> {
        let label = SimLabel::parse(raw)?;
        let changed = label != self.label;
        self.label = label;
        Ok(changed)
    }

    /// Switches the status; returns whether it changed (an unchanged status needs no audit
    /// entry and no network call). The permission check belongs to the caller
    /// ([`crate::policy`]).
    pub fn set_status(&mut self, status: SimStatus) -> bool {
        let changed = self.status != status;
        self.status = status;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ReasonCode;
    use time::macros::datetime;

    fn sim() -> Sim {
        let now = datetime!(2025-03-01 10:00 UTC);
        Sim {
            id: SimId::new(now, [1; 10]),
            iccid: Iccid::from_payload("898822800000000000").unwrap(),
            imsi: None,
            msisdn: None,
            label: SimLabel::empty(),
            status: SimStatus::Enabled,
            order: OrderId::new(now, [2; 10]),
            billing: SimBilling::Tariff {
                code: "iot-basic".into(),
            },
            auto_top_up: false,
        }
    }

    #[test]
    fn sim_2_label_is_at_most_64_characters_not_bytes() {
        let hebrew = "ש".repeat(64);
        assert_eq!(SimLabel::parse(&hebrew).unwrap().as_str(), hebrew);
        let err = SimLabel::parse(&"ש".repeat(65)).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::TooLong);
        assert_eq!(err.field(), Some("label"));
    }

    #[test]
    fn sim_2_label_refuses_control_characters_and_allows_empty() {
        for bad in ["a\nb", "a\tb", "a\u{0}b", "a\rb", "a\u{7f}b"] {
            assert_eq!(
                SimLabel::parse(bad).unwrap_err().reason(),
                ReasonCode::ControlCharacters,
                "{bad:?}"
            );
        }
        assert!(SimLabel::parse("   ").unwrap().is_empty());
        // Formula-like labels are fine as labels; the export neutralises them (ORD-3).
        assert_eq!(SimLabel::parse("=SUM(A1)").unwrap().as_str(), "=SUM(A1)");
    }

    #[test]
    fn sim_2_label_serde_validates() {
        let label: SimLabel = serde_json::from_str("\" Truck 17 \"").unwrap();
        assert_eq!(label.as_str(), "Truck 17");
        assert!(serde_json::from_str::<SimLabel>(&format!("\"{}\"", "x".repeat(65))).is_err());
    }

    #[test]
    fn sim_2_set_label_reports_change_and_keeps_old_on_error() {
        let mut s = sim();
        assert!(s.set_label("Truck 17").unwrap());
        assert!(!s.set_label(" Truck 17 ").unwrap());
        assert!(s.set_label("bad\u{0}").is_err());
        assert_eq!(s.label.as_str(), "Truck 17");
    }

    #[test]
    fn sim_2_status_switch_reports_change() {
        let mut s = sim();
        assert!(!s.set_status(SimStatus::from_enabled(true)));
        assert!(s.set_status(SimStatus::Disabled));
        assert!(!s.status.is_enabled());
        assert!(!s.set_status(SimStatus::Disabled));
        assert!(s.set_status(SimStatus::Enabled));
        assert!(s.status.is_enabled());
    }

    #[test]
    fn sim_2_sim_serialises_round_trip() {
        let mut s = sim();
        s.billing = SimBilling::Plan {
            plan: PlanId::new(datetime!(2025-03-01 10:00 UTC), [3; 10]),
        };
        s.label = SimLabel::parse("Truck").unwrap();
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Sim>(&json).unwrap(), s);
        assert!(json.contains("\"status\":\"enabled\""));
    }

    proptest::proptest! {
        #[test]
        fn sim_2_any_parsed_label_is_trimmed_short_and_printable(raw in "\\PC{0,80}|[\\t\\n a-z]{0,70}") {
            if let Ok(label) = SimLabel::parse(&raw) {
                proptest::prop_assert!(label.as_str().chars().count() <= SIM_LABEL_MAX_CHARS);
                proptest::prop_assert!(!label.as_str().chars().any(char::is_control));
                proptest::prop_assert_eq!(label.as_str(), label.as_str().trim());
                proptest::prop_assert_eq!(SimLabel::parse(label.as_str()).unwrap(), label);
            }
        }
    }
}
