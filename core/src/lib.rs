//! # selfcare-core
//!
//! The pure domain of the selfcare SDK: the types, invariants, rules, state machines, permission
//! policy and CSV export behind a mobile-connectivity provider's customer self-service portal.
//!
//! Nothing here performs I/O, spawns tasks, reads a clock or draws randomness: callers pass
//! `now` and random bytes in, so every rule is a deterministic function that the `sdk`, the
//! stores and the bindings share. Each rule of the catalogue (DESIGN §2) is written once, here.
//!
//! | module | rules |
//! |---|---|
//! | [`numbers`], [`contact`], [`money`], [`ids`] | SIM-1, ACC-4 languages, money and ids |
//! | [`customer`] | ACC-1, ACC-2, ACC-3, ACC-5 |
//! | [`notifications`] | ACC-4 (kinds, recipients, texts in en/de/he) |
//! | [`roles`], [`policy`] | USR-1..5, STF-1, ACC-1 (who may change legal fields) |
//! | [`password`], [`tokens`], [`totp`], [`throttle`] | AUTH-1..6 |
//! | [`address`] | ADDR-1..4 |
//! | [`payment`] | PAY-1..3 |
//! | [`catalogue`], [`orders`], [`topups`] | ORD-1, ORD-2, ORD-4, ORD-5, TOP-1 |
//! | [`export`] | ORD-3 (SIM CSV) |
//! | [`sims`], [`plans`] | SIM-2, PLAN-1..6 |
//! | [`quota`] | TOP-2, TOP-3, ACC-5 (monthly limit reached) |
//! | [`tickets`] | TKT-1, TKT-2 |
//! | [`audit`] | AUD-1 |
//! | [`formats`] | the JSON form of instants (RFC 3339) and dates (ISO 8601) |
//! | [`digest`] | SHA-256 digests shared by tokens, audit, orders (hex, constant-time equality) |

pub mod address;
pub mod audit;
pub mod catalogue;
pub mod contact;
mod crockford;
pub mod customer;
pub mod digest;
pub mod error;
pub mod export;
pub mod formats;
pub mod ids;
pub mod money;
pub mod notifications;
pub mod numbers;
pub mod orders;
pub mod password;
pub mod payment;
pub mod plans;
pub mod policy;
pub mod quota;
pub mod roles;
pub mod sims;
pub mod throttle;
pub mod tickets;
pub mod tokens;
pub mod topups;
pub mod totp;

pub use error::{Error, ReasonCode, Result};
