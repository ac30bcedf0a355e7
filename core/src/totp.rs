//! The optional second factor (AUTH-6): TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps)
//! and single-use recovery codes.
//!
//! Everything is a function of values passed in: the secret comes from 20 random bytes the caller
//! draws, `now` from the caller's clock, and the last accepted time step from the store, so
//! [`TotpSecret::verify`] can refuse any step at or before it — a time step is never accepted
//! twice, even by two logins racing within the same 30 seconds (the store writes the accepted
//! step with a compare-and-set).
//!
//! Encrypting the secret with the host key is the storage layer's job: this module gives the raw
//! bytes ([`TotpSecret::expose_bytes`]) and takes them back ([`TotpSecret::from_bytes`]); no
//! authenticated cipher is among `core`'s dependencies, so none is improvised here.
//!
//! ```
//! use selfcare_core::totp::TotpSecret;
//! let secret = TotpSecret::from_random(*b"12345678901234567890");
//! let now = time::OffsetDateTime::from_unix_timestamp(59).unwrap();
//! // The RFC 6238 test vector, truncated to 6 digits.
//! assert_eq!(secret.code_at(now).unwrap(), "287082");
//! let step = secret.verify("287082", now, None).unwrap();
//! assert!(secret.verify("287082", now, Some(step)).is_err());
//! ```

use std::fmt;

use secrecy::SecretString;
use time::OffsetDateTime;
use totp_rs::{Algorithm, Secret, Totp};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::crockford;
use crate::error::{Error, ReasonCode, Result, text_field};
use crate::tokens::TokenHash;

/// Bytes of a TOTP secret (160 bits, the size RFC 4226 recommends).
pub const SECRET_BYTES: usize = 20;
/// Digits of a code.
pub const DIGITS: u8 = 6;
/// Seconds of a time step.
pub const STEP_SECONDS: u64 = 30;
/// Steps either side of the current one that are accepted (clock drift, typing time).
pub const SKEW_STEPS: u64 = 1;

/// A user's TOTP secret. Never printed, zeroized on drop; store it encrypted with the host key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct TotpSecret([u8; SECRET_BYTES]);

impl TotpSecret {
    /// A new secret from 20 random bytes drawn by the caller from a CSPRNG (enrolment).
    pub fn from_random(bytes: [u8; SECRET_BYTES]) -> Self {
        TotpSecret(bytes)
    }

    /// A stored secret, after the storage layer decrypted it.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `totp_secret` with `InvalidFormat` unless exactly 20 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        <[u8; SECRET_BYTES]>::try_from(bytes)
            .map(TotpSecret)
            .map_err(|_| {
                Error::validation("totp_secret", ReasonCode::InvalidFormat, "must be 20 bytes")
            })
    }

    /// The raw bytes, for the storage layer to encrypt. Never log or store them in the clear.
    pub fn expose_bytes(&self) -> &[u8; SECRET_BYTES] {
        &self.0
    }

    fn totp(&self) -> Result<Totp> {
        totp_rs::Builder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(DIGITS)
            .with_step_duration(STEP_SECONDS)
            // The window is walked here, step by step, to know which step matched.
            .with_skew(0)
            .with_secret(Secret::new_stack(self.0))
            .build()
            .map_err(|_| invalid_code())
    }

    /// The secret in RFC 4648 base32 (no padding), for typing into an authenticator app by
    /// hand.
    pub fn base32(&self) -> SecretString {
        SecretString::from(Secret::new_stack(self.0).to_base32())
    }

    /// The `otpauth://totp/…` URI an authenticator app reads from a QR code: label
    /// `issuer:account`, the base32 secret, `issuer`, SHA1, 6 digits, 30-second period. It
    /// contains the secret, hence the secret wrapper.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `issuer` or `account` when empty, longer than 100
    /// characters, containing control characters (`Required`, `TooLong`, `ControlCharacters`)
    /// or a colon (`InvalidFormat`, the label separator).
    pub fn provisioning_uri(&self, issuer: &str, account: &str) -> Result<SecretString> {
        let issuer = label_part("issuer", issuer)?;
        let account = label_part("account", account)?;
        let secret = Secret::new_stack(self.0).to_base32();
        let issuer = percent_encode(&issuer);
        let uri = format!(
            "otpauth://totp/{issuer}:{}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
            percent_encode(&account),
        );
        Ok(SecretString::from(uri))
    }

    /// The code for the step containing `now` (what an authenticator app shows): for tests,
    /// demos and tools.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `code` with `TotpCodeInvalid` for an instant before 1970.
    pub fn code_at(&self, now: OffsetDateTime) -> Result<String> {
        let seconds = u64::try_from(now.unix_timestamp()).map_err(|_| invalid_code())?;
        Ok(self.totp()?.generate(seconds).to_string())
    }

    /// Checks a code typed at `now`. Accepts the current step and one either side, but never a
    /// step at or before `last_used_step`; returns the accepted step, which the caller stores
    /// as the new `last_used_step`. Spaces inside the code are ignored ("123 456").
    ///
    /// # Errors
    /// [`Error::Validation`] on field `code` with `TotpCodeReused` when the code is right but
    /// only for a step already used, otherwise `TotpCodeInvalid`.
    pub fn verify(
        &self,
        code: &str,
        now: OffsetDateTime,
        last_used_step: Option<u64>,
    ) -> Result<u64> {
        let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        if code.len() != usize::from(DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid_code());
        }
        let seconds = u64::try_from(now.unix_timestamp()).map_err(|_| invalid_code())?;
        let current = seconds / STEP_SECONDS;
        let totp = self.totp()?;
        let mut accepted: Option<u64> = None;
        let mut matched_used_step = false;
        // Every candidate is computed, so the time taken does not tell which one matched.
        for step in current.saturating_sub(SKEW_STEPS)..=current.saturating_add(SKEW_STEPS) {
            let Some(at) = step.checked_mul(STEP_SECONDS) else {
                continue;
            };
            if totp.check(&code, at).is_some() {
                if last_used_step.is_some_and(|last| step <= last) {
                    matched_used_step = true;
                } else {
                    accepted = Some(step);
                }
            }
        }
        match accepted {
            Some(step) => Ok(step),
            None if matched_used_step => Err(Error::validation(
                "code",
                ReasonCode::TotpCodeReused,
                "was already used; wait for the next code",
            )),
            None => Err(invalid_code()),
        }
    }
}

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(***)")
    }
}

fn invalid_code() -> Error {
    Error::validation("code", ReasonCode::TotpCodeInvalid, "is not valid")
}

fn label_part(field: &str, raw: &str) -> Result<String> {
    let value = text_field(field, raw, 100, true, false)?;
    if value.contains(':') {
        return Err(Error::validation(
            field,
            ReasonCode::InvalidFormat,
            "must not contain a colon",
        ));
    }
    Ok(value)
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Recovery codes made at once (AUTH-6).
pub const RECOVERY_CODE_COUNT: usize = 10;
/// Characters of one recovery code (Crockford base32: 5 bits each, 80 bits per code, so the
/// stored SHA-256 cannot be reversed by trying every code).
pub const RECOVERY_CODE_CHARS: usize = 16;
/// Random bytes [`generate_recovery_codes`] needs: one per character.
pub const RECOVERY_RANDOM_BYTES: usize = RECOVERY_CODE_COUNT * RECOVERY_CODE_CHARS;

/// Bytes a recovery code's symbols carry (5 bits each).
const RECOVERY_CODE_BYTES: usize = RECOVERY_CODE_CHARS * 5 / 8;

/// One recovery code as shown to the user once, grouped `XXXX-XXXX-XXXX-XXXX`. Never printed by
/// `Debug`; store only [`RecoveryCode::hash`].
#[derive(Clone)]
pub struct RecoveryCode(SecretString);

impl RecoveryCode {
    /// The code to show to the user.
    pub fn expose(&self) -> &str {
        secrecy::ExposeSecret::expose_secret(&self.0)
    }

    /// The stored form: SHA-256 of the code without separators.
    pub fn hash(&self) -> TokenHash {
        let mut canonical = canonical_recovery_code(self.expose()).unwrap_or_default();
        let hash = TokenHash::of_text(&canonical);
        canonical.zeroize();
        hash
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(***)")
    }
}

/// Makes [`RECOVERY_CODE_COUNT`] codes from the caller's random bytes (one byte per character;
/// 32 divides 256, so every character is uniform). Regenerating replaces all stored hashes.
pub fn generate_recovery_codes(random: &[u8; RECOVERY_RANDOM_BYTES]) -> Vec<RecoveryCode> {
    random
        .chunks_exact(RECOVERY_CODE_CHARS)
        .map(|chunk| {
            let mut text = String::with_capacity(RECOVERY_CODE_CHARS + 3);
            for (i, &b) in chunk.iter().enumerate() {
                if i > 0 && i % 4 == 0 {
                    text.push('-');
                }
                text.push(crockford::symbol(b));
            }
            RecoveryCode(SecretString::from(text))
        })
        .collect()
}

/// The canonical form of a typed code: separators and spaces dropped, upper-cased, the
/// look-alikes O→0 and I/L→1 mapped; `None` unless 16 Crockford characters remain.
fn canonical_recovery_code(input: &str) -> Option<String> {
    let mut bytes = crockford::decode(input)?;
    // 16 symbols are exactly 10 bytes, so decoding and encoding again gives the canonical text.
    let canonical = (bytes.len() == RECOVERY_CODE_BYTES).then(|| crockford::encode(&bytes));
    bytes.zeroize();
    canonical
}

/// Finds which stored, unused recovery code `input` is; compares against every hash in constant
/// time. The caller records that index as used (single use) in the same transaction as the
/// login.
pub fn verify_recovery_code(input: &str, stored_hashes: &[TokenHash]) -> Option<usize> {
    let mut canonical = canonical_recovery_code(input)?;
    let candidate = TokenHash::of_text(&canonical);
    canonical.zeroize();
    let mut found = None;
    for (index, stored) in stored_hashes.iter().enumerate() {
        if *stored == candidate && found.is_none() {
            found = Some(index);
        }
    }
    found
}

/// [`verify_recovery_code`] as a `Result`, for the login flow.
///
/// # Errors
/// [`Error::Validation`] on field `code` with `RecoveryCodeInvalid` when no stored code matches.
pub fn redeem_recovery_code(input: &str, stored_hashes: &[TokenHash]) -> Result<usize> {
    verify_recovery_code(input, stored_hashes).ok_or_else(|| {
        Error::validation(
            "code",
            ReasonCode::RecoveryCodeInvalid,
            "is not a valid recovery code",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use secrecy::ExposeSecret;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(seconds).unwrap()
    }

    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_random(*b"12345678901234567890")
    }

    #[test]
    fn auth_6_rfc_6238_sha1_vectors() {
        // RFC 6238 Appendix B (SHA-1), last 6 of the 8 digits.
        let secret = rfc_secret();
        for (t, code) in [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
        ] {
            assert_eq!(secret.code_at(at(t)).unwrap(), code, "t = {t}");
        }
    }

    #[test]
    fn auth_6_accepts_current_step_and_one_either_side() {
        let secret = rfc_secret();
        let now = at(1_111_111_111);
        let step = 1_111_111_111 / 30;
        let code = secret.code_at(now).unwrap();
        assert_eq!(secret.verify(&code, now, None).unwrap(), step);
        // A code from the previous and from the next step.
        let previous = secret.code_at(now - time::Duration::seconds(30)).unwrap();
        assert_eq!(secret.verify(&previous, now, None).unwrap(), step - 1);
        let next = secret.code_at(now + time::Duration::seconds(30)).unwrap();
        assert_eq!(secret.verify(&next, now, None).unwrap(), step + 1);
        // Two steps away is refused.
        let old = secret.code_at(now - time::Duration::seconds(60)).unwrap();
        assert_eq!(
            secret.verify(&old, now, None).unwrap_err().reason(),
            ReasonCode::TotpCodeInvalid
        );
        // Spaces are ignored; other shapes are invalid.
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert_eq!(secret.verify(&spaced, now, None).unwrap(), step);
        for bad in ["", "12345", "1234567", "abcdef", "１２３４５６"] {
            assert_eq!(
                secret.verify(bad, now, None).unwrap_err().reason(),
                ReasonCode::TotpCodeInvalid,
                "{bad}"
            );
        }
        assert!(secret.verify(&code, at(-1), None).is_err());
    }

    #[test]
    fn auth_6_a_time_step_is_never_accepted_twice() {
        let secret = rfc_secret();
        let now = at(1_234_567_890);
        let code = secret.code_at(now).unwrap();
        let step = secret.verify(&code, now, None).unwrap();
        let err = secret.verify(&code, now, Some(step)).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::TotpCodeReused);
        assert_eq!(err.field(), Some("code"));
        // Still refused 30 s later, while the step is inside the window.
        assert!(
            secret
                .verify(&code, now + time::Duration::seconds(30), Some(step))
                .is_err()
        );
        // After using the next step, a code of the current one is refused too.
        let previous = secret.code_at(now - time::Duration::seconds(30)).unwrap();
        assert_eq!(
            secret
                .verify(&previous, now, Some(step))
                .unwrap_err()
                .reason(),
            ReasonCode::TotpCodeReused
        );
        // The next step's code is fine.
        let next = secret.code_at(now + time::Duration::seconds(30)).unwrap();
        assert_eq!(secret.verify(&next, now, Some(step)).unwrap(), step + 1);
    }

    #[test]
    fn auth_6_provisioning_uri_carries_issuer_account_and_base32_secret() {
        let secret = rfc_secret();
        assert_eq!(
            secret.base32().expose_secret(),
            "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
        );
        let uri = secret
            .provisioning_uri("Acme Mobile", "ada@example.com")
            .unwrap();
        assert_eq!(
            uri.expose_secret(),
            "otpauth://totp/Acme%20Mobile:ada%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Acme%20Mobile&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(
            secret
                .provisioning_uri("Acme:Mobile", "ada")
                .unwrap_err()
                .field(),
            Some("issuer")
        );
        assert_eq!(
            secret.provisioning_uri("Acme", " ").unwrap_err().reason(),
            ReasonCode::Required
        );
        // Non-ASCII is percent-encoded as UTF-8.
        let uri = secret.provisioning_uri("Mobil", "שרה").unwrap();
        assert!(uri.expose_secret().contains("Mobil:%D7%A9%D7%A8%D7%94?"));
    }

    #[test]
    fn auth_6_secret_bytes_round_trip_for_encrypted_storage() {
        let secret = TotpSecret::from_random([7; 20]);
        let back = TotpSecret::from_bytes(secret.expose_bytes()).unwrap();
        assert_eq!(back.expose_bytes(), &[7; 20]);
        assert_eq!(
            TotpSecret::from_bytes(&[1; 16]).unwrap_err().field(),
            Some("totp_secret")
        );
    }

    #[test]
    fn auth_6_recovery_codes_are_readable_distinct_and_stored_hashed() {
        let mut state: u32 = 12_345;
        let random: Vec<u8> = (0..RECOVERY_RANDOM_BYTES)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (state >> 16) as u8
            })
            .collect();
        let codes = generate_recovery_codes(&random.clone().try_into().unwrap());
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        let hashes: Vec<TokenHash> = codes.iter().map(RecoveryCode::hash).collect();
        for (i, code) in codes.iter().enumerate() {
            let text = code.expose();
            assert_eq!(text.len(), 19, "{text}");
            assert_eq!(text.matches('-').count(), 3);
            assert!(!text.contains(['I', 'L', 'O', 'U']));
            assert_eq!(verify_recovery_code(text, &hashes), Some(i));
            assert_ne!(hashes[i].to_hex(), text);
        }
        let unique: std::collections::HashSet<&str> = codes.iter().map(|c| c.expose()).collect();
        assert_eq!(unique.len(), RECOVERY_CODE_COUNT);
        // Typed sloppily: lower case, no dashes, O for 0 and l for 1.
        let first = codes[0].expose().to_owned();
        let sloppy = first
            .replace('-', " ")
            .to_lowercase()
            .replace('0', "o")
            .replace('1', "l");
        assert_eq!(verify_recovery_code(&sloppy, &hashes), Some(0));
        // Single use: once the caller drops the used hash, the code no longer works.
        assert_eq!(verify_recovery_code(&first, &hashes[1..]), None);
        assert_eq!(
            redeem_recovery_code(&first, &hashes[1..])
                .unwrap_err()
                .reason(),
            ReasonCode::RecoveryCodeInvalid
        );
        for bad in ["", "UUUU-UUUU-UUUU-UUUU", &first[..18], "ééé"] {
            assert_eq!(verify_recovery_code(bad, &hashes), None, "{bad}");
        }
    }

    #[test]
    fn auth_6_debug_of_secrets_shows_nothing() {
        let secret = rfc_secret();
        let debug = format!("{secret:?}");
        assert_eq!(debug, "TotpSecret(***)");
        let uri = secret.provisioning_uri("Acme", "ada").unwrap();
        assert!(!format!("{uri:?}").contains("GEZDG"));
        assert!(!format!("{:?}", secret.base32()).contains("GEZDG"));
        let codes = generate_recovery_codes(&[9; RECOVERY_RANDOM_BYTES]);
        let code = &codes[0];
        assert!(!format!("{code:?}").contains(code.expose()));
    }

    proptest! {
        #[test]
        fn auth_6_accepted_steps_strictly_increase(
            secret in any::<[u8; 20]>(),
            start in 0i64..4_000_000_000,
            gaps in proptest::collection::vec(0i64..70, 1..12),
        ) {
            let secret = TotpSecret::from_random(secret);
            let mut last: Option<u64> = None;
            let mut now = start;
            for gap in gaps {
                now += gap;
                let code = secret.code_at(at(now)).unwrap();
                match secret.verify(&code, at(now), last) {
                    Ok(step) => {
                        prop_assert!(last.is_none_or(|l| step > l));
                        last = Some(step);
                    }
                    Err(e) => {
                        // Refused only because this step (or a later one) was used.
                        prop_assert!(last.is_some_and(|l| l >= u64::try_from(now).unwrap() / 30));
                        prop_assert_eq!(e.reason(), ReasonCode::TotpCodeReused);
                    }
                }
            }
        }

        #[test]
        fn auth_6_verify_never_panics(code in "\\PC{0,12}", t in any::<i32>(), last in any::<Option<u64>>()) {
            let _ = rfc_secret().verify(&code, at(i64::from(t)), last);
            let _ = verify_recovery_code(&code, &[]);
        }
    }
}
