//! Crash safety on SQLite (issue 5, point 4): a child process places orders and top-ups in a
//! loop and is killed with SIGKILL at random moments. Its payment gateway appends and fsyncs
//! every charge to a ledger file, so charges outlive the kill. After each kill the parent
//! reopens the store, runs `run_maintenance`, and checks: the file is sound; every order the
//! child reported committed is there with its lines and payment; every charged key ended as
//! exactly one order with one charge and no refund, or as no order with exactly one refund.
//!
//! The child is this test binary again, started with `SELFCARE_CRASH_CHILD` set.

#![cfg(all(feature = "sqlite", unix))]
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use async_trait::async_trait;
use common::{PASSWORD, business, ctx};
use selfcare::checkout::{Payment, PlaceOrder, TopUpTarget};
use selfcare::core::address::AddressUsage;
use selfcare::core::catalogue::Sku;
use selfcare::core::numbers::Iccid;
use selfcare::core::orders::{
    GatewayKey, IdempotencyKey, OrderPayment, OrderType, PaymentIntentState,
};
use selfcare::core::password::Password;
use selfcare::core::payment::{CardToken, VerifiedCard};
use selfcare::core::policy::StaffActor;
use selfcare::core::roles::StaffRole;
use selfcare::dev::{DevGateway, DevVerifier};
use selfcare::staff::SimRow;
use selfcare::storage::PageRequest;
use selfcare::storage::ports::{
    ChargeOutcome, ChargeRequest, Clock, PaymentGateway, PortError, RefundOutcome, RefundRequest,
    SystemClock,
};
use selfcare::storage::sims::SimsLookup;
use selfcare::{LoginOutcome, Portal, Ports, Session};
use selfcare_sqlite::SqliteStore;

const CHILD: &str = "SELFCARE_CRASH_CHILD";
const OWNER: &str = "ada@crash.example";
/// Kills to survive; `SELFCARE_CRASH_KILLS` raises it.
const KILLS: usize = 50;

/// A gateway whose ledger is a file: `charge <key> <charge id>` and `refund <charge id>`
/// lines, each fsynced before the outcome is returned, so a charge the gateway made is known
/// after any kill. A repeated key returns the first outcome, across processes.
struct FileGateway {
    ledger: PathBuf,
    cards: DevGateway,
    lock: Mutex<()>,
}

impl FileGateway {
    fn new(ledger: &Path) -> Self {
        FileGateway {
            ledger: ledger.to_path_buf(),
            cards: DevGateway::new(Arc::new(SystemClock)),
            lock: Mutex::new(()),
        }
    }

    fn lines(&self) -> Vec<Vec<String>> {
        read_lines(&self.ledger)
    }

    fn append(&self, line: &str) -> Result<(), PortError> {
        let unavailable = |e: std::io::Error| PortError::Unavailable {
            reason: e.to_string(),
        };
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.ledger)
            .map_err(unavailable)?;
        writeln!(f, "{line}").map_err(unavailable)?;
        f.sync_all().map_err(unavailable)
    }
}

fn read_lines(path: &Path) -> Vec<Vec<String>> {
    let Ok(f) = File::open(path) else {
        return Vec::new();
    };
    BufReader::new(f)
        .lines()
        .map_while(Result::ok)
        // A line cut by the kill has no newline-terminated sibling after it; keep whole ones.
        .map(|l| l.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .filter(|w| w.len() >= 2)
        .collect()
}

#[async_trait]
impl PaymentGateway for FileGateway {
    async fn verify_card(&self, token: &CardToken) -> Result<VerifiedCard, PortError> {
        self.cards.verify_card(token).await
    }

    async fn charge(&self, request: ChargeRequest) -> Result<ChargeOutcome, PortError> {
        let _guard = self.lock.lock().unwrap();
        let key = request.key.as_str();
        if let Some(line) = self
            .lines()
            .into_iter()
            .find(|w| w[0] == "charge" && w[1] == key)
        {
            return Ok(ChargeOutcome::Succeeded {
                charge_id: line[2].clone(),
            });
        }
        let charge_id = format!("ch_{}", key.replace(':', "_"));
        self.append(&format!("charge {key} {charge_id}"))?;
        Ok(ChargeOutcome::Succeeded { charge_id })
    }

    async fn refund(&self, request: RefundRequest) -> Result<RefundOutcome, PortError> {
        let _guard = self.lock.lock().unwrap();
        let refund_id = format!("re_{}", request.charge_id);
        if !self
            .lines()
            .iter()
            .any(|w| w[0] == "refund" && w[1] == request.charge_id)
        {
            self.append(&format!("refund {}", request.charge_id))?;
        }
        Ok(RefundOutcome::Succeeded { refund_id })
    }
}

struct Files {
    db: PathBuf,
    ledger: PathBuf,
    committed: PathBuf,
}

impl Files {
    fn in_dir(dir: &Path) -> Self {
        Files {
            db: dir.join("crash.db"),
            ledger: dir.join("ledger.txt"),
            committed: dir.join("committed.txt"),
        }
    }
}

async fn portal(files: &Files) -> (Portal, Arc<FileGateway>) {
    let gateway = Arc::new(FileGateway::new(&files.ledger));
    let (mut ports, _) = Ports::development_with(Arc::new(SystemClock));
    ports.gateway = gateway.clone();
    let config = common::test_config();
    let portal = Portal::open(files.db.to_str().unwrap(), ports, config)
        .await
        .unwrap();
    (portal, gateway)
}

async fn owner(portal: &Portal) -> Session {
    match portal
        .login(OWNER, Password::new(PASSWORD), &ctx())
        .await
        .unwrap()
    {
        LoginOutcome::Session(s) => s,
        _ => panic!("no second factor here"),
    }
}

fn sim_iccid() -> Iccid {
    Iccid::from_payload("8949000000000000001").unwrap()
}

/// The child: orders and top-ups until it is killed; each one it saw committed is appended
/// (and fsynced) to the committed file.
async fn child(files: Files) {
    let (portal, _) = portal(&files).await;
    let ada = owner(&portal).await;
    let card = ada.cards().await.unwrap()[0].id;
    let pid = std::process::id();
    for i in 0.. {
        let key = format!("p{pid}-{i}");
        let (kind, placed) = if i % 3 == 2 {
            let r = ada
                .top_up(
                    TopUpTarget::Sim(sim_iccid()),
                    Sku::parse("DATA-500MB").unwrap(),
                    Payment::Card(card),
                    &key,
                )
                .await;
            ("topup", r)
        } else {
            let r = ada
                .place_order(
                    PlaceOrder {
                        items: vec![(Sku::parse("SIM-STD").unwrap(), 1 + i % 5)],
                        billing_address: None,
                        shipping_address: None,
                        payment: Payment::Card(card),
                    },
                    &key,
                )
                .await;
            ("order", r)
        };
        let order = placed.unwrap();
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&files.committed)
            .unwrap();
        writeln!(f, "{kind} {key} {}", order.number).unwrap();
        f.sync_all().unwrap();
    }
}

/// The store as the parent finds it after a kill and maintenance.
async fn check(files: &Files, kill: usize) -> (usize, usize) {
    let (portal, gateway) = portal(files).await;
    // Intents leased by the killed child are due once their lease ran out: maintenance runs
    // as of two minutes from now.
    let later = SystemClock.now() + time::Duration::minutes(2);
    portal.run_maintenance(later).await.unwrap();
    let store = SqliteStore::open(&files.db).await.unwrap();
    store.integrity_check().await.unwrap();

    let ada = owner(&portal).await;
    let org = ada.org();
    let mut orders = BTreeMap::new();
    let mut page = PageRequest::first(500);
    loop {
        let p = ada.orders(&page).await.unwrap();
        for o in p.items {
            orders.insert(o.number.to_string(), o);
        }
        match p.next {
            Some(c) => page = PageRequest::after(c, 500),
            None => break,
        }
    }
    // Every order the child saw committed is there, whole.
    for line in read_lines(&files.committed) {
        let number = &line[2];
        let order = orders
            .get(number)
            .unwrap_or_else(|| panic!("kill {kill}: committed order {number} is missing"));
        assert!(
            !order.priced.lines.is_empty(),
            "kill {kill}: {number} lost its lines"
        );
        assert!(
            matches!(
                &order.payment,
                OrderPayment::Card {
                    charge_id: Some(_),
                    ..
                }
            ),
            "kill {kill}: {number} lost its payment"
        );
    }
    // Every charged key: an order with one charge and no refund, or no order and one refund.
    let ledger = gateway.lines();
    let mut charges: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut refunds: BTreeMap<String, usize> = BTreeMap::new();
    for w in &ledger {
        match w[0].as_str() {
            "charge" if w.len() == 3 => charges.entry(w[1].clone()).or_default().push(w[2].clone()),
            "refund" => *refunds.entry(w[1].clone()).or_default() += 1,
            _ => {}
        }
    }
    let mut tx = selfcare::storage::Store::begin(&store, org).await.unwrap();
    let mut ordered = 0;
    let mut refunded = 0;
    let card_orders: BTreeSet<String> = orders
        .values()
        .filter(|o| matches!(o.payment, OrderPayment::Card { .. }))
        .map(|o| o.number.to_string())
        .collect();
    for (gateway_key, ids) in &charges {
        assert_eq!(
            ids.len(),
            1,
            "kill {kill}: {gateway_key} charged {} times",
            ids.len()
        );
        let key = gateway_key
            .rsplit(':')
            .next()
            .and_then(|k| IdempotencyKey::parse(k).ok())
            .unwrap();
        assert_eq!(gateway_key, GatewayKey::order(org, &key).as_str());
        let intent = tx.payment_intent(&key).await.unwrap().unwrap().value;
        let refunds_of_it = refunds.get(&ids[0]).copied().unwrap_or(0);
        match intent.state {
            PaymentIntentState::Succeeded => {
                assert_eq!(
                    refunds_of_it, 0,
                    "kill {kill}: {gateway_key} ordered and refunded"
                );
                ordered += 1;
            }
            state => {
                assert_eq!(
                    refunds_of_it, 1,
                    "kill {kill}: {gateway_key} charged, {state:?}, refunded {refunds_of_it} times"
                );
                refunded += 1;
            }
        }
    }
    drop(tx);
    // No order without its charge (the setup's one order is on invoice).
    assert_eq!(
        card_orders.len(),
        ordered,
        "kill {kill}: orders and charges disagree"
    );
    // Each top-up started one generation of the SIM's quota.
    let top_ups = orders
        .values()
        .filter(|o| o.order_type == OrderType::TopUp)
        .count();
    let (_, sim) = store.sim_by_iccid(&sim_iccid()).await.unwrap().unwrap();
    let mut tx = selfcare::storage::Store::begin(&store, org).await.unwrap();
    let generations = tx
        .get_quota(sim)
        .await
        .unwrap()
        .map_or(0, |q| q.value.state.last_generation());
    assert_eq!(
        generations as usize, top_ups,
        "kill {kill}: generations and top-ups disagree"
    );
    (ordered, refunded)
}

async fn setup(files: &Files) {
    let (portal, _) = portal(files).await;
    let (customer, mut new_owner) = business(OWNER);
    new_owner.email = OWNER.into();
    portal
        .register_customer(&customer, new_owner, &ctx())
        .await
        .unwrap();
    let ada = owner(&portal).await;
    ada.add_address(
        common::billing_address(),
        AddressUsage::BOTH,
        AddressUsage::BOTH,
        None,
    )
    .await
    .unwrap();
    ada.save_card(
        "tok_visa".into(),
        "Ada Owner",
        Some(DevVerifier::PASSING_TOKEN.into()),
    )
    .await
    .unwrap();
    let order = ada
        .place_order(
            PlaceOrder {
                items: vec![(Sku::parse("SIM-STD").unwrap(), 1)],
                billing_address: None,
                shipping_address: None,
                payment: Payment::OnInvoice,
            },
            "setup",
        )
        .await
        .unwrap();
    portal
        .staff(StaffActor::new("warehouse", [StaffRole::Fulfillment], []).unwrap())
        .assign_sims(
            &order.number.to_string(),
            &[SimRow {
                iccid: sim_iccid().as_str().to_owned(),
                tariff: "IOT-1GB".into(),
                ..SimRow::default()
            }],
        )
        .await
        .unwrap();
}

/// Not a test of its own: the child's entry point, run only when `SELFCARE_CRASH_CHILD` is
/// set (by the parent below).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_entry() {
    let Ok(dir) = std::env::var(CHILD) else {
        return;
    };
    child(Files::in_dir(Path::new(&dir))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ord_5_sigkill_at_random_moments_loses_no_committed_order_and_no_charge() {
    let kills: usize = std::env::var("SELFCARE_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(KILLS);
    let dir = tempfile::tempdir().unwrap();
    let files = Files::in_dir(dir.path());
    setup(&files).await;
    let exe = std::env::current_exe().unwrap();
    let mut seed: u64 = 0x5EED_CAFE;
    let (mut ordered, mut refunded) = (0, 0);
    for kill in 0..kills {
        let mut child = std::process::Command::new(&exe)
            .args([
                "crash_child_entry",
                "--exact",
                "--nocapture",
                "--test-threads",
                "1",
            ])
            .env(CHILD, dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // xorshift: a random moment between 20 and 300 ms after the start.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(StdDuration::from_millis(20 + seed % 280));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        (ordered, refunded) = check(&files, kill).await;
    }
    let committed = read_lines(&files.committed).len();
    println!(
        "crash test: {kills} kills, {committed} orders reported committed by the child, \
         {ordered} charged keys ended as orders, {refunded} refunded"
    );
    assert!(
        committed > 0,
        "the child never committed an order: the kills came too early"
    );
}
