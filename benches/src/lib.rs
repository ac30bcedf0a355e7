//! Benchmark support: the fixture every store's benchmarks start from (one business customer
//! with one order of `n` SIMs), the bench SIMs, and criterion settings. The benches live in
//! `benches/`.

// A benchmark is a test harness: a failed setup should stop it loudly.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use selfcare::checkout::{Payment, PlaceOrder};
use selfcare::core::address::{AddressInput, AddressUsage};
use selfcare::core::catalogue::{Seller, Sku};
use selfcare::core::contact::Country;
use selfcare::core::customer::{NewCustomer, NewCustomerKind};
use selfcare::core::ids::{OrderId, OrgId, SimId};
use selfcare::core::numbers::{Iccid, Imsi, Msisdn};
use selfcare::core::password::{Password, PasswordParams};
use selfcare::core::sims::{Sim, SimBilling, SimLabel, SimStatus};
use selfcare::storage::Store;
use selfcare::storage::ports::SystemClock;
use selfcare::{LoginOutcome, NewOwner, Portal, PortalConfig, Ports, RequestContext, Session};
use time::OffsetDateTime;
use tokio::runtime::Runtime;

/// The Owner's password.
pub const PASSWORD: &str = "purple tractors dream of quiet fog";
/// The Owner's e-mail.
pub const EMAIL: &str = "ada@bench.example";
/// SIMs written per store transaction while building the database (not measured).
pub const SETUP_BATCH: usize = 50_000;

/// `SELFCARE_BENCH_ROWS` (default 1 000 000): the SIMs of the big order.
pub fn rows_from_env() -> usize {
    std::env::var("SELFCARE_BENCH_ROWS")
        .ok()
        .and_then(|v| v.trim().replace('_', "").parse().ok())
        .unwrap_or(1_000_000)
}

/// The runtime every bench runs on: two worker threads, like the machines it runs on.
pub fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A portal with one business customer whose Owner is logged in, and one order (on invoice)
/// holding `n` SIMs, on the store it was made on.
pub struct Fixture {
    /// The store beneath the portal.
    pub store: Arc<dyn Store>,
    /// The Owner's session.
    pub session: Session,
    /// The customer's organisation.
    pub org: OrgId,
    /// The order holding the SIMs.
    pub order: OrderId,
    /// Its number.
    pub number: String,
    /// The ids of the order's SIMs, ascending (the order the stores keep them in).
    pub sim_ids: Vec<SimId>,
}

/// A temporary directory below `SELFCARE_TEST_DIR` when set.
pub fn scratch_dir() -> tempfile::TempDir {
    match std::env::var_os("SELFCARE_TEST_DIR") {
        Some(root) => tempfile::tempdir_in(root),
        None => tempfile::tempdir(),
    }
    .expect("temporary directory")
}

/// A catalogue SKU.
pub fn sku(s: &str) -> Sku {
    Sku::parse(s).expect("sku")
}

/// SIM `i` of the bench: every tenth label starts with a formula character, a few contain
/// commas, every seventh SIM is not provisioned yet (as in the core export bench).
pub fn sim(i: usize, order: OrderId, now: OffsetDateTime, msisdns: &[Msisdn]) -> Sim {
    let label = match i % 10 {
        0 => format!("=HYPERLINK(\"x\";{i})"),
        3 => format!("Truck {i}, north"),
        5 => format!("-{i}"),
        7 => format!("@sensor {i}"),
        _ => format!("Sensor {i}"),
    };
    let provisioned = !i.is_multiple_of(7);
    let mut random = [0u8; 10];
    random[2..].copy_from_slice(&(i as u64).to_be_bytes());
    Sim {
        id: SimId::new(now, random),
        iccid: Iccid::from_payload(&format!("8949{i:014}")).expect("iccid"),
        imsi: provisioned.then(|| Imsi::parse(&format!("26201{i:010}")).expect("imsi")),
        msisdn: provisioned.then(|| msisdns[i % msisdns.len()].clone()),
        label: SimLabel::parse(&label).expect("label"),
        status: SimStatus::Enabled,
        order,
        billing: SimBilling::Tariff {
            code: "IOT-1GB".into(),
        },
        auto_top_up: false,
    }
}

/// The MSISDNs the SIMs take theirs from.
pub fn msisdn_pool() -> Vec<Msisdn> {
    (0..100)
        .map(|i| Msisdn::parse(&format!("+4917012{i:05}")).expect("msisdn"))
        .collect()
}

/// The [`Fixture`] on `store`, built on `rt` (which must outlive it). The SIMs are written
/// straight through the store in transactions of 50 000.
pub fn fixture_on(rt: &Runtime, store: Arc<dyn Store>, n: usize) -> Fixture {
    rt.block_on(async {
        let ports = Ports::development_with(Arc::new(SystemClock)).0;
        let seller = Seller::new(
            "Nordlicht Connect GmbH",
            Country::parse("DE").expect("country"),
            "DE811907980",
        )
        .expect("seller");
        let mut config = PortalConfig::new(seller, &[7u8; 32]).expect("config");
        config.password_params = PasswordParams::testing();
        let portal = Portal::with_store(store.clone(), ports, config).expect("portal");
        let ctx = RequestContext::from_source("203.0.113.7");
        let registered = portal
            .register_customer(
                &NewCustomer {
                    kind: NewCustomerKind::Business {
                        company_name: "Acme IoT GmbH".into(),
                        vat_id: Some("DE123456789".into()),
                    },
                    main_contact: "billing@acme.example".into(),
                    billing_country: "DE".into(),
                    language: Some("de".into()),
                },
                NewOwner {
                    name: "Ada Owner".into(),
                    email: EMAIL.into(),
                    password: Password::new(PASSWORD),
                },
                &ctx,
            )
            .await
            .expect("register");
        let LoginOutcome::Session(session) = portal
            .login(EMAIL, Password::new(PASSWORD), &ctx)
            .await
            .expect("login")
        else {
            panic!("no second factor here")
        };
        session
            .add_address(
                AddressInput {
                    name: "Ada Owner".into(),
                    company: Some("Acme IoT GmbH".into()),
                    street: "Invalidenstraße".into(),
                    house_number: Some("116".into()),
                    postal_code: "10115".into(),
                    city: "Berlin".into(),
                    country: "DE".into(),
                    ..AddressInput::default()
                },
                AddressUsage::BOTH,
                AddressUsage::BOTH,
                None,
            )
            .await
            .expect("address");
        // One order holding `n` SIMs (a line takes at most `MAX_QUANTITY`, and a SKU appears
        // once, so the order asks for at most that many; the export reads what the store holds).
        let quantity = n.min(selfcare::core::orders::MAX_QUANTITY as usize) as u32;
        let items = vec![(sku("SIM-STD"), quantity)];
        let order = session
            .place_order(
                PlaceOrder {
                    items,
                    billing_address: None,
                    shipping_address: None,
                    payment: Payment::OnInvoice,
                },
                "bench-fleet-order",
            )
            .await
            .expect("order");
        // The warehouse's SIMs, straight through the store in big transactions.
        let now = OffsetDateTime::now_utc();
        let pool = msisdn_pool();
        let mut sim_ids = Vec::with_capacity(n);
        for start in (0..n).step_by(SETUP_BATCH) {
            let batch: Vec<Sim> = (start..(start + SETUP_BATCH).min(n))
                .map(|i| sim(i, order.id, now, &pool))
                .collect();
            sim_ids.extend(batch.iter().map(|s| s.id));
            let mut tx = store.begin(registered.org).await.expect("begin");
            tx.insert_sims(batch).await.expect("insert sims");
            tx.commit().await.expect("commit");
        }
        Fixture {
            store,
            session,
            org: registered.org,
            order: order.id,
            number: order.number.to_string(),
            sim_ids,
        }
    })
}

/// `(VmRSS, VmHWM)` of this process in kB.
pub fn rss_kb() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Ten samples, one second of warm-up, five of measurement.
pub fn group_timing(group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
}
