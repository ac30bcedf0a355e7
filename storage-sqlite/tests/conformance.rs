//! The SQLite store passes the whole conformance suite, each case on a fresh file.

use std::sync::Arc;

use selfcare_sqlite::SqliteStore;
use selfcare_storage::Store;

selfcare_storage::store_conformance_tests!(async {
    // The directory lives as long as the test process; each case gets its own file.
    let dir = tempfile::tempdir().unwrap().keep();
    let path = dir.join("store.db");
    Arc::new(SqliteStore::open(&path).await.unwrap()) as Arc<dyn Store>
});
