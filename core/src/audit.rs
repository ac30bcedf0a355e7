//! The audit log (AUD-1): what an entry records, the OWASP logging vocabulary of event names,
//! redaction by construction, and the per-organisation HMAC chain that detects a changed,
//! removed, reordered or truncated entry.
//!
//! An entry has two parts. The *event* (who, when, channel, event name, target, changed field
//! names, outcome, reason, staff note) is covered by the chain directly. The *personal values*
//! (old/new e-mail, names, request source …) sit beside it and are covered only by their own
//! salted hash, so they can be erased on request ([`AuditEntry::erase_personal`]) without
//! breaking verification.
//!
//! Secrets cannot be recorded: changed fields are recorded by NAME only ([`FieldName`] refuses
//! anything that looks like `name=value`), and the only values an entry can carry are the
//! closed set of [`PersonalField`]s, none of which is a password, token, secret or card token.
//!
//! ```
//! use selfcare_core::audit::*;
//! use selfcare_core::ids::{AuditEntryId, OrgId, UserId};
//! use selfcare_core::roles::Channel;
//! use time::macros::datetime;
//!
//! let key = HostKey::from_bytes(&[42; 32]).unwrap();
//! let now = datetime!(2025-03-01 09:00 UTC);
//! let org = OrgId::new(now, [1; 10]);
//! let event = AuditEvent {
//!     id: AuditEntryId::new(now, [2; 10]),
//!     at: now,
//!     org: Some(org),
//!     actor: AuditActor::User { id: UserId::new(now, [3; 10]) },
//!     channel: Channel::Portal,
//!     event: AuditEventName::AuthnPasswordChange,
//!     target: AuditTarget::parse("user:self").unwrap(),
//!     changed_fields: vec![FieldName::parse("password").unwrap()],
//!     outcome: Outcome::Success,
//!     reason: None,
//!     note: None,
//!     personal: PersonalValues::none(),
//! };
//! let (entry, head) = AuditChain::append(&ChainHead::GENESIS, event, &key);
//! assert_eq!(AuditChain::verify_chain(&[entry], &key, Some(&head)), Ok(head));
//! ```

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac as _};
use secrecy::{ExposeSecret, ExposeSecretMut, SecretBox};
use sha2::Sha256;
use time::OffsetDateTime;

use crate::digest::Sha256Digest;
use crate::error::{Error, ReasonCode, Result, text_field};
use crate::ids::{ApiClientId, AuditEntryId, OrgId, UserId};
use crate::roles::Channel;

// ---------------------------------------------------------------------------------------------
// Host key and MAC
// ---------------------------------------------------------------------------------------------

/// HMAC-SHA256 block size: keys up to this length are zero-padded by HMAC itself.
const BLOCK: usize = 64;

/// The host's secret key for the audit chain (configuration). 32 to 64 bytes; never shown in
/// `Debug` and wiped from memory when dropped.
pub struct HostKey(SecretBox<[u8; BLOCK]>);

impl HostKey {
    /// Shortest accepted key.
    pub const MIN_LEN: usize = 32;
    /// Longest accepted key (the HMAC-SHA256 block size).
    pub const MAX_LEN: usize = BLOCK;

    /// A key from its bytes (e.g. decoded from the host's secret store).
    ///
    /// # Errors
    /// [`Error::Validation`] on `host_key` with `HostKeyLength` when it is not 32 to 64 bytes
    /// long (the message does not contain the key).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            return Err(Error::validation(
                "host_key",
                ReasonCode::HostKeyLength,
                format!("must be {} to {} bytes long", Self::MIN_LEN, Self::MAX_LEN),
            ));
        }
        // Zero-padding to the block is exactly what HMAC does with a short key, so the MAC is
        // HMAC-SHA256 over the key as given, and building the MAC state cannot fail.
        Ok(HostKey(boxed_block(bytes)))
    }

    fn mac(&self) -> Hmac<Sha256> {
        let block: &[u8; BLOCK] = self.0.expose_secret();
        <Hmac<Sha256> as KeyInit>::new(&(*block).into())
    }

    /// A 32-byte key for another purpose, derived as HMAC-SHA256(host key, `label`), so one
    /// configured secret serves several uses without one use's key revealing another's
    /// (e.g. the sdk seals TOTP secrets with `derive("selfcare/totp-seal/v1")`).
    pub fn derive(&self, label: &str) -> SecretBox<[u8; 32]> {
        let mut mac = self.mac();
        mac.update(label.as_bytes());
        let mut key = SecretBox::new(Box::new([0u8; 32]));
        let derived = mac.finalize().into_bytes();
        for (dst, src) in key.expose_secret_mut().iter_mut().zip(derived.iter()) {
            *dst = *src;
        }
        key
    }
}

/// A zeroed block on the heap with `bytes` copied to its start, so the key is never moved
/// through a stack temporary that would escape zeroisation.
fn boxed_block(bytes: &[u8]) -> SecretBox<[u8; BLOCK]> {
    let mut secret = SecretBox::new(Box::new([0u8; BLOCK]));
    for (dst, src) in secret.expose_secret_mut().iter_mut().zip(bytes) {
        *dst = *src;
    }
    secret
}

impl Clone for HostKey {
    fn clone(&self) -> Self {
        HostKey(boxed_block(self.0.expose_secret()))
    }
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HostKey(<redacted>)")
    }
}

/// An HMAC-SHA256 value of the chain. Compared in constant time; shown and serialised as
/// lower-case hex. A distinct type from other digests, so a MAC is never compared with a hash.
#[derive(Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Mac(Sha256Digest);

impl Mac {
    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// Wraps raw bytes (from a store).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Mac(Sha256Digest::from_bytes(bytes))
    }

    /// Lower-case hex.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }

    /// Parses 64 hex digits.
    ///
    /// # Errors
    /// [`Error::Validation`] on `mac` with `InvalidFormat`.
    pub fn from_hex(raw: &str) -> Result<Self> {
        Sha256Digest::parse_hex_field("mac", raw).map(Mac)
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({})", self.to_hex())
    }
}
impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// A SHA-256 digest of an entry's personal values.
pub type PersonalHash = Sha256Digest;

// ---------------------------------------------------------------------------------------------
// Event vocabulary
// ---------------------------------------------------------------------------------------------

macro_rules! event_names {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// The event name, in the OWASP logging vocabulary (`authn_*`, `authz_*`, `session_*`,
        /// `user_*`, `privilege_*`, `sensitive_*`, `excess_*`, `input_*`, `sys_*`) plus this
        /// domain's changes (`order_placed`, …). Names are stable snake_case and never renamed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum AuditEventName {
            $($(#[$doc])* $variant,)*
        }

        impl AuditEventName {
            /// Every event name, in declaration order.
            pub const ALL: &'static [AuditEventName] = &[$(AuditEventName::$variant,)*];

            /// The stable snake_case name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(AuditEventName::$variant => $code,)*
                }
            }

            /// Parses the snake_case name; `None` for a name this version does not know.
            pub fn from_code(code: &str) -> Option<AuditEventName> {
                match code {
                    $($code => Some(AuditEventName::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

event_names! {
    // -- OWASP: authentication --
    /// A login succeeded.
    AuthnLoginSuccess = "authn_login_success",
    /// A login succeeded after earlier failures.
    AuthnLoginSuccessAfterFail = "authn_login_successafterfail",
    /// A login failed (wrong credentials, unknown e-mail).
    AuthnLoginFail = "authn_login_fail",
    /// A login failed and reached the attempt limit.
    AuthnLoginFailMax = "authn_login_fail_max",
    /// An account or login key was locked (throttled).
    AuthnLoginLock = "authn_login_lock",
    /// A password was changed or reset.
    AuthnPasswordChange = "authn_password_change",
    /// A password change or reset was refused.
    AuthnPasswordChangeFail = "authn_password_change_fail",
    /// A password reset was requested.
    AuthnPasswordResetRequested = "authn_password_reset_requested",
    /// A token (API client secret, reset/confirmation token) was created.
    AuthnTokenCreated = "authn_token_created",
    /// A token was revoked.
    AuthnTokenRevoked = "authn_token_revoked",
    /// A used or expired token was presented again.
    AuthnTokenReuse = "authn_token_reuse",
    /// A token was deleted.
    AuthnTokenDelete = "authn_token_delete",
    /// A second factor (TOTP) was enrolled.
    AuthnMfaEnrolled = "authn_mfa_enrolled",
    /// A second factor was removed.
    AuthnMfaDisabled = "authn_mfa_disabled",
    /// A second-factor code or recovery code was wrong.
    AuthnMfaFail = "authn_mfa_fail",
    /// Recovery codes were regenerated.
    AuthnRecoveryCodesRegenerated = "authn_recovery_codes_regenerated",
    /// The organisation's second-factor requirement changed.
    AuthnMfaPolicyChanged = "authn_mfa_policy_changed",
    // -- OWASP: authorisation --
    /// An action was denied by the permission policy.
    AuthzFail = "authz_fail",
    /// A permission assignment changed.
    AuthzChange = "authz_change",
    /// An administrative action by provider staff.
    AuthzAdmin = "authz_admin",
    /// A user's role changed.
    PrivilegePermissionsChanged = "privilege_permissions_changed",
    // -- OWASP: sessions --
    /// A session was created.
    SessionCreated = "session_created",
    /// A session was renewed.
    SessionRenewed = "session_renewed",
    /// A session ended (logout or expiry).
    SessionExpired = "session_expired",
    /// An expired session was used.
    SessionUseAfterExpire = "session_use_after_expire",
    // -- OWASP: users --
    /// A user was created (invitation accepted, registration).
    UserCreated = "user_created",
    /// A user's data changed.
    UserUpdated = "user_updated",
    /// A user was archived.
    UserArchived = "user_archived",
    /// A user was removed.
    UserDeleted = "user_deleted",
    // -- OWASP: input, rate limits, sensitive data --
    /// A rate limit was exceeded.
    ExcessRateLimitExceeded = "excess_rate_limit_exceeded",
    /// Input failed server-side validation where that signals tampering.
    InputValidationFail = "input_validation_fail",
    /// A sequence of steps was broken (e.g. a captcha skipped).
    SequenceFail = "sequence_fail",
    /// Sensitive data was read in bulk (e.g. a SIM export).
    SensitiveRead = "sensitive_read",
    /// Sensitive data was created.
    SensitiveCreate = "sensitive_create",
    /// Sensitive data was updated.
    SensitiveUpdate = "sensitive_update",
    /// Sensitive data was deleted.
    SensitiveDelete = "sensitive_delete",
    // -- OWASP: system --
    /// The service started.
    SysStartup = "sys_startup",
    /// The service shut down.
    SysShutdown = "sys_shutdown",
    /// The service restarted.
    SysRestart = "sys_restart",
    /// The service crashed.
    SysCrash = "sys_crash",
    /// Monitoring was disabled.
    SysMonitorDisabled = "sys_monitor_disabled",
    /// Monitoring was enabled.
    SysMonitorEnabled = "sys_monitor_enabled",
    /// Scheduled maintenance ran.
    SysMaintenanceRun = "sys_maintenance_run",
    // -- customers and users (ACC-*, USR-*) --
    /// A customer registered.
    CustomerRegistered = "customer_registered",
    /// Customer data changed through self-service.
    CustomerUpdated = "customer_updated",
    /// Staff changed company name or billing country (ACC-1).
    LegalFieldsChanged = "legal_fields_changed",
    /// Additional contact e-mails changed (ACC-3).
    ContactEmailsChanged = "contact_emails_changed",
    /// Monthly volume limits changed (ACC-5).
    VolumeLimitsChanged = "volume_limits_changed",
    /// A user was invited.
    UserInvited = "user_invited",
    /// An e-mail change was requested.
    EmailChangeRequested = "email_change_requested",
    /// An e-mail address was confirmed.
    EmailConfirmed = "email_confirmed",
    /// An e-mail change was approved.
    EmailChangeApproved = "email_change_approved",
    /// Personal values of audit entries were erased on request.
    PersonalDataErased = "personal_data_erased",
    // -- addresses and payment (ADDR-*, PAY-*) --
    /// An address was added.
    AddressCreated = "address_created",
    /// An address changed.
    AddressUpdated = "address_updated",
    /// An address was deleted.
    AddressDeleted = "address_deleted",
    /// The default address changed.
    DefaultAddressSet = "default_address_set",
    /// A card was saved.
    CardSaved = "card_saved",
    /// A card was deleted.
    CardDeleted = "card_deleted",
    /// A card was assigned to plans.
    CardAssigned = "card_assigned",
    /// Auto-Top-Up was switched on or off.
    AutoTopUpChanged = "auto_top_up_changed",
    /// An Auto-Top-Up was charged.
    AutoTopUpCharged = "auto_top_up_charged",
    /// An Auto-Top-Up charge failed.
    AutoTopUpFailed = "auto_top_up_failed",
    // -- orders (ORD-*, TOP-1) --
    /// An order was placed.
    OrderPlaced = "order_placed",
    /// An order was cancelled.
    OrderCancelled = "order_cancelled",
    /// An order's status changed.
    OrderStatusChanged = "order_status_changed",
    /// A shipment was added.
    ShipmentAdded = "shipment_added",
    /// An invoice was attached.
    InvoiceAttached = "invoice_attached",
    /// A document was added.
    DocumentAdded = "document_added",
    /// A refund was issued.
    RefundIssued = "refund_issued",
    /// A top-up was purchased.
    TopUpPurchased = "top_up_purchased",
    // -- SIMs and plans (SIM-*, PLAN-*) --
    /// SIMs were assigned to an order.
    SimsAssigned = "sims_assigned",
    /// A SIM's label changed.
    SimLabelChanged = "sim_label_changed",
    /// A SIM was enabled.
    SimEnabled = "sim_enabled",
    /// A SIM was disabled.
    SimDisabled = "sim_disabled",
    /// A plan was activated.
    PlanActivated = "plan_activated",
    /// A plan's dates changed.
    PlanDatesChanged = "plan_dates_changed",
    /// A SIM swap was requested.
    SimSwapRequested = "sim_swap_requested",
    /// A SIM swap completed.
    SimSwapCompleted = "sim_swap_completed",
    /// A SIM swap failed.
    SimSwapFailed = "sim_swap_failed",
    /// Voicemail settings changed.
    VoicemailChanged = "voicemail_changed",
    /// APN settings were sent.
    ApnSettingsSent = "apn_settings_sent",
    /// Call forwarding changed.
    CallForwardingChanged = "call_forwarding_changed",
    /// Call forwarding was reset.
    CallForwardingReset = "call_forwarding_reset",
    // -- tickets (TKT-*) --
    /// A ticket was created.
    TicketCreated = "ticket_created",
    /// A ticket received a reply.
    TicketReplied = "ticket_replied",
    /// A ticket was closed.
    TicketClosed = "ticket_closed",
}

impl fmt::Display for AuditEventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
impl serde::Serialize for AuditEventName {
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}
impl<'de> serde::Deserialize<'de> for AuditEventName {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        AuditEventName::from_code(&raw)
            .ok_or_else(|| serde::de::Error::custom(format_args!("unknown audit event `{raw}`")))
    }
}

/// How the attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It happened.
    Success,
    /// It failed (wrong credentials, validation, payment declined, network failure).
    Failure,
    /// The policy refused it.
    Denied,
}

impl Outcome {
    /// The stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
            Outcome::Denied => "denied",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Who and what
// ---------------------------------------------------------------------------------------------

/// A provider staff identity from the host's SSO: 1 to 128 characters of letters, digits and
/// `. _ - : @ +`. Use a stable employee id where possible.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StaffId(String);

impl StaffId {
    /// Parses a staff id.
    ///
    /// # Errors
    /// [`Error::Validation`] on `staff_id` with `Required`, `TooLong` or `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let id = text_field(
            "staff_id",
            raw,
            crate::policy::STAFF_ID_MAX_CHARS,
            true,
            false,
        )?;
        if !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ':' | '@' | '+'))
        {
            return Err(Error::validation(
                "staff_id",
                ReasonCode::InvalidFormat,
                "may contain only letters, digits and . _ - : @ +",
            ));
        }
        Ok(StaffId(id))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for StaffId {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        StaffId::parse(&raw)
    }
}
impl From<StaffId> for String {
    fn from(value: StaffId) -> String {
        value.0
    }
}

/// Who acted.
///
/// An anonymous actor (a login attempt, a guest order lookup) carries no data here: the request
/// source (address, user agent) and the submitted e-mail are personal data and go into
/// [`PersonalValues`] ([`PersonalField::Source`], [`PersonalField::AttemptedLogin`]) so they
/// can be erased.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", deny_unknown_fields)]
pub enum AuditActor {
    /// A user of the organisation.
    User {
        /// The user.
        id: UserId,
    },
    /// An API client (ApiUser).
    ApiClient {
        /// The client.
        id: ApiClientId,
    },
    /// Provider staff.
    Staff {
        /// The staff identity.
        id: StaffId,
    },
    /// The provider's own processes (maintenance, network completions).
    System,
    /// Nobody authenticated.
    Anonymous,
}

/// What an event is about: an identifier such as `user:0193…`, `order:ORD-2025-0042`,
/// `sim:8949…`. 1 to 200 printable ASCII characters without spaces or `@`, so an e-mail address
/// (personal data, which must stay erasable) cannot be a target.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AuditTarget(String);

impl AuditTarget {
    /// Parses a target.
    ///
    /// # Errors
    /// [`Error::Validation`] on `target` with `Required`, `TooLong` or `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let t = text_field("target", raw, 200, true, false)?;
        if !t.chars().all(|c| c.is_ascii_graphic() && c != '@') {
            return Err(Error::validation(
                "target",
                ReasonCode::InvalidFormat,
                "must be an identifier of printable ASCII without spaces or @",
            ));
        }
        Ok(AuditTarget(t))
    }

    /// `kind:id`, e.g. `AuditTarget::of("order", number)`.
    ///
    /// # Errors
    /// As [`AuditTarget::parse`].
    pub fn of(kind: &str, id: impl fmt::Display) -> Result<Self> {
        Self::parse(&format!("{kind}:{id}"))
    }

    /// The target.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for AuditTarget {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        AuditTarget::parse(&raw)
    }
}
impl From<AuditTarget> for String {
    fn from(value: AuditTarget) -> String {
        value.0
    }
}

/// The name of a changed field, e.g. `password`, `main_contact`, `billing_address.postal_code`,
/// `additional_emails[2].email`: a lower-case letter, then lower-case letters, digits and
/// `_ . [ ]`, at most 64 characters. Only names are recorded, never values, so `password` is a
/// fine field name and `password=hunter2` is not.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct FieldName(String);

impl FieldName {
    /// Parses a field name.
    ///
    /// # Errors
    /// [`Error::Validation`] on `changed_fields` with `InvalidFormat` or `TooLong`.
    pub fn parse(raw: &str) -> Result<Self> {
        if raw.len() > 64 {
            return Err(Error::validation(
                "changed_fields",
                ReasonCode::TooLong,
                "a field name has at most 64 characters",
            ));
        }
        let ok = raw.starts_with(|c: char| c.is_ascii_lowercase())
            && raw.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '[' | ']')
            });
        if !ok {
            return Err(Error::validation(
                "changed_fields",
                ReasonCode::InvalidFormat,
                "must be a field name such as main_contact, never a value",
            ));
        }
        Ok(FieldName(raw.to_owned()))
    }

    /// Field names from a list (e.g. `CustomerChanged::changed_fields`).
    ///
    /// # Errors
    /// As [`FieldName::parse`].
    pub fn list<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Vec<FieldName>> {
        names.into_iter().map(FieldName::parse).collect()
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for FieldName {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        FieldName::parse(&raw)
    }
}
impl From<FieldName> for String {
    fn from(value: FieldName) -> String {
        value.0
    }
}

/// A staff justification or other free-text note (ACC-1 legal-field changes): 1 to 500
/// characters, line breaks allowed. It is part of the chained event and cannot be erased, so
/// staff tools should say it must not contain personal data or secrets.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AuditNote(String);

impl AuditNote {
    /// Parses a note.
    ///
    /// # Errors
    /// [`Error::Validation`] on `reason` with `Required`, `TooLong` or `ControlCharacters`.
    pub fn parse(raw: &str) -> Result<Self> {
        text_field("reason", raw, 500, true, true).map(AuditNote)
    }

    /// The note.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for AuditNote {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        AuditNote::parse(&raw)
    }
}
impl From<AuditNote> for String {
    fn from(value: AuditNote) -> String {
        value.0
    }
}

// ---------------------------------------------------------------------------------------------
// Personal values
// ---------------------------------------------------------------------------------------------

/// The only kinds of value an audit entry can hold. There is deliberately no kind for a
/// password, token, secret, TOTP seed or card token.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum PersonalField {
    /// An e-mail address the event is about.
    Email,
    /// The e-mail address before a change.
    OldEmail,
    /// The e-mail address after a change.
    NewEmail,
    /// A name the event is about.
    Name,
    /// A name before a change.
    OldName,
    /// A name after a change.
    NewName,
    /// A phone number the event is about.
    PhoneNumber,
    /// The e-mail submitted in a login or reset attempt (it may not belong to any user).
    AttemptedLogin,
    /// The request source as the host saw it (IP address).
    Source,
    /// The request's user agent.
    UserAgent,
}

impl PersonalField {
    /// Every kind.
    pub const ALL: [PersonalField; 10] = [
        PersonalField::Email,
        PersonalField::OldEmail,
        PersonalField::NewEmail,
        PersonalField::Name,
        PersonalField::OldName,
        PersonalField::NewName,
        PersonalField::PhoneNumber,
        PersonalField::AttemptedLogin,
        PersonalField::Source,
        PersonalField::UserAgent,
    ];

    /// The stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PersonalField::Email => "email",
            PersonalField::OldEmail => "old_email",
            PersonalField::NewEmail => "new_email",
            PersonalField::Name => "name",
            PersonalField::OldName => "old_name",
            PersonalField::NewName => "new_name",
            PersonalField::PhoneNumber => "phone_number",
            PersonalField::AttemptedLogin => "attempted_login",
            PersonalField::Source => "source",
            PersonalField::UserAgent => "user_agent",
        }
    }

    /// Parses the snake_case name; `None` for anything else (e.g. `password`).
    pub fn from_code(code: &str) -> Option<PersonalField> {
        PersonalField::ALL.into_iter().find(|f| f.as_str() == code)
    }
}

/// Longest personal value kept, in characters.
pub const PERSONAL_VALUE_MAX: usize = 500;

/// The personal values of an entry, kept beside the chain and covered by their own salted
/// hash: present, or erased with only the hash left. The salt (16 random bytes from the
/// caller) keeps an erased hash from confirming a guessed e-mail address.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "PersonalRepr", into = "PersonalRepr")]
pub struct PersonalValues(PersonalRepr);

#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "state", deny_unknown_fields)]
enum PersonalRepr {
    Present {
        salt: Salt,
        values: BTreeMap<PersonalField, String>,
    },
    Erased {
        hash: PersonalHash,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct Salt([u8; 16]);

impl TryFrom<PersonalRepr> for PersonalValues {
    type Error = Error;
    fn try_from(repr: PersonalRepr) -> Result<Self> {
        match repr {
            PersonalRepr::Present { salt, values } => {
                PersonalValues::new(salt.0, values.iter().map(|(k, v)| (*k, v.as_str())))
            }
            erased @ PersonalRepr::Erased { .. } => Ok(PersonalValues(erased)),
        }
    }
}
impl From<PersonalValues> for PersonalRepr {
    fn from(value: PersonalValues) -> Self {
        value.0
    }
}

impl PersonalValues {
    /// No personal values.
    pub fn none() -> Self {
        PersonalValues(PersonalRepr::Present {
            salt: Salt([0; 16]),
            values: BTreeMap::new(),
        })
    }

    /// Personal values with a fresh random `salt`. Each value is trimmed; empty values are
    /// left out; a repeated kind keeps the last value.
    ///
    /// # Errors
    /// [`Error::Validation`] on `personal.<kind>` with `TooLong` or `ControlCharacters`.
    pub fn new<'a>(
        salt: [u8; 16],
        values: impl IntoIterator<Item = (PersonalField, &'a str)>,
    ) -> Result<Self> {
        let mut map = BTreeMap::new();
        for (field, raw) in values {
            let value = text_field(field.as_str(), raw, PERSONAL_VALUE_MAX, false, false)
                .map_err(|e| e.within("personal"))?;
            if !value.is_empty() {
                map.insert(field, value);
            }
        }
        Ok(PersonalValues(PersonalRepr::Present {
            salt: Salt(salt),
            values: map,
        }))
    }

    /// The value of `field`, unless erased or absent.
    pub fn get(&self, field: PersonalField) -> Option<&str> {
        match &self.0 {
            PersonalRepr::Present { values, .. } => values.get(&field).map(String::as_str),
            PersonalRepr::Erased { .. } => None,
        }
    }

    /// Whether the values were erased.
    pub fn is_erased(&self) -> bool {
        matches!(self.0, PersonalRepr::Erased { .. })
    }

    /// The hash the chain covers: SHA-256 over a domain tag, the salt and the length-prefixed
    /// (kind, value) pairs in kind order; for erased values, the hash kept at erasure.
    pub fn hash(&self) -> PersonalHash {
        match &self.0 {
            PersonalRepr::Erased { hash } => *hash,
            PersonalRepr::Present { salt, values } => {
                let mut enc = Encoder::new(b"selfcare-audit-personal-v1");
                enc.bytes(&salt.0);
                enc.count(values.len());
                for (field, value) in values {
                    enc.str(field.as_str());
                    enc.str(value);
                }
                Sha256Digest::of(&enc.finish())
            }
        }
    }

    /// The same entry's values erased: only the hash remains.
    #[must_use]
    pub fn erased(&self) -> Self {
        PersonalValues(PersonalRepr::Erased { hash: self.hash() })
    }
}

impl Default for PersonalValues {
    fn default() -> Self {
        PersonalValues::none()
    }
}

impl fmt::Debug for PersonalValues {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values are personal data; Debug lands in logs, so only the kinds are shown.
        match &self.0 {
            PersonalRepr::Present { values, .. } => f
                .debug_set()
                .entries(values.keys().map(|k| k.as_str()))
                .finish(),
            PersonalRepr::Erased { .. } => f.write_str("<erased>"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Events and entries
// ---------------------------------------------------------------------------------------------

/// One audited event (AUD-1). Every part is a validated type, so nothing but identifiers,
/// field names, codes, a staff note and the [`PersonalValues`] can be recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEvent {
    /// The entry's id.
    pub id: AuditEntryId,
    /// When it happened.
    #[serde(with = "crate::formats::instant")]
    pub at: OffsetDateTime,
    /// The organisation whose chain it belongs to; `None` for the provider's own chain
    /// (events that belong to no organisation, such as a login attempt for an unknown e-mail).
    pub org: Option<OrgId>,
    /// Who acted.
    pub actor: AuditActor,
    /// Through which channel (from the credential, AUTH-4).
    pub channel: Channel,
    /// What happened.
    pub event: AuditEventName,
    /// What it happened to.
    pub target: AuditTarget,
    /// Names of the fields that changed (never their values).
    pub changed_fields: Vec<FieldName>,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed or was denied.
    pub reason: Option<ReasonCode>,
    /// Staff justification (ACC-1).
    pub note: Option<AuditNote>,
    /// Personal values, erasable.
    pub personal: PersonalValues,
}

impl AuditEvent {
    /// The unambiguous byte encoding the chain covers: a domain tag and version, then every
    /// field except the personal values, each length-prefixed (strings, lists) or fixed-width
    /// (numbers, ids), options with a presence byte, the time as UTC nanoseconds.
    pub fn canonical_bytes(&self, seq: u64) -> Vec<u8> {
        let mut enc = Encoder::new(b"selfcare-audit-entry-v1");
        enc.u64(seq);
        enc.bytes(self.id.as_uuid().as_bytes());
        enc.i128(self.at.unix_timestamp_nanos());
        match self.org {
            Some(org) => {
                enc.flag(true);
                enc.bytes(org.as_uuid().as_bytes());
            }
            None => enc.flag(false),
        }
        match &self.actor {
            AuditActor::User { id } => {
                enc.str("user");
                enc.bytes(id.as_uuid().as_bytes());
            }
            AuditActor::ApiClient { id } => {
                enc.str("api_client");
                enc.bytes(id.as_uuid().as_bytes());
            }
            AuditActor::Staff { id } => {
                enc.str("staff");
                enc.str(id.as_str());
            }
            AuditActor::System => enc.str("system"),
            AuditActor::Anonymous => enc.str("anonymous"),
        }
        enc.str(channel_name(self.channel));
        enc.str(self.event.as_str());
        enc.str(self.target.as_str());
        enc.count(self.changed_fields.len());
        for f in &self.changed_fields {
            enc.str(f.as_str());
        }
        enc.str(self.outcome.as_str());
        match self.reason {
            Some(r) => {
                enc.flag(true);
                enc.str(r.as_str());
            }
            None => enc.flag(false),
        }
        match &self.note {
            Some(n) => {
                enc.flag(true);
                enc.str(n.as_str());
            }
            None => enc.flag(false),
        }
        enc.finish()
    }
}

const fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Portal => "portal",
        Channel::Api => "api",
        Channel::Staff => "staff",
        Channel::Network => "network",
        Channel::System => "system",
    }
}

/// Length-prefixed encoder: every variable-length item carries its length, so no two different
/// entries encode to the same bytes.
struct Encoder(Vec<u8>);

impl Encoder {
    fn new(domain: &[u8]) -> Self {
        let mut e = Encoder(Vec::with_capacity(256));
        e.bytes(domain);
        e
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn i128(&mut self, v: i128) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn count(&mut self, n: usize) {
        self.u64(u64::try_from(n).unwrap_or(u64::MAX));
    }
    fn flag(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }
    fn bytes(&mut self, b: &[u8]) {
        self.count(b.len());
        self.0.extend_from_slice(b);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn finish(self) -> Vec<u8> {
        self.0
    }
}

/// A stored audit entry: the event, its position in its chain, and its MAC.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// Position in the chain, from 0.
    pub seq: u64,
    /// The event.
    pub event: AuditEvent,
    /// HMAC over the previous MAC, this entry and its personal hash.
    pub mac: Mac,
}

impl AuditEntry {
    /// Erases the personal values, keeping their hash; verification still passes.
    pub fn erase_personal(&mut self) {
        self.event.personal = self.event.personal.erased();
    }
}

/// The head of a chain: how many entries it has and the last MAC. `audit_head(org)` returns
/// it so a host can anchor it outside the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainHead {
    /// Number of entries.
    pub count: u64,
    /// MAC of the last entry; `None` for an empty chain.
    pub mac: Option<Mac>,
}

impl ChainHead {
    /// The head of an empty chain.
    pub const GENESIS: ChainHead = ChainHead {
        count: 0,
        mac: None,
    };
}

/// How a chain is broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    /// The entry (or its MAC) was altered.
    Changed,
    /// One or more entries before this one are missing.
    Removed,
    /// Entries are not in chain order (or one appears twice).
    Reordered,
    /// The chain ends before the anchored head.
    Truncated,
}

/// Where and how a chain failed verification.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, thiserror::Error,
)]
#[error("audit chain broken at entry {index}: {kind:?}")]
#[serde(deny_unknown_fields)]
pub struct ChainBreak {
    /// The chain position (sequence number) at which the break shows.
    pub index: u64,
    /// What is wrong there.
    pub kind: BreakKind,
}

/// The chain operations (AUD-1).
#[derive(Debug, Clone, Copy)]
pub struct AuditChain;

impl AuditChain {
    /// The MAC of the entry at `seq` holding `event`, after the entry whose MAC is `prev`:
    /// HMAC-SHA256(host key, prev MAC (with a presence byte) ‖ canonical bytes ‖ personal hash).
    pub fn link(prev: Option<&Mac>, seq: u64, event: &AuditEvent, key: &HostKey) -> Mac {
        let mut mac = key.mac();
        match prev {
            Some(p) => {
                mac.update(&[1]);
                mac.update(p.as_bytes());
            }
            None => mac.update(&[0]),
        }
        mac.update(&event.canonical_bytes(seq));
        mac.update(event.personal.hash().as_bytes());
        Mac::from_bytes(mac.finalize().into_bytes().into())
    }

    /// Appends `event` after `head`: the new entry and the new head.
    pub fn append(head: &ChainHead, event: AuditEvent, key: &HostKey) -> (AuditEntry, ChainHead) {
        let seq = head.count;
        let mac = Self::link(head.mac.as_ref(), seq, &event, key);
        let entry = AuditEntry { seq, event, mac };
        let next = ChainHead {
            count: seq.saturating_add(1),
            mac: Some(mac),
        };
        (entry, next)
    }

    /// Verifies a whole chain from its first entry, in order, and returns its head.
    ///
    /// With `anchored_head` (a head the host stored outside the database) it also detects
    /// truncation: the chain must reach the anchored count and have the anchored MAC there.
    /// Without an anchor, entries removed from the end cannot be told from a shorter chain.
    ///
    /// # Errors
    /// [`ChainBreak`] at the first entry that does not verify: `Changed` (content or MAC
    /// altered), `Removed` (a gap in the sequence), `Reordered` (an entry out of place), or
    /// `Truncated` (fewer entries than the anchor).
    pub fn verify_chain(
        entries: &[AuditEntry],
        key: &HostKey,
        anchored_head: Option<&ChainHead>,
    ) -> Result<ChainHead, ChainBreak> {
        let mut verifier = ChainVerifier::new(key, anchored_head.copied());
        for (pos, entry) in entries.iter().enumerate() {
            if let Err(mut brk) = verifier.push(entry) {
                // A gap whose missing entry shows up later in the list is a reordering.
                if brk.kind == BreakKind::Removed
                    && entries
                        .get(pos..)
                        .unwrap_or_default()
                        .iter()
                        .any(|e| e.seq == brk.index)
                {
                    brk.kind = BreakKind::Reordered;
                }
                return Err(brk);
            }
        }
        verifier.finish()
    }
}

/// Verifies a chain entry by entry (for logs read page by page).
#[derive(Debug)]
pub struct ChainVerifier<'k> {
    key: &'k HostKey,
    head: ChainHead,
    anchor: Option<ChainHead>,
}

impl<'k> ChainVerifier<'k> {
    /// Starts at the beginning of a chain; `anchor` as in [`AuditChain::verify_chain`].
    pub fn new(key: &'k HostKey, anchor: Option<ChainHead>) -> Self {
        ChainVerifier {
            key,
            head: ChainHead::GENESIS,
            anchor,
        }
    }

    /// Continues after a head verified earlier (a checkpoint), so only newer entries are read.
    pub fn resume(key: &'k HostKey, checkpoint: ChainHead, anchor: Option<ChainHead>) -> Self {
        ChainVerifier {
            key,
            head: checkpoint,
            anchor,
        }
    }

    /// Checks the next entry.
    ///
    /// # Errors
    /// [`ChainBreak`] with `Removed` (sequence gap), `Reordered` (an earlier sequence number)
    /// or `Changed` (MAC mismatch, or a MAC that differs from the anchor at the anchored
    /// position).
    pub fn push(&mut self, entry: &AuditEntry) -> Result<(), ChainBreak> {
        let expected = self.head.count;
        let brk = |kind| ChainBreak {
            index: expected,
            kind,
        };
        if entry.seq > expected {
            return Err(brk(BreakKind::Removed));
        }
        if entry.seq < expected {
            return Err(brk(BreakKind::Reordered));
        }
        let mac = AuditChain::link(self.head.mac.as_ref(), entry.seq, &entry.event, self.key);
        if mac != entry.mac {
            return Err(brk(BreakKind::Changed));
        }
        if let Some(anchor) = &self.anchor
            && anchor.count == expected.saturating_add(1)
            && anchor.mac != Some(mac)
        {
            return Err(brk(BreakKind::Changed));
        }
        self.head = ChainHead {
            count: expected.saturating_add(1),
            mac: Some(mac),
        };
        Ok(())
    }

    /// Ends verification and returns the verified head.
    ///
    /// # Errors
    /// [`ChainBreak`] with `Truncated` when fewer entries were seen than the anchor counts.
    pub fn finish(self) -> Result<ChainHead, ChainBreak> {
        if let Some(anchor) = &self.anchor
            && anchor.count > self.head.count
        {
            return Err(ChainBreak {
                index: self.head.count,
                kind: BreakKind::Truncated,
            });
        }
        Ok(self.head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn key() -> HostKey {
        HostKey::from_bytes(&[7; 32]).unwrap()
    }

    fn event(i: u8, personal: PersonalValues) -> AuditEvent {
        let now = datetime!(2025-03-01 09:00 UTC) + time::Duration::minutes(i64::from(i));
        AuditEvent {
            id: AuditEntryId::new(now, [i; 10]),
            at: now,
            org: Some(OrgId::new(datetime!(2025-01-01 00:00 UTC), [1; 10])),
            actor: AuditActor::User {
                id: UserId::new(now, [3; 10]),
            },
            channel: Channel::Portal,
            event: AuditEventName::UserUpdated,
            target: AuditTarget::of("user", i).unwrap(),
            changed_fields: FieldName::list(["email", "password"]).unwrap(),
            outcome: Outcome::Success,
            reason: None,
            note: None,
            personal,
        }
    }

    fn personal(i: u8) -> PersonalValues {
        PersonalValues::new(
            [i; 16],
            [
                (
                    PersonalField::OldEmail,
                    format!("old{i}@example.com").as_str(),
                ),
                (PersonalField::NewEmail, "new@example.com"),
                (PersonalField::Source, "203.0.113.9"),
            ],
        )
        .unwrap()
    }

    fn chain(n: u8) -> (Vec<AuditEntry>, ChainHead) {
        let mut head = ChainHead::GENESIS;
        let mut out = Vec::new();
        for i in 0..n {
            let (entry, next) = AuditChain::append(&head, event(i, personal(i)), &key());
            out.push(entry);
            head = next;
        }
        (out, head)
    }

    #[test]
    fn aud_1_an_intact_chain_verifies_to_its_head() {
        let (entries, head) = chain(5);
        assert_eq!(
            AuditChain::verify_chain(&entries, &key(), Some(&head)),
            Ok(head)
        );
        assert_eq!(AuditChain::verify_chain(&entries, &key(), None), Ok(head));
        assert_eq!(
            AuditChain::verify_chain(&[], &key(), None),
            Ok(ChainHead::GENESIS)
        );
        // Another key does not verify.
        let other = HostKey::from_bytes(&[8; 32]).unwrap();
        assert_eq!(
            AuditChain::verify_chain(&entries, &other, None).unwrap_err(),
            ChainBreak {
                index: 0,
                kind: BreakKind::Changed
            }
        );
    }

    #[test]
    fn aud_1_detects_a_changed_entry() {
        let (mut entries, head) = chain(5);
        entries[2].event.outcome = Outcome::Failure;
        assert_eq!(
            AuditChain::verify_chain(&entries, &key(), Some(&head)).unwrap_err(),
            ChainBreak {
                index: 2,
                kind: BreakKind::Changed
            }
        );
        let (mut entries, _) = chain(5);
        entries[3].event.changed_fields.pop();
        assert_eq!(
            AuditChain::verify_chain(&entries, &key(), None)
                .unwrap_err()
                .index,
            3
        );
        // Changing a personal value breaks the chain too (its hash is covered).
        let (mut entries, _) = chain(3);
        entries[1].event.personal =
            PersonalValues::new([1; 16], [(PersonalField::NewEmail, "evil@example.com")]).unwrap();
        assert_eq!(
            AuditChain::verify_chain(&entries, &key(), None).unwrap_err(),
            ChainBreak {
                index: 1,
                kind: BreakKind::Changed
            }
        );
        // Moving an entry into another organisation's chain is a change.
        let (mut entries, _) = chain(2);
        entries[1].event.org = None;
        assert_eq!(
            AuditChain::verify_chain(&entries, &key(), None)
                .unwrap_err()
                .kind,
            BreakKind::Changed
        );
    }

    #[test]
    fn aud_1_detects_removed_reordered_and_truncated_entries() {
        let (entries, head) = chain(5);
        let mut removed = entries.clone();
        removed.remove(2);
        assert_eq!(
            AuditChain::verify_chain(&removed, &key(), Some(&head)).unwrap_err(),
            ChainBreak {
                index: 2,
                kind: BreakKind::Removed
            }
        );
        let mut first_removed = entries.clone();
        first_removed.remove(0);
        assert_eq!(
            AuditChain::verify_chain(&first_removed, &key(), None).unwrap_err(),
            ChainBreak {
                index: 0,
                kind: BreakKind::Removed
            }
        );
        let mut swapped = entries.clone();
        swapped.swap(1, 3);
        assert_eq!(
            AuditChain::verify_chain(&swapped, &key(), None).unwrap_err(),
            ChainBreak {
                index: 1,
                kind: BreakKind::Reordered
            }
        );
        let mut duplicated = entries.clone();
        duplicated.insert(2, entries[1].clone());
        assert_eq!(
            AuditChain::verify_chain(&duplicated, &key(), None)
                .unwrap_err()
                .kind,
            BreakKind::Reordered
        );
        // Cutting the tail verifies without an anchor but not against it.
        let truncated = &entries[..3];
        assert!(AuditChain::verify_chain(truncated, &key(), None).is_ok());
        assert_eq!(
            AuditChain::verify_chain(truncated, &key(), Some(&head)).unwrap_err(),
            ChainBreak {
                index: 3,
                kind: BreakKind::Truncated
            }
        );
        // Entries appended after the anchor was taken are fine.
        let (_, early_head) = {
            let (e, _) = chain(3);
            let h = AuditChain::verify_chain(&e, &key(), None).unwrap();
            (e, h)
        };
        assert_eq!(
            AuditChain::verify_chain(&entries, &key(), Some(&early_head)),
            Ok(head)
        );
        // An anchor whose MAC is not this chain's is a change at the anchored position.
        let forged = ChainHead {
            count: 2,
            mac: Some(Mac::from_bytes([0; 32])),
        };
        assert_eq!(
            AuditChain::verify_chain(&entries, &key(), Some(&forged)).unwrap_err(),
            ChainBreak {
                index: 1,
                kind: BreakKind::Changed
            }
        );
    }

    #[test]
    fn aud_1_resume_verifies_from_a_checkpoint() {
        let (entries, head) = chain(6);
        let checkpoint = AuditChain::verify_chain(&entries[..4], &key(), None).unwrap();
        let k = key();
        let mut v = ChainVerifier::resume(&k, checkpoint, Some(head));
        for e in &entries[4..] {
            v.push(e).unwrap();
        }
        assert_eq!(v.finish(), Ok(head));
    }

    #[test]
    fn aud_1_erasing_personal_values_keeps_the_chain_valid() {
        let (mut entries, head) = chain(4);
        let before = entries[1].event.personal.hash();
        entries[1].erase_personal();
        entries[3].erase_personal();
        assert!(entries[1].event.personal.is_erased());
        assert_eq!(entries[1].event.personal.get(PersonalField::OldEmail), None);
        assert_eq!(entries[1].event.personal.hash(), before);
        assert_eq!(
            AuditChain::verify_chain(&entries, &key(), Some(&head)),
            Ok(head)
        );
        let json = serde_json::to_string(&entries[1]).unwrap();
        assert!(!json.contains("example.com"), "{json}");
        let back: AuditEntry = serde_json::from_str(&json).unwrap();
        assert_eq!(back, entries[1]);
    }

    #[test]
    fn aud_1_salt_hides_erased_values_from_guessing() {
        let a = PersonalValues::new([1; 16], [(PersonalField::Email, "a@example.com")]).unwrap();
        let b = PersonalValues::new([2; 16], [(PersonalField::Email, "a@example.com")]).unwrap();
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn aud_1_secrets_cannot_be_recorded() {
        // There is no personal kind for a secret, by name or through deserialisation.
        for secret in [
            "password",
            "token",
            "secret",
            "card_token",
            "totp_secret",
            "recovery_code",
        ] {
            assert_eq!(PersonalField::from_code(secret), None, "{secret}");
        }
        let json = r#"{"state":"present","salt":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],"values":{"password":"hunter2"}}"#;
        assert!(serde_json::from_str::<PersonalValues>(json).is_err());
        // A changed field is a name; a value smuggled in as a "name" is refused.
        assert!(FieldName::parse("password").is_ok());
        for smuggled in [
            "password=hunter2",
            "password: hunter2",
            "token tok_visa",
            "Password",
            "card_token\u{0}x",
        ] {
            assert!(FieldName::parse(smuggled).is_err(), "{smuggled}");
        }
        // A changed password leaves only its field name in the event.
        let e = event(1, PersonalValues::none());
        let bytes = e.canonical_bytes(0);
        assert!(bytes.windows(8).any(|w| w == b"password"));
        // Debug shows no personal values and no key.
        let shown = format!("{:?} {:?}", personal(1), key());
        assert!(
            !shown.contains("example.com") && !shown.contains("203.0.113.9"),
            "{shown}"
        );
        assert!(!shown.contains("7, 7"), "{shown}");
        // Targets cannot be e-mail addresses (they could not be erased).
        assert!(AuditTarget::parse("user:ada@example.com").is_err());
    }

    #[test]
    fn auth_6_host_key_derives_distinct_subkeys() {
        let key = HostKey::from_bytes(&[9; 32]).unwrap();
        let a = *key.derive("selfcare/totp-seal/v1").expose_secret();
        assert_eq!(a, *key.derive("selfcare/totp-seal/v1").expose_secret());
        assert_ne!(a, *key.derive("selfcare/other/v1").expose_secret());
        let other = HostKey::from_bytes(&[8; 32]).unwrap();
        assert_ne!(a, *other.derive("selfcare/totp-seal/v1").expose_secret());
        assert_ne!(a, [0; 32]);
    }

    #[test]
    fn aud_1_host_key_length_and_padding() {
        assert_eq!(
            HostKey::from_bytes(&[1; 31]).unwrap_err().reason(),
            ReasonCode::HostKeyLength
        );
        assert_eq!(
            HostKey::from_bytes(&[1; 65]).unwrap_err().reason(),
            ReasonCode::HostKeyLength
        );
        // Matches plain HMAC-SHA256 over the key as given.
        let raw = [9u8; 40];
        let key = HostKey::from_bytes(&raw).unwrap();
        let mut expected = <Hmac<Sha256> as KeyInit>::new_from_slice(&raw).unwrap();
        expected.update(b"abc");
        let mut ours = key.mac();
        ours.update(b"abc");
        assert_eq!(
            ours.finalize().into_bytes(),
            expected.finalize().into_bytes()
        );
        assert_eq!(format!("{:?}", key.clone()), "HostKey(<redacted>)");
    }

    #[test]
    fn aud_1_event_names_are_unique_snake_case_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for name in AuditEventName::ALL {
            let s = name.as_str();
            assert!(seen.insert(s), "duplicate {s}");
            assert!(s.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{s}");
            assert_eq!(AuditEventName::from_code(s), Some(*name));
            let json = serde_json::to_string(name).unwrap();
            assert_eq!(
                serde_json::from_str::<AuditEventName>(&json).unwrap(),
                *name
            );
        }
        for owasp in [
            "authn_login_success",
            "authn_login_fail",
            "authn_login_lock",
            "authn_password_change",
            "authn_token_created",
            "authz_fail",
            "user_created",
            "user_updated",
            "user_deleted",
            "privilege_permissions_changed",
            "sys_startup",
            "order_placed",
        ] {
            assert!(AuditEventName::from_code(owasp).is_some(), "{owasp}");
        }
    }

    #[test]
    fn aud_1_canonical_encoding_is_unambiguous() {
        // Moving a boundary between two fields changes the bytes.
        let mut a = event(1, PersonalValues::none());
        let mut b = a.clone();
        a.changed_fields = FieldName::list(["ab", "c"]).unwrap();
        b.changed_fields = FieldName::list(["a", "bc"]).unwrap();
        assert_ne!(a.canonical_bytes(0), b.canonical_bytes(0));
        let mut c = a.clone();
        c.note = Some(AuditNote::parse("x").unwrap());
        assert_ne!(a.canonical_bytes(0), c.canonical_bytes(0));
        assert_ne!(a.canonical_bytes(0), a.canonical_bytes(1));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn aud_1_any_single_byte_change_breaks_verification(
            which in 0usize..4,
            pos in any::<prop::sample::Index>(),
            // Mostly digits and letters, so most mutations still parse and reach verification.
            byte in prop_oneof![3 => b'0'..=b'9', 3 => b'a'..=b'z', 1 => any::<u8>()],
        ) {
            let (entries, head) = chain(4);
            let json = serde_json::to_vec(&entries[which]).unwrap();
            let i = pos.index(json.len());
            let mut mutated = json.clone();
            prop_assume!(mutated[i] != byte);
            mutated[i] = byte;
            if let Ok(changed) = serde_json::from_slice::<AuditEntry>(&mutated)
                && changed != entries[which]
            {
                let mut tampered = entries.clone();
                tampered[which] = changed;
                prop_assert!(AuditChain::verify_chain(&tampered, &key(), Some(&head)).is_err());
            }
        }

        #[test]
        fn aud_1_any_single_byte_change_of_the_encoding_changes_the_mac(
            pos in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let e = event(3, personal(3));
            let bytes = e.canonical_bytes(3);
            let mut mutated = bytes.clone();
            let i = pos.index(bytes.len());
            mutated[i] ^= 1 << bit;
            let mac = |b: &[u8]| {
                let mut m = key().mac();
                m.update(b);
                m.finalize().into_bytes()
            };
            prop_assert_ne!(mac(&bytes), mac(&mutated));
        }

        #[test]
        fn aud_1_erasing_personal_values_never_breaks_verification(
            erase in prop::collection::vec(any::<bool>(), 6),
            values in prop::collection::vec(("[a-z]{1,8}", "[ -~]{0,20}"), 6),
        ) {
            let mut head = ChainHead::GENESIS;
            let mut entries = Vec::new();
            for (i, (name, source)) in values.iter().enumerate() {
                let i = u8::try_from(i).unwrap();
                let p = PersonalValues::new([i; 16], [
                    (PersonalField::Name, name.as_str()),
                    (PersonalField::Source, source.as_str()),
                ]).unwrap();
                let (e, h) = AuditChain::append(&head, event(i, p), &key());
                entries.push(e);
                head = h;
            }
            for (e, erase) in entries.iter_mut().zip(&erase) {
                if *erase {
                    e.erase_personal();
                }
            }
            prop_assert_eq!(AuditChain::verify_chain(&entries, &key(), Some(&head)), Ok(head));
        }
    }
}
