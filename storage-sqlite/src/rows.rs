//! Statements shared by the areas: versioned aggregates stored as a JSON `body` beside their
//! key and `version` columns. Table names are the areas' own constants, never input.
//!
//! Two shapes:
//! - one row per organisation (`org_id` primary key): the address book, payment settings;
//! - rows keyed by `(org_id, id)`: everything else with a version.
//!
//! Every statement filters by the organisation, so a row of another organisation is never
//! read, changed, or even reported as existing.

use rusqlite::{Connection, OptionalExtension, params};
use selfcare_storage::{StoreError, StoreResult, Version, Versioned};
use uuid::Uuid;

use crate::codec::{body, from_body, id_bytes, version, version_from};
use crate::error::{is_unique_violation, sql};

/// The organisation's row of a one-row-per-organisation table.
pub(crate) fn singleton<T: serde::de::DeserializeOwned>(
    c: &Connection,
    table: &'static str,
    org: Uuid,
) -> StoreResult<Option<Versioned<T>>> {
    let row: Option<(i64, Vec<u8>)> = c
        .prepare_cached(&format!(
            "SELECT version, body FROM {table} WHERE org_id = ?1"
        ))
        .map_err(sql)?
        .query_row(params![id_bytes(org)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(sql)?;
    row.map(|(v, b)| {
        Ok(Versioned {
            value: from_body(&b, table)?,
            version: version_from(v)?,
        })
    })
    .transpose()
}

/// Inserts the organisation's first row at [`Version::FIRST`];
/// `Conflict(Duplicate { what })` when it has one.
pub(crate) fn insert_singleton<T: serde::Serialize>(
    c: &Connection,
    table: &'static str,
    org: Uuid,
    value: &T,
    what: &'static str,
) -> StoreResult<Version> {
    let inserted = c
        .prepare_cached(&format!(
            "INSERT INTO {table} (org_id, version, body) VALUES (?1, ?2, ?3)"
        ))
        .map_err(sql)?
        .execute(params![
            id_bytes(org),
            version(Version::FIRST)?,
            body(value)?
        ]);
    match inserted {
        Ok(_) => Ok(Version::FIRST),
        Err(e) if is_unique_violation(&e) => Err(StoreError::duplicate(what)),
        Err(e) => Err(sql(e)),
    }
}

/// Replaces the organisation's row when its version is `expected`; `Conflict(StaleVersion)`
/// when it is not, `NotFound` when there is no row.
pub(crate) fn update_singleton<T: serde::Serialize>(
    c: &Connection,
    table: &'static str,
    org: Uuid,
    value: &T,
    expected: Version,
) -> StoreResult<Version> {
    let next = expected.next();
    let changed = c
        .prepare_cached(&format!(
            "UPDATE {table} SET version = ?1, body = ?2 WHERE org_id = ?3 AND version = ?4"
        ))
        .map_err(sql)?
        .execute(params![
            version(next)?,
            body(value)?,
            id_bytes(org),
            version(expected)?
        ])
        .map_err(sql)?;
    if changed == 1 {
        return Ok(next);
    }
    let exists: Option<i64> = c
        .prepare_cached(&format!("SELECT 1 FROM {table} WHERE org_id = ?1"))
        .map_err(sql)?
        .query_row(params![id_bytes(org)], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    Err(if exists.is_some() {
        StoreError::stale()
    } else {
        StoreError::NotFound
    })
}

/// After an `UPDATE … WHERE org_id = ? AND id = ? AND version = ?` changed nothing: stale when
/// the row exists in this organisation, `NotFound` otherwise.
pub(crate) fn stale_or_missing(
    c: &Connection,
    table: &'static str,
    org: Uuid,
    id: Uuid,
) -> StoreError {
    let exists = c
        .prepare_cached(&format!(
            "SELECT 1 FROM {table} WHERE org_id = ?1 AND id = ?2"
        ))
        .and_then(|mut s| {
            s.query_row(params![id_bytes(org), id_bytes(id)], |r| r.get::<_, i64>(0))
                .optional()
        });
    match exists {
        Ok(Some(_)) => StoreError::stale(),
        Ok(None) => StoreError::NotFound,
        Err(e) => sql(e),
    }
}
