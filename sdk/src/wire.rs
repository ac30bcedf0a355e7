//! The wire form of every use case (DESIGN §4): what a mobile app or a remote back office sends
//! to the service that holds the database, and what comes back.
//!
//! - A request is one operation and its input: [`Request`], whose serde form is
//!   `{"operation": "place_order", "input": {…}}`. Over HTTP the operation is the path
//!   (`POST /v1/place_order`) and the body is the input alone; [`Request::decode`] puts the two
//!   back together and [`Request::input_body`] takes them apart.
//! - A response body is `{"wire_version": 1, "operation": "place_order", "output": {…}}`
//!   ([`Response::to_body`]) or `{"wire_version": 1, "error": {…}}` ([`WireError::to_body`])
//!   with the HTTP status of the error's category ([`WireError::status`]).
//! - Unknown fields are rejected everywhere, money is a decimal string with its currency,
//!   instants are RFC 3339 strings, plan and document dates `YYYY-MM-DD`, bytes base64.
//!   The golden files under `sdk/tests/wire/` pin the form: a change to them is a visible diff.
//!
//! [`Portal::handle`] executes one request with the credential it came with, so a service needs
//! no code per operation; [`crate::remote::RemotePortal`] sends the same use cases through a
//! [`Transport`](selfcare_storage::ports::Transport).
//!
//! ```
//! use selfcare::wire::{Operation, Request};
//! let request = Request::decode("track_order", br#"{"order_number":"K7M2-9QXD","email_or_postal_code":"10115"}"#)
//!     .unwrap();
//! assert_eq!(request.operation(), Operation::TrackOrder);
//! assert_eq!(request.operation().name(), "track_order");
//! ```

pub mod openapi;
mod operations;

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use selfcare_core::ReasonCode;
use selfcare_core::ids::{OrgId, UserId};
use selfcare_core::policy::StaffActor;
use selfcare_core::roles::Channel;
use selfcare_storage::ports::NextAction;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, UnauthenticatedKind};
use crate::portal::{Portal, RequestContext};
use crate::second_factor::SecondFactorChallenge;
use crate::session::{LoginOutcome, Session};
use crate::staff::StaffSession;

pub(crate) use operations::for_each_operation;

/// The version of the wire format this SDK speaks. A response with a higher version is refused
/// with `wire_version_unsupported`; additions that old clients can ignore never raise it.
pub const WIRE_VERSION: u32 = 1;

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Anyone: registration, login, tokens from e-mails, guest tracking.
    Anonymous,
    /// A customer session or an API client's session (its token as the bearer).
    Session,
    /// Provider staff (an identity the service maps from its own tokens).
    Staff,
    /// The mobile network (the service's network token).
    Network,
}

/// What a request came with, as the service established it. Only the host builds one: a staff
/// identity or the network's standing is never taken from the request itself.
#[derive(Clone)]
#[non_exhaustive]
pub enum Credential {
    /// No credential.
    Anonymous,
    /// A session token (from a login, a second-factor completion or an API client's login).
    Session(SecretString),
    /// A staff identity the host mapped from its own token (STF-1).
    Staff(StaffActor),
    /// The mobile network, authenticated by the host (usage records, provisioning answers).
    Network,
}

impl Credential {
    /// A session credential from a bearer token.
    pub fn session(token: impl Into<String>) -> Self {
        Credential::Session(SecretString::from(token.into()))
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A session token is a credential: never printed.
        match self {
            Credential::Anonymous => f.write_str("Anonymous"),
            Credential::Session(_) => f.write_str("Session(***)"),
            Credential::Staff(actor) => f.debug_tuple("Staff").field(&actor.staff_id()).finish(),
            Credential::Network => f.write_str("Network"),
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Outputs that differ from the local API's return values
// -------------------------------------------------------------------------------------------------

/// A session opened on the service: its token (the bearer of the calls that follow) and whose
/// it is.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionGrant {
    /// The session token (shown once; the service stores only its hash).
    #[serde(with = "crate::second_factor::secret_text")]
    pub token: SecretString,
    /// The organisation.
    pub org: OrgId,
    /// The user.
    pub user: UserId,
    /// The channel the session is on (AUTH-4).
    pub channel: Channel,
}

impl SessionGrant {
    pub(crate) fn of(session: &Session) -> Self {
        SessionGrant {
            token: SecretString::from(session.token().to_owned()),
            org: session.org(),
            user: session.user(),
            channel: session.channel(),
        }
    }
}

impl std::fmt::Debug for SessionGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionGrant")
            .field("token", &"***")
            .field("org", &self.org)
            .field("user", &self.user)
            .field("channel", &self.channel)
            .finish()
    }
}

/// Whose session a bearer token is (the `resume` operation).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionInfo {
    /// The organisation.
    pub org: OrgId,
    /// The user.
    pub user: UserId,
    /// The channel the session is on (AUTH-4).
    pub channel: Channel,
}

impl SessionInfo {
    pub(crate) fn of(session: &Session) -> Self {
        SessionInfo {
            org: session.org(),
            user: session.user(),
            channel: session.channel(),
        }
    }
}

/// What a password login gives on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum LoginOutput {
    /// Logged in.
    Session(SessionGrant),
    /// The user has a second factor: pass the challenge to `complete_second_factor`.
    SecondFactorRequired(SecondFactorChallenge),
}

impl LoginOutput {
    pub(crate) fn of(outcome: Result<LoginOutcome>) -> Result<Self> {
        Ok(match outcome? {
            LoginOutcome::Session(session) => LoginOutput::Session(SessionGrant::of(&session)),
            LoginOutcome::SecondFactorRequired(challenge) => {
                LoginOutput::SecondFactorRequired(challenge)
            }
        })
    }
}

/// The CSV of an order's SIMs on the wire (SIM-3): the file as text and its row count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimsCsv {
    /// SIM rows written (the header not counted).
    pub rows: u64,
    /// The CSV file (UTF-8, header first).
    pub csv: String,
}

impl SimsCsv {
    pub(crate) async fn export(session: &Session, number: &str) -> Result<Self> {
        let mut bytes = Vec::new();
        let rows = session.export_order_sims(number, &mut bytes).await?;
        let csv = String::from_utf8(bytes).map_err(|_| Error::Internal)?;
        Ok(SimsCsv { rows, csv })
    }
}

// -------------------------------------------------------------------------------------------------
// Errors
// -------------------------------------------------------------------------------------------------

/// The category of a wire error: the categories of DESIGN §1, the same in every language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Category {
    /// An input is malformed or breaks a rule about its value.
    Validation,
    /// The caller is not (or no longer) authenticated.
    Unauthenticated,
    /// The role, channel or credential does not allow the action.
    PermissionDenied,
    /// The target does not exist or is not visible.
    NotFound,
    /// The request conflicts with the current state.
    Conflict,
    /// A field that cannot be changed through this channel.
    ImmutableField,
    /// Too many attempts.
    Throttled,
    /// The gateway declined the charge.
    PaymentDeclined,
    /// The charge needs the customer's action.
    PaymentActionRequired,
    /// A store or service is unavailable; retrying is safe.
    Unavailable,
    /// A defect.
    Internal,
}

/// An error on the wire: `{category, reason_code, message, field?, retry_after?, kind?,
/// next_action?}`. [`WireError::into_error`] gives back the [`Error`] it was made from, except
/// that the reasons of `Unavailable` and `Internal` stay in the service's log (they can name
/// hosts and files) and the client gets the reason code's English text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WireError {
    /// The category.
    pub category: Category,
    /// The stable reason code, for apps to translate.
    pub reason_code: ReasonCode,
    /// An English message.
    pub message: String,
    /// The dotted path of the offending field (`Validation`, `ImmutableField`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// Seconds to wait before trying again (`Throttled`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// Why the caller is not authenticated (`Unauthenticated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<UnauthenticatedKind>,
    /// What the customer must do (`PaymentActionRequired`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_action: Option<NextAction>,
}

impl WireError {
    fn new(category: Category, reason_code: ReasonCode, message: impl Into<String>) -> Self {
        WireError {
            category,
            reason_code,
            message: message.into(),
            field: None,
            retry_after: None,
            kind: None,
            next_action: None,
        }
    }

    /// A request that is not well-formed (`400`): not JSON, a wrong type, an unknown field.
    pub fn malformed(message: impl Into<String>) -> Self {
        WireError::new(Category::Validation, ReasonCode::MalformedRequest, message)
    }

    /// An operation the service does not offer (`404`).
    pub fn unknown_operation(operation: &str) -> Self {
        let shown: String = operation.chars().take(64).collect();
        WireError::new(
            Category::NotFound,
            ReasonCode::UnknownOperation,
            format!("there is no operation `{}`", shown.escape_default()),
        )
    }

    /// A body larger than the service accepts (`413`).
    pub fn too_large(limit: usize) -> Self {
        WireError::new(
            Category::Validation,
            ReasonCode::RequestTooLarge,
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// A request the service did not finish in time (`503`).
    pub fn timed_out() -> Self {
        WireError::new(
            Category::Unavailable,
            ReasonCode::RequestTimedOut,
            ReasonCode::RequestTimedOut.text(),
        )
    }

    /// A credential that does not allow the operation (`403`).
    pub fn credential_not_accepted() -> Self {
        WireError::new(
            Category::PermissionDenied,
            ReasonCode::CredentialNotAccepted,
            ReasonCode::CredentialNotAccepted.text(),
        )
    }

    /// The HTTP status of this error: 400 malformed, 401, 402, 403, 404, 409, 413, 422
    /// (validation, immutable field), 429, 503, 500 only for a defect.
    pub fn status(&self) -> u16 {
        match (self.category, self.reason_code) {
            (Category::Validation, ReasonCode::MalformedRequest) => 400,
            (Category::Validation, ReasonCode::RequestTooLarge) => 413,
            (Category::Validation | Category::ImmutableField, _) => 422,
            (Category::Unauthenticated, _) => 401,
            (Category::PaymentDeclined | Category::PaymentActionRequired, _) => 402,
            (Category::PermissionDenied, _) => 403,
            (Category::NotFound, _) => 404,
            (Category::Conflict, _) => 409,
            (Category::Throttled, _) => 429,
            (Category::Unavailable, _) => 503,
            (Category::Internal, _) => 500,
        }
    }

    /// The response body: `{"wire_version": 1, "error": {…}}`.
    pub fn to_body(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Body<'a> {
            wire_version: u32,
            error: &'a WireError,
        }
        encode(&Body {
            wire_version: WIRE_VERSION,
            error: self,
        })
    }

    /// The [`Error`] this wire error stands for.
    pub fn into_error(self) -> Error {
        let WireError {
            category,
            reason_code: reason,
            message,
            field,
            retry_after,
            kind,
            next_action,
        } = self;
        match category {
            Category::Validation => Error::Validation {
                field: field.unwrap_or_default(),
                reason,
                message,
            },
            Category::Unauthenticated => Error::Unauthenticated {
                kind: kind.unwrap_or(UnauthenticatedKind::SessionExpired),
            },
            Category::PermissionDenied => Error::PermissionDenied { reason },
            Category::NotFound => Error::NotFound,
            Category::Conflict => Error::Conflict { reason },
            Category::ImmutableField => Error::ImmutableField {
                field: field.unwrap_or_default(),
                reason,
                message,
            },
            Category::Throttled => Error::Throttled {
                retry_after: Duration::from_secs(retry_after.unwrap_or(1)),
            },
            Category::PaymentDeclined => Error::PaymentDeclined { reason: message },
            Category::PaymentActionRequired => match next_action {
                Some(next_action) => Error::PaymentActionRequired { next_action },
                None => Error::Internal,
            },
            Category::Unavailable => Error::Unavailable { reason: message },
            Category::Internal => Error::Internal,
        }
    }
}

impl From<Error> for WireError {
    fn from(error: Error) -> Self {
        let reason = error.reason();
        match error {
            Error::Validation { field, message, .. } => WireError {
                field: Some(field),
                ..WireError::new(Category::Validation, reason, message)
            },
            Error::Unauthenticated { kind } => WireError {
                kind: Some(kind),
                ..WireError::new(Category::Unauthenticated, reason, reason.text())
            },
            Error::PermissionDenied { .. } => {
                WireError::new(Category::PermissionDenied, reason, reason.text())
            }
            Error::NotFound => WireError::new(Category::NotFound, reason, reason.text()),
            Error::Conflict { .. } => WireError::new(Category::Conflict, reason, reason.text()),
            Error::ImmutableField { field, message, .. } => WireError {
                field: Some(field),
                ..WireError::new(Category::ImmutableField, reason, message)
            },
            Error::Throttled { retry_after } => WireError {
                // Whole seconds, rounded up: waiting less than asked would be refused again.
                retry_after: Some(
                    retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0),
                ),
                ..WireError::new(Category::Throttled, reason, reason.text())
            },
            Error::PaymentDeclined { reason: why } => {
                WireError::new(Category::PaymentDeclined, reason, why)
            }
            Error::PaymentActionRequired { next_action } => WireError {
                next_action: Some(next_action),
                ..WireError::new(Category::PaymentActionRequired, reason, reason.text())
            },
            Error::Unavailable { reason: why } => {
                // The reason can name hosts, files and queries: it goes to the service's log,
                // the client gets the code's text.
                tracing::warn!(reason = %why, "a wire request found a service unavailable");
                WireError::new(Category::Unavailable, reason, reason.text())
            }
            Error::Internal => WireError::new(Category::Internal, reason, reason.text()),
        }
    }
}

// -------------------------------------------------------------------------------------------------
// The generated part: inputs, requests, responses, operations, dispatch
// -------------------------------------------------------------------------------------------------

/// The scope of an entry of the operation list.
macro_rules! scope_of {
    (anonymous) => {
        Scope::Anonymous
    };
    (session) => {
        Scope::Session
    };
    (staff) => {
        Scope::Staff
    };
    (staff_portal) => {
        Scope::Staff
    };
    (network) => {
        Scope::Network
    };
}

/// What an entry's call runs on, from the portal and the request's credential.
macro_rules! call_target {
    (anonymous, $portal:ident, $credential:ident) => {
        $portal
    };
    (session, $portal:ident, $credential:ident) => {
        $portal.session_for($credential).await?
    };
    (staff, $portal:ident, $credential:ident) => {
        $portal.staff_for($credential)?
    };
    (staff_portal, $portal:ident, $credential:ident) => {{
        $portal.staff_for($credential)?;
        $portal
    }};
    (network, $portal:ident, $credential:ident) => {{
        $portal.network_for($credential)?;
        $portal
    }};
}

macro_rules! define_wire {
    ($(
        $(#[doc = $doc:literal])*
        $scope:ident [$($flag:ident)?] $op:ident $Variant:ident $(=> $method:ident)? {
            $($(#[$fattr:meta])* $field:ident : $fty:ty),* $(,)?
        } -> $out:ty = |$t:ident, $i:ident, $ctx:ident| $call:expr;
    )*) => {
        /// The input of each operation: exactly the parameters of its method, minus what the
        /// credential and the request context give.
        pub mod input {
            $(
                $(#[doc = $doc])*
                #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
                #[serde(deny_unknown_fields)]
                #[allow(missing_docs)]
                pub struct $Variant {
                    $($(#[$fattr])* pub $field: $fty,)*
                }
            )*
        }

        /// Every operation on the wire, by name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        #[non_exhaustive]
        pub enum Operation {
            $($(#[doc = $doc])* $Variant,)*
        }

        impl Operation {
            /// Every operation, in the order of the list.
            pub const ALL: &'static [Operation] = &[$(Operation::$Variant,)*];

            /// The operation's name on the wire, such as `place_order`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Operation::$Variant => stringify!($op),)*
                }
            }

            /// The operation with this name, if there is one.
            pub fn from_name(name: &str) -> Option<Operation> {
                match name {
                    $(stringify!($op) => Some(Operation::$Variant),)*
                    _ => None,
                }
            }

            /// Who may call it.
            pub const fn scope(self) -> Scope {
                match self {
                    $(Operation::$Variant => scope_of!($scope),)*
                }
            }
        }

        impl std::fmt::Display for Operation {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        /// One request: an operation and its input. Serde form:
        /// `{"operation": "…", "input": {…}}`.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(tag = "operation", content = "input", rename_all = "snake_case", deny_unknown_fields)]
        #[non_exhaustive]
        pub enum Request {
            $($(#[doc = $doc])* $Variant(input::$Variant),)*
        }

        /// The successful answer to one request. Serde form:
        /// `{"operation": "…", "output": …}`.
        #[derive(Debug, Clone, Serialize, Deserialize)]
        #[serde(tag = "operation", content = "output", rename_all = "snake_case", deny_unknown_fields)]
        #[non_exhaustive]
        pub enum Response {
            $($(#[doc = $doc])* $Variant($out),)*
        }

        impl Request {
            /// The request's operation.
            pub fn operation(&self) -> Operation {
                match self {
                    $(Request::$Variant(_) => Operation::$Variant,)*
                }
            }

            /// A request from the operation's name (the HTTP path) and its input's JSON (the
            /// body; an empty body is `{}`).
            ///
            /// # Errors
            /// `unknown_operation` (404) for a name no operation has, `malformed_request` (400)
            /// for a body that is not the operation's input.
            pub fn decode(operation: &str, body: &[u8]) -> std::result::Result<Request, WireError> {
                let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) { b"{}" } else { body };
                match operation {
                    $(stringify!($op) => decode_input::<input::$Variant>(body).map(Request::$Variant),)*
                    _ => Err(WireError::unknown_operation(operation)),
                }
            }

            /// The input's JSON, the body of the HTTP request.
            pub fn input_body(&self) -> Vec<u8> {
                match self {
                    $(Request::$Variant(input) => encode(input),)*
                }
            }
        }

        impl Response {
            /// The response's operation.
            pub fn operation(&self) -> Operation {
                match self {
                    $(Response::$Variant(_) => Operation::$Variant,)*
                }
            }

            /// The response body: `{"wire_version": 1, "operation": "…", "output": …}`.
            pub fn to_body(&self) -> Vec<u8> {
                match self {
                    $(Response::$Variant(output) => encode(&OutputBody {
                        wire_version: WIRE_VERSION,
                        operation: stringify!($op),
                        output,
                    }),)*
                }
            }
        }

        $(
            impl WireOperation for input::$Variant {
                type Output = $out;
                const OPERATION: Operation = Operation::$Variant;
            }

            impl From<input::$Variant> for Request {
                fn from(input: input::$Variant) -> Request {
                    Request::$Variant(input)
                }
            }
        )*

        impl Portal {
            async fn dispatch(
                &self,
                credential: &Credential,
                ctx: &RequestContext,
                request: Request,
            ) -> std::result::Result<Response, WireError> {
                match request {
                    $(
                        #[allow(unused_variables)]
                        Request::$Variant($i) => {
                            let $ctx = ctx;
                            let $t = call_target!($scope, self, credential);
                            let result: Result<$out> = $call;
                            Ok(Response::$Variant(result?))
                        }
                    )*
                }
            }
        }
    };
}

for_each_operation!(define_wire);

/// An operation's input type: which operation it is and what it answers.
pub trait WireOperation: Serialize + serde::de::DeserializeOwned + Into<Request> {
    /// The output of the operation.
    type Output: Serialize + serde::de::DeserializeOwned;
    /// The operation.
    const OPERATION: Operation;
}

#[derive(Serialize)]
struct OutputBody<'a, T> {
    wire_version: u32,
    operation: &'static str,
    output: &'a T,
}

/// The JSON of a wire type. Every wire type serialises (no maps with non-string keys, no
/// out-of-range dates: those are refused on the way in); should one not, the body is an
/// `internal_error` so the caller still gets a well-formed answer.
fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|e| {
        tracing::error!(error = %e, "a wire value did not serialise");
        let error = WireError::from(Error::Internal);
        format!(
            r#"{{"wire_version":{WIRE_VERSION},"error":{{"category":"internal","reason_code":"{}","message":"{}"}}}}"#,
            error.reason_code, error.message
        )
        .into_bytes()
    })
}

fn decode_input<T: serde::de::DeserializeOwned>(body: &[u8]) -> std::result::Result<T, WireError> {
    serde_json::from_slice(body).map_err(|e| WireError::malformed(e.to_string()))
}

impl Portal {
    /// Executes one wire request with the credential it came with and the context the host
    /// saw (DESIGN §4): the whole service side of a remote call, so a host needs no code per
    /// operation.
    ///
    /// A session call needs [`Credential::Session`] with a live token (else `Unauthenticated`,
    /// `session_expired`); a staff call [`Credential::Staff`] and a network call
    /// [`Credential::Network`] (else `PermissionDenied`, `credential_not_accepted`); anonymous
    /// calls take any credential.
    ///
    /// # Errors
    /// The use case's error as a [`WireError`]; encode it with [`WireError::to_body`] and
    /// answer with [`WireError::status`].
    ///
    /// ```no_run
    /// # async fn demo(portal: selfcare::Portal, body: &[u8]) {
    /// use selfcare::RequestContext;
    /// use selfcare::wire::{Credential, Request};
    /// let ctx = RequestContext::from_source("203.0.113.7");
    /// let (status, body) = match Request::decode("login", body) {
    ///     Ok(request) => match portal.handle(&Credential::Anonymous, &ctx, request).await {
    ///         Ok(response) => (200, response.to_body()),
    ///         Err(e) => (e.status(), e.to_body()),
    ///     },
    ///     Err(e) => (e.status(), e.to_body()),
    /// };
    /// # }
    /// ```
    pub async fn handle(
        &self,
        credential: &Credential,
        ctx: &RequestContext,
        request: Request,
    ) -> std::result::Result<Response, WireError> {
        self.dispatch(credential, ctx, request).await
    }

    async fn session_for(
        &self,
        credential: &Credential,
    ) -> std::result::Result<Session, WireError> {
        match credential {
            Credential::Session(token) => Ok(self.resume(token.expose_secret()).await?),
            Credential::Anonymous => Err(Error::Unauthenticated {
                kind: UnauthenticatedKind::SessionExpired,
            }
            .into()),
            Credential::Staff(_) | Credential::Network => Err(WireError::credential_not_accepted()),
        }
    }

    fn staff_for(&self, credential: &Credential) -> std::result::Result<StaffSession, WireError> {
        match credential {
            Credential::Staff(actor) => Ok(self.staff(actor.clone())),
            _ => Err(WireError::credential_not_accepted()),
        }
    }

    fn network_for(&self, credential: &Credential) -> std::result::Result<(), WireError> {
        match credential {
            Credential::Network => Ok(()),
            _ => Err(WireError::credential_not_accepted()),
        }
    }
}

// -------------------------------------------------------------------------------------------------
// The service side in one call
// -------------------------------------------------------------------------------------------------

/// The bearer tokens a service knows besides sessions: its staff tokens (each mapped to a
/// staff identity) and the network's token. Tokens are compared in constant time.
#[derive(Clone, Default)]
pub struct Credentials {
    staff: Vec<(SecretString, StaffActor)>,
    network: Option<SecretString>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("staff_tokens", &self.staff.len())
            .field("network_token", &self.network.is_some())
            .finish()
    }
}

impl Credentials {
    /// No staff and no network token: only anonymous and session calls.
    pub fn new() -> Self {
        Credentials::default()
    }

    /// Adds a staff token for `actor`.
    #[must_use]
    pub fn with_staff(mut self, token: impl Into<String>, actor: StaffActor) -> Self {
        self.staff.push((SecretString::from(token.into()), actor));
        self
    }

    /// Sets the network's token.
    #[must_use]
    pub fn with_network(mut self, token: impl Into<String>) -> Self {
        self.network = Some(SecretString::from(token.into()));
        self
    }

    /// The credential a request's bearer stands for: none is `Anonymous`, the network token
    /// `Network`, a staff token that staff identity, anything else a session token (checked
    /// by the call that needs it).
    pub fn resolve(&self, bearer: Option<&str>) -> Credential {
        let Some(bearer) = bearer else {
            return Credential::Anonymous;
        };
        let same = |known: &SecretString| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                known.expose_secret().as_bytes(),
                bearer.as_bytes(),
            ))
        };
        if self.network.as_ref().is_some_and(same) {
            return Credential::Network;
        }
        // Every staff token is compared, so the time taken does not tell which one matched.
        let mut found = None;
        for (token, actor) in &self.staff {
            if same(token) && found.is_none() {
                found = Some(actor);
            }
        }
        match found {
            Some(actor) => Credential::Staff(actor.clone()),
            None => Credential::session(bearer),
        }
    }
}

impl Portal {
    /// The whole service side of one wire request: the operation's name (the HTTP path), the
    /// bearer, the body, and the context the host saw, to an HTTP status and a response body.
    /// It never fails: every problem is a [`WireError`] body with its status.
    pub async fn serve_request(
        &self,
        credentials: &Credentials,
        ctx: &RequestContext,
        operation: &str,
        bearer: Option<&str>,
        body: &[u8],
    ) -> (u16, Vec<u8>) {
        let request = match Request::decode(operation, body) {
            Ok(request) => request,
            Err(e) => return (e.status(), e.to_body()),
        };
        let credential = credentials.resolve(bearer);
        match self.handle(&credential, ctx, request).await {
            Ok(response) => (200, response.to_body()),
            Err(e) => (e.status(), e.to_body()),
        }
    }
}
