//! Conformance cases for payments.
//!
//! (being written)

crate::conformance_cases! {}
