//! The conformance suite every [`Store`] must pass (feature `conformance`).
//!
//! Each case is a named async function that gets a fresh, empty store and checks one sentence
//! of a contract written on the traits. A store crate runs them all with
//! [`store_conformance_tests!`](crate::store_conformance_tests):
//!
//! ```ignore
//! selfcare_storage::store_conformance_tests!(async { std::sync::Arc::new(MyStore::open_temp().await) });
//! ```
//!
//! The suite's own tests run it against broken stores, each of which must fail a named case,
//! so a case that cannot fail would be noticed.

mod accounts;
mod addresses;
mod audit;
mod auth;
mod orders;
mod outbox;
mod payments;
mod sims;
mod tickets;
mod transactions;
mod usage;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::store::Store;

/// The future of one case.
pub type CaseFuture = Pin<Box<dyn Future<Output = Result<(), Failure>> + Send>>;

/// One case of the suite.
#[derive(Clone, Copy)]
pub struct Case {
    /// `area.what_it_checks`, e.g. `accounts.stale_update_is_conflict`.
    pub name: &'static str,
    /// Runs the case on a fresh, empty store.
    pub run: fn(Arc<dyn Store>) -> CaseFuture,
}

impl fmt::Debug for Case {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// Why a case failed: which expectation, in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure(pub String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: fmt::Debug> From<E> for Failure
where
    E: std::error::Error,
{
    fn from(e: E) -> Self {
        Failure(format!("unexpected error: {e:?}"))
    }
}

/// Fails the case with a message unless `cond` holds.
#[macro_export]
#[doc(hidden)]
macro_rules! conformance_check {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err($crate::conformance::Failure(format!($($msg)+)));
        }
    };
}

/// Declares an area's cases from `"name" => async_fn` pairs (`async fn(Arc<dyn Store>) ->
/// Result<(), Failure>`).
#[macro_export]
#[doc(hidden)]
macro_rules! conformance_cases {
    ($($name:literal => $case:path),* $(,)?) => {
        /// The cases of this area.
        pub(crate) fn cases() -> Vec<$crate::conformance::Case> {
            vec![$($crate::conformance::Case {
                name: $name,
                run: |store| Box::pin($case(store)),
            }),*]
        }
    };
}

/// Every case of the suite, area by area.
pub fn cases() -> Vec<Case> {
    [
        accounts::cases(),
        auth::cases(),
        addresses::cases(),
        payments::cases(),
        orders::cases(),
        sims::cases(),
        usage::cases(),
        tickets::cases(),
        outbox::cases(),
        audit::cases(),
        transactions::cases(),
    ]
    .concat()
}

/// The outcome of a run: each case's name and its failure, if any.
#[derive(Debug, Default)]
pub struct Report {
    /// `(case name, None when it passed)`.
    pub results: Vec<(&'static str, Option<Failure>)>,
}

impl Report {
    /// The names of the failed cases.
    pub fn failed(&self) -> Vec<&'static str> {
        self.results
            .iter()
            .filter(|(_, f)| f.is_some())
            .map(|(n, _)| *n)
            .collect()
    }

    /// Whether `name` ran and failed.
    pub fn case_failed(&self, name: &str) -> bool {
        self.results.iter().any(|(n, f)| *n == name && f.is_some())
    }

    /// A line per case, `ok` or `FAILED: why`.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (name, failure) in &self.results {
            match failure {
                None => out.push_str(&format!("conformance {name} ... ok\n")),
                Some(f) => out.push_str(&format!("conformance {name} ... FAILED: {f}\n")),
            }
        }
        let failed = self.failed().len();
        out.push_str(&format!(
            "conformance: {} passed, {failed} failed\n",
            self.results.len() - failed
        ));
        out
    }
}

/// Runs every case whose name starts with `prefix` (all with `""`), each on a fresh store from
/// `make`.
pub async fn run<F, Fut>(prefix: &str, make: F) -> Report
where
    F: Fn() -> Fut,
    Fut: Future<Output = Arc<dyn Store>>,
{
    let mut report = Report::default();
    for case in cases().into_iter().filter(|c| c.name.starts_with(prefix)) {
        let store = make().await;
        let outcome = (case.run)(store).await;
        report.results.push((case.name, outcome.err()));
    }
    report
}

/// Generates one test that runs the whole suite on stores from the given async expression,
/// printing a line per case and failing with the names of the failed cases.
#[macro_export]
macro_rules! store_conformance_tests {
    ($make:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn store_conformance() {
            // `SELFCARE_CONFORMANCE=orders.` runs only the cases whose names start with it.
            let prefix = std::env::var("SELFCARE_CONFORMANCE").unwrap_or_default();
            let report = $crate::conformance::run(&prefix, || async { $make.await }).await;
            print!("{}", report.summary());
            assert!(report.results.len() > 0, "the suite ran no case");
            assert!(
                report.failed().is_empty(),
                "failed conformance cases: {:?}",
                report.failed()
            );
        }
    };
}
