//! Conformance cases that cross areas: atomicity of a transaction touching several aggregates,
//! and behaviour under concurrent use.

crate::conformance_cases! {}
