//! Conformance cases for sims.
//!
//! (being written)

crate::conformance_cases! {}
