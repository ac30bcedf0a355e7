//! How values are written to columns: ids as 16-byte BLOBs (UUID v7 bytes sort by time, so
//! keyset pages by id are in creation order), instants as INTEGER nanoseconds since the epoch,
//! versions as INTEGER, money as INTEGER minor units beside a TEXT currency, and aggregates the
//! store does not query inside as JSON in a `body` column (the queried fields are columns of
//! their own, with the indexes the list queries need).

use selfcare_storage::{StoreError, StoreResult, Version};
use time::OffsetDateTime;
use uuid::Uuid;

/// The BLOB of a UUID.
pub(crate) fn id_bytes(uuid: Uuid) -> [u8; 16] {
    *uuid.as_bytes()
}

/// A UUID read back from a BLOB column.
pub(crate) fn uuid_from(bytes: &[u8]) -> StoreResult<Uuid> {
    Uuid::from_slice(bytes).map_err(|_| StoreError::Corrupt {
        what: "an id column".into(),
    })
}

/// An instant as nanoseconds since the epoch (representable until the year 2262).
pub(crate) fn instant(at: OffsetDateTime) -> StoreResult<i64> {
    i64::try_from(at.unix_timestamp_nanos()).map_err(|_| StoreError::InvalidInput {
        what: "an instant beyond the year 2262",
    })
}

/// An instant read back.
pub(crate) fn instant_from(nanos: i64) -> StoreResult<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(nanos)).map_err(|_| StoreError::Corrupt {
        what: "an instant column".into(),
    })
}

/// A version as a column value.
pub(crate) fn version(v: Version) -> StoreResult<i64> {
    i64::try_from(v.0).map_err(|_| StoreError::Internal {
        reason: "a version beyond i64".into(),
    })
}

/// A version read back.
pub(crate) fn version_from(v: i64) -> StoreResult<Version> {
    u64::try_from(v)
        .map(Version)
        .map_err(|_| StoreError::Corrupt {
            what: "a version column".into(),
        })
}

/// The JSON body of an aggregate.
pub(crate) fn body<T: serde::Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| StoreError::Internal {
        reason: format!("cannot encode a row: {e}"),
    })
}

/// An aggregate read back from its JSON body.
pub(crate) fn from_body<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    what: &str,
) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(|_| StoreError::Corrupt {
        what: format!("a stored {what}"),
    })
}
