//! # A tour of the selfcare rules
//!
//! `cargo run --example tour -p selfcare-core [-- --out PATH]`
//!
//! Walks through the use cases of the self-service portal the way a customer, a user and
//! provider staff meet them, and prints in plain words what the rules of `selfcare-core`
//! decide: twelve groups (customers, users and roles, credentials, addresses, payments, orders,
//! the SIM export, plans, top-ups and usage, tickets, notifications, the audit log), one line
//! per decision with what was asked and what was decided; a refusal shows its error category,
//! its stable `ReasonCode` and its English message.
//!
//! Two customers carry the story: *Nordlicht IoT*, a German business running a fleet of IoT
//! SIMs (the 1NCE-style portal of the seeds), and *Dana Levi*, a traveller in Israel with a
//! consumer plan (the travel-plan portal of the seeds).
//!
//! `core` reads no clock and draws no randomness: the caller passes both in. The tour passes a
//! fixed `now` (2026-11-23 10:00 UTC) and bytes from a tiny seeded generator, so every run prints
//! the same. Each expected refusal is checked: if a rule ever decides differently, the tour
//! stops with an error naming the step. The only file it writes is the SIM CSV of section 7
//! (`--out PATH`, default `selfcare-tour-sims.csv` in the temporary directory).

use std::collections::BTreeSet;
use std::fmt::Display;
use std::io::Write as _;
use std::path::PathBuf;

use selfcare_core::address::{
    AddressBook, AddressInput, AddressKind, AddressSnapshot, AddressUsage, LegalIdentity,
    PostalAddress,
};
use selfcare_core::audit::{
    AuditActor, AuditChain, AuditEntry, AuditEvent, AuditEventName, AuditNote, AuditTarget,
    ChainHead, FieldName, HostKey, Outcome, PersonalField, PersonalValues, StaffId,
};
use selfcare_core::catalogue::{Catalogue, Seller, Sku};
use selfcare_core::contact::{Country, Email, Language};
use selfcare_core::customer::{
    AdditionalEmail, Customer, CustomerUpdate, EmailCategory, LegalFieldChange, Limit, MonthPeriod,
    MonthlyVolumeLimits, NewCustomer, NewCustomerKind, VatId, VolumeLimitSteps,
};
use selfcare_core::export::{SimCsvReader, SimCsvWriter, SimRow};
use selfcare_core::ids::{
    AddressId, ApiClientId, AuditEntryId, CardId, DocumentId, OrderId, OrgId, PlanId,
    ProvisioningId, ShipmentId, SimId, UserId,
};
use selfcare_core::money::{Currency, Money};
use selfcare_core::notifications::{
    NotificationKind, Params, TextOverrides, render, usage_notifications,
};
use selfcare_core::numbers::{Iccid, Imsi, Msisdn};
use selfcare_core::orders::{
    DocumentFile, DocumentKind, DocumentTrail, GatewayKey, GuestLookup, IdempotencyKey,
    IntentLease, Invoice, InvoiceNumber, InvoiceNumbering, NewDocument, NewInvoice, NewOrder,
    Order, OrderNumber, OrderPayment, OrderStatus, OrderTotals, OrderType, PaymentIntentState,
    PricedOrder, RequestFingerprint, Shipment, ShipmentStatus, TaxCustomer, TaxTreatment,
    TrackingNumber, TrackingTemplate, guest_lookup, price_order,
};
use selfcare_core::password::{
    Password, PasswordParams, check_new_password, dummy_hash, hash_password, needs_rehash,
    password_strength, verify_against_dummy, verify_password,
};
use selfcare_core::payment::{
    AutoTopUpTarget, CardBrand, CardDeletionConsequence, CardExpiry, CardToken, Last4,
    PaymentSettings, StoredCard, VerifiedCard,
};
use selfcare_core::plans::{
    ApnAuth, ApnProtocol, ApnSettings, ApnSettingsInput, DEFAULT_SWAP_TIMEOUT, Plan, PlanUsage,
    SwapRequest, UsageCounter, VoicemailLanguage,
};
use selfcare_core::policy::{
    Access, Action, Actor, Decision, EmailChangeEffect, StaffAction, StaffActor, TargetUser,
    UserChange, authorize_legal_field_change, decide, decide_login, decide_on_user, decide_staff,
    email_change_effect, permission_table,
};
use selfcare_core::quota::{
    BYTES_PER_MB, DEFAULT_THRESHOLDS, MonthlyLimits, MonthlyUsage, QuotaState, SentMarks,
    UsageEffect, UsageRecord, UsageRecordId, UsageRules, VolumeKind, apply_usage, start_generation,
};
use selfcare_core::roles::{Channel, Department, Role, StaffRole};
use selfcare_core::throttle::{ThrottleKey, ThrottlePolicy, delay_after, record_failure};
use selfcare_core::tickets::{
    NewTicket, TicketAuthor, TicketEvent, TicketMessage, TicketParty, TicketReference,
    TicketStatus, check_create_ticket, customer_view, transition,
};
use selfcare_core::tokens::{
    ApiClientCredentials, SessionTimes, Token, TokenHash, TokenKind, TokenLifetimes, TokenState,
};
use selfcare_core::topups::{TopUpPayment, price_top_up};
use selfcare_core::totp::{TotpSecret, generate_recovery_codes, redeem_recovery_code};
use selfcare_core::{Error, ReasonCode};
use time::macros::{date, datetime, offset};
use time::{Date, Duration, OffsetDateTime, UtcOffset};

type TourResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

// -------------------------------------------------------------------------------------------
// The caller's randomness and the way decisions are printed
// -------------------------------------------------------------------------------------------

/// SplitMix64: a tiny, seeded, deterministic byte source. Stands in for the CSPRNG a real host
/// passes to `core` (ids, salts, tokens, order numbers); never use it for that.
struct TourRng(u64);

impl TourRng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        for chunk in out.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            let n = chunk.len();
            chunk.copy_from_slice(&word[..n]);
        }
        out
    }
}

fn section(number: u32, title: &str) {
    println!();
    println!("{number}. {title}");
    println!("{}", "-".repeat(title.chars().count() + 4));
}

/// A request the rules accepted, and what they decided.
fn ok(asked: impl Display, decided: impl Display) {
    println!("  ✓ {asked}: {decided}");
}

/// A detail line under a decision.
fn detail(text: impl Display) {
    println!("      {text}");
}

/// One error in plain words: category, reason code, field and English message.
fn describe(error: &Error) -> String {
    match error {
        Error::Validation {
            field,
            reason,
            message,
        } => format!("Validation on `{field}` [{reason}]: {message}"),
        Error::ImmutableField {
            field,
            reason,
            message,
        } => format!("ImmutableField on `{field}` [{reason}]: {message}"),
        Error::PermissionDenied { reason } => {
            format!("PermissionDenied [{reason}]: {}", reason.text())
        }
        Error::NotFound => "NotFound (the same answer as for something that does not exist)".into(),
        Error::Conflict { reason } => format!("Conflict [{reason}]: {}", reason.text()),
        Error::Throttled { retry_after } => {
            format!("Throttled: retry after {} s", retry_after.as_secs())
        }
        other => other.to_string(),
    }
}

/// A request the rules must refuse with `expected`; prints the refusal. Anything else stops
/// the tour, so the tour is also a check of the rules it shows.
fn refused<T, E: Into<Error>>(
    asked: impl Display,
    result: Result<T, E>,
    expected: ReasonCode,
) -> TourResult {
    match result.map_err(Into::into) {
        Ok(_) => {
            Err(format!("tour: `{asked}` was allowed, expected a refusal [{expected}]").into())
        }
        Err(e) if e.reason() != expected => Err(format!(
            "tour: `{asked}` was refused with [{}], expected [{expected}]",
            e.reason()
        )
        .into()),
        Err(e) => {
            println!("  ✗ {asked}: {}", describe(&e));
            Ok(())
        }
    }
}

/// A policy decision, which must carry `expected` as its reason.
fn decision(asked: impl Display, d: Decision, expected: ReasonCode) -> TourResult {
    if d.reason() != expected {
        return Err(format!(
            "tour: `{asked}` decided [{}], expected [{expected}]",
            d.reason()
        )
        .into());
    }
    match d.into_result() {
        Ok(()) => println!("  ✓ {asked}: allowed"),
        Err(e) => println!(
            "  ✗ {asked}: denied [{}] {} → {}",
            d.reason(),
            d.reason().text(),
            match e {
                Error::NotFound => "NotFound".to_owned(),
                Error::Conflict { .. } => "Conflict".to_owned(),
                _ => "PermissionDenied".to_owned(),
            }
        ),
    }
    Ok(())
}

fn expect(condition: bool, what: &str) -> TourResult {
    if condition {
        Ok(())
    } else {
        Err(format!("tour: expected {what}").into())
    }
}

fn hm(at: OffsetDateTime) -> String {
    format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute())
}

fn emails(list: &[Email]) -> String {
    list.iter()
        .map(Email::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

fn limit_text(limit: Limit) -> String {
    match limit {
        Limit::Capped(n) => n.to_string(),
        Limit::Unlimited => "unlimited".into(),
    }
}

fn mb(bytes: i64) -> String {
    format!("{} MB", bytes / BYTES_PER_MB as i64)
}

fn totals_text(t: &OrderTotals) -> String {
    format!("net {} + VAT {} = gross {}", t.net, t.vat, t.gross)
}

// -------------------------------------------------------------------------------------------

fn main() -> TourResult {
    let out = out_path()?;
    let now = datetime!(2026-11-23 10:00 UTC);
    let today = now.date();
    let mut rng = TourRng(2026);

    println!("selfcare-core: a tour of the rules and what they decide");
    println!("=======================================================");
    println!(
        "core takes time and randomness from its caller: this tour passes now = {}",
        hm(now)
    );
    println!("and bytes from a seeded generator, so every run prints the same decisions.");
    println!("✓ = accepted or allowed, ✗ = refused, with its category [reason_code] and message.");

    let (nordlicht, dana, limits) = customers(&mut rng, now)?;
    users(&mut rng, now, nordlicht.id(), dana.id())?;
    credentials(&mut rng, now)?;
    let hq = addresses(&mut rng, now, &nordlicht)?;
    let mut payments_state = payments(&mut rng, now, today)?;
    let (order, sims) = orders(&mut rng, now, &nordlicht, &hq)?;
    export(&out, &order, &sims)?;
    plans(&mut rng, now, today)?;
    let usage_effects = top_ups(
        &mut rng,
        now,
        &nordlicht,
        limits,
        &mut payments_state,
        &sims,
    )?;
    tickets(&mut rng, now, &sims)?;
    notifications(&nordlicht, &dana, &order, &sims, &usage_effects)?;
    audit(&mut rng, now, &nordlicht, &order)?;

    println!();
    println!("End of the tour: every decision above came from selfcare-core, with no store, no");
    println!("network and no clock. The SIM CSV is at {}.", out.display());
    Ok(())
}

fn out_path() -> TourResult<PathBuf> {
    let mut args = std::env::args().skip(1);
    let mut out = std::env::temp_dir().join("selfcare-tour-sims.csv");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => out = PathBuf::from(args.next().ok_or("--out needs a PATH")?),
            other => {
                return Err(format!("unknown argument `{other}`; usage: tour [--out PATH]").into());
            }
        }
    }
    Ok(out)
}

// -------------------------------------------------------------------------------------------
// 1. Customers
// -------------------------------------------------------------------------------------------

fn customers(
    rng: &mut TourRng,
    now: OffsetDateTime,
) -> TourResult<(Customer, Customer, MonthlyVolumeLimits)> {
    section(1, "Customers (ACC-1 … ACC-5)");
    let nordlicht = Customer::create(
        OrgId::new(now, rng.bytes()),
        &NewCustomer {
            kind: NewCustomerKind::Business {
                company_name: "Nordlicht IoT GmbH".into(),
                vat_id: Some("de 811 907 980".into()),
            },
            main_contact: "billing@nordlicht-iot.de".into(),
            billing_country: "DE".into(),
            language: Some("de".into()),
        },
        now,
    )?;
    ok(
        "Register a business with VAT id \"de 811 907 980\"",
        format!(
            "Nordlicht IoT GmbH, VAT id {}, billing country {}, language {}, main contact {}",
            nordlicht.vat_id().map_or("-", |v| v.as_str()),
            nordlicht.billing_country(),
            nordlicht.language(),
            nordlicht.main_contact()
        ),
    );
    let dana = Customer::create(
        OrgId::new(now, rng.bytes()),
        &NewCustomer {
            kind: NewCustomerKind::Individual {
                name: "Dana Levi".into(),
            },
            main_contact: "dana.levi@example.co.il".into(),
            billing_country: "IL".into(),
            language: Some("he".into()),
        },
        now,
    )?;
    ok(
        "Register an individual (travel plan)",
        format!(
            "Dana Levi, billing country {}, language {} (right-to-left: {})",
            dana.billing_country(),
            dana.language(),
            dana.language().is_rtl()
        ),
    );

    let rename = CustomerUpdate {
        company_name: Some("Nordlicht Connect GmbH".into()),
        ..CustomerUpdate::default()
    };
    refused(
        "Customer renames the company in the Account tab",
        nordlicht.apply_update(&rename),
        ReasonCode::LegalFieldImmutable,
    )?;
    let resubmit = CustomerUpdate {
        company_name: Some("Nordlicht IoT GmbH".into()),
        billing_country: Some("de".into()),
        language: Some("en".into()),
        ..CustomerUpdate::default()
    };
    ok(
        "The form resubmits the same name and country, language → en",
        format!(
            "accepted, changed fields {:?}",
            nordlicht.apply_update(&resubmit)?.changed_fields
        ),
    );

    let support = StaffActor::new("support.mia", [StaffRole::Support], [Department::Technical])?;
    refused(
        "Support staff rename the company",
        authorize_legal_field_change(&support, "Rebranding"),
        ReasonCode::StaffRoleLacksPermission,
    )?;
    let billing = StaffActor::new("billing.anna", [StaffRole::Billing], [])?;
    refused(
        "Billing staff rename it without a reason",
        authorize_legal_field_change(&billing, "   "),
        ReasonCode::Required,
    )?;
    let reason = authorize_legal_field_change(
        &billing,
        "Commercial register HRB 4711 of 2026-11-02: conversion to an SE",
    )?;
    let change = nordlicht.apply_legal_change(&LegalFieldChange {
        company_name: Some("Nordlicht IoT SE".into()),
        billing_country: None,
        reason,
    })?;
    let nordlicht = change.customer;
    ok(
        "Billing staff rename it with a reason",
        format!(
            "now \"{}\", changed {:?}, audit note \"{}\"",
            nordlicht.company_name().map_or("-", |n| n.as_str()),
            change.changed_fields,
            change.reason.as_ref().map_or("-", |r| r.as_str())
        ),
    );

    let additional = vec![
        AdditionalEmail::parse("accounting@nordlicht-iot.de", [EmailCategory::Invoice])?,
        AdditionalEmail::parse(
            "noc@nordlicht-iot.de",
            [EmailCategory::VolumeNotifications, EmailCategory::Service],
        )?,
        AdditionalEmail::parse("logistics@nordlicht-iot.de", [EmailCategory::Orders])?,
    ];
    refused(
        "Add an e-mail address without a category",
        AdditionalEmail::parse("ceo@nordlicht-iot.de", []),
        ReasonCode::EmailCategoryRequired,
    )?;
    let mut twice = additional.clone();
    twice.push(AdditionalEmail::parse(
        "Accounting@Nordlicht-IoT.de",
        [EmailCategory::Orders],
    )?);
    refused(
        "List Accounting@Nordlicht-IoT.de a second time",
        nordlicht.set_additional_emails(twice),
        ReasonCode::ContactEmailDuplicate,
    )?;
    let nordlicht = nordlicht.set_additional_emails(additional)?.customer;
    ok(
        "Store 3 additional addresses with categories",
        "recipients per category (main contact first, each address once):",
    );
    for category in EmailCategory::ALL {
        detail(format!(
            "{:<21} → {}",
            category.as_str(),
            emails(&nordlicht.recipients(category))
        ));
    }
    let moved = nordlicht.apply_update(&CustomerUpdate {
        main_contact: Some("ACCOUNTING@nordlicht-iot.de".into()),
        ..CustomerUpdate::default()
    })?;
    ok(
        "Main contact becomes ACCOUNTING@nordlicht-iot.de (already listed)",
        format!(
            "the duplicate entry is merged, changed {:?}; invoice recipients: {}",
            moved.changed_fields,
            emails(&moved.customer.recipients(EmailCategory::Invoice))
        ),
    );

    let steps = VolumeLimitSteps::default();
    let describe_steps = |s: &[Limit]| s.iter().map(|l| limit_text(*l)).collect::<Vec<_>>();
    let initial = MonthlyVolumeLimits::initial(&steps);
    ok(
        "Monthly volume limit steps (configuration)",
        format!(
            "data MB {:?}, SMS {:?}; a new organisation starts at {} / {}",
            describe_steps(steps.data_mb()),
            describe_steps(steps.sms()),
            limit_text(initial.data_mb()),
            limit_text(initial.sms())
        ),
    );
    let limits = MonthlyVolumeLimits::new(Limit::Capped(5_000), Limit::Capped(500), &steps)?;
    ok(
        "Choose 5 000 MB data and 500 SMS per month",
        "accepted, for all SIMs of the organisation",
    );
    refused(
        "Choose 2 000 MB data",
        MonthlyVolumeLimits::new(Limit::Capped(2_000), Limit::Capped(500), &steps),
        ReasonCode::VolumeLimitNotAStep,
    )?;
    let period = MonthPeriod::containing(now, UtcOffset::UTC)?;
    let (start, end) = period.bounds_in(&UtcOffset::UTC)?;
    ok(
        "The month the limits count in",
        format!("{period}, from {} up to {}", hm(start), hm(end)),
    );
    let late = datetime!(2026-11-30 23:30 UTC);
    ok(
        "The same question at 2026-11-30 23:30 UTC in a UTC+2 zone",
        format!(
            "{} (limits reset on the first, local time)",
            MonthPeriod::containing(late, offset!(+2))?
        ),
    );
    Ok((nordlicht, dana, limits))
}

// -------------------------------------------------------------------------------------------
// 2. Users and roles
// -------------------------------------------------------------------------------------------

fn users(rng: &mut TourRng, now: OffsetDateTime, org: OrgId, other_org: OrgId) -> TourResult {
    section(2, "Users and roles (USR-1 … USR-5, STF-1)");
    let table = permission_table();
    println!(
        "  The permission table is data ({} actions × 5 roles, exported for hosts); a few rows:",
        table.len()
    );
    println!(
        "      {:<22} {:>7} {:>7} {:>7} {:>9} {:>8}",
        "action", "Owner", "Admin", "User", "ReadOnly", "ApiUser"
    );
    let shown = [
        Action::UpdateOwnProfile,
        Action::UpdateCustomer,
        Action::ResetUserSecret,
        Action::PlaceOrder,
        Action::SetAutoTopUp,
        Action::SetSimEnabled,
        Action::SwapSim,
        Action::CreateTicket,
    ];
    for row in table.iter().filter(|r| shown.contains(&r.action)) {
        let cell = |a: Access| match a {
            Access::Portal => "portal",
            Access::Api => "API",
            Access::Denied => "-",
        };
        println!(
            "      {:<22} {:>7} {:>7} {:>7} {:>9} {:>8}",
            row.action.as_str(),
            cell(row.owner),
            cell(row.admin),
            cell(row.user),
            cell(row.read_only),
            cell(row.api_user)
        );
    }

    let mut actor = |role: Role| Actor {
        org,
        user: UserId::new(now, rng.bytes()),
        role,
        channel: Channel::Portal,
    };
    let owner = actor(Role::Owner);
    let admin = actor(Role::Admin);
    let reader = actor(Role::ReadOnly);
    let target = |a: &Actor| TargetUser {
        org,
        id: a.user,
        role: a.role,
    };
    let user = TargetUser {
        org,
        id: UserId::new(now, rng.bytes()),
        role: Role::User,
    };
    let api_user = TargetUser {
        org,
        id: UserId::new(now, rng.bytes()),
        role: Role::ApiUser,
    };

    decision(
        "Admin sets the Owner's password",
        decide_on_user(&admin, &target(&owner), UserChange::ResetSecret, 1),
        ReasonCode::AdminCannotSetOwnerPassword,
    )?;
    decision(
        "Admin sets a User's password",
        decide_on_user(&admin, &user, UserChange::ResetSecret, 1),
        ReasonCode::PasswordChangedOnlyByUser,
    )?;
    decision(
        "Owner resets the API user's secret",
        decide_on_user(&owner, &api_user, UserChange::ResetSecret, 1),
        ReasonCode::Allowed,
    )?;
    let credentials = ApiClientCredentials::issue(ApiClientId::new(now, rng.bytes()), rng.bytes());
    detail(format!(
        "new client id {}; the secret is shown once, only its SHA-256 {}… is stored",
        credentials.client_id,
        &credentials.secret_hash().to_hex()[..12]
    ));
    decision(
        "Owner changes a User's e-mail address",
        decide_on_user(&owner, &user, UserChange::Email, 1),
        ReasonCode::Allowed,
    )?;
    let effect = match email_change_effect(&owner, user.id) {
        EmailChangeEffect::TargetApproval => {
            "it takes effect only after the user approves it through a link sent to the current address"
        }
        EmailChangeEffect::ConfirmNewAddress => "it takes effect once the new address is confirmed",
    };
    detail(effect);
    decision(
        "The only Owner makes themself an Admin",
        decide_on_user(&owner, &target(&owner), UserChange::SetRole(Role::Admin), 1),
        ReasonCode::LastOwner,
    )?;
    decision(
        "… the same with a second Owner in the organisation",
        decide_on_user(&owner, &target(&owner), UserChange::SetRole(Role::Admin), 2),
        ReasonCode::Allowed,
    )?;
    decision(
        "Admin makes a User an Owner",
        decide_on_user(&admin, &user, UserChange::SetRole(Role::Owner), 1),
        ReasonCode::AdminCannotGrantRole,
    )?;
    decision(
        "ReadOnly user places an order",
        decide(&reader, Action::PlaceOrder, org),
        ReasonCode::RoleLacksPermission,
    )?;
    decision(
        "Owner of Nordlicht lists Dana's SIMs (another organisation)",
        decide(&owner, Action::ViewSims, other_org),
        ReasonCode::OtherOrganisation,
    )?;
    decision(
        "API user logs in to the portal",
        decide_login(Role::ApiUser, Channel::Portal),
        ReasonCode::ApiUserPortalForbidden,
    )?;

    let support = StaffActor::new("support.mia", [StaffRole::Support], [Department::Technical])?;
    let fulfillment = StaffActor::new("ops.lars", [StaffRole::Fulfillment], [])?;
    let supervisor = StaffActor::new("lead.sara", [StaffRole::Supervisor], [])?;
    decision(
        "Staff Support (Technical) read a Technical ticket",
        decide_staff(
            &support,
            StaffAction::ViewTickets,
            Some(Department::Technical),
        ),
        ReasonCode::Allowed,
    )?;
    decision(
        "Staff Support (Technical) read a Billing ticket",
        decide_staff(
            &support,
            StaffAction::ViewTickets,
            Some(Department::Billing),
        ),
        ReasonCode::OtherDepartment,
    )?;
    decision(
        "Staff Support issue a refund",
        decide_staff(&support, StaffAction::Refund, None),
        ReasonCode::StaffRoleLacksPermission,
    )?;
    decision(
        "Staff Fulfillment complete an order",
        decide_staff(&fulfillment, StaffAction::SetOrderStatus, None),
        ReasonCode::Allowed,
    )?;
    decision(
        "Staff Supervisor administer an Owner",
        decide_staff(&supervisor, StaffAction::AdministerOwner, None),
        ReasonCode::Allowed,
    )?;
    Ok(())
}

// -------------------------------------------------------------------------------------------
// 3. Credentials
// -------------------------------------------------------------------------------------------

fn credentials(rng: &mut TourRng, now: OffsetDateTime) -> TourResult {
    section(3, "Credentials (AUTH-1 … AUTH-4, AUTH-6)");
    let context = [
        "Jonas Weber",
        "jonas.weber@nordlicht-iot.de",
        "Nordlicht IoT SE",
    ];
    refused(
        "New password \"nordlicht2026\" (13 characters)",
        check_new_password(&Password::new("nordlicht2026"), false, &context),
        ReasonCode::PasswordTooShort,
    )?;
    refused(
        "New password \"nordlicht-iot-2026\" (18 characters, from the company name)",
        check_new_password(&Password::new("nordlicht-iot-2026"), false, &context),
        ReasonCode::PasswordTooWeak,
    )?;
    detail(format!(
        "(zxcvbn scores it {}/4 with name, e-mail and company as context, {}/4 without)",
        password_strength(&Password::new("nordlicht-iot-2026"), &context).score,
        password_strength(&Password::new("nordlicht-iot-2026"), &[]).score
    ));
    let typed = Password::new("lantern orbit velvet canyon 42");
    let accepted = check_new_password(&typed, false, &context)?;
    let params = PasswordParams::testing();
    let hash = hash_password(&accepted, &rng.bytes(), &params)?;
    ok(
        "New password \"lantern orbit velvet canyon 42\"",
        format!(
            "accepted (zxcvbn score {}/4), stored as Argon2id m={} KiB t={} p={}",
            password_strength(&typed, &context).score,
            hash.params().memory_kib,
            hash.params().iterations,
            hash.params().parallelism
        ),
    );
    detail("(the tour hashes with PasswordParams::testing() for speed; production uses owasp(),");
    detail(format!(
        " 19 MiB t=2 p=1, and a testing hash is re-hashed at the next login: {})",
        needs_rehash(&hash, &PasswordParams::owasp())
    ));
    ok(
        "Login with that password / with \"lantern orbit velvet canyon 43\"",
        format!(
            "{} / {}",
            verify_password(&typed, &hash),
            verify_password(&Password::new("lantern orbit velvet canyon 43"), &hash)
        ),
    );
    let dummy = dummy_hash(&params)?;
    ok(
        "Login to an unknown e-mail",
        format!(
            "one Argon2 verification against a dummy hash as well, result {} → InvalidCredentials",
            verify_against_dummy(&typed, &dummy)
        ),
    );

    let lifetimes = TokenLifetimes::default();
    let token = Token::from_random(rng.bytes());
    let stored: TokenHash = token.hash();
    let mut state = TokenState::issued(TokenKind::PasswordReset, now);
    ok(
        "Forgot password: a reset link is issued",
        format!(
            "{}-character token (256 bits) in the e-mail, only its SHA-256 {}… stored, valid until {}",
            token.expose().len(),
            &stored.to_hex()[..12],
            hm(now + lifetimes.password_reset)
        ),
    );
    let returned = Token::parse(token.expose())?;
    expect(
        stored.matches(&returned),
        "the returned token to match its hash",
    )?;
    state.redeem(
        TokenKind::PasswordReset,
        now + Duration::minutes(10),
        &lifetimes,
    )?;
    ok(
        "The link is used 10 minutes later",
        "password reset; every session of the user ends",
    );
    refused(
        "The same link again",
        state.redeem(
            TokenKind::PasswordReset,
            now + Duration::minutes(12),
            &lifetimes,
        ),
        ReasonCode::TokenUsed,
    )?;
    refused(
        "Another reset link used after 31 minutes",
        TokenState::issued(TokenKind::PasswordReset, now).check(
            TokenKind::PasswordReset,
            now + Duration::minutes(31),
            &lifetimes,
        ),
        ReasonCode::TokenExpired,
    )?;
    let mut session = SessionTimes::new(now);
    session.check(now + Duration::minutes(25), &lifetimes)?;
    session.touch(now + Duration::minutes(25));
    ok(
        "Session used after 25 min",
        "alive (idle 30 min, absolute 12 h)",
    );
    refused(
        "… then idle for 35 min",
        session.check(now + Duration::minutes(60), &lifetimes),
        ReasonCode::SessionIdleTimeout,
    )?;

    let mut counter = None;
    let mut waits = Vec::new();
    for n in 1..=6 {
        counter = Some(record_failure(counter.as_ref(), now));
        waits.push(format!("{n}→{} s", delay_after(n).as_secs()));
    }
    ok(
        "Wrong password 1 … 6 times for jonas.weber@…",
        format!("the next attempt waits {}", waits.join(", ")),
    );
    detail(format!(
        "after 11 or more failures: {} min, the cap; counters expire {} h after the last failure",
        delay_after(11).as_secs() / 60,
        ThrottlePolicy::default().counter_lifetime.whole_hours()
    ));
    let email_key = ThrottleKey::login_email("  Jonas.Weber@Nordlicht-IoT.de ");
    refused(
        format!(
            "7th attempt at once ({} and the source)",
            email_key.storage_key()
        ),
        ThrottlePolicy::default().check([counter.as_ref(), None], now),
        ReasonCode::TooManyAttempts,
    )?;

    let secret = TotpSecret::from_random(rng.bytes());
    let code = secret.code_at(now)?;
    let step = secret.verify(&code, now, None)?;
    ok(
        format!("TOTP code {code} at 10:00:00"),
        format!("accepted, time step {step} recorded"),
    );
    refused(
        "The same code replayed at 10:00:20",
        secret.verify(&code, now + Duration::seconds(20), Some(step)),
        ReasonCode::TotpCodeReused,
    )?;
    let codes = generate_recovery_codes(&rng.bytes());
    let mut hashes: Vec<TokenHash> = codes.iter().map(|c| c.hash()).collect();
    let first = codes.first().ok_or("no recovery code")?.expose().to_owned();
    let typed_code = first.to_lowercase().replace('-', " ");
    let used = redeem_recovery_code(&typed_code, &hashes)?;
    hashes.remove(used);
    ok(
        format!(
            "{} recovery codes made; \"{typed_code}\" typed",
            codes.len()
        ),
        format!(
            "accepted (code {} of the list, shown once as {first}), then deleted",
            used + 1
        ),
    );
    refused(
        "The same recovery code again",
        redeem_recovery_code(&typed_code, &hashes),
        ReasonCode::RecoveryCodeInvalid,
    )?;
    Ok(())
}

// -------------------------------------------------------------------------------------------
// 4. Addresses
// -------------------------------------------------------------------------------------------

fn addresses(
    rng: &mut TourRng,
    now: OffsetDateTime,
    customer: &Customer,
) -> TourResult<AddressSnapshot> {
    section(4, "Addresses (ADDR-1 … ADDR-4)");
    let legal = LegalIdentity {
        company_name: customer.company_name().map(|n| n.as_str()),
        billing_country: customer.billing_country(),
    };
    let bad = AddressInput {
        name: "Jonas Weber".into(),
        street: "Torstraße".into(),
        house_number: Some("140".into()),
        postal_code: "10119!".into(),
        city: "Berlin".into(),
        country: "DE".into(),
        phone: Some("030 1234".into()),
        ..AddressInput::default()
    };
    refused(
        "Address with postal code \"10119!\" and phone \"030 1234\"",
        PostalAddress::parse(&bad),
        ReasonCode::InvalidFormat,
    )?;
    let problems: Vec<String> = PostalAddress::problems(&bad)
        .iter()
        .map(|e| format!("{} [{}]", e.field().unwrap_or("?"), e.reason()))
        .collect();
    detail(format!(
        "a form can show every problem at once: {}",
        problems.join(", ")
    ));

    let hq = PostalAddress::parse(&legal.prefill(AddressInput {
        name: "Jonas Weber".into(),
        street: "Torstraße".into(),
        house_number: Some("140".into()),
        postal_code: "10119".into(),
        city: "Berlin".into(),
        phone: Some("+49 30 5557 1234".into()),
        ..AddressInput::default()
    }))?;
    let hq_id = AddressId::new(now, rng.bytes());
    let book = AddressBook::new().add(
        hq_id,
        hq.clone(),
        AddressUsage::BOTH,
        AddressUsage::NONE,
        legal,
    )?;
    let default_of = |book: &AddressBook, kind: AddressKind| {
        book.default_for(kind)
            .map_or("-".to_owned(), |e| e.address.city().to_owned())
    };
    ok(
        "Add HQ Berlin for billing and shipping (company and country prefilled)",
        format!(
            "default billing {}, default shipping {}",
            default_of(&book, AddressKind::Billing),
            default_of(&book, AddressKind::Shipping)
        ),
    );
    let warehouse = PostalAddress::parse(&AddressInput {
        name: "Warehouse Nordlicht".into(),
        street: "Am Sandtorkai".into(),
        house_number: Some("50".into()),
        postal_code: "20457".into(),
        city: "Hamburg".into(),
        country: "DE".into(),
        ..AddressInput::default()
    })?;
    let wh_id = AddressId::new(now, rng.bytes());
    let book = book.add(
        wh_id,
        warehouse,
        AddressUsage::SHIPPING,
        AddressUsage::SHIPPING,
        legal,
    )?;
    ok(
        "Add Warehouse Hamburg for shipping, ticked \"default shipping\"",
        format!(
            "default billing {}, default shipping {} (the old default was cleared)",
            default_of(&book, AddressKind::Billing),
            default_of(&book, AddressKind::Shipping)
        ),
    );
    let book = book.set_default(hq_id, AddressKind::Shipping)?;
    ok(
        "Make HQ Berlin the default shipping address again",
        format!(
            "default shipping {}",
            default_of(&book, AddressKind::Shipping)
        ),
    );
    let other = PostalAddress::parse(&AddressInput {
        name: "Jonas Weber".into(),
        company: Some("Other Trading GmbH".into()),
        street: "Friedrichstraße".into(),
        house_number: Some("1".into()),
        postal_code: "10117".into(),
        city: "Berlin".into(),
        country: "DE".into(),
        ..AddressInput::default()
    })?;
    refused(
        "Add a billing address for \"Other Trading GmbH\"",
        book.add(
            AddressId::new(now, rng.bytes()),
            other,
            AddressUsage::BILLING,
            AddressUsage::NONE,
            legal,
        ),
        ReasonCode::BillingAddressLegalField,
    )?;
    refused(
        "Delete HQ Berlin, the only billing address",
        book.delete(hq_id),
        ReasonCode::LastBillingAddress,
    )?;
    let snapshot = hq.snapshot();
    let mut moved = hq.to_input();
    moved.street = "Invalidenstraße".into();
    moved.house_number = Some("116".into());
    moved.postal_code = "10115".into();
    let book = book.update(
        hq_id,
        PostalAddress::parse(&moved)?,
        AddressUsage::BOTH,
        legal,
    )?;
    let now_at = book
        .get(hq_id)
        .map_or("-".to_owned(), |e| e.address.street().to_owned());
    ok(
        format!("HQ moves to {now_at}; an order placed before keeps its snapshot"),
        snapshot.lines().join(", "),
    );
    Ok(snapshot)
}

// -------------------------------------------------------------------------------------------
// 5. Payments
// -------------------------------------------------------------------------------------------

fn payments(rng: &mut TourRng, now: OffsetDateTime, today: Date) -> TourResult<PaymentSettings> {
    section(5, "Payments and Auto-Top-Up (PAY-1 … PAY-3)");
    refused(
        "Send \"4242 4242 4242 4242\" as a card token",
        CardToken::parse("4242 4242 4242 4242"),
        ReasonCode::CardNumberNotAccepted,
    )?;
    let mut settings = PaymentSettings::new();
    refused(
        "Turn Auto-Top-Up on for all SIMs with no card stored",
        settings.set_auto_top_up(AutoTopUpTarget::AllSims, true, today),
        ReasonCode::NoValidCard,
    )?;
    let expired = VerifiedCard {
        token: CardToken::parse("tok_mastercard_2610")?,
        brand: CardBrand::from_gateway("MasterCard"),
        last4: Last4::parse("4444")?,
        expiry: CardExpiry::new(10, 2026)?,
    };
    refused(
        "Save a Mastercard …4444 that expired 10/2026",
        StoredCard::new(CardId::new(now, rng.bytes()), expired, "Jonas Weber", today),
        ReasonCode::CardExpired,
    )?;
    let card_id = CardId::new(now, rng.bytes());
    let card = StoredCard::new(
        card_id,
        VerifiedCard {
            token: CardToken::parse("tok_visa")?,
            brand: CardBrand::from_gateway("visa"),
            last4: Last4::parse("4242")?,
            expiry: CardExpiry::new(11, 2026)?,
        },
        "Jonas Weber",
        today,
    )?;
    ok(
        "Save a Visa …4242 expiring 11/2026 (the gateway verified the token)",
        format!(
            "stored as {} …{}; chargeable today {}, on 2026-12-01 {}",
            card.brand(),
            card.last4(),
            card.is_valid(today),
            card.is_valid(date!(2026 - 12 - 01))
        ),
    );
    settings.save_card(card)?;
    settings.set_auto_top_up(AutoTopUpTarget::AllSims, true, today)?;
    let sim = SimId::new(now, rng.bytes());
    ok(
        "Turn Auto-Top-Up on for all SIMs",
        format!(
            "on; any SIM reads back {}",
            settings.auto_top_up_enabled(sim)
        ),
    );
    let plan = PlanId::new(now, rng.bytes());
    let plans = BTreeSet::from([plan]);
    let change = settings.assign_card_to_plans(card_id, &plans, &plans, today)?;
    ok(
        "Charge the fleet manager's phone plan to this card",
        format!("{} plan assigned", change.assigned.len()),
    );
    let consequences = settings.delete_card(card_id, today)?;
    ok("Delete the Visa …4242", "deleted; the customer is told:");
    for consequence in &consequences {
        match consequence {
            CardDeletionConsequence::PlansUnassigned { plans } => {
                detail(format!(
                    "{} plan(s) no longer have a card to be charged to",
                    plans.len()
                ));
            }
            CardDeletionConsequence::AutoTopUpDisabled { all_sims, sims } => detail(format!(
                "no valid card is left, so Auto-Top-Up was switched off (all SIMs: {all_sims}, single SIMs: {})",
                sims.len()
            )),
        }
    }
    expect(
        !settings.auto_top_up_enabled(sim),
        "Auto-Top-Up off after the delete",
    )?;
    Ok(settings)
}

// -------------------------------------------------------------------------------------------
// 6. Orders
// -------------------------------------------------------------------------------------------

fn print_priced(priced: &PricedOrder) {
    for line in &priced.lines {
        detail(format!(
            "{} × {} at {} = net {}, VAT {} % {}, gross {}",
            line.quantity,
            line.description,
            line.unit_net,
            line.net,
            line.vat_rate,
            line.vat,
            line.gross
        ));
    }
    let tax = match &priced.tax {
        TaxTreatment::Standard { country, rate } => format!("VAT {rate} % for {country}"),
        TaxTreatment::ReverseCharge { customer_vat_id } => {
            format!("reverse charge, customer VAT id {customer_vat_id} on the invoice")
        }
    };
    detail(format!("{tax}; totals: {}", totals_text(&priced.totals)));
}

fn orders(
    rng: &mut TourRng,
    now: OffsetDateTime,
    customer: &Customer,
    billing: &AddressSnapshot,
) -> TourResult<(Order, Vec<SimRow>)> {
    section(6, "Orders (ORD-1, ORD-2, ORD-4, ORD-5)");
    let today = now.date();
    let catalogue = Catalogue::example();
    let seller = Seller::example()?;
    let sims_1000 = [(Sku::parse("sim-std")?, 1_000)];
    let german = TaxCustomer::of(customer);
    let priced = price_order(&catalogue, &seller, &german, &sims_1000)?;
    ok(
        format!(
            "Nordlicht (DE, seller {} in DE) orders 1 000 SIMs",
            seller.name()
        ),
        "priced:",
    );
    print_priced(&priced);
    let austrian = TaxCustomer {
        business: true,
        vat_id: Some(VatId::parse("ATU12345678")?),
        billing_country: Country::parse("AT")?,
    };
    ok(
        "An Austrian business with VAT id ATU12345678 orders the same",
        "priced:",
    );
    print_priced(&price_order(&catalogue, &seller, &austrian, &sims_1000)?);
    refused(
        "Order 0 SIMs",
        price_order(&catalogue, &seller, &german, &[(Sku::parse("SIM-STD")?, 0)]),
        ReasonCode::OutOfRange,
    )?;

    let number = OrderNumber::new(rng.bytes());
    let typed = number.to_string().to_lowercase().replace('-', " ");
    ok(
        "Order number",
        format!(
            "{number} (40 random bits); typed as \"{typed}\" it reads back as {}",
            OrderNumber::parse(&typed)?
        ),
    );
    let mut order = Order::new(NewOrder {
        id: OrderId::new(now, rng.bytes()),
        org: customer.id(),
        number,
        order_type: OrderType::for_sim_order(0),
        placed_at: now,
        priced,
        email: customer.main_contact().clone(),
        billing_address: billing.clone(),
        shipping_address: billing.clone(),
        payment: OrderPayment::OnInvoice,
    });
    ok(
        "Order placed",
        format!("{}, status {}", order.order_type, order.status()),
    );
    order.set_status(OrderStatus::Completed)?;
    ok("Staff complete it", format!("status {}", order.status()));
    refused(
        "Staff cancel the completed order",
        order.set_status(OrderStatus::Cancelled),
        ReasonCode::IllegalOrderTransition,
    )?;

    let pdf = DocumentFile::pdf(b"%PDF-1.7\n% the billing system's invoice\n")?;
    let invoice = Invoice::new(NewInvoice {
        id: DocumentId::new(now, rng.bytes()),
        order: order.id,
        number: InvoiceNumbering::default().format(2026, 1_042)?,
        issued_on: today,
        amounts: order.priced.totals,
        language: customer.language(),
        file: pdf.clone(),
    })?;
    ok(
        format!(
            "Invoice {} attached ({} bytes of PDF)",
            invoice.number(),
            pdf.size()
        ),
        format!(
            "{}, language {}",
            totals_text(invoice.amounts()),
            invoice.language()
        ),
    );
    let mut trail = DocumentTrail::new(invoice);
    let eur = |minor| Money::from_minor(minor, Currency::EUR);
    let credit = OrderTotals {
        net: eur(100_000),
        vat: eur(19_000),
        gross: eur(119_000),
    };
    let mut document = |kind, number: &str, amounts, note: &str| -> TourResult<NewDocument> {
        Ok(NewDocument {
            id: DocumentId::new(now, rng.bytes()),
            kind,
            number: InvoiceNumber::parse(number)?,
            issued_on: today,
            amounts,
            language: Language::German,
            file: pdf.clone(),
            note: note.into(),
        })
    };
    trail.add(document(
        DocumentKind::CreditNote,
        "CN-2026-000007",
        Some(credit),
        "100 SIM cards returned",
    )?)?;
    let corrected = OrderTotals {
        net: eur(900_000),
        vat: eur(171_000),
        gross: eur(1_071_000),
    };
    trail.add(document(
        DocumentKind::CorrectedInvoice,
        "INV-2026-001042-C1",
        Some(corrected),
        "Corrected quantity: 900 SIM cards",
    )?)?;
    ok(
        "Billing staff add a credit note and a corrected invoice",
        format!(
            "{} additional documents; the invoice is unchanged ({}); still creditable {}",
            trail.additional().len(),
            trail.invoice().amounts().gross,
            trail.creditable()?
        ),
    );
    let too_much = OrderTotals {
        net: eur(1_000_000),
        vat: eur(190_000),
        gross: eur(1_190_000),
    };
    refused(
        "A credit note for the full 11 900.00 EUR on top",
        trail.add(document(
            DocumentKind::CreditNote,
            "CN-2026-000008",
            Some(too_much),
            "all",
        )?),
        ReasonCode::CreditExceedsInvoice,
    )?;

    let template = TrackingTemplate::parse(
        "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={tracking}",
    )?;
    let shipment = Shipment::new(
        ShipmentId::new(now, rng.bytes()),
        "DHL",
        TrackingNumber::parse("jjd 0001 4000 8751 2345")?,
        None,
        Some(&template),
        ShipmentStatus::InTransit,
    )?;
    ok(
        "Staff add a DHL shipment with tracking number \"jjd 0001 4000 8751 2345\"",
        format!(
            "{}, link {}",
            shipment.tracking_number,
            shipment.tracking_link.as_ref().map_or("-", |l| l.as_str())
        ),
    );
    order.shipments.push(shipment);

    let number_text = order.number.to_string().to_lowercase();
    let postal_code = order.billing_postal_code().to_owned();
    let view = guest_lookup(
        &GuestLookup::parse(&number_text, "Billing@Nordlicht-IoT.de")?,
        Some(&order),
    )?;
    ok(
        format!("Guest tracks {number_text} with the order's e-mail"),
        format!(
            "status {}; items {}; shipments {}",
            view.status,
            view.items
                .iter()
                .map(|i| format!("{} × {}", i.quantity, i.description))
                .collect::<Vec<_>>()
                .join(", "),
            view.shipments
                .iter()
                .map(|s| format!("{} {} {}", s.carrier, s.tracking_number, s.status))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    detail(
        "(a separate type: no address, price, payment, ICCID, IMSI or MSISDN can reach a guest)",
    );
    let by_code = guest_lookup(
        &GuestLookup::parse(&number_text, &postal_code)?,
        Some(&order),
    );
    ok(
        format!("… with the billing postal code {postal_code}"),
        if by_code.is_ok() {
            "the same view"
        } else {
            "refused"
        },
    );
    refused(
        "… with another e-mail",
        guest_lookup(
            &GuestLookup::parse(&number_text, "boss@nordlicht-iot.de")?,
            Some(&order),
        ),
        ReasonCode::NotFound,
    )?;
    refused(
        "… with postal code 10115",
        guest_lookup(&GuestLookup::parse(&number_text, "10115")?, Some(&order)),
        ReasonCode::NotFound,
    )?;
    let unknown = OrderNumber::new(rng.bytes()).to_string();
    refused(
        format!("… an unknown number {unknown}"),
        guest_lookup(
            &GuestLookup::parse(&unknown, "billing@nordlicht-iot.de")?,
            None,
        ),
        ReasonCode::NotFound,
    )?;
    detail(format!(
        "guest lookups are throttled per source and per number ({})",
        ThrottleKey::order_lookup_number(&number_text).storage_key()
    ));

    // ORD-5: idempotency of placing an order.
    let key = IdempotencyKey::parse("checkout-2026-11-23-0017")?;
    let request =
        serde_json::json!({"items": [{"sku": "SIM-STD", "quantity": 1000}], "billing": "default"});
    let fingerprint = RequestFingerprint::of(&request)?;
    ok(
        format!("Place an order with idempotency key {key}"),
        format!(
            "gateway key {}, request fingerprint {}…",
            GatewayKey::order(customer.id(), &key),
            &fingerprint.to_hex()[..12]
        ),
    );
    let lease = |state, seconds_ago| IntentLease {
        fingerprint,
        state,
        leased_at: now - Duration::seconds(seconds_ago),
    };
    refused(
        "The same key while another attempt holds the lease (20 s ago)",
        lease(PaymentIntentState::Pending, 20).decide(&fingerprint, now),
        ReasonCode::IdempotencyKeyInProgress,
    )?;
    ok(
        "The same key, the pending attempt's lease is 90 s old",
        format!(
            "{}: take over, charge again with the same gateway key (never twice)",
            lease(PaymentIntentState::Pending, 90).decide(&fingerprint, now)?
        ),
    );
    ok(
        "The same key after the order succeeded",
        format!(
            "{}",
            lease(PaymentIntentState::Succeeded, 300).decide(&fingerprint, now)?
        ),
    );
    let other = RequestFingerprint::of(
        &serde_json::json!({"items": [{"sku": "SIM-STD", "quantity": 10}]}),
    )?;
    refused(
        "The same key with a different request (10 SIMs)",
        lease(PaymentIntentState::Succeeded, 300).decide(&other, now),
        ReasonCode::IdempotencyKeyReused,
    )?;

    let sims = sim_rows(1_000)?;
    Ok((order, sims))
}

// -------------------------------------------------------------------------------------------
// 7. SIM export
// -------------------------------------------------------------------------------------------

/// The 1 000 SIMs staff assigned to the order, with labels a customer might give them.
fn sim_rows(count: u32) -> TourResult<Vec<SimRow>> {
    let labels = [
        "=SUM(A1)",
        "+49 151 2345 6789",
        "@cmd",
        "שער ראשי — חיפה",
        "Depot \"North\", bay 3",
        "-20 °C freezer",
        "'quoted",
        "Truck 17",
    ];
    (0..count)
        .map(|i| {
            let label = match labels.get(i as usize) {
                Some(l) => (*l).to_owned(),
                None => format!("Truck {}", i + 10),
            };
            let provisioned = i < count - 10;
            Ok(SimRow {
                iccid: Iccid::from_payload(&format!("8949020000{i:08}"))?,
                label,
                imsi: if provisioned {
                    Some(Imsi::parse(&format!("26201{:010}", 4_000_000 + i))?)
                } else {
                    None
                },
                msisdn: if provisioned {
                    Some(Msisdn::parse(&format!("+49151{:08}", 20_000_000 + i))?)
                } else {
                    None
                },
            })
        })
        .collect()
}

fn export(path: &PathBuf, order: &Order, rows: &[SimRow]) -> TourResult {
    section(7, "SIM export of an order (ORD-3)");
    let file = std::fs::File::create(path)?;
    let mut writer = SimCsvWriter::new(std::io::BufWriter::new(file))?;
    for row in rows {
        writer.write(row)?;
    }
    writer.finish()?.flush()?;
    let bytes = std::fs::metadata(path)?.len();
    ok(
        format!("Export the {} SIMs of order {}", rows.len(), order.number),
        format!("{bytes} bytes written to {}", path.display()),
    );
    detail("the first lines (CRLF line ends; risky labels get one leading ', quotes doubled):");
    let text = std::fs::read_to_string(path)?;
    for line in text.split("\r\n").take(9) {
        detail(format!("  {line}"));
    }
    detail(format!(
        "  … the last 10 SIMs are not provisioned yet: {}",
        text.split("\r\n").nth(rows.len()).unwrap_or("")
    ));
    let back =
        SimCsvReader::new(std::fs::File::open(path)?)?.collect::<Result<Vec<SimRow>, Error>>()?;
    expect(back == rows, "every row to read back exactly")?;
    ok(
        "Read the file back with the parser",
        format!(
            "{} rows; every ICCID, label, IMSI and MSISDN identical to what was exported",
            back.len()
        ),
    );
    Ok(())
}

// -------------------------------------------------------------------------------------------
// 8. Plans
// -------------------------------------------------------------------------------------------

fn plans(rng: &mut TourRng, now: OffsetDateTime, today: Date) -> TourResult {
    section(8, "Dana's travel plan (PLAN-1 … PLAN-6)");
    let number = Msisdn::parse("+972 52 123 4567")?;
    let old_sim = Iccid::from_payload("897201000000000011")?;
    let mut plan = Plan::new(
        PlanId::new(now, rng.bytes()),
        OrderId::new(now, rng.bytes()),
        vec![number.clone()],
        old_sim.clone(),
        date!(2026 - 12 - 01),
        date!(2026 - 12 - 30),
    )?;
    ok(
        format!("Plan for {number} on SIM {old_sim}"),
        format!(
            "{} to {}, {} today ({today})",
            plan.start(),
            plan.end(),
            plan.state(today)
        ),
    );
    let (start, end) = plan.change_dates(Some(date!(2026 - 12 - 03)), None, today)?;
    ok(
        "Move the start to 2026-12-03",
        format!("now {start} to {end}"),
    );
    refused(
        "End on 2026-12-02, before the start",
        plan.change_dates(None, Some(date!(2026 - 12 - 02)), today),
        ReasonCode::PlanEndBeforeStart,
    )?;
    refused(
        "Start on 2026-11-20, in the past",
        plan.change_dates(Some(date!(2026 - 11 - 20)), None, today),
        ReasonCode::DateInPast,
    )?;
    let mut running = Plan::new(
        PlanId::new(now, rng.bytes()),
        OrderId::new(now, rng.bytes()),
        vec![Msisdn::parse("+972 54 765 4321")?],
        Iccid::from_payload("897201000000000029")?,
        date!(2026 - 11 - 15),
        date!(2026 - 11 - 30),
    )?;
    refused(
        "Move the start of a plan running since 2026-11-15",
        running.change_dates(Some(date!(2026 - 11 - 25)), None, today),
        ReasonCode::PlanStarted,
    )?;
    let (_, end) = running.change_dates(None, Some(date!(2026 - 12 - 07)), today)?;
    ok("… extend its end instead", format!("now ends {end}"));

    let new_sim = Iccid::from_payload("897201000000000037")?.to_string();
    let mut bad_digit = new_sim.clone();
    bad_digit.pop();
    bad_digit.push(if new_sim.ends_with('0') { '1' } else { '0' });
    refused(
        format!("Swap to SIM {bad_digit} (mistyped)"),
        SwapRequest::request(
            &mut plan,
            ProvisioningId::new(now, rng.bytes()),
            &bad_digit,
            false,
            now,
            today,
        ),
        ReasonCode::IccidCheckDigit,
    )?;
    refused(
        "Swap to a SIM that is in use elsewhere",
        SwapRequest::request(
            &mut plan,
            ProvisioningId::new(now, rng.bytes()),
            &new_sim,
            true,
            now,
            today,
        ),
        ReasonCode::SimInUse,
    )?;
    let failing_sim = Iccid::from_payload("897201000000000045")?.to_string();
    let mut swap = SwapRequest::request(
        &mut plan,
        ProvisioningId::new(now, rng.bytes()),
        &new_sim,
        false,
        now,
        today,
    )?;
    swap.start_provisioning()?;
    ok(
        format!("Swap to SIM {new_sim}"),
        format!(
            "{}; the plan is {}; the network is asked",
            swap.state(),
            plan.state(today)
        ),
    );
    refused(
        "A second swap while the first is provisioning",
        SwapRequest::request(
            &mut plan,
            ProvisioningId::new(now, rng.bytes()),
            &failing_sim,
            false,
            now,
            today,
        ),
        ReasonCode::ProvisioningInProgress,
    )?;
    swap.complete(&mut plan)?;
    ok(
        "The network reports success",
        format!(
            "{}; the plan runs on {} (message with numbers and new SIM sent)",
            swap.state(),
            plan.sim()
        ),
    );
    let mut failed = SwapRequest::request(
        &mut plan,
        ProvisioningId::new(now, rng.bytes()),
        &failing_sim,
        false,
        now,
        today,
    )?;
    failed.start_provisioning()?;
    failed.fail(&mut plan)?;
    ok(
        format!("Swap to {failing_sim}; the network refuses"),
        format!("{}; the plan keeps {}", failed.state(), plan.sim()),
    );
    let mut silent = SwapRequest::request(
        &mut plan,
        ProvisioningId::new(now, rng.bytes()),
        &failing_sim,
        false,
        now,
        today,
    )?;
    silent.start_provisioning()?;
    refused(
        "Maintenance times out a 30-minute-old swap",
        silent.time_out(&mut plan, now + Duration::minutes(30), DEFAULT_SWAP_TIMEOUT),
        ReasonCode::SimSwapTransition,
    )?;
    silent.time_out(&mut plan, now + Duration::minutes(61), DEFAULT_SWAP_TIMEOUT)?;
    ok(
        "… after 61 minutes without an answer",
        format!(
            "{}; the plan keeps {} and the customer is told",
            silent.state(),
            plan.sim()
        ),
    );

    let changed = plan.set_voicemail(true, VoicemailLanguage::parse("he")?);
    ok(
        "Voicemail on, in Hebrew",
        format!(
            "changed {changed}, language {}",
            plan.voicemail().language.code()
        ),
    );
    let apn = ApnSettings::new(ApnSettingsInput {
        name: "internet.travel.example".into(),
        username: None,
        password: None,
        auth: ApnAuth::None,
        protocol: ApnProtocol::Ipv4v6,
    })?;
    ok(
        "Send APN settings",
        format!(
            "APN {}, auth {:?}, {:?}, to the Service contacts",
            apn.name(),
            apn.auth(),
            apn.protocol()
        ),
    );
    refused(
        "APN \"internet.gprs\"",
        ApnSettings::new(ApnSettingsInput {
            name: "internet.gprs".into(),
            username: None,
            password: None,
            auth: ApnAuth::None,
            protocol: ApnProtocol::Ipv4v6,
        }),
        ReasonCode::InvalidFormat,
    )?;
    let usage = PlanUsage::new(
        plan.start(),
        plan.end(),
        UsageCounter::new(42, Some(300)),
        UsageCounter::new(5, Some(100)),
        UsageCounter::new(3_250_000_000, Some(10_000_000_000)),
    )?;
    let pct = |c: &UsageCounter| {
        c.percent_used()
            .map_or("-".to_owned(), |p| format!("{p} %"))
    };
    ok(
        "Usage",
        format!(
            "minutes {} of 300 ({}), SMS {} of 100 ({}), data {} of 10 000 MB ({})",
            usage.minutes.used,
            pct(&usage.minutes),
            usage.sms.used,
            pct(&usage.sms),
            usage.data_bytes.used / BYTES_PER_MB,
            pct(&usage.data_bytes)
        ),
    );
    refused(
        "Forward calls to the plan's own number",
        plan.set_call_forwarding("+972-52-123-4567"),
        ReasonCode::CallForwardingToOwnNumber,
    )?;
    plan.set_call_forwarding("+972 3 555 1234")?;
    ok(
        "Forward calls to +972 3 555 1234",
        format!(
            "forwarding to {}",
            plan.call_forwarding().map_or("-", |m| m.e164())
        ),
    );
    ok(
        "Reset call forwarding",
        format!("was on: {}", plan.reset_call_forwarding()),
    );
    Ok(())
}

// -------------------------------------------------------------------------------------------
// 9. Top-ups and usage
// -------------------------------------------------------------------------------------------

fn effect_text(effect: &UsageEffect) -> String {
    match effect {
        UsageEffect::Ignored { record_id } => format!("record {record_id} seen before: ignored"),
        UsageEffect::ThresholdReached {
            kind,
            percent,
            generation,
        } => format!("{percent} of the {kind} volume left (generation {generation}): notify"),
        UsageEffect::Exhausted { kind, generation } => {
            format!("{kind} volume exhausted (generation {generation})")
        }
        UsageEffect::MonthlyLimitReached { kind, period } => {
            format!("monthly {kind} limit reached for {period}: notify")
        }
        UsageEffect::AutoTopUp { key, .. } => {
            format!("charge ONE Auto-Top-Up to the stored card, gateway key {key}")
        }
        UsageEffect::AutoTopUpSkippedMonthlyLimit { .. } => {
            "no Auto-Top-Up: the monthly limit is reached, the recipients are told instead".into()
        }
    }
}

fn top_ups(
    rng: &mut TourRng,
    now: OffsetDateTime,
    customer: &Customer,
    limits: MonthlyVolumeLimits,
    settings: &mut PaymentSettings,
    sims: &[SimRow],
) -> TourResult<Vec<UsageEffect>> {
    section(9, "Top-ups and usage (TOP-1 … TOP-3)");
    let today = now.date();
    let card_id = CardId::new(now, rng.bytes());
    settings.save_card(StoredCard::new(
        card_id,
        VerifiedCard {
            token: CardToken::parse("tok_visa_1881")?,
            brand: CardBrand::Visa,
            last4: Last4::parse("1881")?,
            expiry: CardExpiry::new(8, 2028)?,
        },
        "Jonas Weber",
        today,
    )?)?;
    let sim = SimId::new(now, rng.bytes());
    settings.set_auto_top_up(AutoTopUpTarget::Sim(sim), true, today)?;
    let truck = sims.get(7).ok_or("no SIM 8")?;
    ok(
        format!(
            "A new Visa …1881 is saved; Auto-Top-Up on for \"{}\"",
            truck.label
        ),
        format!("reads back {}", settings.auto_top_up_enabled(sim)),
    );

    let catalogue = Catalogue::example();
    let seller = Seller::example()?;
    let tax = TaxCustomer::of(customer);
    let payment = TopUpPayment::StoredCard(card_id);
    payment.check(settings, today)?;
    let one = price_top_up(
        &catalogue,
        &seller,
        &tax,
        &Sku::parse("DATA-1GB")?,
        1,
        payment,
    )?;
    ok(
        "Price a 1 GB data top-up for one SIM, by card",
        format!("{}: {}", one.order_type, totals_text(&one.priced.totals)),
    );
    let bulk = price_top_up(
        &catalogue,
        &seller,
        &tax,
        &Sku::parse("DATA-500MB")?,
        250,
        TopUpPayment::OnInvoice,
    )?;
    ok(
        "… 500 MB for 250 SIMs, on invoice",
        format!("{}: {}", bulk.order_type, totals_text(&bulk.priced.totals)),
    );
    refused(
        "Top up with the SIM card product",
        price_top_up(
            &catalogue,
            &seller,
            &tax,
            &Sku::parse("SIM-STD")?,
            1,
            TopUpPayment::OnInvoice,
        ),
        ReasonCode::NotATopUp,
    )?;

    let period = MonthPeriod::containing(now, UtcOffset::UTC)?;
    let rules = UsageRules {
        period,
        limits: MonthlyLimits::from(&limits),
        auto_top_up: settings.auto_top_up_enabled(sim) && settings.has_valid_card(today),
        thresholds: &DEFAULT_THRESHOLDS,
    };
    // The top-up product decides the volume, in the quota's unit (bytes for data).
    let top_up_volume = |sku: &str| -> TourResult<(VolumeKind, u64)> {
        let product = catalogue.get(&Sku::parse(sku)?).ok_or("unknown product")?;
        Ok(product.kind().top_up_volume().ok_or("not a top-up")?)
    };
    let (kind_1gb, volume_1gb) = top_up_volume("DATA-1GB")?;
    let mut state = start_generation(&QuotaState::new(sim), kind_1gb, volume_1gb)?;
    let mut monthly = MonthlyUsage::new(period);
    let mut seen: Vec<UsageRecordId> = Vec::new();
    let mut marks = SentMarks::new();
    let mut usage_effects = Vec::new();
    let quota = state.quota(VolumeKind::Data);
    ok(
        format!("\"{}\" has 1 000 MB", truck.label),
        format!(
            "generation {}, volume {}; notices at {} and {} left; monthly limit {} MB",
            quota.generation,
            mb(quota.volume as i64),
            DEFAULT_THRESHOLDS[0],
            DEFAULT_THRESHOLDS[1],
            limit_text(limits.data_mb())
        ),
    );
    let mut feed = |id: &str, megabytes: u64, minutes: i64| -> TourResult {
        let record = UsageRecord::new(
            id,
            truck.iccid.clone(),
            now + Duration::minutes(minutes),
            megabytes * BYTES_PER_MB,
            0,
        )?;
        let outcome = apply_usage(&state, &monthly, &record, &seen, &marks, &rules);
        state = outcome.state;
        monthly = outcome.monthly;
        seen.extend(outcome.seen);
        marks.extend(outcome.marks);
        let remaining = state.quota(VolumeKind::Data).remaining();
        let effects: Vec<String> = outcome.effects.iter().map(effect_text).collect();
        usage_effects.extend(outcome.effects);
        ok(
            format!("Usage record {id}: {megabytes} MB"),
            format!(
                "{} left; {}",
                mb(remaining),
                if effects.is_empty() {
                    "nothing to do".to_owned()
                } else {
                    effects.join("; ")
                }
            ),
        );
        Ok(())
    };
    feed("nw-000101", 700, 10)?;
    feed("nw-000102", 150, 20)?;
    feed("nw-000102", 150, 20)?;
    feed("nw-000103", 200, 30)?;
    feed("nw-000103", 200, 30)?;
    feed("nw-000104", 10, 40)?;
    let exhausted_generation = state.quota(VolumeKind::Data).generation;
    let key = GatewayKey::auto_top_up(sim, exhausted_generation);
    let state = start_generation(&state, kind_1gb, volume_1gb)?;
    let quota = state.quota(VolumeKind::Data);
    ok(
        format!("The gateway charges {key}; the top-up arrives"),
        format!(
            "generation {}, volume {} (the 60 MB over-use is not carried over)",
            quota.generation,
            mb(quota.volume as i64)
        ),
    );

    // A second SIM, after the organisation lowered its limit to the 1 000 MB step.
    let low = MonthlyVolumeLimits::new(
        Limit::Capped(1_000),
        Limit::Capped(500),
        &VolumeLimitSteps::default(),
    )?;
    let low_rules = UsageRules {
        limits: MonthlyLimits::from(&low),
        ..rules
    };
    let other_sim = SimId::new(now, rng.bytes());
    let other = sims.get(8).ok_or("no SIM 9")?;
    let (kind_500mb, volume_500mb) = top_up_volume("DATA-500MB")?;
    let other_state = start_generation(&QuotaState::new(other_sim), kind_500mb, volume_500mb)?;
    let used_this_month = MonthlyUsage {
        period,
        data_bytes: 700 * BYTES_PER_MB,
        sms: 0,
    };
    let record = UsageRecord::new(
        "nw-000201",
        other.iccid.clone(),
        now + Duration::hours(1),
        600 * BYTES_PER_MB,
        0,
    )?;
    let outcome = apply_usage(
        &other_state,
        &used_this_month,
        &record,
        &Vec::<UsageRecordId>::new(),
        &SentMarks::new(),
        &low_rules,
    );
    ok(
        format!(
            "Limit lowered to 1 000 MB; \"{}\" (500 MB, 700 MB used this month) uses 600 MB",
            other.label
        ),
        "the rules decide",
    );
    for effect in &outcome.effects {
        detail(effect_text(effect));
    }
    expect(
        !outcome
            .effects
            .iter()
            .any(|e| matches!(e, UsageEffect::AutoTopUp { .. })),
        "no Auto-Top-Up once the monthly limit is reached",
    )?;
    Ok(usage_effects)
}

// -------------------------------------------------------------------------------------------
// 10. Tickets
// -------------------------------------------------------------------------------------------

fn tickets(rng: &mut TourRng, now: OffsetDateTime, sims: &[SimRow]) -> TourResult {
    section(10, "Support tickets (TKT-1, TKT-2)");
    let sim = sims.get(7).ok_or("no SIM 8")?;
    refused(
        "Create a ticket with an empty subject",
        NewTicket::new(Department::Technical, "  ", "No data since Monday.", None),
        ReasonCode::Required,
    )?;
    refused(
        "A ReadOnly user creates a ticket",
        check_create_ticket(Role::ReadOnly),
        ReasonCode::TicketRoleNotAllowed,
    )?;
    let ticket = NewTicket::new(
        Department::Technical,
        &format!("{} has no data since Monday", sim.label),
        "The modem attaches but no PDP context comes up.\nAPN is set as documented.",
        Some(TicketReference::Sim(sim.iccid.clone())),
    )?;
    ok(
        "A User creates a ticket",
        format!(
            "\"{}\" for {:?}, about SIM {}, status Open",
            ticket.subject(),
            ticket.department(),
            sim.iccid
        ),
    );
    let customer = TicketParty::Customer {
        is_opener: true,
        role: Role::User,
    };
    let mut status = TicketStatus::Open;
    refused(
        "The customer sets it to in progress",
        transition(status, TicketEvent::Start, customer, None, now),
        ReasonCode::TicketStaffOnly,
    )?;
    let mut step = |event, who, resolved_at, at, text: &str| -> TourResult {
        let next = transition(status, event, who, resolved_at, at)?;
        ok(format!("{text} ({} → {})", status, next), "allowed");
        status = next;
        Ok(())
    };
    step(
        TicketEvent::Start,
        TicketParty::Staff,
        None,
        now,
        "Staff take it up",
    )?;
    step(
        TicketEvent::AskCustomer,
        TicketParty::Staff,
        None,
        now,
        "Staff ask for the modem log",
    )?;
    step(
        TicketEvent::CustomerReply,
        customer,
        None,
        now,
        "The customer answers",
    )?;
    step(
        TicketEvent::Resolve,
        TicketParty::Staff,
        None,
        now,
        "Staff resolve it",
    )?;
    let resolved_at = now;
    step(
        TicketEvent::CustomerReply,
        customer,
        Some(resolved_at),
        now + Duration::days(3),
        "3 days later the customer replies",
    )?;
    let resolved_again = now + Duration::days(4);
    step(
        TicketEvent::Resolve,
        TicketParty::Staff,
        None,
        resolved_again,
        "Staff resolve it again",
    )?;
    refused(
        "The customer replies 15 days after that",
        transition(
            status,
            TicketEvent::CustomerReply,
            customer,
            Some(resolved_again),
            resolved_again + Duration::days(15),
        ),
        ReasonCode::TicketReopenWindowPassed,
    )?;
    refused(
        "Maintenance closes it after 10 days",
        transition(
            status,
            TicketEvent::AutoClose,
            TicketParty::System,
            Some(resolved_again),
            resolved_again + Duration::days(10),
        ),
        ReasonCode::TicketAutoCloseNotDue,
    )?;
    let closed = transition(
        status,
        TicketEvent::AutoClose,
        TicketParty::System,
        Some(resolved_again),
        resolved_again + Duration::days(14),
    )?;
    ok(
        "Maintenance closes it after 14 days",
        format!("{status} → {closed}"),
    );

    let user = UserId::new(now, rng.bytes());
    let messages = vec![
        TicketMessage::new(TicketAuthor::Customer(user), "No data since Monday.", false)?,
        TicketMessage::new(
            TicketAuthor::Staff("support.mia".into()),
            "Cell 4711 is congested; escalated to the network team.",
            true,
        )?,
        TicketMessage::new(
            TicketAuthor::Staff("support.mia".into()),
            "Please restart the modem; it should attach again.",
            false,
        )?,
    ];
    refused(
        "A customer writes an internal note",
        TicketMessage::new(TicketAuthor::Customer(user), "note to self", true),
        ReasonCode::InternalNoteStaffOnly,
    )?;
    let visible = customer_view(&messages);
    ok(
        format!(
            "The ticket has {} messages, one an internal staff note",
            messages.len()
        ),
        format!(
            "the customer sees {}: {}",
            visible.len(),
            visible
                .iter()
                .map(|m| format!("\"{}\"", m.body()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    Ok(())
}

// -------------------------------------------------------------------------------------------
// 11. Notifications
// -------------------------------------------------------------------------------------------

fn notifications(
    nordlicht: &Customer,
    dana: &Customer,
    order: &Order,
    sims: &[SimRow],
    usage_effects: &[UsageEffect],
) -> TourResult {
    section(11, "Notifications (ACC-4)");
    let overrides = TextOverrides::new();
    let sim = sims.get(7).ok_or("no SIM 8")?;
    let company = nordlicht.company_name().map_or("", |n| n.as_str());
    // The notice asked for by the 20 % threshold of section 9: the effect supplies the share
    // left, the host the names and the amounts in the recipient's language.
    let notice = usage_notifications(usage_effects)
        .into_iter()
        .find(|n| n.kind == NotificationKind::VolumeThresholdReached)
        .ok_or("no threshold notice in section 9")?;
    let threshold = notice
        .params
        .with("customer_name", company)
        .with("sim_label", sim.label.as_str())
        .with("iccid", sim.iccid.as_str())
        .with("remaining", "150 MB")
        .with("allowance", "1.000 MB")
        .with("link", "https://portal.example/sims");
    let kind = notice.kind;
    let out = render(kind, nordlicht.language(), &threshold, &overrides)?;
    ok(
        format!("{kind} for Nordlicht, in {}", out.language),
        format!("\"{}\"", out.subject),
    );
    detail(format!(
        "to {}",
        emails(&kind.recipients(nordlicht.contact_emails(), None))
    ));
    let mut withdrawn = TextOverrides::new();
    withdrawn.withdraw(kind, Language::German);
    let fallback = render(kind, Language::German, &threshold, &withdrawn)?;
    ok(
        "… after the host withdrew the German text",
        format!(
            "falls back to {}: \"{}\"",
            fallback.language, fallback.subject
        ),
    );

    let tracking = order.shipments.first().ok_or("no shipment")?;
    let shipment = Params::new()
        .with("customer_name", company)
        .with("order_number", order.number.to_string())
        .with("carrier", tracking.carrier.as_str())
        .with("tracking_number", tracking.tracking_number.as_str())
        .with(
            "tracking_link",
            tracking.tracking_link.as_ref().map_or("", |l| l.as_str()),
        );
    let kind = NotificationKind::ShipmentSent;
    let out = render(kind, Language::English, &shipment, &overrides)?;
    ok(
        format!("{kind}, in {}", out.language),
        format!("\"{}\"", out.subject),
    );
    detail(format!(
        "to {}",
        emails(&kind.recipients(nordlicht.contact_emails(), None))
    ));
    refused(
        format!("{kind} without its tracking link"),
        render(
            kind,
            Language::English,
            &Params::new()
                .with("customer_name", company)
                .with("order_number", order.number.to_string())
                .with("carrier", tracking.carrier.as_str())
                .with("tracking_number", tracking.tracking_number.as_str()),
            &overrides,
        ),
        ReasonCode::NotificationParameterMissing,
    )?;

    let swap = Params::new()
        .with("customer_name", "Dana Levi")
        .with("phone_number", "+972 52-123-4567")
        .with(
            "new_iccid",
            Iccid::from_payload("897201000000000037")?.to_string(),
        );
    let kind = NotificationKind::SimSwapCompleted;
    let out = render(kind, dana.language(), &swap, &overrides)?;
    ok(
        format!("{kind} for Dana, in {}", out.language),
        format!("\"{}\"", out.subject),
    );
    detail(format!(
        "body: {}",
        out.body.lines().find(|l| l.contains("89720")).unwrap_or("")
    ));
    detail(format!(
        "to {}",
        emails(&kind.recipients(dana.contact_emails(), None))
    ));
    let jonas = Email::parse("jonas.weber@nordlicht-iot.de")?;
    let kind = NotificationKind::PasswordReset;
    let reset = Params::new()
        .with("user_name", "Jonas Weber")
        .with("link", "https://portal.example/reset#…")
        .with("valid_hours", "0.5");
    let out = render(kind, Language::German, &reset, &overrides)?;
    ok(
        format!("{kind}, in {}", out.language),
        format!("\"{}\"", out.subject),
    );
    detail(format!(
        "to the affected user only: {}",
        emails(&kind.recipients(nordlicht.contact_emails(), Some(&jonas)))
    ));
    Ok(())
}

// -------------------------------------------------------------------------------------------
// 12. Audit
// -------------------------------------------------------------------------------------------

fn audit(rng: &mut TourRng, now: OffsetDateTime, customer: &Customer, order: &Order) -> TourResult {
    section(12, "Audit log (AUD-1)");
    let key = HostKey::from_bytes(&rng.bytes::<32>())?;
    let org = customer.id();
    let owner = UserId::new(now, rng.bytes());
    let admin = UserId::new(now, rng.bytes());
    let user_target = AuditTarget::of("user", owner)?;
    let salts: [[u8; 16]; 2] = [rng.bytes(), rng.bytes()];
    // Every event starts as a plain success by a portal user; each one below says what differs.
    let mut base =
        |minutes: i64, actor: AuditActor, event: AuditEventName, target: AuditTarget| AuditEvent {
            id: AuditEntryId::new(now, rng.bytes()),
            at: now + Duration::minutes(minutes),
            org: Some(org),
            actor,
            channel: Channel::Portal,
            event,
            target,
            changed_fields: Vec::new(),
            outcome: Outcome::Success,
            reason: None,
            note: None,
            personal: PersonalValues::none(),
        };
    let by_owner = AuditActor::User { id: owner };
    let org_target = AuditTarget::of("org", org)?;
    let events = vec![
        AuditEvent {
            personal: PersonalValues::new(
                salts[0],
                [(PersonalField::Email, "billing@nordlicht-iot.de")],
            )?,
            ..base(
                0,
                by_owner.clone(),
                AuditEventName::CustomerRegistered,
                org_target.clone(),
            )
        },
        AuditEvent {
            channel: Channel::Staff,
            changed_fields: FieldName::list(["company_name"])?,
            note: Some(AuditNote::parse(
                "Commercial register HRB 4711: conversion to an SE",
            )?),
            ..base(
                5,
                AuditActor::Staff {
                    id: StaffId::parse("billing.anna")?,
                },
                AuditEventName::LegalFieldsChanged,
                org_target,
            )
        },
        AuditEvent {
            changed_fields: FieldName::list(["email"])?,
            personal: PersonalValues::new(
                salts[1],
                [
                    (PersonalField::OldEmail, "jonas@nordlicht-iot.de"),
                    (PersonalField::NewEmail, "jonas.weber@nordlicht-iot.de"),
                ],
            )?,
            ..base(
                9,
                by_owner.clone(),
                AuditEventName::UserUpdated,
                user_target.clone(),
            )
        },
        AuditEvent {
            changed_fields: FieldName::list(["password"])?,
            outcome: Outcome::Denied,
            reason: Some(ReasonCode::AdminCannotSetOwnerPassword),
            ..base(
                12,
                AuditActor::User { id: admin },
                AuditEventName::AuthzFail,
                user_target,
            )
        },
        base(
            20,
            by_owner,
            AuditEventName::OrderPlaced,
            AuditTarget::of("order", order.number)?,
        ),
        AuditEvent {
            channel: Channel::Network,
            changed_fields: FieldName::list(["sim"])?,
            ..base(
                30,
                AuditActor::System,
                AuditEventName::SimSwapCompleted,
                AuditTarget::of("sim", Iccid::from_payload("897201000000000037")?)?,
            )
        },
    ];
    let mut head = ChainHead::GENESIS;
    let mut entries: Vec<AuditEntry> = Vec::new();
    for e in events {
        let (entry, next) = AuditChain::append(&head, e, &key);
        entries.push(entry);
        head = next;
    }
    ok(
        "Append 6 events to Nordlicht's chain (HMAC with the host key)",
        entries
            .iter()
            .map(|e| e.event.event.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    );
    detail(format!(
        "the host anchors the head outside the database: {} entries, MAC {}…",
        head.count,
        &head.mac.as_ref().map_or(String::new(), |m| m.to_hex())[..12]
    ));
    let verified =
        AuditChain::verify_chain(&entries, &key, Some(&head)).map_err(|b| b.to_string())?;
    ok(
        "Verify the chain",
        format!("intact, {} entries", verified.count),
    );
    let third = entries.get_mut(2).ok_or("no entry 3")?;
    third.erase_personal();
    let erased = third.event.personal.get(PersonalField::NewEmail).is_none();
    AuditChain::verify_chain(&entries, &key, Some(&head)).map_err(|b| b.to_string())?;
    ok(
        "Erase the personal values of entry 2 (old and new e-mail) on request",
        format!("values gone: {erased}; the chain still verifies"),
    );
    let mut tampered = entries.clone();
    if let Some(entry) = tampered.get_mut(3) {
        entry.event.outcome = Outcome::Success;
        entry.event.reason = None;
    }
    let broken = AuditChain::verify_chain(&tampered, &key, Some(&head));
    match broken {
        Ok(_) => return Err("tour: a tampered chain verified".into()),
        Err(b) => println!(
            "  ✗ Someone turns entry 3's denial into a success: verification fails at entry {} ({:?})",
            b.index, b.kind
        ),
    }
    let short = entries.get(..5).ok_or("short chain")?;
    match AuditChain::verify_chain(short, &key, Some(&head)) {
        Ok(_) => return Err("tour: a truncated chain verified".into()),
        Err(b) => println!(
            "  ✗ Someone deletes the last entry: verification fails at entry {} ({:?})",
            b.index, b.kind
        ),
    }
    Ok(())
}
