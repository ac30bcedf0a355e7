//! # The selfcare tour
//!
//! `cargo run --release -p selfcare-examples --bin tour -- --db ./tour.db [--csv PATH]`
//!
//! Opens (creating it when absent) a portal on the embedded SQLite store with the development
//! ports, and walks every group of rules with real calls, printing in plain words what each
//! call did or why it was refused: two customers (*Nordlicht IoT GmbH*, a business running
//! IoT SIMs, and *Dana Levi*, a traveller with a consumer plan), users and roles, addresses, a
//! card, an order of 1 000 SIMs with its invoice and a corrected invoice, the SIMs' CSV, a guest
//! order lookup, a plan with a date change, a SIM swap, voicemail in Hebrew and call
//! forwarding, usage that crosses the thresholds and triggers exactly one automatic top-up, a
//! support ticket answered by staff, the notifications sent, and the audit chains verified.
//!
//! Run it again on the same file: it finds the customers already there and reports what the
//! store holds instead of creating them twice.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use indicatif::{ProgressBar, ProgressStyle};
use selfcare::audit::{AuditChainOf, ChainVerification};
use selfcare::checkout::{Payment, PlaceOrder, TopUpTarget};
use selfcare::core::address::{AddressInput, AddressUsage};
use selfcare::core::catalogue::{Seller, Sku};
use selfcare::core::contact::Country;
use selfcare::core::customer::{NewCustomer, NewCustomerKind};
use selfcare::core::ids::OrgId;
use selfcare::core::numbers::Iccid;
use selfcare::core::orders::{DocumentKind, ShipmentStatus};
use selfcare::core::password::Password;
use selfcare::core::payment::AutoTopUpTarget;
use selfcare::core::plans::VoicemailLanguage;
use selfcare::core::policy::StaffActor;
use selfcare::core::quota::UsageRecord;
use selfcare::core::roles::{Department, Role, StaffRole};
use selfcare::core::tickets::{NewTicket, TicketEvent};
use selfcare::dev::{DevHandles, DevVerifier};
use selfcare::plans::{ProvisioningOutcome, ProvisioningStarted};
use selfcare::staff::{DocumentUpload, InvoiceUpload, NewShipment, SimRow};
use selfcare::storage::PageRequest;
use selfcare::storage::ports::{Clock, SystemClock};
use selfcare::storage::sims::SimFilter;
use selfcare::users::SecretReset;
use selfcare::{
    Error, LoginOutcome, NewOwner, Portal, PortalConfig, Ports, RequestContext, Session,
};
use time::Duration;

const ADA: &str = "ada@nordlicht-iot.example";
const ADA_PASSWORD: &str = "violet submarines hum under lanterns";
const DANA: &str = "dana.levi@example.com";
const DANA_PASSWORD: &str = "orange kites drift over quiet harbours";
const BEN: &str = "ben@nordlicht-iot.example";
const BEN_PASSWORD: &str = "seven copper owls guard the old mill";
/// The tour's host key; a real host keeps its own outside the database.
const HOST_KEY: [u8; 32] = *b"selfcare-tour-host-key-32-bytes!";
/// SIMs in the business order.
const FLEET: usize = 1_000;
const MB: u64 = 1_000_000;

type Outcome<T = ()> = Result<T, String>;

struct Args {
    db: PathBuf,
    csv: PathBuf,
    memory: bool,
}

fn args() -> Outcome<Args> {
    let mut db = PathBuf::from("tour.db");
    let mut csv = None;
    let mut memory = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--db" => db = it.next().map(PathBuf::from).ok_or("--db needs a path")?,
            "--csv" => csv = Some(it.next().map(PathBuf::from).ok_or("--csv needs a path")?),
            // The in-memory store instead of the file (nothing kept after the run).
            "--memory" => memory = true,
            "-h" | "--help" => {
                return Err(
                    "usage: tour [--db PATH (default tour.db)] [--csv PATH] [--memory]".into(),
                );
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let csv = csv.unwrap_or_else(|| db.with_extension("sims.csv"));
    Ok(Args { db, csv, memory })
}

fn section(title: &str) {
    println!("\n== {title}");
}

fn did(what: impl std::fmt::Display) {
    println!("   ✔ {what}");
}

fn refused(what: &str, e: &Error) {
    println!(
        "   ✖ {what}: refused — {} ({}).",
        e.reason().text(),
        e.reason()
    );
}

/// A refusal the tour expects; anything else stops it.
fn expect_refusal<T>(what: &str, r: Result<T, Error>) -> Outcome {
    match r {
        Err(e) => {
            refused(what, &e);
            Ok(())
        }
        Ok(_) => Err(format!("{what}: expected a refusal, but it was allowed")),
    }
}

fn step<T>(what: &str, r: Result<T, Error>) -> Outcome<T> {
    r.map_err(|e| format!("{what}: {e:?}"))
}

fn spinner(msg: &str, len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("   {msg} [{bar:30}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(msg.to_owned());
    bar.enable_steady_tick(StdDuration::from_millis(120));
    bar
}

async fn login(
    portal: &Portal,
    email: &str,
    password: &str,
    ctx: &RequestContext,
) -> Outcome<Session> {
    match step(
        &format!("login of {email}"),
        portal.login(email, Password::new(password), ctx).await,
    )? {
        LoginOutcome::Session(s) => Ok(s),
        _ => Err(format!("{email} asks for a second factor")),
    }
}

fn address(
    name: &str,
    company: Option<&str>,
    street: &str,
    postal: &str,
    city: &str,
    country: &str,
) -> AddressInput {
    AddressInput {
        name: name.into(),
        company: company.map(Into::into),
        street: street.into(),
        house_number: Some("12".into()),
        postal_code: postal.into(),
        city: city.into(),
        country: country.into(),
        ..AddressInput::default()
    }
}

/// An ICCID of the tour's range: `8997212` + a 12-digit serial + the Luhn digit.
fn iccid(serial: u64) -> Outcome<Iccid> {
    Iccid::from_payload(&format!("8997212{serial:012}")).map_err(|e| format!("{e:?}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\ntour stopped: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Outcome {
    let args = args()?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let (ports, dev) = Ports::development_with(Arc::clone(&clock));
    let seller = Seller::new(
        "Nordlicht Connect GmbH",
        Country::parse("DE").map_err(|e| format!("{e:?}"))?,
        "DE811907980",
    )
    .map_err(|e| format!("{e:?}"))?;
    let config = PortalConfig::new(seller, &HOST_KEY).map_err(|e| format!("{e:?}"))?;
    let db = args.db.to_string_lossy().into_owned();
    let portal = if args.memory {
        let store = Arc::new(selfcare::storage::MemoryStore::new());
        step(
            "opening the store",
            Portal::with_store(store, ports, config),
        )?
    } else {
        step("opening the store", Portal::open(&db, ports, config).await)?
    };
    let on = if args.memory {
        "the in-memory store".to_owned()
    } else {
        args.db.display().to_string()
    };
    println!("selfcare tour on {on} (development ports: test mode)");
    let ctx = RequestContext::from_source("198.51.100.23");

    section("1. Customers (ACC-1..5)");
    let business = NewCustomer {
        kind: NewCustomerKind::Business {
            company_name: "Nordlicht IoT GmbH".into(),
            vat_id: Some("DE129273398".into()),
        },
        main_contact: "billing@nordlicht-iot.example".into(),
        billing_country: "DE".into(),
        language: Some("de".into()),
    };
    let registered = portal
        .register_customer(
            &business,
            NewOwner {
                name: "Ada Brandt".into(),
                email: ADA.into(),
                password: Password::new(ADA_PASSWORD),
            },
            &ctx,
        )
        .await;
    let nordlicht = match registered {
        // A second run: the customers are there; report what the store holds.
        Err(Error::Conflict { .. }) => {
            did("Nordlicht IoT GmbH is already registered in this store");
            let ada = login(&portal, ADA, ADA_PASSWORD, &ctx).await?;
            return report_existing(&portal, &ada, &ctx).await;
        }
        other => step("registering Nordlicht IoT", other)?,
    };
    did("Nordlicht IoT GmbH registered (business, Germany, German), Ada Brandt its Owner");
    let individual = NewCustomer {
        kind: NewCustomerKind::Individual {
            name: "Dana Levi".into(),
        },
        main_contact: DANA.into(),
        billing_country: "IL".into(),
        language: Some("he".into()),
    };
    let dana_org = step(
        "registering Dana Levi",
        portal
            .register_customer(
                &individual,
                NewOwner {
                    name: "Dana Levi".into(),
                    email: DANA.into(),
                    password: Password::new(DANA_PASSWORD),
                },
                &ctx,
            )
            .await,
    )?;
    did("Dana Levi registered (individual, Israel, Hebrew)");
    expect_refusal(
        "a weak password at registration",
        portal
            .register_customer(
                &individual,
                NewOwner {
                    name: "Eve".into(),
                    email: "eve@example.com".into(),
                    password: Password::new("password1234567"),
                },
                &ctx,
            )
            .await,
    )?;

    let ada = login(&portal, ADA, ADA_PASSWORD, &ctx).await?;
    let dana = login(&portal, DANA, DANA_PASSWORD, &ctx).await?;
    did("Ada and Dana logged in (AUTH-1)");
    expect_refusal(
        "Ada tries to rename her company herself",
        ada.update_customer(
            &selfcare::core::customer::CustomerUpdate {
                company_name: Some("Nordlicht Things GmbH".into()),
                ..Default::default()
            },
            None,
        )
        .await,
    )?;

    section("2. Users and roles (USR-1..5)");
    step(
        "inviting Ben",
        ada.invite_user(BEN, "Ben Okafor", Role::Admin).await,
    )?;
    step(
        "sending the invitation",
        portal.dispatch_notifications().await,
    )?;
    let token = token_sent_to(&dev, BEN)?;
    step(
        "Ben accepts",
        portal
            .accept_invitation(&token, "Ben Okafor", Password::new(BEN_PASSWORD), &ctx)
            .await,
    )?;
    did("Ada invited Ben as Admin; he set his password through the link he received");
    let ben = login(&portal, BEN, BEN_PASSWORD, &ctx).await?;
    let ada_id = ada.user();
    expect_refusal(
        "Ben (Admin) resets the Owner's password",
        ben.reset_secret(ada_id).await,
    )?;
    let bot = step(
        "an API user",
        ben.invite_user(
            "fleet-bot@nordlicht-iot.example",
            "Fleet bot",
            Role::ReadOnly,
        )
        .await,
    )?;
    did("Ben invited a read-only colleague");
    match step(
        "Ben resets the read-only user's password",
        ben.reset_secret(bot).await,
    )? {
        SecretReset::PasswordResetSent => {
            did("a ReadOnly user's password can be reset by an Admin: a link went out")
        }
        _ => did("the secret was rotated"),
    }

    section("3. Addresses (ADDR-1..4)");
    step(
        "billing address",
        ada.add_address(
            address(
                "Ada Brandt",
                Some("Nordlicht IoT GmbH"),
                "Hafenstraße",
                "20457",
                "Hamburg",
                "DE",
            ),
            AddressUsage::BOTH,
            AddressUsage::BOTH,
            None,
        )
        .await,
    )?;
    did("billing and shipping address in Hamburg, default for both");
    expect_refusal(
        "a billing address in another country than the company's",
        ada.add_address(
            address(
                "Ada Brandt",
                Some("Nordlicht IoT GmbH"),
                "Rue de Rivoli",
                "75001",
                "Paris",
                "FR",
            ),
            AddressUsage::BILLING,
            AddressUsage::NONE,
            None,
        )
        .await,
    )?;
    step(
        "Dana's address",
        dana.add_address(
            address(
                "Dana Levi",
                None,
                "Rothschild Blvd",
                "6688101",
                "Tel Aviv",
                "IL",
            ),
            AddressUsage::BOTH,
            AddressUsage::BOTH,
            None,
        )
        .await,
    )?;
    did("Dana's address in Tel Aviv");

    section("4. Cards and Auto-Top-Up (PAY-1..3)");
    let card = step(
        "saving a card",
        ada.save_card(
            "tok_visa".into(),
            "Ada Brandt",
            Some(DevVerifier::PASSING_TOKEN.into()),
        )
        .await,
    )?;
    did(format!(
        "card {} •••• {} saved after the gateway verified it",
        card.brand, card.last4
    ));
    expect_refusal(
        "saving a card without the captcha",
        ada.save_card("tok_mastercard".into(), "Ada Brandt", None)
            .await,
    )?;
    let dana_card = step(
        "Dana's card",
        dana.save_card(
            "tok_mastercard".into(),
            "Dana Levi",
            Some(DevVerifier::PASSING_TOKEN.into()),
        )
        .await,
    )?;

    section("5. An order of 1 000 SIMs, its invoice and a corrected invoice (ORD-1, ORD-2, ORD-5)");
    let fleet_order = PlaceOrder {
        items: vec![(sku("SIM-STD")?, FLEET as u32)],
        billing_address: None,
        shipping_address: None,
        payment: Payment::Card(card.id),
    };
    let order = step(
        "placing the order",
        ada.place_order(fleet_order.clone(), "tour-fleet-order")
            .await,
    )?;
    let number = order.number.to_string();
    did(format!(
        "order {number}: {} SIMs, {} gross ({}), charged once to the card",
        FLEET,
        order.priced.totals.gross,
        order.status().as_str()
    ));
    let again = step(
        "the same order again",
        ada.place_order(fleet_order, "tour-fleet-order").await,
    )?;
    did(format!(
        "sent again with the same key: the same order {} comes back, no second charge",
        again.number
    ));
    let fulfil = portal.staff(staff("warehouse-1", [StaffRole::Fulfillment], [])?);
    let rows: Vec<SimRow> = (0..FLEET as u64)
        .map(|i| {
            Ok(SimRow {
                iccid: iccid(i)?.as_str().to_owned(),
                imsi: Some(format!("26201{i:010}")),
                msisdn: Some(format!("+4915{i:09}")),
                label: Some(if i == 0 {
                    "=cmd|' /C calc'!A0".into()
                } else {
                    format!("Sensor {i:04}")
                }),
                tariff: "IOT-1GB".into(),
            })
        })
        .collect::<Outcome<_>>()?;
    let bar = spinner("assigning SIMs", FLEET as u64);
    for chunk in rows.chunks(100) {
        step("assigning SIMs", fulfil.assign_sims(&number, chunk).await)?;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    did(format!(
        "the warehouse assigned {FLEET} SIMs to the order (staff: Fulfillment)"
    ));
    step(
        "shipment",
        fulfil
            .add_shipment(
                &number,
                &NewShipment {
                    carrier: "DHL".into(),
                    tracking_number: "JJD0001234567".into(),
                    tracking_link: Some("https://www.dhl.de/track?id=JJD0001234567".into()),
                    status: ShipmentStatus::InTransit,
                },
            )
            .await,
    )?;
    did("shipped with DHL");
    let billing = portal.staff(staff("billing-1", [StaffRole::Billing], [])?);
    let invoice = step(
        "invoice",
        billing
            .attach_invoice(
                &number,
                &InvoiceUpload {
                    number: "INV-2026-000001".into(),
                    issued_on: today(&*clock),
                    amounts: None,
                    pdf: b"%PDF-1.7\n% the billing system's invoice\n".to_vec(),
                },
            )
            .await,
    )?;
    did(format!(
        "invoice {} attached: {} net + {} VAT = {} gross",
        invoice.number().as_str(),
        invoice.amounts().net,
        invoice.amounts().vat,
        invoice.amounts().gross
    ));
    step(
        "corrected invoice",
        billing
            .add_document(
                &number,
                &DocumentUpload {
                    kind: DocumentKind::CorrectedInvoice,
                    number: "INV-2026-000001-C1".into(),
                    issued_on: today(&*clock),
                    amounts: Some(*invoice.amounts()),
                    pdf: b"%PDF-1.7\n% corrected: purchase order reference added\n".to_vec(),
                    note: "purchase order reference added".into(),
                },
            )
            .await,
    )?;
    let docs = step("documents", ada.documents(&number).await)?;
    did(format!(
        "a corrected invoice was added beside the invoice, never over it: the order has {} additional document(s)",
        docs.additional.len()
    ));

    section("6. The SIMs as CSV (ORD-3)");
    let rows_written = step(
        "export",
        ada.export_order_sims_to_path(&number, &args.csv).await,
    )?;
    did(format!(
        "{rows_written} rows written to {} (ICCID,Label,IMSI,MSISDN)",
        args.csv.display()
    ));
    did("the label starting with '=' was written with a leading ' so a spreadsheet never runs it");

    section("7. A guest looks the order up (ORD-4)");
    let view = step(
        "guest lookup",
        portal.track_order(&number, "20457", &ctx).await,
    )?;
    did(format!(
        "order {} is {} with {} shipment(s); no address, payment or SIM numbers shown",
        view.number,
        view.status.as_str(),
        view.shipments.len()
    ));
    expect_refusal(
        "a guest with the wrong postal code",
        portal.track_order(&number, "10115", &ctx).await,
    )?;

    section("8. Dana's travel plan (PLAN-1..6)");
    let travel = step(
        "Dana orders a travel plan",
        dana.place_order(
            PlaceOrder {
                items: vec![(sku("TRAVEL-30D")?, 1)],
                billing_address: None,
                shipping_address: None,
                payment: Payment::Card(dana_card.id),
            },
            "tour-travel-plan",
        )
        .await,
    )?;
    let travel_number = travel.number.to_string();
    let dana_sims = [iccid(900_001)?, iccid(900_002)?];
    step(
        "SIMs for Dana",
        fulfil
            .assign_sims(
                &travel_number,
                &dana_sims
                    .iter()
                    .map(|i| SimRow {
                        iccid: i.as_str().to_owned(),
                        tariff: "TRAVEL".into(),
                        ..SimRow::default()
                    })
                    .collect::<Vec<_>>(),
            )
            .await,
    )?;
    let start = today(&*clock) + Duration::days(2);
    let plan = step(
        "activating the plan",
        fulfil
            .activate_plan(
                &travel_number,
                dana_sims[0].as_str(),
                &["+972541234567".to_owned()],
                start,
                start + Duration::days(29),
            )
            .await,
    )?;
    did(format!(
        "plan with +972 54-123-4567 on SIM {} from {start}",
        dana_sims[0]
    ));
    step(
        "moving the dates",
        dana.change_plan_dates(
            plan.id(),
            Some(start + Duration::days(1)),
            Some(start + Duration::days(31)),
        )
        .await,
    )?;
    did("Dana moved her trip by a day (the start has not been reached yet)");
    expect_refusal(
        "an end date before the start",
        dana.change_plan_dates(plan.id(), None, Some(start - Duration::days(1)))
            .await,
    )?;
    let swap: ProvisioningStarted = step(
        "SIM swap",
        dana.swap_sim(plan.id(), dana_sims[1].as_str()).await,
    )?;
    step(
        "the network completes the swap",
        portal
            .complete_provisioning(swap.request, ProvisioningOutcome::Succeeded)
            .await,
    )?;
    did(format!(
        "SIM swapped to {} once the network confirmed it; Dana gets her numbers and the new SIM by e-mail",
        dana_sims[1]
    ));
    if let Some(vm) = step(
        "voicemail",
        dana.set_voicemail(plan.id(), true, VoicemailLanguage::Hebrew)
            .await,
    )? {
        step(
            "voicemail confirmed",
            portal
                .complete_provisioning(vm.request, ProvisioningOutcome::Succeeded)
                .await,
        )?;
    }
    did("voicemail on, in Hebrew");
    if let Some(cf) = step(
        "call forwarding",
        dana.set_call_forwarding(plan.id(), "+972 3 555 0101").await,
    )? {
        step(
            "forwarding confirmed",
            portal
                .complete_provisioning(cf.request, ProvisioningOutcome::Succeeded)
                .await,
        )?;
    }
    did("calls forwarded to +972 3-555-0101");
    expect_refusal(
        "forwarding to the plan's own number",
        dana.set_call_forwarding(plan.id(), "+972541234567").await,
    )?;
    step("APN settings", dana.send_apn_settings(plan.id()).await)?;
    did("APN settings sent to Dana");

    section("9. Usage, thresholds and one automatic top-up (TOP-1..3, PAY-3, ACC-5)");
    let sensor = iccid(1)?;
    step(
        "a 1 GB top-up",
        ada.top_up(
            TopUpTarget::Sim(sensor.clone()),
            sku("DATA-1GB")?,
            Payment::Card(card.id),
            "tour-topup-1",
        )
        .await,
    )?;
    let sims = step("the SIM", ada.sims(SimFilter::default(), None).await)?;
    let sensor_sim = sims
        .items
        .iter()
        .find(|s| s.iccid == sensor)
        .ok_or("the topped-up SIM is not listed")?;
    step(
        "Auto-Top-Up",
        ada.set_auto_top_up(AutoTopUpTarget::Sim(sensor_sim.id), true)
            .await,
    )?;
    did(format!("SIM {sensor}: 1 000 MB, Auto-Top-Up on"));
    let now = clock.now();
    let first = step(
        "usage",
        portal
            .record_usage(vec![
                UsageRecord::new("net-0001", sensor.clone(), now, 850 * MB, 0)
                    .map_err(|e| format!("{e:?}"))?,
            ])
            .await,
    )?;
    did(format!(
        "850 MB used: {} notice(s) (20 % left)",
        first.notices
    ));
    let records = vec![
        UsageRecord::new("net-0002", sensor.clone(), now, 200 * MB, 0)
            .map_err(|e| format!("{e:?}"))?,
        UsageRecord::new("net-0002", sensor.clone(), now, 200 * MB, 0)
            .map_err(|e| format!("{e:?}"))?,
    ];
    let second = step("usage", portal.record_usage(records.clone()).await)?;
    let resent = step("usage again", portal.record_usage(records).await)?;
    did(format!(
        "200 MB more (sent twice, and again): volume exhausted, {} automatic top-up charged, {} duplicate record(s) ignored",
        second.top_ups_charged + resent.top_ups_charged,
        second.duplicates_ignored + resent.duplicates_ignored
    ));

    section("10. Support (TKT-1, TKT-2, STF-1)");
    let ticket = step(
        "ticket",
        dana.create_ticket(
            &NewTicket::new(
                Department::PlansAndSims,
                "No data in Rome",
                "My plan shows no data since I landed.",
                None,
            )
            .map_err(|e| format!("{e:?}"))?,
        )
        .await,
    )?;
    let support = portal.staff(staff(
        "support-7",
        [StaffRole::Support],
        [Department::PlansAndSims],
    )?);
    step(
        "start",
        support
            .set_ticket_status(dana_org.org, ticket.id, TicketEvent::Start)
            .await,
    )?;
    step(
        "internal note",
        support
            .reply_ticket(
                dana_org.org,
                ticket.id,
                "Roaming profile was missing; re-provisioned.",
                true,
            )
            .await,
    )?;
    step(
        "reply",
        support
            .reply_ticket(
                dana_org.org,
                ticket.id,
                "Please restart your phone; data should work now.",
                false,
            )
            .await,
    )?;
    let seen = step("Dana reads", dana.ticket(ticket.id).await)?;
    did(format!(
        "Dana opened a ticket; support answered; she sees {} message(s), never the internal note",
        seen.messages.len()
    ));
    let other_support = portal.staff(staff(
        "support-1",
        [StaffRole::Support],
        [Department::Billing],
    )?);
    expect_refusal(
        "support of another department reads the ticket",
        other_support.ticket(dana_org.org, ticket.id).await,
    )?;

    section("11. Notifications (ACC-4)");
    let sent = step("dispatch", portal.dispatch_notifications().await)?;
    did(format!(
        "{} message(s) delivered from the outbox, each in its customer's language",
        sent.delivered
    ));

    section("12. The audit log (AUD-1)");
    verify_chains(&portal, &[nordlicht.org, dana_org.org]).await?;
    println!(
        "\nThe tour is complete. Run it again on {} to see what the store holds.",
        args.db.display()
    );
    Ok(())
}

async fn report_existing(portal: &Portal, ada: &Session, ctx: &RequestContext) -> Outcome {
    section("This store already holds the tour's customers");
    let orders = step("orders", ada.orders(&PageRequest::first(100)).await)?;
    did(format!("Nordlicht IoT has {} order(s)", orders.items.len()));
    let sims = step("sims", ada.sims(SimFilter::default(), None).await)?;
    did(format!("its first page lists {} SIM(s)", sims.items.len()));
    let users = step("users", ada.users(PageRequest::first(100)).await)?;
    did(format!("and {} user(s)", users.items.len()));
    let dana = login(portal, DANA, DANA_PASSWORD, ctx).await?;
    let plans = step("plans", dana.plans().await)?;
    let tickets = step(
        "tickets",
        dana.tickets(None, &PageRequest::first(100)).await,
    )?;
    did(format!(
        "Dana Levi has {} plan(s) and {} ticket(s)",
        plans.len(),
        tickets.items.len()
    ));
    verify_chains(portal, &[ada.org(), dana.org()]).await
}

async fn verify_chains(portal: &Portal, orgs: &[OrgId]) -> Outcome {
    for org in orgs {
        let chain = AuditChainOf::Organisation(*org);
        let head = step("audit head", portal.audit_head(chain).await)?;
        match step(
            "audit verification",
            portal.verify_audit_chain(chain, Some(head)).await,
        )? {
            ChainVerification::Intact { head } => did(format!(
                "audit chain of {org}: {} entries, every HMAC verified against the anchored head",
                head.count
            )),
            ChainVerification::Broken { at } => {
                return Err(format!("audit chain of {org} broken: {at}"));
            }
        }
    }
    Ok(())
}

fn token_sent_to(dev: &DevHandles, to: &str) -> Outcome<String> {
    let message = dev
        .notifier
        .messages()
        .into_iter()
        .rev()
        .find(|m| m.to.iter().any(|e| e.as_str() == to))
        .ok_or_else(|| format!("no message to {to}"))?;
    message
        .body
        .split(|c: char| c.is_whitespace() || matches!(c, '<' | '>' | '"' | '=' | '/' | '?'))
        .map(|w| w.trim_matches(|c: char| matches!(c, '.' | ',' | ')' | '(')))
        .find(|w| {
            w.len() == 43
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
        .map(str::to_owned)
        .ok_or_else(|| format!("no link in the message to {to}"))
}

fn sku(s: &str) -> Outcome<Sku> {
    Sku::parse(s).map_err(|e| format!("{e:?}"))
}

fn staff<R, D>(id: &str, roles: R, departments: D) -> Outcome<StaffActor>
where
    R: IntoIterator<Item = StaffRole>,
    D: IntoIterator<Item = Department>,
{
    StaffActor::new(id, roles, departments).map_err(|e| format!("{e:?}"))
}

fn today(clock: &dyn Clock) -> time::Date {
    clock.now().date()
}
