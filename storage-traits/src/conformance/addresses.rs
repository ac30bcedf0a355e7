//! Conformance cases for addresses.
//!
//! (being written)

crate::conformance_cases! {}
