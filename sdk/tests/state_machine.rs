//! Random sequences of use cases by random actors of two organisations against a simple model
//! (issue 4, point 3). After every step: the answer is the one the model expects (allowed,
//! denied, not found, conflict), no actor saw or changed the other organisation's data, and
//! the store's contents agree with the model.
//!
//! The store comes from `SELFCARE_TEST_STORE` (see `common::test_store_on`); the number of cases
//! from `SELFCARE_SM_CASES` (default 256).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;

use common::{PASSWORD, World, business, ctx, insert_member, test_store_on, world_on};
use proptest::prelude::*;
use proptest::test_runner::Config;
use proptest_state_machine::{ReferenceStateMachine, StateMachineTest, prop_state_machine};
use selfcare::checkout::{Payment, PlaceOrder};
use selfcare::core::address::{AddressInput, AddressUsage};
use selfcare::core::catalogue::Sku;
use selfcare::core::ids::{AddressId, OrgId, TicketId};
use selfcare::core::orders::OrderStatus;
use selfcare::core::password::Password;
use selfcare::core::policy::{Action, access};
use selfcare::core::roles::{Channel, Department, Role};
use selfcare::core::tickets::{NewTicket, TicketStatus};
use selfcare::storage::PageRequest;
use selfcare::{Error, LoginOutcome, Session};

const ROLES: [Role; 4] = [Role::Owner, Role::Admin, Role::User, Role::ReadOnly];
const ACTORS: usize = 8;
const CITIES: [&str; 4] = ["Paris", "Lyon", "Lille", "Nantes"];

fn org_of(actor: usize) -> usize {
    actor / ROLES.len()
}

fn role_of(actor: usize) -> Role {
    ROLES[actor % ROLES.len()]
}

fn may(actor: usize, action: Action) -> bool {
    access(role_of(actor), action).allows(Channel::Portal)
}

/// What a step must answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Ok,
    Denied,
    NotFound,
    Conflict,
}

fn outcome_of<T>(r: &Result<T, Error>) -> Outcome {
    match r {
        Ok(_) => Outcome::Ok,
        Err(Error::PermissionDenied { .. }) => Outcome::Denied,
        Err(Error::NotFound) => Outcome::NotFound,
        Err(Error::Conflict { .. }) => Outcome::Conflict,
        Err(e) => panic!("unexpected error {e:?}"),
    }
}

#[derive(Debug, Clone)]
struct ModelAddress {
    org: usize,
    city: usize,
    deleted: bool,
}

#[derive(Debug, Clone)]
struct ModelTicket {
    org: usize,
    opener: usize,
    subject: u8,
    replies: usize,
    closed: bool,
}

#[derive(Debug, Clone)]
struct ModelOrder {
    org: usize,
    cancelled: bool,
}

#[derive(Debug, Clone, Default)]
struct Model {
    addresses: Vec<ModelAddress>,
    tickets: Vec<ModelTicket>,
    orders: Vec<ModelOrder>,
    /// The answer the last step must give.
    expected: Option<Outcome>,
}

#[derive(Debug, Clone)]
enum Step {
    AddAddress {
        actor: usize,
        city: usize,
    },
    UpdateAddress {
        actor: usize,
        address: usize,
        city: usize,
    },
    DeleteAddress {
        actor: usize,
        address: usize,
    },
    CreateTicket {
        actor: usize,
        subject: u8,
    },
    ViewTicket {
        actor: usize,
        ticket: usize,
    },
    ReplyTicket {
        actor: usize,
        ticket: usize,
    },
    CloseTicket {
        actor: usize,
        ticket: usize,
    },
    PlaceOrder {
        actor: usize,
        quantity: u32,
    },
    ViewOrder {
        actor: usize,
        order: usize,
    },
    CancelOrder {
        actor: usize,
        order: usize,
    },
}

impl Model {
    /// The model's answer to `step`, in the order the use cases check: permission first, then
    /// the object (another organisation's is not found), then the rule.
    fn expect(&self, step: &Step) -> Outcome {
        match *step {
            Step::AddAddress { actor, .. } => {
                if may(actor, Action::AddAddress) {
                    Outcome::Ok
                } else {
                    Outcome::Denied
                }
            }
            Step::UpdateAddress { actor, address, .. } | Step::DeleteAddress { actor, address } => {
                let action = if matches!(step, Step::UpdateAddress { .. }) {
                    Action::UpdateAddress
                } else {
                    Action::DeleteAddress
                };
                let a = &self.addresses[address];
                if !may(actor, action) {
                    Outcome::Denied
                } else if a.org != org_of(actor) || a.deleted {
                    Outcome::NotFound
                } else {
                    Outcome::Ok
                }
            }
            Step::CreateTicket { actor, .. } => {
                if may(actor, Action::CreateTicket) {
                    Outcome::Ok
                } else {
                    Outcome::Denied
                }
            }
            Step::ViewTicket { actor, ticket } => {
                if !may(actor, Action::ViewTickets) {
                    Outcome::Denied
                } else if self.tickets[ticket].org != org_of(actor) {
                    Outcome::NotFound
                } else {
                    Outcome::Ok
                }
            }
            Step::ReplyTicket { actor, ticket } => {
                let t = &self.tickets[ticket];
                if !may(actor, Action::ReplyTicket) {
                    Outcome::Denied
                } else if t.org != org_of(actor) {
                    Outcome::NotFound
                } else if t.closed {
                    Outcome::Conflict
                } else {
                    Outcome::Ok
                }
            }
            Step::CloseTicket { actor, ticket } => {
                let t = &self.tickets[ticket];
                if !may(actor, Action::CloseTicket) {
                    Outcome::Denied
                } else if t.org != org_of(actor) {
                    Outcome::NotFound
                } else if t.closed {
                    Outcome::Conflict
                } else if role_of(actor) == Role::User && t.opener != actor {
                    // TKT-1: the opener, an Owner or an Admin closes.
                    Outcome::Denied
                } else {
                    Outcome::Ok
                }
            }
            Step::PlaceOrder { actor, .. } => {
                if may(actor, Action::PlaceOrder) {
                    Outcome::Ok
                } else {
                    Outcome::Denied
                }
            }
            Step::ViewOrder { actor, order } => {
                if !may(actor, Action::ViewOrders) {
                    Outcome::Denied
                } else if self.orders[order].org != org_of(actor) {
                    Outcome::NotFound
                } else {
                    Outcome::Ok
                }
            }
            Step::CancelOrder { actor, order } => {
                let o = &self.orders[order];
                if !may(actor, Action::CancelOrder) {
                    Outcome::Denied
                } else if o.org != org_of(actor) {
                    Outcome::NotFound
                } else if o.cancelled {
                    Outcome::Conflict
                } else {
                    Outcome::Ok
                }
            }
        }
    }
}

struct Reference;

impl ReferenceStateMachine for Reference {
    type State = Model;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Step> {
        let actor = 0..ACTORS;
        let city = 0..CITIES.len();
        let mut options: Vec<BoxedStrategy<Step>> = vec![
            (actor.clone(), city.clone())
                .prop_map(|(actor, city)| Step::AddAddress { actor, city })
                .boxed(),
            (actor.clone(), any::<u8>())
                .prop_map(|(actor, subject)| Step::CreateTicket { actor, subject })
                .boxed(),
            (actor.clone(), 1u32..4)
                .prop_map(|(actor, quantity)| Step::PlaceOrder { actor, quantity })
                .boxed(),
        ];
        if !state.orders.is_empty() {
            let n = state.orders.len();
            options.push(
                (actor.clone(), 0..n)
                    .prop_map(|(actor, order)| Step::ViewOrder { actor, order })
                    .boxed(),
            );
            options.push(
                (actor.clone(), 0..n)
                    .prop_map(|(actor, order)| Step::CancelOrder { actor, order })
                    .boxed(),
            );
        }
        if !state.addresses.is_empty() {
            let n = state.addresses.len();
            options.push(
                (actor.clone(), 0..n, city)
                    .prop_map(|(actor, address, city)| Step::UpdateAddress {
                        actor,
                        address,
                        city,
                    })
                    .boxed(),
            );
            options.push(
                (actor.clone(), 0..n)
                    .prop_map(|(actor, address)| Step::DeleteAddress { actor, address })
                    .boxed(),
            );
        }
        if !state.tickets.is_empty() {
            let n = state.tickets.len();
            options.push(
                (actor.clone(), 0..n)
                    .prop_map(|(actor, ticket)| Step::ViewTicket { actor, ticket })
                    .boxed(),
            );
            options.push(
                (actor.clone(), 0..n)
                    .prop_map(|(actor, ticket)| Step::ReplyTicket { actor, ticket })
                    .boxed(),
            );
            options.push(
                (actor, 0..n)
                    .prop_map(|(actor, ticket)| Step::CloseTicket { actor, ticket })
                    .boxed(),
            );
        }
        proptest::strategy::Union::new(options).boxed()
    }

    fn preconditions(state: &Model, step: &Step) -> bool {
        // Shrinking removes steps: an index must still name something the model has.
        match *step {
            Step::UpdateAddress { address, .. } | Step::DeleteAddress { address, .. } => {
                address < state.addresses.len()
            }
            Step::ViewTicket { ticket, .. }
            | Step::ReplyTicket { ticket, .. }
            | Step::CloseTicket { ticket, .. } => ticket < state.tickets.len(),
            Step::ViewOrder { order, .. } | Step::CancelOrder { order, .. } => {
                order < state.orders.len()
            }
            Step::AddAddress { .. } | Step::CreateTicket { .. } | Step::PlaceOrder { .. } => true,
        }
    }

    fn apply(mut state: Model, step: &Step) -> Model {
        let expected = state.expect(step);
        state.expected = Some(expected);
        if expected != Outcome::Ok {
            return state;
        }
        match *step {
            Step::AddAddress { actor, city } => state.addresses.push(ModelAddress {
                org: org_of(actor),
                city,
                deleted: false,
            }),
            Step::UpdateAddress { address, city, .. } => state.addresses[address].city = city,
            Step::DeleteAddress { address, .. } => state.addresses[address].deleted = true,
            Step::CreateTicket { actor, subject } => state.tickets.push(ModelTicket {
                org: org_of(actor),
                opener: actor,
                subject,
                replies: 0,
                closed: false,
            }),
            Step::ViewTicket { .. } => {}
            Step::ReplyTicket { ticket, .. } => state.tickets[ticket].replies += 1,
            Step::CloseTicket { ticket, .. } => state.tickets[ticket].closed = true,
            Step::PlaceOrder { actor, .. } => state.orders.push(ModelOrder {
                org: org_of(actor),
                cancelled: false,
            }),
            Step::ViewOrder { .. } => {}
            Step::CancelOrder { order, .. } => state.orders[order].cancelled = true,
        }
        state
    }
}

/// The portal, the two organisations with one session per actor, and the ids the store gave
/// to what the model created (by the model's index).
struct Sut {
    rt: tokio::runtime::Runtime,
    world: World,
    orgs: [OrgId; 2],
    sessions: Vec<Session>,
    addresses: Vec<Option<AddressId>>,
    tickets: Vec<Option<TicketId>>,
    orders: Vec<String>,
    steps: usize,
}

fn address(city: usize) -> AddressInput {
    AddressInput {
        name: "Warehouse".into(),
        street: "Rue de Rivoli".into(),
        postal_code: "75001".into(),
        city: CITIES[city].into(),
        country: "FR".into(),
        ..AddressInput::default()
    }
}

struct Portal2;

impl StateMachineTest for Portal2 {
    type SystemUnderTest = Sut;
    type Reference = Reference;

    fn init_test(_: &Model) -> Sut {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let world = world_on(test_store_on(&rt));
        let (orgs, sessions) = rt.block_on(async {
            let mut orgs = Vec::new();
            let mut sessions = Vec::new();
            for org in 0..2 {
                let owner_email = format!("owner@org{org}.example");
                let (customer, owner) = business(&owner_email);
                let reg = world
                    .portal
                    .register_customer(&customer, owner, &ctx())
                    .await
                    .unwrap();
                orgs.push(reg.org);
                let org_index = orgs.len() - 1;
                for role in ROLES {
                    let email = if role == Role::Owner {
                        owner_email.clone()
                    } else {
                        let email = format!("{role:?}@org{org}.example").to_lowercase();
                        insert_member(world.store.as_ref(), reg.org, &email, role).await;
                        email
                    };
                    let outcome = world
                        .portal
                        .login(&email, Password::new(PASSWORD), &ctx())
                        .await
                        .unwrap();
                    let LoginOutcome::Session(s) = outcome else {
                        panic!("no second factor here")
                    };
                    sessions.push(s);
                }
                // Orders need a billing address: the Owner's default, outside the model's
                // address list (addresses the model creates are shipping-only).
                sessions[org_index * ROLES.len()]
                    .add_address(
                        common::billing_address(),
                        AddressUsage::BOTH,
                        AddressUsage::BOTH,
                        None,
                    )
                    .await
                    .unwrap();
            }
            ([orgs[0], orgs[1]], sessions)
        });
        Sut {
            rt,
            world,
            orgs,
            sessions,
            addresses: Vec::new(),
            tickets: Vec::new(),
            orders: Vec::new(),
            steps: 0,
        }
    }

    fn apply(mut sut: Sut, model: &Model, step: Step) -> Sut {
        let expected = model.expected.expect("the model answered");
        // Ids are UUID v7: a step a second after the last keeps "newest first" well defined.
        sut.world.clock.advance(time::Duration::seconds(1));
        sut.steps += 1;
        let step_no = sut.steps;
        let got = sut.rt.block_on(async {
            match step {
                Step::AddAddress { actor, city } => {
                    let r = sut.sessions[actor]
                        .add_address(
                            address(city),
                            AddressUsage::SHIPPING,
                            AddressUsage::NONE,
                            None,
                        )
                        .await;
                    if let Ok(added) = &r {
                        sut.addresses.push(Some(added.id));
                    }
                    outcome_of(&r)
                }
                Step::UpdateAddress {
                    actor,
                    address: i,
                    city,
                } => {
                    let id = sut.addresses[i].expect("created");
                    let r = sut.sessions[actor]
                        .update_address(id, address(city), AddressUsage::SHIPPING, None)
                        .await;
                    outcome_of(&r)
                }
                Step::DeleteAddress { actor, address: i } => {
                    let id = sut.addresses[i].expect("created");
                    outcome_of(&sut.sessions[actor].delete_address(id, None).await)
                }
                Step::CreateTicket { actor, subject } => {
                    let new = NewTicket::new(
                        Department::Technical,
                        &format!("Subject {subject}"),
                        "Something is wrong.",
                        None,
                    )
                    .unwrap();
                    let r = sut.sessions[actor].create_ticket(&new).await;
                    if let Ok(t) = &r {
                        sut.tickets.push(Some(t.id));
                    }
                    outcome_of(&r)
                }
                Step::ViewTicket { actor, ticket } => {
                    let id = sut.tickets[ticket].expect("created");
                    let r = sut.sessions[actor].ticket(id).await;
                    if let Ok(view) = &r {
                        let m = &model.tickets[ticket];
                        assert_eq!(view.ticket.subject, format!("Subject {}", m.subject));
                        assert_eq!(view.messages.len(), m.replies);
                    }
                    outcome_of(&r)
                }
                Step::ReplyTicket { actor, ticket } => {
                    let id = sut.tickets[ticket].expect("created");
                    outcome_of(&sut.sessions[actor].reply_ticket(id, "Any news?").await)
                }
                Step::CloseTicket { actor, ticket } => {
                    let id = sut.tickets[ticket].expect("created");
                    outcome_of(&sut.sessions[actor].close_ticket(id).await)
                }
                Step::PlaceOrder { actor, quantity } => {
                    let r = sut.sessions[actor]
                        .place_order(
                            PlaceOrder {
                                items: vec![(Sku::parse("SIM-STD").unwrap(), quantity)],
                                billing_address: None,
                                shipping_address: None,
                                payment: Payment::OnInvoice,
                            },
                            &format!("step-{step_no}"),
                        )
                        .await;
                    if let Ok(order) = &r {
                        sut.orders.push(order.number.to_string());
                    }
                    outcome_of(&r)
                }
                Step::ViewOrder { actor, order } => {
                    let r = sut.sessions[actor].order(&sut.orders[order]).await;
                    if let Ok(o) = &r {
                        assert_eq!(o.org, sut.orgs[org_of(actor)]);
                        assert_eq!(o.number.to_string(), sut.orders[order]);
                    }
                    outcome_of(&r)
                }
                Step::CancelOrder { actor, order } => {
                    outcome_of(&sut.sessions[actor].cancel_order(&sut.orders[order]).await)
                }
            }
        });
        assert_eq!(got, expected, "{step:?}");
        sut
    }

    fn check_invariants(sut: &Sut, model: &Model) {
        sut.rt.block_on(async {
            for org in 0..2 {
                let owner = &sut.sessions[org * ROLES.len()];
                assert_eq!(owner.org(), sut.orgs[org]);
                // Addresses: exactly the model's live ones of this organisation, none of the other.
                let book = owner.addresses().await.unwrap();
                let in_store: BTreeSet<AddressId> = book.entries.iter().map(|e| e.id).collect();
                for (i, a) in model.addresses.iter().enumerate() {
                    let id = sut.addresses[i].expect("created");
                    let visible = a.org == org && !a.deleted;
                    assert_eq!(in_store.contains(&id), visible, "address {i} in org {org}");
                    if visible {
                        let entry = book.get(id).unwrap();
                        assert_eq!(entry.address.city(), CITIES[a.city]);
                    }
                }
                // Tickets: the organisation's, with the model's statuses, for every reader.
                for reader in 0..ROLES.len() {
                    let s = &sut.sessions[org * ROLES.len() + reader];
                    let page = s.tickets(None, &PageRequest::first(500)).await.unwrap();
                    let seen: Vec<(TicketId, bool)> = page
                        .items
                        .iter()
                        .map(|t| (t.id, t.status == TicketStatus::Closed))
                        .collect();
                    let mut expected: Vec<(TicketId, bool)> = model
                        .tickets
                        .iter()
                        .enumerate()
                        .filter(|(_, t)| t.org == org)
                        .map(|(i, t)| (sut.tickets[i].expect("created"), t.closed))
                        .collect();
                    // The list is newest first.
                    expected.reverse();
                    assert_eq!(seen, expected, "tickets of org {org} seen by {reader}");
                    // Orders: the organisation's, newest first, with the model's statuses.
                    let page = s.orders(&PageRequest::first(500)).await.unwrap();
                    let seen: Vec<(String, bool)> = page
                        .items
                        .iter()
                        .map(|o| (o.number.to_string(), o.status() == OrderStatus::Cancelled))
                        .collect();
                    let mut expected: Vec<(String, bool)> = model
                        .orders
                        .iter()
                        .enumerate()
                        .filter(|(_, o)| o.org == org)
                        .map(|(i, o)| (sut.orders[i].clone(), o.cancelled))
                        .collect();
                    expected.reverse();
                    assert_eq!(seen, expected, "orders of org {org} seen by {reader}");
                }
            }
        });
    }
}

fn cases() -> u32 {
    std::env::var("SELFCARE_SM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

prop_state_machine! {
    #![proptest_config(Config {
        cases: cases(),
        failure_persistence: None,
        .. Config::default()
    })]

    #[test]
    fn usr_5_ord_1_tkt_2_two_organisations_never_see_or_change_each_other(
        sequential 1..24 => Portal2
    );
}
