//! The PostgreSQL store passes the whole conformance suite, each case in a fresh schema,
//! migrated by the owning role and used through the application role (row-level security on).

use std::sync::Arc;

use selfcare_postgres::PgConfig;
use selfcare_postgres::testing::TestDatabase;
use selfcare_storage::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_conformance() {
    let Some(db) = TestDatabase::from_env("store_conformance") else {
        return;
    };
    // `SELFCARE_CONFORMANCE=orders.` runs only the cases whose names start with it.
    let prefix = std::env::var("SELFCARE_CONFORMANCE").unwrap_or_default();
    let report = selfcare_storage::conformance::run(&prefix, || {
        let db = db.clone();
        async move {
            let config = PgConfig::default().with_max_connections(4);
            Arc::new(db.fresh_store(config).await.unwrap()) as Arc<dyn Store>
        }
    })
    .await;
    print!("{}", report.summary());
    assert!(!report.results.is_empty(), "the suite ran no case");
    assert!(
        report.failed().is_empty(),
        "failed conformance cases: {:?}",
        report.failed()
    );
}
