//! The product catalogue of the configuration (DESIGN §1): products with net prices in one
//! currency, VAT rates per country, and the seller whose country decides reverse charge (ORD-2).
//!
//! A [`Catalogue`] is validated when it is built (unique SKUs, one currency, non-negative
//! prices, rates between 0 and 100 %), so pricing code never re-checks it.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;

use crate::contact::Country;
use crate::customer::VatId;
use crate::error::{Error, ReasonCode, Result, text_field};
use crate::money::{Currency, Money};
use crate::quota::{BYTES_PER_MB, VolumeKind};

/// Longest SKU accepted.
const SKU_MAX: usize = 64;
/// Longest product or seller name accepted.
const NAME_MAX: usize = 120;

/// A stock-keeping unit: 1 to 64 characters of `A-Z`, `0-9`, `-`, `_`, `.`, stored upper case
/// so `data-1gb` and `DATA-1GB` are the same product.
///
/// ```
/// use selfcare_core::catalogue::Sku;
/// assert_eq!(Sku::parse(" data-1gb ").unwrap().as_str(), "DATA-1GB");
/// assert!(Sku::parse("data 1gb").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sku(String);

impl Sku {
    /// Parses a SKU.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `sku` with `Required`, `TooLong` or `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let sku = raw.trim().to_ascii_uppercase();
        if sku.is_empty() {
            return Err(Error::validation(
                "sku",
                ReasonCode::Required,
                "is required",
            ));
        }
        if sku.len() > SKU_MAX {
            return Err(Error::validation(
                "sku",
                ReasonCode::TooLong,
                format!("is longer than {SKU_MAX} characters"),
            ));
        }
        if !sku
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(Error::validation(
                "sku",
                ReasonCode::InvalidFormat,
                "may contain only letters, digits, '-', '_' and '.'",
            ));
        }
        Ok(Sku(sku))
    }

    /// The SKU, upper case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Sku {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sku({})", self.0)
    }
}
impl TryFrom<String> for Sku {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<Sku> for String {
    fn from(value: Sku) -> String {
        value.0
    }
}
impl std::str::FromStr for Sku {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

/// What a product is, and the volume it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ProductKind {
    /// A physical SIM card.
    Sim,
    /// A data top-up for one SIM (TOP-1).
    DataTopUp {
        /// Volume in megabytes (MB = 10^6 bytes, as operators bill).
        megabytes: u64,
    },
    /// An SMS top-up for one SIM (TOP-1).
    SmsTopUp {
        /// Number of SMS.
        count: u32,
    },
    /// A consumer (travel) plan with its allowances.
    Plan {
        /// Validity in days.
        days: u16,
        /// Included data in megabytes.
        data_megabytes: u64,
        /// Included minutes.
        minutes: u32,
        /// Included SMS.
        sms: u32,
    },
}

impl ProductKind {
    /// Whether the product is a data or SMS top-up (TOP-1).
    pub fn is_top_up(self) -> bool {
        matches!(
            self,
            ProductKind::DataTopUp { .. } | ProductKind::SmsTopUp { .. }
        )
    }

    /// The volume this product adds to a SIM's quota when it is a top-up (TOP-1, TOP-2): the
    /// kind and the amount in the quota's unit ([`VolumeKind::unit`]), i.e. bytes for a data
    /// top-up (`megabytes` × [`BYTES_PER_MB`]) and messages for an SMS top-up. This is the one
    /// conversion from catalogue MB to quota bytes; pass the amount to
    /// [`crate::quota::start_generation`]. `None` for products that are not top-ups.
    ///
    /// ```
    /// use selfcare_core::catalogue::ProductKind;
    /// use selfcare_core::quota::VolumeKind;
    /// let kind = ProductKind::DataTopUp { megabytes: 1_000 };
    /// assert_eq!(kind.top_up_volume(), Some((VolumeKind::Data, 1_000_000_000)));
    /// assert_eq!(ProductKind::Sim.top_up_volume(), None);
    /// ```
    pub const fn top_up_volume(self) -> Option<(VolumeKind, u64)> {
        match self {
            // Products in a catalogue are checked to fit; saturating keeps a hand-built kind
            // from overflowing.
            ProductKind::DataTopUp { megabytes } => {
                Some((VolumeKind::Data, megabytes.saturating_mul(BYTES_PER_MB)))
            }
            ProductKind::SmsTopUp { count } => Some((VolumeKind::Sms, count as u64)),
            ProductKind::Sim | ProductKind::Plan { .. } => None,
        }
    }

    fn check(self) -> Result<()> {
        if let ProductKind::DataTopUp { megabytes } = self
            && megabytes > u64::MAX / BYTES_PER_MB
        {
            return Err(Error::validation(
                "kind",
                ReasonCode::OutOfRange,
                "a data top-up volume must fit in a quota counted in bytes",
            ));
        }
        let empty = match self {
            ProductKind::Sim => false,
            ProductKind::DataTopUp { megabytes } => megabytes == 0,
            ProductKind::SmsTopUp { count } => count == 0,
            ProductKind::Plan { days, .. } => days == 0,
        };
        if empty {
            Err(Error::validation(
                "kind",
                ReasonCode::OutOfRange,
                "a top-up volume or plan validity must be above zero",
            ))
        } else {
            Ok(())
        }
    }
}

/// A product of the catalogue: SKU, display name, kind and net unit price.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "ProductData", into = "ProductData")]
pub struct Product {
    sku: Sku,
    name: String,
    kind: ProductKind,
    unit_price: Money,
}

/// The serde form of [`Product`]; deserialising goes through [`Product::new`].
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ProductData {
    sku: Sku,
    name: String,
    kind: ProductKind,
    unit_price: Money,
}

impl Product {
    /// A product; `unit_price` is the net price of one unit.
    ///
    /// # Errors
    /// [`Error::Validation`] for an empty or too long name (`name`), a negative price
    /// (`unit_price`, `OutOfRange`) or a zero volume (`kind`, `OutOfRange`).
    pub fn new(sku: Sku, name: &str, kind: ProductKind, unit_price: Money) -> Result<Self> {
        let name = text_field("name", name, NAME_MAX, true, false)?;
        if unit_price.is_negative() {
            return Err(Error::validation(
                "unit_price",
                ReasonCode::OutOfRange,
                "must not be negative",
            ));
        }
        kind.check()?;
        Ok(Product {
            sku,
            name,
            kind,
            unit_price,
        })
    }

    /// The SKU.
    pub fn sku(&self) -> &Sku {
        &self.sku
    }
    /// The display name (used as the order line's description).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The kind and volume.
    pub fn kind(&self) -> ProductKind {
        self.kind
    }
    /// The net price of one unit.
    pub fn unit_price(&self) -> Money {
        self.unit_price
    }
}

impl TryFrom<ProductData> for Product {
    type Error = Error;
    fn try_from(d: ProductData) -> Result<Self> {
        Product::new(d.sku, &d.name, d.kind, d.unit_price)
    }
}
impl From<Product> for ProductData {
    fn from(p: Product) -> Self {
        ProductData {
            sku: p.sku,
            name: p.name,
            kind: p.kind,
            unit_price: p.unit_price,
        }
    }
}

/// VAT rates in percent: per-country overrides, a rate for countries outside the EU, and a
/// default (normally the seller's domestic rate).
///
/// Lookup order for a billing country (see [`VatRates::rate_for`]): its override; else, for a
/// non-EU country, the `outside_eu` rate when configured; else the default. The SDK never
/// drops VAT on its own: a provider that does not charge VAT outside the EU says so with
/// `outside_eu = 0` (the example catalogue does, as a German telecom provider would).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "VatRatesData", into = "VatRatesData")]
pub struct VatRates {
    default: Decimal,
    outside_eu: Option<Decimal>,
    overrides: BTreeMap<Country, Decimal>,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct VatRatesData {
    #[serde(with = "rust_decimal::serde::str")]
    default: Decimal,
    #[serde(with = "rust_decimal::serde::str_option", default)]
    outside_eu: Option<Decimal>,
    #[serde(default)]
    overrides: BTreeMap<Country, String>,
}

fn check_rate(field: &str, rate: Decimal) -> Result<Decimal> {
    if rate.is_sign_negative() && !rate.is_zero() || rate > Decimal::ONE_HUNDRED {
        Err(Error::validation(
            field,
            ReasonCode::OutOfRange,
            "a VAT rate is a percentage between 0 and 100",
        ))
    } else {
        Ok(rate.normalize())
    }
}

impl VatRates {
    /// Rates with only a default, in percent (19 means 19 %).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `vat.default` with `OutOfRange` outside 0..=100.
    pub fn new(default: Decimal) -> Result<Self> {
        Ok(VatRates {
            default: check_rate("vat.default", default)?,
            outside_eu: None,
            overrides: BTreeMap::new(),
        })
    }

    /// Adds or replaces the rate of one country.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `vat.overrides.{CC}` with `OutOfRange` outside 0..=100.
    pub fn with_rate(mut self, country: Country, rate: Decimal) -> Result<Self> {
        let rate = check_rate(&format!("vat.overrides.{country}"), rate)?;
        self.overrides.insert(country, rate);
        Ok(self)
    }

    /// Sets the rate for non-EU countries without an override.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `vat.outside_eu` with `OutOfRange` outside 0..=100.
    pub fn with_outside_eu(mut self, rate: Decimal) -> Result<Self> {
        self.outside_eu = Some(check_rate("vat.outside_eu", rate)?);
        Ok(self)
    }

    /// The rate (percent) for a customer billed in `country`.
    pub fn rate_for(&self, country: Country) -> Decimal {
        if let Some(rate) = self.overrides.get(&country) {
            return *rate;
        }
        match self.outside_eu {
            Some(rate) if !country.is_eu() => rate,
            _ => self.default,
        }
    }

    /// The default rate (percent).
    pub fn default_rate(&self) -> Decimal {
        self.default
    }
}

impl TryFrom<VatRatesData> for VatRates {
    type Error = Error;
    fn try_from(d: VatRatesData) -> Result<Self> {
        let mut rates = VatRates::new(d.default)?;
        if let Some(rate) = d.outside_eu {
            rates = rates.with_outside_eu(rate)?;
        }
        for (country, raw) in d.overrides {
            let rate = raw.trim().parse::<Decimal>().map_err(|_| {
                Error::validation(
                    format!("vat.overrides.{country}"),
                    ReasonCode::InvalidFormat,
                    "is not a decimal percentage",
                )
            })?;
            rates = rates.with_rate(country, rate)?;
        }
        Ok(rates)
    }
}
impl From<VatRates> for VatRatesData {
    fn from(r: VatRates) -> Self {
        VatRatesData {
            default: r.default,
            outside_eu: r.outside_eu,
            overrides: r
                .overrides
                .into_iter()
                .map(|(c, rate)| (c, rate.to_string()))
                .collect(),
        }
    }
}

/// The product catalogue: products in one currency, looked up by SKU, and the VAT rates.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "CatalogueData", into = "CatalogueData")]
pub struct Catalogue {
    currency: Currency,
    products: BTreeMap<Sku, Product>,
    vat: VatRates,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueData {
    currency: Currency,
    products: Vec<Product>,
    vat: VatRates,
}

impl Catalogue {
    /// A catalogue of `products`, all priced in `currency`.
    ///
    /// # Errors
    /// [`Error::Validation`] on `products[i].sku` with `DuplicateSku`, or on
    /// `products[i].unit_price` with `CurrencyMismatch`.
    pub fn new(currency: Currency, products: Vec<Product>, vat: VatRates) -> Result<Self> {
        let mut map = BTreeMap::new();
        for (i, product) in products.into_iter().enumerate() {
            if product.unit_price.currency != currency {
                return Err(Error::validation(
                    format!("products[{i}].unit_price"),
                    ReasonCode::CurrencyMismatch,
                    format!("the catalogue is priced in {currency}"),
                ));
            }
            if map.contains_key(&product.sku) {
                return Err(Error::validation(
                    format!("products[{i}].sku"),
                    ReasonCode::DuplicateSku,
                    format!("{} appears more than once", product.sku),
                ));
            }
            map.insert(product.sku.clone(), product);
        }
        Ok(Catalogue {
            currency,
            products: map,
            vat,
        })
    }

    /// The product with `sku`, if any.
    pub fn get(&self, sku: &Sku) -> Option<&Product> {
        self.products.get(sku)
    }

    /// Every product, ordered by SKU.
    pub fn products(&self) -> impl Iterator<Item = &Product> {
        self.products.values()
    }

    /// The catalogue's currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The VAT rates.
    pub fn vat(&self) -> &VatRates {
        &self.vat
    }

    /// A small catalogue for demos and tests: EUR; a SIM at 10.00, data top-ups of 500 MB
    /// (5.00) and 1 GB (9.00), 250 SMS (3.00), a 30-day travel plan (29.90); VAT 19 %
    /// (Germany) by default, with AT 20, BE 21, ES 21, FR 20, IT 22, NL 21, PL 23 and 0 %
    /// outside the EU.
    pub fn example() -> Catalogue {
        // Every literal below is valid, so the fallible constructors cannot fail; the match
        // keeps library code free of unwrap all the same.
        match Self::build_example() {
            Ok(c) => c,
            Err(_) => Catalogue {
                currency: Currency::EUR,
                products: BTreeMap::new(),
                vat: VatRates {
                    default: Decimal::new(19, 0),
                    outside_eu: None,
                    overrides: BTreeMap::new(),
                },
            },
        }
    }

    fn build_example() -> Result<Catalogue> {
        let eur = |minor| Money::from_minor(minor, Currency::EUR);
        let product = |sku: &str, name: &str, kind, minor| {
            Product::new(Sku::parse(sku)?, name, kind, eur(minor))
        };
        let products = vec![
            product("SIM-STD", "SIM card", ProductKind::Sim, 1000)?,
            product(
                "DATA-500MB",
                "Data top-up 500 MB",
                ProductKind::DataTopUp { megabytes: 500 },
                500,
            )?,
            product(
                "DATA-1GB",
                "Data top-up 1 GB",
                ProductKind::DataTopUp { megabytes: 1000 },
                900,
            )?,
            product(
                "SMS-250",
                "SMS top-up 250",
                ProductKind::SmsTopUp { count: 250 },
                300,
            )?,
            product(
                "TRAVEL-30D",
                "Travel plan 30 days",
                ProductKind::Plan {
                    days: 30,
                    data_megabytes: 10_000,
                    minutes: 300,
                    sms: 100,
                },
                2990,
            )?,
        ];
        let mut vat = VatRates::new(Decimal::new(19, 0))?.with_outside_eu(Decimal::ZERO)?;
        for (cc, rate) in [
            ("AT", 20),
            ("BE", 21),
            ("ES", 21),
            ("FR", 20),
            ("IT", 22),
            ("NL", 21),
            ("PL", 23),
        ] {
            vat = vat.with_rate(Country::parse(cc)?, Decimal::new(rate, 0))?;
        }
        Catalogue::new(Currency::EUR, products, vat)
    }
}

impl TryFrom<CatalogueData> for Catalogue {
    type Error = Error;
    fn try_from(d: CatalogueData) -> Result<Self> {
        Catalogue::new(d.currency, d.products, d.vat)
    }
}
impl From<Catalogue> for CatalogueData {
    fn from(c: Catalogue) -> Self {
        CatalogueData {
            currency: c.currency,
            products: c.products.into_values().collect(),
            vat: c.vat,
        }
    }
}

/// The seller of the configuration: name, country and VAT id (DESIGN §1). Its country decides
/// reverse charge (ORD-2).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "SellerData", into = "SellerData")]
pub struct Seller {
    name: String,
    country: Country,
    vat_id: VatId,
}

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SellerData {
    name: String,
    country: Country,
    vat_id: VatId,
}
impl TryFrom<SellerData> for Seller {
    type Error = Error;
    fn try_from(d: SellerData) -> Result<Self> {
        Seller::new(&d.name, d.country, d.vat_id.as_str())
    }
}
impl From<Seller> for SellerData {
    fn from(s: Seller) -> Self {
        SellerData {
            name: s.name,
            country: s.country,
            vat_id: s.vat_id,
        }
    }
}

impl Seller {
    /// A seller.
    ///
    /// # Errors
    /// [`Error::Validation`] on `name` (empty, too long, control characters) or `vat_id`.
    pub fn new(name: &str, country: Country, vat_id: &str) -> Result<Self> {
        Ok(Seller {
            name: text_field("name", name, NAME_MAX, true, false)?,
            country,
            vat_id: VatId::parse(vat_id)?,
        })
    }

    /// The seller's legal name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The seller's country.
    pub fn country(&self) -> Country {
        self.country
    }
    /// The seller's VAT id.
    pub fn vat_id(&self) -> &VatId {
        &self.vat_id
    }

    /// The seller of the example catalogue: "Example Connect GmbH", Germany, `DE123456789`.
    ///
    /// # Errors
    /// None in practice (the literals are valid); it returns `Result` because a [`Country`]
    /// is only ever made by parsing.
    pub fn example() -> Result<Seller> {
        Seller::new("Example Connect GmbH", Country::parse("DE")?, "DE123456789")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(cc: &str) -> Country {
        Country::parse(cc).unwrap()
    }

    #[test]
    fn ord_2_catalogue_is_validated_on_construction() {
        let eur = |m| Money::from_minor(m, Currency::EUR);
        let p = |sku: &str, price| {
            Product::new(Sku::parse(sku).unwrap(), "P", ProductKind::Sim, price).unwrap()
        };
        let vat = VatRates::new(Decimal::new(19, 0)).unwrap();
        let e = Catalogue::new(
            Currency::EUR,
            vec![p("A", eur(1)), p("a", eur(2))],
            vat.clone(),
        )
        .unwrap_err();
        assert_eq!(
            (e.field(), e.reason()),
            (Some("products[1].sku"), ReasonCode::DuplicateSku)
        );
        let usd = Money::from_minor(1, Currency::USD);
        let e = Catalogue::new(Currency::EUR, vec![p("A", eur(1)), p("B", usd)], vat).unwrap_err();
        assert_eq!(e.reason(), ReasonCode::CurrencyMismatch);
        assert_eq!(
            Product::new(Sku::parse("A").unwrap(), "P", ProductKind::Sim, eur(-1))
                .unwrap_err()
                .reason(),
            ReasonCode::OutOfRange
        );
        assert!(
            Product::new(
                Sku::parse("A").unwrap(),
                "P",
                ProductKind::DataTopUp { megabytes: 0 },
                eur(1)
            )
            .is_err()
        );
        assert!(Product::new(Sku::parse("A").unwrap(), " ", ProductKind::Sim, eur(1)).is_err());
        assert!(VatRates::new(Decimal::new(101, 0)).is_err());
        assert!(VatRates::new(Decimal::new(-1, 0)).is_err());
    }

    #[test]
    fn top_1_top_up_products_start_a_generation_in_quota_units() {
        use crate::ids::SimId;
        use crate::quota::{QuotaState, start_generation};
        let cat = Catalogue::example();
        let kind = |sku: &str| cat.get(&Sku::parse(sku).unwrap()).unwrap().kind();
        let (volume_kind, amount) = kind("DATA-1GB").top_up_volume().unwrap();
        assert_eq!(
            (volume_kind, amount),
            (VolumeKind::Data, 1_000 * BYTES_PER_MB)
        );
        let sim = SimId::new(time::macros::datetime!(2026-01-01 0:00 UTC), [3; 10]);
        let state = start_generation(&QuotaState::new(sim), volume_kind, amount).unwrap();
        assert_eq!(state.quota(VolumeKind::Data).volume, 1_000_000_000);
        let sms = kind("SMS-250").top_up_volume();
        assert_eq!(sms, Some((VolumeKind::Sms, 250)));
        assert_eq!(kind("SIM-STD").top_up_volume(), None);
        // Every top-up of the catalogue has a volume; nothing else has one.
        for product in cat.products() {
            assert_eq!(
                product.kind().top_up_volume().is_some(),
                product.kind().is_top_up()
            );
        }
        // A data volume that cannot be counted in bytes is refused when the product is built.
        let too_big = ProductKind::DataTopUp {
            megabytes: u64::MAX / BYTES_PER_MB + 1,
        };
        let one = Money::from_minor(1, Currency::EUR);
        let err = Product::new(Sku::parse("X").unwrap(), "X", too_big, one).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::OutOfRange);
        let largest = ProductKind::DataTopUp {
            megabytes: u64::MAX / BYTES_PER_MB,
        };
        assert!(Product::new(Sku::parse("X").unwrap(), "X", largest, one).is_ok());
    }

    #[test]
    fn ord_2_vat_rate_lookup_order() {
        let cat = Catalogue::example();
        assert_eq!(cat.vat().rate_for(c("DE")), Decimal::new(19, 0));
        assert_eq!(cat.vat().rate_for(c("AT")), Decimal::new(20, 0));
        // An EU country without an override: the default.
        assert_eq!(cat.vat().rate_for(c("LU")), Decimal::new(19, 0));
        assert_eq!(cat.vat().rate_for(c("US")), Decimal::ZERO);
        let plain = VatRates::new(Decimal::new(19, 0)).unwrap();
        assert_eq!(plain.rate_for(c("US")), Decimal::new(19, 0));
        let ch = plain
            .with_outside_eu(Decimal::ZERO)
            .unwrap()
            .with_rate(c("CH"), Decimal::new(81, 1))
            .unwrap();
        assert_eq!(ch.rate_for(c("CH")), Decimal::new(81, 1));
        assert_eq!(ch.rate_for(c("NO")), Decimal::ZERO);
    }

    #[test]
    fn ord_2_catalogue_serde_round_trips_and_validates() {
        let cat = Catalogue::example();
        let json = serde_json::to_string(&cat).unwrap();
        let back: Catalogue = serde_json::from_str(&json).unwrap();
        assert_eq!(back, cat);
        assert_eq!(back.products().count(), 5);
        let dup = json.replace("DATA-500MB", "DATA-1GB");
        assert!(serde_json::from_str::<Catalogue>(&dup).is_err());
        let seller = Seller::example().unwrap();
        let s: Seller = serde_json::from_str(&serde_json::to_string(&seller).unwrap()).unwrap();
        assert_eq!(s, seller);
        assert!(
            serde_json::from_str::<Seller>(r#"{"name":"","country":"DE","vat_id":"DE1"}"#).is_err()
        );
    }

    #[test]
    fn ord_2_vat_ids_are_normalised_and_know_their_eu_country() {
        let id = VatId::parse("de 123.456-789").unwrap();
        assert_eq!(id.as_str(), "DE123456789");
        assert_eq!(id.eu_country(), Some(c("DE")));
        assert_eq!(
            VatId::parse("EL123456789").unwrap().eu_country(),
            Some(c("GR"))
        );
        assert_eq!(VatId::parse("CHE123456789").unwrap().eu_country(), None);
        assert_eq!(VatId::parse("GB123456789").unwrap().eu_country(), None);
        assert_eq!(VatId::parse("").unwrap_err().reason(), ReasonCode::Required);
        for bad in ["DE", "D1234", "12345678", "DE12345678901234"] {
            assert_eq!(
                VatId::parse(bad).unwrap_err().reason(),
                ReasonCode::VatIdInvalid,
                "{bad}"
            );
        }
    }

    #[test]
    fn ord_2_example_catalogue_has_the_demo_products() {
        let cat = Catalogue::example();
        let sim = cat.get(&Sku::parse("sim-std").unwrap()).unwrap();
        assert_eq!(sim.unit_price().to_string(), "10.00 EUR");
        assert!(
            cat.get(&Sku::parse("DATA-1GB").unwrap())
                .unwrap()
                .kind()
                .is_top_up()
        );
        assert!(!sim.kind().is_top_up());
        assert_eq!(cat.currency(), Currency::EUR);
    }
}
