//! Conformance cases for tickets.
//!
//! (being written)

crate::conformance_cases! {}
