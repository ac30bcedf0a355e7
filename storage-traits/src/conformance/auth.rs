//! Conformance cases for auth.
//!
//! (being written)

crate::conformance_cases! {}
