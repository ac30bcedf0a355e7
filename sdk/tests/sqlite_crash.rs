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

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration as StdDuration;

use common::faults::{self, FileGateway, owner, read_lines};
use selfcare::storage::ports::SystemClock;
use selfcare::{Portal, Ports};
use selfcare_sqlite::SqliteStore;

const CHILD: &str = "SELFCARE_CRASH_CHILD";
/// Kills to survive; `SELFCARE_CRASH_KILLS` raises it.
const KILLS: usize = 50;

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

/// The child: orders and top-ups until it is killed; each one it saw committed is appended
/// (and fsynced) to the committed file.
async fn child(files: Files) {
    let (portal, _) = portal(&files).await;
    let ada = owner(&portal).await;
    let card = ada.cards().await.unwrap()[0].id;
    let pid = std::process::id();
    for i in 0.. {
        let key = format!("p{pid}-{i}");
        let (kind, placed) = faults::purchase(&ada, card, i, &key).await;
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
    let store = SqliteStore::open(&files.db).await.unwrap();
    store.integrity_check().await.unwrap();
    faults::check(
        &portal,
        &store,
        &gateway,
        &read_lines(&files.committed),
        kill,
    )
    .await
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
    faults::setup(&portal(&files).await.0).await;
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
