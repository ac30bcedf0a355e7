//! Shared encodings of the SQL stores (`selfcare-sqlite`, `selfcare-postgres`): how values
//! become columns and how keyset pages are cut. A store of another kind need not use them.

pub mod keyset;
pub mod values;
