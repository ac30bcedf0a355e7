//! Order numbers (ORD-1): short, human-friendly, 40 random bits.

use std::fmt;

use crate::crockford;
use crate::error::{Error, ReasonCode, Result};

/// Bytes in a number; 5 × 8 = 40 bits, 8 Crockford symbols.
const BYTES: usize = 5;

/// An order number: 8 Crockford base32 symbols carrying 40 random bits, shown in two groups
/// (`K7Q4-9XM2`). Guessing one of a million orders takes about half a million tries per hit,
/// which the throttled guest lookup (ORD-4) makes futile.
///
/// Parsing is case-insensitive, ignores spaces and dashes, and reads `I`/`L` as `1` and `O`
/// as `0`.
///
/// ```
/// use selfcare_core::orders::OrderNumber;
/// let n = OrderNumber::new([0x9f, 0x3c, 0x01, 0xaa, 0x55]);
/// assert_eq!(n.to_string(), "KWY0-3AJN");
/// assert_eq!(OrderNumber::parse("kwyo 3ajn").unwrap(), n);
/// ```
#[derive(
    Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct OrderNumber(u64);

impl OrderNumber {
    /// A number from 5 random bytes supplied by the caller (all 40 bits are used).
    pub fn new(random: [u8; 5]) -> Self {
        let bits = random
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        OrderNumber(bits)
    }

    /// Parses a number as a person may type it.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `order_number` with `Required` or `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let bytes = crockford::decode(raw.trim()).ok_or_else(invalid)?;
        match <[u8; BYTES]>::try_from(bytes.as_slice()) {
            Ok(random) => Ok(OrderNumber::new(random)),
            Err(_) if bytes.is_empty() => Err(Error::validation(
                "order_number",
                ReasonCode::Required,
                "is required",
            )),
            Err(_) => Err(invalid()),
        }
    }

    /// The 40 bits of the number.
    pub fn bits(self) -> u64 {
        self.0
    }
}

fn invalid() -> Error {
    Error::validation(
        "order_number",
        ReasonCode::InvalidFormat,
        "must be 8 letters or digits, such as K7Q4-9XM2",
    )
}

impl fmt::Display for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0.to_be_bytes();
        let text = crockford::encode(bytes.get(bytes.len() - BYTES..).unwrap_or(&[]));
        let (a, b) = text.split_at_checked(text.len() / 2).unwrap_or((&text, ""));
        write!(f, "{a}-{b}")
    }
}
impl fmt::Debug for OrderNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrderNumber({self})")
    }
}
impl TryFrom<String> for OrderNumber {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}
impl From<OrderNumber> for String {
    fn from(value: OrderNumber) -> String {
        value.to_string()
    }
}
impl std::str::FromStr for OrderNumber {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ord_1_order_number_is_grouped_and_tolerant() {
        let n = OrderNumber::new([0xff; 5]);
        assert_eq!(n.to_string(), "ZZZZ-ZZZZ");
        assert_eq!(n.bits(), (1u64 << 40) - 1);
        let z = OrderNumber::new([0; 5]);
        assert_eq!(z.to_string(), "0000-0000");
        assert_eq!(OrderNumber::parse("oooo-OOOO").unwrap(), z);
        assert_eq!(
            OrderNumber::parse("1111-1111").unwrap(),
            OrderNumber::parse("iIlL-1 1 1 1").unwrap()
        );
        for bad in [
            "",
            "K7Q4-9XM",
            "K7Q4-9XM22",
            "K7Q4-9XMU",
            "K7Q4_9XM2",
            "K7Q4-9XMé",
        ] {
            assert!(OrderNumber::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            OrderNumber::parse("").unwrap_err().reason(),
            ReasonCode::Required
        );
    }

    #[test]
    fn ord_1_order_number_serialises_as_display_form() {
        let n = OrderNumber::new([1, 2, 3, 4, 5]);
        let json = serde_json::to_string(&n).unwrap();
        assert_eq!(json, format!("\"{n}\""));
        assert_eq!(serde_json::from_str::<OrderNumber>(&json).unwrap(), n);
    }

    proptest! {
        #[test]
        fn ord_1_order_numbers_round_trip(random: [u8; 5]) {
            let n = OrderNumber::new(random);
            prop_assert_eq!(OrderNumber::parse(&n.to_string()).unwrap(), n);
            prop_assert_eq!(OrderNumber::parse(&n.to_string().to_lowercase()).unwrap(), n);
        }

        #[test]
        fn ord_1_order_numbers_keep_all_40_bits(a: [u8; 5], b: [u8; 5]) {
            // Distinct random inputs give distinct numbers: no bit is thrown away.
            prop_assume!(a != b);
            let (na, nb) = (OrderNumber::new(a), OrderNumber::new(b));
            prop_assert_ne!(na, nb);
            prop_assert_ne!(na.to_string(), nb.to_string());
        }
    }
}
