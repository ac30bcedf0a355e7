//! Provider staff (STF-1) with tickets (TKT-1, TKT-2), orders (ORD-1, ORD-2, ORD-4), SIMs and
//! plans (SIM-1, SIM-2, PLAN-1), legal fields (ACC-1), e-mail approvals (USR-3), audit (AUD-1).

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{World, business, ctx, insert_member, world};
use selfcare::core::ReasonCode;
use selfcare::core::audit::{AuditActor, AuditEntry, AuditEventName, Outcome, StaffId};
use selfcare::core::contact::Country;
use selfcare::core::ids::{OrderId, OrgId, TicketId, UserId};
use selfcare::core::numbers::Iccid;
use selfcare::core::orders::{
    DocumentKind, OrderPayment, OrderStatus, OrderTotals, ShipmentStatus,
};
use selfcare::core::policy::{StaffAction, StaffActor};
use selfcare::core::roles::{Department, Role, StaffRole};
use selfcare::core::tickets::{NewTicket, TicketEvent, TicketStatus};
use selfcare::staff::{
    DocumentUpload, InvoiceUpload, NewShipment, OwnerChange, RefundInput, SimRow, StaffSession,
};
use selfcare::storage::PageRequest;
use selfcare::storage::ports::Clock;
use selfcare::storage::sims::SimFilter;
use selfcare::users::UserUpdate;
use selfcare::{Error, Session};
use time::macros::date;

const PDF: &[u8] = b"%PDF-1.7\n...";

async fn login(w: &World, email: &str) -> Session {
    common::session(&w.portal, email).await
}

async fn owner(w: &World) -> Session {
    let (customer, owner) = business("ada@acme.example");
    w.portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    login(w, "ada@acme.example").await
}

fn staff(w: &World, id: &str, roles: &[StaffRole], departments: &[Department]) -> StaffSession {
    w.portal
        .staff(StaffActor::new(id, roles.iter().copied(), departments.iter().copied()).unwrap())
}

/// An order of `org` numbered from `n`, put straight into the store.
async fn order(w: &World, org: OrgId, n: u8, payment: OrderPayment) -> (OrderId, String) {
    let now = w.clock.now();
    let order = common::test_order(org, n, now, [n, 1, 2, 3, 4], 2, payment);
    let (id, number) = (order.id, order.number.to_string());
    let mut tx = w.store.begin(org).await.unwrap();
    tx.insert_order(order).await.unwrap();
    tx.commit().await.unwrap();
    (id, number)
}

fn iccid(n: u64) -> String {
    Iccid::from_payload(&format!("8988228{n:011}"))
        .unwrap()
        .as_str()
        .to_owned()
}

fn row(n: u64) -> SimRow {
    SimRow {
        iccid: iccid(n),
        tariff: "IOT-1GB".into(),
        ..SimRow::default()
    }
}

async fn ticket(session: &Session, department: Department) -> TicketId {
    session
        .create_ticket(
            &NewTicket::new(department, "No data", "The SIM has no data.", None).unwrap(),
        )
        .await
        .unwrap()
        .id
}

async fn org_entries(w: &World, org: OrgId) -> Vec<AuditEntry> {
    let mut tx = w.store.begin(org).await.unwrap();
    tx.audit_entries(PageRequest::first(500))
        .await
        .unwrap()
        .items
}

async fn provider_entries(w: &World) -> Vec<AuditEntry> {
    let mut tx = w.store.begin_provider().await.unwrap();
    tx.audit_entries(PageRequest::first(500))
        .await
        .unwrap()
        .items
}

fn staff_actor(id: &str) -> AuditActor {
    AuditActor::Staff {
        id: StaffId::parse(id).unwrap(),
    }
}

fn totals(gross_minor: i64, currency: &OrderTotals) -> OrderTotals {
    let c = currency.gross.currency;
    let gross = selfcare::core::money::Money::from_minor(gross_minor, c);
    OrderTotals {
        net: gross,
        vat: selfcare::core::money::Money::from_minor(0, c),
        gross,
    }
}

/// Runs `action` for staff with `role`, and says whether it passed the permission check.
async fn run(
    s: &StaffSession,
    action: StaffAction,
    org: OrgId,
    ticket: TicketId,
    owner: UserId,
) -> Result<(), Error> {
    let unknown = "ZZZZ-ZZZZ";
    let upload = DocumentUpload {
        kind: DocumentKind::Other,
        number: "D-1".into(),
        issued_on: date!(2026 - 11 - 23),
        amounts: None,
        pdf: PDF.to_vec(),
        note: String::new(),
    };
    match action {
        StaffAction::ViewTickets => s
            .tickets(Department::General, &PageRequest::first(10))
            .await
            .map(drop),
        StaffAction::ReplyTicket => s.reply_ticket(org, ticket, "On it.", false).await.map(drop),
        StaffAction::WriteInternalNote => s.reply_ticket(org, ticket, "note", true).await.map(drop),
        StaffAction::SetTicketStatus => s
            .set_ticket_status(org, ticket, TicketEvent::Start)
            .await
            .map(drop),
        StaffAction::SetOrderStatus => s
            .set_order_status(unknown, OrderStatus::Completed)
            .await
            .map(drop),
        StaffAction::AddShipment => s
            .add_shipment(
                unknown,
                &NewShipment {
                    carrier: "DHL".into(),
                    tracking_number: "00340434161094042557".into(),
                    tracking_link: None,
                    status: ShipmentStatus::Shipped,
                },
            )
            .await
            .map(drop),
        StaffAction::AssignSims => s.assign_sims(unknown, &[row(1)]).await.map(drop),
        StaffAction::ActivatePlan => s
            .activate_plan(
                unknown,
                &iccid(2),
                &["+972501234567".into()],
                date!(2026 - 12 - 01),
                date!(2027 - 12 - 01),
            )
            .await
            .map(drop),
        StaffAction::AttachInvoice => s
            .attach_invoice(
                unknown,
                &InvoiceUpload {
                    number: "I-1".into(),
                    issued_on: date!(2026 - 11 - 23),
                    amounts: None,
                    pdf: PDF.to_vec(),
                },
            )
            .await
            .map(drop),
        StaffAction::AddDocument => s.add_document(unknown, &upload).await.map(drop),
        StaffAction::ChangeLegalFields => s
            .change_legal_fields(org, Some("Acme Renamed GmbH".into()), None, "merger")
            .await
            .map(drop),
        StaffAction::Refund => {
            let any = OrderTotals::zero(selfcare::core::money::Currency::parse("EUR").unwrap());
            s.refund(
                unknown,
                &RefundInput {
                    amounts: totals(100, &any),
                    reason: "goodwill".into(),
                    credit_note_number: "C-1".into(),
                    issued_on: date!(2026 - 11 - 23),
                    pdf: PDF.to_vec(),
                },
                "refund-1",
            )
            .await
            .map(drop)
        }
        StaffAction::ApproveEmailChange => s.approve_email_change(org, owner).await,
        StaffAction::AdministerOwner => s.administer_owner(org, owner, OwnerChange::Remove).await,
    }
}

#[tokio::test]
async fn stf_1_every_staff_role_and_call_is_allowed_exactly_as_the_table_says_and_denials_are_audited()
 {
    let w = world();
    let ada = owner(&w).await;
    let org = ada.org();
    let t = ticket(&ada, Department::General).await;
    let expected = |role: StaffRole, action: StaffAction| {
        use StaffAction as A;
        match role {
            StaffRole::Support => matches!(
                action,
                A::ViewTickets | A::ReplyTicket | A::WriteInternalNote | A::SetTicketStatus
            ),
            StaffRole::Fulfillment => matches!(
                action,
                A::SetOrderStatus | A::AddShipment | A::AssignSims | A::ActivatePlan
            ),
            StaffRole::Billing => matches!(
                action,
                A::AttachInvoice | A::AddDocument | A::ChangeLegalFields | A::Refund
            ),
            StaffRole::Supervisor => matches!(action, A::AdministerOwner | A::ApproveEmailChange),
        }
    };
    for role in StaffRole::ALL {
        let id = format!("sso-{role:?}");
        let s = staff(&w, &id, &[role], &Department::ALL);
        for action in StaffAction::ALL {
            let before = provider_entries(&w).await.len();
            let result = run(&s, *action, org, t, ada.user()).await;
            let denied = matches!(result, Err(Error::PermissionDenied { .. }));
            assert_eq!(
                !denied,
                expected(role, *action),
                "{role:?} {action}: {result:?}"
            );
            let after = provider_entries(&w).await;
            if denied {
                assert_eq!(
                    result.unwrap_err().reason(),
                    ReasonCode::StaffRoleLacksPermission
                );
                assert_eq!(after.len(), before + 1, "{role:?} {action}");
                let e = &after.last().unwrap().event;
                assert_eq!(e.event, AuditEventName::AuthzFail);
                assert_eq!(e.outcome, Outcome::Denied);
                assert_eq!(e.actor, staff_actor(&id));
            } else {
                assert_eq!(after.len(), before, "{role:?} {action}");
            }
        }
    }
}

#[tokio::test]
async fn tkt_2_support_sees_only_its_departments_and_internal_notes_stay_internal() {
    let w = world();
    let ada = owner(&w).await;
    let general = ticket(&ada, Department::General).await;
    let billing = ticket(&ada, Department::Billing).await;
    let support = staff(&w, "sso-sam", &[StaffRole::Support], &[Department::General]);

    let queue = support
        .tickets(Department::General, &PageRequest::first(10))
        .await
        .unwrap();
    assert_eq!(
        queue.items.iter().map(|e| e.ticket).collect::<Vec<_>>(),
        vec![general]
    );
    let err = support
        .tickets(Department::Billing, &PageRequest::first(10))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::OtherDepartment);
    let err = support
        .reply_ticket(ada.org(), billing, "hello", false)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::OtherDepartment);

    support
        .reply_ticket(ada.org(), general, "Customer seems on roaming.", true)
        .await
        .unwrap();
    support
        .reply_ticket(ada.org(), general, "Please restart the device.", false)
        .await
        .unwrap();
    let staff_view = support.ticket(ada.org(), general).await.unwrap();
    assert_eq!(staff_view.messages.len(), 2);
    let customer_view = ada.ticket(general).await.unwrap();
    let bodies: Vec<_> = customer_view
        .messages
        .iter()
        .map(|m| m.body.as_str())
        .collect();
    assert_eq!(bodies, vec!["Please restart the device."]);
}

#[tokio::test]
async fn tkt_1_staff_transitions_follow_the_table() {
    let w = world();
    let ada = owner(&w).await;
    let t = ticket(&ada, Department::Technical).await;
    let s = staff(
        &w,
        "sso-sam",
        &[StaffRole::Support],
        &[Department::Technical],
    );
    let org = ada.org();
    let err = s
        .set_ticket_status(org, t, TicketEvent::Resolve)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::IllegalTicketTransition);
    let started = s
        .set_ticket_status(org, t, TicketEvent::Start)
        .await
        .unwrap();
    assert_eq!(started.status, TicketStatus::InProgress);
    let asked = s
        .set_ticket_status(org, t, TicketEvent::AskCustomer)
        .await
        .unwrap();
    assert_eq!(asked.status, TicketStatus::WaitingForCustomer);
    ada.reply_ticket(t, "Restarted, still nothing.")
        .await
        .unwrap();
    let resolved = s
        .set_ticket_status(org, t, TicketEvent::Resolve)
        .await
        .unwrap();
    assert_eq!(resolved.status, TicketStatus::Resolved);
    assert!(resolved.resolved_at.is_some());
    let err = s
        .set_ticket_status(org, t, TicketEvent::CustomerReply)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
}

#[tokio::test]
async fn sim_1_fulfillment_assigns_sims_that_the_customer_then_has() {
    let w = world();
    let ada = owner(&w).await;
    let (order_id, number) = order(&w, ada.org(), 1, OrderPayment::OnInvoice).await;
    let s = staff(&w, "sso-fred", &[StaffRole::Fulfillment], &[]);
    let rows: Vec<SimRow> = (10..13).map(row).collect();
    let assigned = s.assign_sims(&number, &rows).await.unwrap();
    assert_eq!(assigned.sims.len(), 3);
    let mut tx = w.store.begin(ada.org()).await.unwrap();
    let sims = tx
        .list_sims(
            &SimFilter {
                order: Some(order_id),
                status: None,
            },
            &PageRequest::first(10),
        )
        .await
        .unwrap()
        .items;
    drop(tx);
    let mut got: Vec<String> = sims
        .iter()
        .map(|s| s.value.iccid.as_str().to_owned())
        .collect();
    got.sort();
    assert_eq!(
        got,
        rows.iter().map(|r| r.iccid.clone()).collect::<Vec<_>>()
    );
    let entry = org_entries(&w, ada.org()).await.pop().unwrap().event;
    assert_eq!(entry.event, AuditEventName::SimsAssigned);
    assert_eq!(entry.actor, staff_actor("sso-fred"));
}

#[tokio::test]
async fn sim_1_a_bad_row_is_a_validation_error_naming_the_row_and_nothing_is_assigned() {
    let w = world();
    let ada = owner(&w).await;
    let (order_id, number) = order(&w, ada.org(), 1, OrderPayment::OnInvoice).await;
    let s = staff(&w, "sso-fred", &[StaffRole::Fulfillment], &[]);
    let mut bad = row(21);
    let last = bad.iccid.pop().unwrap();
    bad.iccid.push(if last == '0' { '1' } else { '0' });
    let rows = vec![row(20), bad, row(22)];
    match s.assign_sims(&number, &rows).await.unwrap_err() {
        Error::Validation { field, .. } => assert_eq!(field, "rows[1].iccid"),
        other => panic!("{other:?}"),
    }
    let mut tx = w.store.begin(ada.org()).await.unwrap();
    let sims = tx
        .list_sims(
            &SimFilter {
                order: Some(order_id),
                status: None,
            },
            &PageRequest::first(10),
        )
        .await
        .unwrap();
    assert!(sims.items.is_empty());
}

#[tokio::test]
async fn sim_1_an_iccid_in_use_anywhere_is_a_conflict() {
    let w = world();
    let ada = owner(&w).await;
    let (_, number) = order(&w, ada.org(), 1, OrderPayment::OnInvoice).await;
    let s = staff(&w, "sso-fred", &[StaffRole::Fulfillment], &[]);
    s.assign_sims(&number, &[row(30)]).await.unwrap();
    let err = s
        .assign_sims(&number, &[row(31), row(30)])
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::SimInUse);
    let err = s
        .assign_sims(&number, &[row(32), row(32)])
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::SimInUse);
    let err = s
        .activate_plan(
            &number,
            &iccid(30),
            &["+972501234567".into()],
            date!(2026 - 12 - 01),
            date!(2027 - 12 - 01),
        )
        .await;
    // A SIM of the same order without a plan is bound to the plan, once.
    assert!(err.is_ok(), "{err:?}");
    let err = s
        .activate_plan(
            &number,
            &iccid(30),
            &["+972501234568".into()],
            date!(2026 - 12 - 01),
            date!(2027 - 12 - 01),
        )
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::SimInUse);
}

#[tokio::test]
async fn plan_1_activate_plan_creates_the_plan_with_its_sim_and_checks_the_dates() {
    let w = world();
    let ada = owner(&w).await;
    let (order_id, number) = order(&w, ada.org(), 1, OrderPayment::OnInvoice).await;
    let s = staff(&w, "sso-fred", &[StaffRole::Fulfillment], &[]);
    let err = s
        .activate_plan(
            &number,
            &iccid(40),
            &["+972501234567".into()],
            date!(2027 - 12 - 01),
            date!(2026 - 12 - 01),
        )
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::PlanEndBeforeStart);
    let plan = s
        .activate_plan(
            &number,
            &iccid(40),
            &["+972501234567".into()],
            date!(2026 - 12 - 01),
            date!(2027 - 12 - 01),
        )
        .await
        .unwrap();
    assert_eq!(plan.order(), order_id);
    let mut tx = w.store.begin(ada.org()).await.unwrap();
    assert!(tx.plan(plan.id()).await.unwrap().is_some());
    drop(tx);
    let found = w
        .store
        .sim_by_iccid(&Iccid::parse(&iccid(40)).unwrap())
        .await
        .unwrap();
    assert_eq!(found.map(|(org, _)| org), Some(ada.org()));
}

#[tokio::test]
async fn ord_1_staff_order_status_follows_the_transitions() {
    let w = world();
    let ada = owner(&w).await;
    let (_, number) = order(&w, ada.org(), 1, OrderPayment::OnInvoice).await;
    let s = staff(&w, "sso-fred", &[StaffRole::Fulfillment], &[]);
    let done = s
        .set_order_status(&number, OrderStatus::Completed)
        .await
        .unwrap();
    assert_eq!(done.status(), OrderStatus::Completed);
    let err = s
        .set_order_status(&number, OrderStatus::Cancelled)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::IllegalOrderTransition);
    let err = s
        .set_order_status("ZZZZ-ZZZZ", OrderStatus::Completed)
        .await
        .unwrap_err();
    assert_eq!(err, Error::NotFound);
}

#[tokio::test]
async fn ord_4_a_shipment_added_by_staff_shows_in_the_guest_view() {
    let w = world();
    let ada = owner(&w).await;
    let (order_id, number) = order(&w, ada.org(), 1, OrderPayment::OnInvoice).await;
    let s = staff(&w, "sso-fred", &[StaffRole::Fulfillment], &[]);
    let shipment = s
        .add_shipment(
            &number,
            &NewShipment {
                carrier: "DHL".into(),
                tracking_number: "00340434161094042557".into(),
                tracking_link: Some("https://dhl.example/track/00340434161094042557".into()),
                status: ShipmentStatus::Shipped,
            },
        )
        .await
        .unwrap();
    let mut tx = w.store.begin(ada.org()).await.unwrap();
    let stored = tx.order(order_id).await.unwrap().unwrap().value;
    assert_eq!(stored.shipments, vec![shipment]);
    let view = selfcare::core::orders::GuestOrderView::of(&stored);
    assert_eq!(view.shipments.len(), 1);
    assert_eq!(view.shipments[0].carrier, "DHL");
}

#[tokio::test]
async fn ord_2_billing_attaches_the_invoice_and_a_corrected_invoice_linked_to_it() {
    let w = world();
    let ada = owner(&w).await;
    let (order_id, number) = order(&w, ada.org(), 1, OrderPayment::OnInvoice).await;
    let s = staff(&w, "sso-bea", &[StaffRole::Billing], &[]);
    let err = s
        .attach_invoice(
            &number,
            &InvoiceUpload {
                number: "INV-1".into(),
                issued_on: date!(2026 - 11 - 23),
                amounts: None,
                pdf: b"not a pdf".to_vec(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::DocumentNotPdf);
    let invoice = s
        .attach_invoice(
            &number,
            &InvoiceUpload {
                number: "INV-1".into(),
                issued_on: date!(2026 - 11 - 23),
                amounts: None,
                pdf: PDF.to_vec(),
            },
        )
        .await
        .unwrap();
    let again = s
        .attach_invoice(
            &number,
            &InvoiceUpload {
                number: "INV-2".into(),
                issued_on: date!(2026 - 11 - 23),
                amounts: None,
                pdf: PDF.to_vec(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(again.reason(), ReasonCode::DuplicateDocument);
    let corrected = s
        .add_document(
            &number,
            &DocumentUpload {
                kind: DocumentKind::CorrectedInvoice,
                number: "INV-1-C".into(),
                issued_on: date!(2026 - 11 - 24),
                amounts: Some(*invoice.amounts()),
                pdf: b"%PDF-1.7 corrected".to_vec(),
                note: "Address corrected".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(corrected.corrects(), invoice.id());
    let mut tx = w.store.begin(ada.org()).await.unwrap();
    assert_eq!(
        tx.document_bytes(invoice.id()).await.unwrap().as_deref(),
        Some(PDF)
    );
    assert_eq!(
        tx.document_bytes(corrected.id()).await.unwrap().as_deref(),
        Some(&b"%PDF-1.7 corrected"[..])
    );
    let docs = tx
        .list_order_documents(order_id, &PageRequest::first(10))
        .await
        .unwrap()
        .items;
    assert_eq!(docs.len(), 2);
    drop(tx);
    let names: Vec<_> = org_entries(&w, ada.org())
        .await
        .into_iter()
        .filter(|e| e.event.actor == staff_actor("sso-bea"))
        .map(|e| e.event.event)
        .collect();
    assert_eq!(
        names,
        vec![
            AuditEventName::InvoiceAttached,
            AuditEventName::DocumentAdded
        ]
    );
}

#[tokio::test]
async fn ord_2_refund_never_exceeds_the_creditable_amount() {
    let w = world();
    let ada = owner(&w).await;
    let (_, number) = order(&w, ada.org(), 1, OrderPayment::OnInvoice).await;
    let s = staff(&w, "sso-bea", &[StaffRole::Billing], &[]);
    let invoice = s
        .attach_invoice(
            &number,
            &InvoiceUpload {
                number: "INV-1".into(),
                issued_on: date!(2026 - 11 - 23),
                amounts: None,
                pdf: PDF.to_vec(),
            },
        )
        .await
        .unwrap();
    let gross = invoice.amounts().gross.to_minor().unwrap();
    let refund = |minor: i64, number: &str| RefundInput {
        amounts: totals(minor, invoice.amounts()),
        reason: "SIM arrived broken".into(),
        credit_note_number: number.into(),
        issued_on: date!(2026 - 11 - 24),
        pdf: PDF.to_vec(),
    };
    let err = s
        .refund(&number, &refund(gross + 1, "C-1"), "r-1")
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::CreditExceedsInvoice);
    let first = s
        .refund(&number, &refund(gross - 100, "C-1"), "r-1")
        .await
        .unwrap();
    // The same refund again returns the first credit note.
    let again = s
        .refund(&number, &refund(gross - 100, "C-1"), "r-1")
        .await
        .unwrap();
    assert_eq!(first, again);
    let err = s
        .refund(&number, &refund(101, "C-2"), "r-2")
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::CreditExceedsInvoice);
    s.refund(&number, &refund(100, "C-2"), "r-2").await.unwrap();
    let refunds: Vec<_> = org_entries(&w, ada.org())
        .await
        .into_iter()
        .filter(|e| e.event.event == AuditEventName::RefundIssued)
        .collect();
    assert_eq!(refunds.len(), 2);
    assert_eq!(
        refunds[0].event.note.as_ref().map(|n| n.as_str()),
        Some("SIM arrived broken")
    );
}

#[tokio::test]
async fn ord_2_a_card_order_without_a_recorded_charge_is_not_refunded() {
    let w = world();
    let ada = owner(&w).await;
    let card = OrderPayment::Card {
        card: selfcare::core::ids::CardId::new(w.clock.now(), [3; 10]),
        brand: "visa".into(),
        last4: "4242".into(),
        charge_id: None,
    };
    let (_, number) = order(&w, ada.org(), 1, card).await;
    let s = staff(&w, "sso-bea", &[StaffRole::Billing], &[]);
    let invoice = s
        .attach_invoice(
            &number,
            &InvoiceUpload {
                number: "INV-1".into(),
                issued_on: date!(2026 - 11 - 23),
                amounts: None,
                pdf: PDF.to_vec(),
            },
        )
        .await
        .unwrap();
    let err = s
        .refund(
            &number,
            &RefundInput {
                amounts: totals(100, invoice.amounts()),
                reason: "goodwill".into(),
                credit_note_number: "C-1".into(),
                issued_on: date!(2026 - 11 - 24),
                pdf: PDF.to_vec(),
            },
            "r-1",
        )
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Conflict {
            reason: ReasonCode::RefundNeedsCharge
        }
    );
}

#[tokio::test]
async fn acc_1_legal_field_change_needs_a_reason_and_is_audited_with_it() {
    let w = world();
    let ada = owner(&w).await;
    let org = ada.org();
    let s = staff(&w, "sso-bea", &[StaffRole::Billing], &[]);
    let err = s
        .change_legal_fields(org, Some("Acme Two GmbH".into()), None, "  ")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field, .. } if field == "reason"),
        "{err:?}"
    );
    let customer = s
        .change_legal_fields(
            org,
            Some("Acme Two GmbH".into()),
            Some("AT".into()),
            "Commercial register extract 2026-11",
        )
        .await
        .unwrap();
    assert_eq!(
        customer.company_name().map(|n| n.as_str()),
        Some("Acme Two GmbH")
    );
    assert_eq!(
        ada.customer().await.unwrap().customer.billing_country(),
        Country::parse("AT").unwrap()
    );
    let e = org_entries(&w, org).await.pop().unwrap().event;
    assert_eq!(e.event, AuditEventName::LegalFieldsChanged);
    assert_eq!(e.actor, staff_actor("sso-bea"));
    assert_eq!(
        e.note.as_ref().map(|n| n.as_str()),
        Some("Commercial register extract 2026-11")
    );
}

#[tokio::test]
async fn usr_3_supervisor_approves_an_email_change_made_by_an_admin() {
    let w = world();
    let ada = owner(&w).await;
    let org = ada.org();
    let grace = insert_member(w.store.as_ref(), org, "grace@acme.example", Role::User).await;
    ada.update_user(
        grace,
        UserUpdate {
            name: None,
            email: Some("grace@new.example".into()),
        },
    )
    .await
    .unwrap();
    let s = staff(&w, "sso-sue", &[StaffRole::Supervisor], &[]);
    s.approve_email_change(org, grace).await.unwrap();
    let mut tx = w.store.begin(org).await.unwrap();
    let user = tx.user(grace).await.unwrap().unwrap().value;
    assert_eq!(user.email.as_str(), "grace@new.example");
    assert!(user.pending_email.is_none());
    drop(tx);
    let e = org_entries(&w, org).await.pop().unwrap().event;
    assert_eq!(e.event, AuditEventName::EmailChangeApproved);
    assert_eq!(e.actor, staff_actor("sso-sue"));
    // Nothing pending any more.
    assert_eq!(
        s.approve_email_change(org, grace).await.unwrap_err(),
        Error::NotFound
    );
}

#[tokio::test]
async fn stf_1_supervisor_administers_owners_and_one_owner_stays() {
    let w = world();
    let ada = owner(&w).await;
    let org = ada.org();
    let s = staff(&w, "sso-sue", &[StaffRole::Supervisor], &[]);
    let err = s
        .administer_owner(org, ada.user(), OwnerChange::SetRole(Role::Admin))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), ReasonCode::LastOwner);
    let bob = insert_member(w.store.as_ref(), org, "bob@acme.example", Role::Admin).await;
    s.administer_owner(org, bob, OwnerChange::SetRole(Role::Owner))
        .await
        .unwrap();
    s.administer_owner(org, ada.user(), OwnerChange::Remove)
        .await
        .unwrap();
    // Ada's session ended with her removal.
    assert!(ada.me().await.is_err());
    let e = org_entries(&w, org).await.pop().unwrap().event;
    assert_eq!(e.event, AuditEventName::UserDeleted);
    assert_eq!(e.actor, staff_actor("sso-sue"));
}

#[tokio::test]
async fn aud_1_every_staff_change_names_the_staff_identity() {
    let w = world();
    let ada = owner(&w).await;
    let org = ada.org();
    let t = ticket(&ada, Department::General).await;
    let (_, number) = order(&w, org, 1, OrderPayment::OnInvoice).await;
    let all = staff(&w, "sso-root", &StaffRole::ALL, &Department::ALL);
    let before = org_entries(&w, org).await.len();
    all.reply_ticket(org, t, "Hello", false).await.unwrap();
    all.set_ticket_status(org, t, TicketEvent::Start)
        .await
        .unwrap();
    all.assign_sims(&number, &[row(50)]).await.unwrap();
    all.add_shipment(
        &number,
        &NewShipment {
            carrier: "DHL".into(),
            tracking_number: "00340434161094042557".into(),
            tracking_link: None,
            status: ShipmentStatus::Shipped,
        },
    )
    .await
    .unwrap();
    all.set_order_status(&number, OrderStatus::Completed)
        .await
        .unwrap();
    all.change_legal_fields(org, Some("Acme Three GmbH".into()), None, "rename")
        .await
        .unwrap();
    let added: Vec<_> = org_entries(&w, org)
        .await
        .into_iter()
        .skip(before)
        .collect();
    assert_eq!(added.len(), 6);
    for e in added {
        assert_eq!(
            e.event.actor,
            staff_actor("sso-root"),
            "{:?}",
            e.event.event
        );
        assert_eq!(e.event.channel, selfcare::core::roles::Channel::Staff);
    }
}
