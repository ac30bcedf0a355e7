//! # selfcare
//!
//! The use cases of a mobile-connectivity provider's customer self-service portal over a
//! pluggable [`Store`](selfcare_storage::Store) and service ports:
//!
//! - [`Portal`]: registration, login (with the second factor), API client login, password
//!   reset, invitations, e-mail confirmation and approval, guest order tracking, the network's
//!   usage records and provisioning answers, notification delivery, maintenance and the audit
//!   chain;
//! - [`Session`] (what a login gives): own profile and second factor, customer data, users and
//!   API clients, address book, cards and Auto-Top-Up, orders, top-ups, invoices and the SIM
//!   export, SIMs and plans, support tickets, the audit log, and `can` for any action;
//! - [`StaffSession`] (built by the host from its SSO): the provider staff's calls.
//!
//! [`Ports::development`] gives working stand-ins for the service ports. Every rule is decided
//! in `selfcare-core`; this crate checks permissions with the role re-read in each
//! transaction, runs one store transaction per change with its outbox messages and audit entry,
//! keeps port calls outside transactions, re-runs a use case when the store answers
//! `Retryable`, and maps every failure onto the categories of [`Error`].
//!
//! ```no_run
//! # async fn demo(portal: selfcare::Portal) -> selfcare::Result<()> {
//! use selfcare::{LoginOutcome, RequestContext};
//! use selfcare_core::password::Password;
//! let ctx = RequestContext::from_source("203.0.113.7");
//! let LoginOutcome::Session(session) =
//!     portal.login("ada@example.com", Password::new("correct horse battery staple"), &ctx).await?
//! else { return Ok(()) };
//! println!("{}", session.me().await?.name);
//! # Ok(()) }
//! ```

pub mod account;
pub mod addresses;
pub mod api_clients;
pub mod audit;
pub mod cards;
pub mod checkout;
pub mod config;
pub mod customers;
pub mod dev;
pub mod error;
pub mod maintenance;
pub mod notifications;
mod open;
pub mod orders;
pub mod permissions;
pub mod plans;
pub mod portal;
pub mod ports;
pub mod profile;
pub mod remote;
pub mod second_factor;
pub mod session;
pub mod sims;
pub mod staff;
mod throttling;
pub mod tickets;
pub mod usage;
pub mod users;
pub mod wire;

pub use config::PortalConfig;
pub use customers::{NewOwner, Registered};
pub use error::{Error, Result, UnauthenticatedKind};
pub use portal::{Portal, PortalMetrics, RequestContext};
pub use ports::Ports;
pub use selfcare_core as core;
/// The PostgreSQL store (feature `postgres`), for [`Portal::with_store`] with pool settings of
/// your own.
#[cfg(feature = "postgres")]
pub use selfcare_postgres as postgres;
/// The embedded SQLite store (feature `sqlite`).
#[cfg(feature = "sqlite")]
pub use selfcare_sqlite as sqlite;
pub use selfcare_storage as storage;
pub use session::{LoginOutcome, Me, Session};
pub use staff::StaffSession;
