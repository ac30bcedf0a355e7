//! The JSON form of times, for `#[serde(with = "...")]` on the fields of every serde type in the
//! workspace (DESIGN §4): an instant is an RFC 3339 string with its full sub-second precision
//! (`"2025-03-01T12:00:00.123456789Z"`, trailing zeros of the fraction dropped), a plan or
//! document date is ISO 8601 `"YYYY-MM-DD"`. Both read back exactly what they wrote; time's own
//! default form (a tuple of integers) is never on the wire or in a stored body.
//!
//! ```
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Stamp {
//!     #[serde(with = "selfcare_core::formats::instant")]
//!     at: time::OffsetDateTime,
//!     #[serde(with = "selfcare_core::formats::date")]
//!     on: time::Date,
//! }
//! let stamp = Stamp {
//!     at: time::macros::datetime!(2025-03-01 12:00:00.5 UTC),
//!     on: time::macros::date!(2025 - 03 - 01),
//! };
//! let json = serde_json::to_string(&stamp).unwrap();
//! assert_eq!(json, r#"{"at":"2025-03-01T12:00:00.5Z","on":"2025-03-01"}"#);
//! ```

/// An `OffsetDateTime` as an RFC 3339 string, nanoseconds included.
///
/// Serialising fails for an instant RFC 3339 cannot write: a year outside 0..=9999 or an offset
/// with seconds.
pub mod instant {
    use serde::{Deserializer, Serializer};
    use time::OffsetDateTime;

    /// Writes `at` as RFC 3339.
    ///
    /// # Errors
    /// The serializer's error, also for an instant RFC 3339 cannot represent.
    pub fn serialize<S: Serializer>(at: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::serialize(at, serializer)
    }

    /// Reads an RFC 3339 string.
    ///
    /// # Errors
    /// The deserializer's error, also for a string that is not RFC 3339.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<OffsetDateTime, D::Error> {
        time::serde::rfc3339::deserialize(deserializer)
    }

    /// An `Option<OffsetDateTime>`: `null` or an RFC 3339 string. Pair it with
    /// `#[serde(default)]` so that a missing field still reads as `None`.
    pub mod option {
        use serde::{Deserializer, Serializer};
        use time::OffsetDateTime;

        /// Writes `at` as `null` or RFC 3339.
        ///
        /// # Errors
        /// As [`super::serialize`].
        pub fn serialize<S: Serializer>(
            at: &Option<OffsetDateTime>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            time::serde::rfc3339::option::serialize(at, serializer)
        }

        /// Reads `null` or an RFC 3339 string.
        ///
        /// # Errors
        /// As [`super::deserialize`].
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<OffsetDateTime>, D::Error> {
            time::serde::rfc3339::option::deserialize(deserializer)
        }
    }
}

/// Bytes (a PDF, a CSV file) as one standard base64 string (RFC 4648, with padding), so a
/// document costs 4/3 of its size on the wire instead of a JSON array of numbers.
pub mod base64 {
    use std::fmt;

    use data_encoding::BASE64;
    use serde::de::Visitor;
    use serde::{Deserializer, Serializer};

    /// Writes `bytes` as base64.
    ///
    /// # Errors
    /// The serializer's error.
    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(bytes))
    }

    /// Reads a base64 string.
    ///
    /// # Errors
    /// The deserializer's error, also for a string that is not padded standard base64.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        deserializer.deserialize_str(Base64Visitor)
    }

    struct Base64Visitor;

    impl Visitor<'_> for Base64Visitor {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("bytes as a base64 string")
        }

        fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<Vec<u8>, E> {
            BASE64
                .decode(raw.as_bytes())
                .map_err(|e| E::custom(format_args!("not base64: {e}")))
        }
    }
}

/// A calendar `Date` as an ISO 8601 `"YYYY-MM-DD"` string.
pub mod date {
    use std::fmt;

    use serde::de::Visitor;
    use serde::ser::Error as _;
    use serde::{Deserializer, Serializer};
    use time::Date;
    use time::format_description::BorrowedFormatItem;

    const FORMAT: &[BorrowedFormatItem<'static>] =
        time::macros::format_description!("[year]-[month]-[day]");

    /// Writes `date` as `YYYY-MM-DD`.
    ///
    /// # Errors
    /// The serializer's error, also for a date the format cannot write.
    pub fn serialize<S: Serializer>(date: &Date, serializer: S) -> Result<S::Ok, S::Error> {
        let text = date.format(FORMAT).map_err(S::Error::custom)?;
        serializer.serialize_str(&text)
    }

    /// Reads a `YYYY-MM-DD` string.
    ///
    /// # Errors
    /// The deserializer's error, also for a string that is not a valid `YYYY-MM-DD` date.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        deserializer.deserialize_str(DateVisitor)
    }

    struct DateVisitor;

    impl Visitor<'_> for DateVisitor {
        type Value = Date;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a date as YYYY-MM-DD")
        }

        fn visit_str<E: serde::de::Error>(self, raw: &str) -> Result<Date, E> {
            Date::parse(raw, FORMAT).map_err(E::custom)
        }
    }

    /// An `Option<Date>`: `null` or a `YYYY-MM-DD` string. Pair it with `#[serde(default)]` so
    /// that a missing field still reads as `None`.
    pub mod option {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};
        use time::Date;

        struct Out<'a>(&'a Date);

        impl Serialize for Out<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                super::serialize(self.0, serializer)
            }
        }

        struct In(Date);

        impl<'de> Deserialize<'de> for In {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                super::deserialize(deserializer).map(In)
            }
        }

        /// Writes `date` as `null` or `YYYY-MM-DD`.
        ///
        /// # Errors
        /// As [`super::serialize`].
        pub fn serialize<S: Serializer>(
            date: &Option<Date>,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            match date {
                Some(date) => serializer.serialize_some(&Out(date)),
                None => serializer.serialize_none(),
            }
        }

        /// Reads `null` or a `YYYY-MM-DD` string.
        ///
        /// # Errors
        /// As [`super::deserialize`].
        pub fn deserialize<'de, D: Deserializer<'de>>(
            deserializer: D,
        ) -> Result<Option<Date>, D::Error> {
            Ok(Option::<In>::deserialize(deserializer)?.map(|In(date)| date))
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};
    use time::{Date, OffsetDateTime};

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Times {
        #[serde(with = "super::instant")]
        at: OffsetDateTime,
        #[serde(default, with = "super::instant::option")]
        maybe_at: Option<OffsetDateTime>,
        #[serde(with = "super::date")]
        on: Date,
        #[serde(default, with = "super::date::option")]
        maybe_on: Option<Date>,
    }

    #[test]
    fn an_instant_with_nanoseconds_is_an_rfc3339_string_that_round_trips_exactly() {
        let at = datetime!(2025-03-01 12:34:56.123456789 UTC);
        let json = serde_json::to_value(Times {
            at,
            maybe_at: Some(at),
            on: date!(2025 - 03 - 01),
            maybe_on: None,
        })
        .unwrap();
        assert_eq!(json["at"], "2025-03-01T12:34:56.123456789Z");
        assert_eq!(json["maybe_at"], "2025-03-01T12:34:56.123456789Z");
        let back: Times = serde_json::from_value(json).unwrap();
        assert_eq!(back.at, at);
        assert_eq!(back.at.nanosecond(), 123_456_789);
        assert_eq!(back.maybe_at, Some(at));
    }

    #[test]
    fn every_nanosecond_and_offset_survives_the_round_trip() {
        for (at, text) in [
            (datetime!(2025-03-01 00:00 UTC), "2025-03-01T00:00:00Z"),
            (
                datetime!(2025-03-01 00:00:00.000000001 UTC),
                "2025-03-01T00:00:00.000000001Z",
            ),
            (
                datetime!(2025-03-01 00:00:00.1 UTC),
                "2025-03-01T00:00:00.1Z",
            ),
            (
                datetime!(2025-03-01 23:59:59.999999999 +02:00),
                "2025-03-01T23:59:59.999999999+02:00",
            ),
        ] {
            let json = serde_json::to_string(&Times {
                at,
                maybe_at: None,
                on: date!(2025 - 03 - 01),
                maybe_on: None,
            })
            .unwrap();
            assert!(json.contains(&format!("\"at\":\"{text}\"")), "{json}");
            let back: Times = serde_json::from_str(&json).unwrap();
            assert_eq!(back.at, at);
            assert_eq!(back.at.offset(), at.offset());
            assert_eq!(back.at.nanosecond(), at.nanosecond());
        }
    }

    #[test]
    fn a_date_is_yyyy_mm_dd_and_round_trips() {
        let on = date!(2026 - 01 - 09);
        let times = Times {
            at: datetime!(2026-01-09 00:00 UTC),
            maybe_at: None,
            on,
            maybe_on: Some(date!(0987 - 12 - 31)),
        };
        let json = serde_json::to_value(&times).unwrap();
        assert_eq!(json["on"], "2026-01-09");
        assert_eq!(json["maybe_on"], "0987-12-31");
        assert_eq!(json["maybe_at"], serde_json::Value::Null);
        assert_eq!(serde_json::from_value::<Times>(json).unwrap(), times);
    }

    #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Pdf {
        #[serde(with = "super::base64")]
        bytes: Vec<u8>,
    }

    #[test]
    fn bytes_are_one_base64_string_and_read_back_equal() {
        let pdf = Pdf {
            bytes: b"%PDF-1.7\n\x00\xff".to_vec(),
        };
        let json = serde_json::to_string(&pdf).unwrap();
        assert_eq!(json, r#"{"bytes":"JVBERi0xLjcKAP8="}"#);
        assert_eq!(serde_json::from_str::<Pdf>(&json).unwrap(), pdf);
        for bad in [
            r#"{"bytes":"JVBERi0xLjcKAP8"}"#,
            r#"{"bytes":[37,80]}"#,
            r#"{"bytes":"%%%"}"#,
        ] {
            assert!(serde_json::from_str::<Pdf>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn missing_optional_times_read_as_none_and_malformed_times_are_rejected() {
        let back: Times =
            serde_json::from_str(r#"{"at":"2025-03-01T00:00:00Z","on":"2025-03-01"}"#).unwrap();
        assert_eq!((back.maybe_at, back.maybe_on), (None, None));
        for bad in [
            r#"{"at":"2025-03-01 00:00:00","on":"2025-03-01"}"#,
            r#"{"at":[2025,60,0,0,0,0,0,0,0],"on":"2025-03-01"}"#,
            r#"{"at":"2025-03-01T00:00:00Z","on":"2025-3-1"}"#,
            r#"{"at":"2025-03-01T00:00:00Z","on":"2025-02-30"}"#,
            r#"{"at":"2025-03-01T00:00:00Z","on":"2025-03-01T00:00:00Z"}"#,
            r#"{"at":"2025-03-01T00:00:00Z","on":[2025,60]}"#,
        ] {
            assert!(serde_json::from_str::<Times>(bad).is_err(), "{bad}");
        }
    }
}
