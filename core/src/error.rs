//! The one error type of `selfcare-core` and the stable reason codes every decision carries.

use std::fmt;
use std::time::Duration;

/// Declares [`ReasonCode`] from one list, so the enum, its snake_case form and the exported list
/// of every code cannot drift apart.
macro_rules! reason_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// A stable, snake_case identifier of why something was decided: apps translate it, logs
        /// and tests match on it. Codes are never renamed; new ones are only added.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ReasonCode {
            $($(#[$doc])* $variant,)*
        }

        impl ReasonCode {
            /// Every reason code, in declaration order (for hosts that ship translations).
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$variant,)*];

            /// The stable snake_case form, e.g. `admin_cannot_set_owner_password`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ReasonCode::$variant => $code,)*
                }
            }

            /// Parses the snake_case form back; `None` for a code this version does not know.
            pub fn from_code(code: &str) -> Option<ReasonCode> {
                match code {
                    $($code => Some(ReasonCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

reason_codes! {
    // -- general --
    /// The decision allowed the action.
    Allowed = "allowed",
    /// A required value was empty.
    Required = "required",
    /// A value is longer than its field allows.
    TooLong = "too_long",
    /// A value is shorter than its field allows.
    TooShort = "too_short",
    /// A value has characters or a shape the field does not accept.
    InvalidFormat = "invalid_format",
    /// A value is outside the accepted range.
    OutOfRange = "out_of_range",
    /// A value contains control characters.
    ControlCharacters = "control_characters",
    /// The target belongs to another organisation (reported to callers as `NotFound`).
    OtherOrganisation = "other_organisation",
    /// The thing asked for does not exist.
    NotFound = "not_found",
    /// A stored value changed since it was read (optimistic concurrency).
    StaleVersion = "stale_version",
    /// Too many attempts; wait `retry_after`.
    TooManyAttempts = "too_many_attempts",

    // -- identifiers (SIM-1) and contact data --
    /// An ICCID does not start with `89`.
    IccidPrefix = "iccid_prefix",
    /// An ICCID has a wrong Luhn check digit.
    IccidCheckDigit = "iccid_check_digit",
    /// An ICCID does not have 19 or 20 digits.
    IccidLength = "iccid_length",
    /// An IMSI is not 15 digits.
    ImsiLength = "imsi_length",
    /// A phone number cannot be parsed to E.164.
    PhoneNumberInvalid = "phone_number_invalid",
    /// A phone number's country calling code is unknown.
    PhoneNumberCountryCode = "phone_number_country_code",
    /// A phone number's length is impossible for its country.
    PhoneNumberLength = "phone_number_length",
    /// An e-mail address is malformed.
    EmailInvalid = "email_invalid",
    /// Not an ISO 3166-1 alpha-2 country code.
    CountryUnknown = "country_unknown",
    /// Not a supported contact language.
    LanguageUnsupported = "language_unsupported",
    /// Not an ISO 4217 currency, or amounts in different currencies were combined.
    CurrencyInvalid = "currency_invalid",
    /// Two amounts in different currencies were combined.
    CurrencyMismatch = "currency_mismatch",
    /// An amount cannot be represented (overflow, too many decimals for the currency).
    AmountInvalid = "amount_invalid",

    // -- users, roles, policy (USR-*, STF-1); helper section --

    // -- credentials, tokens, TOTP, throttling (AUTH-*); helper section --

    // -- customers, notifications, audit (ACC-*, AUD-1); helper section --

    // -- addresses (ADDR-*); helper section --
    /// A billing address must carry the organisation's company name and billing country
    /// (ADDR-4, ACC-1); only support can change them.
    BillingAddressLegalField = "billing_address_legal_field",
    /// The last billing address cannot be deleted or stop being a billing address (ADDR-4).
    LastBillingAddress = "last_billing_address",
    /// An address-book entry with this id already exists.
    AddressIdTaken = "address_id_taken",
    /// The address book already holds as many entries as it may.
    AddressBookFull = "address_book_full",
    /// The address is not used for the kind (billing or shipping) it was to be the default of.
    AddressUsageMismatch = "address_usage_mismatch",
    /// Stored address-book entries break an invariant (duplicate id, two defaults, ...).
    AddressBookInconsistent = "address_book_inconsistent",

    // -- orders, payments (ORD-*, PAY-*, TOP-1); helper section --

    // -- SIMs, plans, export (SIM-*, PLAN-*, ORD-3); helper section --

    // -- usage, quotas, tickets (TOP-2, TOP-3, TKT-*); helper section --
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ReasonCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ReasonCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ReasonCode::from_code(&raw)
            .ok_or_else(|| serde::de::Error::custom(format_args!("unknown reason code `{raw}`")))
    }
}

/// Everything a rule of `core` can refuse, in the categories of DESIGN §1.
///
/// The `sdk` maps these one to one onto its public error; `field` names are dotted paths
/// (`billing_address.postal_code`) so a form can put the message next to the right input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input is malformed or breaks a rule about its value.
    #[error("{field}: {message}")]
    Validation {
        /// Dotted path of the offending field.
        field: String,
        /// Why it was refused.
        reason: ReasonCode,
        /// English explanation for people (never contains a secret).
        message: String,
    },
    /// A field that cannot be changed through this channel (ACC-1, ADDR-4).
    #[error("{field} cannot be changed here: {message}")]
    ImmutableField {
        /// Dotted path of the field.
        field: String,
        /// Why it is immutable.
        reason: ReasonCode,
        /// English explanation, e.g. "contact support".
        message: String,
    },
    /// The actor's role does not allow the action.
    #[error("permission denied: {reason}")]
    PermissionDenied {
        /// The policy's reason.
        reason: ReasonCode,
    },
    /// The target does not exist, or is not visible to the actor (tenant isolation, USR-5).
    #[error("not found")]
    NotFound,
    /// The action conflicts with the current state (illegal transition, duplicate, last Owner).
    #[error("conflict: {reason}")]
    Conflict {
        /// What conflicts.
        reason: ReasonCode,
    },
    /// Too many attempts; the caller may try again after `retry_after`.
    #[error("too many attempts, retry after {} s", retry_after.as_secs())]
    Throttled {
        /// How long to wait.
        retry_after: Duration,
    },
}

impl Error {
    /// A [`Error::Validation`] for `field`.
    pub fn validation(
        field: impl Into<String>,
        reason: ReasonCode,
        message: impl Into<String>,
    ) -> Self {
        Error::Validation {
            field: field.into(),
            reason,
            message: message.into(),
        }
    }

    /// A [`Error::ImmutableField`] for `field`.
    pub fn immutable(
        field: impl Into<String>,
        reason: ReasonCode,
        message: impl Into<String>,
    ) -> Self {
        Error::ImmutableField {
            field: field.into(),
            reason,
            message: message.into(),
        }
    }

    /// A [`Error::Conflict`].
    pub fn conflict(reason: ReasonCode) -> Self {
        Error::Conflict { reason }
    }

    /// A [`Error::PermissionDenied`].
    pub fn denied(reason: ReasonCode) -> Self {
        Error::PermissionDenied { reason }
    }

    /// Prefixes the field path with `parent`, for values validated inside a larger form
    /// (`postal_code` inside `billing_address` becomes `billing_address.postal_code`).
    #[must_use]
    pub fn within(self, parent: &str) -> Self {
        match self {
            Error::Validation {
                field,
                reason,
                message,
            } => Error::Validation {
                field: join_field(parent, &field),
                reason,
                message,
            },
            Error::ImmutableField {
                field,
                reason,
                message,
            } => Error::ImmutableField {
                field: join_field(parent, &field),
                reason,
                message,
            },
            other => other,
        }
    }

    /// The reason code of this error, for every category.
    pub fn reason(&self) -> ReasonCode {
        match self {
            Error::Validation { reason, .. }
            | Error::ImmutableField { reason, .. }
            | Error::PermissionDenied { reason }
            | Error::Conflict { reason } => *reason,
            Error::NotFound => ReasonCode::NotFound,
            Error::Throttled { .. } => ReasonCode::TooManyAttempts,
        }
    }

    /// The field an error names, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Validation { field, .. } | Error::ImmutableField { field, .. } => Some(field),
            _ => None,
        }
    }
}

fn join_field(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else if field.is_empty() {
        parent.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// The result type of `selfcare-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks a free-text field: trimmed, not empty when `required`, at most `max` characters
/// (Unicode scalar values), no control characters except where `allow_newlines` permits line
/// breaks and tabs. Returns the trimmed value.
///
/// # Errors
/// [`Error::Validation`] naming `field` with `Required`, `TooLong` or `ControlCharacters`.
pub fn text_field(
    field: &str,
    raw: &str,
    max: usize,
    required: bool,
    allow_newlines: bool,
) -> Result<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() && required {
        return Err(Error::validation(
            field,
            ReasonCode::Required,
            "is required",
        ));
    }
    let count = trimmed.chars().count();
    if count > max {
        return Err(Error::validation(
            field,
            ReasonCode::TooLong,
            format!("is {count} characters long; at most {max} are allowed"),
        ));
    }
    let bad = |c: char| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t'));
    if trimmed.chars().any(bad) {
        return Err(Error::validation(
            field,
            ReasonCode::ControlCharacters,
            "contains control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_round_trip_and_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ReasonCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{s} is not snake_case"
            );
            assert_eq!(ReasonCode::from_code(s), Some(*code));
        }
        assert_eq!(ReasonCode::from_code("no_such_code"), None);
    }

    #[test]
    fn within_prefixes_field_paths() {
        let e = Error::validation("postal_code", ReasonCode::TooLong, "x").within("billing");
        assert_eq!(e.field(), Some("billing.postal_code"));
        assert_eq!(Error::NotFound.within("x"), Error::NotFound);
    }

    #[test]
    fn text_field_checks_length_in_characters_not_bytes() {
        let hebrew = "ש".repeat(100);
        assert_eq!(
            text_field("name", &hebrew, 100, true, false).unwrap(),
            hebrew
        );
        let long = "ש".repeat(101);
        assert_eq!(
            text_field("name", &long, 100, true, false)
                .unwrap_err()
                .reason(),
            ReasonCode::TooLong
        );
        assert_eq!(
            text_field("name", "  ", 100, true, false)
                .unwrap_err()
                .reason(),
            ReasonCode::Required
        );
        assert_eq!(text_field("name", "  ", 100, false, false).unwrap(), "");
        assert_eq!(
            text_field("name", "a\u{0}b", 100, true, false)
                .unwrap_err()
                .reason(),
            ReasonCode::ControlCharacters
        );
        assert_eq!(text_field("d", "a\nb", 100, true, true).unwrap(), "a\nb");
    }
}
