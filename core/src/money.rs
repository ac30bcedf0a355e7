//! Money: a `rust_decimal` amount in an ISO 4217 currency. Never floats; rounding is explicit
//! and always half away from zero in the currency's minor unit (ORD-2), never banker's rounding.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};

use crate::error::{Error, ReasonCode, Result};

/// An ISO 4217 currency.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(iso_currency::Currency);

impl Currency {
    /// Euro.
    pub const EUR: Currency = Currency(iso_currency::Currency::EUR);
    /// US dollar.
    pub const USD: Currency = Currency(iso_currency::Currency::USD);
    /// Israeli new shekel.
    pub const ILS: Currency = Currency(iso_currency::Currency::ILS);

    /// Parses a three-letter code (case-insensitive).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `currency` with `CurrencyInvalid`, also for codes without
    /// a minor unit definition (such as `XAU`), which cannot be invoiced.
    pub fn parse(raw: &str) -> Result<Self> {
        let code = raw.trim().to_ascii_uppercase();
        iso_currency::Currency::from_code(&code)
            .filter(|c| c.exponent().is_some())
            .map(Currency)
            .ok_or_else(|| {
                Error::validation(
                    "currency",
                    ReasonCode::CurrencyInvalid,
                    format!("`{code}` is not an ISO 4217 currency with a minor unit"),
                )
            })
    }

    /// The three-letter code.
    pub fn code(self) -> &'static str {
        self.0.code()
    }

    /// Digits of the minor unit (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn minor_digits(self) -> u32 {
        self.0.exponent().map_or(2, u32::from)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}
impl TryFrom<String> for Currency {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<Currency> for String {
    fn from(value: Currency) -> String {
        value.code().to_owned()
    }
}

/// An amount of money. Arithmetic between different currencies is an error, never a silent
/// conversion.
///
/// ```
/// use rust_decimal::Decimal;
/// use selfcare_core::money::{Currency, Money};
/// let net = Money::parse("10.005", Currency::EUR).unwrap();
/// assert_eq!(net.rounded().to_string(), "10.01 EUR"); // half away from zero
/// let vat = net.rounded().percent(Decimal::new(19, 0)).unwrap();
/// assert_eq!(vat.to_string(), "1.90 EUR");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    /// The amount (may carry more digits than the minor unit until [`Money::rounded`]).
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// The currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in `currency`.
    pub const fn new(amount: Decimal, currency: Currency) -> Self {
        Money { amount, currency }
    }

    /// Zero in `currency`.
    pub const fn zero(currency: Currency) -> Self {
        Money {
            amount: Decimal::ZERO,
            currency,
        }
    }

    /// Parses a decimal string such as `"12.34"` (no exponent, no thousands separators).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `amount` with `AmountInvalid`.
    pub fn parse(raw: &str, currency: Currency) -> Result<Self> {
        raw.trim()
            .parse::<Decimal>()
            .map(|amount| Money { amount, currency })
            .map_err(|_| {
                Error::validation(
                    "amount",
                    ReasonCode::AmountInvalid,
                    "is not a decimal amount",
                )
            })
    }

    /// Builds an amount from integer minor units (the stored form: cents for EUR).
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Money {
            amount: Decimal::new(minor, currency.minor_digits()),
            currency,
        }
    }

    /// The amount in integer minor units, after rounding half away from zero.
    ///
    /// # Errors
    /// [`Error::Validation`] with `AmountInvalid` when it does not fit an `i64`.
    pub fn to_minor(self) -> Result<i64> {
        let scaled = self
            .rounded()
            .amount
            .checked_mul(Decimal::from(10_i64.pow(self.currency.minor_digits())))
            .ok_or_else(overflow)?;
        i64::try_from(scaled.trunc()).map_err(|_| overflow())
    }

    /// Rounded to the currency's minor unit, half away from zero.
    #[must_use]
    pub fn rounded(self) -> Self {
        Money {
            amount: self.amount.round_dp_with_strategy(
                self.currency.minor_digits(),
                RoundingStrategy::MidpointAwayFromZero,
            ),
            currency: self.currency,
        }
    }

    /// `self + other`.
    ///
    /// # Errors
    /// [`Error::Validation`] with `CurrencyMismatch` or `AmountInvalid` (overflow).
    pub fn checked_add(self, other: Money) -> Result<Money> {
        self.same_currency(other)?;
        let amount = self.amount.checked_add(other.amount).ok_or_else(overflow)?;
        Ok(Money { amount, ..self })
    }

    /// `self - other`.
    ///
    /// # Errors
    /// [`Error::Validation`] with `CurrencyMismatch` or `AmountInvalid` (overflow).
    pub fn checked_sub(self, other: Money) -> Result<Money> {
        self.same_currency(other)?;
        let amount = self.amount.checked_sub(other.amount).ok_or_else(overflow)?;
        Ok(Money { amount, ..self })
    }

    /// `self × factor` (e.g. unit price × quantity), not rounded.
    ///
    /// # Errors
    /// [`Error::Validation`] with `AmountInvalid` on overflow.
    pub fn checked_mul(self, factor: Decimal) -> Result<Money> {
        let amount = self.amount.checked_mul(factor).ok_or_else(overflow)?;
        Ok(Money { amount, ..self })
    }

    /// `percent` % of `self`, rounded to the minor unit half away from zero.
    ///
    /// # Errors
    /// [`Error::Validation`] with `AmountInvalid` on overflow.
    pub fn percent(self, percent: Decimal) -> Result<Money> {
        let amount = self
            .amount
            .checked_mul(percent)
            .and_then(|x| x.checked_div(Decimal::ONE_HUNDRED))
            .ok_or_else(overflow)?;
        Ok(Money { amount, ..self }.rounded())
    }

    /// Whether the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }

    fn same_currency(self, other: Money) -> Result<()> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(Error::validation(
                "currency",
                ReasonCode::CurrencyMismatch,
                format!("cannot combine {} and {}", self.currency, other.currency),
            ))
        }
    }
}

fn overflow() -> Error {
    Error::validation("amount", ReasonCode::AmountInvalid, "is out of range")
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.currency.minor_digits();
        let mut shown = self.amount;
        if shown.scale() < digits {
            shown.rescale(digits);
        }
        write!(f, "{shown} {}", self.currency)
    }
}
impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Money({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ord_2_rounding_is_half_away_from_zero() {
        let eur = Currency::EUR;
        assert_eq!(
            Money::parse("0.125", eur).unwrap().rounded().amount,
            Decimal::new(13, 2)
        );
        assert_eq!(
            Money::parse("-0.125", eur).unwrap().rounded().amount,
            Decimal::new(-13, 2)
        );
        // Banker's rounding would give 0.12.
        assert_eq!(Money::parse("0.125", eur).unwrap().to_minor().unwrap(), 13);
    }

    #[test]
    fn minor_units_follow_the_currency() {
        let jpy = Currency::parse("jpy").unwrap();
        assert_eq!(jpy.minor_digits(), 0);
        assert_eq!(Money::from_minor(1500, jpy).to_string(), "1500 JPY");
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(Money::from_minor(1500, kwd).to_string(), "1.500 KWD");
        assert!(Currency::parse("XAU").is_err());
        assert!(Currency::parse("EURO").is_err());
    }

    #[test]
    fn currencies_never_mix() {
        let a = Money::from_minor(100, Currency::EUR);
        let b = Money::from_minor(100, Currency::USD);
        assert_eq!(
            a.checked_add(b).unwrap_err().reason(),
            ReasonCode::CurrencyMismatch
        );
    }

    #[test]
    fn money_serialises_amount_as_decimal_string() {
        let m = Money::from_minor(1999, Currency::EUR);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount":"19.99","currency":"EUR"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
    }

    proptest! {
        #[test]
        fn minor_units_round_trip(minor in -1_000_000_000_000i64..1_000_000_000_000) {
            let m = Money::from_minor(minor, Currency::EUR);
            prop_assert_eq!(m.to_minor().unwrap(), minor);
        }
    }
}
