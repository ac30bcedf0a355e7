//! Order lines, VAT and totals (ORD-2). The one place where VAT is decided and computed; top-ups
//! (TOP-1) price through it too.

use rust_decimal::Decimal;

use crate::catalogue::{Catalogue, Seller, Sku};
use crate::contact::Country;
use crate::customer::{Customer, CustomerKind, VatId};
use crate::error::{Error, ReasonCode, Result};
use crate::money::{Currency, Money};

/// Largest quantity of one line.
pub const MAX_QUANTITY: u32 = 100_000;
/// Most lines in one order.
pub const MAX_LINES: usize = 100;

/// The customer as far as tax is concerned, as plain values.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxCustomer {
    /// Whether the customer is a business (not a consumer).
    pub business: bool,
    /// The customer's VAT id, if any.
    pub vat_id: Option<VatId>,
    /// The country of the billing address.
    pub billing_country: Country,
}

impl TaxCustomer {
    /// The tax view of a stored customer: a business with its VAT id (if it has one), an
    /// individual without one, and the customer's billing country (ACC-1, ORD-2).
    pub fn of(customer: &Customer) -> Self {
        TaxCustomer {
            business: matches!(customer.kind(), CustomerKind::Business { .. }),
            vat_id: customer.vat_id().cloned(),
            billing_country: customer.billing_country(),
        }
    }
}

/// How VAT applies to an order.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaxTreatment {
    /// VAT at the catalogue's rate for the billing country.
    Standard {
        /// The billing country whose rate applies.
        country: Country,
        /// The rate in percent.
        #[serde(with = "rust_decimal::serde::str")]
        rate: Decimal,
    },
    /// No VAT: the business customer accounts for it (reverse charge); the invoice must show
    /// the customer's VAT id.
    ReverseCharge {
        /// The customer's VAT id.
        customer_vat_id: VatId,
    },
}

impl TaxTreatment {
    /// The rate applied to every line, in percent (0 under reverse charge).
    pub fn rate(&self) -> Decimal {
        match self {
            TaxTreatment::Standard { rate, .. } => *rate,
            TaxTreatment::ReverseCharge { .. } => Decimal::ZERO,
        }
    }
}

/// Decides the tax treatment (ORD-2).
///
/// Reverse charge applies to a business customer whose VAT id is well-formed and issued by an
/// EU member state other than the seller's. Everything else — consumers, businesses without a
/// (well-formed) VAT id, businesses from the seller's own country, and customers outside the
/// EU — pays the catalogue's rate for the billing country (see
/// [`crate::catalogue::VatRates::rate_for`]: an explicit rate for the country, else the
/// configured non-EU rate for non-EU countries, else the default). The VAT id is a parsed
/// [`VatId`], so a malformed one never reaches this decision.
pub fn tax_treatment(
    catalogue: &Catalogue,
    seller: &Seller,
    customer: &TaxCustomer,
) -> TaxTreatment {
    let reverse = customer
        .vat_id
        .as_ref()
        .filter(|_| customer.business)
        .filter(|id| id.eu_country().is_some_and(|c| c != seller.country()))
        .cloned();
    match reverse {
        Some(customer_vat_id) => TaxTreatment::ReverseCharge { customer_vat_id },
        None => TaxTreatment::Standard {
            country: customer.billing_country,
            rate: catalogue.vat().rate_for(customer.billing_country),
        },
    }
}

/// One line of an order, with its amounts rounded to the currency's minor unit.
/// Invariant: `net + vat == gross`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderLine {
    /// The product.
    pub sku: Sku,
    /// The product name at the time of the order.
    pub description: String,
    /// Units.
    pub quantity: u32,
    /// Net price of one unit (as in the catalogue, not rounded).
    pub unit_net: Money,
    /// VAT rate in percent.
    #[serde(with = "rust_decimal::serde::str")]
    pub vat_rate: Decimal,
    /// `unit_net × quantity`, rounded half away from zero.
    pub net: Money,
    /// `net × vat_rate / 100`, rounded half away from zero.
    pub vat: Money,
    /// `net + vat`.
    pub gross: Money,
}

impl OrderLine {
    /// Computes a line: net rounded, VAT on the rounded net rounded, gross their sum.
    ///
    /// # Errors
    /// [`Error::Validation`] with `AmountInvalid` on overflow.
    pub fn compute(
        sku: Sku,
        description: String,
        quantity: u32,
        unit_net: Money,
        vat_rate: Decimal,
    ) -> Result<Self> {
        let net = unit_net.checked_mul(Decimal::from(quantity))?.rounded();
        let vat = net.percent(vat_rate)?;
        let gross = net.checked_add(vat)?;
        Ok(OrderLine {
            sku,
            description,
            quantity,
            unit_net,
            vat_rate,
            net,
            vat,
            gross,
        })
    }
}

/// The totals of an order or document: sums of the lines. Invariant: `net + vat == gross`.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderTotals {
    /// Sum of the lines' net amounts.
    pub net: Money,
    /// Sum of the lines' VAT.
    pub vat: Money,
    /// Sum of the lines' gross amounts.
    pub gross: Money,
}

impl OrderTotals {
    /// Zero totals in `currency`.
    pub fn zero(currency: Currency) -> Self {
        OrderTotals {
            net: Money::zero(currency),
            vat: Money::zero(currency),
            gross: Money::zero(currency),
        }
    }

    /// Sums `lines` (no further rounding: each line is already rounded).
    ///
    /// # Errors
    /// [`Error::Validation`] with `CurrencyMismatch` or `AmountInvalid`.
    pub fn of_lines<'a>(
        currency: Currency,
        lines: impl IntoIterator<Item = &'a OrderLine>,
    ) -> Result<Self> {
        lines
            .into_iter()
            .try_fold(OrderTotals::zero(currency), |acc, line| {
                Ok(OrderTotals {
                    net: acc.net.checked_add(line.net)?,
                    vat: acc.vat.checked_add(line.vat)?,
                    gross: acc.gross.checked_add(line.gross)?,
                })
            })
    }
}

/// A priced order: the tax treatment, the lines and their totals.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricedOrder {
    /// The currency of every amount.
    pub currency: Currency,
    /// How VAT was applied.
    pub tax: TaxTreatment,
    /// The lines, in the order requested.
    pub lines: Vec<OrderLine>,
    /// Sums of the lines.
    pub totals: OrderTotals,
}

/// Prices `items` (SKU and quantity) against the catalogue for `customer` (ORD-2).
///
/// ```
/// use selfcare_core::catalogue::{Catalogue, Seller, Sku};
/// use selfcare_core::contact::Country;
/// use selfcare_core::orders::{TaxCustomer, price_order};
/// let customer = TaxCustomer { business: false, vat_id: None, billing_country: Country::parse("AT").unwrap() };
/// let priced = price_order(&Catalogue::example(), &Seller::example().unwrap(), &customer,
///     &[(Sku::parse("SIM-STD").unwrap(), 3)]).unwrap();
/// assert_eq!(priced.totals.gross.to_string(), "36.00 EUR"); // 30.00 + 20 %
/// ```
///
/// # Errors
/// [`Error::Validation`] on `items` (`Required` when empty, `TooLong` over [`MAX_LINES`]),
/// `items[i].sku` (`UnknownSku`, `DuplicateSku`), `items[i].quantity` (`OutOfRange` outside
/// 1..=[`MAX_QUANTITY`]), or `AmountInvalid` on overflow.
pub fn price_order(
    catalogue: &Catalogue,
    seller: &Seller,
    customer: &TaxCustomer,
    items: &[(Sku, u32)],
) -> Result<PricedOrder> {
    if items.is_empty() {
        return Err(Error::validation(
            "items",
            ReasonCode::Required,
            "an order needs at least one item",
        ));
    }
    if items.len() > MAX_LINES {
        return Err(Error::validation(
            "items",
            ReasonCode::TooLong,
            format!("an order has at most {MAX_LINES} lines"),
        ));
    }
    let tax = tax_treatment(catalogue, seller, customer);
    let rate = tax.rate();
    let mut lines = Vec::with_capacity(items.len());
    for (i, (sku, quantity)) in items.iter().enumerate() {
        let field = |f: &str| format!("items[{i}].{f}");
        if items.iter().take(i).any(|(earlier, _)| earlier == sku) {
            return Err(Error::validation(
                field("sku"),
                ReasonCode::DuplicateSku,
                format!("{sku} appears more than once; combine the quantities"),
            ));
        }
        if !(1..=MAX_QUANTITY).contains(quantity) {
            return Err(Error::validation(
                field("quantity"),
                ReasonCode::OutOfRange,
                format!("must be between 1 and {MAX_QUANTITY}"),
            ));
        }
        let product = catalogue.get(sku).ok_or_else(|| {
            Error::validation(
                field("sku"),
                ReasonCode::UnknownSku,
                format!("{sku} is not in the catalogue"),
            )
        })?;
        let line = OrderLine::compute(
            sku.clone(),
            product.name().to_owned(),
            *quantity,
            product.unit_price(),
            rate,
        )
        .map_err(|e| e.within(&format!("items[{i}]")))?;
        lines.push(line);
    }
    let totals = OrderTotals::of_lines(catalogue.currency(), &lines)?;
    Ok(PricedOrder {
        currency: catalogue.currency(),
        tax,
        lines,
        totals,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn customer(business: bool, vat_id: Option<&str>, country: &str) -> TaxCustomer {
        TaxCustomer {
            business,
            vat_id: vat_id.map(|raw| VatId::parse(raw).unwrap()),
            billing_country: Country::parse(country).unwrap(),
        }
    }

    fn sku(s: &str) -> Sku {
        Sku::parse(s).unwrap()
    }

    fn price(c: &TaxCustomer, items: &[(&str, u32)]) -> Result<PricedOrder> {
        let items: Vec<_> = items.iter().map(|(s, q)| (sku(s), *q)).collect();
        price_order(
            &Catalogue::example(),
            &Seller::example().unwrap(),
            c,
            &items,
        )
    }

    #[test]
    fn ord_2_consumer_pays_the_rate_of_the_billing_country() {
        let p = price(
            &customer(false, None, "DE"),
            &[("SIM-STD", 2), ("DATA-1GB", 1)],
        )
        .unwrap();
        assert_eq!(p.lines.len(), 2);
        assert_eq!(p.lines[0].net.to_string(), "20.00 EUR");
        assert_eq!(p.lines[0].vat.to_string(), "3.80 EUR");
        assert_eq!(p.lines[1].vat.to_string(), "1.71 EUR");
        assert_eq!(p.totals.net.to_string(), "29.00 EUR");
        assert_eq!(p.totals.vat.to_string(), "5.51 EUR");
        assert_eq!(p.totals.gross.to_string(), "34.51 EUR");
        let at = price(&customer(false, None, "AT"), &[("SIM-STD", 1)]).unwrap();
        assert_eq!(at.totals.vat.to_string(), "2.00 EUR");
        // A consumer's VAT id never earns reverse charge.
        let c = price(
            &customer(false, Some("ATU12345678"), "AT"),
            &[("SIM-STD", 1)],
        )
        .unwrap();
        assert_eq!(c.tax.rate(), Decimal::new(20, 0));
    }

    #[test]
    fn ord_2_reverse_charge_only_for_eu_business_with_vat_id_abroad() {
        let rc = price(
            &customer(true, Some("atu 123.456-78"), "AT"),
            &[("SIM-STD", 1)],
        )
        .unwrap();
        assert!(
            matches!(rc.tax, TaxTreatment::ReverseCharge { ref customer_vat_id } if customer_vat_id.as_str() == "ATU12345678")
        );
        assert!(rc.totals.vat.amount.is_zero());
        assert_eq!(rc.totals.gross, rc.totals.net);
        // Greece uses the prefix EL.
        let gr = price(
            &customer(true, Some("EL123456789"), "GR"),
            &[("SIM-STD", 1)],
        )
        .unwrap();
        assert!(matches!(gr.tax, TaxTreatment::ReverseCharge { .. }));
        // Same country as the seller: domestic VAT.
        let de = price(
            &customer(true, Some("DE999999999"), "DE"),
            &[("SIM-STD", 1)],
        )
        .unwrap();
        assert_eq!(de.tax.rate(), Decimal::new(19, 0));
        // Business without VAT id, or with a malformed one: VAT of the billing country.
        let none = price(&customer(true, None, "FR"), &[("SIM-STD", 1)]).unwrap();
        assert_eq!(none.tax.rate(), Decimal::new(20, 0));
        // A malformed VAT id cannot reach pricing: it is refused when parsed.
        assert!(VatId::parse("12").is_err());
        // Non-EU VAT id: no reverse charge; non-EU billing country: the configured 0 %.
        let ch = price(
            &customer(true, Some("CHE123456789"), "CH"),
            &[("SIM-STD", 1)],
        )
        .unwrap();
        assert!(matches!(ch.tax, TaxTreatment::Standard { rate, .. } if rate.is_zero()));
    }

    #[test]
    fn ord_2_tax_customer_of_a_customer() {
        use crate::customer::{NewCustomer, NewCustomerKind};
        use crate::ids::OrgId;
        let now = time::macros::datetime!(2026-01-01 0:00 UTC);
        let create = |kind, country: &str| {
            let input = NewCustomer {
                kind,
                main_contact: "a@example.com".into(),
                billing_country: country.into(),
                language: None,
            };
            Customer::create(OrgId::new(now, [1; 10]), &input, now).unwrap()
        };
        let business = create(
            NewCustomerKind::Business {
                company_name: "Acme".into(),
                vat_id: Some("atu 123.456-78".into()),
            },
            "AT",
        );
        assert_eq!(
            TaxCustomer::of(&business),
            customer(true, Some("ATU12345678"), "AT")
        );
        // Reverse charge follows from the customer itself.
        let rc = price(&TaxCustomer::of(&business), &[("SIM-STD", 1)]).unwrap();
        assert!(matches!(rc.tax, TaxTreatment::ReverseCharge { .. }));
        let without = create(
            NewCustomerKind::Business {
                company_name: "Acme".into(),
                vat_id: None,
            },
            "FR",
        );
        assert_eq!(TaxCustomer::of(&without), customer(true, None, "FR"));
        let person = create(
            NewCustomerKind::Individual {
                name: "Dana Levi".into(),
            },
            "IL",
        );
        assert_eq!(TaxCustomer::of(&person), customer(false, None, "IL"));
    }

    #[test]
    fn ord_2_rounding_is_per_line_half_away_from_zero() {
        let cat = Catalogue::new(
            Currency::EUR,
            vec![
                crate::catalogue::Product::new(
                    sku("A"),
                    "A",
                    crate::catalogue::ProductKind::Sim,
                    Money::parse("0.125", Currency::EUR).unwrap(),
                )
                .unwrap(),
            ],
            crate::catalogue::VatRates::new(Decimal::new(10, 0)).unwrap(),
        )
        .unwrap();
        let p = price_order(
            &cat,
            &Seller::example().unwrap(),
            &customer(false, None, "DE"),
            &[(sku("A"), 1)],
        )
        .unwrap();
        // 0.125 → 0.13 (banker's would give 0.12); VAT 10 % of 0.13 = 0.013 → 0.01.
        assert_eq!(p.lines[0].net.to_string(), "0.13 EUR");
        assert_eq!(p.lines[0].vat.to_string(), "0.01 EUR");
        assert_eq!(p.lines[0].gross.to_string(), "0.14 EUR");
    }

    #[test]
    fn ord_2_items_are_validated() {
        let c = customer(false, None, "DE");
        let e = price(&c, &[]).unwrap_err();
        assert_eq!(
            (e.field(), e.reason()),
            (Some("items"), ReasonCode::Required)
        );
        let e = price(&c, &[("SIM-STD", 1), ("NOPE", 1)]).unwrap_err();
        assert_eq!(
            (e.field(), e.reason()),
            (Some("items[1].sku"), ReasonCode::UnknownSku)
        );
        let e = price(&c, &[("SIM-STD", 0)]).unwrap_err();
        assert_eq!(
            (e.field(), e.reason()),
            (Some("items[0].quantity"), ReasonCode::OutOfRange)
        );
        let e = price(&c, &[("SIM-STD", MAX_QUANTITY + 1)]).unwrap_err();
        assert_eq!(e.reason(), ReasonCode::OutOfRange);
        assert!(price(&c, &[("SIM-STD", MAX_QUANTITY)]).is_ok());
        let e = price(&c, &[("SIM-STD", 1), ("sim-std", 2)]).unwrap_err();
        assert_eq!(
            (e.field(), e.reason()),
            (Some("items[1].sku"), ReasonCode::DuplicateSku)
        );
    }

    proptest! {
        #[test]
        fn ord_2_net_plus_vat_is_gross_for_arbitrary_lines(
            lines in prop::collection::vec((0i64..10_000_000, 0u32..=2500, 1u32..=MAX_QUANTITY, 0u32..=4), 1..20),
        ) {
            // unit price with up to 4 decimals, VAT rate 0..=25 % with one decimal.
            let priced: Vec<OrderLine> = lines
                .iter()
                .enumerate()
                .map(|(i, (unit, rate, qty, scale))| {
                    OrderLine::compute(
                        sku(&format!("S{i}")),
                        "x".into(),
                        *qty,
                        Money::new(Decimal::new(*unit, *scale), Currency::EUR),
                        Decimal::new(i64::from(*rate), 1),
                    )
                    .unwrap()
                })
                .collect();
            for l in &priced {
                prop_assert_eq!(l.net.checked_add(l.vat).unwrap(), l.gross);
                prop_assert!(l.net.amount.scale() <= 2 && l.vat.amount.scale() <= 2);
            }
            let t = OrderTotals::of_lines(Currency::EUR, &priced).unwrap();
            prop_assert_eq!(t.net.checked_add(t.vat).unwrap(), t.gross);
        }
    }
}
