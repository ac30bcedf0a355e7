//! A portal over the in-memory store with test ports: a manual clock, and stand-ins for the
//! services these tests do not reach (they fail loudly if called).

#![allow(dead_code)]
// Test support: a failed setup is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod faults;

use std::sync::Arc;

use async_trait::async_trait;
use selfcare::core::catalogue::Seller;
use selfcare::core::contact::Country;
use selfcare::core::customer::{NewCustomer, NewCustomerKind};
use selfcare::core::password::{Password, PasswordParams};
use selfcare::core::payment::{CardToken, VerifiedCard};
use selfcare::storage::ports::{
    ApnPushRequest, CallForwardingRequest, ChargeOutcome, ChargeRequest, HumanVerifier,
    ManualClock, Network, NetworkAck, Notifier, OutboundMessage, PaymentGateway, PortError,
    RefundOutcome, RefundRequest, SwapSimRequest, UsageReadRequest, VoicemailRequest,
};
use selfcare::storage::{MemoryStore, Store};
use selfcare::{NewOwner, Portal, PortalConfig, Ports, RequestContext};
use time::macros::datetime;

/// Fails every call: these tests never reach a service port.
pub struct Unreachable;

fn unreachable() -> PortError {
    PortError::Unavailable {
        reason: "not part of this test".into(),
    }
}

#[async_trait]
impl PaymentGateway for Unreachable {
    async fn verify_card(&self, _: &CardToken) -> Result<VerifiedCard, PortError> {
        Err(unreachable())
    }
    async fn charge(&self, _: ChargeRequest) -> Result<ChargeOutcome, PortError> {
        Err(unreachable())
    }
    async fn refund(&self, _: RefundRequest) -> Result<RefundOutcome, PortError> {
        Err(unreachable())
    }
}

#[async_trait]
impl Notifier for Unreachable {
    async fn deliver(&self, _: OutboundMessage) -> Result<(), PortError> {
        Err(unreachable())
    }
}

#[async_trait]
impl HumanVerifier for Unreachable {
    async fn verify(&self, _: &str, _: &str) -> Result<bool, PortError> {
        Err(unreachable())
    }
}

#[async_trait]
impl Network for Unreachable {
    async fn swap_sim(&self, _: SwapSimRequest) -> Result<NetworkAck, PortError> {
        Err(unreachable())
    }
    async fn set_voicemail(&self, _: VoicemailRequest) -> Result<NetworkAck, PortError> {
        Err(unreachable())
    }
    async fn set_call_forwarding(&self, _: CallForwardingRequest) -> Result<NetworkAck, PortError> {
        Err(unreachable())
    }
    async fn push_apn(&self, _: ApnPushRequest) -> Result<NetworkAck, PortError> {
        Err(unreachable())
    }
    async fn read_usage(&self, _: UsageReadRequest) -> Result<NetworkAck, PortError> {
        Err(unreachable())
    }
}

/// A portal over a fresh in-memory store, its clock, and its store.
pub struct World {
    pub portal: Portal,
    pub clock: ManualClock,
    pub store: Arc<dyn Store>,
}

pub fn world() -> World {
    world_on(Arc::new(MemoryStore::new()))
}

/// A portal like [`world`]'s over `store`.
pub fn world_on(store: Arc<dyn Store>) -> World {
    let clock = ManualClock::new(datetime!(2026-11-23 10:00 UTC));
    let ports = Ports::new(
        Arc::new(Unreachable),
        Arc::new(Unreachable),
        Arc::new(Unreachable),
        Arc::new(Unreachable),
        Arc::new(clock.clone()),
    );
    let config = test_config();
    let portal = Portal::with_store(Arc::clone(&store), ports, config).unwrap();
    World {
        portal,
        clock,
        store,
    }
}

/// The test configuration: the seller every test uses, a fixed host key, and Argon2 at
/// test strength.
pub fn test_config() -> PortalConfig {
    let seller = Seller::new(
        "Nordlicht Connect GmbH",
        Country::parse("DE").unwrap(),
        "DE811907980",
    )
    .unwrap();
    let mut config = PortalConfig::new(seller, &[7u8; 32]).unwrap();
    config.password_params = PasswordParams::testing();
    config
}

/// A German business's billing address (the company of [`business`]), for orders.
pub fn billing_address() -> selfcare::core::address::AddressInput {
    selfcare::core::address::AddressInput {
        name: "Ada Owner".into(),
        company: Some("Acme IoT GmbH".into()),
        street: "Invalidenstraße".into(),
        house_number: Some("116".into()),
        postal_code: "10115".into(),
        city: "Berlin".into(),
        country: "DE".into(),
        ..selfcare::core::address::AddressInput::default()
    }
}

/// Logs `email` in with the test [`PASSWORD`]; these tests enrol no second factor.
pub async fn session(portal: &Portal, email: &str) -> selfcare::Session {
    match portal
        .login(email, Password::new(PASSWORD), &ctx())
        .await
        .unwrap()
    {
        selfcare::LoginOutcome::Session(s) => s,
        other => panic!("{email}: no second factor is enrolled in these tests: {other:?}"),
    }
}

pub const PASSWORD: &str = "purple tractors dream of quiet fog";

pub fn ctx() -> RequestContext {
    RequestContext::from_source("203.0.113.7")
}

pub fn business(email: &str) -> (NewCustomer, NewOwner) {
    (
        NewCustomer {
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
            email: email.into(),
            password: Password::new(PASSWORD),
        },
    )
}

/// Puts an active user with `role` and the test [`PASSWORD`] into `org` directly through the
/// store (as provider tooling would) and returns its id, distinct per e-mail address.
pub async fn insert_member(
    store: &dyn Store,
    org: selfcare::core::ids::OrgId,
    email: &str,
    role: selfcare::core::roles::Role,
) -> selfcare::core::ids::UserId {
    use selfcare::core::password::{check_new_password, hash_password};
    use selfcare::storage::accounts::{UserRecord, UserStatus};
    let normalized = check_new_password(&Password::new(PASSWORD), false, &[]).unwrap();
    let hash = hash_password(&normalized, &[5; 16], &PasswordParams::testing()).unwrap();
    let now = datetime!(2026-11-23 10:00 UTC);
    let mut random = [0u8; 10];
    for (slot, byte) in random.iter_mut().zip(email.bytes()) {
        *slot = byte;
    }
    let id = selfcare::core::ids::UserId::new(now, random);
    let mut tx = store.begin(org).await.unwrap();
    tx.insert_user(UserRecord {
        id,
        email: selfcare::core::contact::Email::parse(email).unwrap(),
        name: "Team Member".into(),
        role,
        status: UserStatus::Active,
        password_hash: Some(hash),
        pending_email: None,
        created_at: now,
    })
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

/// The store the store-independent suites run on, chosen by `SELFCARE_TEST_STORE`: `memory`
/// (the default), `sqlite` (a fresh file in a temporary directory, feature `sqlite`) or
/// `postgres` (a fresh schema of the test run's database, feature `postgres`). Open it on the
/// runtime that uses it: a PostgreSQL pool's connections belong to the runtime that made them.
/// The sdk's tests pick the store, so no store crate depends on the sdk.
pub async fn test_store() -> Arc<dyn Store> {
    match std::env::var("SELFCARE_TEST_STORE").as_deref() {
        Err(_) | Ok("") | Ok("memory") => Arc::new(MemoryStore::new()),
        #[cfg(feature = "sqlite")]
        Ok("sqlite") => {
            // The file outlives the test case: it goes below `SELFCARE_TEST_DIR` when set (the
            // test command removes that directory afterwards), else into a kept temporary one.
            let dir = match std::env::var_os("SELFCARE_TEST_DIR") {
                Some(root) => tempfile::tempdir_in(root).unwrap().keep(),
                None => tempfile::tempdir().unwrap().keep(),
            };
            let path = dir.join("portal.db");
            Arc::new(selfcare_sqlite::SqliteStore::open(&path).await.unwrap())
        }
        #[cfg(feature = "postgres")]
        Ok("postgres") => {
            let db = selfcare_postgres::testing::TestDatabase::from_env("test_store")
                .expect("SELFCARE_TEST_STORE=postgres needs the test run's database");
            let config = selfcare_postgres::PgConfig::default().with_max_connections(8);
            Arc::new(db.fresh_store(config).await.unwrap())
        }
        Ok(other) => panic!("SELFCARE_TEST_STORE={other}: no such store in this build"),
    }
}

/// [`test_store`] for synchronous callers, opened on `rt` (which must outlive it).
pub fn test_store_on(rt: &tokio::runtime::Runtime) -> Arc<dyn Store> {
    rt.block_on(test_store())
}

/// A SIM of `org` (numbered `n`, so ids, order number and ICCID differ per `n`) delivered with
/// an on-invoice order of its own, written straight through the store as staff tooling would;
/// with `quota = Some((volume, used))` it also gets data quota generation 1 of `volume` bytes
/// of which `used` are used.
pub async fn insert_sim(
    store: &dyn Store,
    org: selfcare::core::ids::OrgId,
    n: u8,
    now: time::OffsetDateTime,
    quota: Option<(u64, u64)>,
) -> (selfcare::core::ids::SimId, selfcare::core::numbers::Iccid) {
    use selfcare::core::customer::MonthPeriod;
    use selfcare::core::ids::SimId;
    use selfcare::core::numbers::Iccid;
    use selfcare::core::orders::OrderPayment;
    use selfcare::core::quota::{MonthlyUsage, Quota, QuotaState, SentMarks};
    use selfcare::core::sims::{Sim, SimBilling, SimLabel, SimStatus};
    use selfcare::storage::usage::QuotaRecord;
    let order = test_order(org, n, now, [n, 9, 8, 7, 6], 1, OrderPayment::OnInvoice);
    let iccid = Iccid::from_payload(&format!("8988228{n:011}")).unwrap();
    let sim = Sim {
        id: SimId::new(now, [n; 10]),
        iccid: iccid.clone(),
        imsi: None,
        msisdn: None,
        label: SimLabel::empty(),
        status: SimStatus::Enabled,
        order: order.id,
        billing: SimBilling::Tariff {
            code: "IOT-1GB".into(),
        },
        auto_top_up: false,
    };
    let id = sim.id;
    let mut tx = store.begin(org).await.unwrap();
    tx.insert_order(order).await.unwrap();
    tx.insert_sims(vec![sim]).await.unwrap();
    if let Some((volume, used)) = quota {
        let data = Quota {
            generation: 1,
            volume,
            used,
        };
        tx.insert_quota(QuotaRecord {
            state: QuotaState::restore(id, 1, data, Quota::default()),
            monthly: MonthlyUsage::new(MonthPeriod::new(2026, 11).unwrap()),
            marks: SentMarks::new(),
        })
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    (id, iccid)
}

/// An order of `quantity` standard SIMs for `org`, placed at `now` and numbered from
/// `number` (its id from `n`), with a Berlin address: for tests that write orders straight
/// through the store.
pub fn test_order(
    org: selfcare::core::ids::OrgId,
    n: u8,
    now: time::OffsetDateTime,
    number: [u8; 5],
    quantity: u32,
    payment: selfcare::core::orders::OrderPayment,
) -> selfcare::core::orders::Order {
    use selfcare::core::catalogue::{Catalogue, Sku};
    use selfcare::core::contact::Email;
    use selfcare::core::ids::OrderId;
    use selfcare::core::orders::{
        NewOrder, Order, OrderNumber, OrderType, TaxCustomer, price_order,
    };
    let priced = price_order(
        &Catalogue::example(),
        &Seller::example().unwrap(),
        &TaxCustomer {
            business: false,
            vat_id: None,
            billing_country: Country::parse("DE").unwrap(),
        },
        &[(Sku::parse("SIM-STD").unwrap(), quantity)],
    )
    .unwrap();
    let address = selfcare::core::address::PostalAddress::parse(&billing_address())
        .unwrap()
        .snapshot();
    Order::new(NewOrder {
        id: OrderId::new(now, [n; 10]),
        org,
        number: OrderNumber::new(number),
        order_type: OrderType::FirstOrder,
        placed_at: now,
        priced,
        email: Email::parse("buyer@example.com").unwrap(),
        billing_address: address.clone(),
        shipping_address: address,
        payment,
    })
}
