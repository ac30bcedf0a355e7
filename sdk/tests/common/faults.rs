//! Checkout under faults (ORD-5), shared by the SQLite crash test and the PostgreSQL fault
//! test: a gateway whose ledger is a file, the customer every run starts from, one purchase,
//! and the check of the store against the ledger after `run_maintenance`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use selfcare::checkout::{Payment, PlaceOrder, TopUpTarget};
use selfcare::core::address::AddressUsage;
use selfcare::core::catalogue::Sku;
use selfcare::core::ids::CardId;
use selfcare::core::numbers::Iccid;
use selfcare::core::orders::{
    GatewayKey, IdempotencyKey, Order, OrderPayment, OrderType, PaymentIntentState,
};
use selfcare::core::password::Password;
use selfcare::core::payment::{CardToken, VerifiedCard};
use selfcare::core::policy::StaffActor;
use selfcare::core::roles::StaffRole;
use selfcare::dev::{DevGateway, DevVerifier};
use selfcare::staff::SimRow;
use selfcare::storage::ports::{
    ChargeOutcome, ChargeRequest, Clock, PaymentGateway, PortError, RefundOutcome, RefundRequest,
    SystemClock,
};
use selfcare::storage::{PageRequest, Store};
use selfcare::{LoginOutcome, Portal, Session};

use super::{PASSWORD, business, ctx};

/// The Owner every fault run logs in as.
pub const OWNER: &str = "ada@crash.example";

/// A gateway whose ledger is a file: `charge <key> <charge id>` and `refund <charge id>`
/// lines, each fsynced before the outcome is returned, so a charge the gateway made is known
/// after any kill. A repeated key returns the first outcome, across processes.
pub struct FileGateway {
    ledger: PathBuf,
    cards: DevGateway,
    lock: Mutex<()>,
}

impl FileGateway {
    pub fn new(ledger: &Path) -> Self {
        FileGateway {
            ledger: ledger.to_path_buf(),
            cards: DevGateway::new(Arc::new(SystemClock)),
            lock: Mutex::new(()),
        }
    }

    /// The ledger's whole lines, split into words.
    pub fn lines(&self) -> Vec<Vec<String>> {
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

/// The whole lines of `path`, split into words (none when it does not exist).
pub fn read_lines(path: &Path) -> Vec<Vec<String>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    // A line cut by the kill has no newline after it: only newline-terminated lines count
    // (a torn "order key 80NQ-S5" would name an order that never existed).
    let whole = match text.rfind('\n') {
        Some(end) => &text[..end],
        None => "",
    };
    whole
        .lines()
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

/// The Owner's session.
pub async fn owner(portal: &Portal) -> Session {
    match portal
        .login(OWNER, Password::new(PASSWORD), &ctx())
        .await
        .unwrap()
    {
        LoginOutcome::Session(s) => s,
        _ => panic!("no second factor here"),
    }
}

/// The SIM the top-ups go to.
pub fn sim_iccid() -> Iccid {
    Iccid::from_payload("8949000000000000001").unwrap()
}

/// Purchase `i` of a run under key `key`: every third a top-up of the SIM, else an order of
/// 1–5 SIMs, paid with `card`. Returns what it was and what the portal answered.
pub async fn purchase(
    ada: &Session,
    card: CardId,
    i: u32,
    key: &str,
) -> (&'static str, selfcare::Result<Order>) {
    if i % 3 == 2 {
        let r = ada
            .top_up(
                TopUpTarget::Sim(sim_iccid()),
                Sku::parse("DATA-500MB").unwrap(),
                Payment::Card(card),
                key,
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
                key,
            )
            .await;
        ("order", r)
    }
}

/// The store after a fault, as found through `portal` (and `store` beneath it) once
/// maintenance has run: every order in `committed` (`[kind, key, number]` lines) is there,
/// whole; every charged key ended as one order with one charge and no refund, or as no order
/// with one refund; every top-up started one quota generation. `kill` names the fault in
/// messages. Returns (keys ended as orders, keys refunded).
pub async fn check(
    portal: &Portal,
    store: &dyn Store,
    gateway: &FileGateway,
    committed: &[Vec<String>],
    kill: usize,
) -> (usize, usize) {
    // Intents leased by the attempt that failed are due once their lease ran out: maintenance
    // runs as of two minutes from now.
    let later = SystemClock.now() + time::Duration::minutes(2);
    portal.run_maintenance(later).await.unwrap();

    let ada = owner(portal).await;
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
    for line in committed {
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
    let mut tx = store.begin(org).await.unwrap();
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
    let mut tx = store.begin(org).await.unwrap();
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

/// The customer every run starts from: the Owner, an address, a card, and one on-invoice
/// order whose SIM the top-ups go to.
pub async fn setup(portal: &Portal) {
    let (customer, mut new_owner) = business(OWNER);
    new_owner.email = OWNER.into();
    portal
        .register_customer(&customer, new_owner, &ctx())
        .await
        .unwrap();
    let ada = owner(portal).await;
    ada.add_address(
        super::billing_address(),
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
