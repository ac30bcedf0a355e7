//! The in-memory store's outbox tables.

use std::collections::BTreeMap;

use async_trait::async_trait;
use selfcare_core::ids::{MessageId, OrgId};
use time::OffsetDateTime;

use super::{
    Inner, MemoryProviderTx, MemoryTx, OrgTable, checked_count, page_ascending, rows_of, vacant,
};
use crate::error::{StoreError, StoreResult};
use crate::outbox::{OutboxMessage, OutboxProvider, OutboxTx};
use crate::page::{Page, PageRequest};

/// The outbox tables.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// Every message, per organisation, by id.
    messages: OrgTable<MessageId, OutboxMessage>,
    /// The messages not delivered and not dead, in creation order: what leasing scans, so
    /// delivered messages and dead letters cost nothing there.
    pending: BTreeMap<(OffsetDateTime, MessageId, OrgId), ()>,
    /// The dead letters (not delivered since), by message id first, so the list runs oldest
    /// first; the organisation keeps two organisations' messages with the same id apart.
    dead: BTreeMap<(MessageId, OrgId), ()>,
}

fn is_pending(m: &OutboxMessage) -> bool {
    m.delivered_at.is_none() && !m.dead
}

fn is_dead_letter(m: &OutboxMessage) -> bool {
    m.delivered_at.is_none() && m.dead
}

/// Writes `message` of `org`, keeping the pending and dead-letter indexes in step with it.
fn write(inner: &mut Inner, org: OrgId, message: OutboxMessage) {
    let old = inner.put_in(|s| &mut s.outbox.messages, org, message.id, message.clone());
    if let Some(old) = &old {
        if is_pending(old) {
            inner.remove(|s| &mut s.outbox.pending, &(old.created_at, old.id, org));
        }
        if is_dead_letter(old) {
            inner.remove(|s| &mut s.outbox.dead, &(old.id, org));
        }
    }
    if is_pending(&message) {
        inner.put(
            |s| &mut s.outbox.pending,
            (message.created_at, message.id, org),
            (),
        );
    }
    if is_dead_letter(&message) {
        inner.put(|s| &mut s.outbox.dead, (message.id, org), ());
    }
}

impl MemoryTx {
    fn message(&self, id: MessageId) -> StoreResult<OutboxMessage> {
        rows_of(&self.inner.outbox.messages, self.org)
            .and_then(|rows| rows.get(&id))
            .cloned()
            .ok_or(StoreError::NotFound)
    }
}

#[async_trait]
impl OutboxTx for MemoryTx {
    async fn enqueue_outbox_message(&mut self, message: OutboxMessage) -> StoreResult<()> {
        vacant(
            rows_of(&self.inner.outbox.messages, self.org),
            &message.id,
            "outbox_message",
        )?;
        write(&mut self.inner, self.org, message);
        Ok(())
    }

    async fn get_outbox_message(&mut self, id: MessageId) -> StoreResult<Option<OutboxMessage>> {
        match self.message(id) {
            Ok(m) => Ok(Some(m)),
            Err(StoreError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn outbox_mark_delivered(
        &mut self,
        id: MessageId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let mut message = self.message(id)?;
        if message.delivered_at.is_some() {
            return Ok(());
        }
        message.delivered_at = Some(at);
        message.leased_until = None;
        message.dead = false;
        message.attempts = message.attempts.saturating_add(1);
        write(&mut self.inner, self.org, message);
        Ok(())
    }

    async fn outbox_mark_failed(
        &mut self,
        id: MessageId,
        next_attempt_at: OffsetDateTime,
        dead: bool,
        error: String,
    ) -> StoreResult<()> {
        let mut message = self.message(id)?;
        if message.delivered_at.is_some() {
            return Ok(());
        }
        message.attempts = message.attempts.saturating_add(1);
        message.leased_until = None;
        message.next_attempt_at = next_attempt_at;
        message.dead = dead;
        message.last_error = Some(error);
        write(&mut self.inner, self.org, message);
        Ok(())
    }
}

#[async_trait]
impl OutboxProvider for MemoryProviderTx {
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
        let until = now.checked_add(lease_for).ok_or(StoreError::InvalidInput {
            what: "lease duration",
        })?;
        let state = &self.inner.outbox;
        let due: Vec<(OrgId, OutboxMessage)> = state
            .pending
            .iter()
            .filter_map(|((_, id, org), ())| {
                let m = state.messages.get(org)?.get(id)?;
                m.is_due(now).then(|| (*org, m.clone()))
            })
            .take(max)
            .collect();
        let mut leased = Vec::with_capacity(due.len());
        for (org, mut message) in due {
            message.leased_until = Some(until);
            leased.push((org, message.id));
            write(&mut self.inner, org, message);
        }
        Ok(leased)
    }

    async fn outbox_dead_letters(
        &mut self,
        page: PageRequest,
    ) -> StoreResult<Page<(OrgId, MessageId)>> {
        page_ascending(Some(&self.inner.outbox.dead), &page, |&(id, org), ()| {
            Some((org, id))
        })
    }
}
