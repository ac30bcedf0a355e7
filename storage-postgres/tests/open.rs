//! Opening a PostgreSQL store on what it should not open (issue 6, bad input): each is a clear
//! [`OpenError`] naming what is wrong, in bounded time, never a panic or a hang.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use selfcare_postgres::testing::TestDatabase;
use selfcare_postgres::{OpenError, PgConfig, PgStore};
use sqlx::{Connection, PgConnection};

fn quick() -> PgConfig {
    PgConfig::default().with_acquire_timeout(Duration::from_secs(2))
}

/// The app URL with `password` instead of its own.
fn with_password(url: &str, password: &str) -> String {
    let mut parsed = url.parse::<sqlx::postgres::PgConnectOptions>().unwrap();
    parsed = parsed.password(password);
    format!(
        "postgres://{}:{password}@{}:{}/{}",
        parsed.get_username(),
        parsed.get_host(),
        parsed.get_port(),
        parsed.get_database().unwrap()
    )
}

async fn owner_sql(db: &TestDatabase, schema: &str, statement: &str) {
    let mut conn = PgConnection::connect(&db.owner_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET search_path TO \"{schema}\"; {statement}"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn a_malformed_url_is_refused_without_echoing_it() {
    let err = PgStore::open("postgres://user:s3cret@host:notaport/db", quick())
        .await
        .unwrap_err();
    assert_eq!(err, OpenError::BadUrl);
    assert!(!err.to_string().contains("s3cret"));
}

#[tokio::test]
async fn an_unreachable_server_fails_in_bounded_time_naming_it() {
    let started = Instant::now();
    // Port 1 on the loopback: nothing listens there.
    let err = PgStore::open("postgres://u:s3cret@127.0.0.1:1/selfcare", quick())
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(matches!(err, OpenError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("127.0.0.1:1/selfcare"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

#[tokio::test]
async fn wrong_credentials_are_refused_naming_the_server() {
    let Some(db) = TestDatabase::from_env("wrong_credentials") else {
        return;
    };
    let err = PgStore::open(&with_password(&db.app_url, "not-the-password"), quick())
        .await
        .unwrap_err();
    assert!(matches!(err, OpenError::Connect { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("password authentication failed"), "{text}");
    assert!(!text.contains("not-the-password"), "{text}");
}

#[tokio::test]
async fn another_applications_tables_are_not_a_selfcare_store() {
    let Some(db) = TestDatabase::from_env("another_application") else {
        return;
    };
    let schema = db.fresh_schema().await.unwrap();
    // A schema of its own, holding another program's `orders` table and no selfcare_schema.
    let other = format!("{schema}_other");
    let mut conn = PgConnection::connect(&db.owner_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA \"{other}\"; CREATE TABLE \"{other}\".orders (id int PRIMARY KEY);"
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    let config = quick().with_schema(other.clone());
    let err = PgStore::open(&db.owner_url, config.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, OpenError::NotASelfcareStore { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("orders"), "{err}");
    // A `selfcare_schema` table written by someone else.
    owner_sql(
        &db,
        &schema,
        "UPDATE selfcare_schema SET application = 'billing-tool'",
    )
    .await;
    let config = quick().with_schema(schema);
    let err = PgStore::open(&db.owner_url, config).await.unwrap_err();
    assert!(
        matches!(err, OpenError::NotASelfcareStore { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("billing-tool"), "{err}");
}

#[tokio::test]
async fn a_newer_schema_is_refused_untouched() {
    let Some(db) = TestDatabase::from_env("newer_schema") else {
        return;
    };
    let schema = db.fresh_schema().await.unwrap();
    let newer = PgStore::schema_version() + 1;
    owner_sql(
        &db,
        &schema,
        &format!("UPDATE selfcare_schema SET version = {newer}"),
    )
    .await;
    for (url, migrate) in [(&db.owner_url, true), (&db.app_url, false)] {
        let config = quick().with_schema(schema.clone()).with_migrate(migrate);
        let err = PgStore::open(url, config).await.unwrap_err();
        assert_eq!(
            err,
            OpenError::NewerSchema {
                server: err_server(&err),
                found: newer,
                known: PgStore::schema_version()
            }
        );
    }
}

#[tokio::test]
async fn an_outdated_schema_opened_without_migrating_says_what_to_do() {
    let Some(db) = TestDatabase::from_env("outdated_schema") else {
        return;
    };
    let schema = db.fresh_schema().await.unwrap();
    let empty = format!("{schema}_empty");
    let mut conn = PgConnection::connect(&db.owner_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE SCHEMA \"{empty}\"; GRANT USAGE ON SCHEMA \"{empty}\" TO {}",
        db.app_role().unwrap()
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    let config = quick().with_schema(empty).with_migrate(false);
    let err = PgStore::open(&db.app_url, config).await.unwrap_err();
    assert!(
        matches!(err, OpenError::Outdated { found: 0, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("run the migrations"), "{err}");
}

#[tokio::test]
async fn migrating_twice_at_once_is_safe() {
    let Some(db) = TestDatabase::from_env("migrate_twice") else {
        return;
    };
    let schema = db.fresh_schema().await.unwrap();
    let fresh = format!("{schema}_twice");
    let mut conn = PgConnection::connect(&db.owner_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{fresh}\"")))
        .execute(&mut conn)
        .await
        .unwrap();
    let config = quick().with_schema(fresh);
    let (a, b) = tokio::join!(
        PgStore::open(&db.owner_url, config.clone()),
        PgStore::open(&db.owner_url, config.clone())
    );
    a.unwrap();
    b.unwrap();
}

fn err_server(err: &OpenError) -> String {
    match err {
        OpenError::NewerSchema { server, .. } => server.clone(),
        other => panic!("{other:?}"),
    }
}
