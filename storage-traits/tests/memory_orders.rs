#![cfg(feature = "conformance")]
//! The conformance suite against the in-memory store.

selfcare_storage::store_conformance_tests!(async {
    std::sync::Arc::new(selfcare_storage::MemoryStore::new())
        as std::sync::Arc<dyn selfcare_storage::Store>
});
