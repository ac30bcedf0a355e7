//! The customer (organisation) and its account data: business or individual, legal fields that
//! only staff may change (ACC-1), the main contact that receives every invoice (ACC-2),
//! additional contact e-mails by category (ACC-3) and monthly volume limits (ACC-5).
//!
//! ```
//! use selfcare_core::customer::{Customer, CustomerUpdate, EmailCategory, NewCustomer, NewCustomerKind};
//! use selfcare_core::ids::OrgId;
//! use time::macros::datetime;
//!
//! let now = datetime!(2025-03-01 09:00 UTC);
//! let input = NewCustomer {
//!     kind: NewCustomerKind::Business { company_name: "Acme IoT GmbH".into(), vat_id: Some("DE 123 456 789".into()) },
//!     main_contact: "billing@acme.example".into(),
//!     billing_country: "DE".into(),
//!     language: Some("de".into()),
//! };
//! let customer = Customer::create(OrgId::new(now, [7; 10]), &input, now).unwrap();
//! assert_eq!(customer.recipients(EmailCategory::Invoice).len(), 1);
//!
//! // ACC-1: the legal name cannot be changed through the self-service API.
//! let attempt = CustomerUpdate { company_name: Some("Other GmbH".into()), ..Default::default() };
//! assert!(customer.apply_update(&attempt).is_err());
//! ```

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use crate::contact::{Country, Email, Language};
use crate::error::{Error, ReasonCode, Result, text_field};
use crate::ids::OrgId;
use crate::policy::LegalChangeReason;

/// Longest company or person name accepted: the name is printed on every billing address
/// (ADDR-4), so it can be no longer than an address's company and name fields (ADDR-1).
pub const NAME_MAX: usize = crate::address::COMPANY_MAX;
/// Most additional contact e-mail addresses per customer (ACC-3).
pub const MAX_ADDITIONAL_EMAILS: usize = 10;

const LEGAL_MESSAGE: &str = "cannot be changed for legal reasons; please contact support";

// ---------------------------------------------------------------------------------------------
// Names and VAT ids
// ---------------------------------------------------------------------------------------------

/// The name a customer is invoiced under: a company name or a person's name. Trimmed, 1 to
/// [`NAME_MAX`] characters, no control characters.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LegalName(String);

impl LegalName {
    /// Parses a name, naming `field` in errors.
    ///
    /// # Errors
    /// [`Error::Validation`] on `field` with `Required`, `TooLong` or `ControlCharacters`.
    pub fn parse_field(field: &str, raw: &str) -> Result<Self> {
        text_field(field, raw, NAME_MAX, true, false).map(LegalName)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for LegalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for LegalName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names of individuals are personal data; logs get the length only.
        write!(f, "LegalName({} chars)", self.0.chars().count())
    }
}
impl TryFrom<String> for LegalName {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse_field("name", &raw)
    }
}
impl From<LegalName> for String {
    fn from(value: LegalName) -> String {
        value.0
    }
}

/// A VAT identification number in the shape of an EU VAT id: a two-letter country prefix
/// followed by 2 to 12 letters or digits. Spaces, dots and hyphens are removed and letters
/// upper-cased (`de 123.456.789` becomes `DE123456789`).
///
/// This is a **shape check only**: it does not ask VIES whether the number exists, nor check
/// the per-country check digits, and it accepts any two-letter prefix (EU ids use `EL` for
/// Greece and `XI` for Northern Ireland; [`VatId::is_eu`] tells them apart). Whether the
/// prefix matches the billing country is left to the invoicing rules.
///
/// ```
/// use selfcare_core::customer::VatId;
/// let id = VatId::parse("de 123-456.789").unwrap();
/// assert_eq!(id.as_str(), "DE123456789");
/// assert_eq!(id.prefix(), "DE");
/// assert!(id.is_eu());
/// assert!(VatId::parse("123456789").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VatId(String);

/// VAT prefixes of the EU VAT area (the member states, Greece as `EL`, Northern Ireland `XI`).
const EU_VAT_PREFIXES: [&str; 28] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
];

impl VatId {
    /// Parses a VAT id.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `vat_id` with `Required` or `VatIdInvalid`.
    pub fn parse(raw: &str) -> Result<Self> {
        Self::parse_field("vat_id", raw)
    }

    /// As [`VatId::parse`], naming `field` in errors.
    ///
    /// # Errors
    /// As [`VatId::parse`].
    pub fn parse_field(field: &str, raw: &str) -> Result<Self> {
        let compact: String = raw
            .chars()
            .filter(|c| !(c.is_whitespace() || matches!(c, '.' | '-')))
            .flat_map(char::to_uppercase)
            .collect();
        if compact.is_empty() {
            return Err(Error::validation(
                field,
                ReasonCode::Required,
                "is required",
            ));
        }
        let invalid = || {
            Error::validation(
                field,
                ReasonCode::VatIdInvalid,
                "must be a two-letter country prefix followed by 2 to 12 letters or digits, such as DE123456789",
            )
        };
        let mut chars = compact.chars();
        let prefix_ok = chars
            .by_ref()
            .take(2)
            .filter(char::is_ascii_uppercase)
            .count()
            == 2;
        let rest: Vec<char> = chars.collect();
        if !prefix_ok
            || !(2..=12).contains(&rest.len())
            || !rest.iter().all(char::is_ascii_alphanumeric)
        {
            return Err(invalid());
        }
        Ok(VatId(compact))
    }

    /// The normalised id, e.g. `DE123456789`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The two-letter prefix.
    pub fn prefix(&self) -> &str {
        self.0.get(..2).unwrap_or_default()
    }

    /// Whether the prefix belongs to the EU VAT area.
    pub fn is_eu(&self) -> bool {
        EU_VAT_PREFIXES.contains(&self.prefix())
    }

    /// The EU member state that issued the id (`EL` is Greece), if the prefix is one. `XI`
    /// (Northern Ireland) gives `None`: it belongs to the EU VAT area for goods only, and the
    /// reverse charge of ORD-2 is decided per member state.
    pub fn eu_country(&self) -> Option<Country> {
        let alpha2 = match self.prefix() {
            "EL" => "GR",
            other => other,
        };
        Country::parse(alpha2).ok().filter(Country::is_eu)
    }
}

impl fmt::Display for VatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for VatId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VatId({})", self.0)
    }
}
impl TryFrom<String> for VatId {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<VatId> for String {
    fn from(value: VatId) -> String {
        value.0
    }
}

// ---------------------------------------------------------------------------------------------
// Contact e-mails (ACC-2, ACC-3)
// ---------------------------------------------------------------------------------------------

/// What an additional contact e-mail address receives (ACC-3). The main contact receives every
/// category.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum EmailCategory {
    /// Invoices (in copy), additional documents, Auto-Top-Up charges and failures.
    Invoice,
    /// Data/SMS volume notifications and reaching the monthly volume limit.
    VolumeNotifications,
    /// Order status and shipment updates.
    Orders,
    /// Plan, provisioning (SIM swap) and APN messages.
    Service,
}

impl EmailCategory {
    /// Every category.
    pub const ALL: [EmailCategory; 4] = [
        EmailCategory::Invoice,
        EmailCategory::VolumeNotifications,
        EmailCategory::Orders,
        EmailCategory::Service,
    ];

    /// The stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EmailCategory::Invoice => "invoice",
            EmailCategory::VolumeNotifications => "volume_notifications",
            EmailCategory::Orders => "orders",
            EmailCategory::Service => "service",
        }
    }
}

impl fmt::Display for EmailCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An additional contact e-mail address with at least one category (ACC-3).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "AdditionalEmailRepr")]
pub struct AdditionalEmail {
    email: Email,
    categories: BTreeSet<EmailCategory>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AdditionalEmailRepr {
    email: Email,
    categories: BTreeSet<EmailCategory>,
}

impl TryFrom<AdditionalEmailRepr> for AdditionalEmail {
    type Error = Error;
    fn try_from(repr: AdditionalEmailRepr) -> Result<Self> {
        AdditionalEmail::new(repr.email, repr.categories)
    }
}

impl AdditionalEmail {
    /// An additional address with its categories (repeated categories count once).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `categories` with `EmailCategoryRequired` when there is
    /// none.
    pub fn new(email: Email, categories: impl IntoIterator<Item = EmailCategory>) -> Result<Self> {
        let categories: BTreeSet<EmailCategory> = categories.into_iter().collect();
        if categories.is_empty() {
            return Err(Error::validation(
                "categories",
                ReasonCode::EmailCategoryRequired,
                "choose at least one category",
            ));
        }
        Ok(AdditionalEmail { email, categories })
    }

    /// Parses the address from form input.
    ///
    /// # Errors
    /// [`Error::Validation`] on `email` (see [`Email::parse`]) or `categories`.
    pub fn parse(
        raw_email: &str,
        categories: impl IntoIterator<Item = EmailCategory>,
    ) -> Result<Self> {
        Self::new(Email::parse_field("email", raw_email)?, categories)
    }

    /// The address.
    pub fn email(&self) -> &Email {
        &self.email
    }

    /// Its categories, in the order of [`EmailCategory::ALL`].
    pub fn categories(&self) -> impl Iterator<Item = EmailCategory> + '_ {
        self.categories.iter().copied()
    }

    /// Whether it receives `category`.
    pub fn receives(&self, category: EmailCategory) -> bool {
        self.categories.contains(&category)
    }
}

/// The main contact (ACC-2: receives every invoice and every other category) plus up to
/// [`MAX_ADDITIONAL_EMAILS`] additional addresses, each with its categories (ACC-3).
///
/// Duplicates are **rejected** when the list is set: an address that appears twice
/// (case-insensitively) or equals the main contact is a [`Error::Validation`] naming the entry,
/// because the person editing the list meant something by it and should see the conflict.
/// When the main contact later changes to an address already on the list
/// ([`ContactEmails::with_main`]), that entry is **merged** away: the main contact receives
/// every category, so nothing it received is lost.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "ContactEmailsRepr")]
pub struct ContactEmails {
    main: Email,
    additional: Vec<AdditionalEmail>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactEmailsRepr {
    main: Email,
    additional: Vec<AdditionalEmail>,
}

impl TryFrom<ContactEmailsRepr> for ContactEmails {
    type Error = Error;
    fn try_from(repr: ContactEmailsRepr) -> Result<Self> {
        ContactEmails::new(repr.main, repr.additional)
    }
}

impl ContactEmails {
    /// The main contact and the additional addresses, in the order given.
    ///
    /// # Errors
    /// [`Error::Validation`] with `TooManyContactEmails` on `additional_emails`, or on
    /// `additional_emails[i].email` with `ContactEmailIsMain` or `ContactEmailDuplicate`.
    pub fn new(main: Email, additional: Vec<AdditionalEmail>) -> Result<Self> {
        if additional.len() > MAX_ADDITIONAL_EMAILS {
            return Err(Error::validation(
                "additional_emails",
                ReasonCode::TooManyContactEmails,
                format!(
                    "at most {MAX_ADDITIONAL_EMAILS} additional e-mail addresses can be stored"
                ),
            ));
        }
        let mut seen: HashSet<&str> = HashSet::new();
        for (i, entry) in additional.iter().enumerate() {
            let field = format!("additional_emails[{i}].email");
            if entry.email == main {
                return Err(Error::validation(
                    field,
                    ReasonCode::ContactEmailIsMain,
                    "is already the main contact, which receives every category",
                ));
            }
            if !seen.insert(entry.email.key()) {
                return Err(Error::validation(
                    field,
                    ReasonCode::ContactEmailDuplicate,
                    "appears more than once; give one entry several categories instead",
                ));
            }
        }
        Ok(ContactEmails { main, additional })
    }

    /// Only the main contact.
    pub fn main_only(main: Email) -> Self {
        ContactEmails {
            main,
            additional: Vec::new(),
        }
    }

    /// The main contact (ACC-2).
    pub fn main(&self) -> &Email {
        &self.main
    }

    /// The additional addresses, in the order they were set.
    pub fn additional(&self) -> &[AdditionalEmail] {
        &self.additional
    }

    /// The same list with a new main contact; an additional entry equal to it is dropped.
    #[must_use]
    pub fn with_main(&self, main: Email) -> Self {
        let additional = self
            .additional
            .iter()
            .filter(|a| a.email != main)
            .cloned()
            .collect();
        ContactEmails { main, additional }
    }

    /// The same main contact with a new list of additional addresses.
    ///
    /// # Errors
    /// As [`ContactEmails::new`].
    pub fn with_additional(&self, additional: Vec<AdditionalEmail>) -> Result<Self> {
        ContactEmails::new(self.main.clone(), additional)
    }

    /// Who receives a message of `category` (ACC-3): the main contact first, then each
    /// additional address with that category, in list order, each address once
    /// (case-insensitively).
    pub fn recipients(&self, category: EmailCategory) -> Vec<Email> {
        let mut out = vec![self.main.clone()];
        for entry in &self.additional {
            if entry.receives(category) && !out.contains(&entry.email) {
                out.push(entry.email.clone());
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// Customer (ACC-1, ACC-2)
// ---------------------------------------------------------------------------------------------

/// Whether the customer is a business or a person.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", deny_unknown_fields)]
pub enum CustomerKind {
    /// A company; its name is a legal field (ACC-1).
    Business {
        /// The registered company name.
        company_name: LegalName,
        /// Its VAT id, when it has one.
        vat_id: Option<VatId>,
    },
    /// A private person; their name can be corrected through self-service (the consumer
    /// portal lets users update their name).
    Individual {
        /// The person's name.
        name: LegalName,
    },
}

impl CustomerKind {
    /// The name invoices are addressed to.
    pub fn invoice_name(&self) -> &LegalName {
        match self {
            CustomerKind::Business { company_name, .. } => company_name,
            CustomerKind::Individual { name } => name,
        }
    }
}

/// The kind of a customer being registered, as raw form input.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case", tag = "type", deny_unknown_fields)]
pub enum NewCustomerKind {
    /// A company.
    Business {
        /// Company name.
        company_name: String,
        /// VAT id; empty text counts as none.
        vat_id: Option<String>,
    },
    /// A private person.
    Individual {
        /// Full name.
        name: String,
    },
}

/// Registration input for a customer, validated by [`Customer::create`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCustomer {
    /// Business or individual.
    pub kind: NewCustomerKind,
    /// Main contact e-mail (ACC-2).
    pub main_contact: String,
    /// Billing country, ISO 3166-1 alpha-2.
    pub billing_country: String,
    /// Contact language as a BCP 47 tag; `None` means English.
    pub language: Option<String>,
}

/// A customer (organisation): the account every user, SIM and order belongs to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    id: OrgId,
    kind: CustomerKind,
    contacts: ContactEmails,
    billing_country: Country,
    language: Language,
    #[serde(with = "crate::formats::instant")]
    created_at: OffsetDateTime,
}

/// A change through the self-service API (`session.update_customer`). `None` leaves a field
/// as it is.
///
/// `company_name` and `billing_country` are accepted only when they equal the current value
/// (forms resubmit every field); any other value is refused with [`Error::ImmutableField`]
/// (ACC-1). The VAT id is not a legal field here and can be changed or removed.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomerUpdate {
    /// Company name (legal field, ACC-1).
    pub company_name: Option<String>,
    /// Billing country (legal field, ACC-1).
    pub billing_country: Option<String>,
    /// `Some(None)` or `Some(Some(""))` removes the VAT id; businesses only.
    pub vat_id: Option<Option<String>>,
    /// A person's name; individuals only.
    pub name: Option<String>,
    /// New main contact e-mail.
    pub main_contact: Option<String>,
    /// New contact language (BCP 47).
    pub language: Option<String>,
}

/// A change of legal fields by provider staff (Billing role, checked by the policy) with a
/// justification for the audit log (ACC-1).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegalFieldChange {
    /// New company name (businesses only).
    pub company_name: Option<String>,
    /// New billing country.
    pub billing_country: Option<String>,
    /// Why, as validated by [`crate::policy::authorize_legal_field_change`] (which also checks
    /// the Billing role); recorded in the audit log.
    pub reason: LegalChangeReason,
}

/// The outcome of an update: the new customer and the names of the fields that changed (for
/// the audit log's `changed_fields`; values never go there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerChanged {
    /// The customer after the change.
    pub customer: Customer,
    /// Names of the fields whose value changed, e.g. `main_contact`.
    pub changed_fields: Vec<&'static str>,
    /// The staff justification, for legal-field changes.
    pub reason: Option<LegalChangeReason>,
}

impl Customer {
    /// Validates registration input into a customer with only the main contact as recipient.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the first bad field: `company_name`, `vat_id`, `name`,
    /// `main_contact`, `billing_country` or `language`.
    pub fn create(id: OrgId, input: &NewCustomer, now: OffsetDateTime) -> Result<Customer> {
        let kind = match &input.kind {
            NewCustomerKind::Business {
                company_name,
                vat_id,
            } => CustomerKind::Business {
                company_name: LegalName::parse_field("company_name", company_name)?,
                vat_id: optional_vat_id(vat_id.as_deref())?,
            },
            NewCustomerKind::Individual { name } => CustomerKind::Individual {
                name: LegalName::parse_field("name", name)?,
            },
        };
        let main = Email::parse_field("main_contact", &input.main_contact)?;
        let billing_country = Country::parse_field("billing_country", &input.billing_country)?;
        let language = match &input.language {
            Some(tag) => Language::parse(tag)?,
            None => Language::English,
        };
        Ok(Customer {
            id,
            kind,
            contacts: ContactEmails::main_only(main),
            billing_country,
            language,
            created_at: now,
        })
    }

    /// The organisation id.
    pub fn id(&self) -> OrgId {
        self.id
    }

    /// Business or individual, with the name (and VAT id).
    pub fn kind(&self) -> &CustomerKind {
        &self.kind
    }

    /// The company name, for businesses.
    pub fn company_name(&self) -> Option<&LegalName> {
        match &self.kind {
            CustomerKind::Business { company_name, .. } => Some(company_name),
            CustomerKind::Individual { .. } => None,
        }
    }

    /// The VAT id, for businesses that have one.
    pub fn vat_id(&self) -> Option<&VatId> {
        match &self.kind {
            CustomerKind::Business { vat_id, .. } => vat_id.as_ref(),
            CustomerKind::Individual { .. } => None,
        }
    }

    /// The main contact e-mail, which receives every invoice (ACC-2).
    pub fn main_contact(&self) -> &Email {
        self.contacts.main()
    }

    /// The main contact and the additional addresses (ACC-3).
    pub fn contact_emails(&self) -> &ContactEmails {
        &self.contacts
    }

    /// The billing country (legal field, ACC-1).
    pub fn billing_country(&self) -> Country {
        self.billing_country
    }

    /// The contact language of e-mails, invoices and notifications (ACC-4).
    pub fn language(&self) -> Language {
        self.language
    }

    /// When the customer registered.
    pub fn created_at(&self) -> OffsetDateTime {
        self.created_at
    }

    /// Who receives a message of `category`: the main contact first, then the additional
    /// addresses with that category, without duplicates (ACC-2, ACC-3).
    pub fn recipients(&self, category: EmailCategory) -> Vec<Email> {
        self.contacts.recipients(category)
    }

    /// Replaces the additional contact e-mails (`session.set_contact_emails`).
    ///
    /// # Errors
    /// As [`ContactEmails::new`].
    pub fn set_additional_emails(
        &self,
        additional: Vec<AdditionalEmail>,
    ) -> Result<CustomerChanged> {
        let contacts = self.contacts.with_additional(additional)?;
        let changed = if contacts == self.contacts {
            vec![]
        } else {
            vec!["additional_emails"]
        };
        Ok(CustomerChanged {
            customer: Customer {
                contacts,
                ..self.clone()
            },
            changed_fields: changed,
            reason: None,
        })
    }

    /// Applies a self-service change (ACC-1).
    ///
    /// # Errors
    /// - [`Error::ImmutableField`] on `company_name` or `billing_country` with
    ///   `LegalFieldImmutable` when the value differs from the current one;
    /// - [`Error::Validation`] on the field with its parse error, or `NotABusiness` /
    ///   `NotAnIndividual` for a field of the other kind.
    pub fn apply_update(&self, update: &CustomerUpdate) -> Result<CustomerChanged> {
        if let Some(raw) = &update.company_name {
            let unchanged = match self.company_name() {
                Some(current) => raw.trim() == current.as_str(),
                None => false,
            };
            if !unchanged {
                return Err(legal_immutable("company_name", "The company name"));
            }
        }
        if let Some(raw) = &update.billing_country
            && !raw
                .trim()
                .eq_ignore_ascii_case(self.billing_country.alpha2())
        {
            return Err(legal_immutable("billing_country", "The billing country"));
        }
        let mut next = self.clone();
        let mut changed = Vec::new();
        if let Some(raw) = &update.vat_id {
            let CustomerKind::Business { vat_id, .. } = &mut next.kind else {
                return Err(Error::validation(
                    "vat_id",
                    ReasonCode::NotABusiness,
                    "only business customers have a VAT id",
                ));
            };
            let new = optional_vat_id(raw.as_deref())?;
            if *vat_id != new {
                *vat_id = new;
                changed.push("vat_id");
            }
        }
        if let Some(raw) = &update.name {
            let CustomerKind::Individual { name } = &mut next.kind else {
                return Err(Error::validation(
                    "name",
                    ReasonCode::NotAnIndividual,
                    "a business is named by its company name, which support changes",
                ));
            };
            let new = LegalName::parse_field("name", raw)?;
            if *name != new {
                *name = new;
                changed.push("name");
            }
        }
        if let Some(raw) = &update.main_contact {
            let new = Email::parse_field("main_contact", raw)?;
            // Case-only edits are still a change of what is shown and sent.
            if new.as_str() != self.contacts.main().as_str() {
                next.contacts = next.contacts.with_main(new);
                changed.push("main_contact");
                if next.contacts.additional().len() != self.contacts.additional().len() {
                    changed.push("additional_emails");
                }
            }
        }
        if let Some(raw) = &update.language {
            let new = Language::parse(raw)?;
            if new != next.language {
                next.language = new;
                changed.push("language");
            }
        }
        Ok(CustomerChanged {
            customer: next,
            changed_fields: changed,
            reason: None,
        })
    }

    /// Applies a legal-field change by staff (ACC-1). The caller has already checked the staff
    /// identity and the reason with [`crate::policy::authorize_legal_field_change`]; this
    /// checks the change itself.
    ///
    /// # Errors
    /// [`Error::Validation`] on `company_name` (`NotABusiness` or its parse error), on
    /// `billing_country`, or with `LegalChangeEmpty` when neither field is given.
    pub fn apply_legal_change(&self, change: &LegalFieldChange) -> Result<CustomerChanged> {
        if change.company_name.is_none() && change.billing_country.is_none() {
            return Err(Error::validation(
                "company_name",
                ReasonCode::LegalChangeEmpty,
                "give a new company name or billing country",
            ));
        }
        let mut next = self.clone();
        let mut changed = Vec::new();
        if let Some(raw) = &change.company_name {
            let CustomerKind::Business { company_name, .. } = &mut next.kind else {
                return Err(Error::validation(
                    "company_name",
                    ReasonCode::NotABusiness,
                    "an individual customer has no company name",
                ));
            };
            let new = LegalName::parse_field("company_name", raw)?;
            if *company_name != new {
                *company_name = new;
                changed.push("company_name");
            }
        }
        if let Some(raw) = &change.billing_country {
            let new = Country::parse_field("billing_country", raw)?;
            if new != next.billing_country {
                next.billing_country = new;
                changed.push("billing_country");
            }
        }
        Ok(CustomerChanged {
            customer: next,
            changed_fields: changed,
            reason: Some(change.reason.clone()),
        })
    }
}

fn legal_immutable(field: &str, what: &str) -> Error {
    Error::immutable(
        field,
        ReasonCode::LegalFieldImmutable,
        format!("{what} {LEGAL_MESSAGE}"),
    )
}

fn optional_vat_id(raw: Option<&str>) -> Result<Option<VatId>> {
    match raw {
        Some(text) if !text.trim().is_empty() => VatId::parse(text).map(Some),
        _ => Ok(None),
    }
}

// ---------------------------------------------------------------------------------------------
// Monthly volume limits (ACC-5)
// ---------------------------------------------------------------------------------------------

/// A monthly volume limit: a number (MB of data or SMS count) or no limit.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Limit {
    /// At most this many units per month. Orders after every finite value.
    Capped(u64),
    /// No monthly limit.
    Unlimited,
}

impl Limit {
    /// Whether `used` units reach the limit (the moment "monthly limit reached" is sent).
    pub fn is_reached(self, used: u64) -> bool {
        match self {
            Limit::Capped(cap) => used >= cap,
            Limit::Unlimited => false,
        }
    }

    /// Units left this month; `None` when unlimited.
    pub fn remaining(self, used: u64) -> Option<u64> {
        match self {
            Limit::Capped(cap) => Some(cap.saturating_sub(used)),
            Limit::Unlimited => None,
        }
    }
}

/// The steps an organisation can choose its monthly limits from (configuration, ACC-5): each
/// list strictly increasing, finite steps greater than zero, `Unlimited` allowed only last.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "VolumeLimitStepsRepr")]
pub struct VolumeLimitSteps {
    data_mb: Vec<Limit>,
    sms: Vec<Limit>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VolumeLimitStepsRepr {
    data_mb: Vec<Limit>,
    sms: Vec<Limit>,
}

impl TryFrom<VolumeLimitStepsRepr> for VolumeLimitSteps {
    type Error = Error;
    fn try_from(repr: VolumeLimitStepsRepr) -> Result<Self> {
        VolumeLimitSteps::new(repr.data_mb, repr.sms)
    }
}

impl Default for VolumeLimitSteps {
    /// Data (MB): 1 000, 5 000, 10 000, 50 000, unlimited; SMS: 100, 500, 1 000, unlimited.
    fn default() -> Self {
        VolumeLimitSteps {
            data_mb: vec![
                Limit::Capped(1_000),
                Limit::Capped(5_000),
                Limit::Capped(10_000),
                Limit::Capped(50_000),
                Limit::Unlimited,
            ],
            sms: vec![
                Limit::Capped(100),
                Limit::Capped(500),
                Limit::Capped(1_000),
                Limit::Unlimited,
            ],
        }
    }
}

impl VolumeLimitSteps {
    /// Configured steps.
    ///
    /// # Errors
    /// [`Error::Validation`] on `data_mb` or `sms` with `VolumeStepsInvalid` when a list is
    /// empty, not strictly increasing, contains zero, or has `Unlimited` before the end.
    pub fn new(data_mb: Vec<Limit>, sms: Vec<Limit>) -> Result<Self> {
        check_steps("data_mb", &data_mb)?;
        check_steps("sms", &sms)?;
        Ok(VolumeLimitSteps { data_mb, sms })
    }

    /// The data steps (MB), smallest first.
    pub fn data_mb(&self) -> &[Limit] {
        &self.data_mb
    }

    /// The SMS steps, smallest first.
    pub fn sms(&self) -> &[Limit] {
        &self.sms
    }
}

fn check_steps(field: &str, steps: &[Limit]) -> Result<()> {
    let increasing = steps.windows(2).all(|w| matches!(w, [a, b] if a < b));
    if steps.is_empty() || !increasing || steps.contains(&Limit::Capped(0)) {
        return Err(Error::validation(
            field,
            ReasonCode::VolumeStepsInvalid,
            "steps must be non-empty, greater than zero and strictly increasing, with unlimited last",
        ));
    }
    Ok(())
}

/// An organisation's chosen monthly limits (ACC-5), applying to all its SIMs together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonthlyVolumeLimits {
    data_mb: Limit,
    sms: Limit,
}

impl MonthlyVolumeLimits {
    /// Limits chosen from `steps`.
    ///
    /// # Errors
    /// [`Error::Validation`] on `data_mb` or `sms` with `VolumeLimitNotAStep`.
    pub fn new(data_mb: Limit, sms: Limit, steps: &VolumeLimitSteps) -> Result<Self> {
        for (field, value, allowed) in [
            ("data_mb", data_mb, &steps.data_mb),
            ("sms", sms, &steps.sms),
        ] {
            if !allowed.contains(&value) {
                return Err(Error::validation(
                    field,
                    ReasonCode::VolumeLimitNotAStep,
                    format!("must be one of {}", describe_steps(allowed)),
                ));
            }
        }
        Ok(MonthlyVolumeLimits { data_mb, sms })
    }

    /// The limits of an organisation that has chosen nothing: the largest step of each list
    /// (unlimited with the default steps).
    pub fn initial(steps: &VolumeLimitSteps) -> Self {
        MonthlyVolumeLimits {
            data_mb: steps.data_mb.last().copied().unwrap_or(Limit::Unlimited),
            sms: steps.sms.last().copied().unwrap_or(Limit::Unlimited),
        }
    }

    /// The data limit in MB.
    pub fn data_mb(&self) -> Limit {
        self.data_mb
    }

    /// The SMS limit.
    pub fn sms(&self) -> Limit {
        self.sms
    }
}

fn describe_steps(steps: &[Limit]) -> String {
    steps
        .iter()
        .map(|s| match s {
            Limit::Capped(n) => n.to_string(),
            Limit::Unlimited => "unlimited".to_owned(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Tells the UTC offset of a time zone at an instant. Implemented by [`UtcOffset`] (a fixed
/// offset); a host with a time-zone database (named zones with daylight saving time) implements
/// it over that database so month boundaries follow the zone's rules.
pub trait ZoneOffsets {
    /// The zone's offset from UTC at `instant`.
    fn offset_at(&self, instant: OffsetDateTime) -> UtcOffset;
}

impl ZoneOffsets for UtcOffset {
    fn offset_at(&self, _instant: OffsetDateTime) -> UtcOffset {
        *self
    }
}

/// The calendar month containing `now` in a time zone with the fixed offset `tz`, as the
/// half-open interval `[start, end)`: 00:00 on the first of the month to 00:00 on the first of
/// the next month, both in `tz` (ACC-5: limits reset on the first of the month).
///
/// `core` carries no time-zone database, so the configured zone is given as an offset; for a
/// named zone with daylight saving time use [`month_period_in`] with the host's zone rules.
///
/// ```
/// use selfcare_core::customer::month_period;
/// use time::macros::{datetime, offset};
/// // 23:30 UTC on 31 March is already April in UTC+2.
/// let (start, end) = month_period(datetime!(2025-03-31 23:30 UTC), offset!(+2)).unwrap();
/// assert_eq!(start, datetime!(2025-04-01 00:00 +2));
/// assert_eq!(end, datetime!(2025-05-01 00:00 +2));
/// ```
///
/// # Errors
/// [`Error::Validation`] on `now` with `OutOfRange` at the edge of the supported calendar
/// (year 9999).
pub fn month_period(
    now: OffsetDateTime,
    tz: UtcOffset,
) -> Result<(OffsetDateTime, OffsetDateTime)> {
    month_period_in(now, &tz)
}

/// As [`month_period`], with the offsets of a zone whose offset changes (daylight saving
/// time). Each boundary is local midnight on the first, converted with the offset the zone has
/// at that instant.
///
/// # Errors
/// As [`month_period`].
pub fn month_period_in(
    now: OffsetDateTime,
    zone: &dyn ZoneOffsets,
) -> Result<(OffsetDateTime, OffsetDateTime)> {
    MonthPeriod::containing_in(now, zone)
        .and_then(|period| period.bounds_in(zone))
        .map_err(|e| e.within("now"))
}

/// A calendar month in the configured time zone: the period of the monthly limits (ACC-5).
/// Its text form is `YYYY-MM`.
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct MonthPeriod {
    year: i32,
    month: u8,
}

impl MonthPeriod {
    /// The month `month` (1..=12) of `year` (1..=9999).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `period` with `OutOfRange`.
    pub fn new(year: i32, month: u8) -> Result<Self> {
        if !(1..=12).contains(&month) || !(1..=9999).contains(&year) {
            return Err(Error::validation(
                "period",
                ReasonCode::OutOfRange,
                "is not a month of the years 1 to 9999",
            ));
        }
        Ok(MonthPeriod { year, month })
    }

    /// The month that contains `at` in the time zone whose offset at `at` is `offset`. Months
    /// begin on the first at midnight local time (ACC-5).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `period` with `OutOfRange` when `at` is outside the years
    /// 1 to 9999 in that offset.
    pub fn containing(at: OffsetDateTime, offset: UtcOffset) -> Result<Self> {
        let local = at.checked_to_offset(offset).ok_or_else(|| {
            Error::validation("period", ReasonCode::OutOfRange, "is out of range")
        })?;
        MonthPeriod::new(local.year(), u8::from(local.month()))
    }

    /// As [`MonthPeriod::containing`], in a zone whose offset changes (daylight saving time).
    ///
    /// # Errors
    /// As [`MonthPeriod::containing`].
    pub fn containing_in(at: OffsetDateTime, zone: &dyn ZoneOffsets) -> Result<Self> {
        Self::containing(at, zone.offset_at(at))
    }

    /// The month as the half-open interval `[start, end)`: local midnight on its first day to
    /// local midnight on the first of the next month, in `zone`.
    ///
    /// # Errors
    /// [`Error::Validation`] with `OutOfRange` for December 9999 (no next month).
    pub fn bounds_in(self, zone: &dyn ZoneOffsets) -> Result<(OffsetDateTime, OffsetDateTime)> {
        let out_of_range = || {
            Error::validation(
                "period",
                ReasonCode::OutOfRange,
                "is outside the supported calendar",
            )
        };
        let month = Month::try_from(self.month).map_err(|_| out_of_range())?;
        let first = Date::from_calendar_date(self.year, month, 1).map_err(|_| out_of_range())?;
        let (next_year, next_month) = match month {
            Month::December => (
                self.year.checked_add(1).ok_or_else(out_of_range)?,
                Month::January,
            ),
            m => (self.year, m.next()),
        };
        let next_first =
            Date::from_calendar_date(next_year, next_month, 1).map_err(|_| out_of_range())?;
        Ok((
            local_midnight(first, zone),
            local_midnight(next_first, zone),
        ))
    }

    /// Parses `YYYY-MM`.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `period` with `InvalidFormat` or `OutOfRange`.
    pub fn parse(raw: &str) -> Result<Self> {
        let bad = || Error::validation("period", ReasonCode::InvalidFormat, "is not YYYY-MM");
        let (y, m) = raw.trim().split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        MonthPeriod::new(year, month)
    }

    /// The year.
    pub const fn year(self) -> i32 {
        self.year
    }

    /// The month, 1..=12.
    pub const fn month(self) -> u8 {
        self.month
    }
}

impl fmt::Display for MonthPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl fmt::Debug for MonthPeriod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MonthPeriod({self})")
    }
}

impl TryFrom<String> for MonthPeriod {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        MonthPeriod::parse(&raw)
    }
}

impl From<MonthPeriod> for String {
    fn from(value: MonthPeriod) -> String {
        value.to_string()
    }
}

/// Local midnight of `date` in `zone`: take the offset valid around that instant, then re-check
/// it once at the resulting instant (a zone's offset can differ from the one at `now`).
fn local_midnight(date: Date, zone: &dyn ZoneOffsets) -> OffsetDateTime {
    let wall = PrimitiveDateTime::new(date, Time::MIDNIGHT);
    let guess_utc = wall.assume_utc();
    let first = wall.assume_offset(zone.offset_at(guess_utc));
    wall.assume_offset(zone.offset_at(first))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::{datetime, offset};

    fn now() -> OffsetDateTime {
        datetime!(2025-03-01 09:00 UTC)
    }

    fn business() -> Customer {
        Customer::create(
            OrgId::new(now(), [1; 10]),
            &NewCustomer {
                kind: NewCustomerKind::Business {
                    company_name: "Acme IoT GmbH".into(),
                    vat_id: Some("DE123456789".into()),
                },
                main_contact: "Billing@Acme.example".into(),
                billing_country: "DE".into(),
                language: Some("de-AT".into()),
            },
            now(),
        )
        .unwrap()
    }

    #[test]
    fn acc_1_a_customer_kind_with_an_unknown_field_is_rejected() {
        let ok = r#"{"type":"individual","name":"Ada Lovelace"}"#;
        assert!(serde_json::from_str::<CustomerKind>(ok).is_ok());
        assert!(serde_json::from_str::<NewCustomerKind>(ok).is_ok());
        let extra = r#"{"type":"individual","name":"Ada Lovelace","vat_id":null}"#;
        assert!(serde_json::from_str::<CustomerKind>(extra).is_err());
        assert!(serde_json::from_str::<NewCustomerKind>(extra).is_err());
    }

    #[test]
    fn acc_1_company_name_fits_every_billing_address() {
        let named = |name: String| {
            Customer::create(
                OrgId::new(now(), [3; 10]),
                &NewCustomer {
                    kind: NewCustomerKind::Business {
                        company_name: name,
                        vat_id: None,
                    },
                    main_contact: "a@example.com".into(),
                    billing_country: "DE".into(),
                    language: None,
                },
                now(),
            )
        };
        let longest = "ש".repeat(crate::address::COMPANY_MAX);
        let customer = named(longest.clone()).unwrap();
        let company = customer.company_name().map(LegalName::as_str);
        assert_eq!(company, Some(longest.as_str()));
        // The same name must pass the billing-address check of ADDR-4.
        let address = crate::address::PostalAddress::parse(&crate::address::AddressInput {
            name: "Accounts".into(),
            company: Some(longest.clone()),
            street: "Main".into(),
            postal_code: "10115".into(),
            city: "Berlin".into(),
            country: "DE".into(),
            ..Default::default()
        })
        .unwrap();
        assert!(
            crate::address::check_billing_address(&address, company, customer.billing_country())
                .is_ok()
        );
        let err = named("ש".repeat(crate::address::COMPANY_MAX + 1)).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::TooLong);
        assert_eq!(err.field(), Some("company_name"));
    }

    fn individual() -> Customer {
        Customer::create(
            OrgId::new(now(), [2; 10]),
            &NewCustomer {
                kind: NewCustomerKind::Individual {
                    name: "Dana Levi".into(),
                },
                main_contact: "dana@example.co.il".into(),
                billing_country: "IL".into(),
                language: Some("he".into()),
            },
            now(),
        )
        .unwrap()
    }

    fn email(raw: &str) -> Email {
        Email::parse(raw).unwrap()
    }

    #[test]
    fn acc_1_create_validates_every_field() {
        let c = business();
        assert_eq!(c.company_name().unwrap().as_str(), "Acme IoT GmbH");
        assert_eq!(c.vat_id().unwrap().as_str(), "DE123456789");
        assert_eq!(c.language(), Language::German);
        assert_eq!(c.billing_country().alpha2(), "DE");
        let mut bad = NewCustomer {
            kind: NewCustomerKind::Business {
                company_name: "  ".into(),
                vat_id: None,
            },
            main_contact: "a@example.com".into(),
            billing_country: "DE".into(),
            language: None,
        };
        let err = Customer::create(c.id(), &bad, now()).unwrap_err();
        assert_eq!(err.field(), Some("company_name"));
        bad.kind = NewCustomerKind::Business {
            company_name: "X".into(),
            vat_id: Some("123".into()),
        };
        assert_eq!(
            Customer::create(c.id(), &bad, now()).unwrap_err().reason(),
            ReasonCode::VatIdInvalid
        );
        bad.kind = NewCustomerKind::Individual { name: "Y".into() };
        bad.billing_country = "XX".into();
        assert_eq!(
            Customer::create(c.id(), &bad, now()).unwrap_err().field(),
            Some("billing_country")
        );
        bad.billing_country = "IL".into();
        bad.main_contact = "nope".into();
        assert_eq!(
            Customer::create(c.id(), &bad, now()).unwrap_err().field(),
            Some("main_contact")
        );
        bad.main_contact = "a@example.com".into();
        bad.language = Some("fr".into());
        assert_eq!(
            Customer::create(c.id(), &bad, now()).unwrap_err().field(),
            Some("language")
        );
        bad.language = None;
        assert_eq!(
            Customer::create(c.id(), &bad, now()).unwrap().language(),
            Language::English
        );
    }

    #[test]
    fn acc_1_self_service_cannot_change_company_name_or_billing_country() {
        let c = business();
        let err = c
            .apply_update(&CustomerUpdate {
                company_name: Some("Other GmbH".into()),
                ..Default::default()
            })
            .unwrap_err();
        match &err {
            Error::ImmutableField {
                field,
                reason,
                message,
            } => {
                assert_eq!(field, "company_name");
                assert_eq!(*reason, ReasonCode::LegalFieldImmutable);
                assert!(message.contains("legal reasons"), "{message}");
                assert!(message.contains("contact support"), "{message}");
            }
            other => panic!("expected ImmutableField, got {other:?}"),
        }
        let err = c
            .apply_update(&CustomerUpdate {
                billing_country: Some("AT".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(&err, Error::ImmutableField { field, .. } if field == "billing_country"));
        // An invalid country is still an attempt to change a legal field.
        let err = c
            .apply_update(&CustomerUpdate {
                billing_country: Some("ZZ".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(err, Error::ImmutableField { .. }));
        // An individual has no company name to set either.
        let err = individual()
            .apply_update(&CustomerUpdate {
                company_name: Some("Levi Ltd".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(err, Error::ImmutableField { .. }));
    }

    #[test]
    fn acc_1_resubmitting_unchanged_legal_fields_is_accepted() {
        let c = business();
        let out = c
            .apply_update(&CustomerUpdate {
                company_name: Some(" Acme IoT GmbH ".into()),
                billing_country: Some("de".into()),
                language: Some("en".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.changed_fields, vec!["language"]);
        assert_eq!(out.customer.company_name(), c.company_name());
    }

    #[test]
    fn acc_1_self_service_changes_other_fields() {
        let c = business();
        let out = c
            .apply_update(&CustomerUpdate {
                vat_id: Some(None),
                main_contact: Some("accounts@acme.example".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.changed_fields, vec!["vat_id", "main_contact"]);
        assert_eq!(out.customer.vat_id(), None);
        assert_eq!(out.customer.main_contact(), &email("accounts@acme.example"));
        let err = c
            .apply_update(&CustomerUpdate {
                name: Some("Jane".into()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.reason(), ReasonCode::NotAnIndividual);
        let i = individual();
        let out = i
            .apply_update(&CustomerUpdate {
                name: Some("Dana Cohen".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(out.changed_fields, vec!["name"]);
        let err = i
            .apply_update(&CustomerUpdate {
                vat_id: Some(Some("IL123".into())),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.reason(), ReasonCode::NotABusiness);
    }

    #[test]
    fn acc_1_staff_legal_change_requires_a_reason() {
        use crate::policy::LEGAL_CHANGE_REASON_MAX_CHARS;
        let c = business();
        // The reason is a `LegalChangeReason`: a blank or too long one cannot be built, not
        // even from the wire.
        let err = LegalChangeReason::parse("   ").unwrap_err();
        assert_eq!(
            (err.field(), err.reason()),
            (Some("reason"), ReasonCode::Required)
        );
        assert_eq!(
            LegalChangeReason::parse(&"x".repeat(LEGAL_CHANGE_REASON_MAX_CHARS + 1))
                .unwrap_err()
                .reason(),
            ReasonCode::TooLong
        );
        let blank = r#"{"company_name":"Acme AG","billing_country":null,"reason":"  "}"#;
        assert!(serde_json::from_str::<LegalFieldChange>(blank).is_err());
        let change = LegalFieldChange {
            company_name: Some("Acme Connectivity AG".into()),
            billing_country: Some("AT".into()),
            reason: LegalChangeReason::parse("Commercial register extract HRB 1234 of 2025-02-20")
                .unwrap(),
        };
        let out = c.apply_legal_change(&change).unwrap();
        assert_eq!(out.changed_fields, vec!["company_name", "billing_country"]);
        assert_eq!(
            out.customer.company_name().unwrap().as_str(),
            "Acme Connectivity AG"
        );
        assert_eq!(out.customer.billing_country().alpha2(), "AT");
        assert_eq!(out.reason.as_ref(), Some(&change.reason));

        let empty = LegalFieldChange {
            company_name: None,
            billing_country: None,
            reason: LegalChangeReason::parse("why").unwrap(),
        };
        assert_eq!(
            c.apply_legal_change(&empty).unwrap_err().reason(),
            ReasonCode::LegalChangeEmpty
        );
        let for_individual = LegalFieldChange {
            company_name: Some("Levi Ltd".into()),
            billing_country: None,
            reason: LegalChangeReason::parse("why").unwrap(),
        };
        assert_eq!(
            individual()
                .apply_legal_change(&for_individual)
                .unwrap_err()
                .reason(),
            ReasonCode::NotABusiness
        );
    }

    #[test]
    fn acc_1_vat_id_is_a_shape_check() {
        for ok in [
            "DE123456789",
            "el 094259216",
            "ATU12345678",
            "NL8000.00.000.B01",
            "XI123456789",
        ] {
            assert!(VatId::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "D1234",
            "123456789",
            "DE1",
            "DE1234567890123",
            "DE12345_789",
            "ÄE123456",
        ] {
            assert!(VatId::parse(bad).is_err(), "{bad}");
        }
        assert!(VatId::parse("EL094259216").unwrap().is_eu());
        assert!(!VatId::parse("GB123456789").unwrap().is_eu());
        let json = serde_json::to_string(&VatId::parse("de123456789").unwrap()).unwrap();
        assert_eq!(json, "\"DE123456789\"");
        assert!(serde_json::from_str::<VatId>("\"12\"").is_err());
    }

    #[test]
    fn acc_2_main_contact_receives_every_category() {
        let c = business();
        for category in EmailCategory::ALL {
            assert_eq!(c.recipients(category), vec![email("billing@acme.example")]);
        }
    }

    #[test]
    fn acc_3_recipients_by_category_main_first_no_duplicates() {
        let c = business();
        let out = c
            .set_additional_emails(vec![
                AdditionalEmail::parse("accounting@acme.example", [EmailCategory::Invoice])
                    .unwrap(),
                AdditionalEmail::parse(
                    "noc@acme.example",
                    [EmailCategory::VolumeNotifications, EmailCategory::Service],
                )
                .unwrap(),
                AdditionalEmail::parse("ops@acme.example", [EmailCategory::Service]).unwrap(),
            ])
            .unwrap();
        assert_eq!(out.changed_fields, vec!["additional_emails"]);
        let c = out.customer;
        assert_eq!(
            c.recipients(EmailCategory::Invoice),
            vec![
                email("billing@acme.example"),
                email("accounting@acme.example")
            ]
        );
        assert_eq!(
            c.recipients(EmailCategory::Service),
            vec![
                email("billing@acme.example"),
                email("noc@acme.example"),
                email("ops@acme.example")
            ]
        );
        assert_eq!(
            c.recipients(EmailCategory::Orders),
            vec![email("billing@acme.example")]
        );
    }

    #[test]
    fn acc_3_rejects_duplicates_main_and_more_than_ten() {
        let main = email("main@example.com");
        let dup = ContactEmails::new(
            main.clone(),
            vec![
                AdditionalEmail::parse("a@example.com", [EmailCategory::Invoice]).unwrap(),
                AdditionalEmail::parse("A@Example.com", [EmailCategory::Orders]).unwrap(),
            ],
        )
        .unwrap_err();
        assert_eq!(dup.reason(), ReasonCode::ContactEmailDuplicate);
        assert_eq!(dup.field(), Some("additional_emails[1].email"));
        let is_main = ContactEmails::new(
            main.clone(),
            vec![AdditionalEmail::parse("MAIN@example.com", [EmailCategory::Invoice]).unwrap()],
        )
        .unwrap_err();
        assert_eq!(is_main.reason(), ReasonCode::ContactEmailIsMain);
        let eleven = (0..11)
            .map(|i| {
                AdditionalEmail::parse(&format!("u{i}@example.com"), [EmailCategory::Orders])
                    .unwrap()
            })
            .collect::<Vec<_>>();
        assert_eq!(
            ContactEmails::new(main.clone(), eleven.clone())
                .unwrap_err()
                .reason(),
            ReasonCode::TooManyContactEmails
        );
        assert!(ContactEmails::new(main, eleven[..10].to_vec()).is_ok());
        assert_eq!(
            AdditionalEmail::parse("x@example.com", [])
                .unwrap_err()
                .reason(),
            ReasonCode::EmailCategoryRequired
        );
    }

    #[test]
    fn acc_3_new_main_contact_merges_an_equal_additional_entry() {
        let c = business()
            .set_additional_emails(vec![
                AdditionalEmail::parse("accounting@acme.example", [EmailCategory::Invoice])
                    .unwrap(),
            ])
            .unwrap()
            .customer;
        let out = c
            .apply_update(&CustomerUpdate {
                main_contact: Some("Accounting@acme.example".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            out.changed_fields,
            vec!["main_contact", "additional_emails"]
        );
        assert!(out.customer.contact_emails().additional().is_empty());
        assert_eq!(
            out.customer.recipients(EmailCategory::Orders),
            vec![email("accounting@acme.example")]
        );
    }

    #[test]
    fn acc_3_deserialising_contact_emails_revalidates() {
        let json = r#"{"main":"a@example.com","additional":[{"email":"A@example.com","categories":["invoice"]}]}"#;
        assert!(serde_json::from_str::<ContactEmails>(json).is_err());
        let json =
            r#"{"main":"a@example.com","additional":[{"email":"b@example.com","categories":[]}]}"#;
        assert!(serde_json::from_str::<ContactEmails>(json).is_err());
        let json = r#"{"main":"a@example.com","additional":[{"email":"b@example.com","categories":["orders","invoice"]}]}"#;
        let parsed: ContactEmails = serde_json::from_str(json).unwrap();
        assert_eq!(parsed.recipients(EmailCategory::Orders).len(), 2);
    }

    fn category() -> impl Strategy<Value = EmailCategory> {
        prop::sample::select(EmailCategory::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn acc_3_recipients_never_duplicate_and_include_main(
            main_local in "[a-cA-C]{1,2}",
            entries in prop::collection::vec(("[a-cA-C]{1,2}", prop::collection::btree_set(category(), 1..4)), 0..14),
            wanted in category(),
        ) {
            let main = email(&format!("{main_local}@example.com"));
            // Build the list the way a lenient host would: skip what the rules reject.
            let mut list: Vec<AdditionalEmail> = Vec::new();
            for (local, cats) in entries {
                let candidate = AdditionalEmail::new(email(&format!("{local}@Example.com")), cats).unwrap();
                let mut trial = list.clone();
                trial.push(candidate);
                if ContactEmails::new(main.clone(), trial.clone()).is_ok() {
                    list = trial;
                }
            }
            let contacts = ContactEmails::new(main.clone(), list.clone()).unwrap();
            let got = contacts.recipients(wanted);
            prop_assert_eq!(got.first(), Some(&main));
            let keys: HashSet<&str> = got.iter().map(Email::key).collect();
            prop_assert_eq!(keys.len(), got.len());
            let expected = 1 + list.iter().filter(|a| a.receives(wanted)).count();
            prop_assert_eq!(got.len(), expected);
            // Changing the main contact to any listed address keeps the invariants.
            if let Some(first) = list.first() {
                let moved = contacts.with_main(first.email().clone());
                let got = moved.recipients(wanted);
                let keys: HashSet<&str> = got.iter().map(Email::key).collect();
                prop_assert_eq!(keys.len(), got.len());
                prop_assert_eq!(got.first(), Some(first.email()));
            }
        }
    }

    #[test]
    fn acc_5_limits_must_be_configured_steps() {
        let steps = VolumeLimitSteps::default();
        let ok = MonthlyVolumeLimits::new(Limit::Capped(5_000), Limit::Unlimited, &steps).unwrap();
        assert_eq!(ok.data_mb(), Limit::Capped(5_000));
        let err =
            MonthlyVolumeLimits::new(Limit::Capped(2_000), Limit::Capped(100), &steps).unwrap_err();
        assert_eq!(
            (err.field(), err.reason()),
            (Some("data_mb"), ReasonCode::VolumeLimitNotAStep)
        );
        let err = MonthlyVolumeLimits::new(Limit::Capped(1_000), Limit::Capped(50_000), &steps)
            .unwrap_err();
        assert_eq!(err.field(), Some("sms"));
        assert_eq!(
            MonthlyVolumeLimits::initial(&steps),
            MonthlyVolumeLimits::new(Limit::Unlimited, Limit::Unlimited, &steps).unwrap()
        );
        // Exhaustive over the default data steps and a few non-steps.
        for v in [0, 1, 999, 1_000, 5_000, 10_000, 50_000, 50_001] {
            let is_step = [1_000, 5_000, 10_000, 50_000].contains(&v);
            assert_eq!(
                MonthlyVolumeLimits::new(Limit::Capped(v), Limit::Capped(100), &steps).is_ok(),
                is_step,
                "{v}"
            );
        }
    }

    #[test]
    fn acc_5_configured_steps_are_validated() {
        assert!(
            VolumeLimitSteps::new(
                vec![Limit::Capped(10), Limit::Capped(20)],
                vec![Limit::Unlimited]
            )
            .is_ok()
        );
        for bad in [
            vec![],
            vec![Limit::Capped(0), Limit::Capped(5)],
            vec![Limit::Capped(5), Limit::Capped(5)],
            vec![Limit::Unlimited, Limit::Capped(5)],
            vec![Limit::Capped(9), Limit::Capped(5)],
        ] {
            assert_eq!(
                VolumeLimitSteps::new(bad, vec![Limit::Unlimited])
                    .unwrap_err()
                    .reason(),
                ReasonCode::VolumeStepsInvalid
            );
        }
        let custom =
            VolumeLimitSteps::new(vec![Limit::Capped(200)], vec![Limit::Capped(50)]).unwrap();
        let initial = MonthlyVolumeLimits::initial(&custom);
        assert_eq!(
            (initial.data_mb(), initial.sms()),
            (Limit::Capped(200), Limit::Capped(50))
        );
        assert!(Limit::Capped(100).is_reached(100));
        assert!(!Limit::Capped(100).is_reached(99));
        assert!(!Limit::Unlimited.is_reached(u64::MAX));
        assert_eq!(Limit::Capped(100).remaining(130), Some(0));
    }

    #[test]
    fn acc_5_month_period_resets_on_the_first_in_the_configured_zone() {
        let (s, e) = month_period(datetime!(2025-02-14 12:00 UTC), UtcOffset::UTC).unwrap();
        assert_eq!(
            (s, e),
            (
                datetime!(2025-02-01 00:00 UTC),
                datetime!(2025-03-01 00:00 UTC)
            )
        );
        // Still January in New York (UTC-5) at 02:00 UTC on 1 February.
        let (s, e) = month_period(datetime!(2025-02-01 02:00 UTC), offset!(-5)).unwrap();
        assert_eq!(s, datetime!(2025-01-01 00:00 -5));
        assert_eq!(e, datetime!(2025-02-01 05:00 UTC));
        // December rolls into the next year; the end is exclusive.
        let (s, e) = month_period(datetime!(2025-12-31 23:59:59 UTC), UtcOffset::UTC).unwrap();
        assert_eq!(
            (s, e),
            (
                datetime!(2025-12-01 00:00 UTC),
                datetime!(2026-01-01 00:00 UTC)
            )
        );
        let (s2, _) = month_period(e, UtcOffset::UTC).unwrap();
        assert_eq!(s2, e);
        // The end of the calendar is an error, not a panic.
        assert!(month_period(datetime!(9999-12-15 00:00 UTC), UtcOffset::UTC).is_err());
    }

    /// Central European time: +1 in winter, +2 from the last Sunday of March 01:00 UTC.
    struct Berlin2025;
    impl ZoneOffsets for Berlin2025 {
        fn offset_at(&self, instant: OffsetDateTime) -> UtcOffset {
            if instant >= datetime!(2025-03-30 01:00 UTC)
                && instant < datetime!(2025-10-26 01:00 UTC)
            {
                offset!(+2)
            } else {
                offset!(+1)
            }
        }
    }

    #[test]
    fn acc_5_month_period_follows_daylight_saving_time() {
        let (s, e) = month_period_in(datetime!(2025-03-31 12:00 UTC), &Berlin2025).unwrap();
        assert_eq!(s, datetime!(2025-03-01 00:00 +1));
        assert_eq!(e, datetime!(2025-04-01 00:00 +2));
        let (s, e) = month_period_in(datetime!(2025-10-31 22:59 UTC), &Berlin2025).unwrap();
        assert_eq!(s, datetime!(2025-10-01 00:00 +2));
        assert_eq!(e, datetime!(2025-11-01 00:00 +1));
    }

    proptest! {
        #[test]
        fn acc_5_month_period_contains_now_and_starts_on_the_first(
            secs in 0i64..4_000_000_000,
            offset_minutes in -720i32..=840,
        ) {
            let now = OffsetDateTime::from_unix_timestamp(secs).unwrap();
            let tz = UtcOffset::from_whole_seconds(offset_minutes * 60).unwrap();
            let (s, e) = month_period(now, tz).unwrap();
            prop_assert!(s <= now && now < e);
            let local = s.to_offset(tz);
            prop_assert_eq!(local.day(), 1);
            prop_assert_eq!(local.time(), Time::MIDNIGHT);
            prop_assert_eq!(e.to_offset(tz).day(), 1);
        }
    }
}
