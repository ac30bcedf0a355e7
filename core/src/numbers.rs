//! The numbers of a SIM (SIM-1): ICCID, IMSI and MSISDN. Each is validated once, when it is
//! parsed; a value of these types is always valid.

use std::fmt;

use phonenumber::Mode;

use crate::error::{Error, ReasonCode, Result};

/// Computes the Luhn check digit for `payload` (ASCII digits only; other bytes are ignored).
pub fn luhn_check_digit(payload: &str) -> u8 {
    let sum: u32 = payload
        .bytes()
        .filter(u8::is_ascii_digit)
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    // The sum modulo 10 is below 10, so the cast cannot truncate.
    ((10 - sum % 10) % 10) as u8
}

/// An Integrated Circuit Card Identifier: `89` prefix, 19 or 20 digits, the last a Luhn check
/// digit (SIM-1).
///
/// ```
/// use selfcare_core::numbers::Iccid;
/// let iccid = Iccid::parse("8988 2280 0000 0000 004F").unwrap();
/// assert_eq!(iccid.as_str(), "8988228000000000004");
/// assert!(Iccid::parse("8988228000000000005").is_err()); // bad check digit
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iccid(String);

impl Iccid {
    /// Parses an ICCID, removing spaces and trailing `F` padding first.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `iccid` with `InvalidFormat`, `IccidLength`, `IccidPrefix`
    /// or `IccidCheckDigit`.
    pub fn parse(raw: &str) -> Result<Self> {
        let compact: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        let digits = compact.trim_end_matches(['F', 'f']);
        if digits.is_empty() {
            return Err(Error::validation(
                "iccid",
                ReasonCode::Required,
                "is required",
            ));
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::validation(
                "iccid",
                ReasonCode::InvalidFormat,
                "may contain only digits (spaces and trailing F padding are ignored)",
            ));
        }
        if !(19..=20).contains(&digits.len()) {
            return Err(Error::validation(
                "iccid",
                ReasonCode::IccidLength,
                format!("has {} digits; an ICCID has 19 or 20", digits.len()),
            ));
        }
        if !digits.starts_with("89") {
            return Err(Error::validation(
                "iccid",
                ReasonCode::IccidPrefix,
                "must start with 89 (telecommunications)",
            ));
        }
        let (payload, check) = digits.split_at(digits.len() - 1);
        if check.as_bytes().first().map(|b| b - b'0') != Some(luhn_check_digit(payload)) {
            return Err(Error::validation(
                "iccid",
                ReasonCode::IccidCheckDigit,
                "has a wrong check digit; please check the number on the card",
            ));
        }
        Ok(Iccid(digits.to_owned()))
    }

    /// Builds the ICCID whose digits are `payload` followed by its Luhn check digit.
    ///
    /// # Errors
    /// As [`Iccid::parse`] when `payload` is not 18 or 19 digits starting with `89`.
    pub fn from_payload(payload: &str) -> Result<Self> {
        Self::parse(&format!("{payload}{}", luhn_check_digit(payload)))
    }

    /// The digits, without spaces or padding.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An International Mobile Subscriber Identity: 15 digits, MCC (3) + MNC (2–3) + MSIN (SIM-1).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Imsi(String);

impl Imsi {
    /// Parses an IMSI (spaces are ignored).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `imsi` with `Required`, `InvalidFormat` or `ImsiLength`.
    pub fn parse(raw: &str) -> Result<Self> {
        let digits: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.is_empty() {
            return Err(Error::validation(
                "imsi",
                ReasonCode::Required,
                "is required",
            ));
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::validation(
                "imsi",
                ReasonCode::InvalidFormat,
                "may contain only digits",
            ));
        }
        if digits.len() != 15 {
            return Err(Error::validation(
                "imsi",
                ReasonCode::ImsiLength,
                format!("has {} digits; an IMSI has 15", digits.len()),
            ));
        }
        Ok(Imsi(digits))
    }

    /// The 15 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The mobile country code (first three digits).
    pub fn mcc(&self) -> &str {
        self.0.get(..3).unwrap_or_default()
    }
}

/// A phone number in E.164 (SIM-1, PLAN-6, ADDR-1): a known country calling code, a length
/// possible for that country, at most 15 digits. The allocation check (`is_valid`) is not made
/// on purpose: it changes with every metadata release and would reject new number ranges.
///
/// ```
/// use selfcare_core::numbers::Msisdn;
/// let n = Msisdn::parse("+49 170 1234567").unwrap();
/// assert_eq!(n.e164(), "+491701234567");
/// assert_eq!(n.digits(), "491701234567");
/// // Digits without `+` (as in the SIM CSV export) are read as international.
/// assert_eq!(Msisdn::parse("491701234567").unwrap(), n);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Msisdn(String);

impl Msisdn {
    /// Parses an international number: `+` or `00` followed by the country code, or bare digits
    /// that start with the country code. Spaces, dots, dashes and brackets are ignored.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `msisdn` with `Required`, `PhoneNumberInvalid`,
    /// `PhoneNumberCountryCode` or `PhoneNumberLength`.
    pub fn parse(raw: &str) -> Result<Self> {
        Self::parse_field("msisdn", raw)
    }

    /// As [`Msisdn::parse`], naming `field` in errors (e.g. `phone`, `forward_to`).
    ///
    /// # Errors
    /// As [`Msisdn::parse`].
    pub fn parse_field(field: &str, raw: &str) -> Result<Self> {
        let e164 = Self::to_e164(field, raw)?;
        // The metadata may drop digits it reads as a trunk prefix (`+44 (0)20…` is meant that
        // way). Only a result that is its own E.164 form is accepted, so a stored number always
        // parses back to itself (found by the msisdn fuzz target: `+(20000)44201900)`).
        match Self::to_e164(field, &e164) {
            Ok(again) if again == e164 => Ok(Msisdn(e164)),
            _ => Err(Error::validation(
                field,
                ReasonCode::PhoneNumberInvalid,
                "is ambiguous; please enter it in international format such as +49 170 1234567",
            )),
        }
    }

    fn to_e164(field: &str, raw: &str) -> Result<String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(Error::validation(
                field,
                ReasonCode::Required,
                "is required",
            ));
        }
        if trimmed.len() > 64 {
            return Err(Error::validation(field, ReasonCode::TooLong, "is too long"));
        }
        let cleaned: String = trimmed
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '/'))
            .collect();
        let international = if let Some(rest) = cleaned.strip_prefix("00") {
            format!("+{rest}")
        } else if cleaned.starts_with('+') {
            cleaned
        } else {
            format!("+{cleaned}")
        };
        let digits = &international[1..];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::validation(
                field,
                ReasonCode::PhoneNumberInvalid,
                "must be an international number such as +49 170 1234567",
            ));
        }
        if digits.len() > 15 {
            return Err(Error::validation(
                field,
                ReasonCode::PhoneNumberLength,
                "has more than 15 digits",
            ));
        }
        let number = phonenumber::parse(None, &international).map_err(|e| match e {
            phonenumber::ParseError::InvalidCountryCode => Error::validation(
                field,
                ReasonCode::PhoneNumberCountryCode,
                "has an unknown country calling code",
            ),
            phonenumber::ParseError::TooShortNsn
            | phonenumber::ParseError::TooShortAfterIdd
            | phonenumber::ParseError::TooLong => Error::validation(
                field,
                ReasonCode::PhoneNumberLength,
                "has a length that no number of its country has",
            ),
            _ => Error::validation(
                field,
                ReasonCode::PhoneNumberInvalid,
                "must be an international number such as +49 170 1234567",
            ),
        })?;
        let Some(meta) = number.metadata(&phonenumber::metadata::DATABASE) else {
            return Err(Error::validation(
                field,
                ReasonCode::PhoneNumberCountryCode,
                "has an unknown country calling code",
            ));
        };
        let national = number.national();
        let national_len = national.value().to_string().len() + usize::from(national.zeros());
        // The metadata's general descriptor may leave possible lengths empty; a length is
        // possible when any number type of the country allows it.
        let d = meta.descriptors();
        let length_ok = u16::try_from(national_len).is_ok_and(|len| {
            std::iter::once(Some(d.general()))
                .chain([
                    d.fixed_line(),
                    d.mobile(),
                    d.toll_free(),
                    d.premium_rate(),
                    d.shared_cost(),
                    d.personal_number(),
                    d.voip(),
                    d.pager(),
                    d.uan(),
                    d.voicemail(),
                ])
                .flatten()
                .any(|desc| desc.possible_length().contains(&len))
        });
        if !length_ok {
            return Err(Error::validation(
                field,
                ReasonCode::PhoneNumberLength,
                "has a length that no number of its country has",
            ));
        }
        let e164 = number.format().mode(Mode::E164).to_string();
        if e164.len() > 16 {
            return Err(Error::validation(
                field,
                ReasonCode::PhoneNumberLength,
                "has more than 15 digits",
            ));
        }
        Ok(e164)
    }

    /// E.164 form with `+`.
    pub fn e164(&self) -> &str {
        &self.0
    }

    /// Digits only, without `+` (the CSV export form, ORD-3).
    pub fn digits(&self) -> &str {
        self.0.strip_prefix('+').unwrap_or(&self.0)
    }

    /// A number read back from a store that wrote it as [`Msisdn::e164`] of a parsed
    /// `Msisdn`: this TRUSTS the store's own earlier validation and checks only the shape
    /// (`+`, then 1 to 15 ASCII digits, the first not `0`), not the country metadata.
    ///
    /// Stores use it when reading their own rows, where [`Msisdn::parse`] (two passes
    /// through the phone-number metadata, microseconds per number) would dominate an export
    /// of a million SIMs (ORD-3). Never use it on input from anyone else: a number typed by a
    /// user, sent by a network or in a file goes through [`Msisdn::parse`]. A value that
    /// was stored when the metadata knew its country stays readable after a metadata update.
    ///
    /// ```
    /// use selfcare_core::numbers::Msisdn;
    /// let n = Msisdn::parse("+49 170 1234567").unwrap();
    /// assert_eq!(Msisdn::from_stored(n.e164()), Some(n));
    /// assert_eq!(Msisdn::from_stored("491701234567"), None);
    /// ```
    pub fn from_stored(e164: &str) -> Option<Self> {
        let digits = e164.strip_prefix('+')?;
        let shaped = (1..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        shaped.then(|| Msisdn(e164.to_owned()))
    }
}

macro_rules! string_newtype_impls {
    ($($name:ident => $show:ident),*) => {$(
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.$show())
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.$show())
            }
        }
        impl TryFrom<String> for $name {
            type Error = Error;
            fn try_from(raw: String) -> Result<Self> {
                Self::parse(&raw)
            }
        }
        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }
        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                Self::parse(s)
            }
        }
    )*};
}

string_newtype_impls!(Iccid => as_str, Imsi => as_str, Msisdn => e164);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sim_1_iccid_normalises_spaces_and_f_padding() {
        let a = Iccid::parse("8988 2280 0000 0000 004").unwrap();
        let b = Iccid::parse("8988228000000000004FF").unwrap();
        let c = Iccid::parse(" 8988228000000000004f ").unwrap();
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(a.as_str(), "8988228000000000004");
    }

    #[test]
    fn sim_1_iccid_bad_check_digit_is_validation() {
        let err = Iccid::parse("8988228000000000005").unwrap_err();
        assert_eq!(err.reason(), ReasonCode::IccidCheckDigit);
        assert_eq!(err.field(), Some("iccid"));
    }

    #[test]
    fn sim_1_iccid_prefix_and_length() {
        let wrong_prefix = format!("1988228000000000{}", "00");
        let payload = &wrong_prefix[..18];
        let with_check = format!("{payload}{}", luhn_check_digit(payload));
        assert_eq!(
            Iccid::parse(&with_check).unwrap_err().reason(),
            ReasonCode::IccidPrefix
        );
        assert_eq!(
            Iccid::parse("89882280000").unwrap_err().reason(),
            ReasonCode::IccidLength
        );
        assert_eq!(
            Iccid::parse("89882280000000000A5").unwrap_err().reason(),
            ReasonCode::InvalidFormat
        );
        assert_eq!(
            Iccid::parse("FFFF").unwrap_err().reason(),
            ReasonCode::Required
        );
    }

    #[test]
    fn sim_1_iccid_twenty_digits() {
        let iccid = Iccid::from_payload("8949000000000000001").unwrap();
        assert_eq!(iccid.as_str().len(), 20);
        assert_eq!(Iccid::parse(iccid.as_str()).unwrap(), iccid);
    }

    #[test]
    fn sim_1_imsi_is_fifteen_digits() {
        let imsi = Imsi::parse("262 01 123456789 0").unwrap();
        assert_eq!(imsi.as_str(), "262011234567890");
        assert_eq!(imsi.mcc(), "262");
        assert_eq!(
            Imsi::parse("26201123456789").unwrap_err().reason(),
            ReasonCode::ImsiLength
        );
        assert_eq!(
            Imsi::parse("26201123456789x").unwrap_err().reason(),
            ReasonCode::InvalidFormat
        );
    }

    #[test]
    fn sim_1_msisdn_is_e164_with_known_country_and_possible_length() {
        assert_eq!(
            Msisdn::parse("+972 50-123-4567").unwrap().e164(),
            "+972501234567"
        );
        assert_eq!(
            Msisdn::parse("0049 170 1234567").unwrap().digits(),
            "491701234567"
        );
        assert_eq!(
            Msisdn::parse("+999 1234567").unwrap_err().reason(),
            ReasonCode::PhoneNumberCountryCode
        );
        assert_eq!(
            Msisdn::parse("+49 1").unwrap_err().reason(),
            ReasonCode::PhoneNumberLength
        );
        assert_eq!(
            Msisdn::parse("+1234567890123456").unwrap_err().reason(),
            ReasonCode::PhoneNumberLength
        );
        assert_eq!(
            Msisdn::parse("call me").unwrap_err().reason(),
            ReasonCode::PhoneNumberInvalid
        );
        assert_eq!(
            Msisdn::parse_field("forward_to", "").unwrap_err().field(),
            Some("forward_to")
        );
    }

    #[test]
    fn sim_1_msisdn_accepts_only_numbers_that_parse_back_to_themselves() {
        // The fuzzer's find: the metadata dropped digits and the result parsed differently.
        for raw in ["+(20000)44201900)", "+44 (0)20 7946 0000"] {
            if let Ok(n) = Msisdn::parse(raw) {
                assert_eq!(Msisdn::parse(n.e164()).unwrap(), n, "{raw}");
                assert_eq!(Msisdn::parse(n.digits()).unwrap(), n, "{raw}");
            }
        }
        assert_eq!(
            Msisdn::parse("+44 (0)20 7946 0000").unwrap().e164(),
            "+442079460000"
        );
    }

    #[test]
    fn sim_1_numbers_serialise_as_strings_and_refuse_invalid_input() {
        let iccid: Iccid = serde_json::from_str("\"8988228000000000004\"").unwrap();
        assert_eq!(
            serde_json::to_string(&iccid).unwrap(),
            "\"8988228000000000004\""
        );
        assert!(serde_json::from_str::<Iccid>("\"8988228000000000005\"").is_err());
    }

    #[test]
    fn sim_1_msisdn_from_stored_reads_back_only_e164_shapes() {
        for raw in ["+49 170 1234567", "0044 20 7946 0958", "+1 (212) 555-0100"] {
            let n = Msisdn::parse(raw).unwrap();
            assert_eq!(Msisdn::from_stored(n.e164()), Some(n));
        }
        for bad in [
            "",
            "+",
            "491701234567",
            "+0491701234567",
            "+49 170",
            "+1234567890123456",
        ] {
            assert_eq!(Msisdn::from_stored(bad), None, "{bad:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn sim_1_every_generated_iccid_passes_luhn(payload in "89[0-9]{16,17}") {
            let iccid = Iccid::from_payload(&payload).unwrap();
            let digits = iccid.as_str();
            // Luhn over the full number, computed independently: doubling from the right,
            // starting at the second-to-last digit, must give a multiple of 10.
            let sum: u32 = digits.bytes().rev().enumerate().map(|(i, b)| {
                let d = u32::from(b - b'0');
                if i % 2 == 1 { let x = d * 2; x / 10 + x % 10 } else { d }
            }).sum();
            proptest::prop_assert_eq!(sum % 10, 0);
        }

        #[test]
        fn sim_1_changing_one_digit_breaks_the_check(payload in "89[0-9]{17}", pos in 2usize..19, delta in 1u8..10) {
            let iccid = Iccid::from_payload(&payload).unwrap();
            let mut bytes = iccid.as_str().as_bytes().to_vec();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            let changed = String::from_utf8(bytes).unwrap();
            proptest::prop_assert!(Iccid::parse(&changed).is_err());
        }

        #[test]
        fn sim_1_parsers_never_panic(raw in "\\PC{0,40}") {
            let _ = Iccid::parse(&raw);
            let _ = Imsi::parse(&raw);
            let _ = Msisdn::parse(&raw);
        }
    }
}
