//! Logins of API clients (AUTH-4): a client id and a secret (stored as a hash) open a
//! session on the API channel for the user the client acts as, normally an ApiUser (USR-4).
//! Failures are throttled per submitted client id and per source like password logins
//! (AUTH-3) and look alike whatever was wrong.

use selfcare_core::audit::{AuditActor, AuditEventName, Outcome, PersonalField};
use selfcare_core::policy::decide_login;
use selfcare_core::roles::Channel;
use selfcare_core::throttle::ThrottleKey;
use selfcare_core::tokens::{ClientId, SessionTimes, Token, verify_api_secret};
use selfcare_storage::accounts::UserStatus;
use selfcare_storage::auth::{SessionRecord, SessionSubject};

use crate::error::{Error, Result, UnauthenticatedKind};
use crate::portal::{Portal, RequestContext, target};
use crate::session::{FailedLogin, Session};

/// What one attempt found.
enum Checked {
    Opened(Session),
    Refused(Error),
    Failed,
}

impl Portal {
    /// Opens an API session with an API client's id and secret (AUTH-4). The channel is the
    /// API's, whatever the caller says; the user's role is re-read on every call (USR-5).
    ///
    /// ```no_run
    /// # async fn demo(portal: selfcare::Portal, secret: &str) -> selfcare::Result<()> {
    /// use selfcare::RequestContext;
    /// let ctx = RequestContext::from_source("198.51.100.4");
    /// let session = portal.api_login("01JD4S7A0Q8V3W9X2Y5Z6B7C8D", secret, &ctx).await?;
    /// # let _ = session; Ok(()) }
    /// ```
    ///
    /// # Errors
    /// `Unauthenticated(InvalidCredentials)` for an unknown client id, a wrong secret, a
    /// revoked client or an inactive user (all alike); `Throttled { retry_after }`;
    /// `PermissionDenied` when the client's user may not use the API channel; `Unavailable`.
    pub async fn api_login(
        &self,
        client_id: &str,
        secret: &str,
        ctx: &RequestContext,
    ) -> Result<Session> {
        let client_key = ThrottleKey::api_client(client_id).storage_key();
        let source_key = ThrottleKey::login_source(&ctx.source).storage_key();
        self.check_throttle(&[&client_key, &source_key]).await?;
        let secret = Token::parse(secret).ok();
        let found = match ClientId::parse(client_id) {
            Ok(parsed) => self.store().api_client_by_client_id(parsed).await?,
            Err(_) => None,
        };
        let checked = match found {
            None => Checked::Failed,
            Some((org, id)) => {
                let token = Token::from_random(self.random()?);
                let now = self.now();
                self.retry(|| async {
                    let mut tx = self.store().begin(org).await?;
                    let Some(client) = tx.api_client(id).await? else {
                        return Ok(Checked::Failed);
                    };
                    let client = client.value;
                    let secret_ok = secret
                        .as_ref()
                        .is_some_and(|s| verify_api_secret(s, &client.secret_hash));
                    if !secret_ok || client.revoked_at.is_some() {
                        return Ok(Checked::Failed);
                    }
                    let Some(user) = tx.user(client.user).await? else {
                        return Ok(Checked::Failed);
                    };
                    if user.value.status != UserStatus::Active {
                        return Ok(Checked::Failed);
                    }
                    if let Err(e) = decide_login(user.value.role, Channel::Api).into_result() {
                        return Ok(Checked::Refused(Error::from(e)));
                    }
                    tx.insert_session(SessionRecord {
                        token_hash: token.hash(),
                        subject: SessionSubject::ApiClient(id),
                        channel: Channel::Api,
                        times: SessionTimes::new(now),
                        // The second factor is a portal matter (AUTH-6).
                        second_factor_passed: false,
                    })
                    .await?;
                    let mut event = self.audit_event(
                        Some(org),
                        AuditActor::ApiClient { id },
                        Channel::Api,
                        AuditEventName::AuthnLoginSuccess,
                        target("api_client", id)?,
                        Outcome::Success,
                    )?;
                    event.personal =
                        self.personal([(PersonalField::Source, ctx.source.as_str())])?;
                    self.audit(tx.as_mut(), event).await?;
                    tx.commit().await?;
                    Ok(Checked::Opened(Session::opened(
                        self,
                        &token,
                        org,
                        user.value.id,
                        Channel::Api,
                    )))
                })
                .await?
            }
        };
        match checked {
            Checked::Opened(session) => {
                self.clear_throttle(&client_key).await?;
                Ok(session)
            }
            Checked::Refused(e) => Err(e),
            Checked::Failed => {
                self.api_login_failed(found, &client_key, &source_key, ctx)
                    .await?;
                Err(Error::unauthenticated(
                    UnauthenticatedKind::InvalidCredentials,
                ))
            }
        }
    }

    /// Counts the failure and audits it: in the client's organisation when the client id is
    /// known, in the provider's chain otherwise (AUD-1).
    async fn api_login_failed(
        &self,
        found: Option<(selfcare_core::ids::OrgId, selfcare_core::ids::ApiClientId)>,
        client_key: &str,
        source_key: &str,
        ctx: &RequestContext,
    ) -> Result<()> {
        let found = match found {
            Some((org, id)) => Some((org, target("api_client", id)?)),
            None => None,
        };
        self.record_failed_login(
            FailedLogin {
                channel: Channel::Api,
                keys: &[client_key, source_key],
                found,
                unknown: target("api_client", "unknown")?,
                attempted: None,
            },
            ctx,
        )
        .await
    }
}
