//! The notification outbox (DESIGN §3): leases, attempts, dead letters.
//!
//! What a message says (kind, recipients, language, subject, body) is JSON written once; its
//! delivery state is columns changed by plain updates. Two partial indexes keep the provider's
//! reads cheap: the pending messages by `(created_at, id, org_id)` for leasing, and the dead
//! letters by `(id, org_id)`; a delivered message leaves both.

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};
use selfcare_core::contact::{Email, Language};
use selfcare_core::ids::{MessageId, OrgId};
use selfcare_core::notifications::NotificationKind;
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::outbox::{OutboxMessage, OutboxProvider, OutboxTx};
use selfcare_storage::page::{Page, PageRequest};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::codec::{body, from_body, id_bytes, instant, instant_from};
use crate::columns::*;
use crate::error::{is_unique_violation, sql};
use crate::pages::*;
use crate::{SqliteProviderTx, SqliteTx};

/// What a message says: written once, never changed.
#[derive(serde::Serialize, serde::Deserialize)]
struct Content {
    kind: NotificationKind,
    to: Vec<Email>,
    language: Language,
    subject: String,
    body: String,
}

const MESSAGE_COLUMNS: &str = "id, created_at, attempts, next_attempt_at, leased_until, \
                               delivered_at, dead, last_error, content";

fn message_from_row(r: &Row<'_>) -> StoreResult<OutboxMessage> {
    let content: Content = from_body(col_blob(r, 8, "outbox.content")?, "outbox message")?;
    Ok(OutboxMessage {
        id: MessageId::from_uuid(col_uuid(r, 0, "outbox.id")?),
        kind: content.kind,
        to: content.to,
        language: content.language,
        subject: content.subject,
        body: content.body,
        created_at: instant_from(col_int(r, 1, "outbox.created_at")?)?,
        attempts: u32::try_from(col_int(r, 2, "outbox.attempts")?).map_err(|_| {
            StoreError::Corrupt {
                what: "the column outbox.attempts".into(),
            }
        })?,
        next_attempt_at: instant_from(col_int(r, 3, "outbox.next_attempt_at")?)?,
        leased_until: col_opt_instant(r, 4, "outbox.leased_until")?,
        delivered_at: col_opt_instant(r, 5, "outbox.delivered_at")?,
        dead: match col_int(r, 6, "outbox.dead")? {
            0 => false,
            1 => true,
            _ => {
                return Err(StoreError::Corrupt {
                    what: "the column outbox.dead".into(),
                });
            }
        },
        last_error: col_opt_text(r, 7, "outbox.last_error")?.map(str::to_owned),
    })
}

fn message_row(c: &Connection, org: Uuid, id: Uuid) -> StoreResult<Option<OutboxMessage>> {
    let mut stmt = c
        .prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM outbox WHERE org_id = ?1 AND id = ?2"
        ))
        .map_err(sql)?;
    let mut rows = stmt
        .query(params![id_bytes(org), id_bytes(id)])
        .map_err(sql)?;
    match rows.next().map_err(sql)? {
        Some(r) => message_from_row(r).map(Some),
        None => Ok(None),
    }
}

fn enqueue_row(c: &Connection, org: Uuid, m: OutboxMessage) -> StoreResult<()> {
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
    let inserted = c
        .prepare_cached(
            "INSERT INTO outbox (org_id, id, created_at, attempts, next_attempt_at, leased_until, \
             delivered_at, dead, last_error, content) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )
        .map_err(sql)?
        .execute(params![
            id_bytes(org),
            id_bytes(id),
            created_at,
            attempts,
            next_attempt_at,
            leased_until,
            delivered_at,
            dead,
            last_error,
            content,
        ]);
    match inserted {
        Ok(_) => Ok(()),
        Err(e) if is_unique_violation(&e) => Err(StoreError::duplicate("outbox_message")),
        Err(e) => Err(sql(e)),
    }
}

/// Whether the organisation has the message and it is delivered already (`None`: no message).
fn delivered(c: &Connection, org: Uuid, id: Uuid) -> StoreResult<Option<bool>> {
    let mut stmt = c
        .prepare_cached("SELECT delivered_at IS NOT NULL FROM outbox WHERE org_id = ?1 AND id = ?2")
        .map_err(sql)?;
    let mut rows = stmt
        .query(params![id_bytes(org), id_bytes(id)])
        .map_err(sql)?;
    match rows.next().map_err(sql)? {
        Some(r) => Ok(Some(col_int(r, 0, "outbox.delivered_at")? != 0)),
        None => Ok(None),
    }
}

fn mark_delivered_row(c: &Connection, org: Uuid, id: Uuid, at: i64) -> StoreResult<()> {
    match delivered(c, org, id)? {
        None => return Err(StoreError::NotFound),
        // A redelivery after an expired lease reports twice: the first report stands.
        Some(true) => return Ok(()),
        Some(false) => {}
    }
    c.prepare_cached(
        "UPDATE outbox SET delivered_at = ?1, leased_until = NULL, dead = 0, \
         attempts = attempts + 1 WHERE org_id = ?2 AND id = ?3 AND delivered_at IS NULL",
    )
    .map_err(sql)?
    .execute(params![at, id_bytes(org), id_bytes(id)])
    .map_err(sql)?;
    Ok(())
}

fn mark_failed_row(
    c: &Connection,
    org: Uuid,
    id: Uuid,
    next_attempt_at: i64,
    dead: bool,
    error: &str,
) -> StoreResult<()> {
    match delivered(c, org, id)? {
        None => return Err(StoreError::NotFound),
        // A late failure report of a duplicate delivery does not undo the delivery.
        Some(true) => return Ok(()),
        Some(false) => {}
    }
    c.prepare_cached(
        "UPDATE outbox SET attempts = attempts + 1, leased_until = NULL, next_attempt_at = ?1, \
         dead = ?2, last_error = ?3 WHERE org_id = ?4 AND id = ?5 AND delivered_at IS NULL",
    )
    .map_err(sql)?
    .execute(params![
        next_attempt_at,
        dead,
        error,
        id_bytes(org),
        id_bytes(id)
    ])
    .map_err(sql)?;
    Ok(())
}

fn lease_rows(
    c: &Connection,
    now: i64,
    until: i64,
    max: i64,
) -> StoreResult<Vec<(OrgId, MessageId)>> {
    let mut due = Vec::new();
    {
        let mut stmt = c
            .prepare_cached(
                "SELECT org_id, id FROM outbox INDEXED BY outbox_pending \
                 WHERE delivered_at IS NULL AND dead = 0 AND next_attempt_at <= ?1 \
                 AND (leased_until IS NULL OR leased_until <= ?1) \
                 ORDER BY created_at, id, org_id LIMIT ?2",
            )
            .map_err(sql)?;
        let mut rows = stmt.query(params![now, max]).map_err(sql)?;
        while let Some(r) = rows.next().map_err(sql)? {
            due.push((
                col_uuid(r, 0, "outbox.org_id")?,
                col_uuid(r, 1, "outbox.id")?,
            ));
        }
    }
    let mut lease = c
        .prepare_cached("UPDATE outbox SET leased_until = ?1 WHERE org_id = ?2 AND id = ?3")
        .map_err(sql)?;
    for (org, id) in &due {
        lease
            .execute(params![until, id_bytes(*org), id_bytes(*id)])
            .map_err(sql)?;
    }
    Ok(due
        .into_iter()
        .map(|(org, id)| (OrgId::from_uuid(org), MessageId::from_uuid(id)))
        .collect())
}

fn dead_letter_rows(
    c: &Connection,
    after: Option<(Uuid, Uuid)>,
    limit: usize,
) -> StoreResult<Page<(OrgId, MessageId)>> {
    let (after_id, after_org): (Vec<u8>, Vec<u8>) = match after {
        Some((id, org)) => (id_bytes(id).to_vec(), id_bytes(org).to_vec()),
        None => (BEFORE_EVERY_ID.to_vec(), BEFORE_EVERY_ID.to_vec()),
    };
    let mut stmt = c
        .prepare_cached(
            "SELECT org_id, id FROM outbox INDEXED BY outbox_dead \
             WHERE delivered_at IS NULL AND dead = 1 AND (id, org_id) > (?1, ?2) \
             ORDER BY id, org_id LIMIT ?3",
        )
        .map_err(sql)?;
    let mut rows = stmt
        .query(params![after_id, after_org, fetch_limit(limit)])
        .map_err(sql)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(sql)? {
        out.push((
            OrgId::from_uuid(col_uuid(r, 0, "outbox.org_id")?),
            MessageId::from_uuid(col_uuid(r, 1, "outbox.id")?),
        ));
    }
    Ok(page_of(out, limit, |(org, id)| {
        pair_cursor(id.as_uuid(), org.as_uuid())
    }))
}

#[async_trait]
impl OutboxTx for SqliteTx {
    async fn enqueue_outbox_message(&mut self, message: OutboxMessage) -> StoreResult<()> {
        let org = self.org.as_uuid();
        self.conn.call(move |c| enqueue_row(c, org, message)).await
    }

    async fn get_outbox_message(&mut self, id: MessageId) -> StoreResult<Option<OutboxMessage>> {
        let org = self.org.as_uuid();
        self.conn
            .call(move |c| message_row(c, org, id.as_uuid()))
            .await
    }

    async fn outbox_mark_delivered(
        &mut self,
        id: MessageId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let org = self.org.as_uuid();
        let at = instant(at)?;
        self.conn
            .call(move |c| mark_delivered_row(c, org, id.as_uuid(), at))
            .await
    }

    async fn outbox_mark_failed(
        &mut self,
        id: MessageId,
        next_attempt_at: OffsetDateTime,
        dead: bool,
        error: String,
    ) -> StoreResult<()> {
        let org = self.org.as_uuid();
        let next_attempt_at = instant(next_attempt_at)?;
        self.conn
            .call(move |c| mark_failed_row(c, org, id.as_uuid(), next_attempt_at, dead, &error))
            .await
    }
}

#[async_trait]
impl OutboxProvider for SqliteProviderTx {
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
        self.conn
            .call(move |c| lease_rows(c, now, until, max))
            .await
    }

    async fn outbox_dead_letters(
        &mut self,
        page: PageRequest,
    ) -> StoreResult<Page<(OrgId, MessageId)>> {
        let limit = page.checked_limit()?;
        let after = pair_after(&page)?;
        self.conn
            .call(move |c| dead_letter_rows(c, after, limit))
            .await
    }
}
