//! Billing and shipping addresses (ADDR-1..4): a validated [`PostalAddress`], the pure
//! [`AddressBook`] of an organisation, the [`AddressSnapshot`] that orders and top-ups keep, and
//! the legal-fields rule for billing addresses.
//!
//! Required fields are name, street, postal code, city and country; company, house number,
//! line 2, region and phone are optional (a blank optional field is absent). Text is
//! NFC-normalised and trimmed, lengths count characters (Unicode scalar values), and control
//! characters are refused. Every error names its field (`postal_code`, `country`, …).
//!
//! ```
//! use selfcare_core::address::{AddressBook, AddressInput, AddressKind, AddressUsage,
//!     LegalIdentity, PostalAddress};
//! use selfcare_core::contact::Country;
//! use selfcare_core::ids::AddressId;
//!
//! let de = Country::parse("DE").unwrap();
//! let legal = LegalIdentity { company_name: Some("Acme GmbH"), billing_country: de };
//! let input = legal.prefill(AddressInput {
//!     name: "Ada Lovelace".into(),
//!     street: "Invalidenstraße".into(),
//!     house_number: Some("116".into()),
//!     postal_code: "10115".into(),
//!     city: "Berlin".into(),
//!     ..AddressInput::default()
//! });
//! let address = PostalAddress::parse(&input).unwrap();
//! let id = AddressId::new(time::macros::datetime!(2025-01-01 0:00 UTC), [7; 10]);
//! let book = AddressBook::new()
//!     .add(id, address, AddressUsage::BOTH, AddressUsage::NONE, legal)
//!     .unwrap();
//! // The first address of a kind becomes its default.
//! assert_eq!(book.default_for(AddressKind::Billing).map(|e| e.id), Some(id));
//! ```

use std::fmt;

use unicode_normalization::UnicodeNormalization;

use crate::contact::Country;
use crate::error::{Error, ReasonCode, Result, text_field};
use crate::ids::AddressId;
use crate::numbers::Msisdn;

/// Longest name, in characters (ADDR-1).
pub const NAME_MAX: usize = 100;
/// Longest company name, in characters (ADDR-1).
pub const COMPANY_MAX: usize = 100;
/// Longest street, in characters (ADDR-1).
pub const STREET_MAX: usize = 100;
/// Longest house number, in characters (ADDR-1).
pub const HOUSE_NUMBER_MAX: usize = 20;
/// Longest second address line, in characters (ADDR-1).
pub const LINE2_MAX: usize = 100;
/// Longest postal code, in characters (ADDR-1).
pub const POSTAL_CODE_MAX: usize = 20;
/// Longest city, in characters (ADDR-1).
pub const CITY_MAX: usize = 100;
/// Longest region (state, province, county), in characters (ADDR-1).
pub const REGION_MAX: usize = 100;
/// Most entries one address book holds. The rules name no limit; this one keeps a single
/// organisation from growing its book without bound while leaving room for IoT customers that
/// ship to many sites.
pub const MAX_ENTRIES: usize = 500;

/// An address as a form submits it: plain strings, not yet validated. Missing JSON fields
/// deserialise as blank, so they are reported by [`PostalAddress::parse`] with the field name
/// rather than by serde.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AddressInput {
    /// Recipient's name (required).
    pub name: String,
    /// Company name (optional; on a billing address it must be the organisation's, ADDR-4).
    pub company: Option<String>,
    /// Street (required).
    pub street: String,
    /// House number (optional: many addresses have none, or carry it in the street).
    pub house_number: Option<String>,
    /// Second address line: floor, c/o, PO box (optional).
    pub line2: Option<String>,
    /// Postal code (required).
    pub postal_code: String,
    /// City (required).
    pub city: String,
    /// Region, state or province (optional).
    pub region: Option<String>,
    /// ISO 3166-1 alpha-2 country code (required; on a billing address the organisation's).
    pub country: String,
    /// Phone number in international form (optional).
    pub phone: Option<String>,
}

/// A validated postal address (ADDR-1). Fields are trimmed and NFC-normalised; the postal code
/// is upper-cased; the phone is stored in E.164.
///
/// `Debug` shows only the country and postal code: addresses are personal data and `Debug`
/// output ends up in logs.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "AddressInput", into = "AddressInput")]
pub struct PostalAddress {
    name: String,
    company: Option<String>,
    street: String,
    house_number: Option<String>,
    line2: Option<String>,
    postal_code: String,
    city: String,
    region: Option<String>,
    country: Country,
    phone: Option<Msisdn>,
}

impl PostalAddress {
    /// Validates `input` field by field, in form order, and returns the first problem.
    ///
    /// # Errors
    /// [`Error::Validation`] naming the field: `Required`, `TooLong` or `ControlCharacters` for
    /// any text; `InvalidFormat` for a postal code with characters other than ASCII letters,
    /// digits, spaces and hyphens; `CountryUnknown` for `country`; the phone reasons of
    /// [`Msisdn::parse`] for `phone`. [`PostalAddress::problems`] lists all of them at once.
    pub fn parse(input: &AddressInput) -> Result<Self> {
        Ok(PostalAddress {
            name: required_text("name", &input.name, NAME_MAX)?,
            company: optional_text("company", input.company.as_deref(), COMPANY_MAX)?,
            street: required_text("street", &input.street, STREET_MAX)?,
            house_number: optional_text(
                "house_number",
                input.house_number.as_deref(),
                HOUSE_NUMBER_MAX,
            )?,
            line2: optional_text("line2", input.line2.as_deref(), LINE2_MAX)?,
            postal_code: postal_code(&input.postal_code)?,
            city: required_text("city", &input.city, CITY_MAX)?,
            region: optional_text("region", input.region.as_deref(), REGION_MAX)?,
            country: country(&input.country)?,
            phone: phone(input.phone.as_deref())?,
        })
    }

    /// Every problem of `input`, one per field, in form order; empty when
    /// [`PostalAddress::parse`] succeeds. For forms that show all errors at once.
    pub fn problems(input: &AddressInput) -> Vec<Error> {
        let checks: [Result<()>; 10] = [
            required_text("name", &input.name, NAME_MAX).map(drop),
            optional_text("company", input.company.as_deref(), COMPANY_MAX).map(drop),
            required_text("street", &input.street, STREET_MAX).map(drop),
            optional_text(
                "house_number",
                input.house_number.as_deref(),
                HOUSE_NUMBER_MAX,
            )
            .map(drop),
            optional_text("line2", input.line2.as_deref(), LINE2_MAX).map(drop),
            postal_code(&input.postal_code).map(drop),
            required_text("city", &input.city, CITY_MAX).map(drop),
            optional_text("region", input.region.as_deref(), REGION_MAX).map(drop),
            country(&input.country).map(drop),
            phone(input.phone.as_deref()).map(drop),
        ];
        checks.into_iter().filter_map(Result::err).collect()
    }

    /// The plain form of this address, e.g. to fill an edit form. Parsing it gives this
    /// address back.
    pub fn to_input(&self) -> AddressInput {
        AddressInput {
            name: self.name.clone(),
            company: self.company.clone(),
            street: self.street.clone(),
            house_number: self.house_number.clone(),
            line2: self.line2.clone(),
            postal_code: self.postal_code.clone(),
            city: self.city.clone(),
            region: self.region.clone(),
            country: self.country.alpha2().to_owned(),
            phone: self.phone.as_ref().map(|p| p.e164().to_owned()),
        }
    }

    /// An immutable copy for an order or top-up (ADDR-3): later edits or deletion of the
    /// address-book entry never reach it.
    pub fn snapshot(&self) -> AddressSnapshot {
        AddressSnapshot {
            name: self.name.clone(),
            company: self.company.clone(),
            street: self.street.clone(),
            house_number: self.house_number.clone(),
            line2: self.line2.clone(),
            postal_code: self.postal_code.clone(),
            city: self.city.clone(),
            region: self.region.clone(),
            country: self.country,
            phone: self.phone.as_ref().map(|p| p.e164().to_owned()),
        }
    }

    /// The address as printed lines (see [`AddressSnapshot::lines`]).
    pub fn lines(&self) -> Vec<String> {
        self.snapshot().lines()
    }

    /// Recipient's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Company name, if any.
    pub fn company(&self) -> Option<&str> {
        self.company.as_deref()
    }
    /// Street.
    pub fn street(&self) -> &str {
        &self.street
    }
    /// House number, if any.
    pub fn house_number(&self) -> Option<&str> {
        self.house_number.as_deref()
    }
    /// Second address line, if any.
    pub fn line2(&self) -> Option<&str> {
        self.line2.as_deref()
    }
    /// Postal code, upper case.
    pub fn postal_code(&self) -> &str {
        &self.postal_code
    }
    /// City.
    pub fn city(&self) -> &str {
        &self.city
    }
    /// Region, if any.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
    /// Country.
    pub fn country(&self) -> Country {
        self.country
    }
    /// Phone number, if any.
    pub fn phone(&self) -> Option<&Msisdn> {
        self.phone.as_ref()
    }

    /// The same address with the organisation's company name and billing country (ADDR-4):
    /// used when provider staff change those legal fields (ACC-1).
    fn with_legal_fields(&self, company: Option<String>, country: Country) -> Self {
        PostalAddress {
            company,
            country,
            ..self.clone()
        }
    }
}

impl fmt::Debug for PostalAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostalAddress")
            .field("country", &self.country)
            .field("postal_code", &self.postal_code)
            .finish_non_exhaustive()
    }
}

impl TryFrom<AddressInput> for PostalAddress {
    type Error = Error;
    fn try_from(input: AddressInput) -> Result<Self> {
        Self::parse(&input)
    }
}

impl From<PostalAddress> for AddressInput {
    fn from(address: PostalAddress) -> AddressInput {
        address.to_input()
    }
}

/// NFC before counting: a few characters (Hebrew presentation forms among them) grow under
/// NFC, so counting first could store a value longer than the limit.
fn normalised(field: &str, raw: &str, max: usize, required: bool) -> Result<String> {
    let nfc: String = raw.nfc().collect();
    text_field(field, &nfc, max, required, false)
}

fn required_text(field: &str, raw: &str, max: usize) -> Result<String> {
    normalised(field, raw, max, true)
}

fn optional_text(field: &str, raw: Option<&str>, max: usize) -> Result<Option<String>> {
    let value = normalised(field, raw.unwrap_or_default(), max, false)?;
    Ok(Some(value).filter(|v| !v.is_empty()))
}

fn postal_code(raw: &str) -> Result<String> {
    let value = required_text("postal_code", raw, POSTAL_CODE_MAX)?;
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == ' ' || c == '-';
    if !value.chars().all(allowed) || !value.chars().any(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::validation(
            "postal_code",
            ReasonCode::InvalidFormat,
            "may contain only letters A-Z, digits, spaces and hyphens",
        ));
    }
    // Postal codes are case-insensitive; one spelling makes guest order lookup (ORD-4) and
    // label printing predictable.
    Ok(value.to_ascii_uppercase())
}

fn country(raw: &str) -> Result<Country> {
    if raw.trim().is_empty() {
        return Err(Error::validation(
            "country",
            ReasonCode::Required,
            "is required",
        ));
    }
    Country::parse_field("country", raw)
}

fn phone(raw: Option<&str>) -> Result<Option<Msisdn>> {
    match raw {
        Some(raw) if !raw.trim().is_empty() => Msisdn::parse_field("phone", raw).map(Some),
        _ => Ok(None),
    }
}

/// An immutable copy of an address, kept by an order or top-up (ADDR-3). It has no setters and
/// no link back to the address book, so editing or deleting the entry never changes it.
///
/// A snapshot is a historical record: it deserialises as stored without running today's
/// validation again, and it keeps the phone as E.164 text because phone-number metadata
/// changes over the years and must not make an old order unreadable.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressSnapshot {
    name: String,
    company: Option<String>,
    street: String,
    house_number: Option<String>,
    line2: Option<String>,
    postal_code: String,
    city: String,
    region: Option<String>,
    country: Country,
    phone: Option<String>,
}

impl AddressSnapshot {
    /// Recipient's name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Company name, if any.
    pub fn company(&self) -> Option<&str> {
        self.company.as_deref()
    }
    /// Street.
    pub fn street(&self) -> &str {
        &self.street
    }
    /// House number, if any.
    pub fn house_number(&self) -> Option<&str> {
        self.house_number.as_deref()
    }
    /// Second address line, if any.
    pub fn line2(&self) -> Option<&str> {
        self.line2.as_deref()
    }
    /// Postal code.
    pub fn postal_code(&self) -> &str {
        &self.postal_code
    }
    /// City.
    pub fn city(&self) -> &str {
        &self.city
    }
    /// Region, if any.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }
    /// Country.
    pub fn country(&self) -> Country {
        self.country
    }
    /// Phone number in E.164, if any.
    pub fn phone_e164(&self) -> Option<&str> {
        self.phone.as_deref()
    }

    /// The address as lines for an invoice or a shipping label, in a generic international
    /// layout: name, company, street and house number, line 2, postal code and city, region,
    /// country name. The phone is not part of it. Hosts that need a country's own layout use
    /// the fields.
    pub fn lines(&self) -> Vec<String> {
        let street = match &self.house_number {
            Some(number) => format!("{} {number}", self.street),
            None => self.street.clone(),
        };
        [
            Some(self.name.clone()),
            self.company.clone(),
            Some(street),
            self.line2.clone(),
            Some(format!("{} {}", self.postal_code, self.city)),
            self.region.clone(),
            Some(self.country.name().to_owned()),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

impl fmt::Debug for AddressSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AddressSnapshot")
            .field("country", &self.country)
            .field("postal_code", &self.postal_code)
            .finish_non_exhaustive()
    }
}

/// What an address is used for (ADDR-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressKind {
    /// Invoices are addressed to it; it carries the organisation's legal fields (ADDR-4).
    Billing,
    /// SIM cards and other goods are sent to it.
    Shipping,
}

impl AddressKind {
    /// Both kinds.
    pub const ALL: [AddressKind; 2] = [AddressKind::Billing, AddressKind::Shipping];

    /// The stable snake_case form.
    pub const fn as_str(self) -> &'static str {
        match self {
            AddressKind::Billing => "billing",
            AddressKind::Shipping => "shipping",
        }
    }
}

impl fmt::Display for AddressKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of [`AddressKind`]s: what an entry is used for, or what it is to become the default
/// of.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(deny_unknown_fields)]
pub struct AddressUsage {
    /// For billing.
    pub billing: bool,
    /// For shipping.
    pub shipping: bool,
}

impl AddressUsage {
    /// Neither kind.
    pub const NONE: AddressUsage = AddressUsage {
        billing: false,
        shipping: false,
    };
    /// Billing only.
    pub const BILLING: AddressUsage = AddressUsage {
        billing: true,
        shipping: false,
    };
    /// Shipping only.
    pub const SHIPPING: AddressUsage = AddressUsage {
        billing: false,
        shipping: true,
    };
    /// Billing and shipping.
    pub const BOTH: AddressUsage = AddressUsage {
        billing: true,
        shipping: true,
    };

    /// Whether `kind` is in the set.
    pub const fn includes(self, kind: AddressKind) -> bool {
        match kind {
            AddressKind::Billing => self.billing,
            AddressKind::Shipping => self.shipping,
        }
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        !self.billing && !self.shipping
    }

    /// Both sets together.
    #[must_use]
    pub const fn union(self, other: AddressUsage) -> AddressUsage {
        AddressUsage {
            billing: self.billing || other.billing,
            shipping: self.shipping || other.shipping,
        }
    }
}

/// One entry of an [`AddressBook`]. The book keeps its entries consistent; an entry built by
/// hand is checked when the book is made from it ([`AddressBook::from_entries`]).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddressEntry {
    /// The entry's id.
    pub id: AddressId,
    /// The address.
    pub address: PostalAddress,
    /// What the address is used for; never empty.
    pub usage: AddressUsage,
    /// Whether it is the default billing address (only if used for billing).
    pub default_billing: bool,
    /// Whether it is the default shipping address (only if used for shipping).
    pub default_shipping: bool,
}

impl AddressEntry {
    /// Whether this entry is the default for `kind`.
    pub fn is_default(&self, kind: AddressKind) -> bool {
        match kind {
            AddressKind::Billing => self.default_billing,
            AddressKind::Shipping => self.default_shipping,
        }
    }

    fn set_default(&mut self, kind: AddressKind, value: bool) {
        match kind {
            AddressKind::Billing => self.default_billing = value,
            AddressKind::Shipping => self.default_shipping = value,
        }
    }
}

/// The organisation's legal fields a billing address must carry (ADDR-4, ACC-1): its company
/// name (`None` for an individual) and billing country.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LegalIdentity<'a> {
    /// The organisation's company name; `None` for an individual.
    pub company_name: Option<&'a str>,
    /// The organisation's billing country.
    pub billing_country: Country,
}

impl LegalIdentity<'_> {
    /// Checks a billing address against these fields; see [`check_billing_address`].
    ///
    /// # Errors
    /// As [`check_billing_address`].
    pub fn check(&self, address: &PostalAddress) -> Result<()> {
        check_billing_address(address, self.company_name, self.billing_country)
    }

    /// Fills a blank company and country of a billing-address form with the organisation's,
    /// so a form can show them read-only. A value the user typed is kept, so a different one
    /// still meets [`check_billing_address`].
    pub fn prefill(&self, mut input: AddressInput) -> AddressInput {
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.trim().is_empty());
        if blank(&input.company) {
            input.company = self.company_name.map(str::to_owned);
        }
        if input.country.trim().is_empty() {
            input.country = self.billing_country.alpha2().to_owned();
        }
        input
    }
}

/// The organisation's company name as a billing address stores it: trimmed, NFC, blank = none.
fn company_key(company_name: Option<&str>) -> Option<String> {
    let nfc: String = company_name.unwrap_or_default().trim().nfc().collect();
    let trimmed = nfc.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

/// Checks that a billing address carries the organisation's company name and billing country
/// (ADDR-4). Self-service cannot change them (ACC-1, "legal reasons"); provider staff can,
/// through [`AddressBook::apply_legal_fields`].
///
/// Company names compare after trimming and NFC normalisation, and case-sensitively: the name
/// is printed on invoices exactly as registered, so "ACME GmbH" for "Acme GmbH" is a change of
/// the legal name, not a spelling variant. An individual (`company_name` `None` or blank) has
/// billing addresses without a company.
///
/// # Errors
/// [`Error::ImmutableField`] with `BillingAddressLegalField` on field `company` or `country`,
/// with a message asking to contact support.
pub fn check_billing_address(
    address: &PostalAddress,
    company_name: Option<&str>,
    billing_country: Country,
) -> Result<()> {
    let expected = company_key(company_name);
    if address.company() != expected.as_deref() {
        let message = match &expected {
            Some(name) => format!(
                "a billing address must carry the company name `{name}`; for legal reasons it \
                 cannot be changed here, please contact our support"
            ),
            None => "a billing address of a private customer has no company name; for legal \
                     reasons it cannot be changed here, please contact our support"
                .to_owned(),
        };
        return Err(Error::immutable(
            "company",
            ReasonCode::BillingAddressLegalField,
            message,
        ));
    }
    if address.country() != billing_country {
        return Err(Error::immutable(
            "country",
            ReasonCode::BillingAddressLegalField,
            format!(
                "a billing address must be in the billing country {billing_country}; for legal \
                 reasons it cannot be changed here, please contact our support"
            ),
        ));
    }
    Ok(())
}

/// An organisation's address book (ADDR-1, ADDR-2, ADDR-4), as a pure value: every operation
/// returns the new book or an error and leaves `self` as it was.
///
/// Invariants, kept by every operation and checked by [`AddressBook::from_entries`]:
/// - ids are unique and every entry is used for billing, shipping or both;
/// - for each kind, exactly one entry is its default when any entry is used for that kind, and
///   none otherwise: the first address of a kind becomes its default, setting a new default
///   clears the old one, and when the default goes away (deleted, or no longer used for the
///   kind) the earliest remaining entry of that kind takes over;
/// - a book that has a billing address keeps at least one (ADDR-4).
///
/// Entries keep the order in which they were added.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<AddressEntry>", into = "Vec<AddressEntry>")]
pub struct AddressBook {
    entries: Vec<AddressEntry>,
}

impl AddressBook {
    /// An empty book.
    pub fn new() -> Self {
        Self::default()
    }

    /// A book from stored entries, in their stored order. The legal fields of billing
    /// addresses are not checked here: they are checked whenever an address is added or
    /// changed, and staff changes go through [`AddressBook::apply_legal_fields`].
    ///
    /// # Errors
    /// [`Error::Conflict`] with `AddressBookInconsistent` when the entries break an invariant
    /// of [`AddressBook`].
    pub fn from_entries(entries: Vec<AddressEntry>) -> Result<Self> {
        let book = AddressBook { entries };
        if book.is_consistent() {
            Ok(book)
        } else {
            Err(Error::conflict(ReasonCode::AddressBookInconsistent))
        }
    }

    /// The entries, in the order they were added.
    pub fn entries(&self) -> &[AddressEntry] {
        &self.entries
    }

    /// The entry with `id`.
    pub fn get(&self, id: AddressId) -> Option<&AddressEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// The default entry for `kind`, if the book has an address of that kind.
    pub fn default_for(&self, kind: AddressKind) -> Option<&AddressEntry> {
        self.entries.iter().find(|e| e.is_default(kind))
    }

    /// The entries used for `kind`.
    pub fn of_kind(&self, kind: AddressKind) -> impl Iterator<Item = &AddressEntry> {
        self.entries.iter().filter(move |e| e.usage.includes(kind))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the book has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds an address used for `usage`, making it the default for the kinds in
    /// `make_default` at once (ADDR-2); `make_default` implies usage. The first address of a
    /// kind becomes its default anyway.
    ///
    /// # Errors
    /// [`Error::Validation`] on `usage` with `Required` when it is used for neither kind;
    /// [`Error::ImmutableField`] from [`check_billing_address`] for a billing address;
    /// [`Error::Conflict`] with `AddressIdTaken` or `AddressBookFull`.
    pub fn add(
        &self,
        id: AddressId,
        address: PostalAddress,
        usage: AddressUsage,
        make_default: AddressUsage,
        legal: LegalIdentity<'_>,
    ) -> Result<Self> {
        let usage = usage.union(make_default);
        check_usage(usage)?;
        if usage.billing {
            legal.check(&address)?;
        }
        if self.get(id).is_some() {
            return Err(Error::conflict(ReasonCode::AddressIdTaken));
        }
        if self.entries.len() >= MAX_ENTRIES {
            return Err(Error::conflict(ReasonCode::AddressBookFull));
        }
        let mut entries = self.entries.clone();
        entries.push(AddressEntry {
            id,
            address,
            usage,
            default_billing: false,
            default_shipping: false,
        });
        for kind in AddressKind::ALL {
            if make_default.includes(kind) {
                make_default_of(&mut entries, id, kind);
            }
        }
        Ok(Self::settled(entries))
    }

    /// Replaces the address and usage of entry `id`; its default flags stay where its new
    /// usage allows.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id; [`Error::Validation`] on `usage` with
    /// `Required`; [`Error::ImmutableField`] from [`check_billing_address`] when the address is
    /// used for billing; [`Error::Conflict`] with `LastBillingAddress` when it is the last
    /// billing address and would stop being one.
    pub fn update(
        &self,
        id: AddressId,
        address: PostalAddress,
        usage: AddressUsage,
        legal: LegalIdentity<'_>,
    ) -> Result<Self> {
        let index = self.index_of(id)?;
        check_usage(usage)?;
        if usage.billing {
            legal.check(&address)?;
        } else if self.is_last_billing(index) {
            return Err(Error::conflict(ReasonCode::LastBillingAddress));
        }
        let mut entries = self.entries.clone();
        if let Some(entry) = entries.get_mut(index) {
            entry.address = address;
            entry.usage = usage;
        }
        Ok(Self::settled(entries))
    }

    /// Deletes entry `id`. Orders keep their snapshots (ADDR-3).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id; [`Error::Conflict`] with `LastBillingAddress`
    /// for the last billing address (ADDR-4).
    pub fn delete(&self, id: AddressId) -> Result<Self> {
        let index = self.index_of(id)?;
        if self.is_last_billing(index) {
            return Err(Error::conflict(ReasonCode::LastBillingAddress));
        }
        let mut entries = self.entries.clone();
        entries.remove(index);
        Ok(Self::settled(entries))
    }

    /// Makes entry `id` the default for `kind`, clearing the previous default (ADDR-2).
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown id; [`Error::Conflict`] with
    /// `AddressUsageMismatch` when the entry is not used for `kind`.
    pub fn set_default(&self, id: AddressId, kind: AddressKind) -> Result<Self> {
        let index = self.index_of(id)?;
        let used = self
            .entries
            .get(index)
            .is_some_and(|e| e.usage.includes(kind));
        if !used {
            return Err(Error::conflict(ReasonCode::AddressUsageMismatch));
        }
        let mut entries = self.entries.clone();
        make_default_of(&mut entries, id, kind);
        Ok(Self::settled(entries))
    }

    /// Writes the organisation's new company name and billing country into every billing
    /// address: the address-book half of a staff change of the legal fields (ACC-1), which
    /// self-service cannot make.
    ///
    /// # Errors
    /// [`Error::Validation`] on `company` with `TooLong` or `ControlCharacters` when the new
    /// company name cannot be stored in an address.
    pub fn apply_legal_fields(&self, legal: LegalIdentity<'_>) -> Result<Self> {
        let company = optional_text(
            "company",
            company_key(legal.company_name).as_deref(),
            COMPANY_MAX,
        )?;
        let entries = self
            .entries
            .iter()
            .map(|e| {
                let mut e = e.clone();
                if e.usage.billing {
                    e.address = e
                        .address
                        .with_legal_fields(company.clone(), legal.billing_country);
                }
                e
            })
            .collect();
        Ok(AddressBook { entries })
    }

    fn index_of(&self, id: AddressId) -> Result<usize> {
        self.entries
            .iter()
            .position(|e| e.id == id)
            .ok_or(Error::NotFound)
    }

    fn is_last_billing(&self, index: usize) -> bool {
        let is_billing = self.entries.get(index).is_some_and(|e| e.usage.billing);
        is_billing && self.of_kind(AddressKind::Billing).count() == 1
    }

    /// Restores the default invariant after an operation changed entries: a default only on
    /// an entry of its kind, and the earliest entry of a kind as default when it has none.
    fn settled(mut entries: Vec<AddressEntry>) -> Self {
        for kind in AddressKind::ALL {
            for entry in &mut entries {
                if !entry.usage.includes(kind) {
                    entry.set_default(kind, false);
                }
            }
            if !entries.iter().any(|e| e.is_default(kind))
                && let Some(first) = entries.iter_mut().find(|e| e.usage.includes(kind))
            {
                first.set_default(kind, true);
            }
        }
        AddressBook { entries }
    }

    fn is_consistent(&self) -> bool {
        let unique = self
            .entries
            .iter()
            .enumerate()
            .all(|(i, e)| !self.entries.iter().skip(i + 1).any(|o| o.id == e.id));
        let used = self.entries.iter().all(|e| !e.usage.is_empty());
        let defaults = AddressKind::ALL.iter().all(|&kind| {
            let wrong = self
                .entries
                .iter()
                .any(|e| e.is_default(kind) && !e.usage.includes(kind));
            let count = self.entries.iter().filter(|e| e.is_default(kind)).count();
            let expected = usize::from(self.of_kind(kind).next().is_some());
            !wrong && count == expected
        });
        unique && used && defaults
    }
}

impl TryFrom<Vec<AddressEntry>> for AddressBook {
    type Error = Error;
    fn try_from(entries: Vec<AddressEntry>) -> Result<Self> {
        Self::from_entries(entries)
    }
}

impl From<AddressBook> for Vec<AddressEntry> {
    fn from(book: AddressBook) -> Self {
        book.entries
    }
}

fn check_usage(usage: AddressUsage) -> Result<()> {
    if usage.is_empty() {
        return Err(Error::validation(
            "usage",
            ReasonCode::Required,
            "choose billing, shipping or both",
        ));
    }
    Ok(())
}

fn make_default_of(entries: &mut [AddressEntry], id: AddressId, kind: AddressKind) {
    for entry in entries {
        entry.set_default(kind, entry.id == id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    fn de() -> Country {
        Country::parse("DE").unwrap()
    }

    fn legal() -> LegalIdentity<'static> {
        LegalIdentity {
            company_name: Some("Acme GmbH"),
            billing_country: de(),
        }
    }

    fn id(n: u8) -> AddressId {
        AddressId::new(datetime!(2025-03-01 12:00 UTC), [n; 10])
    }

    fn input() -> AddressInput {
        AddressInput {
            name: "Ada Lovelace".into(),
            company: Some("Acme GmbH".into()),
            street: "Invalidenstraße".into(),
            house_number: Some("116".into()),
            line2: None,
            postal_code: "10115".into(),
            city: "Berlin".into(),
            region: None,
            country: "DE".into(),
            phone: Some("+49 30 1234567".into()),
        }
    }

    fn billing_address() -> PostalAddress {
        PostalAddress::parse(&input()).unwrap()
    }

    fn shipping_address(city: &str) -> PostalAddress {
        PostalAddress::parse(&AddressInput {
            company: None,
            city: city.into(),
            country: "FR".into(),
            postal_code: "75001".into(),
            ..input()
        })
        .unwrap()
    }

    trait With {
        fn with(self, n: u8, address: PostalAddress, usage: AddressUsage) -> AddressBook;
    }

    impl With for AddressBook {
        /// Adds a valid entry that is not asked to become a default.
        fn with(self, n: u8, address: PostalAddress, usage: AddressUsage) -> AddressBook {
            self.add(id(n), address, usage, AddressUsage::NONE, legal())
                .unwrap()
        }
    }

    fn field_of(err: &Error) -> (&str, ReasonCode) {
        (err.field().unwrap_or("-"), err.reason())
    }

    #[test]
    fn addr_1_valid_address_is_trimmed_and_normalised() {
        let a = PostalAddress::parse(&AddressInput {
            name: "  Ada Lovelace ".into(),
            postal_code: " sw1a 1aa ".into(),
            country: "gb".into(),
            company: Some("   ".into()),
            phone: Some("0044 20 7946 0958".into()),
            // "e" + combining acute becomes one character under NFC.
            city: "Cafe\u{301}ville".into(),
            ..input()
        })
        .unwrap();
        assert_eq!(a.name(), "Ada Lovelace");
        assert_eq!(a.postal_code(), "SW1A 1AA");
        assert_eq!(a.country().alpha2(), "GB");
        assert_eq!(a.company(), None);
        assert_eq!(a.city(), "Caf\u{e9}ville");
        assert_eq!(a.phone().map(Msisdn::e164), Some("+442079460958"));
        assert_eq!(PostalAddress::parse(&a.to_input()).unwrap(), a);
    }

    /// Every field at its limit passes and one character more fails naming the field; Hebrew
    /// letters show that limits count characters, not bytes.
    #[test]
    fn addr_1_field_lengths_in_characters() {
        type Setter = fn(&mut AddressInput, String);
        let table: [(&str, usize, Setter); 8] = [
            ("name", NAME_MAX, |i, v| i.name = v),
            ("company", COMPANY_MAX, |i, v| i.company = Some(v)),
            ("street", STREET_MAX, |i, v| i.street = v),
            ("house_number", HOUSE_NUMBER_MAX, |i, v| {
                i.house_number = Some(v)
            }),
            ("line2", LINE2_MAX, |i, v| i.line2 = Some(v)),
            ("postal_code", POSTAL_CODE_MAX, |i, v| i.postal_code = v),
            ("city", CITY_MAX, |i, v| i.city = v),
            ("region", REGION_MAX, |i, v| i.region = Some(v)),
        ];
        for (field, max, set) in table {
            // Postal codes take ASCII only; the others take any letters.
            let letter = if field == "postal_code" { "9" } else { "ש" };
            let mut ok = input();
            set(&mut ok, letter.repeat(max));
            assert!(PostalAddress::parse(&ok).is_ok(), "{field} at {max}");
            let mut long = input();
            set(&mut long, letter.repeat(max + 1));
            let err = PostalAddress::parse(&long).unwrap_err();
            assert_eq!(field_of(&err), (field, ReasonCode::TooLong), "{field}");
        }
    }

    #[test]
    fn addr_1_required_fields_name_the_field() {
        type Setter = fn(&mut AddressInput);
        let table: [(&str, Setter); 5] = [
            ("name", |i| i.name = " ".into()),
            ("street", |i| i.street = String::new()),
            ("postal_code", |i| i.postal_code = "\t".into()),
            ("city", |i| i.city = String::new()),
            ("country", |i| i.country = String::new()),
        ];
        for (field, blank) in table {
            let mut i = input();
            blank(&mut i);
            let err = PostalAddress::parse(&i).unwrap_err();
            assert_eq!(field_of(&err), (field, ReasonCode::Required));
        }
        // The optional ones may be blank or absent.
        let bare = AddressInput {
            company: None,
            house_number: Some(String::new()),
            line2: Some(" ".into()),
            region: None,
            phone: Some("".into()),
            ..input()
        };
        let a = PostalAddress::parse(&bare).unwrap();
        assert_eq!(
            (
                a.company(),
                a.house_number(),
                a.line2(),
                a.region(),
                a.phone()
            ),
            (None, None, None, None, None)
        );
    }

    #[test]
    fn addr_1_bad_values_name_the_field() {
        let cases = [
            (
                AddressInput {
                    country: "XX".into(),
                    ..input()
                },
                ("country", ReasonCode::CountryUnknown),
            ),
            (
                AddressInput {
                    country: "DEU".into(),
                    ..input()
                },
                ("country", ReasonCode::CountryUnknown),
            ),
            (
                AddressInput {
                    postal_code: "10115!".into(),
                    ..input()
                },
                ("postal_code", ReasonCode::InvalidFormat),
            ),
            (
                AddressInput {
                    postal_code: "--".into(),
                    ..input()
                },
                ("postal_code", ReasonCode::InvalidFormat),
            ),
            (
                AddressInput {
                    phone: Some("12".into()),
                    ..input()
                },
                ("phone", ReasonCode::PhoneNumberInvalid),
            ),
            (
                AddressInput {
                    street: "Main\nStreet".into(),
                    ..input()
                },
                ("street", ReasonCode::ControlCharacters),
            ),
            (
                AddressInput {
                    line2: Some("c/o\u{7}".into()),
                    ..input()
                },
                ("line2", ReasonCode::ControlCharacters),
            ),
        ];
        for (bad, expected) in cases {
            let err = PostalAddress::parse(&bad).unwrap_err();
            let (field, reason) = field_of(&err);
            assert_eq!(field, expected.0);
            if expected.0 == "phone" {
                // Which phone reason depends on the metadata; the field is what matters.
                assert!(matches!(err, Error::Validation { .. }));
            } else {
                assert_eq!(reason, expected.1, "{bad:?}");
            }
        }
    }

    #[test]
    fn addr_1_problems_lists_every_field_in_form_order() {
        let bad = AddressInput {
            name: String::new(),
            postal_code: "ä".into(),
            country: "ZZ".into(),
            ..input()
        };
        let fields: Vec<_> = PostalAddress::problems(&bad)
            .iter()
            .map(|e| e.field().unwrap_or("-").to_owned())
            .collect();
        assert_eq!(fields, ["name", "postal_code", "country"]);
        assert!(PostalAddress::problems(&input()).is_empty());
    }

    #[test]
    fn addr_1_serde_validates_and_names_missing_fields() {
        let a = billing_address();
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<PostalAddress>(&json).unwrap(), a);
        let err = serde_json::from_str::<PostalAddress>(r#"{"name":"A"}"#).unwrap_err();
        assert!(err.to_string().contains("street"), "{err}");
        let input: AddressInput = serde_json::from_str(r#"{"city":"Berlin"}"#).unwrap();
        assert_eq!(input.city, "Berlin");
        assert_eq!(input.company, None);
    }

    #[test]
    fn addr_1_an_unknown_field_in_an_address_is_rejected_not_ignored() {
        let mut json = serde_json::to_value(input()).unwrap();
        assert!(serde_json::from_value::<AddressInput>(json.clone()).is_ok());
        json["house_nmber"] = serde_json::json!("116");
        let err = serde_json::from_value::<AddressInput>(json.clone()).unwrap_err();
        assert!(
            err.to_string().contains("unknown field `house_nmber`"),
            "{err}"
        );
        assert!(serde_json::from_value::<PostalAddress>(json).is_err());
        let err =
            serde_json::from_str::<AddressInput>(r#"{"city":"Berlin","zip":"10115"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `zip`"), "{err}");
    }

    #[test]
    fn addr_1_debug_does_not_show_personal_data() {
        let a = billing_address();
        let shown = format!("{a:?} {:?}", a.snapshot());
        assert!(!shown.contains("Ada"), "{shown}");
        assert!(!shown.contains("Invalidenstraße"), "{shown}");
        assert!(shown.contains("10115"));
    }

    #[test]
    fn addr_1_lines_for_labels() {
        assert_eq!(
            billing_address().lines(),
            [
                "Ada Lovelace",
                "Acme GmbH",
                "Invalidenstraße 116",
                "10115 Berlin",
                "Germany"
            ]
        );
    }

    #[test]
    fn addr_1_add_edit_delete() {
        let book = AddressBook::new()
            .with(1, billing_address(), AddressUsage::BILLING)
            .with(2, shipping_address("Paris"), AddressUsage::SHIPPING);
        assert_eq!(book.len(), 2);
        let edited = book
            .update(
                id(2),
                shipping_address("Lyon"),
                AddressUsage::SHIPPING,
                legal(),
            )
            .unwrap();
        assert_eq!(edited.get(id(2)).unwrap().address.city(), "Lyon");
        assert_eq!(
            book.get(id(2)).unwrap().address.city(),
            "Paris",
            "old state untouched"
        );
        let deleted = edited.delete(id(2)).unwrap();
        assert!(deleted.get(id(2)).is_none());
        assert_eq!(deleted.delete(id(2)).unwrap_err(), Error::NotFound);
        assert_eq!(
            deleted
                .update(id(9), billing_address(), AddressUsage::BILLING, legal())
                .unwrap_err(),
            Error::NotFound
        );
        assert_eq!(
            book.add(
                id(1),
                billing_address(),
                AddressUsage::BILLING,
                AddressUsage::NONE,
                legal()
            )
            .unwrap_err()
            .reason(),
            ReasonCode::AddressIdTaken
        );
        let err = book
            .add(
                id(3),
                billing_address(),
                AddressUsage::NONE,
                AddressUsage::NONE,
                legal(),
            )
            .unwrap_err();
        assert_eq!(field_of(&err), ("usage", ReasonCode::Required));
    }

    #[test]
    fn addr_1_book_is_bounded() {
        let mut book = AddressBook::new();
        for n in 0..MAX_ENTRIES {
            let n = u32::try_from(n).unwrap();
            let id = AddressId::new(datetime!(2025-03-01 12:00 UTC), {
                let mut r = [0u8; 10];
                r[..4].copy_from_slice(&n.to_be_bytes());
                r
            });
            book = book
                .add(
                    id,
                    shipping_address("Paris"),
                    AddressUsage::SHIPPING,
                    AddressUsage::NONE,
                    legal(),
                )
                .unwrap();
        }
        let err = book
            .add(
                id(255),
                shipping_address("Paris"),
                AddressUsage::SHIPPING,
                AddressUsage::NONE,
                legal(),
            )
            .unwrap_err();
        assert_eq!(err, Error::conflict(ReasonCode::AddressBookFull));
    }

    #[test]
    fn addr_2_new_default_clears_old() {
        let book = AddressBook::new().with(1, billing_address(), AddressUsage::BOTH);
        // The first address of each kind became its default.
        assert_eq!(book.default_for(AddressKind::Billing).unwrap().id, id(1));
        assert_eq!(book.default_for(AddressKind::Shipping).unwrap().id, id(1));
        let book = book.with(2, shipping_address("Paris"), AddressUsage::SHIPPING);
        assert_eq!(book.default_for(AddressKind::Shipping).unwrap().id, id(1));
        let book = book.set_default(id(2), AddressKind::Shipping).unwrap();
        assert_eq!(book.default_for(AddressKind::Shipping).unwrap().id, id(2));
        assert!(!book.get(id(1)).unwrap().default_shipping);
        assert!(
            book.get(id(1)).unwrap().default_billing,
            "billing default untouched"
        );
        assert_eq!(
            book.set_default(id(2), AddressKind::Billing).unwrap_err(),
            Error::conflict(ReasonCode::AddressUsageMismatch)
        );
        assert_eq!(
            book.set_default(id(9), AddressKind::Billing).unwrap_err(),
            Error::NotFound
        );
    }

    #[test]
    fn addr_2_new_address_made_default_for_both_at_once() {
        let book = AddressBook::new()
            .with(1, billing_address(), AddressUsage::BOTH)
            // make_default implies usage: this one becomes a billing and shipping address.
            .add(
                id(2),
                billing_address(),
                AddressUsage::NONE,
                AddressUsage::BOTH,
                legal(),
            )
            .unwrap();
        let new = book.get(id(2)).unwrap();
        assert_eq!(new.usage, AddressUsage::BOTH);
        assert!(new.default_billing && new.default_shipping);
        let old = book.get(id(1)).unwrap();
        assert!(!old.default_billing && !old.default_shipping);
    }

    #[test]
    fn addr_2_deleting_or_repurposing_default_promotes_earliest() {
        let book = AddressBook::new()
            .with(1, shipping_address("Paris"), AddressUsage::SHIPPING)
            .with(2, shipping_address("Lyon"), AddressUsage::SHIPPING)
            .add(
                id(3),
                shipping_address("Nice"),
                AddressUsage::SHIPPING,
                AddressUsage::SHIPPING,
                legal(),
            )
            .unwrap();
        assert_eq!(book.default_for(AddressKind::Shipping).unwrap().id, id(3));
        let after_delete = book.delete(id(3)).unwrap();
        assert_eq!(
            after_delete.default_for(AddressKind::Shipping).unwrap().id,
            id(1)
        );
        let repurposed = book
            .with(4, billing_address(), AddressUsage::BILLING)
            .update(id(3), billing_address(), AddressUsage::BILLING, legal())
            .unwrap();
        assert_eq!(
            repurposed.default_for(AddressKind::Shipping).unwrap().id,
            id(1)
        );
        assert_eq!(
            repurposed.default_for(AddressKind::Billing).unwrap().id,
            id(4)
        );
        let only = AddressBook::new()
            .with(1, shipping_address("Paris"), AddressUsage::SHIPPING)
            .delete(id(1))
            .unwrap();
        assert!(only.default_for(AddressKind::Shipping).is_none());
    }

    #[test]
    fn addr_2_from_entries_rejects_broken_books() {
        let good = AddressBook::new()
            .with(1, billing_address(), AddressUsage::BOTH)
            .with(2, billing_address(), AddressUsage::BOTH);
        let entries = good.entries().to_vec();
        assert_eq!(AddressBook::from_entries(entries.clone()).unwrap(), good);
        let json = serde_json::to_string(&good).unwrap();
        assert_eq!(serde_json::from_str::<AddressBook>(&json).unwrap(), good);

        let inconsistent = Error::conflict(ReasonCode::AddressBookInconsistent);
        let mut two_defaults = entries.clone();
        two_defaults[1].default_billing = true;
        assert_eq!(
            AddressBook::from_entries(two_defaults).unwrap_err(),
            inconsistent
        );
        let mut no_default = entries.clone();
        no_default[0].default_shipping = false;
        assert_eq!(
            AddressBook::from_entries(no_default).unwrap_err(),
            inconsistent
        );
        let mut duplicate = entries.clone();
        duplicate[1].id = id(1);
        assert_eq!(
            AddressBook::from_entries(duplicate).unwrap_err(),
            inconsistent
        );
        let mut unused = entries.clone();
        unused[1].usage = AddressUsage::NONE;
        assert_eq!(AddressBook::from_entries(unused).unwrap_err(), inconsistent);
        let mut wrong_kind = entries;
        wrong_kind[0].usage = AddressUsage::BILLING;
        assert_eq!(
            AddressBook::from_entries(wrong_kind).unwrap_err(),
            inconsistent
        );
    }

    #[test]
    fn addr_3_snapshot_survives_edit_and_delete() {
        let book = AddressBook::new()
            .with(1, billing_address(), AddressUsage::BOTH)
            .with(2, shipping_address("Paris"), AddressUsage::SHIPPING);
        let order_billing = book.get(id(1)).unwrap().address.snapshot();
        let order_shipping = book.get(id(2)).unwrap().address.snapshot();
        let kept = (order_billing.clone(), order_shipping.clone());

        let moved = PostalAddress::parse(&AddressInput {
            street: "Friedrichstraße".into(),
            house_number: Some("1".into()),
            ..input()
        })
        .unwrap();
        let book = book
            .update(id(1), moved, AddressUsage::BOTH, legal())
            .unwrap()
            .delete(id(2))
            .unwrap();
        assert_eq!(book.get(id(1)).unwrap().address.street(), "Friedrichstraße");
        assert_eq!((order_billing.clone(), order_shipping.clone()), kept);
        assert_eq!(order_billing.street(), "Invalidenstraße");
        assert_eq!(order_billing.house_number(), Some("116"));
        assert_eq!(order_billing.phone_e164(), Some("+49301234567"));
        assert_eq!(order_shipping.city(), "Paris");

        // A stored snapshot reads back as it was.
        let json = serde_json::to_string(&order_billing).unwrap();
        assert_eq!(
            serde_json::from_str::<AddressSnapshot>(&json).unwrap(),
            order_billing
        );
    }

    #[test]
    fn addr_4_billing_address_must_carry_company_and_country() {
        let other_company = PostalAddress::parse(&AddressInput {
            company: Some("Other Ltd".into()),
            ..input()
        })
        .unwrap();
        let err = AddressBook::new()
            .add(
                id(1),
                other_company,
                AddressUsage::BILLING,
                AddressUsage::NONE,
                legal(),
            )
            .unwrap_err();
        assert!(matches!(err, Error::ImmutableField { .. }), "{err:?}");
        assert_eq!(
            field_of(&err),
            ("company", ReasonCode::BillingAddressLegalField)
        );
        assert!(err.to_string().contains("contact our support"), "{err}");

        let other_country = PostalAddress::parse(&AddressInput {
            country: "AT".into(),
            ..input()
        })
        .unwrap();
        let err = check_billing_address(&other_country, Some("Acme GmbH"), de()).unwrap_err();
        assert!(matches!(err, Error::ImmutableField { .. }));
        assert_eq!(
            field_of(&err),
            ("country", ReasonCode::BillingAddressLegalField)
        );

        // The same address is fine as a shipping-only address.
        assert!(
            AddressBook::new()
                .add(
                    id(1),
                    other_country,
                    AddressUsage::SHIPPING,
                    AddressUsage::NONE,
                    legal()
                )
                .is_ok()
        );
    }

    #[test]
    fn addr_4_company_compare_is_trimmed_nfc_and_case_sensitive() {
        let a = billing_address();
        assert!(check_billing_address(&a, Some("  Acme GmbH "), de()).is_ok());
        assert!(check_billing_address(&a, Some("ACME GmbH"), de()).is_err());
        let cafe = PostalAddress::parse(&AddressInput {
            company: Some("Caf\u{e9} AG".into()),
            ..input()
        })
        .unwrap();
        assert!(check_billing_address(&cafe, Some("Cafe\u{301} AG"), de()).is_ok());
        // A private customer's billing address has no company.
        let private = PostalAddress::parse(&AddressInput {
            company: None,
            ..input()
        })
        .unwrap();
        assert!(check_billing_address(&private, None, de()).is_ok());
        assert!(check_billing_address(&private, Some(" "), de()).is_ok());
        assert!(check_billing_address(&a, None, de()).is_err());
        assert!(check_billing_address(&private, Some("Acme GmbH"), de()).is_err());
    }

    #[test]
    fn addr_4_update_of_billing_address_cannot_change_legal_fields() {
        let book = AddressBook::new().with(1, billing_address(), AddressUsage::BILLING);
        let renamed = PostalAddress::parse(&AddressInput {
            company: Some("Acme Holding GmbH".into()),
            ..input()
        })
        .unwrap();
        let err = book
            .update(id(1), renamed, AddressUsage::BILLING, legal())
            .unwrap_err();
        assert_eq!(
            field_of(&err),
            ("company", ReasonCode::BillingAddressLegalField)
        );
        // Other fields of a billing address can be edited.
        let moved = PostalAddress::parse(&AddressInput {
            street: "Chausseestraße".into(),
            ..input()
        })
        .unwrap();
        assert!(
            book.update(id(1), moved, AddressUsage::BILLING, legal())
                .is_ok()
        );
    }

    #[test]
    fn addr_4_last_billing_address_cannot_be_deleted() {
        let book = AddressBook::new().with(1, billing_address(), AddressUsage::BOTH);
        let last = Error::conflict(ReasonCode::LastBillingAddress);
        assert_eq!(book.delete(id(1)).unwrap_err(), last);
        // Nor may it stop being a billing address.
        assert_eq!(
            book.update(id(1), billing_address(), AddressUsage::SHIPPING, legal())
                .unwrap_err(),
            last
        );
        // With a second billing address, either one can go.
        let book = book.with(2, billing_address(), AddressUsage::BILLING);
        let book = book.delete(id(1)).unwrap();
        assert_eq!(book.default_for(AddressKind::Billing).unwrap().id, id(2));
        assert_eq!(book.delete(id(2)).unwrap_err(), last);
    }

    #[test]
    fn addr_4_staff_change_restamps_billing_addresses() {
        let book = AddressBook::new()
            .with(1, billing_address(), AddressUsage::BILLING)
            .with(2, shipping_address("Paris"), AddressUsage::SHIPPING);
        let new_legal = LegalIdentity {
            company_name: Some("Acme SE"),
            billing_country: Country::parse("AT").unwrap(),
        };
        let book = book.apply_legal_fields(new_legal).unwrap();
        let billing = &book.get(id(1)).unwrap().address;
        assert!(new_legal.check(billing).is_ok());
        assert_eq!(billing.country().alpha2(), "AT");
        let shipping = &book.get(id(2)).unwrap().address;
        assert_eq!(
            (shipping.company(), shipping.country().alpha2()),
            (None, "FR")
        );
        let too_long = "x".repeat(COMPANY_MAX + 1);
        let err = book
            .apply_legal_fields(LegalIdentity {
                company_name: Some(&too_long),
                billing_country: de(),
            })
            .unwrap_err();
        assert_eq!(field_of(&err), ("company", ReasonCode::TooLong));
    }

    #[test]
    fn addr_4_prefill_fills_only_blanks() {
        let blank = AddressInput {
            company: None,
            country: String::new(),
            ..input()
        };
        let filled = legal().prefill(blank);
        assert_eq!(filled.company.as_deref(), Some("Acme GmbH"));
        assert_eq!(filled.country, "DE");
        let typed = legal().prefill(AddressInput {
            company: Some("Mine".into()),
            ..input()
        });
        assert_eq!(typed.company.as_deref(), Some("Mine"));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Add {
            id: u8,
            usage: (bool, bool),
            default: (bool, bool),
            matching: bool,
        },
        Update {
            id: u8,
            usage: (bool, bool),
            matching: bool,
        },
        Delete {
            id: u8,
        },
        SetDefault {
            id: u8,
            billing: bool,
        },
    }

    fn op() -> impl Strategy<Value = Op> {
        let id = 0u8..6;
        let pair = (any::<bool>(), any::<bool>());
        prop_oneof![
            (id.clone(), pair, pair, any::<bool>()).prop_map(|(id, usage, default, matching)| {
                Op::Add {
                    id,
                    usage,
                    default,
                    matching,
                }
            }),
            (id.clone(), pair, any::<bool>()).prop_map(|(id, usage, matching)| Op::Update {
                id,
                usage,
                matching
            }),
            id.clone().prop_map(|id| Op::Delete { id }),
            (id, any::<bool>()).prop_map(|(id, billing)| Op::SetDefault { id, billing }),
        ]
    }

    fn usage((billing, shipping): (bool, bool)) -> AddressUsage {
        AddressUsage { billing, shipping }
    }

    fn apply(book: &AddressBook, op: &Op) -> Result<AddressBook> {
        let address = |matching: bool| {
            if matching {
                billing_address()
            } else {
                shipping_address("Paris")
            }
        };
        match *op {
            Op::Add {
                id: n,
                usage: u,
                default,
                matching,
            } => book.add(id(n), address(matching), usage(u), usage(default), legal()),
            Op::Update {
                id: n,
                usage: u,
                matching,
            } => book.update(id(n), address(matching), usage(u), legal()),
            Op::Delete { id: n } => book.delete(id(n)),
            Op::SetDefault { id: n, billing } => {
                let kind = if billing {
                    AddressKind::Billing
                } else {
                    AddressKind::Shipping
                };
                book.set_default(id(n), kind)
            }
        }
    }

    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ a-zA-Z0-9\u{5d0}-\u{5ea}\u{fb1d}-\u{fb4f}\u{300}-\u{36f}\t\n-]{0,30}",
            "[A-Za-z]{2}",
            "\\+?[0-9 ]{0,18}",
        ]
    }

    proptest! {
        #[test]
        fn addr_2_any_operation_sequence_keeps_one_default_per_kind(
            ops in proptest::collection::vec(op(), 0..40)
        ) {
            let mut book = AddressBook::new();
            for op in &ops {
                let had_billing = book.of_kind(AddressKind::Billing).count();
                match apply(&book, op) {
                    Ok(next) => {
                        book = next;
                        if had_billing > 0 {
                            prop_assert!(book.of_kind(AddressKind::Billing).count() > 0);
                        }
                    }
                    Err(err) => {
                        let expected = matches!(
                            err,
                            Error::NotFound
                                | Error::Conflict { .. }
                                | Error::Validation { .. }
                                | Error::ImmutableField { .. }
                        );
                        prop_assert!(expected, "unexpected error {:?}", err);
                    }
                }
                for kind in AddressKind::ALL {
                    let defaults = book.entries().iter().filter(|e| e.is_default(kind)).count();
                    prop_assert!(defaults <= 1);
                    prop_assert_eq!(defaults == 1, book.of_kind(kind).next().is_some());
                }
                for entry in book.of_kind(AddressKind::Billing) {
                    prop_assert!(legal().check(&entry.address).is_ok());
                }
                prop_assert_eq!(&AddressBook::from_entries(book.entries().to_vec())?, &book);
            }
        }

        #[test]
        fn addr_1_parse_never_panics_and_is_idempotent(
            name in text(), company in proptest::option::of(text()), street in text(),
            house_number in proptest::option::of(text()), line2 in proptest::option::of(text()),
            postal_code in text(), city in text(), region in proptest::option::of(text()),
            country in text(), phone in proptest::option::of(text()),
        ) {
            let raw = AddressInput {
                name, company, street, house_number, line2, postal_code, city, region, country,
                phone,
            };
            let problems = PostalAddress::problems(&raw);
            match PostalAddress::parse(&raw) {
                Ok(address) => {
                    prop_assert!(problems.is_empty());
                    prop_assert!(address.name().chars().count() <= NAME_MAX);
                    prop_assert!(address.postal_code().chars().count() <= POSTAL_CODE_MAX);
                    prop_assert_eq!(PostalAddress::parse(&address.to_input())?, address);
                }
                Err(err) => prop_assert_eq!(problems.first(), Some(&err)),
            }
        }
    }
}
