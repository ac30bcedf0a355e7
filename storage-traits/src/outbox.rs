//! Storage of the notification outbox: leases, attempts, dead letters (DESIGN §3).
//!
//! A use case writes an [`OutboxMessage`] in the same transaction as the change it reports
//! ([`OutboxTx::enqueue_outbox_message`]). The dispatcher then, in a provider transaction, leases the
//! due messages ([`OutboxProvider::lease_due_messages`]) and commits; it hands each one to the
//! `Notifier` outside any transaction, and records the outcome in the owning organisation's
//! transaction ([`OutboxTx::outbox_mark_delivered`], [`OutboxTx::outbox_mark_failed`]). A message whose lease
//! runs out before it is marked is due again, so delivery is at least once; the `Notifier`
//! deduplicates by message id.

use async_trait::async_trait;
use selfcare_core::contact::{Email, Language};
use selfcare_core::ids::{MessageId, OrgId};
use selfcare_core::notifications::NotificationKind;
use time::OffsetDateTime;

use crate::error::StoreResult;
use crate::page::{Page, PageRequest};

/// One notification waiting for, or done with, delivery.
///
/// Primary key `(org, id)`. Provider-wide indexes (for SQL stores): the pending messages
/// (`delivered_at IS NULL AND NOT dead`) by `(created_at, id)` for leasing, and the dead letters
/// by `id`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxMessage {
    /// The message id; the `Notifier` deduplicates by it.
    pub id: MessageId,
    /// Which notification it is.
    pub kind: NotificationKind,
    /// The recipients.
    pub to: Vec<Email>,
    /// The language the text is in.
    pub language: Language,
    /// The subject, rendered when the message was written.
    pub subject: String,
    /// The plain-text body, rendered when the message was written.
    pub body: String,
    /// When it was written; leases go in this order.
    #[serde(with = "selfcare_core::formats::instant")]
    pub created_at: OffsetDateTime,
    /// How many delivery outcomes were recorded (delivered or failed).
    pub attempts: u32,
    /// Not to be leased before this time (backoff after a failure).
    #[serde(with = "selfcare_core::formats::instant")]
    pub next_attempt_at: OffsetDateTime,
    /// Leased to a dispatcher until this time; after it, the message is due again.
    #[serde(default, with = "selfcare_core::formats::instant::option")]
    pub leased_until: Option<OffsetDateTime>,
    /// When the `Notifier` accepted it; a delivered message is never leased again.
    #[serde(default, with = "selfcare_core::formats::instant::option")]
    pub delivered_at: Option<OffsetDateTime>,
    /// Given up after the configured attempts (a dead letter); never leased again.
    pub dead: bool,
    /// The last failure's reason, for staff (no personal data).
    pub last_error: Option<String>,
}

impl OutboxMessage {
    /// A new message, due at once: no attempts, no lease, not delivered, not dead.
    pub fn new(
        id: MessageId,
        kind: NotificationKind,
        to: Vec<Email>,
        language: Language,
        subject: impl Into<String>,
        body: impl Into<String>,
        now: OffsetDateTime,
    ) -> Self {
        OutboxMessage {
            id,
            kind,
            to,
            language,
            subject: subject.into(),
            body: body.into(),
            created_at: now,
            attempts: 0,
            next_attempt_at: now,
            leased_until: None,
            delivered_at: None,
            dead: false,
            last_error: None,
        }
    }

    /// Whether a dispatcher may lease it at `now`: not delivered, not dead, its next attempt
    /// reached, and no lease running (`leased_until` absent or not after `now`).
    pub fn is_due(&self, now: OffsetDateTime) -> bool {
        self.delivered_at.is_none()
            && !self.dead
            && self.next_attempt_at <= now
            && self.leased_until.is_none_or(|until| until <= now)
    }
}

/// Organisation-scoped operations on the outbox, inside an [`crate::OrgTransaction`].
#[async_trait]
pub trait OutboxTx: Send {
    /// Writes `message` to this organisation's outbox, as part of the transaction that makes
    /// the change it reports.
    ///
    /// The store MUST keep every field as given and MUST NOT make the message visible to
    /// [`OutboxProvider::lease_due_messages`] before the transaction commits.
    ///
    /// # Errors
    /// `Conflict(Duplicate { what: "outbox_message" })` when this organisation has a message
    /// with the same id (nothing is changed).
    async fn enqueue_outbox_message(&mut self, message: OutboxMessage) -> StoreResult<()>;

    /// The message `id` of this organisation as stored.
    ///
    /// It MUST return `None` for an id of another organisation.
    ///
    /// # Errors
    /// Only the store's own failures (`Unavailable`, `Corrupt`, …).
    async fn get_outbox_message(&mut self, id: MessageId) -> StoreResult<Option<OutboxMessage>>;

    /// Records that the `Notifier` accepted the message at `at`.
    ///
    /// The store MUST set `delivered_at` to `at`, clear the lease and the dead flag and count
    /// the attempt; a delivered message MUST never be leased again. Marking a message that is
    /// delivered already MUST change nothing (a redelivery after an expired lease reports
    /// twice).
    ///
    /// # Errors
    /// `NotFound` when this organisation has no message `id`.
    async fn outbox_mark_delivered(&mut self, id: MessageId, at: OffsetDateTime)
    -> StoreResult<()>;

    /// Records a failed delivery: the message is tried again at `next_attempt_at`, or never
    /// again when `dead` (a dead letter).
    ///
    /// The store MUST count the attempt, clear the lease and store `next_attempt_at`, `dead`
    /// and `error` (as `last_error`). A dead message MUST never be leased again. Marking a
    /// message that is delivered already MUST change nothing (a late failure report of a
    /// duplicate delivery does not undo the delivery).
    ///
    /// # Errors
    /// `NotFound` when this organisation has no message `id`.
    async fn outbox_mark_failed(
        &mut self,
        id: MessageId,
        next_attempt_at: OffsetDateTime,
        dead: bool,
        error: String,
    ) -> StoreResult<()>;
}

/// Provider-scoped reads and leases of the outbox, inside a [`crate::ProviderTransaction`].
#[async_trait]
pub trait OutboxProvider: Send {
    /// Leases up to `max` due messages of every organisation until `now + lease_for` and
    /// returns them as `(organisation, message)`.
    ///
    /// A message is due when it is not delivered, not dead, its `next_attempt_at` is not after
    /// `now`, and it is not leased or its lease ended (`leased_until <= now`). The store MUST
    /// return due messages only, oldest first (by `created_at`, then id), at most `max` of
    /// them, and MUST set their `leased_until` to `now + lease_for`, so no other dispatcher
    /// leases them before the lease ends. A leased message that is not marked within its lease
    /// MUST be due again after it (at least once).
    ///
    /// # Errors
    /// `InvalidInput` when `max` is 0 or above [`crate::page::MAX_PAGE`], or `lease_for` is not
    /// positive or runs past the representable time.
    async fn lease_due_messages(
        &mut self,
        now: OffsetDateTime,
        lease_for: time::Duration,
        max: u32,
    ) -> StoreResult<Vec<(OrgId, MessageId)>>;

    /// The dead letters of every organisation, oldest first (by message id).
    ///
    /// It MUST list exactly the messages marked dead and not delivered since, each once,
    /// stable while rows are added between pages.
    ///
    /// # Errors
    /// `InvalidInput` for a page limit out of range or a cursor this store did not produce.
    async fn outbox_dead_letters(
        &mut self,
        page: PageRequest,
    ) -> StoreResult<Page<(OrgId, MessageId)>>;
}
