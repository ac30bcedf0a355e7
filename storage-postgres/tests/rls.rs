//! Row-level security by organisation (DESIGN §3, issue 6): through the application role,
//! with `selfcare.org` = A an unfiltered SELECT on every organisation-scoped table returns A's
//! rows (at least one) and none of B's; with the setting unset, no row; an INSERT of B's row
//! fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use selfcare_postgres::testing::TestDatabase;
use sqlx::{Connection, PgConnection, Row};
use uuid::Uuid;

/// Every organisation-scoped table of the store.
const TABLES: &[&str] = &[
    "customers",
    "users",
    "api_clients",
    "address_books",
    "sessions",
    "tokens",
    "totp",
    "payment_settings",
    "payment_intents",
    "idempotency_records",
    "orders",
    "order_documents",
    "document_bytes",
    "sims",
    "plans",
    "provisioning",
    "quotas",
    "usage_records_seen",
    "tickets",
    "ticket_messages",
    "outbox",
    "audit_entries",
];

/// An id made of the organisation's first byte, a row tag and `n`.
fn id(org: Uuid, tag: u8, n: u8) -> Uuid {
    let mut b = *org.as_bytes();
    b[14] = tag;
    b[15] = n;
    Uuid::from_bytes(b)
}

/// One INSERT per table for organisation `org`, row set `n` (parents before children).
fn inserts(org: Uuid, n: u8) -> Vec<(&'static str, String)> {
    let o = org;
    let u = id(org, 1, n);
    let c = id(org, 2, n);
    let ord = id(org, 3, n);
    let doc = id(org, 4, n);
    let sim = id(org, 5, n);
    let plan = id(org, 6, n);
    let prov = id(org, 7, n);
    let ticket = id(org, 8, n);
    let msg = id(org, 9, n);
    let outbox = id(org, 10, n);
    let intent = id(org, 11, n);
    let hex = |x: Uuid| x.simple().to_string();
    let number = i64::from(u32::from_be_bytes([org.as_bytes()[0], 0, 1, n]));
    let seq = i64::from(n);
    vec![
        (
            "customers",
            format!("INSERT INTO customers VALUES ('{o}', 1, '\\x7b7d')"),
        ),
        (
            "users",
            format!(
                "INSERT INTO users VALUES ('{o}', '{u}', 'login-{}', 'owner', 1, '\\x7b7d')",
                hex(u)
            ),
        ),
        (
            "api_clients",
            format!("INSERT INTO api_clients VALUES ('{o}', '{c}', '{c}', '{u}', 1, '\\x7b7d')"),
        ),
        (
            "address_books",
            format!("INSERT INTO address_books VALUES ('{o}', 1, '\\x7b7d')"),
        ),
        (
            "sessions",
            format!(
                "INSERT INTO sessions VALUES ('{o}', '\\x{}', '{u}', NULL, 'portal', 1, 1, false, 1)",
                hex(u)
            ),
        ),
        (
            "tokens",
            format!(
                "INSERT INTO tokens VALUES ('{o}', '\\x{}', 'reset', 1, NULL, '{u}', '\\x7b7d', 1)",
                hex(u)
            ),
        ),
        (
            "totp",
            format!("INSERT INTO totp VALUES ('{o}', '{u}', 1, '\\x7b7d')"),
        ),
        (
            "payment_settings",
            format!("INSERT INTO payment_settings VALUES ('{o}', 1, '\\x7b7d')"),
        ),
        (
            "payment_intents",
            format!(
                "INSERT INTO payment_intents VALUES ('{o}', '{intent}', 'key-{n}', 'pending', 1, 1, 1, '\\x7b7d', NULL)"
            ),
        ),
        (
            "idempotency_records",
            format!("INSERT INTO idempotency_records VALUES ('{o}', 'key-{n}', 'f', '\\x7b7d', 1)"),
        ),
        (
            "orders",
            format!(
                "INSERT INTO orders VALUES ('{o}', '{ord}', {number}, 1, 100, 'EUR', 1, '\\x7b7d')"
            ),
        ),
        (
            "order_documents",
            format!("INSERT INTO order_documents VALUES ('{o}', '{doc}', '{ord}', '\\x7b7d')"),
        ),
        (
            "document_bytes",
            format!("INSERT INTO document_bytes VALUES ('{o}', '{doc}', '\\x25504446')"),
        ),
        (
            "plans",
            format!("INSERT INTO plans VALUES ('{o}', '{plan}', '{ord}', 1, '\\x7b7d')"),
        ),
        (
            "sims",
            format!(
                "INSERT INTO sims VALUES ('{o}', '{ord}', '{sim}', 'iccid-{}', NULL, NULL, 'label', 'enabled', 'T', NULL, false, 1)",
                hex(sim)
            ),
        ),
        (
            "provisioning",
            format!(
                "INSERT INTO provisioning VALUES ('{o}', '{prov}', '{plan}', 'pending', 1, 1, '\\x7b7d')"
            ),
        ),
        (
            "quotas",
            format!("INSERT INTO quotas VALUES ('{o}', '{sim}', 1, '\\x7b7d')"),
        ),
        (
            "usage_records_seen",
            format!(
                "INSERT INTO usage_records_seen VALUES ('{o}', 'record-{}', '{sim}')",
                hex(sim)
            ),
        ),
        (
            "tickets",
            format!(
                "INSERT INTO tickets VALUES ('{o}', '{ticket}', 'support', 'open', NULL, 1, 1, '\\x7b7d')"
            ),
        ),
        (
            "ticket_messages",
            format!("INSERT INTO ticket_messages VALUES ('{o}', '{ticket}', '{msg}', '\\x7b7d')"),
        ),
        (
            "outbox",
            format!(
                "INSERT INTO outbox VALUES ('{o}', '{outbox}', 1, 0, 1, NULL, NULL, false, NULL, '\\x7b7d')"
            ),
        ),
        (
            "audit_entries",
            format!("INSERT INTO audit_entries VALUES ('{o}', {seq}, '\\x00', '\\x7b7d', NULL)"),
        ),
    ]
}

async fn app(db: &TestDatabase, schema: &str) -> PgConnection {
    let mut conn = PgConnection::connect(&db.app_url).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET search_path TO \"{schema}\""
    )))
    .execute(&mut conn)
    .await
    .unwrap();
    conn
}

async fn run(conn: &mut PgConnection, statement: &str) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(conn)
        .await
        .map(|_| ())
}

#[tokio::test]
async fn rls_scopes_every_organisation_table_to_the_transaction_setting() {
    let Some(db) = TestDatabase::from_env("rls") else {
        return;
    };
    let schema = db.fresh_schema().await.unwrap();
    let (a, b) = (
        Uuid::parse_str("0a000000-0000-7000-8000-000000000000").unwrap(),
        Uuid::parse_str("0b000000-0000-7000-8000-000000000000").unwrap(),
    );
    let mut conn = app(&db, &schema).await;
    // The role really is what a deployment uses: no superuser, no BYPASSRLS.
    let row =
        sqlx::query("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(
        !row.get::<bool, _>(0) && !row.get::<bool, _>(1),
        "the app role bypasses RLS"
    );
    assert_eq!(inserts(a, 1).len(), TABLES.len());

    // Rows of both organisations, written as the provider.
    let mut tx = conn.begin().await.unwrap();
    run(
        &mut tx,
        "SELECT set_config('selfcare.provider', 'on', true)",
    )
    .await
    .unwrap();
    for org in [a, b] {
        for (_, statement) in inserts(org, 1) {
            run(&mut tx, &statement).await.unwrap();
        }
    }
    tx.commit().await.unwrap();

    // The setting = A: A's rows, at least one per table, none of B's.
    let mut tx = conn.begin().await.unwrap();
    run(
        &mut tx,
        &format!("SELECT set_config('selfcare.org', '{a}', true)"),
    )
    .await
    .unwrap();
    for table in TABLES {
        let orgs: Vec<Uuid> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT org_id FROM {table}")))
                .fetch_all(&mut *tx)
                .await
                .unwrap();
        assert!(!orgs.is_empty(), "{table}: A sees none of its rows");
        assert!(
            orgs.iter().all(|o| *o == a),
            "{table}: A sees another organisation's row"
        );
    }
    // An INSERT of B's row fails (each in a savepoint, so the next can run).
    for (table, statement) in inserts(b, 2) {
        let mut sp = tx.begin().await.unwrap();
        let err = run(&mut sp, &statement).await.expect_err(table);
        let code = err
            .as_database_error()
            .and_then(|d| d.code())
            .unwrap_or_default();
        assert_eq!(code, "42501", "{table}: {err}");
        sp.rollback().await.unwrap();
    }
    tx.rollback().await.unwrap();

    // No setting: no row at all.
    let mut tx = conn.begin().await.unwrap();
    for table in TABLES {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!(n, 0, "{table}: rows seen without a setting");
    }
    tx.rollback().await.unwrap();

    // Every organisation-scoped table of the schema is in the list (a new one must be added).
    let scoped: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relrowsecurity AND c.relforcerowsecurity
         ORDER BY 1",
    )
    .bind(&schema)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let with_org: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.columns
         WHERE table_schema = $1 AND column_name = 'org_id' ORDER BY 1",
    )
    .bind(&schema)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut listed: Vec<String> = TABLES.iter().map(|t| (*t).to_owned()).collect();
    listed.sort();
    assert_eq!(scoped, listed, "tables with forced RLS");
    assert_eq!(with_org, listed, "tables with an org_id column");
}
