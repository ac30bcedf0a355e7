//! Top-ups (TOP-1): data or SMS volume for one SIM or many, as an order of type `TopUp` or
//! `BulkTopUp`, paid by stored card or on invoice. Priced through
//! [`crate::orders::price_order`], so VAT is decided in one place.

use std::collections::BTreeSet;

use time::Date;

use crate::catalogue::{Catalogue, ProductKind, Seller, Sku};
use crate::error::{Error, ReasonCode, Result};
use crate::ids::{CardId, SimId};
use crate::orders::{MAX_QUANTITY, OrderType, PricedOrder, TaxCustomer, price_order};
use crate::payment::PaymentSettings;

/// How a top-up is paid (TOP-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(
    tag = "type",
    content = "card",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum TopUpPayment {
    /// Charged to this stored card.
    StoredCard(CardId),
    /// Put on the next invoice.
    OnInvoice,
}

impl TopUpPayment {
    /// Checks the payment can be used on `today`: a stored card must exist and not be
    /// expired (PAY-1). On invoice is always possible.
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown card; [`Error::Conflict`] with `CardExpired`.
    pub fn check(self, settings: &PaymentSettings, today: Date) -> Result<()> {
        match self {
            TopUpPayment::StoredCard(card) => settings.card(card)?.ensure_chargeable(today),
            TopUpPayment::OnInvoice => Ok(()),
        }
    }
}

/// The SIMs a top-up is for: at least one, no SIM twice, at most
/// [`MAX_QUANTITY`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "Vec<SimId>", into = "Vec<SimId>")]
pub struct TopUpTargets(Vec<SimId>);

impl TopUpTargets {
    /// Checks a list of SIMs.
    ///
    /// # Errors
    /// [`Error::Validation`] on `targets` with `Required` (empty), `TooLong`, or on
    /// `targets[i]` with `InvalidFormat` for a SIM listed twice.
    pub fn new(sims: Vec<SimId>) -> Result<Self> {
        if sims.is_empty() {
            return Err(Error::validation(
                "targets",
                ReasonCode::Required,
                "choose at least one SIM",
            ));
        }
        if sims.len() > MAX_QUANTITY as usize {
            return Err(Error::validation(
                "targets",
                ReasonCode::TooLong,
                format!("at most {MAX_QUANTITY} SIMs can be topped up at once"),
            ));
        }
        let mut seen = BTreeSet::new();
        for (i, sim) in sims.iter().enumerate() {
            if !seen.insert(*sim) {
                return Err(Error::validation(
                    format!("targets[{i}]"),
                    ReasonCode::InvalidFormat,
                    "this SIM is listed twice",
                ));
            }
        }
        Ok(TopUpTargets(sims))
    }

    /// The SIMs.
    pub fn sims(&self) -> &[SimId] {
        &self.0
    }

    /// How many SIMs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true (a target list has at least one SIM); present for the usual pair with `len`.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<Vec<SimId>> for TopUpTargets {
    type Error = Error;
    fn try_from(v: Vec<SimId>) -> Result<Self> {
        TopUpTargets::new(v)
    }
}
impl From<TopUpTargets> for Vec<SimId> {
    fn from(t: TopUpTargets) -> Self {
        t.0
    }
}

/// A priced top-up: one order line of `targets` units of the product.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PricedTopUp {
    /// `TopUp` for one SIM, `BulkTopUp` for several.
    pub order_type: OrderType,
    /// The volume each SIM receives.
    pub volume: ProductKind,
    /// Number of SIMs.
    pub targets: u32,
    /// How it is paid.
    pub payment: TopUpPayment,
    /// Lines, tax and totals.
    pub priced: PricedOrder,
}

/// Prices a top-up of product `sku` for `targets` SIMs (TOP-1).
///
/// ```
/// use selfcare_core::catalogue::{Catalogue, Seller, Sku};
/// use selfcare_core::contact::Country;
/// use selfcare_core::orders::{OrderType, TaxCustomer};
/// use selfcare_core::topups::{TopUpPayment, price_top_up};
/// let customer = TaxCustomer { business: false, vat_id: None, billing_country: Country::parse("DE").unwrap() };
/// let t = price_top_up(&Catalogue::example(), &Seller::example().unwrap(), &customer,
///     &Sku::parse("DATA-1GB").unwrap(), 3, TopUpPayment::OnInvoice).unwrap();
/// assert_eq!(t.order_type, OrderType::BulkTopUp);
/// assert_eq!(t.priced.totals.gross.to_string(), "32.13 EUR"); // 27.00 + 19 %
/// ```
///
/// # Errors
/// [`Error::Validation`] on `product` with `UnknownSku` or `NotATopUp`, on `targets` with
/// `OutOfRange` (0 or more than [`MAX_QUANTITY`]), or what [`price_order`] returns.
pub fn price_top_up(
    catalogue: &Catalogue,
    seller: &Seller,
    customer: &TaxCustomer,
    sku: &Sku,
    targets: usize,
    payment: TopUpPayment,
) -> Result<PricedTopUp> {
    let product = catalogue.get(sku).ok_or_else(|| {
        Error::validation(
            "product",
            ReasonCode::UnknownSku,
            format!("{sku} is not in the catalogue"),
        )
    })?;
    if !product.kind().is_top_up() {
        return Err(Error::validation(
            "product",
            ReasonCode::NotATopUp,
            format!("{sku} is not a data or SMS top-up"),
        ));
    }
    let count = u32::try_from(targets)
        .ok()
        .filter(|n| (1..=MAX_QUANTITY).contains(n))
        .ok_or_else(|| {
            Error::validation(
                "targets",
                ReasonCode::OutOfRange,
                format!("choose between 1 and {MAX_QUANTITY} SIMs"),
            )
        })?;
    let priced = price_order(catalogue, seller, customer, &[(sku.clone(), count)])?;
    Ok(PricedTopUp {
        order_type: if count == 1 {
            OrderType::TopUp
        } else {
            OrderType::BulkTopUp
        },
        volume: product.kind(),
        targets: count,
        payment,
        priced,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::Country;
    use crate::payment::{CardBrand, CardExpiry, CardToken, Last4, StoredCard, VerifiedCard};
    use time::macros::{date, datetime};

    fn customer(country: &str) -> TaxCustomer {
        TaxCustomer {
            business: false,
            vat_id: None,
            billing_country: Country::parse(country).unwrap(),
        }
    }

    fn top_up(sku: &str, n: usize) -> Result<PricedTopUp> {
        price_top_up(
            &Catalogue::example(),
            &Seller::example().unwrap(),
            &customer("AT"),
            &Sku::parse(sku).unwrap(),
            n,
            TopUpPayment::OnInvoice,
        )
    }

    #[test]
    fn top_1_one_sim_is_a_top_up_many_a_bulk_top_up() {
        let one = top_up("SMS-250", 1).unwrap();
        assert_eq!(one.order_type, OrderType::TopUp);
        assert_eq!(one.volume, ProductKind::SmsTopUp { count: 250 });
        assert_eq!(one.priced.totals.gross.to_string(), "3.60 EUR");
        let many = top_up("DATA-500MB", 40).unwrap();
        assert_eq!(many.order_type, OrderType::BulkTopUp);
        assert_eq!(many.priced.lines[0].quantity, 40);
        assert_eq!(many.priced.totals.net.to_string(), "200.00 EUR");
        assert_eq!(many.priced.totals.vat.to_string(), "40.00 EUR");
    }

    #[test]
    fn top_1_only_top_up_products_and_sane_counts() {
        assert_eq!(
            top_up("SIM-STD", 1).unwrap_err().reason(),
            ReasonCode::NotATopUp
        );
        assert_eq!(
            top_up("TRAVEL-30D", 1).unwrap_err().reason(),
            ReasonCode::NotATopUp
        );
        assert_eq!(
            top_up("NOPE", 1).unwrap_err().reason(),
            ReasonCode::UnknownSku
        );
        assert_eq!(
            top_up("SMS-250", 0).unwrap_err().reason(),
            ReasonCode::OutOfRange
        );
        assert_eq!(
            top_up("SMS-250", MAX_QUANTITY as usize + 1)
                .unwrap_err()
                .reason(),
            ReasonCode::OutOfRange
        );
    }

    #[test]
    fn top_1_targets_are_distinct_sims() {
        let t = datetime!(2026-01-01 0:00 UTC);
        let (a, b) = (SimId::new(t, [1; 10]), SimId::new(t, [2; 10]));
        assert_eq!(TopUpTargets::new(vec![a, b]).unwrap().len(), 2);
        assert_eq!(
            TopUpTargets::new(vec![]).unwrap_err().reason(),
            ReasonCode::Required
        );
        let e = TopUpTargets::new(vec![a, b, a]).unwrap_err();
        assert_eq!(e.field(), Some("targets[2]"));
    }

    #[test]
    fn top_1_stored_card_payment_must_be_chargeable() {
        let t = datetime!(2026-01-01 0:00 UTC);
        let id = CardId::new(t, [1; 10]);
        let mut settings = PaymentSettings::new();
        let card = StoredCard::new(
            id,
            VerifiedCard {
                token: CardToken::parse("tok_visa").unwrap(),
                brand: CardBrand::Visa,
                last4: Last4::parse("4242").unwrap(),
                expiry: CardExpiry::new(3, 2026).unwrap(),
            },
            "Ada Lovelace",
            date!(2026 - 01 - 10),
        )
        .unwrap();
        settings.save_card(card).unwrap();
        let pay = TopUpPayment::StoredCard(id);
        assert!(pay.check(&settings, date!(2026 - 03 - 31)).is_ok());
        assert_eq!(
            pay.check(&settings, date!(2026 - 04 - 01)),
            Err(Error::conflict(ReasonCode::CardExpired))
        );
        assert_eq!(
            TopUpPayment::StoredCard(CardId::new(t, [2; 10]))
                .check(&settings, date!(2026 - 01 - 10)),
            Err(Error::NotFound)
        );
        assert!(
            TopUpPayment::OnInvoice
                .check(&settings, date!(2030 - 01 - 01))
                .is_ok()
        );
    }
}
