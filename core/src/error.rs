//! The one error type of `selfcare-core` and the stable reason codes every decision carries.

use std::fmt;
use std::time::Duration;

/// Declares [`ReasonCode`] from one list, so the enum, its snake_case form and the exported list
/// of every code cannot drift apart.
macro_rules! reason_codes {
    ($($(#[$doc:meta])* $variant:ident = $code:literal,)*) => {
        /// A stable, snake_case identifier of why something was decided: apps translate it, logs
        /// and tests match on it. Codes are never renamed; new ones are only added.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum ReasonCode {
            $($(#[$doc])* $variant,)*
        }

        impl ReasonCode {
            /// Every reason code, in declaration order (for hosts that ship translations).
            pub const ALL: &'static [ReasonCode] = &[$(ReasonCode::$variant,)*];

            /// The stable snake_case form, e.g. `admin_cannot_set_owner_password`.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ReasonCode::$variant => $code,)*
                }
            }

            /// Parses the snake_case form back; `None` for a code this version does not know.
            pub fn from_code(code: &str) -> Option<ReasonCode> {
                match code {
                    $($code => Some(ReasonCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

reason_codes! {
    // -- general --
    /// The decision allowed the action.
    Allowed = "allowed",
    /// A required value was empty.
    Required = "required",
    /// A value is longer than its field allows.
    TooLong = "too_long",
    /// A value is shorter than its field allows.
    TooShort = "too_short",
    /// A value has characters or a shape the field does not accept.
    InvalidFormat = "invalid_format",
    /// A value is outside the accepted range.
    OutOfRange = "out_of_range",
    /// A value contains control characters.
    ControlCharacters = "control_characters",
    /// The target belongs to another organisation (reported to callers as `NotFound`).
    OtherOrganisation = "other_organisation",
    /// The thing asked for does not exist.
    NotFound = "not_found",
    /// A stored value changed since it was read (optimistic concurrency).
    StaleVersion = "stale_version",
    /// Too many attempts; wait `retry_after`.
    TooManyAttempts = "too_many_attempts",

    // -- identifiers (SIM-1) and contact data --
    /// An ICCID does not start with `89`.
    IccidPrefix = "iccid_prefix",
    /// An ICCID has a wrong Luhn check digit.
    IccidCheckDigit = "iccid_check_digit",
    /// An ICCID does not have 19 or 20 digits.
    IccidLength = "iccid_length",
    /// An IMSI is not 15 digits.
    ImsiLength = "imsi_length",
    /// A phone number cannot be parsed to E.164.
    PhoneNumberInvalid = "phone_number_invalid",
    /// A phone number's country calling code is unknown.
    PhoneNumberCountryCode = "phone_number_country_code",
    /// A phone number's length is impossible for its country.
    PhoneNumberLength = "phone_number_length",
    /// An e-mail address is malformed.
    EmailInvalid = "email_invalid",
    /// Not an ISO 3166-1 alpha-2 country code.
    CountryUnknown = "country_unknown",
    /// Not a supported contact language.
    LanguageUnsupported = "language_unsupported",
    /// Not an ISO 4217 currency, or amounts in different currencies were combined.
    CurrencyInvalid = "currency_invalid",
    /// Two amounts in different currencies were combined.
    CurrencyMismatch = "currency_mismatch",
    /// An amount cannot be represented (overflow, too many decimals for the currency).
    AmountInvalid = "amount_invalid",

    // -- users, roles, policy (USR-*, STF-1); helper section --
    /// The actor's role does not include the action (USR-1, USR-4).
    RoleLacksPermission = "role_lacks_permission",
    /// The action is not available through the channel of the actor's credential (AUTH-4).
    ChannelNotAllowed = "channel_not_allowed",
    /// An ApiUser has no portal login; it acts through the API channel only (USR-4).
    ApiUserPortalForbidden = "api_user_portal_forbidden",
    /// An Admin cannot set or reset an Owner's password (USR-3).
    AdminCannotSetOwnerPassword = "admin_cannot_set_owner_password",
    /// The password of an Owner, Admin or User is changed only by that user (USR-3).
    PasswordChangedOnlyByUser = "password_changed_only_by_user",
    /// An Admin cannot change an Owner's role or remove an Owner; provider staff can (USR-3).
    AdminCannotAdministerOwner = "admin_cannot_administer_owner",
    /// An Admin cannot change another Admin's role or remove an Admin (USR-3).
    AdminCannotAdministerAdmin = "admin_cannot_administer_admin",
    /// An Admin grants only the roles User, ReadOnly and ApiUser (USR-3).
    AdminCannotGrantRole = "admin_cannot_grant_role",
    /// The change would leave the organisation without an Owner (USR-3).
    LastOwner = "last_owner",
    /// One's own password is changed through the profile with the current password (USR-2).
    OwnSecretResetForbidden = "own_secret_reset_forbidden",
    /// The organisation requires a second factor and the user has not enrolled one (AUTH-6).
    SecondFactorEnrolmentRequired = "second_factor_enrolment_required",
    /// None of the staff identity's roles includes the action (STF-1).
    StaffRoleLacksPermission = "staff_role_lacks_permission",
    /// The staff identity is not assigned to the ticket's department (STF-1, TKT-2).
    OtherDepartment = "other_department",
    /// The staff action is scoped to a department and none was given (STF-1).
    DepartmentRequired = "department_required",

    // -- credentials, tokens, TOTP, throttling (AUTH-*); helper section --
    /// A new password is shorter than the policy allows (AUTH-1).
    PasswordTooShort = "password_too_short",
    /// A new password is longer than 128 characters (AUTH-1).
    PasswordTooLong = "password_too_long",
    /// A new password is common or guessable (zxcvbn score below 3, AUTH-1).
    PasswordTooWeak = "password_too_weak",
    /// A token is malformed, unknown or of another kind (AUTH-2, AUTH-4).
    TokenInvalid = "token_invalid",
    /// A single-use token was already redeemed (AUTH-2).
    TokenUsed = "token_used",
    /// A token's lifetime has passed (AUTH-2).
    TokenExpired = "token_expired",
    /// A session ended because it was idle too long (AUTH-4).
    SessionIdleTimeout = "session_idle_timeout",
    /// A session ended because it reached its absolute lifetime (AUTH-4).
    SessionAbsoluteTimeout = "session_absolute_timeout",
    /// A TOTP code is wrong (AUTH-6).
    TotpCodeInvalid = "totp_code_invalid",
    /// A TOTP code belongs to a time step that was already used (AUTH-6).
    TotpCodeReused = "totp_code_reused",
    /// A recovery code is wrong or already used (AUTH-6).
    RecoveryCodeInvalid = "recovery_code_invalid",

    // -- customers, notifications, audit (ACC-*, AUD-1); helper section --
    /// Company name or billing country changed through the self-service API (ACC-1).
    LegalFieldImmutable = "legal_field_immutable",
    /// A legal-field change by staff names no field to change (ACC-1).
    LegalChangeEmpty = "legal_change_empty",
    /// A business-only field was given for an individual customer.
    NotABusiness = "not_a_business",
    /// An individual-only field was given for a business customer.
    NotAnIndividual = "not_an_individual",
    /// A VAT id does not have the shape of an EU VAT id.
    VatIdInvalid = "vat_id_invalid",
    /// More additional contact e-mail addresses than allowed (ACC-3).
    TooManyContactEmails = "too_many_contact_emails",
    /// An additional contact e-mail address appears twice (ACC-3).
    ContactEmailDuplicate = "contact_email_duplicate",
    /// An additional contact e-mail address equals the main contact (ACC-3).
    ContactEmailIsMain = "contact_email_is_main",
    /// An additional contact e-mail address has no category (ACC-3).
    EmailCategoryRequired = "email_category_required",
    /// A monthly volume limit is not one of the configured steps (ACC-5).
    VolumeLimitNotAStep = "volume_limit_not_a_step",
    /// The configured volume-limit steps are not strictly increasing or are empty (ACC-5).
    VolumeStepsInvalid = "volume_steps_invalid",
    /// A notification parameter used by the text was not supplied (ACC-4).
    NotificationParameterMissing = "notification_parameter_missing",
    /// A notification text uses a placeholder its kind does not declare (ACC-4).
    NotificationPlaceholderUnknown = "notification_placeholder_unknown",
    /// The audit host key is shorter than 32 or longer than 64 bytes (AUD-1).
    HostKeyLength = "host_key_length",

    // -- addresses (ADDR-*); helper section --
    /// A billing address must carry the organisation's company name and billing country
    /// (ADDR-4, ACC-1); only support can change them.
    BillingAddressLegalField = "billing_address_legal_field",
    /// The last billing address cannot be deleted or stop being a billing address (ADDR-4).
    LastBillingAddress = "last_billing_address",
    /// An address-book entry with this id already exists.
    AddressIdTaken = "address_id_taken",
    /// The address book already holds as many entries as it may.
    AddressBookFull = "address_book_full",
    /// The address is not used for the kind (billing or shipping) it was to be the default of.
    AddressUsageMismatch = "address_usage_mismatch",
    /// Stored address-book entries break an invariant (duplicate id, two defaults, ...).
    AddressBookInconsistent = "address_book_inconsistent",

    // -- orders, payments (ORD-*, PAY-*, TOP-1); helper section --
    /// An order status change the state machine does not allow (ORD-1).
    IllegalOrderTransition = "illegal_order_transition",
    /// A payment-intent state change the state machine does not allow (ORD-5).
    IllegalPaymentIntentTransition = "illegal_payment_intent_transition",
    /// Another attempt holds the lease of this idempotency key (ORD-5).
    IdempotencyKeyInProgress = "idempotency_key_in_progress",
    /// The idempotency key was used before with a different request (ORD-5).
    IdempotencyKeyReused = "idempotency_key_reused",
    /// No product of the catalogue has this SKU.
    UnknownSku = "unknown_sku",
    /// The same SKU appears twice (in a catalogue or in one order).
    DuplicateSku = "duplicate_sku",
    /// A card number (PAN) was sent where only a gateway token is accepted (PAY-1).
    CardNumberNotAccepted = "card_number_not_accepted",
    /// The card's expiry month has passed (PAY-1).
    CardExpired = "card_expired",
    /// Auto-Top-Up needs a valid stored card (PAY-3).
    NoValidCard = "no_valid_card",
    /// The product is not a data or SMS top-up (TOP-1).
    NotATopUp = "not_a_top_up",
    /// Credit notes would exceed the invoice's gross total (ORD-2).
    CreditExceedsInvoice = "credit_exceeds_invoice",
    /// A card order has no recorded charge to refund (ORD-2).
    RefundNeedsCharge = "refund_needs_charge",
    /// A document number or id is already used (ORD-2).
    DuplicateDocument = "duplicate_document",
    /// A document file is not the expected kind (a PDF) (ORD-2).
    DocumentNotPdf = "document_not_pdf",
    /// A tracking link or template is not an https URL (ORD-4).
    TrackingLinkInvalid = "tracking_link_invalid",
    /// The same gateway token is stored already (PAY-1).
    CardAlreadyStored = "card_already_stored",

    // -- SIMs, plans, export (SIM-*, PLAN-*, ORD-3); helper section --
    /// A SIM CSV does not start with the header `ICCID,Label,IMSI,MSISDN` (ORD-3).
    CsvHeader = "csv_header",
    /// A SIM CSV row does not have exactly four fields (ORD-3).
    CsvFieldCount = "csv_field_count",
    /// A SIM CSV field is not valid UTF-8 (ORD-3).
    CsvEncoding = "csv_encoding",
    /// The source of a SIM CSV could not be read (an I/O failure, not bad data; ORD-3).
    CsvIo = "csv_io",
    /// A plan's end date is not after its start date (PLAN-1).
    PlanEndBeforeStart = "plan_end_before_start",
    /// A plan's start date has been reached, so it cannot move (PLAN-1).
    PlanStarted = "plan_started",
    /// A plan's end date has passed, so the plan cannot change (PLAN-1, PLAN-2).
    PlanEnded = "plan_ended",
    /// A date lies before today in the configured time zone (PLAN-1).
    DateInPast = "date_in_past",
    /// The new SIM of a swap is the plan's current SIM (PLAN-2).
    SimSwapSameSim = "sim_swap_same_sim",
    /// The new SIM of a swap is already used by another plan or SIM record (PLAN-2).
    SimInUse = "sim_in_use",
    /// A SIM swap is already being provisioned for this plan (PLAN-2).
    ProvisioningInProgress = "provisioning_in_progress",
    /// A SIM swap cannot go from its current state to the requested one (PLAN-2).
    SimSwapTransition = "sim_swap_transition",
    /// Calls cannot be forwarded to one of the plan's own numbers (PLAN-6).
    CallForwardingToOwnNumber = "call_forwarding_to_own_number",
    /// A plan needs at least one phone number (PLAN-1).
    PlanWithoutNumbers = "plan_without_numbers",

    // -- usage, quotas, tickets (TOP-2, TOP-3, TKT-*); helper section --
    /// A quota generation counter or volume would overflow (TOP-2).
    QuotaOverflow = "quota_overflow",
    /// The ticket event is not possible from the ticket's current status (TKT-1).
    IllegalTicketTransition = "illegal_ticket_transition",
    /// A resolved ticket can be reopened by a reply only within 14 days of its resolution (TKT-1).
    TicketReopenWindowPassed = "ticket_reopen_window_passed",
    /// A resolved ticket is closed automatically only 14 days after its resolution (TKT-1).
    TicketAutoCloseNotDue = "ticket_auto_close_not_due",
    /// Only provider staff may do this to a ticket (TKT-1).
    TicketStaffOnly = "ticket_staff_only",
    /// Only a customer may do this to a ticket (TKT-1).
    TicketCustomerOnly = "ticket_customer_only",
    /// Only the customer who opened the ticket, an Owner or an Admin may close it (TKT-1).
    TicketOpenerOwnerOrAdminOnly = "ticket_opener_owner_or_admin_only",
    /// Only the provider's maintenance closes tickets automatically (TKT-1).
    TicketSystemOnly = "ticket_system_only",
    /// The user's role does not allow creating or acting on tickets (TKT-2, USR-4).
    TicketRoleNotAllowed = "ticket_role_not_allowed",
    /// Only provider staff write internal ticket notes (TKT-2).
    InternalNoteStaffOnly = "internal_note_staff_only",

    // -- outcomes of the sdk's categories (DESIGN §1 errors) --
    /// Unknown e-mail, wrong password or wrong second factor (AUTH-1: one answer for all).
    InvalidCredentials = "invalid_credentials",
    /// The session ended: idle or absolute expiry, logout, or a password change (AUTH-4).
    SessionExpired = "session_expired",
    /// A row with the same key or unique value exists already.
    AlreadyExists = "already_exists",
    /// The payment gateway declined the charge.
    PaymentDeclined = "payment_declined",
    /// The charge needs the customer's action (3-D Secure).
    PaymentActionRequired = "payment_action_required",
    /// A store or service is unavailable; retrying is safe.
    ServiceUnavailable = "service_unavailable",
    /// A defect in the SDK or a store.
    InternalError = "internal_error",
    /// The human verification (captcha) was missing or not passed (AUTH-5).
    HumanVerificationFailed = "human_verification_failed",
    /// The database is not a selfcare store (another application's file or tables).
    NotASelfcareStore = "not_a_selfcare_store",
    /// The database was written by a newer version of selfcare.
    StoreSchemaTooNew = "store_schema_too_new",
    /// A database URL that is not a valid `postgres://` URL.
    InvalidStoreUrl = "invalid_store_url",

    // -- the wire (DESIGN §4) --
    /// A wire request that is not well-formed: not JSON, a wrong type, an unknown field.
    MalformedRequest = "malformed_request",
    /// A wire request names an operation this service does not offer.
    UnknownOperation = "unknown_operation",
    /// A wire request body is larger than the service accepts.
    RequestTooLarge = "request_too_large",
    /// The service did not answer a wire request in time.
    RequestTimedOut = "request_timed_out",
    /// The credential sent with a wire request does not allow this operation (a customer token
    /// on a staff call, no network token on a network call).
    CredentialNotAccepted = "credential_not_accepted",
    /// The other side speaks a newer version of the wire format than this SDK understands.
    WireVersionUnsupported = "wire_version_unsupported",
}

impl ReasonCode {
    /// One sentence of English explaining the code to the person who made the request, e.g.
    /// "An Admin cannot set or reset the password of an Owner, Admin or User; they change it
    /// themselves." for `admin_cannot_set_owner_password`.
    ///
    /// Every code has its own text, written here and nowhere else; the `match` has no
    /// catch-all arm, so a new code does not compile until it has one. The texts name no
    /// particular value (no placeholders), so they suit any field or object the code is
    /// reported for; an [`Error::Validation`] also carries a message about the value itself.
    /// `other_organisation` reads exactly like `not_found` (USR-5: a probe across
    /// organisations learns nothing). Hosts that show other languages translate by
    /// [`ReasonCode::as_str`].
    pub const fn text(self) -> &'static str {
        match self {
            // -- general --
            ReasonCode::Allowed => "The action is allowed.",
            ReasonCode::Required => "A required value is missing.",
            ReasonCode::TooLong => "The value is longer than this field allows.",
            ReasonCode::TooShort => "The value is shorter than this field allows.",
            ReasonCode::InvalidFormat => {
                "The value has characters or a form that this field does not accept."
            }
            ReasonCode::OutOfRange => "The value is outside the range this field accepts.",
            ReasonCode::ControlCharacters => {
                "The value contains control characters, which this field does not accept."
            }
            ReasonCode::OtherOrganisation | ReasonCode::NotFound => {
                "The requested item does not exist."
            }
            ReasonCode::StaleVersion => {
                "The data was changed by someone else after you loaded it; reload it and try again."
            }
            ReasonCode::TooManyAttempts => {
                "There were too many attempts; wait and try again later."
            }
            ReasonCode::InvalidCredentials => "The e-mail address or the password is wrong.",
            ReasonCode::SessionExpired => "The session has ended; please log in again.",
            ReasonCode::AlreadyExists => "This exists already.",
            ReasonCode::PaymentDeclined => "The payment was declined; nothing was ordered.",
            ReasonCode::PaymentActionRequired => {
                "The payment needs your confirmation with your bank before it can go through."
            }
            ReasonCode::ServiceUnavailable => {
                "The service is not available at the moment; please try again."
            }
            ReasonCode::HumanVerificationFailed => {
                "Please complete the check that you are a person, then try again."
            }
            ReasonCode::NotASelfcareStore => "The database is not a selfcare store.",
            ReasonCode::InvalidStoreUrl => "The database URL is not a valid postgres:// URL.",
            ReasonCode::StoreSchemaTooNew => {
                "The database was written by a newer version of selfcare; upgrade to open it."
            }
            ReasonCode::InternalError => {
                "Something went wrong on our side; the request may not have been carried out."
            }
            ReasonCode::MalformedRequest => "The request is not well-formed.",
            ReasonCode::UnknownOperation => "The service does not offer this operation.",
            ReasonCode::RequestTooLarge => "The request is larger than the service accepts.",
            ReasonCode::RequestTimedOut => {
                "The service did not answer in time; the request may or may not have been carried out."
            }
            ReasonCode::CredentialNotAccepted => {
                "The credential sent with the request does not allow this operation."
            }
            ReasonCode::WireVersionUnsupported => {
                "The service speaks a newer version of the protocol; please update the app."
            }

            // -- identifiers and contact data --
            ReasonCode::IccidPrefix => "An ICCID (SIM card number) must start with 89.",
            ReasonCode::IccidCheckDigit => {
                "The ICCID's last digit does not match the others; check the SIM card number for typing errors."
            }
            ReasonCode::IccidLength => "An ICCID (SIM card number) must have 19 or 20 digits.",
            ReasonCode::ImsiLength => "An IMSI must have exactly 15 digits.",
            ReasonCode::PhoneNumberInvalid => {
                "The phone number cannot be read; enter it in international form, with + and the country code."
            }
            ReasonCode::PhoneNumberCountryCode => {
                "The phone number starts with a country calling code that does not exist."
            }
            ReasonCode::PhoneNumberLength => {
                "The phone number has too many or too few digits for its country."
            }
            ReasonCode::EmailInvalid => "The e-mail address is not valid.",
            ReasonCode::CountryUnknown => {
                "The country is not a known two-letter ISO 3166-1 country code."
            }
            ReasonCode::LanguageUnsupported => "This language is not supported here.",
            ReasonCode::CurrencyInvalid => {
                "The currency is not an ISO 4217 currency code with a minor unit."
            }
            ReasonCode::CurrencyMismatch => "Amounts in different currencies cannot be combined.",
            ReasonCode::AmountInvalid => {
                "The amount is not valid: it cannot be represented, or the totals do not add up."
            }

            // -- users, roles, policy --
            ReasonCode::RoleLacksPermission => "The role does not include this permission.",
            ReasonCode::ChannelNotAllowed => "This is not available through this channel.",
            ReasonCode::ApiUserPortalForbidden => {
                "API users have no portal login; they use the API with their client id and secret."
            }
            ReasonCode::AdminCannotSetOwnerPassword => {
                "An Admin cannot set or reset the password of an Owner, Admin or User; they change it themselves."
            }
            ReasonCode::PasswordChangedOnlyByUser => {
                "The password of an Owner, Admin or User can only be changed by that user."
            }
            ReasonCode::AdminCannotAdministerOwner => {
                "An Admin cannot change an Owner's role or remove an Owner; provider staff can."
            }
            ReasonCode::AdminCannotAdministerAdmin => {
                "An Admin cannot change another Admin's role or remove an Admin; an Owner can."
            }
            ReasonCode::AdminCannotGrantRole => {
                "An Admin can grant only the roles User, Read-only user and API user."
            }
            ReasonCode::LastOwner => "The organisation must keep at least one Owner.",
            ReasonCode::OwnSecretResetForbidden => {
                "Change your own password in your profile, with your current password."
            }
            ReasonCode::SecondFactorEnrolmentRequired => {
                "Your organisation requires a second factor; set up an authenticator app first."
            }
            ReasonCode::StaffRoleLacksPermission => {
                "None of the staff member's roles includes this permission."
            }
            ReasonCode::OtherDepartment => {
                "This ticket belongs to a department the staff member does not serve."
            }
            ReasonCode::DepartmentRequired => {
                "The ticket's department is needed to decide this, and none was given."
            }

            // -- credentials, tokens, TOTP --
            ReasonCode::PasswordTooShort => {
                "The new password is shorter than the password policy allows."
            }
            ReasonCode::PasswordTooLong => "The new password is longer than 128 characters.",
            ReasonCode::PasswordTooWeak => {
                "The new password is too common or too easy to guess; choose a longer or less predictable one."
            }
            ReasonCode::TokenInvalid => "The link or token is not valid.",
            ReasonCode::TokenUsed => "The link or token has already been used.",
            ReasonCode::TokenExpired => "The link or token has expired; request a new one.",
            ReasonCode::SessionIdleTimeout => {
                "The session ended because it was inactive for too long; log in again."
            }
            ReasonCode::SessionAbsoluteTimeout => {
                "The session reached its maximum lifetime and ended; log in again."
            }
            ReasonCode::TotpCodeInvalid => "The code from the authenticator app is not valid.",
            ReasonCode::TotpCodeReused => {
                "This authenticator code was already used; wait for the next code."
            }
            ReasonCode::RecoveryCodeInvalid => {
                "The recovery code is not valid or has already been used."
            }

            // -- customers, notifications, audit --
            ReasonCode::LegalFieldImmutable => {
                "The company name and billing country cannot be changed here for legal reasons; please contact support."
            }
            ReasonCode::LegalChangeEmpty => {
                "The change names neither a new company name nor a new billing country."
            }
            ReasonCode::NotABusiness => {
                "This applies only to business customers, and the customer is an individual."
            }
            ReasonCode::NotAnIndividual => {
                "This applies only to individual customers, and the customer is a business."
            }
            ReasonCode::VatIdInvalid => "The VAT id does not have the form of a VAT id.",
            ReasonCode::TooManyContactEmails => {
                "There are more additional contact e-mail addresses than allowed."
            }
            ReasonCode::ContactEmailDuplicate => {
                "An additional contact e-mail address is listed twice."
            }
            ReasonCode::ContactEmailIsMain => {
                "An additional contact e-mail address is the same as the main contact address."
            }
            ReasonCode::EmailCategoryRequired => {
                "Each additional contact e-mail address needs at least one category."
            }
            ReasonCode::VolumeLimitNotAStep => {
                "The monthly volume limit must be one of the offered steps."
            }
            ReasonCode::VolumeStepsInvalid => {
                "The volume-limit steps must be non-empty, greater than zero and strictly increasing."
            }
            ReasonCode::NotificationParameterMissing => {
                "The notification text uses a parameter that was not supplied."
            }
            ReasonCode::NotificationPlaceholderUnknown => {
                "The notification text uses a placeholder that this kind of notification does not provide."
            }
            ReasonCode::HostKeyLength => "The audit key must be 32 to 64 bytes long.",

            // -- addresses --
            ReasonCode::BillingAddressLegalField => {
                "A billing address must carry the organisation's company name and billing country; only support can change them."
            }
            ReasonCode::LastBillingAddress => {
                "The organisation's last billing address cannot be deleted or stop being a billing address."
            }
            ReasonCode::AddressIdTaken => "An address with this id already exists.",
            ReasonCode::AddressBookFull => "The address book is full; delete an address first.",
            ReasonCode::AddressUsageMismatch => {
                "The address is not used for this kind of address (billing or shipping), so it cannot be its default."
            }
            ReasonCode::AddressBookInconsistent => {
                "The stored address book is inconsistent (for example two defaults or a repeated id)."
            }

            // -- orders, payments --
            ReasonCode::IllegalOrderTransition => {
                "The order cannot move from its current status to the requested one."
            }
            ReasonCode::IllegalPaymentIntentTransition => {
                "The payment cannot move from its current state to the requested one."
            }
            ReasonCode::IdempotencyKeyInProgress => {
                "The same request is still being processed; wait and try again."
            }
            ReasonCode::IdempotencyKeyReused => {
                "The idempotency key was already used for a different request."
            }
            ReasonCode::UnknownSku => "No product in the catalogue has this SKU.",
            ReasonCode::DuplicateSku => "The same product (SKU) appears more than once.",
            ReasonCode::CardNumberNotAccepted => {
                "Card numbers are never accepted; send the payment gateway's token instead."
            }
            ReasonCode::CardExpired => "The card has expired.",
            ReasonCode::NoValidCard => "Auto-Top-Up needs a stored card that has not expired.",
            ReasonCode::NotATopUp => "The product is not a data or SMS top-up.",
            ReasonCode::CreditExceedsInvoice => {
                "The credit notes would exceed the invoice's gross total."
            }
            ReasonCode::RefundNeedsCharge => {
                "The order was paid by card, but no charge is recorded that could be refunded."
            }
            ReasonCode::DuplicateDocument => "A document with this number or id already exists.",
            ReasonCode::DocumentNotPdf => "The document file is not a PDF.",
            ReasonCode::TrackingLinkInvalid => "The tracking link is not an https address.",
            ReasonCode::CardAlreadyStored => "This card is already stored.",

            // -- SIMs, plans, export --
            ReasonCode::CsvHeader => {
                "The SIM file must start with the header line ICCID,Label,IMSI,MSISDN."
            }
            ReasonCode::CsvFieldCount => {
                "Each row of the SIM file must have exactly four fields: ICCID, label, IMSI and MSISDN."
            }
            ReasonCode::CsvEncoding => "The SIM file contains text that is not valid UTF-8.",
            ReasonCode::CsvIo => "The SIM file could not be read.",
            ReasonCode::PlanEndBeforeStart => "The plan's end date must be after its start date.",
            ReasonCode::PlanStarted => {
                "The plan has already started, so its start date cannot change."
            }
            ReasonCode::PlanEnded => "The plan has ended, so it cannot be changed.",
            ReasonCode::DateInPast => "The date must not be before today.",
            ReasonCode::SimSwapSameSim => "The new SIM is the plan's current SIM.",
            ReasonCode::SimInUse => "The new SIM is already used by another plan.",
            ReasonCode::ProvisioningInProgress => {
                "A SIM swap for this plan is already in progress."
            }
            ReasonCode::SimSwapTransition => {
                "The SIM swap cannot move from its current state to the requested one."
            }
            ReasonCode::CallForwardingToOwnNumber => {
                "Calls cannot be forwarded to one of the plan's own numbers."
            }
            ReasonCode::PlanWithoutNumbers => "A plan needs at least one phone number.",

            // -- usage, quotas, tickets --
            ReasonCode::QuotaOverflow => {
                "The quota cannot grow any further: its volume or counter would overflow."
            }
            ReasonCode::IllegalTicketTransition => {
                "This is not possible for the ticket in its current status."
            }
            ReasonCode::TicketReopenWindowPassed => {
                "The ticket was resolved more than 14 days ago and can no longer be reopened; open a new ticket."
            }
            ReasonCode::TicketAutoCloseNotDue => {
                "A resolved ticket is closed automatically only 14 days after its resolution."
            }
            ReasonCode::TicketStaffOnly => "Only provider staff can do this to a ticket.",
            ReasonCode::TicketCustomerOnly => "Only the customer can do this to a ticket.",
            ReasonCode::TicketOpenerOwnerOrAdminOnly => {
                "Only the user who opened the ticket, an Owner or an Admin can close it."
            }
            ReasonCode::TicketSystemOnly => {
                "Only the provider's scheduled maintenance closes tickets automatically."
            }
            ReasonCode::TicketRoleNotAllowed => {
                "The role does not allow creating or acting on support tickets."
            }
            ReasonCode::InternalNoteStaffOnly => "Only provider staff can write internal notes.",
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for ReasonCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for ReasonCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        ReasonCode::from_code(&raw)
            .ok_or_else(|| serde::de::Error::custom(format_args!("unknown reason code `{raw}`")))
    }
}

/// Everything a rule of `core` can refuse, in the categories of DESIGN §1.
///
/// The `sdk` maps these one to one onto its public error; `field` names are dotted paths
/// (`billing_address.postal_code`) so a form can put the message next to the right input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An input is malformed or breaks a rule about its value.
    #[error("{field}: {message}")]
    Validation {
        /// Dotted path of the offending field.
        field: String,
        /// Why it was refused.
        reason: ReasonCode,
        /// English explanation for people (never contains a secret).
        message: String,
    },
    /// A field that cannot be changed through this channel (ACC-1, ADDR-4).
    #[error("{field} cannot be changed here: {message}")]
    ImmutableField {
        /// Dotted path of the field.
        field: String,
        /// Why it is immutable.
        reason: ReasonCode,
        /// English explanation, e.g. "contact support".
        message: String,
    },
    /// The actor's role does not allow the action.
    #[error("permission denied: {}", reason.text())]
    PermissionDenied {
        /// The policy's reason.
        reason: ReasonCode,
    },
    /// The target does not exist, or is not visible to the actor (tenant isolation, USR-5).
    #[error("not found")]
    NotFound,
    /// The action conflicts with the current state (illegal transition, duplicate, last Owner).
    #[error("conflict: {}", reason.text())]
    Conflict {
        /// What conflicts.
        reason: ReasonCode,
    },
    /// Too many attempts; the caller may try again after `retry_after`.
    #[error("too many attempts, retry after {} s", retry_after.as_secs())]
    Throttled {
        /// How long to wait.
        retry_after: Duration,
    },
}

impl Error {
    /// A [`Error::Validation`] for `field`.
    pub fn validation(
        field: impl Into<String>,
        reason: ReasonCode,
        message: impl Into<String>,
    ) -> Self {
        Error::Validation {
            field: field.into(),
            reason,
            message: message.into(),
        }
    }

    /// A [`Error::ImmutableField`] for `field`.
    pub fn immutable(
        field: impl Into<String>,
        reason: ReasonCode,
        message: impl Into<String>,
    ) -> Self {
        Error::ImmutableField {
            field: field.into(),
            reason,
            message: message.into(),
        }
    }

    /// A [`Error::Conflict`].
    pub fn conflict(reason: ReasonCode) -> Self {
        Error::Conflict { reason }
    }

    /// A [`Error::PermissionDenied`].
    pub fn denied(reason: ReasonCode) -> Self {
        Error::PermissionDenied { reason }
    }

    /// Prefixes the field path with `parent`, for values validated inside a larger form
    /// (`postal_code` inside `billing_address` becomes `billing_address.postal_code`).
    #[must_use]
    pub fn within(self, parent: &str) -> Self {
        match self {
            Error::Validation {
                field,
                reason,
                message,
            } => Error::Validation {
                field: join_field(parent, &field),
                reason,
                message,
            },
            Error::ImmutableField {
                field,
                reason,
                message,
            } => Error::ImmutableField {
                field: join_field(parent, &field),
                reason,
                message,
            },
            other => other,
        }
    }

    /// The reason code of this error, for every category.
    pub fn reason(&self) -> ReasonCode {
        match self {
            Error::Validation { reason, .. }
            | Error::ImmutableField { reason, .. }
            | Error::PermissionDenied { reason }
            | Error::Conflict { reason } => *reason,
            Error::NotFound => ReasonCode::NotFound,
            Error::Throttled { .. } => ReasonCode::TooManyAttempts,
        }
    }

    /// The field an error names, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Error::Validation { field, .. } | Error::ImmutableField { field, .. } => Some(field),
            _ => None,
        }
    }
}

fn join_field(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else if field.is_empty() {
        parent.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// The result type of `selfcare-core`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Checks a free-text field: trimmed, not empty when `required`, at most `max` characters
/// (Unicode scalar values), no control characters except where `allow_newlines` permits line
/// breaks and tabs. Returns the trimmed value.
///
/// # Errors
/// [`Error::Validation`] naming `field` with `Required`, `TooLong` or `ControlCharacters`.
pub fn text_field(
    field: &str,
    raw: &str,
    max: usize,
    required: bool,
    allow_newlines: bool,
) -> Result<String> {
    let trimmed = raw.trim();
    if trimmed.is_empty() && required {
        return Err(Error::validation(
            field,
            ReasonCode::Required,
            "is required",
        ));
    }
    let count = trimmed.chars().count();
    if count > max {
        return Err(Error::validation(
            field,
            ReasonCode::TooLong,
            format!("is {count} characters long; at most {max} are allowed"),
        ));
    }
    let bad = |c: char| c.is_control() && !(allow_newlines && matches!(c, '\n' | '\r' | '\t'));
    if trimmed.chars().any(bad) {
        return Err(Error::validation(
            field,
            ReasonCode::ControlCharacters,
            "contains control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_round_trip_and_are_unique_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for code in ReasonCode::ALL {
            let s = code.as_str();
            assert!(seen.insert(s), "duplicate code {s}");
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
                "{s} is not snake_case"
            );
            assert_eq!(ReasonCode::from_code(s), Some(*code));
        }
        assert_eq!(ReasonCode::from_code("no_such_code"), None);
    }

    #[test]
    fn usr_1_every_reason_code_has_its_own_english_text() {
        let mut seen = std::collections::HashMap::new();
        for code in ReasonCode::ALL {
            let text = code.text();
            assert!(!text.trim().is_empty(), "{code}");
            assert!(text.ends_with('.'), "{code}: {text}");
            assert!(
                text.chars().next().is_some_and(char::is_uppercase),
                "{code}: {text}"
            );
            assert!(!text.contains('{') && !text.contains('}'), "{code}: {text}");
            assert!(
                !text.contains('_'),
                "{code}: {text} names a snake_case identifier"
            );
            assert_ne!(text, "The request was refused.", "{code}");
            if let Some(first) = seen.insert(text, *code) {
                // USR-5: a probe across organisations must read exactly like a missing row.
                let pair = [first, *code];
                assert!(
                    pair.contains(&ReasonCode::OtherOrganisation)
                        && pair.contains(&ReasonCode::NotFound),
                    "{first} and {code} share the text {text:?}"
                );
            }
        }
        assert_eq!(
            ReasonCode::OtherOrganisation.text(),
            ReasonCode::NotFound.text()
        );
    }

    #[test]
    fn usr_3_permission_denied_and_conflict_display_the_text() {
        let denied = Error::denied(ReasonCode::AdminCannotSetOwnerPassword);
        assert_eq!(
            denied.to_string(),
            "permission denied: An Admin cannot set or reset the password of an Owner, Admin or \
             User; they change it themselves."
        );
        for code in ReasonCode::ALL {
            assert_eq!(
                Error::denied(*code).to_string(),
                format!("permission denied: {}", code.text())
            );
            assert_eq!(
                Error::conflict(*code).to_string(),
                format!("conflict: {}", code.text())
            );
        }
        // The code itself stays available, and Display of the code stays snake_case.
        assert_eq!(
            denied.reason().to_string(),
            "admin_cannot_set_owner_password"
        );
    }

    #[test]
    fn within_prefixes_field_paths() {
        let e = Error::validation("postal_code", ReasonCode::TooLong, "x").within("billing");
        assert_eq!(e.field(), Some("billing.postal_code"));
        assert_eq!(Error::NotFound.within("x"), Error::NotFound);
    }

    #[test]
    fn text_field_checks_length_in_characters_not_bytes() {
        let hebrew = "ש".repeat(100);
        assert_eq!(
            text_field("name", &hebrew, 100, true, false).unwrap(),
            hebrew
        );
        let long = "ש".repeat(101);
        assert_eq!(
            text_field("name", &long, 100, true, false)
                .unwrap_err()
                .reason(),
            ReasonCode::TooLong
        );
        assert_eq!(
            text_field("name", "  ", 100, true, false)
                .unwrap_err()
                .reason(),
            ReasonCode::Required
        );
        assert_eq!(text_field("name", "  ", 100, false, false).unwrap(), "");
        assert_eq!(
            text_field("name", "a\u{0}b", 100, true, false)
                .unwrap_err()
                .reason(),
            ReasonCode::ControlCharacters
        );
        assert_eq!(text_field("d", "a\nb", 100, true, true).unwrap(), "a\nb");
    }
}
