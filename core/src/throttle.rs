//! Throttling of failed attempts (AUTH-3, and guest order lookups of ORD-4) as pure functions.
//!
//! After `n` consecutive failures under one key, the next attempt waits
//! `min(2^(n−1) s, 15 min)` from the last failure. A counter expires 24 hours after its last
//! failure. Logins are counted per submitted e-mail ([`ThrottleKey::login_email`], whether the
//! account exists or not, so the throttle reveals nothing) and per source; the larger delay
//! applies ([`combined_delay`]). A success clears the e-mail counter (the store deletes it); the
//! source counter stays, so one good account cannot launder a source guessing others. Nothing
//! ever locks an account for good: every delay ends.
//!
//! The flow of one attempt:
//! 1. [`ThrottlePolicy::check`] with the counters of every key; `Err(Throttled)` → refuse
//!    without verifying anything and without counting (the attempt was not made).
//! 2. Verify. On failure, store [`ThrottlePolicy::record_failure`] for every key; on success,
//!    delete the e-mail counter.
//!
//! ```
//! use std::time::Duration;
//! use selfcare_core::throttle::{combined_delay, record_failure};
//! let now = time::macros::datetime!(2025-01-01 0:00 UTC);
//! let mut email = None;
//! for _ in 0..3 {
//!     email = Some(record_failure(email.as_ref(), now));
//! }
//! // Three failures: the next attempt waits 2^2 = 4 s.
//! assert_eq!(combined_delay(email.as_ref(), None, now), Some(Duration::from_secs(4)));
//! ```

use std::time::Duration;

use time::OffsetDateTime;

use crate::contact::Email;
use crate::error::{Error, Result};
use crate::tokens::is_expired;

/// The throttle's numbers; part of the portal configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ThrottlePolicy {
    /// The wait after the first failure; each further failure doubles it (default 1 s).
    pub base_delay: Duration,
    /// The longest wait (default 15 minutes).
    pub max_delay: Duration,
    /// A counter is forgotten this long after its last failure (default 24 hours). A window
    /// compared with instants, so a [`time::Duration`]; the delays above are waits handed to
    /// the host ([`Error::Throttled`]'s `retry_after`), so they are [`std::time::Duration`]s.
    pub counter_lifetime: time::Duration,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(15 * 60),
            counter_lifetime: time::Duration::hours(24),
        }
    }
}

/// Consecutive failures under one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailureCounter {
    /// Failures since the counter was last cleared or expired.
    pub failures: u32,
    /// The latest failure.
    #[serde(with = "crate::formats::instant")]
    pub last_failure_at: OffsetDateTime,
}

impl ThrottlePolicy {
    /// The wait after `failures` consecutive failures: none for 0, then
    /// `min(base_delay · 2^(failures−1), max_delay)`. Never overflows.
    pub fn delay_after(&self, failures: u32) -> Duration {
        let Some(exponent) = failures.checked_sub(1) else {
            return Duration::ZERO;
        };
        let factor = 1u32.checked_shl(exponent).unwrap_or(u32::MAX);
        self.base_delay
            .checked_mul(factor)
            .unwrap_or(Duration::MAX)
            .min(self.max_delay)
    }

    /// Whether a counter has expired at `now` (the store may delete it).
    pub fn is_expired(&self, counter: &FailureCounter, now: OffsetDateTime) -> bool {
        is_expired(counter.last_failure_at, now, self.counter_lifetime)
    }

    /// The failures that still count at `now`: 0 once the counter expired.
    pub fn live_failures(&self, counter: Option<&FailureCounter>, now: OffsetDateTime) -> u32 {
        match counter {
            Some(c) if !self.is_expired(c, now) => c.failures,
            _ => 0,
        }
    }

    /// How long the next attempt under this key must still wait at `now`; `None` when it may
    /// go ahead. A clock stepped back never makes the wait longer than the delay itself.
    pub fn retry_after(
        &self,
        counter: Option<&FailureCounter>,
        now: OffsetDateTime,
    ) -> Option<Duration> {
        let counter = counter?;
        let delay = self.delay_after(self.live_failures(Some(counter), now));
        if delay.is_zero() {
            return None;
        }
        let elapsed = now - counter.last_failure_at;
        let remaining = if elapsed.is_negative() {
            delay
        } else {
            let elapsed = Duration::try_from(elapsed).unwrap_or(Duration::MAX);
            delay.saturating_sub(elapsed)
        };
        (!remaining.is_zero()).then_some(remaining)
    }

    /// The counter after a failure at `now`: one more failure, or a fresh count of 1 when there
    /// was none or it had expired. Saturates instead of overflowing.
    pub fn record_failure(
        &self,
        counter: Option<&FailureCounter>,
        now: OffsetDateTime,
    ) -> FailureCounter {
        FailureCounter {
            failures: self.live_failures(counter, now).saturating_add(1),
            last_failure_at: counter.map_or(now, |c| c.last_failure_at).max(now),
        }
    }

    /// The wait that applies when several keys count the same attempt (e-mail and source for
    /// a login; source and order number for a guest lookup): the largest.
    pub fn combined_delay<'a>(
        &self,
        counters: impl IntoIterator<Item = Option<&'a FailureCounter>>,
        now: OffsetDateTime,
    ) -> Option<Duration> {
        counters
            .into_iter()
            .filter_map(|c| self.retry_after(c, now))
            .max()
    }

    /// Refuses the attempt while any of the counters says wait.
    ///
    /// # Errors
    /// [`Error::Throttled`] with the largest remaining wait.
    pub fn check<'a>(
        &self,
        counters: impl IntoIterator<Item = Option<&'a FailureCounter>>,
        now: OffsetDateTime,
    ) -> Result<()> {
        match self.combined_delay(counters, now) {
            Some(retry_after) => Err(Error::Throttled { retry_after }),
            None => Ok(()),
        }
    }
}

/// [`ThrottlePolicy::delay_after`] with the default policy: `min(2^(n−1) s, 15 min)`.
pub fn delay_after(failures: u32) -> Duration {
    ThrottlePolicy::default().delay_after(failures)
}

/// [`ThrottlePolicy::retry_after`] with the default policy.
pub fn retry_after(counter: Option<&FailureCounter>, now: OffsetDateTime) -> Option<Duration> {
    ThrottlePolicy::default().retry_after(counter, now)
}

/// [`ThrottlePolicy::record_failure`] with the default policy.
pub fn record_failure(counter: Option<&FailureCounter>, now: OffsetDateTime) -> FailureCounter {
    ThrottlePolicy::default().record_failure(counter, now)
}

/// The login delay with the default policy: the larger of the e-mail and source delays.
pub fn combined_delay(
    email: Option<&FailureCounter>,
    source: Option<&FailureCounter>,
    now: OffsetDateTime,
) -> Option<Duration> {
    ThrottlePolicy::default().combined_delay([email, source], now)
}

/// What a counter counts. [`ThrottleKey::storage_key`] is the unique text a store keys the
/// counter by (global, provider scope).
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(
    tag = "kind",
    content = "key",
    rename_all = "snake_case",
    deny_unknown_fields
)]
pub enum ThrottleKey {
    /// Logins to one submitted e-mail ([`Email::login_key`]).
    LoginEmail(String),
    /// Logins from one source.
    LoginSource(String),
    /// Guest order lookups from one source (ORD-4).
    OrderLookupSource(String),
    /// Guest order lookups of one order number (ORD-4).
    OrderLookupNumber(String),
    /// Second-factor attempts of one user (AUTH-6).
    SecondFactorUser(String),
    /// Logins with one API client id (AUTH-4).
    ApiClient(String),
}

impl ThrottleKey {
    /// The key of a login to `raw_email` as submitted: trimmed, NFC, lower-cased, valid address
    /// or not (AUTH-3).
    pub fn login_email(raw_email: &str) -> Self {
        ThrottleKey::LoginEmail(Email::login_key(raw_email))
    }

    /// The key of logins from `source` (as the host saw it, e.g. an IP address).
    pub fn login_source(source: &str) -> Self {
        ThrottleKey::LoginSource(normalize_source(source))
    }

    /// The key of guest order lookups from `source`.
    pub fn order_lookup_source(source: &str) -> Self {
        ThrottleKey::OrderLookupSource(normalize_source(source))
    }

    /// The key of guest order lookups of `order_number` as submitted (trimmed, upper-cased, so
    /// variants of one number share a counter).
    pub fn order_lookup_number(order_number: &str) -> Self {
        ThrottleKey::OrderLookupNumber(order_number.trim().to_uppercase())
    }

    /// The key of second-factor attempts of one user (AUTH-6): it outlives every challenge,
    /// so logging in again buys no new guesses.
    pub fn second_factor_user(user: crate::ids::UserId) -> Self {
        ThrottleKey::SecondFactorUser(user.to_string())
    }

    /// The key of logins with an API client id as submitted (trimmed), known or not (AUTH-3
    /// applied to AUTH-4's client credentials).
    pub fn api_client(client_id: &str) -> Self {
        ThrottleKey::ApiClient(client_id.trim().to_owned())
    }

    /// The unique text of this key, e.g. `login_email:ada@example.com`.
    pub fn storage_key(&self) -> String {
        let (prefix, key) = match self {
            ThrottleKey::LoginEmail(k) => ("login_email", k),
            ThrottleKey::LoginSource(k) => ("login_source", k),
            ThrottleKey::OrderLookupSource(k) => ("order_lookup_source", k),
            ThrottleKey::OrderLookupNumber(k) => ("order_lookup_number", k),
            ThrottleKey::SecondFactorUser(k) => ("second_factor_user", k),
            ThrottleKey::ApiClient(k) => ("api_client", k),
        };
        format!("{prefix}:{key}")
    }
}

fn normalize_source(source: &str) -> String {
    // IPv6 hex digits come in either case.
    source.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    const T0: OffsetDateTime = datetime!(2025-06-01 8:00 UTC);

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    fn after(n: u32, at: OffsetDateTime) -> FailureCounter {
        FailureCounter {
            failures: n,
            last_failure_at: at,
        }
    }

    #[test]
    fn auth_3_delay_doubles_from_one_second_and_caps_at_15_minutes() {
        let table = [
            (0, 0),
            (1, 1),
            (2, 2),
            (3, 4),
            (4, 8),
            (5, 16),
            (6, 32),
            (7, 64),
            (8, 128),
            (9, 256),
            (10, 512),
            (11, 900),
            (12, 900),
            (33, 900),
            (u32::MAX, 900),
        ];
        for (n, expected) in table {
            assert_eq!(delay_after(n), secs(expected), "n = {n}");
        }
    }

    #[test]
    fn auth_3_retry_after_counts_from_the_last_failure() {
        let c = after(3, T0);
        assert_eq!(retry_after(Some(&c), T0), Some(secs(4)));
        assert_eq!(
            retry_after(Some(&c), T0 + time::Duration::seconds(3)),
            Some(secs(1))
        );
        assert_eq!(retry_after(Some(&c), T0 + time::Duration::seconds(4)), None);
        assert_eq!(retry_after(None, T0), None);
        // A clock stepped back never lengthens the wait beyond the delay.
        assert_eq!(
            retry_after(Some(&c), T0 - time::Duration::hours(1)),
            Some(secs(4))
        );
    }

    #[test]
    fn auth_3_counters_expire_24_hours_after_the_last_failure() {
        let c = after(40, T0);
        let policy = ThrottlePolicy::default();
        let almost = T0 + time::Duration::hours(24) - time::Duration::SECOND;
        assert_eq!(policy.live_failures(Some(&c), almost), 40);
        assert!(!policy.is_expired(&c, almost));
        let day = T0 + time::Duration::hours(24);
        assert!(policy.is_expired(&c, day));
        assert_eq!(policy.live_failures(Some(&c), day), 0);
        // The next failure after expiry starts over at 1.
        assert_eq!(record_failure(Some(&c), day), after(1, day));
        assert_eq!(record_failure(Some(&c), almost), after(41, almost));
        assert_eq!(record_failure(None, T0), after(1, T0));
    }

    #[test]
    fn auth_3_larger_of_email_and_source_delays_applies() {
        let email = after(2, T0);
        let source = after(6, T0);
        assert_eq!(
            combined_delay(Some(&email), Some(&source), T0),
            Some(secs(32))
        );
        assert_eq!(
            combined_delay(Some(&email), None, T0 + time::Duration::SECOND),
            Some(secs(1))
        );
        assert_eq!(combined_delay(None, None, T0), None);
        let err = ThrottlePolicy::default()
            .check([Some(&email), Some(&source)], T0)
            .unwrap_err();
        assert_eq!(
            err,
            Error::Throttled {
                retry_after: secs(32)
            }
        );
        assert_eq!(err.reason(), crate::ReasonCode::TooManyAttempts);
    }

    #[test]
    fn auth_3_never_locked_permanently() {
        // However many failures, waiting 15 minutes is always enough.
        let c = after(u32::MAX, T0);
        assert_eq!(
            retry_after(Some(&c), T0 + time::Duration::minutes(15)),
            None
        );
        assert_eq!(record_failure(Some(&c), T0).failures, u32::MAX);
    }

    #[test]
    fn auth_3_keys_normalise_what_was_submitted() {
        assert_eq!(
            ThrottleKey::login_email("  Ada@Example.COM ").storage_key(),
            "login_email:ada@example.com"
        );
        // Not a valid address, still counted.
        assert_eq!(
            ThrottleKey::login_email(" no such user "),
            ThrottleKey::LoginEmail("no such user".into())
        );
        assert_eq!(
            ThrottleKey::login_source(" 2001:DB8::1 "),
            ThrottleKey::login_source("2001:db8::1")
        );
        assert_ne!(
            ThrottleKey::login_source("10.0.0.1").storage_key(),
            ThrottleKey::order_lookup_source("10.0.0.1").storage_key()
        );
        assert_eq!(
            ThrottleKey::order_lookup_number(" ord-2025-0001 ").storage_key(),
            "order_lookup_number:ORD-2025-0001"
        );
    }

    #[test]
    fn auth_3_policy_is_configurable() {
        let policy = ThrottlePolicy {
            base_delay: Duration::from_millis(500),
            max_delay: secs(60),
            counter_lifetime: time::Duration::hours(1),
        };
        assert_eq!(policy.delay_after(1), Duration::from_millis(500));
        assert_eq!(policy.delay_after(4), secs(4));
        assert_eq!(policy.delay_after(20), secs(60));
        assert!(policy.is_expired(&after(5, T0), T0 + time::Duration::hours(1)));
        let extreme = ThrottlePolicy {
            base_delay: Duration::MAX,
            max_delay: Duration::MAX,
            ..policy
        };
        assert_eq!(extreme.delay_after(3), Duration::MAX);
    }

    proptest! {
        #[test]
        fn auth_3_delay_is_monotonic_and_capped(n in any::<u32>()) {
            let d = delay_after(n);
            prop_assert!(d <= secs(15 * 60));
            prop_assert!(delay_after(n.saturating_add(1)) >= d);
            if n >= 1 {
                prop_assert!(d >= secs(1));
            }
        }

        #[test]
        fn auth_3_recording_a_failure_never_shortens_the_wait(
            n in 0u32..50, offset in 0i64..200_000
        ) {
            let now = T0 + time::Duration::seconds(offset);
            let c = after(n, T0);
            let before = retry_after(Some(&c), now).unwrap_or(Duration::ZERO);
            let next = record_failure(Some(&c), now);
            let later = retry_after(Some(&next), now).unwrap_or(Duration::ZERO);
            prop_assert!(later >= before);
            prop_assert!(later > Duration::ZERO);
        }
    }
}
