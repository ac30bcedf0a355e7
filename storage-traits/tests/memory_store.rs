//! The in-memory reference store passes the whole conformance suite.

use std::sync::Arc;

use selfcare_storage::{MemoryStore, Store};

selfcare_storage::store_conformance_tests!(async {
    Arc::new(MemoryStore::new()) as Arc<dyn Store>
});
