//! Typed column reads and enum columns: what a row holds is checked as it is read, and a value
//! that does not decode is `StoreError::Corrupt`, never a panic.

use rusqlite::{Connection, Row};
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use time::OffsetDateTime;
use uuid::Uuid;

pub(crate) use selfcare_storage::sql::values::{enum_from, enum_text};

use crate::codec::{instant, instant_from, uuid_from};
use crate::error::sql;

fn corrupt_column(what: &str) -> StoreError {
    StoreError::Corrupt {
        what: format!("the column {what}"),
    }
}

/// The BLOB in column `i` (named `what` in errors).
pub(crate) fn col_blob<'r>(r: &'r Row<'_>, i: usize, what: &str) -> StoreResult<&'r [u8]> {
    r.get_ref(i)
        .ok()
        .and_then(|v| v.as_blob().ok())
        .ok_or_else(|| corrupt_column(what))
}

/// The id in column `i`.
pub(crate) fn col_uuid(r: &Row<'_>, i: usize, what: &str) -> StoreResult<Uuid> {
    uuid_from(col_blob(r, i, what)?)
}

/// The text in column `i`.
pub(crate) fn col_text<'r>(r: &'r Row<'_>, i: usize, what: &str) -> StoreResult<&'r str> {
    r.get_ref(i)
        .ok()
        .and_then(|v| v.as_str().ok())
        .ok_or_else(|| corrupt_column(what))
}

/// The text in column `i`, or `None` for NULL.
pub(crate) fn col_opt_text<'r>(
    r: &'r Row<'_>,
    i: usize,
    what: &str,
) -> StoreResult<Option<&'r str>> {
    r.get_ref(i)
        .ok()
        .and_then(|v| v.as_str_or_null().ok())
        .ok_or_else(|| corrupt_column(what))
}

/// The integer in column `i`.
pub(crate) fn col_int(r: &Row<'_>, i: usize, what: &str) -> StoreResult<i64> {
    r.get_ref(i)
        .ok()
        .and_then(|v| v.as_i64().ok())
        .ok_or_else(|| corrupt_column(what))
}

/// The integer in column `i`, or `None` for NULL.
pub(crate) fn col_opt_int(r: &Row<'_>, i: usize, what: &str) -> StoreResult<Option<i64>> {
    r.get_ref(i)
        .ok()
        .and_then(|v| v.as_i64_or_null().ok())
        .ok_or_else(|| corrupt_column(what))
}

/// The instant in column `i`, or `None` for NULL.
pub(crate) fn col_opt_instant(
    r: &Row<'_>,
    i: usize,
    what: &str,
) -> StoreResult<Option<OffsetDateTime>> {
    col_opt_int(r, i, what)?.map(instant_from).transpose()
}

/// An optional instant as a column value.
pub(crate) fn opt_instant(at: Option<OffsetDateTime>) -> StoreResult<Option<i64>> {
    at.map(instant).transpose()
}

/// Runs `f` inside a savepoint: when it fails, everything it wrote is undone and the
/// transaction goes on (all-or-nothing batches).
pub(crate) fn all_or_nothing<R>(
    c: &Connection,
    name: &'static str,
    f: impl FnOnce(&Connection) -> StoreResult<R>,
) -> StoreResult<R> {
    c.execute_batch(&format!("SAVEPOINT {name}")).map_err(sql)?;
    match f(c) {
        Ok(out) => {
            c.execute_batch(&format!("RELEASE {name}")).map_err(sql)?;
            Ok(out)
        }
        Err(e) => {
            c.execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}"))
                .map_err(sql)?;
            Err(e)
        }
    }
}
