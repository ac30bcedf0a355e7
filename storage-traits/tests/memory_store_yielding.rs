//! The in-memory store in its yielding mode (a suspension at every round trip, for
//! cancel-safety tests) passes the whole conformance suite as well.

use std::sync::Arc;

use selfcare_storage::{MemoryStore, Store};

selfcare_storage::store_conformance_tests!(async {
    Arc::new(MemoryStore::yielding()) as Arc<dyn Store>
});
