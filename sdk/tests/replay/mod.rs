//! Random sequences of wire requests sent to two services that must answer byte for byte
//! alike (issue 7's property test): one fixed clock, the same seed for both sources of random
//! bytes, two fresh stores. The sdk's test compares a local `Portal` with another behind the
//! in-process transport; the examples' test puts the reference HTTP service on one side.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use proptest::prelude::*;
use secrecy::SecretString;
use selfcare::storage::ports::{Transport, TransportRequest};
use selfcare::wire::Credentials;
use selfcare::{Portal, RequestContext};
use serde_json::{Value, json};

/// One generated action; indices pick among what exists when it runs.
#[derive(Debug, Clone)]
pub enum Step {
    Register,
    Login {
        org: usize,
        wrong: bool,
    },
    Me {
        org: usize,
    },
    Customer {
        org: usize,
    },
    SetLanguage {
        org: usize,
        tag: usize,
    },
    AddAddress {
        org: usize,
        city: usize,
        valid: bool,
    },
    Addresses {
        org: usize,
    },
    SaveCard {
        org: usize,
    },
    PlaceOrder {
        org: usize,
        quantity: u32,
        on_invoice: bool,
    },
    Orders {
        org: usize,
    },
    Order {
        order: usize,
    },
    TrackOrder {
        order: usize,
        right: bool,
    },
    CreateTicket {
        org: usize,
        subject: usize,
    },
    Tickets {
        org: usize,
    },
    InviteUser {
        org: usize,
        role: usize,
    },
    Users {
        org: usize,
    },
    Logout {
        org: usize,
    },
}

pub fn steps() -> impl Strategy<Value = Vec<Step>> {
    let org = 0usize..4;
    let step = prop_oneof![
        2 => Just(Step::Register),
        2 => (org.clone(), proptest::bool::weighted(0.2)).prop_map(|(org, wrong)| Step::Login { org, wrong }),
        1 => org.clone().prop_map(|org| Step::Me { org }),
        1 => org.clone().prop_map(|org| Step::Customer { org }),
        1 => (org.clone(), 0usize..4).prop_map(|(org, tag)| Step::SetLanguage { org, tag }),
        2 => (org.clone(), 0usize..3, proptest::bool::weighted(0.8)).prop_map(|(org, city, valid)| Step::AddAddress { org, city, valid }),
        1 => org.clone().prop_map(|org| Step::Addresses { org }),
        1 => org.clone().prop_map(|org| Step::SaveCard { org }),
        3 => (org.clone(), 1u32..4, any::<bool>()).prop_map(|(org, quantity, on_invoice)| Step::PlaceOrder { org, quantity, on_invoice }),
        1 => org.clone().prop_map(|org| Step::Orders { org }),
        1 => (0usize..8).prop_map(|order| Step::Order { order }),
        1 => (0usize..8, proptest::bool::weighted(0.7)).prop_map(|(order, right)| Step::TrackOrder { order, right }),
        1 => (org.clone(), 0usize..3).prop_map(|(org, subject)| Step::CreateTicket { org, subject }),
        1 => org.clone().prop_map(|org| Step::Tickets { org }),
        1 => (org.clone(), 0usize..4).prop_map(|(org, role)| Step::InviteUser { org, role }),
        1 => org.clone().prop_map(|org| Step::Users { org }),
        1 => org.prop_map(|org| Step::Logout { org }),
    ];
    proptest::collection::vec(step, 8..32)
}

#[derive(Debug, Default)]
struct Org {
    email: String,
    token: Option<String>,
    card: Option<String>,
    invited: usize,
}

#[derive(Debug, Default)]
pub struct Tally {
    pub sent: usize,
    pub succeeded: usize,
}

/// The service every request goes to first: a local portal answering through
/// `Portal::serve_request`, as the reference service does.
pub struct Local {
    pub portal: Portal,
    pub credentials: Credentials,
    pub ctx: RequestContext,
}

/// Runs `steps` against both services and checks that every answer is the same bytes.
pub async fn replay(
    local: &Local,
    clock: &selfcare::dev::ManualClock,
    other: &Arc<dyn Transport>,
    steps: &[Step],
) -> Tally {
    let mut orgs: Vec<Org> = Vec::new();
    let mut orders: Vec<String> = Vec::new();
    let mut tally = Tally::default();
    let mut registered = 0usize;
    for step in steps {
        // Time passes between requests (never between the two services' answers to one), so a
        // refused login's delay (AUTH-3) ends and sessions stay within their idle window.
        clock.advance(time::Duration::seconds(20));
        let pick = |i: usize, len: usize| if len == 0 { None } else { Some(i % len) };
        // What to send: (operation, bearer, input), or nothing when the step has no target.
        let mut plan: Vec<(&'static str, Option<usize>, Value)> = Vec::new();
        let needs_session =
            |org: usize, orgs: &Vec<Org>, plan: &mut Vec<(&'static str, Option<usize>, Value)>| {
                if orgs[org].token.is_none() {
                    plan.push((
                        "login",
                        None,
                        json!({ "email": orgs[org].email, "password": PASSWORD }),
                    ));
                }
            };
        match step {
            Step::Register => {
                let n = registered;
                registered += 1;
                orgs.push(Org {
                    email: format!("owner{n}@org{n}.example"),
                    ..Org::default()
                });
                plan.push(("register_customer", None, json!({
                    "customer": {
                        "kind": { "type": "business", "company_name": format!("Org {n} GmbH"), "vat_id": null },
                        "main_contact": format!("billing@org{n}.example"),
                        "billing_country": "DE",
                        "language": "de"
                    },
                    "owner": { "name": format!("Owner {n}"), "email": format!("owner{n}@org{n}.example"), "password": PASSWORD }
                })));
            }
            Step::Login { org, wrong } => {
                let Some(org) = pick(*org, orgs.len()) else {
                    continue;
                };
                let password = if *wrong {
                    "a wrong password entirely"
                } else {
                    PASSWORD
                };
                plan.push((
                    "login",
                    None,
                    json!({ "email": orgs[org].email, "password": password }),
                ));
            }
            Step::TrackOrder { order, right } => {
                let Some(order) = pick(*order, orders.len()) else {
                    continue;
                };
                let code = if *right { "10115" } else { "99999" };
                plan.push((
                    "track_order",
                    None,
                    json!({ "order_number": orders[order], "email_or_postal_code": code }),
                ));
            }
            Step::Order { order } => {
                let Some(order) = pick(*order, orders.len()) else {
                    continue;
                };
                // The order's number is asked for by whichever organisation is first: another
                // organisation's order must look exactly like a missing one (USR-5).
                if orgs.is_empty() {
                    continue;
                }
                needs_session(0, &orgs, &mut plan);
                plan.push(("order", Some(0), json!({ "number": orders[order] })));
            }
            other => {
                let org = match other {
                    Step::Me { org }
                    | Step::Customer { org }
                    | Step::SetLanguage { org, .. }
                    | Step::AddAddress { org, .. }
                    | Step::Addresses { org }
                    | Step::SaveCard { org }
                    | Step::PlaceOrder { org, .. }
                    | Step::Orders { org }
                    | Step::CreateTicket { org, .. }
                    | Step::Tickets { org }
                    | Step::InviteUser { org, .. }
                    | Step::Users { org }
                    | Step::Logout { org } => *org,
                    _ => unreachable!(),
                };
                let Some(org) = pick(org, orgs.len()) else {
                    continue;
                };
                needs_session(org, &orgs, &mut plan);
                let input = match other {
                    Step::Me { .. } => ("me", json!({})),
                    Step::Customer { .. } => ("customer", json!({})),
                    Step::SetLanguage { tag, .. } => (
                        "set_language",
                        json!({ "tag": (["en", "de", "he", "xx-!!"][*tag]) }),
                    ),
                    Step::AddAddress { city, valid, .. } => {
                        let (postal, name) = [
                            ("10115", "Berlin"),
                            ("20457", "Hamburg"),
                            ("80331", "München"),
                        ][*city];
                        (
                            "add_address",
                            json!({
                                "input": {
                                    "name": "Owner", "company": "Org GmbH", "street": "Hauptstraße", "house_number": "1",
                                    "postal_code": if *valid { postal } else { "not a postal code" }, "city": name, "country": "DE",
                                    "line2": null, "region": null, "phone": null
                                },
                                "usage": { "billing": true, "shipping": true },
                                "make_default": { "billing": true, "shipping": true },
                                "expected_version": null
                            }),
                        )
                    }
                    Step::Addresses { .. } => ("addresses", json!({})),
                    Step::SaveCard { .. } => (
                        "save_card",
                        json!({ "token": "tok_visa", "holder_name": "Owner", "captcha": selfcare::dev::DevVerifier::PASSING_TOKEN }),
                    ),
                    Step::PlaceOrder {
                        quantity,
                        on_invoice,
                        ..
                    } => {
                        let payment = match (&orgs[org].card, on_invoice) {
                            (Some(card), false) => json!({ "type": "card", "card": card }),
                            _ => json!({ "type": "on_invoice" }),
                        };
                        (
                            "place_order",
                            json!({
                                "request": { "items": [{ "sku": "SIM-STD", "quantity": quantity }], "billing_address": null, "shipping_address": null, "payment": payment },
                                "idempotency_key": format!("key-{}", tally.sent)
                            }),
                        )
                    }
                    Step::Orders { .. } => {
                        ("orders", json!({ "page": { "after": null, "limit": 5 } }))
                    }
                    Step::CreateTicket { subject, .. } => (
                        "create_ticket",
                        json!({ "ticket": {
                        "department": "billing", "subject": (["Invoice", "", "Question"][*subject]), "description": "Please help.", "reference": null
                    } }),
                    ),
                    Step::Tickets { .. } => (
                        "tickets",
                        json!({ "status": null, "page": { "after": null, "limit": 5 } }),
                    ),
                    Step::InviteUser { role, .. } => {
                        let n = orgs[org].invited;
                        orgs[org].invited += 1;
                        (
                            "invite_user",
                            json!({ "email": format!("user{n}@{}", orgs[org].email.split('@').nth(1).unwrap_or("x.example")), "name": format!("User {n}"), "role": (["admin", "user", "read_only", "owner"][*role]) }),
                        )
                    }
                    Step::Users { .. } => {
                        ("users", json!({ "page": { "after": null, "limit": 5 } }))
                    }
                    Step::Logout { .. } => ("logout", json!({})),
                    _ => unreachable!(),
                };
                plan.push((input.0, Some(org), input.1));
            }
        }
        let steps_in_plan = plan.len();
        for (index, (operation, session_of, input)) in plan.into_iter().enumerate() {
            let prerequisite = index + 1 < steps_in_plan;
            let body = serde_json::to_vec(&input).unwrap();
            let bearer = session_of.and_then(|o| orgs[o].token.clone());
            let (status, mine) = local
                .portal
                .serve_request(
                    &local.credentials,
                    &local.ctx,
                    operation,
                    bearer.as_deref(),
                    &body,
                )
                .await;
            let theirs = other
                .send(TransportRequest {
                    operation: operation.to_owned(),
                    bearer: bearer.clone().map(SecretString::from),
                    body: body.clone(),
                })
                .await
                .unwrap();
            assert_eq!(
                (theirs.status, String::from_utf8_lossy(&theirs.body)),
                (status, String::from_utf8_lossy(&mine)),
                "{operation} {input} answered differently"
            );
            tally.sent += 1;
            if std::env::var_os("SELFCARE_REPLAY_TRACE").is_some() {
                eprintln!(
                    "{operation} {status} {}",
                    String::from_utf8_lossy(&mine)
                        .chars()
                        .take(160)
                        .collect::<String>()
                );
            }
            if status != 200 {
                if prerequisite {
                    // The session this step needed could not be opened: the rest of its plan
                    // would only be refused for want of it.
                    break;
                }
                continue;
            }
            tally.succeeded += 1;
            let reply: Value = serde_json::from_slice(&mine).unwrap();
            let output = &reply["output"];
            match operation {
                "login" => {
                    if let Some(token) = output["token"].as_str() {
                        let email = input["email"].as_str().unwrap_or_default();
                        if let Some(o) = orgs.iter_mut().find(|o| o.email == email) {
                            o.token = Some(token.to_owned());
                        }
                    }
                }
                "logout" => {
                    if let Some(o) = session_of {
                        orgs[o].token = None;
                    }
                }
                "save_card" => {
                    if let (Some(o), Some(id)) = (session_of, output["id"].as_str()) {
                        orgs[o].card = Some(id.to_owned());
                    }
                }
                "place_order" => {
                    if let Some(number) = output["number"].as_str() {
                        orders.push(number.to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    tally
}

pub const PASSWORD: &str = "violet submarines hum under lanterns";
