//! # selfcare-storage
//!
//! The ports of the selfcare SDK (DESIGN §1): the [`Store`] with its transactions over every
//! aggregate the rules need, the service ports ([`ports`]), the in-memory reference store
//! ([`MemoryStore`]), and, behind the `conformance` feature, the suite every store must pass.
//!
//! Every port is `#[async_trait]`, `Send + Sync` and object-safe, so hosts pass
//! `Arc<dyn Store>`; each method's contract is written on it in MUST terms, and the conformance
//! suite tests exactly those sentences. Rules live in `selfcare-core`; stores only keep data.

pub mod accounts;
pub mod addresses;
pub mod audit;
pub mod auth;
pub mod error;
pub mod memory;
pub mod orders;
pub mod outbox;
pub mod page;
pub mod payments;
pub mod ports;
pub mod scope;
pub mod sims;
pub mod sql;
pub mod store;
pub mod tickets;
pub mod usage;
pub mod version;

#[cfg(feature = "conformance")]
pub mod conformance;

pub use error::{ConflictKind, StoreError, StoreResult};
pub use memory::MemoryStore;
pub use page::{Cursor, Page, PageRequest};
pub use scope::Scope;
pub use store::{OrgTransaction, ProviderTransaction, Store};
pub use version::{Version, Versioned};
