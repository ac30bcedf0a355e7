//! SHA-256 digests: one type for every 32-byte hash the domain stores or compares (token hashes,
//! audit MACs and personal-value hashes, request fingerprints, document checksums).
//!
//! A [`Sha256Digest`] compares in constant time (a digest is often the stored form of a
//! secret), is written and serialised as 64 lower-case hex digits, parses hex in either case,
//! and shows only a short prefix in `Debug`. Types with a purpose of their own
//! ([`crate::tokens::TokenHash`], [`crate::audit::Mac`], [`crate::orders::RequestFingerprint`])
//! wrap it, so one kind of digest cannot be passed where another is expected.
//!
//! ```
//! use selfcare_core::digest::Sha256Digest;
//! let d = Sha256Digest::of(b"abc");
//! assert_eq!(
//!     d.to_hex(),
//!     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
//! );
//! assert_eq!(Sha256Digest::parse_hex(&d.to_hex().to_uppercase()).unwrap(), d);
//! assert_eq!(format!("{d:?}"), "Sha256Digest(ba7816bf…)");
//! ```

use std::fmt;

use data_encoding::{HEXLOWER, HEXLOWER_PERMISSIVE};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{Error, ReasonCode, Result};

/// A SHA-256 digest. Equality is constant-time; `Display` and serde use 64 lower-case hex
/// digits; `Debug` shows the first 8.
#[derive(Clone, Copy, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// Bytes of a digest.
    pub const LEN: usize = 32;

    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Sha256Digest(Sha256::digest(bytes).into())
    }

    /// Wraps digest bytes (from a store, or computed elsewhere).
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Sha256Digest(bytes)
    }

    /// The 32 digest bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        HEXLOWER.encode(&self.0)
    }

    /// Parses 64 hex digits (either case; surrounding whitespace ignored).
    ///
    /// # Errors
    /// [`Error::Validation`] on field `digest` with `InvalidFormat`.
    pub fn parse_hex(raw: &str) -> Result<Self> {
        Self::parse_hex_field("digest", raw)
    }

    /// [`Sha256Digest::parse_hex`] reporting errors on `field`, for the types that wrap it.
    ///
    /// # Errors
    /// [`Error::Validation`] on `field` with `InvalidFormat`.
    pub fn parse_hex_field(field: &str, raw: &str) -> Result<Self> {
        HEXLOWER_PERMISSIVE
            .decode(raw.trim().as_bytes())
            .ok()
            .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
            .map(Sha256Digest)
            .ok_or_else(|| {
                Error::validation(field, ReasonCode::InvalidFormat, "must be 64 hex digits")
            })
    }

    /// The first 4 bytes in hex, for `Debug` output that identifies without revealing.
    pub(crate) fn short_hex(&self) -> String {
        HEXLOWER.encode(self.0.get(..4).unwrap_or(&[]))
    }
}

impl PartialEq for Sha256Digest {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::hash::Hash for Sha256Digest {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({}…)", self.short_hex())
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl TryFrom<String> for Sha256Digest {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse_hex(&raw)
    }
}

impl From<Sha256Digest> for String {
    fn from(digest: Sha256Digest) -> String {
        digest.to_hex()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn digest_matches_fips_180_vector_and_hex_round_trips() {
        let d = Sha256Digest::of(b"");
        assert_eq!(
            d.to_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Sha256Digest::parse_hex(&format!(" {d} ")).unwrap(), d);
        assert_ne!(Sha256Digest::of(b"a"), d);
    }

    #[test]
    fn digest_rejects_malformed_hex_on_the_named_field() {
        for bad in ["", "xyz", &"g".repeat(64), &"a".repeat(63), &"a".repeat(66)] {
            let err = Sha256Digest::parse_hex_field("mac", bad).unwrap_err();
            assert_eq!(err.reason(), ReasonCode::InvalidFormat, "{bad:?}");
            assert!(err.to_string().starts_with("mac"), "{err}");
        }
    }

    #[test]
    fn digest_serialises_as_hex_and_debug_shows_a_prefix_only() {
        let d = Sha256Digest::of(b"abc");
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(json, format!("\"{}\"", d.to_hex()));
        assert_eq!(serde_json::from_str::<Sha256Digest>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Sha256Digest>("\"00\"").is_err());
        let debug = format!("{d:?}");
        assert!(debug.contains("ba7816bf"));
        assert!(!debug.contains(&d.to_hex()));
    }

    proptest! {
        #[test]
        fn digest_hex_round_trips(bytes: [u8; 32]) {
            let d = Sha256Digest::from_bytes(bytes);
            prop_assert_eq!(Sha256Digest::parse_hex(&d.to_hex()).unwrap(), d);
            prop_assert_eq!(Sha256Digest::parse_hex(&d.to_hex().to_uppercase()).unwrap(), d);
            prop_assert_eq!(d.as_bytes(), &bytes);
        }

        #[test]
        fn digest_parse_never_panics(raw in ".{0,80}") {
            let _ = Sha256Digest::parse_hex(&raw);
        }
    }
}
