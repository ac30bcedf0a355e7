//! How SQL stores write values to columns: instants as 64-bit nanoseconds since the epoch
//! (exact, and sortable as integers), versions as 64-bit integers, unit enums as their serde
//! names, and aggregates the store does not query inside as JSON bodies. A value read back
//! that does not decode is `StoreError::Corrupt`, never a panic.

use time::OffsetDateTime;

use crate::error::{StoreError, StoreResult};
use crate::version::Version;

/// An instant as nanoseconds since the epoch (representable until the year 2262).
pub fn instant(at: OffsetDateTime) -> StoreResult<i64> {
    i64::try_from(at.unix_timestamp_nanos()).map_err(|_| StoreError::InvalidInput {
        what: "an instant beyond the year 2262",
    })
}

/// An instant read back.
pub fn instant_from(nanos: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).map_err(|_| StoreError::Corrupt {
        what: "an instant column".into(),
    })
}

/// A version as a column value.
pub fn version(v: Version) -> StoreResult<i64> {
    i64::try_from(v.0).map_err(|_| StoreError::Internal {
        reason: "a version beyond i64".into(),
    })
}

/// A version read back.
pub fn version_from(v: i64) -> StoreResult<Version> {
    u64::try_from(v)
        .map(Version)
        .map_err(|_| StoreError::Corrupt {
            what: "a version column".into(),
        })
}

/// The JSON body of an aggregate.
pub fn body<T: serde::Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Internal {
        reason: format!("cannot encode a row: {e}"),
    })
}

/// An aggregate read back from its JSON body.
pub fn from_body<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|_| StoreError::Corrupt {
        what: format!("a stored {what}"),
    })
}

/// A unit enum's serde name (`"in_progress"`), as stored in a TEXT column.
pub fn enum_text<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => Ok(s),
        _ => Err(StoreError::Internal {
            reason: "an enum column that is not a name".into(),
        }),
    }
}

/// A unit enum read back from its serde name.
pub fn enum_from<T: serde::de::DeserializeOwned>(raw: &str, what: &str) -> StoreResult<T> {
    serde_json::from_value(serde_json::Value::String(raw.to_owned())).map_err(|_| {
        StoreError::Corrupt {
            what: format!("a stored {what}"),
        }
    })
}
