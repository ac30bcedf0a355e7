//! Typed column reads (a value that does not decode is `StoreError::Corrupt`, never a panic)
//! and the encodings shared with the SQLite store.

use selfcare_storage::{StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::{Decode, Postgres, Row, Type};
use time::OffsetDateTime;

pub(crate) use selfcare_storage::sql::keyset::{
    checked_count, decode_cursor, encode_cursor, fetch_limit, id_after, id_cursor, page_of,
    pair_after, pair_cursor,
};
pub(crate) use selfcare_storage::sql::values::{
    body, enum_from, enum_text, from_body, instant, instant_from, version, version_from,
};

/// The value of `column` in `row`.
pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> StoreResult<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(column).map_err(|_| StoreError::Corrupt {
        what: format!("the column {column}"),
    })
}

/// The value of the `index`th column of `row` (named `what` in errors): for the hot loop of
/// the export, where looking columns up by name costs more than decoding them.
pub(crate) fn get_at<'r, T>(row: &'r PgRow, index: usize, what: &str) -> StoreResult<T>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(index).map_err(|_| StoreError::Corrupt {
        what: format!("the column {what}"),
    })
}

/// The instant in `column` (nanoseconds since the epoch).
pub(crate) fn get_instant(row: &PgRow, column: &str) -> StoreResult<OffsetDateTime> {
    instant_from(get::<i64>(row, column)?)
}

/// The instant in `column`, or `None` for NULL.
pub(crate) fn get_opt_instant(row: &PgRow, column: &str) -> StoreResult<Option<OffsetDateTime>> {
    get::<Option<i64>>(row, column)?
        .map(instant_from)
        .transpose()
}

/// An optional instant as a column value.
pub(crate) fn opt_instant(at: Option<OffsetDateTime>) -> StoreResult<Option<i64>> {
    at.map(instant).transpose()
}

/// The version in `column`.
pub(crate) fn get_version(row: &PgRow, column: &str) -> StoreResult<selfcare_storage::Version> {
    version_from(get::<i64>(row, column)?)
}
