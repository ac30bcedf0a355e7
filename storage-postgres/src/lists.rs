//! Keyset pages of one index range. Each list has two statements: the first page, and the
//! page after a cursor, which binds the cursor's id just before the limit (no sentinel bound
//! for the first page, so no id can be left out). Both end in `LIMIT` one row more than the
//! page, so the store knows whether another page follows.

use selfcare_storage::StoreResult;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres};
use uuid::Uuid;

use crate::columns::fetch_limit;
use crate::error::sql;

/// The two statements of one list: `first` binds (leading parameters…, limit), `after`
/// binds (leading parameters…, cursor id, limit).
pub(crate) struct Keyset {
    pub(crate) first: &'static str,
    pub(crate) after: &'static str,
}

impl Keyset {
    /// The rows of the page after `cursor` (from the start when `None`): at most `limit` + 1.
    /// `bind` binds the leading parameters, the same for both statements.
    pub(crate) async fn rows<'q>(
        &self,
        c: &mut PgConnection,
        bind: impl FnOnce(Query<'q, Postgres, PgArguments>) -> Query<'q, Postgres, PgArguments>,
        cursor: Option<Uuid>,
        limit: usize,
    ) -> StoreResult<Vec<PgRow>> {
        let query = match cursor {
            None => bind(sqlx::query(self.first)),
            Some(id) => bind(sqlx::query(self.after)).bind(id),
        };
        query
            .bind(fetch_limit(limit))
            .fetch_all(c)
            .await
            .map_err(sql)
    }
}
