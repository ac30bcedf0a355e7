//! `portal.run_maintenance(now)` (DESIGN §3): the provider's periodic housekeeping. Each step
//! works through provider-wide lists in pages and changes each item in its organisation's own
//! transaction, so one bad item never blocks the rest and a crash mid-run loses nothing (the
//! next run picks up what is still due).

use selfcare_core::audit::{AuditActor, AuditEventName, Outcome};
use selfcare_core::roles::Channel;
use selfcare_core::tickets::{TicketEvent, TicketParty, TicketStatus, transition};
use selfcare_storage::page::{Page, PageRequest};
use selfcare_storage::tickets::DueTicket;
use time::{Duration, OffsetDateTime};

use crate::checkout::{SettleReport, settle_payment_intents};
use crate::error::Result;
use crate::portal::{Portal, target};

/// How long the first result of an idempotent request is kept (DESIGN §3).
const IDEMPOTENCY_KEPT: Duration = Duration::days(7);
/// Items handled per provider-wide page.
const BATCH: u32 = 200;

/// What one maintenance run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceReport {
    /// Payment intents left pending by a crash or an unanswered gateway, settled (ORD-5).
    pub intents: SettleReport,
    /// SIM swaps given up after the provisioning timeout (PLAN-2).
    pub swaps_timed_out: usize,
    /// Tickets closed 14 days after their resolution (TKT-1).
    pub tickets_closed: u32,
    /// Expired reset, confirmation, approval and invitation tokens deleted.
    pub tokens_purged: u32,
    /// Ended sessions deleted.
    pub sessions_purged: u32,
    /// Login-throttling counters past their lifetime deleted.
    pub throttle_counters_purged: u64,
    /// Idempotency records older than 7 days deleted.
    pub idempotency_records_purged: u64,
}

impl Portal {
    /// Runs every housekeeping step as of `now`: settles payment intents left pending by a
    /// crash, times out SIM swaps, closes tickets resolved 14 days ago, and purges expired
    /// tokens, ended sessions, old throttling counters and idempotency records older than
    /// 7 days. Run it on a timer (every minute is fine: every step is cheap when nothing is
    /// due); concurrent runs are safe (every change is a versioned update).
    ///
    /// # Errors
    /// `Unavailable` when the store cannot answer; a step that fails for one item leaves that
    /// item for the next run and goes on with the others.
    pub async fn run_maintenance(&self, now: OffsetDateTime) -> Result<MaintenanceReport> {
        let mut report = MaintenanceReport {
            intents: settle_payment_intents(self, now).await?,
            swaps_timed_out: self.time_out_provisioning(now).await?,
            ..MaintenanceReport::default()
        };
        self.close_resolved_tickets(now, &mut report).await?;
        self.purge_expired(now, &mut report).await?;
        Ok(report)
    }

    async fn close_resolved_tickets(
        &self,
        now: OffsetDateTime,
        report: &mut MaintenanceReport,
    ) -> Result<()> {
        let resolved_before = now.checked_sub(selfcare_core::tickets::REOPEN_WINDOW);
        let Some(resolved_before) = resolved_before else {
            return Ok(());
        };
        let mut page = PageRequest::first(BATCH);
        loop {
            let Page { items, next } = self
                .retry(|| async {
                    let mut tx = self.store().begin_provider().await?;
                    let due = tx.resolved_tickets_due(resolved_before, &page).await?;
                    tx.commit().await?;
                    Ok(due)
                })
                .await?;
            for due in &items {
                match self.close_ticket_automatically(due, now).await {
                    Ok(true) => report.tickets_closed += 1,
                    Ok(false) => {}
                    Err(e) => tracing::warn!(
                        ticket = %due.ticket,
                        reason = %e.reason(),
                        "selfcare: a resolved ticket could not be closed; the next run retries"
                    ),
                }
            }
            match next {
                Some(cursor) if !items.is_empty() => page = PageRequest::after(cursor, BATCH),
                _ => return Ok(()),
            }
        }
    }

    /// Closes one due ticket; `false` when it changed since it was listed (a customer
    /// reopened it in the meantime).
    async fn close_ticket_automatically(
        &self,
        due: &DueTicket,
        now: OffsetDateTime,
    ) -> Result<bool> {
        self.retry(|| async {
            let mut tx = self.store().begin(due.org).await?;
            let Some(record) = tx.get_ticket(due.ticket).await? else {
                return Ok(false);
            };
            let mut ticket = record.value;
            if ticket.status != TicketStatus::Resolved {
                return Ok(false);
            }
            ticket.status = transition(
                ticket.status,
                TicketEvent::AutoClose,
                TicketParty::System,
                ticket.resolved_at,
                now,
            )?;
            ticket.updated_at = now;
            let id = ticket.id;
            tx.update_ticket(ticket, record.version).await?;
            let event = self.audit_event(
                Some(due.org),
                AuditActor::System,
                Channel::Portal,
                AuditEventName::TicketClosed,
                target("ticket", id)?,
                Outcome::Success,
            )?;
            self.audit(tx.as_mut(), event).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    async fn purge_expired(
        &self,
        now: OffsetDateTime,
        report: &mut MaintenanceReport,
    ) -> Result<()> {
        let lifetimes = self.config().token_lifetimes;
        loop {
            let tokens = self
                .retry(|| async {
                    let mut tx = self.store().begin_provider().await?;
                    let expired = tx.expired_tokens(now, &lifetimes, BATCH).await?;
                    tx.commit().await?;
                    Ok(expired)
                })
                .await?;
            for (org, hash) in &tokens {
                let deleted = self
                    .retry(|| async {
                        let mut tx = self.store().begin(*org).await?;
                        let deleted = tx.delete_token(*hash).await?;
                        tx.commit().await?;
                        Ok(deleted)
                    })
                    .await?;
                report.tokens_purged += u32::from(deleted);
            }
            if tokens.len() < BATCH as usize {
                break;
            }
        }
        loop {
            let sessions = self
                .retry(|| async {
                    let mut tx = self.store().begin_provider().await?;
                    let expired = tx.expired_sessions(now, &lifetimes, BATCH).await?;
                    tx.commit().await?;
                    Ok(expired)
                })
                .await?;
            for (org, hash) in &sessions {
                let deleted = self
                    .retry(|| async {
                        let mut tx = self.store().begin(*org).await?;
                        let deleted = tx.delete_session(*hash).await?;
                        tx.commit().await?;
                        Ok(deleted)
                    })
                    .await?;
                report.sessions_purged += u32::from(deleted);
            }
            if sessions.len() < BATCH as usize {
                break;
            }
        }
        let counters_before = now.checked_sub(self.config().throttle.counter_lifetime);
        let idempotency_before = now.checked_sub(IDEMPOTENCY_KEPT);
        let (counters, records) = self
            .retry(|| async {
                let mut tx = self.store().begin_provider().await?;
                let counters = match counters_before {
                    Some(before) => tx.purge_throttle_counters(before).await?,
                    None => 0,
                };
                let records = match idempotency_before {
                    Some(before) => tx.purge_idempotency_records(before).await?,
                    None => 0,
                };
                tx.commit().await?;
                Ok((counters, records))
            })
            .await?;
        report.throttle_counters_purged = counters;
        report.idempotency_records_purged = records;
        Ok(())
    }
}
