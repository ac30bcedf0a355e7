//! Shipments of an order (ORD-4): carrier, tracking number, tracking link and status.

use std::fmt;

use crate::error::{Error, ReasonCode, Result, text_field};
use crate::ids::ShipmentId;

/// Longest URL accepted for a tracking link or template.
const URL_MAX: usize = 2048;
/// The placeholder a carrier template carries once.
pub const TRACKING_PLACEHOLDER: &str = "{tracking}";

/// A tracking number: 1 to 64 letters, digits or dashes, stored upper case. The narrow shape is
/// what lets it be put into a URL without escaping.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingNumber(String);

impl TrackingNumber {
    /// Parses a tracking number; inner spaces are dropped.
    ///
    /// # Errors
    /// [`Error::Validation`] on `tracking_number` with `Required`, `TooLong` or
    /// `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let n: String = raw
            .chars()
            .filter(|c| *c != ' ')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let field = "tracking_number";
        if n.is_empty() {
            return Err(Error::validation(
                field,
                ReasonCode::Required,
                "is required",
            ));
        }
        if n.len() > 64 {
            return Err(Error::validation(
                field,
                ReasonCode::TooLong,
                "is longer than 64 characters",
            ));
        }
        if !n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(Error::validation(
                field,
                ReasonCode::InvalidFormat,
                "may contain only letters, digits and '-'",
            ));
        }
        Ok(TrackingNumber(n))
    }

    /// The number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrackingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for TrackingNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrackingNumber({})", self.0)
    }
}
impl TryFrom<String> for TrackingNumber {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<TrackingNumber> for String {
    fn from(value: TrackingNumber) -> String {
        value.0
    }
}

/// Checks the shape of an https URL: scheme `https://`, a host, at most 2048 characters, no
/// whitespace, control characters or characters that must be escaped (`"<>\^`{|}`), so the
/// link is safe to put into an `href` and an e-mail.
fn check_https_url(field: &str, url: &str) -> Result<()> {
    let bad = || {
        Error::validation(
            field,
            ReasonCode::TrackingLinkInvalid,
            "must be an https:// URL without spaces or control characters",
        )
    };
    if url.len() > URL_MAX {
        return Err(Error::validation(
            field,
            ReasonCode::TooLong,
            format!("is longer than {URL_MAX} characters"),
        ));
    }
    let rest = url
        .get(..8)
        .filter(|s| s.eq_ignore_ascii_case("https://"))
        .and_then(|_| url.get(8..))
        .ok_or_else(bad)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_ok = !host.is_empty()
        && !host.contains('@')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'));
    let chars_ok = url
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '<' | '>' | '\\' | '^' | '`' | '|'))
        && !url.contains(['{', '}']);
    if host_ok && chars_ok {
        Ok(())
    } else {
        Err(bad())
    }
}

/// A tracking link: a checked https URL (see [`TrackingTemplate`] for how it is built).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingLink(String);

impl TrackingLink {
    /// Parses a link given directly (staff pasting the carrier's link).
    ///
    /// # Errors
    /// [`Error::Validation`] on `tracking_link` with `TrackingLinkInvalid` or `TooLong`.
    pub fn parse(raw: &str) -> Result<Self> {
        let url = raw.trim();
        check_https_url("tracking_link", url)?;
        Ok(TrackingLink(url.to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrackingLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for TrackingLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrackingLink({})", self.0)
    }
}
impl TryFrom<String> for TrackingLink {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<TrackingLink> for String {
    fn from(value: TrackingLink) -> String {
        value.0
    }
}

/// A carrier's tracking-link template from the configuration: an https URL with
/// `{tracking}` exactly once, e.g. `https://track.example/?id={tracking}`.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TrackingTemplate(String);

impl TrackingTemplate {
    /// Parses a template.
    ///
    /// # Errors
    /// [`Error::Validation`] on `tracking_template` with `TrackingLinkInvalid` (not https,
    /// bad characters, placeholder missing or repeated) or `TooLong`.
    pub fn parse(raw: &str) -> Result<Self> {
        let t = raw.trim();
        let field = "tracking_template";
        if t.matches(TRACKING_PLACEHOLDER).count() != 1 {
            return Err(Error::validation(
                field,
                ReasonCode::TrackingLinkInvalid,
                format!("must contain {TRACKING_PLACEHOLDER} exactly once"),
            ));
        }
        check_https_url(field, &t.replace(TRACKING_PLACEHOLDER, "X"))?;
        Ok(TrackingTemplate(t.to_owned()))
    }

    /// The link for `number`.
    ///
    /// # Errors
    /// [`Error::Validation`] on `tracking_link` with `TooLong` when the result exceeds the URL
    /// limit.
    pub fn link(&self, number: &TrackingNumber) -> Result<TrackingLink> {
        TrackingLink::parse(&self.0.replace(TRACKING_PLACEHOLDER, number.as_str()))
    }
}

impl fmt::Debug for TrackingTemplate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrackingTemplate({})", self.0)
    }
}
impl TryFrom<String> for TrackingTemplate {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<TrackingTemplate> for String {
    fn from(value: TrackingTemplate) -> String {
        value.0
    }
}

/// Where a shipment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ShipmentStatus {
    /// Being packed; not yet with the carrier.
    Preparing,
    /// Handed to the carrier.
    Shipped,
    /// Moving through the carrier's network.
    InTransit,
    /// Delivered.
    Delivered,
    /// Sent back to the provider.
    Returned,
    /// Lost by the carrier.
    Lost,
}

impl ShipmentStatus {
    /// Every value.
    pub const ALL: [ShipmentStatus; 6] = [
        ShipmentStatus::Preparing,
        ShipmentStatus::Shipped,
        ShipmentStatus::InTransit,
        ShipmentStatus::Delivered,
        ShipmentStatus::Returned,
        ShipmentStatus::Lost,
    ];

    /// The stable snake_case name, as serialised.
    pub const fn as_str(self) -> &'static str {
        match self {
            ShipmentStatus::Preparing => "preparing",
            ShipmentStatus::Shipped => "shipped",
            ShipmentStatus::InTransit => "in_transit",
            ShipmentStatus::Delivered => "delivered",
            ShipmentStatus::Returned => "returned",
            ShipmentStatus::Lost => "lost",
        }
    }
}

impl fmt::Display for ShipmentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A shipment of an order (ORD-4).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shipment {
    /// Its id.
    pub id: ShipmentId,
    /// Carrier name (1 to 80 characters).
    pub carrier: String,
    /// The carrier's tracking number.
    pub tracking_number: TrackingNumber,
    /// The tracking link, when the carrier has one.
    pub tracking_link: Option<TrackingLink>,
    /// Where it is.
    pub status: ShipmentStatus,
}

impl Shipment {
    /// A shipment. The link is `link` if given, else built from `template` if the carrier has
    /// one, else absent.
    ///
    /// # Errors
    /// [`Error::Validation`] on `carrier` (empty, too long, control characters) or from
    /// building the link.
    pub fn new(
        id: ShipmentId,
        carrier: &str,
        tracking_number: TrackingNumber,
        link: Option<TrackingLink>,
        template: Option<&TrackingTemplate>,
        status: ShipmentStatus,
    ) -> Result<Self> {
        let carrier = text_field("carrier", carrier, 80, true, false)?;
        let tracking_link = match (link, template) {
            (Some(link), _) => Some(link),
            (None, Some(t)) => Some(t.link(&tracking_number)?),
            (None, None) => None,
        };
        Ok(Shipment {
            id,
            carrier,
            tracking_number,
            tracking_link,
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ord_4_shipment_status_names_are_the_serde_names() {
        for value in ShipmentStatus::ALL {
            let json = serde_json::to_string(&value).unwrap();
            assert_eq!(json, format!("\"{}\"", value.as_str()));
            assert_eq!(value.to_string(), value.as_str());
        }
    }
    use time::macros::datetime;

    #[test]
    fn ord_4_tracking_link_from_carrier_template() {
        let t = TrackingTemplate::parse("https://www.dhl.de/track?piececode={tracking}").unwrap();
        let n = TrackingNumber::parse("00340 4341234567").unwrap();
        assert_eq!(
            t.link(&n).unwrap().as_str(),
            "https://www.dhl.de/track?piececode=003404341234567"
        );
        let s = Shipment::new(
            ShipmentId::new(datetime!(2026-01-01 0:00 UTC), [1; 10]),
            "DHL",
            n,
            None,
            Some(&t),
            ShipmentStatus::Shipped,
        )
        .unwrap();
        assert!(s.tracking_link.is_some());
    }

    #[test]
    fn ord_4_tracking_links_are_https_without_control_characters() {
        for bad in [
            "http://track.example/1",
            "javascript:alert(1)",
            "https://",
            "https://track.example/a b",
            "https://track.example/\u{0}",
            "https://track.example/\r\nX: y",
            "https://user@evil.example/",
            "https://track.example/\"><script>",
            "https://träck.example/",
        ] {
            assert!(TrackingLink::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(TrackingLink::parse("https://track.example:8443/p?id=1#x").is_ok());
        assert!(TrackingTemplate::parse("https://t.example/").is_err());
        assert!(TrackingTemplate::parse("https://t.example/{tracking}/{tracking}").is_err());
        assert!(TrackingTemplate::parse("http://t.example/{tracking}").is_err());
        assert!(TrackingNumber::parse("12/34").is_err());
        assert!(TrackingNumber::parse("  ").is_err());
    }
}
