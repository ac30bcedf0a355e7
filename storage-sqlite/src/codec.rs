//! How values are written to columns: ids as 16-byte BLOBs (UUID v7 bytes sort by time, so
//! keyset pages by id are in creation order), instants as INTEGER nanoseconds since the epoch,
//! versions as INTEGER, money as INTEGER minor units beside a TEXT currency, and aggregates the
//! store does not query inside as JSON in a `body` column (the queried fields are columns of
//! their own, with the indexes the list queries need).

use selfcare_storage::{StoreError, StoreResult};
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

pub(crate) use selfcare_storage::sql::values::{
    body, from_body, instant, instant_from, version, version_from,
};
