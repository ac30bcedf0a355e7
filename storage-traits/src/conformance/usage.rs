//! Conformance cases for usage.
//!
//! (being written)

crate::conformance_cases! {}
