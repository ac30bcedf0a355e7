//! The notification outbox (DESIGN §3): leases, attempts, dead letters.
//!
//! What a message says (kind, recipients, language, subject, body) is JSON written once; its
//! delivery state is columns changed by plain updates. Two partial indexes keep the provider's
//! reads cheap: the pending messages by `(created_at, id, org_id)` for leasing, and the dead
//! letters by `(id, org_id)`; a delivered message leaves both. The queries repeat the indexes'
//! conditions (`delivered_at IS NULL AND NOT dead`, `… AND dead`) so the planner can use them.

use async_trait::async_trait;
use selfcare_core::contact::{Email, Language};
use selfcare_core::ids::{MessageId, OrgId};
use selfcare_core::notifications::NotificationKind;
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::outbox::{OutboxMessage, OutboxProvider, OutboxTx};
use selfcare_storage::page::{Page, PageRequest};
use sqlx::PgConnection;
use sqlx::postgres::PgRow;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::columns::{
    body, checked_count, fetch_limit, from_body, get, get_instant, get_opt_instant, instant,
    opt_instant, page_of, pair_after, pair_cursor,
};
use crate::error::sql;
use crate::{PgProviderTx, PgTx};

/// What a message says: written once, never changed.
#[derive(serde::Serialize, serde::Deserialize)]
struct Content {
    kind: NotificationKind,
    to: Vec<Email>,
    language: Language,
    subject: String,
    body: String,
}

fn message_from_row(r: &PgRow) -> StoreResult<OutboxMessage> {
    let content: Content = from_body(&get::<Vec<u8>>(r, "content")?, "outbox message")?;
    Ok(OutboxMessage {
        id: MessageId::from_uuid(get::<Uuid>(r, "id")?),
        kind: content.kind,
        to: content.to,
        language: content.language,
        subject: content.subject,
        body: content.body,
        created_at: get_instant(r, "created_at")?,
        attempts: u32::try_from(get::<i64>(r, "attempts")?).map_err(|_| StoreError::Corrupt {
            what: "the column outbox.attempts".into(),
        })?,
        next_attempt_at: get_instant(r, "next_attempt_at")?,
        leased_until: get_opt_instant(r, "leased_until")?,
        delivered_at: get_opt_instant(r, "delivered_at")?,
        dead: get::<bool>(r, "dead")?,
        last_error: get::<Option<String>>(r, "last_error")?,
    })
}

async fn message_row(
    c: &mut PgConnection,
    org: Uuid,
    id: Uuid,
) -> StoreResult<Option<OutboxMessage>> {
    sqlx::query(
        "SELECT id, created_at, attempts, next_attempt_at, leased_until, delivered_at, dead,
                last_error, content
         FROM outbox WHERE org_id = $1 AND id = $2",
    )
    .bind(org)
    .bind(id)
    .fetch_optional(c)
    .await
    .map_err(sql)?
    .as_ref()
    .map(message_from_row)
    .transpose()
}

async fn enqueue_row(c: &mut PgConnection, org: Uuid, m: OutboxMessage) -> StoreResult<()> {
    let id = m.id.as_uuid();
    let (created_at, attempts, next_attempt_at) = (
        instant(m.created_at)?,
        i64::from(m.attempts),
        instant(m.next_attempt_at)?,
    );
    let (leased_until, delivered_at) = (opt_instant(m.leased_until)?, opt_instant(m.delivered_at)?);
    let (dead, last_error) = (m.dead, m.last_error);
    let content = body(&Content {
        kind: m.kind,
        to: m.to,
        language: m.language,
        subject: m.subject,
        body: m.body,
    })?;
    // A taken id is a row count of 0, not a failed statement: the transaction goes on.
    let inserted = sqlx::query(
        "INSERT INTO outbox (org_id, id, created_at, attempts, next_attempt_at, leased_until,
             delivered_at, dead, last_error, content)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT DO NOTHING",
    )
    .bind(org)
    .bind(id)
    .bind(created_at)
    .bind(attempts)
    .bind(next_attempt_at)
    .bind(leased_until)
    .bind(delivered_at)
    .bind(dead)
    .bind(last_error)
    .bind(content)
    .execute(c)
    .await
    .map_err(sql)?;
    if inserted.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::duplicate("outbox_message"))
    }
}

/// After a mark changed no row: `NotFound` when the organisation has no message `id`, else
/// nothing to do (it is delivered already, and the first report stands).
async fn unchanged(c: &mut PgConnection, org: Uuid, id: Uuid) -> StoreResult<()> {
    let exists = sqlx::query("SELECT 1 FROM outbox WHERE org_id = $1 AND id = $2")
        .bind(org)
        .bind(id)
        .fetch_optional(c)
        .await
        .map_err(sql)?;
    match exists {
        Some(_) => Ok(()),
        None => Err(StoreError::NotFound),
    }
}

async fn mark_delivered_row(c: &mut PgConnection, org: Uuid, id: Uuid, at: i64) -> StoreResult<()> {
    // A redelivery after an expired lease reports twice: only an undelivered row changes.
    let changed = sqlx::query(
        "UPDATE outbox SET delivered_at = $1, leased_until = NULL, dead = false,
             attempts = attempts + 1
         WHERE org_id = $2 AND id = $3 AND delivered_at IS NULL",
    )
    .bind(at)
    .bind(org)
    .bind(id)
    .execute(&mut *c)
    .await
    .map_err(sql)?;
    if changed.rows_affected() == 1 {
        Ok(())
    } else {
        unchanged(c, org, id).await
    }
}

async fn mark_failed_row(
    c: &mut PgConnection,
    org: Uuid,
    id: Uuid,
    next_attempt_at: i64,
    dead: bool,
    error: &str,
) -> StoreResult<()> {
    // A late failure report of a duplicate delivery does not undo the delivery.
    let changed = sqlx::query(
        "UPDATE outbox SET attempts = attempts + 1, leased_until = NULL, next_attempt_at = $1,
             dead = $2, last_error = $3
         WHERE org_id = $4 AND id = $5 AND delivered_at IS NULL",
    )
    .bind(next_attempt_at)
    .bind(dead)
    .bind(error)
    .bind(org)
    .bind(id)
    .execute(&mut *c)
    .await
    .map_err(sql)?;
    if changed.rows_affected() == 1 {
        Ok(())
    } else {
        unchanged(c, org, id).await
    }
}

/// Leases the due messages in one statement: the oldest due ones (from the pending index),
/// their lease set by the data-modifying part, returned in creation order.
async fn lease_rows(
    c: &mut PgConnection,
    now: i64,
    until: i64,
    max: i64,
) -> StoreResult<Vec<(OrgId, MessageId)>> {
    let rows = sqlx::query(
        "WITH due AS (
             SELECT org_id, id, created_at FROM outbox
             WHERE delivered_at IS NULL AND NOT dead AND next_attempt_at <= $1
               AND (leased_until IS NULL OR leased_until <= $1)
             ORDER BY created_at, id, org_id LIMIT $3
         ), leased AS (
             UPDATE outbox o SET leased_until = $2 FROM due
             WHERE o.org_id = due.org_id AND o.id = due.id
         )
         SELECT org_id, id FROM due ORDER BY created_at, id, org_id",
    )
    .bind(now)
    .bind(until)
    .bind(max)
    .fetch_all(c)
    .await
    .map_err(sql)?;
    rows.iter()
        .map(|r| {
            Ok((
                OrgId::from_uuid(get::<Uuid>(r, "org_id")?),
                MessageId::from_uuid(get::<Uuid>(r, "id")?),
            ))
        })
        .collect()
}

async fn dead_letter_rows(
    c: &mut PgConnection,
    after: Option<(Uuid, Uuid)>,
    limit: usize,
) -> StoreResult<Page<(OrgId, MessageId)>> {
    let rows = match after {
        Some((id, org)) => {
            sqlx::query(
                "SELECT org_id, id FROM outbox
                 WHERE delivered_at IS NULL AND dead AND (id, org_id) > ($1, $2)
                 ORDER BY id, org_id LIMIT $3",
            )
            .bind(id)
            .bind(org)
            .bind(fetch_limit(limit))
            .fetch_all(c)
            .await
        }
        None => {
            sqlx::query(
                "SELECT org_id, id FROM outbox
                 WHERE delivered_at IS NULL AND dead
                 ORDER BY id, org_id LIMIT $1",
            )
            .bind(fetch_limit(limit))
            .fetch_all(c)
            .await
        }
    }
    .map_err(sql)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        out.push((
            OrgId::from_uuid(get::<Uuid>(r, "org_id")?),
            MessageId::from_uuid(get::<Uuid>(r, "id")?),
        ));
    }
    Ok(page_of(out, limit, |(org, id)| {
        pair_cursor(id.as_uuid(), org.as_uuid())
    }))
}

#[async_trait]
impl OutboxTx for PgTx {
    async fn enqueue_outbox_message(&mut self, message: OutboxMessage) -> StoreResult<()> {
        enqueue_row(self.tx.conn(), self.org.as_uuid(), message).await
    }

    async fn get_outbox_message(&mut self, id: MessageId) -> StoreResult<Option<OutboxMessage>> {
        message_row(self.tx.conn(), self.org.as_uuid(), id.as_uuid()).await
    }

    async fn outbox_mark_delivered(
        &mut self,
        id: MessageId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let at = instant(at)?;
        mark_delivered_row(self.tx.conn(), self.org.as_uuid(), id.as_uuid(), at).await
    }

    async fn outbox_mark_failed(
        &mut self,
        id: MessageId,
        next_attempt_at: OffsetDateTime,
        dead: bool,
        error: String,
    ) -> StoreResult<()> {
        let next_attempt_at = instant(next_attempt_at)?;
        mark_failed_row(
            self.tx.conn(),
            self.org.as_uuid(),
            id.as_uuid(),
            next_attempt_at,
            dead,
            &error,
        )
        .await
    }
}

#[async_trait]
impl OutboxProvider for PgProviderTx {
    async fn lease_due_messages(
        &mut self,
        now: OffsetDateTime,
        lease_for: time::Duration,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, MessageId)>> {
        let max = checked_count(max, "lease batch size")?;
        if !lease_for.is_positive() {
            return Err(StoreError::InvalidInput {
                what: "lease duration",
            });
        }
        let until = now
            .checked_add(lease_for)
            .ok_or(StoreError::InvalidInput {
                what: "lease duration",
            })
            .and_then(|until| {
                instant(until).map_err(|_| StoreError::InvalidInput {
                    what: "lease duration",
                })
            })?;
        let now = instant(now)?;
        lease_rows(self.tx.conn(), now, until, max).await
    }

    async fn outbox_dead_letters(
        &mut self,
        page: PageRequest,
    ) -> StoreResult<Page<(OrgId, MessageId)>> {
        let limit = page.checked_limit()?;
        let after = pair_after(&page)?;
        dead_letter_rows(self.tx.conn(), after, limit).await
    }
}
