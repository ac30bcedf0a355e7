//! Conformance cases for audit.
//!
//! (being written)

crate::conformance_cases! {}
