//! Orders (ORD-1, ORD-2, ORD-4, ORD-5): order numbers, types and statuses, pricing with VAT,
//! invoices and additional documents, shipments and the guest view, payment intents and
//! idempotency.
//!
//! | submodule | rule |
//! |---|---|
//! | [`OrderNumber`], [`OrderStatus`], [`Order`], [`sort_newest_first`] | ORD-1 |
//! | [`price_order`], [`tax_treatment`], [`Invoice`], [`DocumentTrail`] | ORD-2 |
//! | [`Shipment`], [`GuestOrderView`], [`guest_lookup`] | ORD-4 |
//! | [`IdempotencyKey`], [`IntentLease`], [`GatewayKey`], [`RequestFingerprint`] | ORD-5 |

mod documents;
mod intents;
mod number;
mod pricing;
mod shipments;
mod status;

pub use documents::{
    AdditionalDocument, DocumentFile, DocumentKind, DocumentTrail, Invoice, InvoiceNumber,
    InvoiceNumbering, MAX_DOCUMENT_BYTES, NewDocument, NewInvoice,
};
pub use intents::{
    GatewayKey, IDEMPOTENCY_KEY_MAX, IdempotencyKey, IntentLease, LEASE, LeaseDecision,
    PaymentIntentState, RequestFingerprint,
};
pub use number::OrderNumber;
pub use pricing::{
    MAX_LINES, MAX_QUANTITY, OrderLine, OrderTotals, PricedOrder, TaxCustomer, TaxTreatment,
    price_order, tax_treatment,
};
pub use shipments::{
    Shipment, ShipmentStatus, TRACKING_PLACEHOLDER, TrackingLink, TrackingNumber, TrackingTemplate,
};
pub use status::{OrderStatus, OrderType};

use subtle::ConstantTimeEq;
use time::OffsetDateTime;
use unicode_normalization::UnicodeNormalization;

use crate::address::AddressSnapshot;
use crate::catalogue::Sku;
use crate::contact::Email;
use crate::error::{Error, ReasonCode, Result};
use crate::ids::{AddressId, CardId, OrderId, OrgId};

/// How an order was paid, as shown to the logged-in customer (never to a guest).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum OrderPayment {
    /// Charged to a stored card.
    Card {
        /// The card.
        card: CardId,
        /// Its brand, for display.
        brand: String,
        /// Its last four digits, for display.
        last4: String,
        /// The gateway's id of the charge, for refunds (ORD-2); absent until the charge
        /// succeeded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        charge_id: Option<String>,
    },
    /// Invoiced; paid by bank transfer.
    OnInvoice,
}

/// An order (ORD-1) with what the customer sees of it. Status changes go through
/// [`Order::set_status`], which enforces the state machine.
///
/// The SIMs assigned to an order are not part of it: an order can have a million of them, so
/// each is its own [`crate::sims::Sim`] row carrying the order's id, read in batches.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Order {
    /// Its id (UUID v7: sorts by creation).
    pub id: OrderId,
    /// The organisation.
    pub org: OrgId,
    /// The human-friendly number.
    pub number: OrderNumber,
    /// The type.
    pub order_type: OrderType,
    /// When it was placed.
    #[serde(with = "crate::formats::instant")]
    pub placed_at: OffsetDateTime,
    status: OrderStatus,
    /// Lines, tax treatment and totals.
    pub priced: PricedOrder,
    /// The order's e-mail (a guest's proof, ORD-4).
    pub email: Email,
    /// A copy of the billing address as it was when the order was placed (ADDR-3): editing or
    /// deleting the address-book entry later never changes it. Its postal code is the second
    /// guest proof (ORD-4).
    pub billing_address: AddressSnapshot,
    /// A copy of the shipping address as it was when the order was placed (ADDR-3).
    pub shipping_address: AddressSnapshot,
    /// How it was paid.
    pub payment: OrderPayment,
    /// Its shipments.
    pub shipments: Vec<Shipment>,
}

/// What a new order is made of; its status starts at `InPreparation`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    /// Its id.
    pub id: OrderId,
    /// The organisation.
    pub org: OrgId,
    /// The human-friendly number.
    pub number: OrderNumber,
    /// The type.
    pub order_type: OrderType,
    /// When it was placed.
    pub placed_at: OffsetDateTime,
    /// Lines, tax treatment and totals.
    pub priced: PricedOrder,
    /// The order's e-mail.
    pub email: Email,
    /// A snapshot of the billing address used ([`crate::address::PostalAddress::snapshot`]).
    pub billing_address: AddressSnapshot,
    /// A snapshot of the shipping address used.
    pub shipping_address: AddressSnapshot,
    /// How it was paid.
    pub payment: OrderPayment,
}

impl Order {
    /// A new order, `InPreparation`, without shipments.
    pub fn new(new: NewOrder) -> Self {
        Order {
            id: new.id,
            org: new.org,
            number: new.number,
            order_type: new.order_type,
            placed_at: new.placed_at,
            status: OrderStatus::InPreparation,
            priced: new.priced,
            email: new.email,
            billing_address: new.billing_address,
            shipping_address: new.shipping_address,
            payment: new.payment,
            shipments: Vec::new(),
        }
    }

    /// The current status.
    pub fn status(&self) -> OrderStatus {
        self.status
    }

    /// The billing address's postal code (the second guest proof, ORD-4), taken from the
    /// snapshot so it cannot disagree with the address printed on the invoice.
    pub fn billing_postal_code(&self) -> &str {
        self.billing_address.postal_code()
    }

    /// Changes the status (ORD-1).
    ///
    /// # Errors
    /// [`Error::Conflict`] with `IllegalOrderTransition`; the order is left unchanged.
    pub fn set_status(&mut self, to: OrderStatus) -> Result<()> {
        OrderStatus::transition(self.status, to)?;
        self.status = to;
        Ok(())
    }

    /// Restores an order read from a store, status included.
    pub fn restore(new: NewOrder, status: OrderStatus, shipments: Vec<Shipment>) -> Self {
        Order {
            status,
            shipments,
            ..Order::new(new)
        }
    }
}

/// Sorts orders newest first (ORD-1): by placing time, then by id (UUID v7, so ties keep
/// creation order too).
pub fn sort_newest_first(orders: &mut [Order]) {
    orders.sort_by_key(|o| std::cmp::Reverse((o.placed_at, o.id)));
}

/// Picks the address an order uses (ORD-5): the one given, else the default.
///
/// # Errors
/// [`Error::Validation`] on `field` with `Required` when neither exists.
pub fn choose_address(
    field: &str,
    given: Option<AddressId>,
    default: Option<AddressId>,
) -> Result<AddressId> {
    given.or(default).ok_or_else(|| {
        Error::validation(
            field,
            ReasonCode::Required,
            "no address given and no default address stored",
        )
    })
}

/// One item as a guest sees it: what and how many, no prices.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestItem {
    /// The product.
    pub sku: Sku,
    /// Its name.
    pub description: String,
    /// Units.
    pub quantity: u32,
}

/// One shipment as a guest sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestShipment {
    /// Carrier name.
    pub carrier: String,
    /// Tracking number.
    pub tracking_number: TrackingNumber,
    /// Tracking link.
    pub tracking_link: Option<TrackingLink>,
    /// Where it is.
    pub status: ShipmentStatus,
}

/// What a guest sees of an order (ORD-4): number, status, items and shipments only. A separate
/// type, so addresses, payment details, ICCIDs, IMSIs and MSISDNs cannot leak through a field
/// someone adds to [`Order`] later.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuestOrderView {
    /// The number the guest entered, in canonical form.
    pub number: OrderNumber,
    /// The status.
    pub status: OrderStatus,
    /// The items.
    pub items: Vec<GuestItem>,
    /// The shipments.
    pub shipments: Vec<GuestShipment>,
}

impl GuestOrderView {
    /// The guest view of `order`.
    pub fn of(order: &Order) -> Self {
        GuestOrderView {
            number: order.number,
            status: order.status,
            items: order
                .priced
                .lines
                .iter()
                .map(|l| GuestItem {
                    sku: l.sku.clone(),
                    description: l.description.clone(),
                    quantity: l.quantity,
                })
                .collect(),
            shipments: order
                .shipments
                .iter()
                .map(|s| GuestShipment {
                    carrier: s.carrier.clone(),
                    tracking_number: s.tracking_number.clone(),
                    tracking_link: s.tracking_link.clone(),
                    status: s.status,
                })
                .collect(),
        }
    }
}

/// A guest's lookup request: the order number and the proof (order e-mail or billing postal
/// code).
#[derive(Debug, Clone, PartialEq)]
pub struct GuestLookup {
    /// The number to look up.
    pub number: OrderNumber,
    proof: String,
}

impl GuestLookup {
    /// Parses a guest's input. Malformed input is `NotFound`, the same answer as a wrong pair,
    /// so the form cannot be used to learn anything.
    ///
    /// # Errors
    /// [`Error::NotFound`] when the number is malformed or the proof is empty.
    pub fn parse(number: &str, email_or_postal_code: &str) -> Result<Self> {
        let number = OrderNumber::parse(number).map_err(|_| Error::NotFound)?;
        let proof = email_or_postal_code.trim();
        if proof.is_empty() || proof.len() > 320 {
            return Err(Error::NotFound);
        }
        Ok(GuestLookup {
            number,
            proof: proof.to_owned(),
        })
    }

    /// Whether the proof matches `order`: the e-mail compared case-insensitively after NFC, or
    /// the postal code compared without spaces and dashes, case-insensitively. Comparisons are
    /// constant-time in the content.
    pub fn matches(&self, order: &Order) -> bool {
        let email = Email::login_key(&self.proof);
        let by_email = ct_eq(&email, order.email.key());
        let code = postal_key(&self.proof);
        let expected = postal_key(order.billing_postal_code());
        let by_code = !expected.is_empty() && ct_eq(&code, &expected);
        order.number == self.number && (by_email | by_code)
    }
}

fn postal_key(raw: &str) -> String {
    raw.nfkc()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Answers a guest lookup (ORD-4): `order` is what the store found under the number (if
/// anything). Throttling per source and per number is the caller's, before this.
///
/// # Errors
/// [`Error::NotFound`] for an unknown number and for a wrong proof alike.
pub fn guest_lookup(lookup: &GuestLookup, order: Option<&Order>) -> Result<GuestOrderView> {
    match order {
        Some(order) if lookup.matches(order) => Ok(GuestOrderView::of(order)),
        _ => Err(Error::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::address::{AddressInput, PostalAddress};
    use crate::catalogue::{Catalogue, Seller};
    use crate::contact::Country;
    use crate::ids::ShipmentId;
    use time::macros::datetime;

    fn snapshot(
        name: &str,
        street: &str,
        postal_code: &str,
        phone: Option<&str>,
    ) -> AddressSnapshot {
        PostalAddress::parse(&AddressInput {
            name: name.into(),
            street: street.into(),
            postal_code: postal_code.into(),
            city: "London".into(),
            country: "GB".into(),
            phone: phone.map(Into::into),
            ..AddressInput::default()
        })
        .unwrap()
        .snapshot()
    }

    fn order(n: u8, at: OffsetDateTime) -> Order {
        let priced = price_order(
            &Catalogue::example(),
            &Seller::example().unwrap(),
            &TaxCustomer {
                business: false,
                vat_id: None,
                billing_country: Country::parse("DE").unwrap(),
            },
            &[(Sku::parse("SIM-STD").unwrap(), 2)],
        )
        .unwrap();
        let mut o = Order::new(NewOrder {
            id: OrderId::new(at, [n; 10]),
            org: OrgId::new(at, [0; 10]),
            number: OrderNumber::new([n, 2, 3, 4, 5]),
            order_type: OrderType::FirstOrder,
            placed_at: at,
            priced,
            email: Email::parse("Grace.Hopper@Example.com").unwrap(),
            billing_address: snapshot("Grace Hopper", "Downing Street", "SW1A 1AA", None),
            shipping_address: snapshot(
                "Ada Lovelace",
                "Baker Street",
                "NW1 6XE",
                Some("+4915123456789"),
            ),
            payment: OrderPayment::Card {
                card: CardId::new(at, [9; 10]),
                brand: "visa".into(),
                last4: "4242".into(),
                charge_id: Some("ch_1".into()),
            },
        });
        o.shipments.push(
            Shipment::new(
                ShipmentId::new(at, [3; 10]),
                "DHL",
                TrackingNumber::parse("JJD000390007").unwrap(),
                None,
                Some(&TrackingTemplate::parse("https://t.example/{tracking}").unwrap()),
                ShipmentStatus::InTransit,
            )
            .unwrap(),
        );
        o
    }

    #[test]
    fn ord_1_orders_are_listed_newest_first() {
        let t = datetime!(2026-05-01 12:00 UTC);
        let mut list = vec![
            order(1, t),
            order(2, t + time::Duration::days(1)),
            order(3, t - time::Duration::days(1)),
        ];
        sort_newest_first(&mut list);
        let numbers: Vec<u8> = list.iter().map(|o| (o.number.bits() >> 32) as u8).collect();
        assert_eq!(numbers, vec![2, 1, 3]);
    }

    #[test]
    fn ord_1_order_status_changes_through_the_state_machine() {
        let mut o = order(1, datetime!(2026-05-01 12:00 UTC));
        assert_eq!(o.status(), OrderStatus::InPreparation);
        o.set_status(OrderStatus::Cancelled).unwrap();
        assert_eq!(
            o.set_status(OrderStatus::Completed),
            Err(Error::conflict(ReasonCode::IllegalOrderTransition))
        );
        assert_eq!(o.status(), OrderStatus::Cancelled);
    }

    #[test]
    fn ord_4_guest_view_never_shows_addresses_payment_or_sim_numbers() {
        let o = order(1, datetime!(2026-05-01 12:00 UTC));
        let view = GuestOrderView::of(&o);
        let json = serde_json::to_string(&view).unwrap();
        for secret in [
            "Grace",
            "Example.com",
            "SW1A",
            "Downing",
            "Ada",
            "Baker",
            "NW1",
            "London",
            "4242",
            "visa",
            "8988228000000000004",
            "262011234567890",
            "4915123456789",
            &o.org.to_string(),
            "EUR",
        ] {
            assert!(!json.contains(secret), "{secret} leaked: {json}");
        }
        assert!(json.contains("JJD000390007"));
        assert!(json.contains("SIM card"));
        assert!(json.contains("in_preparation"));
        assert_eq!(view.items[0].quantity, 2);
    }

    #[test]
    fn ord_4_guest_lookup_matches_email_or_postal_code_normalised() {
        let o = order(1, datetime!(2026-05-01 12:00 UTC));
        let number = o.number.to_string().to_lowercase();
        for proof in [
            "grace.hopper@example.com",
            "  GRACE.HOPPER@EXAMPLE.COM ",
            "sw1a1aa",
            "SW1A-1AA",
        ] {
            let lookup = GuestLookup::parse(&number, proof).unwrap();
            assert_eq!(
                guest_lookup(&lookup, Some(&o)).unwrap().number,
                o.number,
                "{proof}"
            );
        }
    }

    #[test]
    fn ord_4_only_the_billing_postal_code_is_a_proof() {
        let o = order(1, datetime!(2026-05-01 12:00 UTC));
        assert_eq!(o.billing_postal_code(), "SW1A 1AA");
        let number = o.number.to_string();
        let shipping = GuestLookup::parse(&number, "NW1 6XE").unwrap();
        assert_eq!(guest_lookup(&shipping, Some(&o)), Err(Error::NotFound));
        let billing = GuestLookup::parse(&number, "sw1a 1aa").unwrap();
        assert!(guest_lookup(&billing, Some(&o)).is_ok());
    }

    #[test]
    fn addr_3_order_keeps_its_address_copies_through_a_store_round_trip() {
        let o = order(1, datetime!(2026-05-01 12:00 UTC));
        let json = serde_json::to_string(&o).unwrap();
        let back: Order = serde_json::from_str(&json).unwrap();
        assert_eq!(back, o);
        assert_eq!(back.billing_address.street(), "Downing Street");
        assert_eq!(back.shipping_address.phone_e164(), Some("+4915123456789"));
        assert_eq!(back.status(), OrderStatus::InPreparation);
    }

    #[test]
    fn an_order_is_stored_with_an_rfc3339_placed_at_to_the_nanosecond() {
        let o = order(1, datetime!(2026-05-01 12:00:00.123456789 UTC));
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["placed_at"], "2026-05-01T12:00:00.123456789Z");
        let back: Order = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, o);
        assert_eq!(back.placed_at.nanosecond(), 123_456_789);
        let mut unknown = json;
        unknown["placed"] = serde_json::json!("2026-05-01T12:00:00Z");
        assert!(serde_json::from_value::<Order>(unknown).is_err());
    }

    #[test]
    fn ord_4_wrong_pair_and_unknown_number_are_the_same_not_found() {
        let o = order(1, datetime!(2026-05-01 12:00 UTC));
        let wrong = GuestLookup::parse(&o.number.to_string(), "SW1A 1AB").unwrap();
        let unknown = GuestLookup::parse("ZZZZ-ZZZZ", "SW1A 1AA").unwrap();
        let a = guest_lookup(&wrong, Some(&o)).unwrap_err();
        let b = guest_lookup(&unknown, None).unwrap_err();
        assert_eq!(a, Error::NotFound);
        assert_eq!(a, b);
        assert_eq!(a.to_string(), b.to_string());
        // The store found another order under a different number: still NotFound.
        assert_eq!(
            guest_lookup(&unknown, Some(&o)).unwrap_err(),
            Error::NotFound
        );
        assert_eq!(
            GuestLookup::parse("garbage", "x").unwrap_err(),
            Error::NotFound
        );
        assert_eq!(
            GuestLookup::parse(&o.number.to_string(), " ").unwrap_err(),
            Error::NotFound
        );
    }

    #[test]
    fn ord_5_addresses_default_unless_given() {
        let t = datetime!(2026-05-01 12:00 UTC);
        let (a, b) = (AddressId::new(t, [1; 10]), AddressId::new(t, [2; 10]));
        assert_eq!(
            choose_address("billing_address", Some(a), Some(b)).unwrap(),
            a
        );
        assert_eq!(choose_address("billing_address", None, Some(b)).unwrap(), b);
        let e = choose_address("shipping_address", None, None).unwrap_err();
        assert_eq!(
            (e.field(), e.reason()),
            (Some("shipping_address"), ReasonCode::Required)
        );
    }
}
