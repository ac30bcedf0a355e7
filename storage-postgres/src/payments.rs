//! Payments (PAY-*, ORD-5): the payment-settings aggregate (one row per organisation),
//! payment intents (JSON body beside the key, state and lease columns, the result bytes in a
//! column of their own) and idempotency records (plain columns).
//!
//! Inserts are `INSERT … ON CONFLICT DO NOTHING`: a taken key is a row count of 0, not a
//! failed statement, so the transaction stays usable after a `Duplicate` (PostgreSQL aborts a
//! transaction on any failed statement). Under `SERIALIZABLE`, a conflict with a concurrent
//! transaction's row that this one cannot see is a serialization failure (`Retryable`).

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, PaymentIntentId};
use selfcare_core::orders::{IdempotencyKey, PaymentIntentState, RequestFingerprint};
use selfcare_core::payment::PaymentSettings;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::payments::{
    DueIntent, IdempotencyRecord, PaymentIntentRecord, PaymentsProvider, PaymentsTx,
};
use selfcare_storage::version::{Version, Versioned};
use selfcare_storage::{StoreError, StoreResult};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::columns::{
    body, decode_cursor, encode_cursor, fetch_limit, from_body, get, get_instant, get_version,
    instant, page_of, version,
};
use crate::error::sql;
use crate::{PgProviderTx, PgTx};

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

// ---------------------------------------------------------------------------------------------
// Payment settings
// ---------------------------------------------------------------------------------------------

async fn settings(
    c: &mut PgConnection,
    org: Uuid,
) -> StoreResult<Option<Versioned<PaymentSettings>>> {
    let row = sqlx::query("SELECT version, body FROM payment_settings WHERE org_id = $1")
        .bind(org)
        .fetch_optional(c)
        .await
        .map_err(sql)?;
    row.map(|r| {
        Ok(Versioned {
            value: from_body(&get::<Vec<u8>>(&r, "body")?, "payment settings")?,
            version: get_version(&r, "version")?,
        })
    })
    .transpose()
}

async fn insert_settings(
    c: &mut PgConnection,
    org: Uuid,
    settings: &PaymentSettings,
) -> StoreResult<Version> {
    let inserted = sqlx::query(
        "INSERT INTO payment_settings (org_id, version, body) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(version(Version::FIRST)?)
    .bind(body(settings)?)
    .execute(c)
    .await
    .map_err(sql)?;
    if inserted.rows_affected() == 1 {
        Ok(Version::FIRST)
    } else {
        Err(StoreError::duplicate("payment_settings"))
    }
}

async fn update_settings(
    c: &mut PgConnection,
    org: Uuid,
    settings: &PaymentSettings,
    expected: Version,
) -> StoreResult<Version> {
    let next = expected.next();
    let changed = sqlx::query(
        "UPDATE payment_settings SET version = $1, body = $2 WHERE org_id = $3 AND version = $4",
    )
    .bind(version(next)?)
    .bind(body(settings)?)
    .bind(org)
    .bind(version(expected)?)
    .execute(&mut *c)
    .await
    .map_err(sql)?;
    if changed.rows_affected() == 1 {
        return Ok(next);
    }
    // Nothing written: a stale version when the organisation has settings, else none.
    let exists = sqlx::query("SELECT 1 FROM payment_settings WHERE org_id = $1")
        .bind(org)
        .fetch_optional(c)
        .await
        .map_err(sql)?;
    Err(if exists.is_some() {
        StoreError::stale()
    } else {
        StoreError::NotFound
    })
}

// ---------------------------------------------------------------------------------------------
// Payment intents
// ---------------------------------------------------------------------------------------------

/// The intent's JSON body: the record without its result, which is a column of its own.
fn intent_body(intent: &PaymentIntentRecord) -> StoreResult<Vec<u8>> {
    let mut without = intent.clone();
    without.result = None;
    body(&without)
}

fn intent_decode(r: &PgRow) -> StoreResult<Versioned<PaymentIntentRecord>> {
    let mut value: PaymentIntentRecord = from_body(&get::<Vec<u8>>(r, "body")?, "payment intent")?;
    value.result = get::<Option<Vec<u8>>>(r, "result")?;
    Ok(Versioned {
        value,
        version: get_version(r, "version")?,
    })
}

async fn intent_by_key(
    c: &mut PgConnection,
    org: Uuid,
    key: &str,
) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
    sqlx::query("SELECT version, body, result FROM payment_intents WHERE org_id = $1 AND key = $2")
        .bind(org)
        .bind(key)
        .fetch_optional(c)
        .await
        .map_err(sql)?
        .as_ref()
        .map(intent_decode)
        .transpose()
}

async fn intent_by_id(
    c: &mut PgConnection,
    org: Uuid,
    id: Uuid,
) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
    sqlx::query("SELECT version, body, result FROM payment_intents WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(sql)?
        .as_ref()
        .map(intent_decode)
        .transpose()
}

async fn insert_intent(
    c: &mut PgConnection,
    org: Uuid,
    intent: &PaymentIntentRecord,
) -> StoreResult<Version> {
    // Either unique index (the id's primary key, the key's) makes the row count 0.
    let inserted = sqlx::query(
        "INSERT INTO payment_intents
             (org_id, id, key, state, leased_at, created_at, version, body, result)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(intent.id.as_uuid())
    .bind(intent.key.as_str())
    .bind(state_column(intent.state))
    .bind(instant(intent.leased_at)?)
    .bind(instant(intent.created_at)?)
    .bind(version(Version::FIRST)?)
    .bind(intent_body(intent)?)
    .bind(intent.result.as_deref())
    .execute(&mut *c)
    .await
    .map_err(sql)?;
    if inserted.rows_affected() == 1 {
        return Ok(Version::FIRST);
    }
    // A key and an id may both be taken: the key wins, as the contract names it first.
    let key_taken = sqlx::query("SELECT 1 FROM payment_intents WHERE org_id = $1 AND key = $2")
        .bind(org)
        .bind(intent.key.as_str())
        .fetch_optional(c)
        .await
        .map_err(sql)?
        .is_some();
    Err(StoreError::duplicate(if key_taken {
        "payment_intent_key"
    } else {
        "payment_intent_id"
    }))
}

async fn update_intent(
    c: &mut PgConnection,
    org: Uuid,
    intent: &PaymentIntentRecord,
    expected: Version,
) -> StoreResult<Version> {
    let next = expected.next();
    let id = intent.id.as_uuid();
    // The key is the intent's identity: the row is written only when it is unchanged.
    let changed = sqlx::query(
        "UPDATE payment_intents SET state = $1, leased_at = $2, created_at = $3,
             version = $4, body = $5, result = $6
         WHERE org_id = $7 AND id = $8 AND version = $9 AND key = $10",
    )
    .bind(state_column(intent.state))
    .bind(instant(intent.leased_at)?)
    .bind(instant(intent.created_at)?)
    .bind(version(next)?)
    .bind(intent_body(intent)?)
    .bind(intent.result.as_deref())
    .bind(org)
    .bind(id)
    .bind(version(expected)?)
    .bind(intent.key.as_str())
    .execute(&mut *c)
    .await
    .map_err(sql)?;
    if changed.rows_affected() == 1 {
        return Ok(next);
    }
    // Nothing written: a changed key is refused first (as the contract orders it), then a
    // missing row or a stale version.
    let stored = sqlx::query("SELECT key FROM payment_intents WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(sql)?;
    match stored {
        None => Err(StoreError::NotFound),
        Some(r) if get::<String>(&r, "key")? != intent.key.as_str() => {
            Err(StoreError::InvalidInput {
                what: "payment intent key",
            })
        }
        Some(_) => Err(StoreError::stale()),
    }
}

/// The due-intents statement for `state`. The state is written into the statement, not
/// bound: PostgreSQL uses the partial index `payment_intents_due` only when it can prove from
/// the query that the rows asked for are in it, which a parameter (in a generic plan) does
/// not show. The index's range is `state = … AND leased_at < $1`; the cursor and the order are
/// applied to the due intents, which are few. A final state (never in the index) scans.
fn due_statement(state: PaymentIntentState, with_cursor: bool) -> String {
    format!(
        "SELECT org_id, id, leased_at, state FROM payment_intents
         WHERE state = '{}' AND leased_at < $1{}
         ORDER BY org_id, id LIMIT $2",
        state_column(state),
        if with_cursor {
            " AND (org_id, id) > ($3, $4)"
        } else {
            ""
        }
    )
}

async fn due_intents(
    c: &mut PgConnection,
    state: PaymentIntentState,
    leased_before: OffsetDateTime,
    page: &PageRequest,
) -> StoreResult<Page<DueIntent>> {
    let limit = page.checked_limit()?;
    // The cursor is the last (organisation, id).
    let after = match &page.after {
        Some(cursor) => {
            let key = decode_cursor::<32>(DUE_CURSOR, cursor)?;
            let (org, id) = key.split_at(16);
            let uuid = |b: &[u8]| {
                Uuid::from_slice(b).map_err(|_| StoreError::InvalidInput { what: "cursor" })
            };
            Some((uuid(org)?, uuid(id)?))
        }
        None => None,
    };
    let statement = due_statement(state, after.is_some());
    let mut query = sqlx::query(sqlx::AssertSqlSafe(statement))
        .bind(instant(leased_before)?)
        .bind(fetch_limit(limit));
    if let Some((org, id)) = after {
        query = query.bind(org).bind(id);
    }
    let rows = query.fetch_all(c).await.map_err(sql)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push(DueIntent {
            org: OrgId::from_uuid(get::<Uuid>(r, "org_id")?),
            id: PaymentIntentId::from_uuid(get::<Uuid>(r, "id")?),
            state: state_from(&get::<String>(r, "state")?)?,
            leased_at: get_instant(r, "leased_at")?,
        });
    }
    Ok(page_of(out, limit, |d: &DueIntent| {
        let mut key = [0u8; 32];
        let (org, id) = key.split_at_mut(16);
        org.copy_from_slice(d.org.as_uuid().as_bytes());
        id.copy_from_slice(d.id.as_uuid().as_bytes());
        encode_cursor(DUE_CURSOR, &key)
    }))
}

// ---------------------------------------------------------------------------------------------
// Idempotency records
// ---------------------------------------------------------------------------------------------

async fn insert_record(
    c: &mut PgConnection,
    org: Uuid,
    record: &IdempotencyRecord,
) -> StoreResult<()> {
    let inserted = sqlx::query(
        "INSERT INTO idempotency_records (org_id, key, fingerprint, result, created_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(record.key.as_str())
    .bind(record.fingerprint.to_hex())
    .bind(record.result.as_slice())
    .bind(instant(record.created_at)?)
    .execute(c)
    .await
    .map_err(sql)?;
    if inserted.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::duplicate("idempotency_key"))
    }
}

async fn read_record(
    c: &mut PgConnection,
    org: Uuid,
    key: &IdempotencyKey,
) -> StoreResult<Option<IdempotencyRecord>> {
    let row = sqlx::query(
        "SELECT fingerprint, result, created_at FROM idempotency_records
         WHERE org_id = $1 AND key = $2",
    )
    .bind(org)
    .bind(key.as_str())
    .fetch_optional(c)
    .await
    .map_err(sql)?;
    row.map(|r| {
        Ok(IdempotencyRecord {
            key: key.clone(),
            fingerprint: RequestFingerprint::try_from(get::<String>(&r, "fingerprint")?).map_err(
                |_| StoreError::Corrupt {
                    what: "an idempotency record's fingerprint".into(),
                },
            )?,
            result: get::<Vec<u8>>(&r, "result")?,
            created_at: get_instant(&r, "created_at")?,
        })
    })
    .transpose()
}

#[async_trait]
impl PaymentsTx for PgTx {
    async fn payment_settings(&mut self) -> StoreResult<Option<Versioned<PaymentSettings>>> {
        settings(self.tx.conn(), self.org.as_uuid()).await
    }

    async fn insert_payment_settings(&mut self, settings: PaymentSettings) -> StoreResult<Version> {
        insert_settings(self.tx.conn(), self.org.as_uuid(), &settings).await
    }

    async fn update_payment_settings(
        &mut self,
        settings: PaymentSettings,
        expected: Version,
    ) -> StoreResult<Version> {
        update_settings(self.tx.conn(), self.org.as_uuid(), &settings, expected).await
    }

    async fn insert_payment_intent(&mut self, intent: PaymentIntentRecord) -> StoreResult<Version> {
        insert_intent(self.tx.conn(), self.org.as_uuid(), &intent).await
    }

    async fn payment_intent(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
        intent_by_key(self.tx.conn(), self.org.as_uuid(), key.as_str()).await
    }

    async fn payment_intent_by_id(
        &mut self,
        id: PaymentIntentId,
    ) -> StoreResult<Option<Versioned<PaymentIntentRecord>>> {
        intent_by_id(self.tx.conn(), self.org.as_uuid(), id.as_uuid()).await
    }

    async fn update_payment_intent(
        &mut self,
        intent: PaymentIntentRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        update_intent(self.tx.conn(), self.org.as_uuid(), &intent, expected).await
    }

    async fn insert_idempotency_record(&mut self, record: IdempotencyRecord) -> StoreResult<()> {
        insert_record(self.tx.conn(), self.org.as_uuid(), &record).await
    }

    async fn idempotency_record(
        &mut self,
        key: &IdempotencyKey,
    ) -> StoreResult<Option<IdempotencyRecord>> {
        read_record(self.tx.conn(), self.org.as_uuid(), key).await
    }
}

#[async_trait]
impl PaymentsProvider for PgProviderTx {
    async fn due_payment_intents(
        &mut self,
        state: PaymentIntentState,
        leased_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueIntent>> {
        due_intents(self.tx.conn(), state, leased_before, page).await
    }

    async fn purge_idempotency_records(
        &mut self,
        created_before: OffsetDateTime,
    ) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM idempotency_records WHERE created_at < $1")
            .bind(instant(created_before)?)
            .execute(self.tx.conn())
            .await
            .map_err(sql)?;
        Ok(deleted.rows_affected())
    }
}

#[cfg(all(test, feature = "testing"))]
mod tests {
    use super::*;
    use crate::PgConfig;
    use crate::connection::Scope;
    use crate::testing::TestDatabase;

    /// ORD-5: maintenance finds the intents it must settle through the partial index
    /// `payment_intents_due`, which holds only the intents that can still go on; also in the
    /// generic plan PostgreSQL keeps for a prepared statement, with and without a cursor.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ord_5_due_intents_use_the_partial_index() {
        let Some(db) = TestDatabase::from_env("ord_5_due_intents_use_the_partial_index") else {
            return;
        };
        let store = db.fresh_store(PgConfig::default()).await.unwrap();
        let mut tx = store.connections.begin(Scope::Provider).await.unwrap();
        sqlx::raw_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            .execute(tx.conn())
            .await
            .unwrap();
        for state in [
            PaymentIntentState::Pending,
            PaymentIntentState::ActionRequired,
        ] {
            for (name, with_cursor, types, args) in [
                ("due_first", false, "bigint, bigint", "1, 2"),
                (
                    "due_after",
                    true,
                    "bigint, bigint, uuid, uuid",
                    "1, 2, gen_random_uuid(), gen_random_uuid()",
                ),
            ] {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                    "PREPARE {name}({types}) AS {}",
                    due_statement(state, with_cursor)
                )))
                .execute(tx.conn())
                .await
                .unwrap();
                let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "EXPLAIN EXECUTE {name}({args})"
                )))
                .fetch_all(tx.conn())
                .await
                .unwrap();
                let plan = plan.join("\n");
                assert!(
                    plan.contains("using payment_intents_due"),
                    "{state:?} {name}: {plan}"
                );
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DEALLOCATE {name}")))
                    .execute(tx.conn())
                    .await
                    .unwrap();
            }
        }
    }
}
