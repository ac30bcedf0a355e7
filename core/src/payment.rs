//! Payment methods (PAY-1..3): stored cards as gateway tokens, card → plan assignment and
//! Auto-Top-Up, gathered in one [`PaymentSettings`] aggregate per organisation.
//!
//! No card number or CVV can ever be held: a [`CardToken`] refuses anything shaped like a card
//! number (PAN), and no type here has a field for a security code.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use time::Date;

use crate::error::{Error, ReasonCode, Result, text_field};
use crate::ids::{CardId, PlanId, SimId};
use crate::numbers::luhn_check_digit;

/// Longest gateway token accepted.
pub const TOKEN_MAX: usize = 255;
/// Most cards one organisation stores.
pub const MAX_CARDS: usize = 20;

/// A payment gateway's token for a card: 1 to 255 characters of `A-Z a-z 0-9 _ - . :`.
///
/// Anything that looks like a card number — 13 to 19 digits, possibly grouped with spaces or
/// dashes, passing the Luhn check, anywhere in the input — is refused with
/// `card_number_not_accepted`, and the error never repeats the input. `Debug` hides the token:
/// whoever holds it can charge the card.
///
/// ```
/// use selfcare_core::payment::CardToken;
/// assert!(CardToken::parse("tok_visa").is_ok());
/// assert!(CardToken::parse("4242 4242 4242 4242").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CardToken(String);

impl CardToken {
    /// Parses a token.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `token` with `CardNumberNotAccepted`, `Required`,
    /// `TooLong` or `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let field = "token";
        let token = raw.trim();
        // Bound the scan before looking for card numbers; the length error says nothing
        // about the content.
        if token.len() > 4 * TOKEN_MAX {
            return Err(Error::validation(
                field,
                ReasonCode::TooLong,
                format!("is longer than {TOKEN_MAX} characters"),
            ));
        }
        if contains_pan(token) {
            return Err(Error::validation(
                field,
                ReasonCode::CardNumberNotAccepted,
                "looks like a card number; card numbers are never accepted, send the payment \
                 gateway's token instead",
            ));
        }
        if token.is_empty() {
            return Err(Error::validation(
                field,
                ReasonCode::Required,
                "is required",
            ));
        }
        if token.len() > TOKEN_MAX {
            return Err(Error::validation(
                field,
                ReasonCode::TooLong,
                format!("is longer than {TOKEN_MAX} characters"),
            ));
        }
        if !token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
        {
            return Err(Error::validation(
                field,
                ReasonCode::InvalidFormat,
                "is not a payment gateway token",
            ));
        }
        Ok(CardToken(token.to_owned()))
    }

    /// The token, for the gateway.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CardToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardToken(<redacted>)")
    }
}
impl TryFrom<String> for CardToken {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<CardToken> for String {
    fn from(value: CardToken) -> String {
        value.0
    }
}

/// Whether `text` carries a card number: some run of digit groups (joined by single spaces or
/// dashes) has a Luhn-valid stretch of 13 to 19 digits that starts at the beginning of a group
/// or ends at the end of one. Requiring group alignment keeps ordinary long numbers inside
/// tokens from being refused too often, while a number with a CVV or expiry glued on
/// (`4111…1111-123`) is still caught.
fn contains_pan(text: &str) -> bool {
    digit_runs(text).iter().any(|groups| {
        (0..groups.len()).any(|i| {
            (i..groups.len()).any(|j| {
                let joined: String = groups.get(i..=j).unwrap_or_default().concat();
                pan_stretch(&joined)
            })
        })
    })
}

/// A Luhn-valid prefix or suffix of 13 to 19 digits.
fn pan_stretch(digits: &str) -> bool {
    let n = digits.len();
    (13..=19.min(n)).any(|len| {
        let prefix = digits.get(..len);
        let suffix = n.checked_sub(len).and_then(|start| digits.get(start..));
        prefix.is_some_and(luhn_valid) || suffix.is_some_and(luhn_valid)
    })
}

fn luhn_valid(digits: &str) -> bool {
    match digits.split_at_checked(digits.len().saturating_sub(1)) {
        Some((payload, check)) if !payload.is_empty() => {
            check.bytes().next().map(|b| b.wrapping_sub(b'0')) == Some(luhn_check_digit(payload))
        }
        _ => false,
    }
}

/// Splits `text` into runs of digit groups: digits separated by one space or dash stay in one
/// run; anything else ends it.
fn digit_runs(text: &str) -> Vec<Vec<String>> {
    let mut runs = Vec::new();
    let mut groups: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut pending_separator = false;
    let mut close = |groups: &mut Vec<String>, current: &mut String| {
        if !current.is_empty() {
            groups.push(std::mem::take(current));
        }
        if !groups.is_empty() {
            runs.push(std::mem::take(groups));
        }
    };
    for c in text.chars() {
        if c.is_ascii_digit() {
            pending_separator = false;
            current.push(c);
        } else if matches!(c, ' ' | '-') && !current.is_empty() && !pending_separator {
            groups.push(std::mem::take(&mut current));
            pending_separator = true;
        } else {
            pending_separator = false;
            close(&mut groups, &mut current);
        }
    }
    close(&mut groups, &mut current);
    runs
}

/// A card brand, as the gateway reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardBrand {
    /// Visa.
    Visa,
    /// Mastercard.
    Mastercard,
    /// American Express.
    Amex,
    /// Discover.
    Discover,
    /// Diners Club.
    DinersClub,
    /// JCB.
    Jcb,
    /// UnionPay.
    UnionPay,
    /// Maestro.
    Maestro,
    /// Any other brand.
    Other,
}

impl CardBrand {
    /// Every value.
    pub const ALL: [CardBrand; 9] = [
        CardBrand::Visa,
        CardBrand::Mastercard,
        CardBrand::Amex,
        CardBrand::Discover,
        CardBrand::DinersClub,
        CardBrand::Jcb,
        CardBrand::UnionPay,
        CardBrand::Maestro,
        CardBrand::Other,
    ];

    /// The stable snake_case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            CardBrand::Visa => "visa",
            CardBrand::Mastercard => "mastercard",
            CardBrand::Amex => "amex",
            CardBrand::Discover => "discover",
            CardBrand::DinersClub => "diners_club",
            CardBrand::Jcb => "jcb",
            CardBrand::UnionPay => "union_pay",
            CardBrand::Maestro => "maestro",
            CardBrand::Other => "other",
        }
    }
}

impl fmt::Display for CardBrand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl CardBrand {
    /// Reads a gateway's brand name leniently (`visa`, `MasterCard`, `american_express`…);
    /// unknown names are [`CardBrand::Other`].
    pub fn from_gateway(raw: &str) -> Self {
        let key: String = raw
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match key.as_str() {
            "visa" => CardBrand::Visa,
            "mastercard" | "mc" => CardBrand::Mastercard,
            "amex" | "americanexpress" => CardBrand::Amex,
            "discover" => CardBrand::Discover,
            "diners" | "dinersclub" => CardBrand::DinersClub,
            "jcb" => CardBrand::Jcb,
            "unionpay" | "cup" => CardBrand::UnionPay,
            "maestro" => CardBrand::Maestro,
            _ => CardBrand::Other,
        }
    }
}

/// The last four digits of a card, for display.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Last4(String);

impl Last4 {
    /// Parses exactly four ASCII digits.
    ///
    /// # Errors
    /// [`Error::Validation`] on `last4` with `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let s = raw.trim();
        if s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Last4(s.to_owned()))
        } else {
            Err(Error::validation(
                "last4",
                ReasonCode::InvalidFormat,
                "must be exactly four digits",
            ))
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Last4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Last4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Last4({})", self.0)
    }
}
impl TryFrom<String> for Last4 {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<Last4> for String {
    fn from(value: Last4) -> String {
        value.0
    }
}

/// A card's expiry month. A card is valid through the last day of that month.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "ExpiryData", into = "ExpiryData")]
pub struct CardExpiry {
    year: u16,
    month: u8,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpiryData {
    month: u8,
    year: u16,
}

impl CardExpiry {
    /// An expiry from month (1..=12) and four-digit year (2000..=2199).
    ///
    /// # Errors
    /// [`Error::Validation`] on `expiry.month` or `expiry.year` with `OutOfRange`.
    pub fn new(month: u8, year: u16) -> Result<Self> {
        if !(1..=12).contains(&month) {
            return Err(Error::validation(
                "expiry.month",
                ReasonCode::OutOfRange,
                "must be between 1 and 12",
            ));
        }
        if !(2000..=2199).contains(&year) {
            return Err(Error::validation(
                "expiry.year",
                ReasonCode::OutOfRange,
                "must be a four-digit year",
            ));
        }
        Ok(CardExpiry { year, month })
    }

    /// The month, 1..=12.
    pub fn month(self) -> u8 {
        self.month
    }
    /// The year.
    pub fn year(self) -> u16 {
        self.year
    }

    /// Whether the card has expired on `today`: true from the first day after its expiry
    /// month.
    pub fn is_expired(self, today: Date) -> bool {
        let now = (today.year(), u8::from(today.month()));
        now > (i32::from(self.year), self.month)
    }
}

impl TryFrom<ExpiryData> for CardExpiry {
    type Error = Error;
    fn try_from(d: ExpiryData) -> Result<Self> {
        CardExpiry::new(d.month, d.year)
    }
}
impl From<CardExpiry> for ExpiryData {
    fn from(e: CardExpiry) -> Self {
        ExpiryData {
            month: e.month,
            year: e.year,
        }
    }
}

/// What the `PaymentGateway` reports when it verifies a token (PAY-1).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifiedCard {
    /// The token verified.
    pub token: CardToken,
    /// Brand.
    pub brand: CardBrand,
    /// Last four digits.
    pub last4: Last4,
    /// Expiry.
    pub expiry: CardExpiry,
}

/// A stored card (PAY-1): the gateway token with brand, last four digits, expiry and holder
/// name. There is no field for a card number or a security code.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredCard {
    id: CardId,
    gateway_token: CardToken,
    brand: CardBrand,
    last4: Last4,
    expiry: CardExpiry,
    holder_name: String,
}

impl StoredCard {
    /// A card to store after the gateway verified it.
    ///
    /// # Errors
    /// [`Error::Validation`] on `holder_name` (empty, longer than 100 characters, control
    /// characters) or on `expiry` with `CardExpired` when it expired before `today`.
    pub fn new(id: CardId, verified: VerifiedCard, holder_name: &str, today: Date) -> Result<Self> {
        let holder_name = text_field("holder_name", holder_name, 100, true, false)?;
        if verified.expiry.is_expired(today) {
            return Err(Error::validation(
                "expiry",
                ReasonCode::CardExpired,
                "the card has expired",
            ));
        }
        Ok(StoredCard {
            id,
            gateway_token: verified.token,
            brand: verified.brand,
            last4: verified.last4,
            expiry: verified.expiry,
            holder_name,
        })
    }

    /// The id.
    pub fn id(&self) -> CardId {
        self.id
    }
    /// The gateway token.
    pub fn gateway_token(&self) -> &CardToken {
        &self.gateway_token
    }
    /// The brand.
    pub fn brand(&self) -> CardBrand {
        self.brand
    }
    /// The last four digits.
    pub fn last4(&self) -> &Last4 {
        &self.last4
    }
    /// The expiry.
    pub fn expiry(&self) -> CardExpiry {
        self.expiry
    }
    /// The holder's name.
    pub fn holder_name(&self) -> &str {
        &self.holder_name
    }

    /// Whether the card may be charged on `today`.
    pub fn is_valid(&self, today: Date) -> bool {
        !self.expiry.is_expired(today)
    }

    /// Checks the card may be charged (PAY-1: an expired card is never charged).
    ///
    /// # Errors
    /// [`Error::Conflict`] with `CardExpired`.
    pub fn ensure_chargeable(&self, today: Date) -> Result<()> {
        if self.is_valid(today) {
            Ok(())
        } else {
            Err(Error::conflict(ReasonCode::CardExpired))
        }
    }
}

/// Which SIMs an Auto-Top-Up change is for (PAY-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "type",
    content = "sim",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum AutoTopUpTarget {
    /// One SIM.
    Sim(SimId),
    /// Every SIM of the organisation, present and future.
    AllSims,
}

/// What deleting a card turned off, to tell the customer (PAY-1).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CardDeletionConsequence {
    /// These plans were charged to the card and now have no card.
    PlansUnassigned {
        /// The plans.
        plans: BTreeSet<PlanId>,
    },
    /// No valid card is left, so Auto-Top-Up was switched off.
    AutoTopUpDisabled {
        /// It had been on for all SIMs.
        all_sims: bool,
        /// The SIMs it had been switched on for one by one.
        sims: BTreeSet<SimId>,
    },
}

/// How a card → plans assignment changed (PAY-2).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentChange {
    /// Plans now charged to the card that were not before.
    pub assigned: BTreeSet<PlanId>,
    /// Of those, the ones taken from another card, with that card.
    pub moved_from: BTreeMap<PlanId, CardId>,
    /// Plans the card no longer pays for (now without a card).
    pub unassigned: BTreeSet<PlanId>,
}

/// An organisation's payment settings: its stored cards, which card each plan is charged to
/// (PAY-2), and Auto-Top-Up (PAY-3). Every change is a method here, so the rules tying them
/// together (no Auto-Top-Up without a valid card; deleting a card turns off what relied on
/// it) hold for every caller.
///
/// Auto-Top-Up is an organisation-wide switch plus per-SIM choices: a SIM's state is its own
/// choice if it has one, else the organisation-wide switch. Switching "all SIMs" clears the
/// per-SIM choices, so afterwards every SIM follows it. Automatic top-ups are charged to the
/// newest valid card ([`PaymentSettings::auto_top_up_card`]).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentSettings {
    cards: Vec<StoredCard>,
    plan_cards: BTreeMap<PlanId, CardId>,
    auto_all_sims: bool,
    auto_per_sim: BTreeMap<SimId, bool>,
}

impl PaymentSettings {
    /// No cards, no assignments, Auto-Top-Up off.
    pub fn new() -> Self {
        Self::default()
    }

    /// The stored cards, oldest first.
    pub fn cards(&self) -> &[StoredCard] {
        &self.cards
    }

    /// The card with `id`.
    ///
    /// # Errors
    /// [`Error::NotFound`].
    pub fn card(&self, id: CardId) -> Result<&StoredCard> {
        self.cards
            .iter()
            .find(|c| c.id == id)
            .ok_or(Error::NotFound)
    }

    /// Stores a verified card (PAY-1).
    ///
    /// # Errors
    /// [`Error::Conflict`] with `CardAlreadyStored` for the same token or id, or `TooLong`
    /// validation on `cards` beyond [`MAX_CARDS`].
    pub fn save_card(&mut self, card: StoredCard) -> Result<()> {
        if self
            .cards
            .iter()
            .any(|c| c.id == card.id || c.gateway_token == card.gateway_token)
        {
            return Err(Error::conflict(ReasonCode::CardAlreadyStored));
        }
        if self.cards.len() >= MAX_CARDS {
            return Err(Error::validation(
                "cards",
                ReasonCode::TooLong,
                format!("at most {MAX_CARDS} cards can be stored"),
            ));
        }
        self.cards.push(card);
        Ok(())
    }

    /// The card `plan` is charged to, if any (PAY-2).
    pub fn card_for_plan(&self, plan: PlanId) -> Option<CardId> {
        self.plan_cards.get(&plan).copied()
    }

    /// The plans charged to `card` (PAY-2).
    pub fn plans_of(&self, card: CardId) -> BTreeSet<PlanId> {
        self.plan_cards
            .iter()
            .filter(|(_, c)| **c == card)
            .map(|(p, _)| *p)
            .collect()
    }

    /// Makes `plans` exactly the plans charged to `card` (PAY-2): chosen plans move to it
    /// (from another card if they had one), plans it paid for that are not chosen any more
    /// lose their card. `known_plans` are the organisation's plans.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown card or a plan not in `known_plans`;
    /// [`Error::Conflict`] with `CardExpired` when plans are assigned to an expired card.
    pub fn assign_card_to_plans(
        &mut self,
        card: CardId,
        plans: &BTreeSet<PlanId>,
        known_plans: &BTreeSet<PlanId>,
        today: Date,
    ) -> Result<AssignmentChange> {
        let stored = self.card(card)?;
        if !plans.is_subset(known_plans) {
            return Err(Error::NotFound);
        }
        if !plans.is_empty() {
            stored.ensure_chargeable(today)?;
        }
        let mut change = AssignmentChange::default();
        for plan in self.plans_of(card) {
            if !plans.contains(&plan) {
                self.plan_cards.remove(&plan);
                change.unassigned.insert(plan);
            }
        }
        for plan in plans {
            match self.plan_cards.insert(*plan, card) {
                Some(previous) if previous == card => {}
                Some(previous) => {
                    change.assigned.insert(*plan);
                    change.moved_from.insert(*plan, previous);
                }
                None => {
                    change.assigned.insert(*plan);
                }
            }
        }
        Ok(change)
    }

    /// Whether a card that may be charged on `today` is stored.
    pub fn has_valid_card(&self, today: Date) -> bool {
        self.cards.iter().any(|c| c.is_valid(today))
    }

    /// The card automatic top-ups are charged to: the newest valid one (ids are UUID v7, so
    /// the greatest id is the newest card). `None` when no valid card is stored — then no
    /// automatic top-up is charged (PAY-1).
    pub fn auto_top_up_card(&self, today: Date) -> Option<&StoredCard> {
        self.cards
            .iter()
            .filter(|c| c.is_valid(today))
            .max_by_key(|c| c.id)
    }

    /// Switches Auto-Top-Up for one SIM or all (PAY-3). Switching on needs a valid stored
    /// card; switching off is always allowed.
    ///
    /// # Errors
    /// [`Error::Conflict`] with `NoValidCard` when switching on without a valid card.
    pub fn set_auto_top_up(
        &mut self,
        target: AutoTopUpTarget,
        enabled: bool,
        today: Date,
    ) -> Result<()> {
        if enabled && !self.has_valid_card(today) {
            return Err(Error::conflict(ReasonCode::NoValidCard));
        }
        match target {
            AutoTopUpTarget::AllSims => {
                self.auto_all_sims = enabled;
                self.auto_per_sim.clear();
            }
            AutoTopUpTarget::Sim(sim) => {
                self.auto_per_sim.insert(sim, enabled);
            }
        }
        Ok(())
    }

    /// Whether Auto-Top-Up is on for `sim` (PAY-3 read-back).
    pub fn auto_top_up_enabled(&self, sim: SimId) -> bool {
        self.auto_per_sim
            .get(&sim)
            .copied()
            .unwrap_or(self.auto_all_sims)
    }

    /// Whether Auto-Top-Up is on organisation-wide.
    pub fn auto_top_up_all_sims(&self) -> bool {
        self.auto_all_sims
    }

    /// Deletes a card (PAY-1) and turns off what relied on it: the plans charged to it lose
    /// their card, and if no valid card is left, Auto-Top-Up is switched off everywhere.
    /// Returns what to tell the customer (empty when nothing else changed).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown card; nothing is changed then.
    pub fn delete_card(
        &mut self,
        card: CardId,
        today: Date,
    ) -> Result<Vec<CardDeletionConsequence>> {
        self.card(card)?;
        self.cards.retain(|c| c.id != card);
        let mut consequences = Vec::new();
        let plans = self.plans_of(card);
        if !plans.is_empty() {
            self.plan_cards.retain(|_, c| *c != card);
            consequences.push(CardDeletionConsequence::PlansUnassigned { plans });
        }
        let sims: BTreeSet<SimId> = self
            .auto_per_sim
            .iter()
            .filter(|(_, on)| **on)
            .map(|(s, _)| *s)
            .collect();
        let all_sims = self.auto_all_sims;
        if !self.has_valid_card(today) && (all_sims || !sims.is_empty()) {
            self.auto_all_sims = false;
            self.auto_per_sim.clear();
            consequences.push(CardDeletionConsequence::AutoTopUpDisabled { all_sims, sims });
        }
        Ok(consequences)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pay_1_card_brand_names_are_the_serde_names() {
        for value in CardBrand::ALL {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", value.as_str()));
            assert_eq!(value.to_string(), value.as_str());
        }
    }
    use proptest::prelude::*;
    use time::macros::{date, datetime};

    const TODAY: Date = date!(2026 - 06 - 15);

    fn verified(token: &str, month: u8, year: u16) -> VerifiedCard {
        VerifiedCard {
            token: CardToken::parse(token).unwrap(),
            brand: CardBrand::from_gateway("Visa"),
            last4: Last4::parse("4242").unwrap(),
            expiry: CardExpiry::new(month, year).unwrap(),
        }
    }

    fn card_id(n: u8) -> CardId {
        CardId::new(
            datetime!(2026-01-01 0:00 UTC) + time::Duration::seconds(i64::from(n)),
            [n; 10],
        )
    }

    fn card(n: u8, month: u8, year: u16) -> StoredCard {
        StoredCard::new(
            card_id(n),
            verified(&format!("tok_{n}"), month, year),
            "Ada L",
            date!(2026 - 01 - 01),
        )
        .unwrap()
    }

    fn plan(n: u8) -> PlanId {
        PlanId::new(datetime!(2026-01-01 0:00 UTC), [n; 10])
    }

    fn sim(n: u8) -> SimId {
        SimId::new(datetime!(2026-01-01 0:00 UTC), [n; 10])
    }

    #[test]
    fn pay_1_card_numbers_are_never_tokens() {
        for pan in [
            "4242424242424242",
            "4242 4242 4242 4242",
            "4242-4242-4242-4242",
            "378282246310005",
            "tok_4111111111111111",
            "4111111111111111-123",
            "12-4111111111111111",
            "6011111111111117x",
            "4222222222222",
        ] {
            let e = CardToken::parse(pan).unwrap_err();
            assert_eq!(e.reason(), ReasonCode::CardNumberNotAccepted, "{pan}");
            // The error never echoes the number.
            assert!(!e.to_string().contains("4242"), "{e}");
            assert!(!format!("{e:?}").contains("1111111"), "{e:?}");
        }
        for ok in [
            "tok_visa",
            "pm_1MqLiJLkdIwHu7ixUEgbFdYF",
            "card:abc.def-1",
            "8415995487234101",
        ] {
            assert!(CardToken::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(
            CardToken::parse("").unwrap_err().reason(),
            ReasonCode::Required
        );
        assert_eq!(
            CardToken::parse("tok visa").unwrap_err().reason(),
            ReasonCode::InvalidFormat
        );
        assert_eq!(
            format!("{:?}", CardToken::parse("tok_secret").unwrap()),
            "CardToken(<redacted>)"
        );
    }

    #[test]
    fn pay_1_expiry_is_valid_through_the_end_of_the_month() {
        let e = CardExpiry::new(6, 2026).unwrap();
        assert!(!e.is_expired(date!(2026 - 06 - 30)));
        assert!(e.is_expired(date!(2026 - 07 - 01)));
        assert!(!e.is_expired(date!(2025 - 12 - 31)));
        assert!(CardExpiry::new(0, 2026).is_err());
        assert!(CardExpiry::new(13, 2026).is_err());
        assert!(CardExpiry::new(1, 26).is_err());
    }

    #[test]
    fn pay_1_expired_card_is_never_charged_or_stored() {
        let c = card(1, 5, 2026);
        assert_eq!(
            c.ensure_chargeable(TODAY),
            Err(Error::conflict(ReasonCode::CardExpired))
        );
        assert!(card(2, 6, 2026).ensure_chargeable(TODAY).is_ok());
        let e = StoredCard::new(card_id(3), verified("tok_x", 5, 2026), "Ada", TODAY).unwrap_err();
        assert_eq!(e.reason(), ReasonCode::CardExpired);
        let mut s = PaymentSettings::new();
        s.save_card(c).unwrap();
        assert!(s.auto_top_up_card(TODAY).is_none());
        assert_eq!(
            s.save_card(card(1, 5, 2027)).unwrap_err().reason(),
            ReasonCode::CardAlreadyStored
        );
    }

    #[test]
    fn pay_1_deleting_a_card_turns_off_what_relied_on_it() {
        let mut s = PaymentSettings::new();
        s.save_card(card(1, 12, 2027)).unwrap();
        s.save_card(card(2, 12, 2028)).unwrap();
        let known: BTreeSet<_> = [plan(1), plan(2)].into();
        s.assign_card_to_plans(card_id(1), &[plan(1)].into(), &known, TODAY)
            .unwrap();
        s.set_auto_top_up(AutoTopUpTarget::AllSims, true, TODAY)
            .unwrap();
        s.set_auto_top_up(AutoTopUpTarget::Sim(sim(1)), true, TODAY)
            .unwrap();
        // Another valid card remains: Auto-Top-Up stays on, the plan loses its card.
        let told = s.delete_card(card_id(1), TODAY).unwrap();
        assert_eq!(
            told,
            vec![CardDeletionConsequence::PlansUnassigned {
                plans: [plan(1)].into()
            }]
        );
        assert_eq!(s.card_for_plan(plan(1)), None);
        assert!(s.auto_top_up_enabled(sim(5)));
        // The last valid card goes: Auto-Top-Up is switched off and the customer told.
        let told = s.delete_card(card_id(2), TODAY).unwrap();
        assert_eq!(
            told,
            vec![CardDeletionConsequence::AutoTopUpDisabled {
                all_sims: true,
                sims: [sim(1)].into()
            }]
        );
        assert!(!s.auto_top_up_enabled(sim(1)) && !s.auto_top_up_enabled(sim(5)));
        assert_eq!(s.delete_card(card_id(2), TODAY), Err(Error::NotFound));
    }

    #[test]
    fn pay_2_card_is_assigned_to_chosen_plans() {
        let mut s = PaymentSettings::new();
        s.save_card(card(1, 12, 2027)).unwrap();
        s.save_card(card(2, 12, 2027)).unwrap();
        s.save_card(card(3, 1, 2026)).unwrap();
        let known: BTreeSet<_> = [plan(1), plan(2), plan(3)].into();
        let ch = s
            .assign_card_to_plans(card_id(1), &[plan(1), plan(2)].into(), &known, TODAY)
            .unwrap();
        assert_eq!(ch.assigned, [plan(1), plan(2)].into());
        let ch = s
            .assign_card_to_plans(card_id(2), &[plan(2), plan(3)].into(), &known, TODAY)
            .unwrap();
        assert_eq!(ch.moved_from, [(plan(2), card_id(1))].into());
        assert_eq!(s.plans_of(card_id(1)), [plan(1)].into());
        let ch = s
            .assign_card_to_plans(card_id(2), &[plan(3)].into(), &known, TODAY)
            .unwrap();
        assert_eq!(ch.unassigned, [plan(2)].into());
        assert_eq!(s.card_for_plan(plan(3)), Some(card_id(2)));
        // Unknown plan, unknown card, expired card.
        assert_eq!(
            s.assign_card_to_plans(card_id(1), &[plan(9)].into(), &known, TODAY),
            Err(Error::NotFound)
        );
        assert_eq!(
            s.assign_card_to_plans(card_id(9), &[plan(1)].into(), &known, TODAY),
            Err(Error::NotFound)
        );
        assert_eq!(
            s.assign_card_to_plans(card_id(3), &[plan(1)].into(), &known, TODAY),
            Err(Error::conflict(ReasonCode::CardExpired))
        );
    }

    #[test]
    fn pay_3_auto_top_up_needs_a_valid_card_and_reads_back_per_sim() {
        let mut s = PaymentSettings::new();
        assert_eq!(
            s.set_auto_top_up(AutoTopUpTarget::Sim(sim(1)), true, TODAY),
            Err(Error::conflict(ReasonCode::NoValidCard))
        );
        s.save_card(card(1, 1, 2026)).unwrap(); // expired by TODAY
        assert_eq!(
            s.set_auto_top_up(AutoTopUpTarget::AllSims, true, TODAY),
            Err(Error::conflict(ReasonCode::NoValidCard))
        );
        // Switching off is always allowed.
        assert!(
            s.set_auto_top_up(AutoTopUpTarget::Sim(sim(1)), false, TODAY)
                .is_ok()
        );
        s.save_card(card(2, 12, 2030)).unwrap();
        s.set_auto_top_up(AutoTopUpTarget::Sim(sim(1)), true, TODAY)
            .unwrap();
        assert!(s.auto_top_up_enabled(sim(1)));
        assert!(!s.auto_top_up_enabled(sim(2)));
        s.set_auto_top_up(AutoTopUpTarget::AllSims, true, TODAY)
            .unwrap();
        s.set_auto_top_up(AutoTopUpTarget::Sim(sim(2)), false, TODAY)
            .unwrap();
        assert!(s.auto_top_up_enabled(sim(3)));
        assert!(!s.auto_top_up_enabled(sim(2)));
        s.set_auto_top_up(AutoTopUpTarget::AllSims, false, TODAY)
            .unwrap();
        assert!(!s.auto_top_up_enabled(sim(1)));
        assert_eq!(
            s.auto_top_up_card(TODAY).map(StoredCard::id),
            Some(card_id(2))
        );
    }

    fn luhn_complete(payload: &str) -> String {
        format!("{payload}{}", luhn_check_digit(payload))
    }

    proptest! {
        #[test]
        fn pay_1_pan_looking_strings_are_never_tokens(
            payload in "[0-9]{12,18}",
            sep in prop::sample::select(vec!["", " ", "-"]),
            group in 3usize..=6,
            prefix in "[a-z_:.]{0,6}",
            suffix in "[a-z_:.]{0,6}",
            cvv in proptest::option::of("[0-9]{3,4}"),
        ) {
            let pan = luhn_complete(&payload);
            let grouped: Vec<String> = pan
                .as_bytes()
                .chunks(group)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            let mut text = format!("{prefix}{}", grouped.join(sep));
            if let Some(cvv) = cvv {
                text.push_str(sep);
                text.push_str(&cvv);
            }
            text.push_str(&suffix);
            let e = CardToken::parse(&text).unwrap_err();
            prop_assert_eq!(e.reason(), ReasonCode::CardNumberNotAccepted);
        }

        #[test]
        fn pay_1_parsed_tokens_hold_no_luhn_valid_digit_stretch(raw in "[A-Za-z0-9_.:-]{1,40}") {
            if let Ok(token) = CardToken::parse(&raw) {
                prop_assert!(!contains_pan(token.expose()));
            }
        }
    }
}
