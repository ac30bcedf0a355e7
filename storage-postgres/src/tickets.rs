//! (being written) the tickets area of the PostgreSQL store: every method is a stub.

#![allow(unused_variables, unused_imports)]

use async_trait::async_trait;
use selfcare_core::ids::{OrgId, TicketId, TicketMessageId, UserId};
use selfcare_core::roles::Department;
use selfcare_core::tickets::{TicketMessage, TicketReference, TicketStatus};
use selfcare_storage::StoreError;
use selfcare_storage::error::StoreResult;
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::tickets::*;
use selfcare_storage::version::{Version, Versioned};
use time::OffsetDateTime;

use crate::{PgProviderTx, PgStore, PgTx};

#[async_trait]
impl selfcare_storage::tickets::TicketsTx for PgTx {
    async fn insert_ticket(&mut self, ticket: TicketRecord) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn get_ticket(&mut self, id: TicketId) -> StoreResult<Option<Versioned<TicketRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn update_ticket(
        &mut self,
        ticket: TicketRecord,
        expected: Version,
    ) -> StoreResult<Version> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn list_tickets(
        &mut self,
        status: Option<TicketStatus>,
        page: &PageRequest,
    ) -> StoreResult<Page<Versioned<TicketRecord>>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn insert_ticket_message(&mut self, message: TicketMessageRecord) -> StoreResult<()> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn ticket_messages(
        &mut self,
        ticket: TicketId,
        page: &PageRequest,
    ) -> StoreResult<Page<TicketMessageRecord>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}

#[async_trait]
impl selfcare_storage::tickets::TicketsProvider for PgProviderTx {
    async fn staff_ticket_queue(
        &mut self,
        departments: &[Department],
        statuses: &[TicketStatus],
        page: &PageRequest,
    ) -> StoreResult<Page<StaffQueueEntry>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
    async fn resolved_tickets_due(
        &mut self,
        resolved_before: OffsetDateTime,
        page: &PageRequest,
    ) -> StoreResult<Page<DueTicket>> {
        Err(StoreError::Unavailable {
            reason: "not yet written".into(),
        })
    }
}
