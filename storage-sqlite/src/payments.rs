//! Payments (PAY-*, ORD-5): the payment-settings aggregate (one row per organisation),
//! payment intents (JSON body beside the key, state and lease columns, the result bytes in a
//! column of their own) and idempotency records (plain columns).

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use selfcare_core::ids::{OrgId, PaymentIntentId};
use selfcare_core::orders::{IdempotencyKey, PaymentIntentState, RequestFingerprint};
use selfcare_core::payment::PaymentSettings;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::payments::{
    DueIntent, IdempotencyRecord, PaymentIntentRecord, PaymentsProvider, PaymentsTx,
};
use selfcare_storage::version::{Version, Versioned};
use selfcare_storage::{StoreError, StoreResult};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::codec::{
    body, from_body, id_bytes, instant, instant_from, uuid_from, version, version_from,
};
use crate::error::sql;
use crate::orders::{Constraint, constraint};
use crate::pages::{decode_cursor, encode_cursor, fetch_limit, page_of};
use crate::rows::{insert_singleton, singleton, stale_or_missing, update_singleton};
use crate::{SqliteProviderTx, SqliteTx};

const SETTINGS: &str = "payment_settings";
const DUE_CURSOR: &str = "pi";

/// A state as its column value (the same words as its serde form).
fn state_column(state: PaymentIntentState) -> &'static str {
    match state {
        PaymentIntentState::Pending => "pending",
        PaymentIntentState::ActionRequired => "action_required",
        PaymentIntentState::Succeeded => "succeeded",
        PaymentIntentState::Declined => "declined",
        PaymentIntentState::Abandoned => "abandoned",
    }
}

fn state_from(raw: &str) -> StoreResult<PaymentIntentState> {
    PaymentIntentState::ALL
        .into_iter()
        .find(|s| state_column(*s) == raw)
        .ok_or_else(|| StoreError::Corrupt {
            what: "a payment intent state column".into(),
        })
}

/// The intent's JSON body: the record without its result, which is a column of its own.
fn intent_body(intent: &PaymentIntentRecord) -> StoreResult<Vec<u8>> {
    let mut without = intent.clone();
    without.result = None;
    body(&without)
}

/// The columns every intent read selects, in this order.
const INTENT_COLUMNS: &str = "version, body, result";

fn intent_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<(i64, Vec<u8>, Option<Vec<u8>>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn intent_decode(
    row: (i64, Vec<u8>, Option<Vec<u8>>),
) -> StoreResult<Versioned<PaymentIntentRecord>> {
    let (v, b, result) = row;
    let mut value: PaymentIntentRecord = from_body(&b, "payment intent")?;
    value.result = result;
    Ok(Versioned {
        value,
        version: version_from(v)?,
    })
}

fn read_intent(
    c: &Connection,
    sql_text: &str,
    org: Uuid,
    key: &dyn rusqlite::ToSql,
) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
    let row = c
        .prepare_cached(sql_text)
        .map_err(sql)?
        .query_row(params![id_bytes(org), key], intent_from)
        .optional()
        .map_err(sql)?;
    row.map(intent_decode).transpose()
}

fn insert_intent(c: &Connection, org: Uuid, intent: &PaymentIntentRecord) -> StoreResult<Version> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO payment_intents
                 (org_id, id, key, state, leased_at, created_at, version, body, result)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .map_err(sql)?
        .execute(params![
            id_bytes(org),
            id_bytes(intent.id.as_uuid()),
            intent.key.as_str(),
            state_column(intent.state),
            instant(intent.leased_at)?,
            instant(intent.created_at)?,
            version(Version::FIRST)?,
            intent_body(intent)?,
            intent.result.as_deref(),
        ]);
    match inserted {
        Ok(_) => Ok(Version::FIRST),
        // A key and an id both taken: SQLite may name either index first; the key wins.
        Err(e)
            if matches!(
                constraint(&e),
                Some(Constraint::PrimaryKey | Constraint::Unique)
            ) =>
        {
            let key_taken = c
                .prepare_cached("SELECT 1 FROM payment_intents WHERE org_id = ?1 AND key = ?2")
                .map_err(sql)?
                .query_row(params![id_bytes(org), intent.key.as_str()], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
                .map_err(sql)?
                .is_some();
            Err(StoreError::duplicate(if key_taken {
                "payment_intent_key"
            } else {
                "payment_intent_id"
            }))
        }
        Err(e) => Err(sql(e)),
    }
}

fn update_intent(
    c: &Connection,
    org: Uuid,
    intent: &PaymentIntentRecord,
    expected: Version,
) -> StoreResult<Version> {
    let next = expected.next();
    let id = id_bytes(intent.id.as_uuid());
    // The key is the intent's identity: the row is written only when it is unchanged.
    let changed = c
        .prepare_cached(
            "UPDATE payment_intents SET state = ?1, leased_at = ?2, created_at = ?3,
                 version = ?4, body = ?5, result = ?6
             WHERE org_id = ?7 AND id = ?8 AND version = ?9 AND key = ?10",
        )
        .map_err(sql)?
        .execute(params![
            state_column(intent.state),
            instant(intent.leased_at)?,
            instant(intent.created_at)?,
            version(next)?,
            intent_body(intent)?,
            intent.result.as_deref(),
            id_bytes(org),
            id,
            version(expected)?,
            intent.key.as_str(),
        ])
        .map_err(sql)?;
    if changed == 1 {
        return Ok(next);
    }
    // Nothing written: a changed key is refused first (as the contract orders it), then a
    // missing row or a stale version.
    let stored_key: Option<String> = c
        .prepare_cached("SELECT key FROM payment_intents WHERE org_id = ?1 AND id = ?2")
        .map_err(sql)?
        .query_row(params![id_bytes(org), id], |r| r.get(0))
        .optional()
        .map_err(sql)?;
    match stored_key {
        Some(key) if key != intent.key.as_str() => Err(StoreError::InvalidInput {
            what: "payment intent key",
        }),
        _ => Err(stale_or_missing(
            c,
            "payment_intents",
            org,
            intent.id.as_uuid(),
        )),
    }
}

fn insert_record(c: &Connection, org: Uuid, record: &IdempotencyRecord) -> StoreResult<()> {
    let inserted = c
        .prepare_cached(
            "INSERT INTO idempotency_records (org_id, key, fingerprint, result, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .map_err(sql)?
        .execute(params![
            id_bytes(org),
            record.key.as_str(),
            record.fingerprint.to_hex(),
            record.result.as_slice(),
            instant(record.created_at)?,
        ]);
    match inserted {
        Ok(_) => Ok(()),
        Err(e) => Err(match constraint(&e) {
            Some(Constraint::PrimaryKey | Constraint::Unique) => {
                StoreError::duplicate("idempotency_key")
            }
            _ => sql(e),
        }),
    }
}

fn read_record(
    c: &Connection,
    org: Uuid,
    key: &IdempotencyKey,
) -> StoreResult<Option<IdempotencyRecord>> {
    let row: Option<(String, Vec<u8>, i64)> = c
        .prepare_cached(
            "SELECT fingerprint, result, created_at FROM idempotency_records
             WHERE org_id = ?1 AND key = ?2",
        )
        .map_err(sql)?
        .query_row(params![id_bytes(org), key.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()
        .map_err(sql)?;
    row.map(|(fingerprint, result, created_at)| {
        Ok(IdempotencyRecord {
            key: key.clone(),
            fingerprint: RequestFingerprint::try_from(fingerprint).map_err(|_| {
                StoreError::Corrupt {
                    what: "an idempotency record's fingerprint".into(),
                }
            })?,
            result,
            created_at: instant_from(created_at)?,
        })
    })
    .transpose()
}

/// The due-intents query for `state`. The state is written into the statement: SQLite uses
/// the partial index of the state only when it can see that the query asks for a
/// state the index holds, which a bound parameter does not show; and the index is named, as
/// the cursor's range on the primary key would otherwise look cheaper to the planner on a
/// store it has no statistics for. The due intents are few, so sorting them costs little.
/// A final state (never due) scans.
fn due_statement(state: PaymentIntentState) -> String {
    format!(
        "SELECT org_id, id, leased_at, state FROM payment_intents {}
         WHERE state = '{}' AND leased_at < ?1 AND (org_id, id) > (?2, ?3)
         ORDER BY org_id, id LIMIT ?4",
        match state {
            PaymentIntentState::Pending => "INDEXED BY payment_intents_pending",
            PaymentIntentState::ActionRequired => "INDEXED BY payment_intents_waiting",
            PaymentIntentState::Succeeded
            | PaymentIntentState::Declined
            | PaymentIntentState::Abandoned => "",
        },
        state_column(state)
    )
}

fn due_intents(
    c: &Connection,
    state: PaymentIntentState,
    leased_before: OffsetDateTime,
    page: &PageRequest,
) -> StoreResult<Page<DueIntent>> {
    let limit = page.checked_limit()?;
    // The cursor is the last (organisation, id); the first page starts below every id.
    let (after_org, after_id) = match &page.after {
        Some(cursor) => {
            let key = decode_cursor::<32>(DUE_CURSOR, cursor)?;
            let (org, id) = key.split_at(16);
            (org.to_vec(), id.to_vec())
        }
        None => (Vec::new(), Vec::new()),
    };
    let mut stmt = c.prepare_cached(&due_statement(state)).map_err(sql)?;
    let rows = stmt
        .query_map(
            params![
                instant(leased_before)?,
                after_org,
                after_id,
                fetch_limit(limit)
            ],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, Vec<u8>>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                ))
            },
        )
        .map_err(sql)?;
    let mut out = Vec::new();
    for row in rows {
        let (org, id, leased_at, stored_state) = row.map_err(sql)?;
        out.push(DueIntent {
            org: OrgId::from_uuid(uuid_from(&org)?),
            id: PaymentIntentId::from_uuid(uuid_from(&id)?),
            state: state_from(&stored_state)?,
            leased_at: instant_from(leased_at)?,
        });
    }
    Ok(page_of(out, limit, |d: &DueIntent| {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(d.org.as_uuid().as_bytes());
        key[16..].copy_from_slice(d.id.as_uuid().as_bytes());
        encode_cursor(DUE_CURSOR, &key)
    }))
}

#[async_trait]
impl PaymentsTx for SqliteTx {
    async fn payment_settings(&mut self) -> StoreResult<Option<Versioned<PaymentSettings>>> {
        let org = self.org.as_uuid();
        self.conn.call(move |c| singleton(c, SETTINGS, org)).await
    }

    async fn insert_payment_settings(&mut self, settings: PaymentSettings) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| insert_singleton(c, SETTINGS, org, &settings, "payment_settings"))
            .await
    }

    async fn update_payment_settings(
        &mut self,
        settings: PaymentSettings,
        expected: Version,
    ) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| update_singleton(c, SETTINGS, org, &settings, expected))
            .await
    }

    async fn insert_payment_intent(&mut self, intent: PaymentIntentRecord) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| insert_intent(c, org, &intent))
            .await
    }

    async fn payment_intent(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
        let org = self.org.as_uuid();
        let key = key.as_str().to_owned();
        self.conn
            .call(move |c| {
                read_intent(
                    c,
                    &format!(
                        "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE org_id = ?1 AND key = ?2"
                    ),
                    org,
                    &key,
                )
            })
            .await
    }

    async fn payment_intent_by_id(
        &mut self,
        id: PaymentIntentId,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
        let org = self.org.as_uuid();
        let id = id_bytes(id.as_uuid());
        self.conn
            .call(move |c| {
                read_intent(
                    c,
                    &format!(
                        "SELECT {INTENT_COLUMNS} FROM payment_intents WHERE org_id = ?1 AND id = ?2"
                    ),
                    org,
                    &id,
                )
            })
            .await
    }

    async fn update_payment_intent(
        &mut self,
        intent: PaymentIntentRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| update_intent(c, org, &intent, expected))
            .await
    }

    async fn insert_idempotency_record(&mut self, record: IdempotencyRecord) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| insert_record(c, org, &record))
            .await
    }

    async fn idempotency_record(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        let org = self.org.as_uuid();
        let key = key.clone();
        self.conn.call(move |c| read_record(c, org, &key)).await
    }
}

#[async_trait]
impl PaymentsProvider for SqliteProviderTx {
    async fn due_payment_intents(
        &mut self,
        state: PaymentIntentState,
        leased_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueIntent>> {
        let page = page.clone();
        self.conn
            .call(move |c| due_intents(c, state, leased_before, &page))
            .await
    }

    async fn purge_idempotency_records(
        &mut self,
        created_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        let cut_off = instant(created_before)?;
        self.conn
            .call(move |c| {
                let deleted = c
                    .prepare_cached("DELETE FROM idempotency_records WHERE created_at < ?1")
                    .map_err(sql)?
                    .execute(params![cut_off])
                    .map_err(sql)?;
                u64::try_from(deleted).map_err(|_| StoreError::Internal {
                    reason: "purged more records than u64 counts".into(),
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ORD-5: maintenance finds the intents it must settle through a partial index, which
    /// holds only the intents that can still go on.
    #[test]
    fn ord_5_due_intents_use_the_partial_index() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("due.db");
        let mut c = crate::connection::open_connection(&path, true).unwrap();
        crate::connection::migrate(&mut c, &path).unwrap();
        for (state, index) in [
            (PaymentIntentState::Pending, "payment_intents_pending"),
            (
                PaymentIntentState::ActionRequired,
                "payment_intents_waiting",
            ),
        ] {
            let plan = crate::connection::query_plan(&c, &due_statement(state));
            assert!(
                plan.contains(&format!("USING INDEX {index} (leased_at<?)")),
                "{state:?}: {plan}"
            );
        }
    }
}
