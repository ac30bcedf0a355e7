//! The use cases over a [`Transport`] (DESIGN §4): for apps and back offices that do not hold
//! the database. [`RemotePortal`], [`RemoteSession`] and [`RemoteStaff`] have the methods of
//! `Portal`, `Session` and `StaffSession` with the same names and the same errors; each sends
//! one [`wire`](crate::wire) request to the service, which runs the rules with its own
//! `Portal::handle` (AUTH-7: the service is the authority).
//!
//! Parameters are owned (`impl Into<…>`), since they travel; the request context is the
//! service's to see, so no method takes one.
//!
//! ```no_run
//! # async fn demo(transport: std::sync::Arc<dyn selfcare::storage::ports::Transport>) -> selfcare::Result<()> {
//! use selfcare::core::password::Password;
//! use selfcare::remote::{RemoteLoginOutcome, RemotePortal};
//! let portal = RemotePortal::new(transport);
//! if let RemoteLoginOutcome::Session(session) =
//!     portal.login("ada@example.com", Password::new("correct horse battery staple")).await?
//! {
//!     println!("{}", session.me().await?.name);
//! }
//! # Ok(()) }
//! ```

use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use selfcare_core::ids::{OrgId, UserId};
use selfcare_core::password::Password;
use selfcare_core::roles::Channel;
use selfcare_storage::ports::{Transport, TransportError, TransportRequest, TransportResponse};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::{Error, Result};
use crate::portal::{Portal, RequestContext};
use crate::second_factor::SecondFactorChallenge;
use crate::wire::{
    Credentials, LoginOutput, Operation, SessionGrant, SessionInfo, WIRE_VERSION, WireError,
    WireOperation, for_each_operation, input,
};

/// The portal of a remote service: the anonymous use cases, and the way to sessions.
#[derive(Clone)]
pub struct RemotePortal {
    transport: Arc<dyn Transport>,
}

impl std::fmt::Debug for RemotePortal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemotePortal").finish_non_exhaustive()
    }
}

/// What a password login gives through a [`RemotePortal`].
#[derive(Debug)]
#[non_exhaustive]
pub enum RemoteLoginOutcome {
    /// Logged in.
    Session(RemoteSession),
    /// Pass the challenge with a code to [`RemotePortal::complete_second_factor`] (AUTH-6).
    SecondFactorRequired(SecondFactorChallenge),
}

/// A session on a remote service: its token is the bearer of every call.
#[derive(Clone)]
pub struct RemoteSession {
    portal: RemotePortal,
    token: SecretString,
    info: SessionInfo,
}

impl std::fmt::Debug for RemoteSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is a credential: never printed.
        f.debug_struct("RemoteSession")
            .field("org", &self.info.org)
            .field("user", &self.info.user)
            .field("channel", &self.info.channel)
            .finish_non_exhaustive()
    }
}

/// Provider staff on a remote service, with the staff token the service maps to their identity.
#[derive(Clone)]
pub struct RemoteStaff {
    portal: RemotePortal,
    token: SecretString,
}

impl std::fmt::Debug for RemoteStaff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStaff").finish_non_exhaustive()
    }
}

/// The mobile network's calls to a remote service, with the service's network token.
#[derive(Clone)]
pub struct RemoteNetwork {
    portal: RemotePortal,
    token: SecretString,
}

impl std::fmt::Debug for RemoteNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteNetwork").finish_non_exhaustive()
    }
}

impl RemotePortal {
    /// A portal that sends every call through `transport` (the app's HTTP client).
    pub fn new(transport: Arc<dyn Transport>) -> Self {
        RemotePortal { transport }
    }

    /// Sends one operation with an optional bearer token and decodes its answer: what every
    /// method of the remote clients does.
    ///
    /// # Errors
    /// The service's error for the operation; `Unavailable` when the transport brings no
    /// answer or the answer is not a selfcare response; `Conflict`
    /// (`wire_version_unsupported`) when the service speaks a newer wire version.
    pub async fn send<O: WireOperation>(
        &self,
        bearer: Option<&SecretString>,
        input: O,
    ) -> Result<O::Output> {
        let request = TransportRequest {
            operation: O::OPERATION.name().to_owned(),
            bearer: bearer.cloned(),
            body: serde_json::to_vec(&input).map_err(|_| Error::Internal)?,
        };
        let response = self
            .transport
            .send(request)
            .await
            .map_err(|e| Error::Unavailable {
                reason: e.to_string(),
            })?;
        decode_reply(O::OPERATION, &response)
    }

    /// Logs in with e-mail and password (AUTH-1, AUTH-3, AUTH-6).
    ///
    /// # Errors
    /// As [`crate::Portal::login`].
    pub async fn login(
        &self,
        email: impl Into<String>,
        password: Password,
    ) -> Result<RemoteLoginOutcome> {
        let input = input::Login {
            email: email.into(),
            password,
        };
        Ok(match self.send(None, input).await? {
            LoginOutput::Session(grant) => RemoteLoginOutcome::Session(self.session_of(grant)),
            LoginOutput::SecondFactorRequired(challenge) => {
                RemoteLoginOutcome::SecondFactorRequired(challenge)
            }
        })
    }

    /// Completes a login with the code of the authenticator app or a recovery code (AUTH-6).
    ///
    /// # Errors
    /// As [`crate::Portal::complete_second_factor`].
    pub async fn complete_second_factor(
        &self,
        challenge: impl Into<String>,
        code_or_recovery_code: impl Into<String>,
    ) -> Result<RemoteSession> {
        let input = input::CompleteSecondFactor {
            challenge: challenge.into(),
            code_or_recovery_code: code_or_recovery_code.into(),
        };
        let grant = self.send(None, input).await?;
        Ok(self.session_of(grant))
    }

    /// Logs an API client in (AUTH-4).
    ///
    /// # Errors
    /// As [`crate::Portal::api_login`].
    pub async fn api_login(
        &self,
        client_id: impl Into<String>,
        secret: impl Into<String>,
    ) -> Result<RemoteSession> {
        let input = input::ApiLogin {
            client_id: client_id.into(),
            secret: secret.into(),
        };
        let grant = self.send(None, input).await?;
        Ok(self.session_of(grant))
    }

    /// The session of a token kept from an earlier login, checked with the service (AUTH-4).
    ///
    /// # Errors
    /// `Unauthenticated(SessionExpired)` when the session ended; `Unavailable`.
    pub async fn resume(&self, session_token: impl Into<String>) -> Result<RemoteSession> {
        let token = SecretString::from(session_token.into());
        let info = self.send(Some(&token), input::Resume {}).await?;
        Ok(RemoteSession {
            portal: self.clone(),
            token,
            info,
        })
    }

    /// Staff calls with a staff token the service knows (STF-1).
    pub fn staff(&self, staff_token: impl Into<String>) -> RemoteStaff {
        RemoteStaff {
            portal: self.clone(),
            token: SecretString::from(staff_token.into()),
        }
    }

    /// The network's calls with the service's network token.
    pub fn network(&self, network_token: impl Into<String>) -> RemoteNetwork {
        RemoteNetwork {
            portal: self.clone(),
            token: SecretString::from(network_token.into()),
        }
    }

    fn session_of(&self, grant: SessionGrant) -> RemoteSession {
        RemoteSession {
            portal: self.clone(),
            info: SessionInfo {
                org: grant.org,
                user: grant.user,
                channel: grant.channel,
            },
            token: grant.token,
        }
    }

    async fn anonymous<O: WireOperation>(&self, input: O) -> Result<O::Output> {
        self.send(None, input).await
    }
}

impl RemoteSession {
    /// The session token (keep it to [`RemotePortal::resume`] later).
    pub fn token(&self) -> &str {
        self.token.expose_secret()
    }

    /// The organisation of the session.
    pub fn org(&self) -> OrgId {
        self.info.org
    }

    /// The logged-in user.
    pub fn user(&self) -> UserId {
        self.info.user
    }

    /// The channel the session is on (AUTH-4).
    pub fn channel(&self) -> Channel {
        self.info.channel
    }

    /// Ends this session (AUTH-4).
    ///
    /// # Errors
    /// As [`crate::Session::logout`].
    pub async fn logout(self) -> Result<()> {
        self.send(input::Logout {}).await
    }

    /// Writes the CSV of an order's SIMs to `out` and returns the number of SIM rows (SIM-3).
    ///
    /// # Errors
    /// As [`crate::Session::export_order_sims`]; `Unavailable` when `out` fails.
    pub async fn export_order_sims<W: std::io::Write>(
        &self,
        number: impl Into<String>,
        mut out: W,
    ) -> Result<u64> {
        let export = self
            .send(input::ExportOrderSims {
                number: number.into(),
            })
            .await?;
        out.write_all(export.csv.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| Error::Unavailable {
                reason: format!("the CSV could not be written: {e}"),
            })?;
        Ok(export.rows)
    }

    async fn send<O: WireOperation>(&self, input: O) -> Result<O::Output> {
        self.portal.send(Some(&self.token), input).await
    }
}

impl RemoteStaff {
    async fn send<O: WireOperation>(&self, input: O) -> Result<O::Output> {
        self.portal.send(Some(&self.token), input).await
    }
}

impl RemoteNetwork {
    async fn send<O: WireOperation>(&self, input: O) -> Result<O::Output> {
        self.portal.send(Some(&self.token), input).await
    }
}

/// A transport that serves each request with a local [`Portal`], in process: the service side
/// without a network, byte for byte what the reference service answers (offline demos, tests of
/// apps, the wire's own tests).
#[derive(Debug, Clone)]
pub struct LocalTransport {
    portal: Portal,
    credentials: Credentials,
    ctx: RequestContext,
}

impl LocalTransport {
    /// Serves with `portal`, the service's `credentials`, and `ctx` as the context of every
    /// request.
    pub fn new(portal: Portal, credentials: Credentials, ctx: RequestContext) -> Self {
        LocalTransport {
            portal,
            credentials,
            ctx,
        }
    }
}

#[async_trait::async_trait]
impl Transport for LocalTransport {
    async fn send(&self, request: TransportRequest) -> Result<TransportResponse, TransportError> {
        let bearer = request.bearer.as_ref().map(ExposeSecret::expose_secret);
        let (status, body) = self
            .portal
            .serve_request(
                &self.credentials,
                &self.ctx,
                &request.operation,
                bearer,
                &request.body,
            )
            .await;
        Ok(TransportResponse { status, body })
    }
}

/// The answer to one request: its output, or the service's error as an [`Error`].
///
/// # Errors
/// The service's error; `Unavailable` for a body that is not a selfcare response (a proxy's
/// error page); `Conflict` (`wire_version_unsupported`) for a newer wire version.
pub fn decode_reply<T: serde::de::DeserializeOwned>(
    operation: Operation,
    response: &TransportResponse,
) -> Result<T> {
    #[derive(Deserialize)]
    struct Head {
        wire_version: u32,
        #[serde(flatten)]
        _rest: std::collections::BTreeMap<String, IgnoredAny>,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Output<T> {
        #[allow(dead_code)]
        wire_version: u32,
        operation: String,
        output: T,
    }
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Failure {
        #[allow(dead_code)]
        wire_version: u32,
        error: WireError,
    }
    let status = response.status;
    let not_ours = |what: &str| Error::Unavailable {
        reason: format!("the service answered {operation} with status {status} and {what}"),
    };
    let head: Head = serde_json::from_slice(&response.body)
        .map_err(|_| not_ours("a body that is not a selfcare response"))?;
    if head.wire_version > WIRE_VERSION {
        return Err(Error::Conflict {
            reason: selfcare_core::ReasonCode::WireVersionUnsupported,
        });
    }
    if (200..300).contains(&status) {
        let body: Output<T> = serde_json::from_slice(&response.body)
            .map_err(|e| not_ours(&format!("an output this SDK cannot read ({e})")))?;
        if body.operation != operation.name() {
            return Err(not_ours("the output of another operation"));
        }
        Ok(body.output)
    } else {
        let body: Failure = serde_json::from_slice(&response.body)
            .map_err(|e| not_ours(&format!("an error this SDK cannot read ({e})")))?;
        Err(body.error.into_error())
    }
}

macro_rules! remote_method {
    // Written by hand above.
    ($scope:ident [manual] $($rest:tt)*) => {};
    (anonymous [] $($rest:tt)*) => {
        remote_method!(@emit RemotePortal anonymous $($rest)*);
    };
    (session [] $($rest:tt)*) => {
        remote_method!(@emit RemoteSession send $($rest)*);
    };
    (staff [] $($rest:tt)*) => {
        remote_method!(@emit RemoteStaff send $($rest)*);
    };
    (staff_portal [] $($rest:tt)*) => {
        remote_method!(@emit RemoteStaff send $($rest)*);
    };
    (network [] $($rest:tt)*) => {
        remote_method!(@emit RemoteNetwork send $($rest)*);
    };
    (@emit $Client:ident $via:ident [$($doc:literal)*] $op:ident $Variant:ident
        [$method:ident $($_op:ident)?]
        { $($field:ident : $fty:ty),* } -> $out:ty) => {
        impl $Client {
            $(#[doc = $doc])*
            ///
            #[doc = concat!("Sends `", stringify!($op), "` to the service.")]
            ///
            /// # Errors
            /// The service's error, as the local call gives it; `Unavailable` when the service
            /// cannot be reached.
            pub async fn $method(&self, $($field: impl Into<$fty>),*) -> Result<$out> {
                self.$via(input::$Variant { $($field: $field.into()),* }).await
            }
        }
    };
}

macro_rules! define_remote {
    ($(
        $(#[doc = $doc:literal])*
        $scope:ident [$($flag:ident)?] $op:ident $Variant:ident $(=> $method:ident)? {
            $($(#[$fattr:meta])* $field:ident : $fty:ty),* $(,)?
        } -> $out:ty = |$t:ident, $i:ident, $ctx:ident| $call:expr;
    )*) => {
        $(
            remote_method!($scope [$($flag)?] [$($doc)*] $op $Variant [$($method)? $op]
                { $($field : $fty),* } -> $out);
        )*
    };
}

for_each_operation!(define_remote);
