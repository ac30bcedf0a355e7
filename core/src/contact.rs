//! Contact data shared by customers, users and addresses: e-mail address, country and
//! contact language (ACC-4).

use std::fmt;
use std::hash::{Hash, Hasher};

use email_address::{EmailAddress, Options};
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, ReasonCode, Result};

/// The longest address SMTP can carry (RFC 5321 path limit minus the brackets).
const EMAIL_MAX: usize = 254;

/// An e-mail address: trimmed, NFC-normalised, syntactically valid, with a dot in the domain
/// and no display name or domain literal. Equality and hashing ignore case, as mail systems
/// do in practice (ACC-3 recipients, login e-mail uniqueness).
///
/// ```
/// use selfcare_core::contact::Email;
/// let a = Email::parse(" Ada@Example.com ").unwrap();
/// assert_eq!(a.as_str(), "Ada@Example.com");
/// assert_eq!(a, Email::parse("ada@example.com").unwrap());
/// assert!(Email::parse("ada@localhost").is_err());
/// ```
#[derive(Clone, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email {
    display: String,
    key: String,
}

impl Email {
    /// Parses an e-mail address.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `email` with `Required`, `TooLong` or `EmailInvalid`.
    pub fn parse(raw: &str) -> Result<Self> {
        Self::parse_field("email", raw)
    }

    /// As [`Email::parse`], naming `field` in errors.
    ///
    /// # Errors
    /// As [`Email::parse`].
    pub fn parse_field(field: &str, raw: &str) -> Result<Self> {
        let display: String = raw.trim().nfc().collect();
        if display.is_empty() {
            return Err(Error::validation(
                field,
                ReasonCode::Required,
                "is required",
            ));
        }
        if display.chars().count() > EMAIL_MAX {
            return Err(Error::validation(
                field,
                ReasonCode::TooLong,
                format!("is longer than {EMAIL_MAX} characters"),
            ));
        }
        let options = Options::default()
            .without_display_text()
            .without_domain_literal();
        let parsed = EmailAddress::parse_with_options(&display, options).map_err(|_| {
            Error::validation(
                field,
                ReasonCode::EmailInvalid,
                "is not a valid e-mail address",
            )
        })?;
        let domain = parsed.domain();
        if !domain.contains('.') || domain.starts_with('.') || domain.ends_with('.') {
            return Err(Error::validation(
                field,
                ReasonCode::EmailInvalid,
                "needs a domain with a dot, such as example.com",
            ));
        }
        let key = Self::login_key(&display);
        Ok(Email { display, key })
    }

    /// The address as entered (trimmed, NFC).
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The comparison key: trimmed, NFC, lower-cased. Login e-mails are unique by this key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key of any submitted text, valid address or not: login throttling counts per
    /// submitted e-mail whether it exists or not (AUTH-3), so this never fails.
    pub fn login_key(raw: &str) -> String {
        raw.trim().nfc().flat_map(char::to_lowercase).collect()
    }
}

impl PartialEq for Email {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Email {}
impl Hash for Email {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}
impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}
impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A full address is personal data; Debug output lands in logs.
        let (local, domain) = self.display.split_once('@').unwrap_or(("", &self.display));
        let first = local.chars().next().unwrap_or('?');
        write!(f, "Email({first}***@{domain})")
    }
}
impl TryFrom<String> for Email {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<Email> for String {
    fn from(value: Email) -> String {
        value.display
    }
}
impl std::str::FromStr for Email {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// The member states of the European Union (for reverse charge, ORD-2), as ISO alpha-2.
const EU: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

/// A country by its ISO 3166-1 alpha-2 code.
///
/// ```
/// use selfcare_core::contact::Country;
/// let de = Country::parse("de").unwrap();
/// assert_eq!(de.alpha2(), "DE");
/// assert!(de.is_eu());
/// assert!(Country::parse("XX").is_err());
/// ```
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct Country(rust_iso3166::CountryCode);

impl Country {
    /// Parses an alpha-2 code, case-insensitively.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `country` with `CountryUnknown`.
    pub fn parse(raw: &str) -> Result<Self> {
        Self::parse_field("country", raw)
    }

    /// As [`Country::parse`], naming `field` in errors.
    ///
    /// # Errors
    /// As [`Country::parse`].
    pub fn parse_field(field: &str, raw: &str) -> Result<Self> {
        let code = raw.trim().to_ascii_uppercase();
        if code.len() != 2 {
            return Err(Error::validation(
                field,
                ReasonCode::CountryUnknown,
                "must be an ISO 3166-1 alpha-2 country code such as DE",
            ));
        }
        rust_iso3166::from_alpha2(&code)
            .map(Country)
            .ok_or_else(|| {
                Error::validation(
                    field,
                    ReasonCode::CountryUnknown,
                    format!("`{code}` is not an ISO 3166-1 alpha-2 country code"),
                )
            })
    }

    /// The alpha-2 code, upper case.
    pub fn alpha2(&self) -> &'static str {
        self.0.alpha2
    }

    /// The English short name.
    pub fn name(&self) -> &'static str {
        self.0.name
    }

    /// Whether the country is a member state of the European Union.
    pub fn is_eu(&self) -> bool {
        EU.contains(&self.0.alpha2)
    }
}

impl fmt::Display for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.alpha2())
    }
}
impl fmt::Debug for Country {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Country({})", self.alpha2())
    }
}
impl TryFrom<String> for Country {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<Country> for String {
    fn from(value: Country) -> String {
        value.alpha2().to_owned()
    }
}
impl std::str::FromStr for Country {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// A contact language (ACC-4): the language of e-mails, invoices and service notifications.
/// Also the voicemail languages of PLAN-3 are a subset (Hebrew, English).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Default,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub enum Language {
    /// English (`en`), the fallback for every text.
    #[default]
    English,
    /// German (`de`).
    German,
    /// Hebrew (`he`), written right to left.
    Hebrew,
}

impl Language {
    /// Every supported language.
    pub const ALL: [Language; 3] = [Language::English, Language::German, Language::Hebrew];

    /// Parses a BCP 47 tag (`de`, `de-AT`, `he-IL`, `EN`); the region is accepted and ignored.
    /// The deprecated code `iw` is read as Hebrew.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `language` with `LanguageUnsupported` (or
    /// `InvalidFormat` for text that is no BCP 47 tag).
    pub fn parse(raw: &str) -> Result<Self> {
        let tag = oxilangtag::LanguageTag::parse_and_normalize(raw.trim()).map_err(|_| {
            Error::validation(
                "language",
                ReasonCode::InvalidFormat,
                "is not a BCP 47 language tag",
            )
        })?;
        match tag.primary_language() {
            "en" => Ok(Language::English),
            "de" => Ok(Language::German),
            "he" | "iw" => Ok(Language::Hebrew),
            other => Err(Error::validation(
                "language",
                ReasonCode::LanguageUnsupported,
                format!("`{other}` is not supported; choose en, de or he"),
            )),
        }
    }

    /// The BCP 47 tag.
    pub const fn tag(self) -> &'static str {
        match self {
            Language::English => "en",
            Language::German => "de",
            Language::Hebrew => "he",
        }
    }

    /// Whether text in this language is written right to left.
    pub const fn is_rtl(self) -> bool {
        matches!(self, Language::Hebrew)
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.tag())
    }
}
impl TryFrom<String> for Language {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<Language> for String {
    fn from(value: Language) -> String {
        value.tag().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_nfc_and_case_insensitive() {
        // "é" composed vs decomposed must be the same address.
        let composed = Email::parse("jos\u{e9}@example.com").unwrap();
        let decomposed = Email::parse("  JOSE\u{301}@Example.COM").unwrap();
        assert_eq!(composed, decomposed);
        assert_eq!(decomposed.key(), "jos\u{e9}@example.com");
    }

    #[test]
    fn email_rejects_bad_shapes() {
        for bad in [
            "",
            "plain",
            "a@b",
            "a@.com",
            "Ada <ada@example.com>",
            "a@[127.0.0.1]",
            "a@example.com.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(
            Email::parse(&long).unwrap_err().reason(),
            ReasonCode::TooLong
        );
    }

    #[test]
    fn email_debug_hides_the_address() {
        let e = Email::parse("ada.lovelace@example.com").unwrap();
        let shown = format!("{e:?}");
        assert!(!shown.contains("lovelace"), "{shown}");
    }

    #[test]
    fn login_key_never_fails() {
        assert_eq!(Email::login_key("  Not An Email  "), "not an email");
    }

    #[test]
    fn country_is_iso_alpha2() {
        assert_eq!(Country::parse(" il ").unwrap().alpha2(), "IL");
        assert!(!Country::parse("IL").unwrap().is_eu());
        assert_eq!(
            Country::parse("DEU").unwrap_err().reason(),
            ReasonCode::CountryUnknown
        );
        assert_eq!(
            Country::parse("ZZ").unwrap_err().reason(),
            ReasonCode::CountryUnknown
        );
    }

    #[test]
    fn acc_4_languages_are_en_de_he_from_bcp47_tags() {
        assert_eq!(Language::parse("de-AT").unwrap(), Language::German);
        assert_eq!(Language::parse("HE").unwrap(), Language::Hebrew);
        assert_eq!(Language::parse("iw").unwrap(), Language::Hebrew);
        assert_eq!(Language::parse("en-GB").unwrap(), Language::English);
        assert_eq!(
            Language::parse("fr").unwrap_err().reason(),
            ReasonCode::LanguageUnsupported
        );
        assert_eq!(
            Language::parse("not a tag!").unwrap_err().reason(),
            ReasonCode::InvalidFormat
        );
        assert!(Language::Hebrew.is_rtl());
    }
}
