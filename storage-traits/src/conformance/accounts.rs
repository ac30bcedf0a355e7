//! Conformance cases for accounts.
//!
//! (being written)

crate::conformance_cases! {}
