//! (being written) the outbox area of the PostgreSQL store: every method is a stub.

#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use selfcare_core::contact::{Email, Language};
use selfcare_core::ids::{MessageId, OrgId};
use selfcare_core::notifications::NotificationKind;
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::outbox::*;
use selfcare_storage::page::{Page, PageRequest};
use time::OffsetDateTime;

use crate::{PgProviderTx, PgStore, PgTx};

#[async_trait]
impl selfcare_storage::outbox::OutboxTx for PgTx {
    async fn enqueue_outbox_message(&mut self, message: OutboxMessage) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn get_outbox_message(&mut self, id: MessageId) -> StoreResult<Option<OutboxMessage>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn outbox_mark_delivered(
        &mut self,
        id: MessageId,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn outbox_mark_failed(
        &mut self,
        id: MessageId,
        next_attempt_at: OffsetDateTime,
        dead: bool,
        error: String,
    ) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::outbox::OutboxProvider for PgProviderTx {
    async fn lease_due_messages(
        &mut self,
        now: OffsetDateTime,
        lease_for: time::Duration,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, MessageId)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn outbox_dead_letters(
        &mut self,
        page: PageRequest,
    ) -> StoreResult<Page<(OrgId, MessageId)>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}
