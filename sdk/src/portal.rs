//! `Portal`: the entry point of the SDK, and the machinery every use case shares — one store
//! transaction per attempt, the whole use case re-run on `StoreError::Retryable` (up to five
//! times with backoff), randomness from the operating system, Argon2 on a blocking thread, and
//! the audit entry written in the same transaction as the change.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use selfcare_core::ReasonCode;
use selfcare_core::audit::{
    AuditActor, AuditChain, AuditEvent, AuditEventName, AuditTarget, FieldName, Outcome,
    PersonalField, PersonalValues,
};
use selfcare_core::contact::{Email, Language};
use selfcare_core::ids::{AuditEntryId, MessageId, OrgId};
use selfcare_core::notifications::{NotificationKind, Params, render};
use selfcare_core::password::{
    NormalizedPassword, Password, PasswordHash, dummy_hash, hash_password, verify_password,
};
use selfcare_core::roles::Channel;
use selfcare_storage::outbox::OutboxMessage;
use selfcare_storage::{OrgTransaction, ProviderTransaction, Store, StoreError};
use time::OffsetDateTime;

use crate::config::PortalConfig;
use crate::error::{Error, Result};
use crate::ports::Ports;

/// What the host saw of a request: where it came from. It carries no channel (the channel
/// comes from the credential, AUTH-4) and no captcha (the calls of AUTH-5 take it as a
/// parameter).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestContext {
    /// The client's address as the host saw it (e.g. an IP address), for throttling (AUTH-3)
    /// and the audit log.
    pub source: String,
    /// The client's user agent, if known.
    pub user_agent: Option<String>,
}

impl RequestContext {
    /// A context for a request from `source`.
    pub fn from_source(source: impl Into<String>) -> Self {
        RequestContext {
            source: source.into(),
            user_agent: None,
        }
    }
}

/// Counters a host can export to its monitoring.
#[derive(Debug, Default)]
pub struct PortalMetrics {
    password_verifications: AtomicU64,
    retries: AtomicU64,
}

impl PortalMetrics {
    /// Argon2 verifications run so far (AUTH-1: an unknown e-mail costs one too).
    pub fn password_verifications(&self) -> u64 {
        self.password_verifications.load(Ordering::Relaxed)
    }

    /// Use cases re-run after a retryable store failure.
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

/// The SDK's entry point over one store and its ports. Cheap to clone; clones share
/// everything.
#[derive(Clone)]
pub struct Portal {
    pub(crate) inner: Arc<PortalInner>,
}

pub(crate) struct PortalInner {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) ports: Ports,
    pub(crate) config: PortalConfig,
    /// Verified against when the e-mail is unknown, so that costs one Argon2 run too (AUTH-1).
    pub(crate) dummy_hash: PasswordHash,
    pub(crate) metrics: PortalMetrics,
}

impl std::fmt::Debug for Portal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Portal")
            .field("ports", &self.inner.ports)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// How many times a use case runs at most when the store keeps answering `Retryable`.
const ATTEMPTS: u32 = 5;

/// Why one attempt of a use case ended: a retryable store failure re-runs the whole use case,
/// anything else is its answer.
pub(crate) enum Attempt {
    Retry(StoreError),
    Fail(Error),
}

impl From<StoreError> for Attempt {
    fn from(e: StoreError) -> Self {
        if e.is_retryable() {
            Attempt::Retry(e)
        } else {
            Attempt::Fail(Error::from(e))
        }
    }
}

impl From<Error> for Attempt {
    fn from(e: Error) -> Self {
        Attempt::Fail(e)
    }
}

impl From<selfcare_core::Error> for Attempt {
    fn from(e: selfcare_core::Error) -> Self {
        Attempt::Fail(Error::from(e))
    }
}

impl Portal {
    /// A portal over `store` with the host's `ports` and `config`.
    ///
    /// Development ports (`Ports::test_mode`) are announced with a warning in the log, so they
    /// can never be mistaken for production.
    ///
    /// # Errors
    /// `Internal` when the Argon2 parameters of `config` cannot hash at all.
    pub fn with_store(store: Arc<dyn Store>, ports: Ports, config: PortalConfig) -> Result<Self> {
        if ports.test_mode {
            tracing::warn!(
                "selfcare: development ports in use; everything they touch is marked test_mode"
            );
        }
        let dummy_hash = dummy_hash(&config.password_params).map_err(|_| Error::Internal)?;
        Ok(Portal {
            inner: Arc::new(PortalInner {
                store,
                ports,
                config,
                dummy_hash,
                metrics: PortalMetrics::default(),
            }),
        })
    }

    /// The portal's configuration.
    pub fn config(&self) -> &PortalConfig {
        &self.inner.config
    }

    /// Counters for the host's monitoring.
    pub fn metrics(&self) -> &PortalMetrics {
        &self.inner.metrics
    }

    pub(crate) fn store(&self) -> &dyn Store {
        self.inner.store.as_ref()
    }

    /// `N` random bytes from the ports' source (the only randomness of the SDK; `core` takes
    /// its random bytes from here).
    pub(crate) fn random<const N: usize>(&self) -> Result<[u8; N]> {
        let mut bytes = [0u8; N];
        self.inner
            .ports
            .randomness
            .fill(&mut bytes)
            .map_err(|_| Error::Unavailable {
                reason: "the random source failed".to_owned(),
            })?;
        Ok(bytes)
    }

    pub(crate) fn ports(&self) -> &Ports {
        &self.inner.ports
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.inner.ports.clock.now()
    }

    /// Runs one use case, re-running it from the start while the store answers `Retryable`
    /// (each attempt opens its own transactions, so a re-run never sees half of an earlier one).
    pub(crate) async fn retry<T, F, Fut>(&self, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, Attempt>>,
    {
        let mut backoff = Duration::from_millis(10);
        for n in 1..=ATTEMPTS {
            match attempt().await {
                Ok(value) => return Ok(value),
                Err(Attempt::Fail(e)) => return Err(e),
                Err(Attempt::Retry(e)) if n == ATTEMPTS => return Err(Error::from(e)),
                Err(Attempt::Retry(_)) => {
                    self.inner.metrics.retries.fetch_add(1, Ordering::Relaxed);
                    // Half the backoff plus a random part of the other half: attempts that
                    // failed together (the losers of one serialization conflict) do not all
                    // come back at the same moment.
                    let spread = self.random::<1>().map_or(0, |[b]| u32::from(b));
                    let half = backoff / 2;
                    tokio::time::sleep(half + half.mul_f64(f64::from(spread) / 255.0)).await;
                    backoff = backoff.saturating_mul(2);
                }
            }
        }
        Err(Error::Internal)
    }

    /// Hashes a checked password on a blocking thread (Argon2 never runs on the executor).
    pub(crate) async fn hash(&self, password: NormalizedPassword) -> Result<PasswordHash> {
        let salt: [u8; 16] = self.random()?;
        let params = self.inner.config.password_params;
        blocking(move || hash_password(&password, &salt, &params).map_err(Error::from)).await
    }

    /// Verifies `password` against `hash` (the dummy hash when `None`) on a blocking thread,
    /// counting the verification.
    pub(crate) async fn verify(&self, password: Password, hash: Option<PasswordHash>) -> bool {
        self.inner
            .metrics
            .password_verifications
            .fetch_add(1, Ordering::Relaxed);
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.inner.dummy_hash.clone());
        let ok = blocking(move || Ok(verify_password(&password, &hash)))
            .await
            .unwrap_or(false);
        known && ok
    }

    /// Appends an audit entry for `event` to the chain of the transaction's organisation.
    pub(crate) async fn audit(
        &self,
        tx: &mut dyn OrgTransaction,
        event: AuditEvent,
    ) -> std::result::Result<(), Attempt> {
        let head = tx.audit_head().await?;
        let (entry, _) = AuditChain::append(&head, event, self.inner.config.host_key());
        tx.append_audit(head, entry).await?;
        Ok(())
    }

    /// Appends an audit entry to the provider's own chain (events of no organisation).
    pub(crate) async fn audit_provider(
        &self,
        tx: &mut dyn ProviderTransaction,
        event: AuditEvent,
    ) -> std::result::Result<(), Attempt> {
        let head = tx.audit_head().await?;
        let (entry, _) = AuditChain::append(&head, event, self.inner.config.host_key());
        tx.append_audit(head, entry).await?;
        Ok(())
    }

    /// An audit event of `org` (or of the provider when `None`) with the common fields set.
    pub(crate) fn audit_event(
        &self,
        org: Option<OrgId>,
        actor: AuditActor,
        channel: Channel,
        event: AuditEventName,
        target: AuditTarget,
        outcome: Outcome,
    ) -> Result<AuditEvent> {
        let now = self.now();
        Ok(AuditEvent {
            id: AuditEntryId::new(now, self.random()?),
            at: now,
            org,
            actor,
            channel,
            event,
            target,
            changed_fields: Vec::new(),
            outcome,
            reason: None,
            note: None,
            personal: PersonalValues::default(),
        })
    }

    /// Personal values of an audit entry (erasable), salted so an erased hash confirms nothing.
    pub(crate) fn personal<'a>(
        &self,
        values: impl IntoIterator<Item = (PersonalField, &'a str)>,
    ) -> Result<PersonalValues> {
        PersonalValues::new(self.random()?, values).map_err(Error::from)
    }
}

impl Portal {
    /// Renders `kind` in `language` (host overrides first, English fallback, ACC-4) and puts it
    /// in the outbox inside `tx`, so it is sent if and only if the change commits.
    pub(crate) async fn notify(
        &self,
        tx: &mut dyn OrgTransaction,
        kind: NotificationKind,
        to: Vec<Email>,
        language: Language,
        params: &Params,
    ) -> std::result::Result<(), Attempt> {
        if to.is_empty() {
            return Ok(());
        }
        let rendered = render(kind, language, params, &self.config().texts)?;
        let now = self.now();
        let message = OutboxMessage::new(
            MessageId::new(now, self.random()?),
            kind,
            to,
            rendered.language,
            rendered.subject,
            rendered.body,
            now,
        );
        tx.enqueue_outbox_message(message).await?;
        Ok(())
    }
}

impl Portal {
    /// The human verification of a customer-channel action (AUTH-5), called before any
    /// transaction opens. A missing or failed captcha is refused; a verifier that cannot answer
    /// makes the action `Unavailable`, never lets it through. Other channels need none.
    pub(crate) async fn check_captcha(
        &self,
        channel: Channel,
        captcha: Option<&str>,
    ) -> Result<()> {
        if channel != Channel::Portal {
            return Ok(());
        }
        let refused = || Error::Validation {
            field: "captcha".to_owned(),
            reason: ReasonCode::HumanVerificationFailed,
            message: "the human verification was not passed".to_owned(),
        };
        let captcha = captcha
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(refused)?;
        // A session carries no request source, so the verifier gets none.
        let passed = self.inner.ports.verifier.verify(captcha, "").await?;
        if passed { Ok(()) } else { Err(refused()) }
    }
}

/// Names of changed fields for an audit entry.
pub(crate) fn fields(names: &[&str]) -> Result<Vec<FieldName>> {
    FieldName::list(names.iter().copied()).map_err(Error::from)
}

/// An audit target of `kind` and `id`.
pub(crate) fn target(kind: &str, id: impl std::fmt::Display) -> Result<AuditTarget> {
    AuditTarget::of(kind, id).map_err(Error::from)
}

/// Runs CPU-heavy work (Argon2) on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| Error::Internal)?
}

/// The reason an audit entry records for a failed login.
pub(crate) const LOGIN_FAILED: ReasonCode = ReasonCode::InvalidCredentials;
