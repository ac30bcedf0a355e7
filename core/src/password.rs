//! Passwords (AUTH-1): the secret wrapper, the policy for new passwords, and Argon2id hashing.
//!
//! - [`Password`] wraps what a person typed; it never prints and is zeroized on drop.
//! - [`check_new_password`] (or [`PasswordPolicy::check`]) applies the policy — NFC, 15..=128
//!   characters (8..=128 when the organisation requires a second factor, NIST SP 800-63B-4), no
//!   composition rules, zxcvbn score ≥ 3 with the user's own data as context — and yields a
//!   [`NormalizedPassword`], the only thing [`hash_password`] accepts.
//! - [`verify_password`] checks a login attempt; [`needs_rehash`] says when the stored hash was
//!   made with weaker parameters than the configured ones (re-hash on a successful login);
//!   [`dummy_hash`] + [`verify_against_dummy`] make an unknown e-mail cost exactly one Argon2
//!   verification, like a wrong password.
//!
//! Salts are passed in (16 random bytes from the caller): `core` draws no randomness.
//!
//! ```
//! use selfcare_core::password::{
//!     check_new_password, hash_password, verify_password, Password, PasswordParams,
//! };
//! let typed = Password::new("correct horse battery staple");
//! let new = check_new_password(&typed, false, &["Ada Lovelace", "ada@example.com"]).unwrap();
//! let hash = hash_password(&new, &[7; 16], &PasswordParams::testing()).unwrap();
//! assert!(verify_password(&typed, &hash));
//! assert!(!verify_password(&Password::new("correct horse battery stapler"), &hash));
//! ```

use std::fmt;

use argon2::password_hash::phc::PasswordHash as Phc;
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use secrecy::{ExposeSecret, SecretString};
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, ReasonCode, Result};

/// Fewest characters of a password when the organisation does not require a second factor.
pub const MIN_CHARS: usize = 15;
/// Fewest characters of a password when the organisation requires a second factor.
pub const MIN_CHARS_WITH_SECOND_FACTOR: usize = 8;
/// Most characters of a password (after NFC, in Unicode scalar values).
pub const MAX_CHARS: usize = 128;
/// The lowest zxcvbn score a new password may have.
pub const MIN_SCORE: u8 = 3;

const FIELD: &str = "password";

/// A password as typed by a person. It never appears in `Debug` output and its memory is
/// zeroized when dropped. It is not `Serialize`: only a wire request writes one out, through
/// [`wire_form`].
#[derive(Clone)]
pub struct Password(SecretString);

impl Password {
    /// Wraps a typed password. Nothing is checked here: a login attempt must be verified as
    /// typed, and a new password goes through [`check_new_password`].
    pub fn new(raw: impl Into<String>) -> Self {
        Password(SecretString::from(raw.into()))
    }

    /// The password as typed, for the one place that must send it on: a wire request to the
    /// service (`RemotePortal`). Never log or store it.
    pub fn expose_for_wire(&self) -> &str {
        self.0.expose_secret()
    }

    /// The NFC form, the one that is hashed and verified.
    fn normalized(&self) -> SecretString {
        SecretString::from(self.0.expose_secret().nfc().collect::<String>())
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

impl<'de> serde::Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Password::new)
    }
}

/// `serialize_with` functions for the `Password` fields of wire requests (DESIGN §4): the one
/// place a password is written out, as typed. Reading needs nothing special (`Password` is
/// `Deserialize`).
pub mod wire_form {
    use serde::Serializer;

    use super::Password;

    /// Writes a password as typed.
    ///
    /// # Errors
    /// The serializer's error.
    pub fn serialize<S: Serializer>(password: &Password, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(password.expose_for_wire())
    }

    /// Writes an optional password as typed, or `null`.
    ///
    /// # Errors
    /// The serializer's error.
    pub fn serialize_option<S: Serializer>(
        password: &Option<Password>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match password {
            Some(p) => serializer.serialize_some(p.expose_for_wire()),
            None => serializer.serialize_none(),
        }
    }
}

/// A new password that passed the policy of AUTH-1, in NFC. Only [`check_new_password`] makes
/// one, so [`hash_password`] can only ever store a password the policy accepted.
#[derive(Clone)]
pub struct NormalizedPassword(SecretString);

impl NormalizedPassword {
    /// Its length in characters (Unicode scalar values), as the policy counted it.
    pub fn char_count(&self) -> usize {
        self.0.expose_secret().chars().count()
    }
}

impl fmt::Debug for NormalizedPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NormalizedPassword(***)")
    }
}

/// The password policy of one organisation (AUTH-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Whether the organisation requires a second factor; then 8 characters suffice.
    pub second_factor_required: bool,
}

impl PasswordPolicy {
    /// The fewest characters this policy accepts.
    pub fn min_chars(&self) -> usize {
        if self.second_factor_required {
            MIN_CHARS_WITH_SECOND_FACTOR
        } else {
            MIN_CHARS
        }
    }

    /// Checks a new password; see [`check_new_password`].
    ///
    /// # Errors
    /// As [`check_new_password`].
    pub fn check(&self, password: &Password, context: &[&str]) -> Result<NormalizedPassword> {
        let normalized = password.normalized();
        let text = normalized.expose_secret();
        let count = text.chars().count();
        let min = self.min_chars();
        if count < min {
            let why = if self.second_factor_required {
                ""
            } else {
                " (8 when the organisation requires a second factor)"
            };
            return Err(Error::validation(
                FIELD,
                ReasonCode::PasswordTooShort,
                format!("must be at least {min} characters long{why}; it has {count}"),
            ));
        }
        if count > MAX_CHARS {
            return Err(Error::validation(
                FIELD,
                ReasonCode::PasswordTooLong,
                format!("must be at most {MAX_CHARS} characters long; it has {count}"),
            ));
        }
        let strength = password_strength_of(text, context);
        if strength.score < MIN_SCORE {
            return Err(Error::validation(
                FIELD,
                ReasonCode::PasswordTooWeak,
                strength.message(),
            ));
        }
        Ok(NormalizedPassword(normalized))
    }
}

/// Checks a new password against AUTH-1 and returns its NFC form.
///
/// The length is counted in Unicode scalar values after NFC: 15..=128, or 8..=128 when
/// `second_factor_required`. There are no composition rules. The password is rejected when
/// zxcvbn scores it below 3 given `context` — pass the user's name, e-mail and company name;
/// each is also split into words, and an e-mail's local part and domain are added.
///
/// # Errors
/// [`Error::Validation`] on field `password` with `PasswordTooShort`, `PasswordTooLong` or
/// `PasswordTooWeak`; the message explains in English (zxcvbn's warning and suggestions for a
/// weak one) and never contains the password.
pub fn check_new_password(
    password: &Password,
    second_factor_required: bool,
    context: &[&str],
) -> Result<NormalizedPassword> {
    PasswordPolicy {
        second_factor_required,
    }
    .check(password, context)
}

/// How guessable a password is, for a strength meter in a form (AUTH-7: the app explains,
/// the service decides).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordStrength {
    /// zxcvbn score, 0 (guessable) to 4; the policy needs at least 3.
    pub score: u8,
    /// zxcvbn's warning, in English.
    pub warning: Option<String>,
    /// zxcvbn's suggestions, in English.
    pub suggestions: Vec<String>,
}

impl PasswordStrength {
    fn message(&self) -> String {
        let mut message = String::from("is too easy to guess");
        match &self.warning {
            Some(warning) => {
                message.push_str(": ");
                message.push_str(warning);
            }
            None => message.push('.'),
        }
        for suggestion in &self.suggestions {
            message.push(' ');
            message.push_str(suggestion);
        }
        message
    }
}

/// Scores a password (NFC first) with zxcvbn and the same context as [`check_new_password`].
pub fn password_strength(password: &Password, context: &[&str]) -> PasswordStrength {
    password_strength_of(password.normalized().expose_secret(), context)
}

/// A password whose characters, once the user's own words are taken out, are fewer than this
/// is "guessable from the user's own data" (AUTH-1) whatever zxcvbn scores it.
const MIN_OWN_CHARS: usize = 6;

fn password_strength_of(text: &str, context: &[&str]) -> PasswordStrength {
    let words = context_words(context);
    let refs: Vec<&str> = words.iter().map(String::as_str).collect();
    let entropy = zxcvbn::zxcvbn(text, &refs);
    let feedback = entropy.feedback();
    let mut strength = PasswordStrength {
        score: u8::from(entropy.score()),
        warning: feedback.and_then(|f| f.warning()).map(|w| w.to_string()),
        suggestions: feedback
            .map(|f| f.suggestions().iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
    };
    // zxcvbn scores a concatenation of three context words (`JonasWeberNordlicht`) as strong
    // as three unrelated ones; a password built from the user's own data is not.
    if own_chars_left(text, &words) < MIN_OWN_CHARS && strength.score >= MIN_SCORE {
        strength.score = MIN_SCORE - 1;
        strength.warning =
            Some("This password is made of your own name, e-mail address or company.".into());
        strength.suggestions = vec!["Add a few words that have nothing to do with you.".into()];
    }
    strength
}

/// How many letters and digits remain of `text` after removing every occurrence of the context
/// words (longest first, case-insensitively). `usize::MAX` when no context word occurs, so a
/// short password unrelated to the user is left to zxcvbn alone.
fn own_chars_left(text: &str, words: &[String]) -> usize {
    let mut rest: String = text.nfc().collect::<String>().to_lowercase();
    let mut sorted: Vec<&String> = words.iter().collect();
    sorted.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    let mut found = false;
    for word in sorted {
        if rest.contains(word.as_str()) {
            found = true;
            rest = rest.replace(word.as_str(), " ");
        }
    }
    if found {
        rest.chars().filter(|c| c.is_alphanumeric()).count()
    } else {
        usize::MAX
    }
}

/// Expands the context: each value whole, its words, and for an e-mail its local part and the
/// first label of its domain, so `ada.lovelace@acme.example` also penalises `lovelace` and
/// `acme`.
fn context_words(context: &[&str]) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    let mut push = |w: &str| {
        let w = w.trim().nfc().collect::<String>().to_lowercase();
        if w.chars().count() >= 3 && !words.contains(&w) {
            words.push(w);
        }
    };
    for value in context {
        push(value);
        if let Some((local, domain)) = value.trim().rsplit_once('@') {
            push(local);
            push(domain.split('.').next().unwrap_or(domain));
        }
        for word in value.split(|c: char| !c.is_alphanumeric()) {
            push(word);
        }
    }
    words
}

/// Argon2id cost parameters. The default is [`PasswordParams::owasp`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordParams {
    /// Memory in KiB (`m`).
    pub memory_kib: u32,
    /// Passes over memory (`t`).
    pub iterations: u32,
    /// Lanes (`p`).
    pub parallelism: u32,
}

/// Upper bounds on parameters, so a corrupt stored hash or a typo in configuration cannot make
/// one verification allocate more than 4 GiB or run for hours.
const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
const MAX_ITERATIONS: u32 = 1_000;
const MAX_PARALLELISM: u32 = 255;

impl PasswordParams {
    /// The OWASP minimum for Argon2id: 19 MiB, 2 iterations, 1 lane. The default.
    pub const fn owasp() -> Self {
        PasswordParams {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }

    /// Tiny parameters (8 KiB, 1 iteration, 1 lane) that make tests fast.
    ///
    /// **For tests only**: hashes made with them are cheap to crack. A store that sees them
    /// re-hashes on the next login once real parameters are configured ([`needs_rehash`]).
    pub const fn testing() -> Self {
        PasswordParams {
            memory_kib: 8,
            iterations: 1,
            parallelism: 1,
        }
    }

    fn argon2(&self) -> Result<Argon2<'static>> {
        let invalid = |why: &str| {
            Error::validation(
                "password_params",
                ReasonCode::OutOfRange,
                format!("are not valid Argon2id parameters: {why}"),
            )
        };
        if self.memory_kib > MAX_MEMORY_KIB
            || self.iterations > MAX_ITERATIONS
            || self.parallelism > MAX_PARALLELISM
        {
            return Err(invalid("too large"));
        }
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| invalid(&e.to_string()))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

impl Default for PasswordParams {
    fn default() -> Self {
        Self::owasp()
    }
}

/// A stored password hash: an Argon2id PHC string
/// (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). `Debug` shows the parameters only.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PasswordHash {
    phc: String,
    params: PasswordParams,
}

impl PasswordHash {
    /// Parses a stored PHC string; only Argon2id (version 19) with a salt, an output and sane
    /// parameters is accepted.
    ///
    /// # Errors
    /// [`Error::Validation`] on field `password_hash` with `InvalidFormat`.
    pub fn parse(raw: &str) -> Result<Self> {
        let invalid = || {
            Error::validation(
                "password_hash",
                ReasonCode::InvalidFormat,
                "is not an Argon2id PHC string",
            )
        };
        let phc = Phc::new(raw).map_err(|_| invalid())?;
        if phc.algorithm.as_str() != "argon2id"
            || phc.version != Some(0x13)
            || phc.salt.is_none()
            || phc.hash.is_none()
        {
            return Err(invalid());
        }
        let stored = Params::try_from(&phc).map_err(|_| invalid())?;
        let params = PasswordParams {
            memory_kib: stored.m_cost(),
            iterations: stored.t_cost(),
            parallelism: stored.p_cost(),
        };
        params.argon2().map_err(|_| invalid())?;
        Ok(PasswordHash {
            phc: raw.to_owned(),
            params,
        })
    }

    /// The PHC string, the form to store.
    pub fn as_str(&self) -> &str {
        &self.phc
    }

    /// The parameters this hash was made with.
    pub fn params(&self) -> PasswordParams {
        self.params
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Salt and output would let an attacker start cracking from a log line.
        let PasswordParams {
            memory_kib,
            iterations,
            parallelism,
        } = self.params;
        write!(
            f,
            "PasswordHash($argon2id$v=19$m={memory_kib},t={iterations},p={parallelism}$***)"
        )
    }
}

impl TryFrom<String> for PasswordHash {
    type Error = Error;
    fn try_from(raw: String) -> Result<Self> {
        Self::parse(&raw)
    }
}

impl From<PasswordHash> for String {
    fn from(hash: PasswordHash) -> String {
        hash.phc
    }
}

/// Hashes a new password with Argon2id, the caller's 16 random salt bytes and `params`.
///
/// This is the expensive call (about 80 ms at OWASP parameters in release builds): run it on a
/// blocking thread.
///
/// # Errors
/// [`Error::Validation`] on field `password_params` with `OutOfRange` when `params` are not
/// valid Argon2id parameters.
pub fn hash_password(
    password: &NormalizedPassword,
    salt: &[u8; 16],
    params: &PasswordParams,
) -> Result<PasswordHash> {
    hash_secret(password.0.expose_secret(), salt, params)
}

fn hash_secret(text: &str, salt: &[u8; 16], params: &PasswordParams) -> Result<PasswordHash> {
    let phc = params
        .argon2()?
        .hash_password_with_salt(text.as_bytes(), salt)
        .map_err(|e| {
            Error::validation(
                "password_params",
                ReasonCode::OutOfRange,
                format!("cannot hash with these parameters: {e}"),
            )
        })?;
    Ok(PasswordHash {
        phc: phc.to_string(),
        params: *params,
    })
}

/// Verifies a typed password (NFC first) against a stored hash, with the parameters recorded
/// in the hash. The comparison of outputs is constant-time. Costs one Argon2 run.
pub fn verify_password(password: &Password, hash: &PasswordHash) -> bool {
    let Ok(phc) = Phc::new(&hash.phc) else {
        return false;
    };
    let normalized = password.normalized();
    Argon2::default()
        .verify_password(normalized.expose_secret().as_bytes(), &phc)
        .is_ok()
}

/// Whether `hash` was made with weaker parameters than `current`: any of memory, iterations
/// or lanes lower. Then, after a successful login, hash the password again with `current`
/// (AUTH-1) — the login has the plain password in hand, the only moment that is possible.
/// A hash whose parameters are all at least `current` is kept, even when they differ.
pub fn needs_rehash(hash: &PasswordHash, current: &PasswordParams) -> bool {
    let stored = hash.params;
    stored.memory_kib < current.memory_kib
        || stored.iterations < current.iterations
        || stored.parallelism < current.parallelism
}

/// A fixed, valid hash at `params`, to verify against when the submitted e-mail is unknown so
/// that the login costs the same one Argon2 verification as a wrong password (AUTH-1). Compute it
/// once (it costs one hash) and keep it beside the configuration; use it with
/// [`verify_against_dummy`].
///
/// # Errors
/// As [`hash_password`] for invalid `params`.
pub fn dummy_hash(params: &PasswordParams) -> Result<PasswordHash> {
    // Any fixed value works: the result of verifying against it is ignored.
    hash_secret(
        "selfcare dummy password for unknown e-mails",
        b"selfcare-dummy!!",
        params,
    )
}

/// Runs one Argon2 verification of `password` against `dummy` and always returns `false`: the
/// path for an unknown e-mail, which must cost the same as a wrong password and must never
/// succeed, even for the dummy's own plain text.
pub fn verify_against_dummy(password: &Password, dummy: &PasswordHash) -> bool {
    let outcome = verify_password(password, dummy);
    // Keeps the verification from being optimised away now that its result is unused.
    std::hint::black_box(outcome);
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STRONG: &str = "correct horse battery staple";

    fn testing_hash(text: &str, salt: u8) -> PasswordHash {
        let normalized = NormalizedPassword(SecretString::from(text.nfc().collect::<String>()));
        hash_password(&normalized, &[salt; 16], &PasswordParams::testing()).unwrap()
    }

    /// Deterministic text without repeats or dictionary words, so only length decides.
    fn pseudo_random_text(len: usize) -> String {
        let alphabet: Vec<char> = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789#%&*+=?"
            .chars()
            .collect();
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        (0..len)
            .map(|_| {
                state = state
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                alphabet[(state >> 33) as usize % alphabet.len()]
            })
            .collect()
    }

    #[test]
    fn auth_1_length_is_15_to_128_characters_after_nfc() {
        // 14 characters fails, 15 passes (random-looking so zxcvbn does not interfere).
        let short = Password::new("q7#Lm2@vX9!pRt4");
        assert_eq!(short.normalized().expose_secret().chars().count(), 15);
        assert!(check_new_password(&short, false, &[]).is_ok());
        let err = check_new_password(&Password::new("q7#Lm2@vX9!pRt"), false, &[]).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::PasswordTooShort);
        assert_eq!(err.field(), Some("password"));

        let long_ok = pseudo_random_text(128);
        assert!(check_new_password(&Password::new(long_ok.clone()), false, &[]).is_ok());
        let err =
            check_new_password(&Password::new(format!("{long_ok}x")), false, &[]).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::PasswordTooLong);
    }

    #[test]
    fn auth_1_length_counts_characters_not_bytes_and_nfc_composes() {
        // "e" + combining acute is one character after NFC: 20 characters as typed, 14 after NFC.
        let decomposed = "e\u{301}".repeat(6) + "Qz8#vL1@";
        assert_eq!(decomposed.chars().count(), 20);
        let err = check_new_password(&Password::new(decomposed), false, &[]).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::PasswordTooShort);
        // 15 Hebrew letters are 30 bytes but 15 characters: long enough; 14 are not.
        if let Err(e) = check_new_password(&Password::new("שלוםעולםמחשבגדו"), false, &[])
        {
            assert_ne!(e.reason(), ReasonCode::PasswordTooShort);
        }
        let err = check_new_password(&Password::new("שלוםעולםמחשבגד"), false, &[]).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::PasswordTooShort);
    }

    #[test]
    fn auth_1_second_factor_lowers_minimum_to_8() {
        let nine = Password::new("x7$Kp;4Wq");
        assert_eq!(
            check_new_password(&nine, false, &[]).unwrap_err().reason(),
            ReasonCode::PasswordTooShort
        );
        assert!(check_new_password(&nine, true, &[]).is_ok());
        // Eight characters pass the length rule; zxcvbn still scores 8 random characters 2.
        let eight = Password::new("Vq7#mZ2!");
        assert_eq!(
            check_new_password(&eight, true, &[]).unwrap_err().reason(),
            ReasonCode::PasswordTooWeak
        );
        let seven = Password::new("Vq7#mZ2");
        assert_eq!(
            check_new_password(&seven, true, &[]).unwrap_err().reason(),
            ReasonCode::PasswordTooShort
        );
    }

    #[test]
    fn auth_1_common_and_guessable_passwords_are_rejected_with_feedback() {
        let common = Password::new("passwordpassword");
        let err = check_new_password(&common, false, &[]).unwrap_err();
        assert_eq!(err.reason(), ReasonCode::PasswordTooWeak);
        let Error::Validation { message, .. } = &err else {
            panic!("not a validation error")
        };
        assert!(message.starts_with("is too easy to guess"), "{message}");
        assert!(!message.contains("passwordpassword"));
        assert!(message.len() > "is too easy to guess.".len(), "{message}");
    }

    #[test]
    fn auth_1_context_words_make_a_password_guessable() {
        // Strong on its own, weak once it is known to be the user's own data.
        let raw = "Zephyrine Quackenbosh-Wolfeschlegel";
        let own = Password::new(raw);
        assert!(check_new_password(&own, false, &[]).is_ok());
        let err = check_new_password(
            &own,
            false,
            &["Zephyrine Quackenbosh-Wolfeschlegel", "zq@example.com"],
        )
        .unwrap_err();
        assert_eq!(err.reason(), ReasonCode::PasswordTooWeak);

        // The e-mail's local part and the company name count too.
        let mail = Password::new("xanthoparmelia.qwyrtz2");
        assert!(check_new_password(&mail, false, &[]).is_ok());
        assert!(
            check_new_password(&mail, false, &["xanthoparmelia.qwyrtz2@acme.example"]).is_err()
        );
    }

    #[test]
    fn auth_1_password_made_of_own_data_is_refused_even_when_zxcvbn_scores_it_3() {
        let context = [
            "Jonas Weber",
            "jonas.weber@nordlicht.example",
            "Nordlicht IoT GmbH",
        ];
        for own in [
            "JonasWeberNordlicht",
            "nordlicht-iot-2026",
            "Weber.Jonas.Nordlicht!",
            "NORDLICHTjonas1990",
        ] {
            let err = check_new_password(&Password::new(own), false, &context).unwrap_err();
            assert_eq!(err.reason(), ReasonCode::PasswordTooWeak, "{own}");
            assert!(
                !err.to_string().contains(own),
                "the message must not echo the password"
            );
            assert!(password_strength(&Password::new(own), &context).score < MIN_SCORE);
        }
        // The user's own words inside an otherwise strong passphrase are fine.
        let mixed = "jonas rides a purple tractor through fog";
        assert!(check_new_password(&Password::new(mixed), false, &context).is_ok());
        // Without context the same words are just words.
        assert_eq!(own_chars_left("JonasWeberNordlicht", &[]), usize::MAX);
    }

    #[test]
    fn auth_1_no_composition_rules() {
        // Lower-case letters and spaces only: accepted when long and unguessable.
        assert!(check_new_password(&Password::new(STRONG), false, &[]).is_ok());
    }

    #[test]
    fn auth_1_hash_verifies_and_wrong_password_fails() {
        let new = check_new_password(&Password::new(STRONG), false, &[]).unwrap();
        let hash = hash_password(&new, &[1; 16], &PasswordParams::testing()).unwrap();
        assert!(hash.as_str().starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
        assert!(verify_password(&Password::new(STRONG), &hash));
        assert!(!verify_password(
            &Password::new("correct horse battery stapl"),
            &hash
        ));
        // Different salts give different hashes of the same password.
        let other = hash_password(&new, &[2; 16], &PasswordParams::testing()).unwrap();
        assert_ne!(hash, other);
        // The stored string parses back to an equal value.
        assert_eq!(PasswordHash::parse(hash.as_str()).unwrap(), hash);
    }

    #[test]
    fn auth_1_verification_normalises_to_nfc() {
        let hash = testing_hash("caf\u{e9} au lait, s'il vous pla\u{ee}t", 3);
        assert!(verify_password(
            &Password::new("cafe\u{301} au lait, s'il vous plai\u{302}t"),
            &hash
        ));
    }

    #[test]
    fn auth_1_owasp_parameters_are_the_default() {
        assert_eq!(PasswordParams::default(), PasswordParams::owasp());
        let new = check_new_password(&Password::new(STRONG), false, &[]).unwrap();
        let hash = hash_password(&new, &[9; 16], &PasswordParams::default()).unwrap();
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            hash.as_str()
        );
        assert!(!needs_rehash(&hash, &PasswordParams::owasp()));
    }

    #[test]
    fn auth_1_rehash_when_parameters_were_raised() {
        let hash = testing_hash(STRONG, 4);
        assert!(needs_rehash(&hash, &PasswordParams::owasp()));
        assert!(!needs_rehash(&hash, &PasswordParams::testing()));
        let more_lanes = PasswordParams {
            parallelism: 2,
            memory_kib: 16,
            ..PasswordParams::testing()
        };
        assert!(needs_rehash(&hash, &more_lanes));
        let stronger = hash_password(
            &NormalizedPassword(SecretString::from(STRONG)),
            &[4; 16],
            &more_lanes,
        )
        .unwrap();
        assert!(!needs_rehash(&stronger, &PasswordParams::testing()));
    }

    #[test]
    fn auth_1_unknown_email_costs_one_verification_and_never_succeeds() {
        let params = PasswordParams::testing();
        let dummy = dummy_hash(&params).unwrap();
        assert_eq!(dummy, dummy_hash(&params).unwrap(), "the dummy is fixed");
        assert_eq!(dummy.params(), params);
        // Even the dummy's own plain text does not log anyone in.
        let own = Password::new("selfcare dummy password for unknown e-mails");
        assert!(verify_password(&own, &dummy));
        assert!(!verify_against_dummy(&own, &dummy));
        assert!(!verify_against_dummy(&Password::new(STRONG), &dummy));
    }

    #[test]
    fn auth_1_invalid_parameters_and_hashes_are_refused() {
        let bad = PasswordParams {
            memory_kib: 1,
            ..PasswordParams::testing()
        };
        assert_eq!(
            dummy_hash(&bad).unwrap_err().field(),
            Some("password_params")
        );
        let huge = PasswordParams {
            memory_kib: u32::MAX,
            ..PasswordParams::testing()
        };
        assert!(dummy_hash(&huge).is_err());
        for raw in [
            "",
            "plain",
            "$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
            "$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNo",
        ] {
            assert!(PasswordHash::parse(raw).is_err(), "{raw}");
        }
        let hash: std::result::Result<PasswordHash, _> =
            serde_json::from_str("\"$argon2id$v=19$m=8,t=1,p=1$abc\"");
        assert!(hash.is_err());
    }

    #[test]
    fn auth_1_debug_never_shows_secrets() {
        let p = Password::new("hunter2hunter2hunter2");
        assert_eq!(format!("{p:?}"), "Password(***)");
        let n = check_new_password(&Password::new(STRONG), false, &[]).unwrap();
        assert!(!format!("{n:?}").contains("horse"));
        let hash = testing_hash(STRONG, 5);
        let debug = format!("{hash:?}");
        let output = hash.as_str().rsplit('$').next().unwrap();
        let salt = hash.as_str().rsplit('$').nth(1).unwrap();
        assert!(!debug.contains(output) && !debug.contains(salt), "{debug}");
        assert!(debug.contains("m=8,t=1,p=1"));
        let err = check_new_password(&Password::new("hunter2hunter2hunter2"), false, &["x"]);
        assert!(!format!("{err:?}").contains("hunter2"));
    }

    #[test]
    fn auth_1_strength_meter_matches_the_policy() {
        let weak = password_strength(&Password::new("passwordpassword"), &[]);
        assert!(weak.score < MIN_SCORE);
        assert!(weak.warning.is_some() || !weak.suggestions.is_empty());
        let strong = password_strength(&Password::new(STRONG), &[]);
        assert!(strong.score >= MIN_SCORE);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn auth_1_verify_of_hash_holds_for_any_password(raw in "\\PC{0,40}", salt in any::<u8>()) {
            let hash = testing_hash(&raw, salt);
            prop_assert!(verify_password(&Password::new(raw.clone()), &hash));
            let wrong = Password::new(format!("{raw}x"));
            prop_assert!(!verify_password(&wrong, &hash));
        }
    }
}
