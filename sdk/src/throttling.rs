//! Failure counters of AUTH-3, shared by every guessable entry point: password login, API
//! client login, the second factor (AUTH-6) and guest order lookups (ORD-4). Counters live in
//! the provider's scope (an attempt names no organisation yet) and are written in their own
//! transactions, so a failure is counted whatever the attempt did.

use selfcare_storage::ProviderTransaction;

use crate::error::{Error, Result};
use crate::portal::{Attempt, Portal};

impl Portal {
    /// Refuses with `Throttled { retry_after }` while any of `keys` asks for a wait.
    pub(crate) async fn check_throttle(&self, keys: &[&str]) -> Result<()> {
        let now = self.now();
        let counters = self
            .retry(|| async {
                let mut tx = self.store().begin_provider().await?;
                let mut counters = Vec::new();
                for key in keys {
                    counters.push(tx.throttle_counter(key).await?.map(|c| c.value));
                }
                Ok(counters)
            })
            .await?;
        self.config()
            .throttle
            .check(counters.iter().map(Option::as_ref), now)
            .map_err(Error::from)
    }

    /// Counts one failure under each of `keys` inside `tx` (with whatever else the caller
    /// records about the failure).
    pub(crate) async fn count_failures_in(
        &self,
        tx: &mut dyn ProviderTransaction,
        keys: &[&str],
    ) -> std::result::Result<(), Attempt> {
        let now = self.now();
        let policy = self.config().throttle;
        for key in keys {
            let current = tx.throttle_counter(key).await?;
            let next = policy.record_failure(current.as_ref().map(|c| &c.value), now);
            tx.put_throttle_counter(key, next, current.map(|c| c.version))
                .await?;
        }
        Ok(())
    }

    /// Counts one failure under each of `keys`, in a transaction of its own.
    pub(crate) async fn count_failures(&self, keys: &[&str]) -> Result<()> {
        self.retry(|| async {
            let mut tx = self.store().begin_provider().await?;
            self.count_failures_in(tx.as_mut(), keys).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Forgets the failures under `key` (a success).
    pub(crate) async fn clear_throttle(&self, key: &str) -> Result<()> {
        self.retry(|| async {
            let mut tx = self.store().begin_provider().await?;
            tx.delete_throttle_counter(key).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }
}
