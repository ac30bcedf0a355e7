//! Conformance cases for orders.
//!
//! (being written)

crate::conformance_cases! {}
