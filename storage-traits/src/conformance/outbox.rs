//! Conformance cases for outbox.
//!
//! (being written)

crate::conformance_cases! {}
