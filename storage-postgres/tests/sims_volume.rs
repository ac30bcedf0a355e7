//! SIMs at volume (SIM-2, ORD-3) on PostgreSQL: a batch of 50 000 SIMs goes in with one call
//! and is refused whole when its last chunk holds a taken ICCID or id (the transaction goes
//! on); the export through the server-side cursor is the CSV of `order_sims`, whatever the
//! chunk size.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use selfcare_core::export::SimCsvWriter;
use selfcare_core::ids::{OrderId, OrgId, SimId};
use selfcare_core::numbers::{Iccid, Imsi, Msisdn};
use selfcare_core::sims::{Sim, SimBilling, SimLabel, SimStatus};
use selfcare_postgres::PgConfig;
use selfcare_postgres::testing::TestDatabase;
use selfcare_storage::sims::SimFilter;
use selfcare_storage::{Store, StoreError};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use time::OffsetDateTime;
use time::macros::datetime;

const T0: OffsetDateTime = datetime!(2026-05-01 12:00 UTC);

fn id_bytes(tag: u8, n: u32) -> [u8; 10] {
    let [a, b, c, d] = n.to_be_bytes();
    [tag, a, b, c, d, 0x5a, 0xa5, tag, 1, 2]
}

fn at(n: u32) -> OffsetDateTime {
    T0 + time::Duration::milliseconds(i64::from(n))
}

/// The SIM `k` of `order`: ids sort by `k`; every third has numbers, every fifth a label a
/// spreadsheet would run.
fn sim(order: OrderId, k: u32) -> Sim {
    let mut label = SimLabel::empty();
    if k.is_multiple_of(5) {
        label = SimLabel::parse(&format!("=cmd {k}")).unwrap();
    }
    let numbered = k.is_multiple_of(3);
    Sim {
        id: SimId::new(at(k), id_bytes(0x51, k)),
        iccid: Iccid::from_payload(&format!("8988228{k:011}")).unwrap(),
        imsi: numbered.then(|| Imsi::parse(&format!("262019{k:09}")).unwrap()),
        msisdn: numbered.then(|| Msisdn::parse("+4915112345678").unwrap()),
        label,
        status: if k.is_multiple_of(2) {
            SimStatus::Enabled
        } else {
            SimStatus::Disabled
        },
        order,
        billing: SimBilling::Tariff {
            code: "IOT-1GB".into(),
        },
        auto_top_up: k.is_multiple_of(7),
    }
}

/// A store in a fresh schema with an order row for each `(org, order)` (the SIMs' parents;
/// their bodies are never read here), written straight through SQL.
async fn setup(db: &TestDatabase, orders: &[(OrgId, OrderId)]) -> Arc<dyn Store> {
    let schema = db.fresh_schema().await.unwrap();
    let store = selfcare_postgres::PgStore::open(
        &db.app_url,
        PgConfig::default()
            .with_schema(schema.clone())
            .with_migrate(false),
    )
    .await
    .unwrap();
    for (number, (org, order)) in (1_i64..).zip(orders) {
        let mut c = app_connection(db, &schema, *org).await;
        sqlx::query(
            "INSERT INTO orders (org_id, id, number, placed_at, gross_minor, currency, version,
                 body)
             VALUES ($1, $2, $3, 0, 0, 'EUR', 1, '\\x7b7d')",
        )
        .bind(org.as_uuid())
        .bind(order.as_uuid())
        .bind(number)
        .execute(&mut c)
        .await
        .unwrap();
    }
    Arc::new(store)
}

/// A connection of the application role in `schema`, scoped to `org` for the session.
async fn app_connection(db: &TestDatabase, schema: &str, org: OrgId) -> PgConnection {
    let mut c = PgConnection::connect(&db.app_url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("SET search_path TO \"{schema}\"")))
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("SELECT set_config('selfcare.org', $1, false)")
        .bind(org.as_uuid().to_string())
        .execute(&mut c)
        .await
        .unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_sims_in_one_call_all_or_nothing_and_exported_through_a_cursor() {
    let Some(db) = TestDatabase::from_env("sims_volume") else {
        return;
    };
    let org = OrgId::new(T0, id_bytes(1, 0));
    let order = OrderId::new(T0, id_bytes(1, 1));
    let store = setup(&db, &[(org, order)]).await;

    let batch: Vec<Sim> = (0..50_000).map(|k| sim(order, k)).collect();
    let mut tx = store.begin(org).await.unwrap();
    tx.insert_sims(batch.clone()).await.unwrap();
    tx.commit().await.unwrap();

    // A second batch of 50 000 whose last chunk repeats a stored ICCID, then one whose last
    // chunk repeats a stored id: both refused whole, and the transaction goes on.
    let mut tx = store.begin(org).await.unwrap();
    let mut dup_iccid: Vec<Sim> = (50_000..100_000).map(|k| sim(order, k)).collect();
    dup_iccid.last_mut().unwrap().iccid = batch[17].iccid.clone();
    assert_eq!(
        tx.insert_sims(dup_iccid).await,
        Err(StoreError::duplicate("iccid"))
    );
    let mut dup_id: Vec<Sim> = (50_000..100_000).map(|k| sim(order, k)).collect();
    dup_id.last_mut().unwrap().id = batch[17].id;
    assert_eq!(
        tx.insert_sims(dup_id).await,
        Err(StoreError::duplicate("sim"))
    );
    let mut twice: Vec<Sim> = (50_000..100_000).map(|k| sim(order, k)).collect();
    twice.last_mut().unwrap().iccid = twice[0].iccid.clone();
    assert_eq!(
        tx.insert_sims(twice).await,
        Err(StoreError::duplicate("iccid"))
    );
    tx.insert_sims(vec![sim(order, 100_000)]).await.unwrap();
    tx.commit().await.unwrap();
    assert!(
        store
            .sim_by_iccid(&sim(order, 50_000).iccid)
            .await
            .unwrap()
            .is_none(),
        "a SIM of a refused batch is stored"
    );

    // The export, in chunks of 10 000 and of 777, is the CSV of `order_sims`.
    let mut tx = store.begin(org).await.unwrap();
    let mut reference = SimCsvWriter::continuing(Vec::new());
    let mut after = None;
    let mut count = 0;
    loop {
        let got = tx.order_sims(order, after, 500).await.unwrap();
        for s in &got {
            reference.write_sim(&s.value).unwrap();
        }
        count += got.len();
        match got.last() {
            Some(last) if got.len() == 500 => after = Some(last.value.id),
            _ => break,
        }
    }
    assert_eq!(count, 50_001);
    let reference = reference.finish().unwrap();
    for size in [10_000, 777] {
        let mut bytes = Vec::new();
        let mut after = None;
        let mut rows = 0;
        loop {
            let chunk = tx.order_sims_csv(order, after, size).await.unwrap();
            bytes.extend_from_slice(&chunk.bytes);
            rows += chunk.rows;
            if chunk.rows < size {
                break;
            }
            after = chunk.last;
        }
        assert_eq!(rows, 50_001);
        assert!(bytes == reference, "the chunks of {size} differ");
    }
    // The cursor is closed after each chunk: the transaction goes on with other statements.
    let page = tx
        .list_sims(
            &SimFilter::default(),
            &selfcare_storage::page::PageRequest::first(3),
        )
        .await
        .unwrap();
    assert_eq!(page.items.len(), 3);
    tx.commit().await.unwrap();
}

/// Tries to insert `sim` in its organisation until the outcome is not `Retryable`.
async fn claim(store: Arc<dyn Store>, org: OrgId, sim: Sim) -> Result<(), StoreError> {
    loop {
        let outcome = async {
            let mut tx = store.begin(org).await?;
            tx.insert_sims(vec![sim.clone()]).await?;
            tokio::task::yield_now().await;
            tx.commit().await
        }
        .await;
        match outcome {
            Err(e) if e.is_retryable() => {}
            other => return other,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_claims_of_one_iccid_across_organisations_store_it_once() {
    let Some(db) = TestDatabase::from_env("sims_volume") else {
        return;
    };
    let parents: Vec<(OrgId, OrderId)> = (1..=4)
        .map(|n| {
            (
                OrgId::new(T0, id_bytes(n, 0)),
                OrderId::new(T0, id_bytes(n, 1)),
            )
        })
        .collect();
    let store = setup(&db, &parents).await;
    let mut tasks = Vec::new();
    for (n, (org, order)) in (0u32..).zip(&parents) {
        let mut contested = sim(*order, n);
        contested.iccid = Iccid::from_payload("898822800000054321").unwrap();
        tasks.push(tokio::spawn(claim(Arc::clone(&store), *org, contested)));
    }
    let mut won = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => won += 1,
            Err(e) => assert_eq!(e, StoreError::duplicate("iccid")),
        }
    }
    assert_eq!(won, 1, "{won} organisations hold the ICCID");
}
