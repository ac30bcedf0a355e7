//! Notifications (ACC-4): every kind the portal sends, who receives it, and its texts in
//! English, German and Hebrew with host overrides.
//!
//! Texts are plain-text templates with named placeholders such as `{order_number}`; `{{` and
//! `}}` stand for literal braces. Rendering inserts parameter values verbatim and never
//! expands them again, so a value containing `{link}` stays `{link}`. Values are formatted by
//! the host in the recipient's language (amounts, dates, status labels). Bodies are plain
//! text: a host that wraps them in HTML must escape them.
//!
//! A placeholder whose parameter is missing is an error ([`ReasonCode::NotificationParameterMissing`])
//! rather than a blank or a visible `{name}`: a notification with a hole in it must not reach a
//! customer, and the error surfaces the bug when the message is built, not when it is read.
//!
//! ```
//! use selfcare_core::contact::Language;
//! use selfcare_core::notifications::{render, NotificationKind, Params, TextOverrides};
//! let params = Params::new()
//!     .with("customer_name", "Acme IoT GmbH")
//!     .with("order_number", "ORD-2025-0042")
//!     .with("carrier", "DHL")
//!     .with("tracking_number", "JJD000390007")
//!     .with("tracking_link", "https://track.example/JJD000390007");
//! let out = render(NotificationKind::ShipmentSent, Language::German, &params, &TextOverrides::new()).unwrap();
//! assert_eq!(out.subject, "Ihre Bestellung ORD-2025-0042 ist unterwegs");
//! ```

mod de;
mod delivery;
mod en;
mod he;

pub use delivery::{AfterFailure, DeliveryPolicy};

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::contact::{Email, Language};
use crate::customer::{ContactEmails, EmailCategory};
use crate::error::{Error, ReasonCode, Result};
use crate::quota::{UsageEffect, VolumeKind};

/// Longest subject a host override may have, in characters.
pub const SUBJECT_MAX: usize = 200;
/// Longest body a host override may have, in characters.
pub const BODY_MAX: usize = 20_000;

/// Every notification the portal sends (ACC-4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// An invoice was issued for an order.
    InvoiceIssued,
    /// Staff added a document (delivery note, credit note, …) to an order.
    DocumentAdded,
    /// An order's status changed.
    OrderStatusChanged,
    /// A shipment of an order was sent.
    ShipmentSent,
    /// A SIM's remaining volume fell to a configured share of its volume (TOP-3): the text
    /// says how much is LEFT (`{percent_left}`, `{remaining}` of `{allowance}`).
    VolumeThresholdReached,
    /// A SIM used up its volume.
    VolumeExhausted,
    /// The organisation reached its monthly volume limit (ACC-5).
    MonthlyLimitReached,
    /// An Auto-Top-Up was charged.
    AutoTopUpCharged,
    /// An Auto-Top-Up charge failed.
    AutoTopUpFailed,
    /// A SIM swap completed.
    SimSwapCompleted,
    /// A SIM swap failed.
    SimSwapFailed,
    /// APN settings requested by the customer.
    ApnSettings,
    /// A password-reset link.
    PasswordReset,
    /// An e-mail confirmation link.
    EmailConfirmation,
    /// Notice to the old address that the e-mail address is being changed.
    EmailChangeNotice,
    /// A login from a source not seen before.
    NewLogin,
    /// Support replied to a ticket.
    TicketReply,
}

/// Who receives a notification kind (ACC-4).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Audience {
    /// The main contact plus every additional address with this category (ACC-3).
    Category(EmailCategory),
    /// Only the user the message is about (their login e-mail, or the old address for an
    /// e-mail change notice).
    AffectedUser,
}

impl NotificationKind {
    /// Every kind.
    pub const ALL: [NotificationKind; 17] = [
        NotificationKind::InvoiceIssued,
        NotificationKind::DocumentAdded,
        NotificationKind::OrderStatusChanged,
        NotificationKind::ShipmentSent,
        NotificationKind::VolumeThresholdReached,
        NotificationKind::VolumeExhausted,
        NotificationKind::MonthlyLimitReached,
        NotificationKind::AutoTopUpCharged,
        NotificationKind::AutoTopUpFailed,
        NotificationKind::SimSwapCompleted,
        NotificationKind::SimSwapFailed,
        NotificationKind::ApnSettings,
        NotificationKind::PasswordReset,
        NotificationKind::EmailConfirmation,
        NotificationKind::EmailChangeNotice,
        NotificationKind::NewLogin,
        NotificationKind::TicketReply,
    ];

    /// The stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        use NotificationKind::*;
        match self {
            InvoiceIssued => "invoice_issued",
            DocumentAdded => "document_added",
            OrderStatusChanged => "order_status_changed",
            ShipmentSent => "shipment_sent",
            VolumeThresholdReached => "volume_threshold_reached",
            VolumeExhausted => "volume_exhausted",
            MonthlyLimitReached => "monthly_limit_reached",
            AutoTopUpCharged => "auto_top_up_charged",
            AutoTopUpFailed => "auto_top_up_failed",
            SimSwapCompleted => "sim_swap_completed",
            SimSwapFailed => "sim_swap_failed",
            ApnSettings => "apn_settings",
            PasswordReset => "password_reset",
            EmailConfirmation => "email_confirmation",
            EmailChangeNotice => "email_change_notice",
            NewLogin => "new_login",
            TicketReply => "ticket_reply",
        }
    }

    /// Who receives this kind (ACC-4). The exported table is [`AUDIENCES`].
    pub const fn audience(self) -> Audience {
        use EmailCategory as C;
        use NotificationKind::*;
        match self {
            InvoiceIssued | DocumentAdded | AutoTopUpCharged | AutoTopUpFailed => {
                Audience::Category(C::Invoice)
            }
            VolumeThresholdReached | VolumeExhausted | MonthlyLimitReached => {
                Audience::Category(C::VolumeNotifications)
            }
            OrderStatusChanged | ShipmentSent => Audience::Category(C::Orders),
            SimSwapCompleted | SimSwapFailed | ApnSettings => Audience::Category(C::Service),
            PasswordReset | EmailConfirmation | EmailChangeNotice | NewLogin | TicketReply => {
                Audience::AffectedUser
            }
        }
    }

    /// The parameters this kind's texts may use, by name. Callers pass all of them; texts
    /// (built-in or overridden) use a subset.
    pub const fn parameters(self) -> &'static [&'static str] {
        use NotificationKind::*;
        match self {
            InvoiceIssued => &[
                "customer_name",
                "invoice_number",
                "order_number",
                "amount",
                "due_date",
                "link",
            ],
            DocumentAdded => &["customer_name", "document_name", "order_number", "link"],
            OrderStatusChanged => &["customer_name", "order_number", "status", "link"],
            ShipmentSent => &[
                "customer_name",
                "order_number",
                "carrier",
                "tracking_number",
                "tracking_link",
            ],
            VolumeThresholdReached => &[
                "customer_name",
                "sim_label",
                "iccid",
                "percent_left",
                "remaining",
                "allowance",
                "link",
            ],
            VolumeExhausted => &["customer_name", "sim_label", "iccid", "allowance", "link"],
            MonthlyLimitReached => &["customer_name", "limit", "reset_date", "link"],
            AutoTopUpCharged => &[
                "customer_name",
                "sim_label",
                "iccid",
                "product",
                "amount",
                "card_last4",
            ],
            AutoTopUpFailed => &[
                "customer_name",
                "sim_label",
                "iccid",
                "product",
                "amount",
                "card_last4",
                "link",
            ],
            SimSwapCompleted => &["customer_name", "phone_number", "new_iccid"],
            SimSwapFailed => &["customer_name", "phone_number", "new_iccid", "link"],
            ApnSettings => &["customer_name", "phone_number", "apn"],
            PasswordReset | EmailConfirmation => &["user_name", "link", "valid_hours"],
            EmailChangeNotice => &["user_name", "new_email"],
            NewLogin => &["user_name", "login_time", "source", "device", "link"],
            TicketReply => &["user_name", "ticket_number", "ticket_subject", "link"],
        }
    }

    /// The recipients of this kind: for a category audience the customer's recipients of that
    /// category (main contact first, ACC-3); for [`Audience::AffectedUser`] only
    /// `affected_user` (none when it is not given).
    pub fn recipients(self, contacts: &ContactEmails, affected_user: Option<&Email>) -> Vec<Email> {
        match self.audience() {
            Audience::Category(category) => contacts.recipients(category),
            Audience::AffectedUser => affected_user.cloned().into_iter().collect(),
        }
    }
}

impl fmt::Display for NotificationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The recipients of every notification kind (ACC-4), for hosts to show and tests to check.
pub const AUDIENCES: [(NotificationKind, Audience); 17] = {
    let mut table = [(NotificationKind::InvoiceIssued, Audience::AffectedUser); 17];
    let mut i = 0;
    while i < NotificationKind::ALL.len() {
        let kind = NotificationKind::ALL[i];
        table[i] = (kind, kind.audience());
        i += 1;
    }
    table
};

/// A notification that usage effects ask for (TOP-3, ACC-5), with the parameters the effects
/// themselves know. The host adds the rest (`customer_name`, `sim_label`, `iccid`,
/// `remaining`, `allowance`, `limit`, `reset_date`, `link`), formatting amounts of `volume` in
/// the recipient's language.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageNotification {
    /// What to send.
    pub kind: NotificationKind,
    /// The kind of volume it is about (data or SMS).
    pub volume: VolumeKind,
    /// `percent_left` for [`NotificationKind::VolumeThresholdReached`]; empty otherwise.
    pub params: Params,
}

/// The notifications the effects of one usage record ask for, in order: the one place that
/// maps [`UsageEffect`]s to notification kinds and parameters.
///
/// - [`UsageEffect::ThresholdReached`] above 0 % → [`NotificationKind::VolumeThresholdReached`]
///   with `percent_left` = the threshold (the share of the volume LEFT, TOP-3); at 0 % →
///   [`NotificationKind::VolumeExhausted`].
/// - [`UsageEffect::MonthlyLimitReached`] and [`UsageEffect::AutoTopUpSkippedMonthlyLimit`] →
///   [`NotificationKind::MonthlyLimitReached`], once per kind and month within `effects` (one
///   record can reach the limit and exhaust the quota at once).
/// - [`UsageEffect::Exhausted`] (its notice is the 0 % threshold), [`UsageEffect::AutoTopUp`]
///   (its notice follows the gateway's answer: [`NotificationKind::AutoTopUpCharged`] or
///   [`NotificationKind::AutoTopUpFailed`]) and [`UsageEffect::Ignored`] → nothing.
///
/// ```
/// use selfcare_core::notifications::{usage_notifications, NotificationKind};
/// use selfcare_core::quota::{Percent, UsageEffect, VolumeKind};
/// let effect = UsageEffect::ThresholdReached {
///     kind: VolumeKind::Data,
///     percent: Percent::new(20).unwrap(),
///     generation: 1,
/// };
/// let notes = usage_notifications(&[effect]);
/// assert_eq!(notes[0].kind, NotificationKind::VolumeThresholdReached);
/// assert_eq!(notes[0].params.get("percent_left"), Some("20"));
/// ```
pub fn usage_notifications(effects: &[UsageEffect]) -> Vec<UsageNotification> {
    let mut monthly_sent = BTreeSet::new();
    let mut out = Vec::new();
    for effect in effects {
        let (kind, volume, params) = match effect {
            UsageEffect::ThresholdReached { kind, percent, .. } if percent.value() == 0 => {
                (NotificationKind::VolumeExhausted, *kind, Params::new())
            }
            UsageEffect::ThresholdReached { kind, percent, .. } => (
                NotificationKind::VolumeThresholdReached,
                *kind,
                Params::new().with("percent_left", percent.value().to_string()),
            ),
            UsageEffect::MonthlyLimitReached { kind, period }
            | UsageEffect::AutoTopUpSkippedMonthlyLimit { kind, period, .. } => {
                if !monthly_sent.insert((*kind, *period)) {
                    continue;
                }
                (NotificationKind::MonthlyLimitReached, *kind, Params::new())
            }
            UsageEffect::Ignored { .. }
            | UsageEffect::Exhausted { .. }
            | UsageEffect::AutoTopUp { .. } => continue,
        };
        out.push(UsageNotification {
            kind,
            volume,
            params,
        });
    }
    out
}

/// The parameter values of one notification, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Params::default()
    }

    /// Adds or replaces `name`.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(name.into(), value.into());
        self
    }

    /// Sets `name`.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.0.insert(name.into(), value.into());
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Params {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Params(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// A rendered notification, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rendered {
    /// One line, no control characters.
    pub subject: String,
    /// Plain text.
    pub body: String,
    /// The language the text is in: the requested one, or English after a fallback.
    pub language: Language,
}

/// A host's subject and body template for one kind and language.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextOverride {
    /// The kind.
    pub kind: NotificationKind,
    /// The language.
    pub language: Language,
    /// Subject template.
    pub subject: String,
    /// Body template.
    pub body: String,
}

/// Host overrides of the built-in texts (ACC-4).
///
/// The text for (kind, language) is looked up in this order: the host's override for that
/// language; the built-in text for that language unless the host withdrew it
/// ([`TextOverrides::withdraw`], e.g. a translation not yet approved by its legal team); the
/// host's English override; the built-in English text. So a missing text falls back to
/// English, and overriding only English leaves German and Hebrew customers with built-in texts
/// in their own language.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "TextOverridesRepr", into = "TextOverridesRepr")]
pub struct TextOverrides {
    texts: BTreeMap<(NotificationKind, Language), (String, String)>,
    withdrawn: BTreeSet<(NotificationKind, Language)>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TextOverridesRepr {
    #[serde(default)]
    texts: Vec<TextOverride>,
    #[serde(default)]
    withdrawn: Vec<(NotificationKind, Language)>,
}

impl TryFrom<TextOverridesRepr> for TextOverrides {
    type Error = Error;
    fn try_from(repr: TextOverridesRepr) -> Result<Self> {
        let mut out = TextOverrides::new();
        for t in repr.texts {
            out.set(t.kind, t.language, &t.subject, &t.body)?;
        }
        for (kind, language) in repr.withdrawn {
            out.withdraw(kind, language);
        }
        Ok(out)
    }
}

impl From<TextOverrides> for TextOverridesRepr {
    fn from(value: TextOverrides) -> Self {
        TextOverridesRepr {
            texts: value
                .texts
                .into_iter()
                .map(|((kind, language), (subject, body))| TextOverride {
                    kind,
                    language,
                    subject,
                    body,
                })
                .collect(),
            withdrawn: value.withdrawn.into_iter().collect(),
        }
    }
}

impl TextOverrides {
    /// No overrides: the built-in texts.
    pub fn new() -> Self {
        TextOverrides::default()
    }

    /// Overrides the text of `kind` in `language`.
    ///
    /// # Errors
    /// [`Error::Validation`] on `subject` or `body`: `Required`, `TooLong`, `InvalidFormat`
    /// (unbalanced braces, a line break in the subject) or `NotificationPlaceholderUnknown`
    /// (a placeholder `kind` does not declare).
    pub fn set(
        &mut self,
        kind: NotificationKind,
        language: Language,
        subject: &str,
        body: &str,
    ) -> Result<()> {
        check_template("subject", kind, subject, SUBJECT_MAX)?;
        if subject.chars().any(char::is_control) {
            return Err(Error::validation(
                "subject",
                ReasonCode::InvalidFormat,
                "must be one line without control characters",
            ));
        }
        check_template("body", kind, body, BODY_MAX)?;
        self.texts
            .insert((kind, language), (subject.to_owned(), body.to_owned()));
        Ok(())
    }

    /// Withdraws the built-in text of `kind` in `language`, so that language falls back to
    /// English unless the host overrides it. Withdrawing English has no effect: the built-in
    /// English text is the last resort.
    pub fn withdraw(&mut self, kind: NotificationKind, language: Language) {
        if language != Language::English {
            self.withdrawn.insert((kind, language));
        }
    }

    /// Removes the override and the withdrawal of (`kind`, `language`).
    pub fn reset(&mut self, kind: NotificationKind, language: Language) {
        self.texts.remove(&(kind, language));
        self.withdrawn.remove(&(kind, language));
    }

    /// The template (subject, body) used for `kind` in `language`, and its language.
    pub fn template(&self, kind: NotificationKind, language: Language) -> (&str, &str, Language) {
        if let Some((s, b)) = self.texts.get(&(kind, language)) {
            return (s, b, language);
        }
        if !self.withdrawn.contains(&(kind, language)) {
            let (s, b) = builtin(kind, language);
            return (s, b, language);
        }
        if let Some((s, b)) = self.texts.get(&(kind, Language::English)) {
            return (s, b, Language::English);
        }
        let (s, b) = builtin(kind, Language::English);
        (s, b, Language::English)
    }
}

/// The built-in subject and body template of `kind` in `language`.
pub const fn builtin(kind: NotificationKind, language: Language) -> (&'static str, &'static str) {
    match language {
        Language::English => en::text(kind),
        Language::German => de::text(kind),
        Language::Hebrew => he::text(kind),
    }
}

/// Renders `kind` for a recipient whose contact language is `language` (ACC-4).
///
/// # Errors
/// [`Error::Validation`] on `params.<name>` with `NotificationParameterMissing` when the text
/// uses a parameter that `params` lacks; `InvalidFormat` on `template` for a malformed
/// template (impossible for built-in and validated override texts).
pub fn render(
    kind: NotificationKind,
    language: Language,
    params: &Params,
    overrides: &TextOverrides,
) -> Result<Rendered> {
    let (subject, body, used) = overrides.template(kind, language);
    Ok(Rendered {
        subject: fill(subject, params, true)?,
        body: fill(body, params, false)?,
        language: used,
    })
}

/// One piece of a parsed template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'a> {
    Literal(&'a str),
    Placeholder(&'a str),
}

/// Splits a template into literals and placeholders. `{{` and `}}` are literal braces; a
/// placeholder is `{` + a snake_case name + `}`; any other brace is an error.
fn parse(template: &str) -> std::result::Result<Vec<Piece<'_>>, &'static str> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(pos) = rest.find(['{', '}']) {
        let (lit, tail) = rest.split_at(pos);
        if !lit.is_empty() {
            pieces.push(Piece::Literal(lit));
        }
        if let Some(after) = tail.strip_prefix("{{") {
            pieces.push(Piece::Literal("{"));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            pieces.push(Piece::Literal("}"));
            rest = after;
        } else if let Some(after) = tail.strip_prefix('{') {
            let end = after.find('}').ok_or("an opening brace is never closed")?;
            let (name, after_name) = after.split_at(end);
            let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return Err(
                    "a placeholder must be a snake_case name in braces, such as {order_number}; write {{ and }} for literal braces",
                );
            }
            pieces.push(Piece::Placeholder(name));
            rest = after_name.get(1..).unwrap_or_default();
        } else {
            return Err("a closing brace has no opening brace; write }} for a literal brace");
        }
    }
    if !rest.is_empty() {
        pieces.push(Piece::Literal(rest));
    }
    Ok(pieces)
}

/// The placeholders of a template, in order of appearance (with repeats).
///
/// # Errors
/// [`Error::Validation`] on `template` with `InvalidFormat` for a malformed template.
pub fn placeholders(template: &str) -> Result<Vec<&str>> {
    let pieces =
        parse(template).map_err(|m| Error::validation("template", ReasonCode::InvalidFormat, m))?;
    Ok(pieces
        .into_iter()
        .filter_map(|p| match p {
            Piece::Placeholder(name) => Some(name),
            Piece::Literal(_) => None,
        })
        .collect())
}

fn check_template(field: &str, kind: NotificationKind, text: &str, max: usize) -> Result<()> {
    if text.trim().is_empty() {
        return Err(Error::validation(
            field,
            ReasonCode::Required,
            "is required",
        ));
    }
    let count = text.chars().count();
    if count > max {
        return Err(Error::validation(
            field,
            ReasonCode::TooLong,
            format!("is {count} characters long; at most {max} are allowed"),
        ));
    }
    let pieces = parse(text).map_err(|m| Error::validation(field, ReasonCode::InvalidFormat, m))?;
    for piece in pieces {
        if let Piece::Placeholder(name) = piece
            && !kind.parameters().contains(&name)
        {
            return Err(Error::validation(
                field,
                ReasonCode::NotificationPlaceholderUnknown,
                format!(
                    "{{{name}}} is not a parameter of {kind}; available: {}",
                    kind.parameters().join(", ")
                ),
            ));
        }
    }
    Ok(())
}

fn fill(template: &str, params: &Params, one_line: bool) -> Result<String> {
    let pieces =
        parse(template).map_err(|m| Error::validation("template", ReasonCode::InvalidFormat, m))?;
    let mut out = String::with_capacity(template.len());
    for piece in pieces {
        match piece {
            Piece::Literal(text) => out.push_str(text),
            Piece::Placeholder(name) => {
                let value = params.get(name).ok_or_else(|| {
                    Error::validation(
                        format!("params.{name}"),
                        ReasonCode::NotificationParameterMissing,
                        format!("the text uses {{{name}}} but no value was given"),
                    )
                })?;
                // A value must not add header lines to a subject, nor terminal escapes to a body.
                out.extend(value.chars().map(|c| {
                    let keep = !c.is_control() || (!one_line && matches!(c, '\n' | '\t'));
                    if keep { c } else { ' ' }
                }));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full_params(kind: NotificationKind) -> Params {
        kind.parameters()
            .iter()
            .map(|p| (*p, format!("<{p}>")))
            .collect()
    }

    #[test]
    fn acc_4_every_kind_has_texts_in_every_language_using_declared_parameters() {
        for kind in NotificationKind::ALL {
            for language in Language::ALL {
                let (subject, body) = builtin(kind, language);
                assert!(!subject.trim().is_empty(), "{kind} {language} subject");
                assert!(!body.trim().is_empty(), "{kind} {language} body");
                assert!(
                    !subject.contains('\n'),
                    "{kind} {language} subject has a line break"
                );
                for text in [subject, body] {
                    for name in placeholders(text).unwrap() {
                        assert!(
                            kind.parameters().contains(&name),
                            "{kind} {language}: {{{name}}} is not declared"
                        );
                    }
                }
                // The same validation a host override gets.
                TextOverrides::new()
                    .set(kind, language, subject, body)
                    .unwrap();
                let out =
                    render(kind, language, &full_params(kind), &TextOverrides::new()).unwrap();
                assert_eq!(out.language, language);
                assert!(
                    !out.body.contains('{'),
                    "{kind} {language} left a placeholder"
                );
            }
        }
    }

    #[test]
    fn acc_4_texts_are_translated_not_copied() {
        for kind in NotificationKind::ALL {
            let en = builtin(kind, Language::English);
            let de = builtin(kind, Language::German);
            let he = builtin(kind, Language::Hebrew);
            assert_ne!(en.1, de.1, "{kind}: German body equals English");
            assert_ne!(en.1, he.1, "{kind}: Hebrew body equals English");
            // Each translation mentions the kind's key parameters the English text mentions.
            let en_names: BTreeSet<_> = placeholders(en.1).unwrap().into_iter().collect();
            for (lang, text) in [("de", de.1), ("he", he.1)] {
                let names: BTreeSet<_> = placeholders(text).unwrap().into_iter().collect();
                assert_eq!(
                    names, en_names,
                    "{kind} {lang} uses other parameters than English"
                );
            }
        }
    }

    #[test]
    fn acc_4_hebrew_texts_contain_hebrew_letters() {
        let hebrew = |s: &str| s.chars().any(|c| ('\u{05D0}'..='\u{05EA}').contains(&c));
        for kind in NotificationKind::ALL {
            let (subject, body) = builtin(kind, Language::Hebrew);
            assert!(hebrew(subject), "{kind} subject: {subject}");
            assert!(hebrew(body), "{kind} body");
            let (s, b) = builtin(kind, Language::German);
            assert!(!hebrew(s) && !hebrew(b));
        }
    }

    #[test]
    fn acc_4_audience_table_matches_the_rule() {
        use EmailCategory as C;
        use NotificationKind as K;
        let expected = [
            (K::InvoiceIssued, Audience::Category(C::Invoice)),
            (K::DocumentAdded, Audience::Category(C::Invoice)),
            (K::AutoTopUpCharged, Audience::Category(C::Invoice)),
            (K::AutoTopUpFailed, Audience::Category(C::Invoice)),
            (
                K::VolumeThresholdReached,
                Audience::Category(C::VolumeNotifications),
            ),
            (
                K::VolumeExhausted,
                Audience::Category(C::VolumeNotifications),
            ),
            (
                K::MonthlyLimitReached,
                Audience::Category(C::VolumeNotifications),
            ),
            (K::OrderStatusChanged, Audience::Category(C::Orders)),
            (K::ShipmentSent, Audience::Category(C::Orders)),
            (K::SimSwapCompleted, Audience::Category(C::Service)),
            (K::SimSwapFailed, Audience::Category(C::Service)),
            (K::ApnSettings, Audience::Category(C::Service)),
            (K::PasswordReset, Audience::AffectedUser),
            (K::EmailConfirmation, Audience::AffectedUser),
            (K::EmailChangeNotice, Audience::AffectedUser),
            (K::NewLogin, Audience::AffectedUser),
            (K::TicketReply, Audience::AffectedUser),
        ];
        assert_eq!(expected.len(), NotificationKind::ALL.len());
        for (kind, audience) in expected {
            assert_eq!(kind.audience(), audience, "{kind}");
            assert!(
                AUDIENCES.contains(&(kind, audience)),
                "{kind} missing in AUDIENCES"
            );
        }
        let names: BTreeSet<_> = NotificationKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), 17);
    }

    #[test]
    fn acc_4_recipients_by_audience() {
        let main = Email::parse("main@acme.example").unwrap();
        let contacts = ContactEmails::new(
            main.clone(),
            vec![
                crate::customer::AdditionalEmail::parse(
                    "acc@acme.example",
                    [EmailCategory::Invoice],
                )
                .unwrap(),
            ],
        )
        .unwrap();
        let user = Email::parse("dana@acme.example").unwrap();
        assert_eq!(
            NotificationKind::InvoiceIssued.recipients(&contacts, Some(&user)),
            vec![main.clone(), Email::parse("acc@acme.example").unwrap()]
        );
        assert_eq!(
            NotificationKind::ShipmentSent.recipients(&contacts, None),
            vec![main]
        );
        assert_eq!(
            NotificationKind::PasswordReset.recipients(&contacts, Some(&user)),
            vec![user]
        );
        assert!(
            NotificationKind::NewLogin
                .recipients(&contacts, None)
                .is_empty()
        );
    }

    #[test]
    fn top_3_threshold_notification_shows_the_percent_left() {
        use crate::customer::MonthPeriod;
        use crate::ids::SimId;
        use crate::numbers::Iccid;
        use crate::quota::*;
        use time::macros::datetime;

        let sim = SimId::new(datetime!(2026-03-01 0:00 UTC), [5; 10]);
        let state = start_generation(&QuotaState::new(sim), VolumeKind::Data, 1_000).unwrap();
        let period = MonthPeriod::new(2026, 3).unwrap();
        let iccid = Iccid::from_payload("898822800000000000").unwrap();
        // 800 of 1 000 used: 20 % is left.
        let record =
            UsageRecord::new("r-1", iccid, datetime!(2026-03-02 10:00 UTC), 800, 0).unwrap();
        let rules = UsageRules {
            period,
            limits: MonthlyLimits::UNLIMITED,
            auto_top_up: false,
            thresholds: &DEFAULT_THRESHOLDS,
        };
        let out = apply_usage(
            &state,
            &MonthlyUsage::new(period),
            &record,
            &Vec::<UsageRecordId>::new(),
            &SentMarks::new(),
            &rules,
        );
        let Some(UsageEffect::ThresholdReached { percent, .. }) = out.effects.first() else {
            panic!("no threshold effect: {:?}", out.effects);
        };
        let quota = out.state.quota(VolumeKind::Data);
        let left = quota.remaining() * 100 / i64::try_from(quota.volume).unwrap();
        assert_eq!(i64::from(percent.value()), left);

        let notes = usage_notifications(&out.effects);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].kind, NotificationKind::VolumeThresholdReached);
        assert_eq!(notes[0].volume, VolumeKind::Data);
        let params = notes[0]
            .params
            .clone()
            .with("customer_name", "Acme")
            .with("sim_label", "Truck 17")
            .with("iccid", "8949111111111111111")
            .with("remaining", "200 MB")
            .with("allowance", "1,000 MB")
            .with("link", "https://portal.example");
        let kind = NotificationKind::VolumeThresholdReached;
        let overrides = TextOverrides::new();
        let en = render(kind, Language::English, &params, &overrides).unwrap();
        assert_eq!(en.subject, "Only 20% of the volume of SIM Truck 17 is left");
        assert!(
            en.body.contains("is left: 200 MB of 1,000 MB"),
            "{}",
            en.body
        );
        let de = render(kind, Language::German, &params, &overrides).unwrap();
        assert_eq!(
            de.subject,
            "Nur noch 20 % des Volumens der SIM Truck 17 verfügbar"
        );
        let he = render(kind, Language::Hebrew, &params, &overrides).unwrap();
        assert!(he.subject.contains("נותרו רק 20%"), "{}", he.subject);
        for text in [&en, &de, &he] {
            // The share used (80) appears nowhere: every language speaks of what is left.
            assert!(!text.subject.contains("80") && !text.body.contains("80"));
            assert!(text.body.contains("20") && text.body.contains("200 MB"));
        }
    }

    #[test]
    fn top_3_usage_effects_map_to_notifications_once() {
        use crate::customer::MonthPeriod;
        use crate::ids::SimId;
        use crate::orders::GatewayKey;
        use crate::quota::Percent;
        let period = MonthPeriod::new(2026, 3).unwrap();
        let sim = SimId::new(time::macros::datetime!(2026-03-01 0:00 UTC), [5; 10]);
        let data = VolumeKind::Data;
        let threshold = |p| UsageEffect::ThresholdReached {
            kind: data,
            percent: Percent::new(p).unwrap(),
            generation: 1,
        };
        let effects = [
            threshold(20),
            threshold(0),
            UsageEffect::MonthlyLimitReached { kind: data, period },
            UsageEffect::Exhausted {
                kind: data,
                generation: 1,
            },
            UsageEffect::AutoTopUpSkippedMonthlyLimit {
                kind: data,
                generation: 1,
                period,
            },
            UsageEffect::AutoTopUp {
                kind: VolumeKind::Sms,
                generation: 2,
                key: GatewayKey::auto_top_up(sim, 2),
            },
        ];
        let kinds: Vec<_> = usage_notifications(&effects)
            .into_iter()
            .map(|n| n.kind)
            .collect();
        assert_eq!(
            kinds,
            vec![
                NotificationKind::VolumeThresholdReached,
                NotificationKind::VolumeExhausted,
                NotificationKind::MonthlyLimitReached,
            ]
        );
        // Skipped alone (the limit was reached by an earlier record) still tells the recipients.
        let skipped = UsageEffect::AutoTopUpSkippedMonthlyLimit {
            kind: data,
            generation: 1,
            period,
        };
        assert_eq!(
            usage_notifications(&[skipped])[0].kind,
            NotificationKind::MonthlyLimitReached
        );
    }

    #[test]
    fn acc_4_missing_parameter_is_an_error() {
        let kind = NotificationKind::OrderStatusChanged;
        let mut params = full_params(kind);
        params.0.remove("status");
        let err = render(kind, Language::English, &params, &TextOverrides::new()).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::NotificationParameterMissing);
        assert_eq!(err.field(), Some("params.status"));
    }

    #[test]
    fn acc_4_values_are_inserted_as_plain_text() {
        let kind = NotificationKind::TicketReply;
        let params = full_params(kind)
            .with("ticket_subject", "Hi {link} {{x}}\r\nBcc: evil@example.com")
            .with("link", "https://portal.example/t/1");
        let out = render(kind, Language::English, &params, &TextOverrides::new()).unwrap();
        assert!(
            out.subject
                .contains("Hi {link} {{x}}  Bcc: evil@example.com"),
            "{}",
            out.subject
        );
        assert!(!out.subject.contains('\n') && !out.subject.contains('\r'));
        assert_eq!(out.body.matches("https://portal.example/t/1").count(), 1);
        assert!(out.body.contains("\"Hi {link} {{x}} \nBcc"), "{}", out.body);
    }

    #[test]
    fn acc_4_hosts_override_texts_per_language() {
        let kind = NotificationKind::ShipmentSent;
        let mut overrides = TextOverrides::new();
        overrides
            .set(
                kind,
                Language::English,
                "Shipped: {order_number}",
                "Tracking {{{tracking_number}}}",
            )
            .unwrap();
        let params = full_params(kind);
        let en = render(kind, Language::English, &params, &overrides).unwrap();
        assert_eq!(en.subject, "Shipped: <order_number>");
        assert_eq!(en.body, "Tracking {<tracking_number>}");
        // German keeps its built-in text: overriding English does not switch languages.
        let de = render(kind, Language::German, &params, &overrides).unwrap();
        assert_eq!(de.language, Language::German);
        assert!(de.subject.starts_with("Ihre Bestellung"));
    }

    #[test]
    fn acc_4_missing_text_falls_back_to_english() {
        let kind = NotificationKind::ApnSettings;
        let params = full_params(kind);
        let mut overrides = TextOverrides::new();
        overrides.withdraw(kind, Language::Hebrew);
        let he = render(kind, Language::Hebrew, &params, &overrides).unwrap();
        assert_eq!(he.language, Language::English);
        assert_eq!(he.subject, "APN settings for <phone_number>");
        // With an English override, the fallback uses the host's English text.
        overrides
            .set(kind, Language::English, "APN {apn}", "Use APN {apn}.")
            .unwrap();
        let he = render(kind, Language::Hebrew, &params, &overrides).unwrap();
        assert_eq!(
            (he.subject.as_str(), he.language),
            ("APN <apn>", Language::English)
        );
        // A Hebrew override wins over the withdrawal.
        overrides
            .set(
                kind,
                Language::Hebrew,
                "APN {apn} הגדרות",
                "הגדירו APN {apn}.",
            )
            .unwrap();
        assert_eq!(
            render(kind, Language::Hebrew, &params, &overrides)
                .unwrap()
                .language,
            Language::Hebrew
        );
        overrides.reset(kind, Language::Hebrew);
        assert_eq!(
            render(kind, Language::Hebrew, &params, &overrides)
                .unwrap()
                .subject,
            "הגדרות APN עבור <phone_number>"
        );
    }

    #[test]
    fn acc_4_overrides_are_validated() {
        let mut o = TextOverrides::new();
        let k = NotificationKind::PasswordReset;
        let err = o
            .set(k, Language::German, "Reset {password}", "x")
            .unwrap_err();
        assert_eq!(err.reason(), ReasonCode::NotificationPlaceholderUnknown);
        for (subject, body) in [
            ("a {link", "b"),
            ("a", "b } c"),
            ("a", "{Link}"),
            ("a\nb", "c"),
            ("", "c"),
        ] {
            assert!(
                o.set(k, Language::German, subject, body).is_err(),
                "{subject:?} {body:?}"
            );
        }
        o.set(k, Language::German, "Neues Passwort", "{link}")
            .unwrap();
        let json = serde_json::to_string(&o).unwrap();
        let back: TextOverrides = serde_json::from_str(&json).unwrap();
        assert_eq!(back, o);
        let bad = r#"{"texts":[{"kind":"password_reset","language":"de","subject":"{secret}","body":"x"}]}"#;
        assert!(serde_json::from_str::<TextOverrides>(bad).is_err());
    }

    proptest! {
        #[test]
        fn acc_4_render_never_expands_values(value in "\\PC{0,40}", lang in prop::sample::select(Language::ALL.to_vec())) {
            let kind = NotificationKind::DocumentAdded;
            let params = full_params(kind).with("document_name", value.clone());
            let out = render(kind, lang, &params, &TextOverrides::new()).unwrap();
            prop_assert!(out.body.contains(&value));
            prop_assert!(out.body.contains("<link>"));
        }
    }
}
