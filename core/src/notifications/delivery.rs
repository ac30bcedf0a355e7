//! When a notification that failed to go out is tried again, and when it is given up
//! (DESIGN §3: at least once, leased, retried with backoff, dead-lettered after the configured
//! attempts).

use time::{Duration, OffsetDateTime};

/// The outbox's delivery policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryPolicy {
    /// How long a dispatcher holds a leased message before it is due again. Default 5 minutes.
    pub lease: Duration,
    /// Delivery attempts before a message becomes a dead letter. Default 8.
    pub max_attempts: u32,
    /// The wait after the first failure; it doubles with each further failure. Default 30 s.
    pub first_retry: Duration,
    /// The longest wait between two attempts. Default 6 hours.
    pub max_retry: Duration,
    /// The most messages one dispatch run leases. Default 100.
    pub batch: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            lease: Duration::minutes(5),
            max_attempts: 8,
            first_retry: Duration::seconds(30),
            max_retry: Duration::hours(6),
            batch: 100,
        }
    }
}

/// What happens to a message after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    /// Try again at this time.
    RetryAt(OffsetDateTime),
    /// Give up: a dead letter, for staff to look at.
    Dead,
}

impl DeliveryPolicy {
    /// The fate of a message whose attempt number `attempt` (1 for the first) failed at `now`:
    /// a dead letter once `max_attempts` attempts failed, otherwise a retry after
    /// `first_retry × 2^(attempt−1)`, at most `max_retry`.
    ///
    /// ```
    /// use selfcare_core::notifications::{AfterFailure, DeliveryPolicy};
    /// use time::macros::datetime;
    /// let policy = DeliveryPolicy::default();
    /// let now = datetime!(2026-01-01 00:00 UTC);
    /// assert_eq!(policy.after_failure(2, now), AfterFailure::RetryAt(now + time::Duration::minutes(1)));
    /// assert_eq!(policy.after_failure(8, now), AfterFailure::Dead);
    /// ```
    pub fn after_failure(&self, attempt: u32, now: OffsetDateTime) -> AfterFailure {
        if attempt >= self.max_attempts {
            return AfterFailure::Dead;
        }
        let doublings = attempt.saturating_sub(1).min(30);
        let wait = self
            .first_retry
            .checked_mul(1_i32 << doublings)
            .map_or(self.max_retry, |w| w.min(self.max_retry));
        match now.checked_add(wait) {
            Some(at) => AfterFailure::RetryAt(at),
            None => AfterFailure::Dead,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn acc_4_delivery_backs_off_doubling_then_caps_then_gives_up() {
        let p = DeliveryPolicy::default();
        let now = datetime!(2026-01-01 00:00 UTC);
        let waits: Vec<_> = (1..p.max_attempts)
            .map(|a| match p.after_failure(a, now) {
                AfterFailure::RetryAt(at) => at - now,
                AfterFailure::Dead => Duration::ZERO,
            })
            .collect();
        assert_eq!(
            waits,
            [30, 60, 120, 240, 480, 960, 1920].map(Duration::seconds)
        );
        assert_eq!(p.after_failure(p.max_attempts, now), AfterFailure::Dead);
        let capped = DeliveryPolicy {
            max_attempts: 100,
            ..p
        };
        assert_eq!(
            capped.after_failure(40, now),
            AfterFailure::RetryAt(now + p.max_retry)
        );
    }

    proptest! {
        #[test]
        fn acc_4_retry_waits_never_shrink_and_stay_within_the_cap(attempt in 1u32..60) {
            let p = DeliveryPolicy { max_attempts: 1000, ..DeliveryPolicy::default() };
            let now = datetime!(2026-01-01 00:00 UTC);
            let wait = |a| match p.after_failure(a, now) {
                AfterFailure::RetryAt(at) => at - now,
                AfterFailure::Dead => Duration::MAX,
            };
            prop_assert!(wait(attempt) <= wait(attempt + 1));
            prop_assert!(wait(attempt) <= p.max_retry);
            prop_assert!(wait(attempt) >= p.first_retry);
        }
    }
}
