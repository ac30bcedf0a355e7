//! Crockford's base32, the one encoding of everything a person reads aloud or types from paper:
//! order numbers (ORD-1) and recovery codes (AUTH-6).
//!
//! The alphabet has no I, L, O or U. Decoding is tolerant the way Crockford specifies: any case,
//! `O` read as `0`, `I` and `L` read as `1`, and the separators `-`, space and tab ignored.

use std::sync::LazyLock;

use data_encoding::{Encoding, Specification};

/// The 32 symbols, value order.
const SYMBOLS: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// Built once; `None` only if the specification below were invalid, which the tests rule out.
static ENCODING: LazyLock<Option<Encoding>> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str(SYMBOLS);
    spec.translate.from.push_str("abcdefghjkmnpqrstvwxyzoOiIlL");
    spec.translate.to.push_str("ABCDEFGHJKMNPQRSTVWXYZ001111");
    spec.ignore.push_str("- \t");
    spec.encoding().ok()
});

/// The symbol for the low 5 bits of `value` (one random byte per symbol is uniform, as 32
/// divides 256).
pub(crate) fn symbol(value: u8) -> char {
    SYMBOLS
        .as_bytes()
        .get(usize::from(value & 31))
        .map_or('0', |&b| char::from(b))
}

/// `bytes` as upper-case symbols, 5 bits each, most significant first, unpadded.
pub(crate) fn encode(bytes: &[u8]) -> String {
    ENCODING
        .as_ref()
        .map(|encoding| encoding.encode(bytes))
        .unwrap_or_default()
}

/// The bytes of typed `text` (separators ignored, look-alikes mapped); `None` on any other
/// character, a symbol count that does not make whole bytes, or non-zero trailing bits.
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    ENCODING.as_ref()?.decode(text.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crockford_specification_is_valid_and_tolerant() {
        assert!(ENCODING.is_some());
        assert_eq!(encode(&[0xff; 5]), "ZZZZZZZZ");
        assert_eq!(encode(&[0x9f, 0x3c, 0x01, 0xaa, 0x55]), "KWY03AJN");
        assert_eq!(
            decode("kwyo-3ajn"),
            Some(vec![0x9f, 0x3c, 0x01, 0xaa, 0x55])
        );
        assert_eq!(decode("iIlL 1\t111"), decode("11111111"));
        for bad in ["U0000000", "0000_0000", "0000000é", "0"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        let symbols: String = (0..32).map(symbol).collect();
        assert_eq!(symbols, SYMBOLS);
        assert_eq!(symbol(32), '0');
    }

    proptest! {
        #[test]
        fn crockford_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..20)) {
            prop_assert_eq!(decode(&encode(&bytes)), Some(bytes.clone()));
            prop_assert_eq!(decode(&encode(&bytes).to_lowercase()), Some(bytes));
        }
    }
}
