//! Delivery of the notification outbox (ACC-4, DESIGN §3): at least once, leased, retried with
//! backoff, dead-lettered after the configured attempts.
//!
//! Messages were rendered in the customer's language when the change that caused them
//! committed; delivery only hands them to the host's `Notifier`, outside any transaction, and
//! records the outcome in the owning organisation's transaction. A dispatcher that dies between
//! the two leaves the message leased; when the lease ends it is due again, so a message can be
//! delivered twice and the `Notifier` deduplicates by its id.

use selfcare_core::ids::{MessageId, OrgId};
use selfcare_core::notifications::AfterFailure;
use selfcare_storage::ports::{OutboundMessage, PortError};

use crate::error::Result;
use crate::portal::Portal;

/// What one dispatch run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DispatchReport {
    /// Messages the `Notifier` accepted.
    pub delivered: u32,
    /// Messages that failed and will be tried again.
    pub retrying: u32,
    /// Messages given up (dead letters).
    pub dead: u32,
}

impl Portal {
    /// Delivers the due messages of every organisation's outbox, at most
    /// [`PortalConfig::delivery`](crate::PortalConfig::delivery)`.batch` per run, oldest
    /// first. A failed delivery is tried again after a doubling wait; a message the
    /// `Notifier` rejects as such, or one that failed `max_attempts` times, becomes a dead
    /// letter. Call it on a timer (and after use cases that notify, for promptness).
    ///
    /// ```no_run
    /// # async fn demo(portal: selfcare::Portal) -> selfcare::Result<()> {
    /// let report = portal.dispatch_notifications().await?;
    /// println!("{} sent, {} to retry", report.delivered, report.retrying);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Unavailable` when the store cannot lease or record; a failing `Notifier` is not an
    /// error of the run (the message is retried).
    pub async fn dispatch_notifications(&self) -> Result<DispatchReport> {
        let policy = self.config().delivery;
        let leased = self
            .retry(|| async {
                let mut tx = self.store().begin_provider().await?;
                let due = tx
                    .lease_due_messages(self.now(), policy.lease, policy.batch.max(1))
                    .await?;
                tx.commit().await?;
                Ok(due)
            })
            .await?;
        let mut report = DispatchReport::default();
        for (org, id) in leased {
            let Some(message) = self.leased_message(org, id).await? else {
                continue;
            };
            let attempt = message.attempts.saturating_add(1);
            let outbound = OutboundMessage::from(&message);
            let outcome = self.ports().notifier.deliver(outbound).await;
            let now = self.now();
            let failure = match outcome {
                Ok(()) => None,
                Err(PortError::Rejected { .. }) => Some((AfterFailure::Dead, "rejected")),
                Err(PortError::Timeout) => Some((policy.after_failure(attempt, now), "timeout")),
                Err(_) => Some((policy.after_failure(attempt, now), "unavailable")),
            };
            self.retry(|| async {
                let mut tx = self.store().begin(org).await?;
                match failure {
                    None => tx.outbox_mark_delivered(id, now).await?,
                    Some((AfterFailure::RetryAt(at), why)) => {
                        tx.outbox_mark_failed(id, at, false, why.to_owned()).await?;
                    }
                    Some((AfterFailure::Dead, why)) => {
                        tx.outbox_mark_failed(id, now, true, why.to_owned()).await?;
                    }
                }
                tx.commit().await?;
                Ok(())
            })
            .await?;
            match failure {
                None => report.delivered += 1,
                Some((AfterFailure::RetryAt(_), _)) => report.retrying += 1,
                Some((AfterFailure::Dead, _)) => {
                    tracing::warn!(message = %id, "selfcare: a notification became a dead letter");
                    report.dead += 1;
                }
            }
        }
        Ok(report)
    }

    async fn leased_message(
        &self,
        org: OrgId,
        id: MessageId,
    ) -> Result<Option<selfcare_storage::outbox::OutboxMessage>> {
        self.retry(|| async {
            let mut tx = self.store().begin(org).await?;
            let message = tx.get_outbox_message(id).await?;
            tx.commit().await?;
            // Delivered or dead in the meantime (another dispatcher's late report): skip.
            Ok(message.filter(|m| m.delivered_at.is_none() && !m.dead))
        })
        .await
    }
}
