//! `Portal::open` on `postgres://` URLs (issue 6, feature `postgres`): a working URL opens a
//! portal (migrating the schema), and what is wrong is a clear error naming it, in bounded
//! time: a malformed URL is `Validation` on `url`, an unreachable server or wrong credentials
//! `Unavailable` naming the server, never the password.

#![cfg(feature = "postgres")]
#![allow(clippy::panic, clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use selfcare::core::ReasonCode;
use selfcare::postgres::testing::TestDatabase;
use selfcare::storage::ports::SystemClock;
use selfcare::{Error, Portal, Ports};

async fn open(url: &str) -> Result<Portal, Error> {
    let (ports, _) = Ports::development_with(Arc::new(SystemClock));
    Portal::open(url, ports, common::test_config()).await
}

#[tokio::test]
async fn a_malformed_url_is_a_validation_error_on_url() {
    match open("postgres://ada:s3cret@db.example:port/selfcare").await {
        Err(Error::Validation {
            field,
            reason,
            message,
        }) => {
            assert_eq!(field, "url");
            assert_eq!(reason, ReasonCode::InvalidStoreUrl);
            assert!(!message.contains("s3cret"), "{message}");
        }
        other => panic!("{:?}", other.err()),
    }
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_naming_it_in_bounded_time() {
    let started = Instant::now();
    match open("postgresql://ada:s3cret@127.0.0.1:1/selfcare").await {
        Err(Error::Unavailable { reason }) => {
            assert!(reason.contains("127.0.0.1:1/selfcare"), "{reason}");
            assert!(!reason.contains("s3cret"), "{reason}");
        }
        other => panic!("{:?}", other.err()),
    }
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[tokio::test]
async fn a_working_url_opens_a_portal_that_serves_customers() {
    let Some(db) = TestDatabase::from_env("postgres_open") else {
        return;
    };
    // The owner's URL: `Portal::open` brings the default schema up to date, twice over.
    for round in 0..2 {
        let portal = open(&db.owner_url).await.unwrap();
        let email = format!("ada{}-{round}@open.example", std::process::id());
        let (customer, owner) = common::business(&email);
        portal
            .register_customer(&customer, owner, &common::ctx())
            .await
            .unwrap();
        let ada = common::session(&portal, &email).await;
        assert_eq!(ada.me().await.unwrap().email.as_str(), email);
    }
}
