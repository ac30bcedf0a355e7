//! Customer data through a session (ACC-1..ACC-5) with the permission rules around it (USR-4,
//! USR-5, AUTH-5).

// The helpers below are test code: a surprise is a failed test.
#![allow(clippy::unwrap_used, clippy::panic)]

mod common;

use common::{World, business, ctx, world};
use selfcare::account::CustomerView;
use selfcare::core::ReasonCode;
use selfcare::core::audit::{
    AuditChain, AuditEntry, AuditEventName, HostKey, Outcome, PersonalField,
};
use selfcare::core::contact::{Email, Language};
use selfcare::core::customer::{
    AdditionalEmail, CustomerUpdate, EmailCategory, Limit, NewCustomer, NewCustomerKind,
};
use selfcare::core::ids::{OrgId, UserId};
use selfcare::core::roles::Role;
use selfcare::storage::PageRequest;
use selfcare::{Error, Registered, Session};

async fn login(w: &World, email: &str) -> Session {
    common::session(&w.portal, email).await
}

/// Registers the business of `business(owner_email)` and logs its Owner in.
async fn owner(w: &World, owner_email: &str) -> (Registered, Session) {
    let (customer, owner) = business(owner_email);
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    (reg, login(w, owner_email).await)
}

/// Puts a second, active user with `role` into `org` directly through the store and logs them
/// in.
async fn member(w: &World, org: OrgId, email: &str, role: Role) -> (UserId, Session) {
    let id = common::insert_member(w.store.as_ref(), org, email, role).await;
    (id, login(w, email).await)
}

/// Changes a user's role behind the back of any open session.
async fn set_role(w: &World, org: OrgId, user: UserId, role: Role) {
    let mut tx = w.store.begin(org).await.unwrap();
    let mut record = tx.user(user).await.unwrap().unwrap();
    record.value.role = role;
    tx.update_user(record.value, record.version).await.unwrap();
    tx.commit().await.unwrap();
}

async fn stored(w: &World, org: OrgId) -> CustomerView {
    let mut tx = w.store.begin(org).await.unwrap();
    let record = tx.customer().await.unwrap().unwrap();
    CustomerView {
        customer: record.value.customer,
        volume_limits: record.value.volume_limits,
        second_factor_required: record.value.second_factor_required,
        test_mode: record.value.test_mode,
        version: record.version,
    }
}

async fn audit(w: &World, org: OrgId) -> Vec<AuditEntry> {
    let mut tx = w.store.begin(org).await.unwrap();
    let entries = tx
        .audit_entries(PageRequest::first(500))
        .await
        .unwrap()
        .items;
    let key = HostKey::from_bytes(&[7u8; 32]).unwrap();
    assert!(AuditChain::verify_chain(&entries, &key, None).is_ok());
    entries
}

/// The entries after registration and logins, as (event, outcome, changed fields).
fn customer_events(entries: &[AuditEntry]) -> Vec<(AuditEventName, Outcome, Vec<String>)> {
    entries
        .iter()
        .filter(|e| e.event.target.as_str().starts_with("customer:"))
        .map(|e| {
            (
                e.event.event,
                e.event.outcome,
                e.event
                    .changed_fields
                    .iter()
                    .map(|f| f.as_str().to_owned())
                    .collect(),
            )
        })
        .collect()
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| (*s).to_owned()).collect()
}

fn additional(email: &str, categories: &[EmailCategory]) -> AdditionalEmail {
    AdditionalEmail::parse(email, categories.iter().copied()).unwrap()
}

fn email(raw: &str) -> Email {
    Email::parse(raw).unwrap()
}

#[tokio::test]
async fn acc_1_company_name_and_billing_country_change_is_immutable_field_language_is_allowed() {
    let w = world();
    let (reg, session) = owner(&w, "ada@acme.example").await;
    let before = session.customer().await.unwrap();
    assert_eq!(
        before.customer.company_name().unwrap().as_str(),
        "Acme IoT GmbH"
    );

    for (update, field) in [
        (
            CustomerUpdate {
                company_name: Some("Other Name GmbH".into()),
                language: Some("en".into()),
                ..Default::default()
            },
            "company_name",
        ),
        (
            CustomerUpdate {
                billing_country: Some("AT".into()),
                ..Default::default()
            },
            "billing_country",
        ),
    ] {
        let err = session.update_customer(&update, None).await.unwrap_err();
        match &err {
            Error::ImmutableField {
                field: f,
                reason: ReasonCode::LegalFieldImmutable,
                message,
            } => {
                assert_eq!(f, field);
                assert!(message.contains("contact support"), "{message}");
            }
            other => panic!("expected ImmutableField on {field}, got {other:?}"),
        }
    }
    // Nothing of the refused updates was written, not even the language beside the name.
    assert_eq!(stored(&w, reg.org).await, before);

    // Forms resubmit every field: the current legal values with a new language are fine.
    let update = CustomerUpdate {
        company_name: Some("Acme IoT GmbH".into()),
        billing_country: Some("de".into()),
        language: Some("en".into()),
        ..Default::default()
    };
    let after = session
        .update_customer(&update, Some(before.version))
        .await
        .unwrap();
    assert_eq!(after.customer.language(), Language::English);
    assert_eq!(after.version, before.version.next());
    assert_eq!(stored(&w, reg.org).await, after);

    let entries = audit(&w, reg.org).await;
    assert_eq!(
        customer_events(&entries),
        [
            (
                AuditEventName::CustomerUpdated,
                Outcome::Failure,
                strings(&["company_name"])
            ),
            (
                AuditEventName::CustomerUpdated,
                Outcome::Failure,
                strings(&["billing_country"])
            ),
            (
                AuditEventName::CustomerUpdated,
                Outcome::Success,
                strings(&["language"])
            ),
        ]
    );
    let refused: Vec<_> = entries
        .iter()
        .filter(|e| {
            e.event.outcome == Outcome::Failure && e.event.target.as_str().starts_with("customer:")
        })
        .map(|e| e.event.reason)
        .collect();
    assert_eq!(refused, [Some(ReasonCode::LegalFieldImmutable); 2]);
}

#[tokio::test]
async fn acc_1_allowed_changes_are_versioned_and_audited_and_a_stale_version_is_a_conflict() {
    let w = world();
    let (reg, session) = owner(&w, "ada@acme.example").await;
    let first = session.customer().await.unwrap();

    let update = CustomerUpdate {
        vat_id: Some(Some("de 987.654.321".into())),
        main_contact: Some("Invoices@acme.example".into()),
        ..Default::default()
    };
    let second = session
        .update_customer(&update, Some(first.version))
        .await
        .unwrap();
    assert_eq!(second.customer.vat_id().unwrap().as_str(), "DE987654321");
    assert_eq!(
        second.customer.main_contact().as_str(),
        "Invoices@acme.example"
    );

    // A form built from the first version loses against the change made meanwhile.
    let late = CustomerUpdate {
        vat_id: Some(None),
        ..Default::default()
    };
    let err = session
        .update_customer(&late, Some(first.version))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        Error::Conflict {
            reason: ReasonCode::StaleVersion
        }
    );
    assert_eq!(stored(&w, reg.org).await, second);

    // Resubmitting what is stored changes nothing and writes nothing.
    let same = session
        .update_customer(&update, Some(second.version))
        .await
        .unwrap();
    assert_eq!(same, second);

    // Validation is the core rule's, with the field named.
    let bad = CustomerUpdate {
        main_contact: Some("not an address".into()),
        ..Default::default()
    };
    let err = session.update_customer(&bad, None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Validation { field, .. } if field == "main_contact"),
        "{err:?}"
    );
    // A business has no person's name to change.
    let name = CustomerUpdate {
        name: Some("Ada".into()),
        ..Default::default()
    };
    let err = session.update_customer(&name, None).await.unwrap_err();
    assert_eq!(err.reason(), ReasonCode::NotAnIndividual);

    let entries = audit(&w, reg.org).await;
    let changes: Vec<_> = entries
        .iter()
        .filter(|e| e.event.event == AuditEventName::CustomerUpdated)
        .collect();
    assert_eq!(changes.len(), 1, "only the one real change is audited");
    let change = &changes[0].event;
    assert_eq!(
        change
            .changed_fields
            .iter()
            .map(|f| f.as_str())
            .collect::<Vec<_>>(),
        ["vat_id", "main_contact"]
    );
    assert_eq!(change.target.as_str(), format!("customer:{}", reg.org));
    assert_eq!(
        change.personal.get(PersonalField::OldEmail),
        Some("billing@acme.example")
    );
    assert_eq!(
        change.personal.get(PersonalField::NewEmail),
        Some("Invoices@acme.example")
    );
}

#[tokio::test]
async fn acc_1_an_individual_changes_their_name_with_old_and_new_name_in_the_audit_log() {
    let w = world();
    let (_, owner) = business("levi@example.com");
    let customer = NewCustomer {
        kind: NewCustomerKind::Individual {
            name: "Levi Cohen".into(),
        },
        main_contact: "levi@example.com".into(),
        billing_country: "IL".into(),
        language: Some("he".into()),
    };
    let reg = w
        .portal
        .register_customer(&customer, owner, &ctx())
        .await
        .unwrap();
    let session = login(&w, "levi@example.com").await;
    let update = CustomerUpdate {
        name: Some("Levi Cohen-Mizrahi".into()),
        ..Default::default()
    };
    let view = session.update_customer(&update, None).await.unwrap();
    assert_eq!(
        view.customer.kind().invoice_name().as_str(),
        "Levi Cohen-Mizrahi"
    );
    // An individual has no company name to change.
    let company = CustomerUpdate {
        company_name: Some("Levi Ltd".into()),
        ..Default::default()
    };
    assert!(matches!(
        session.update_customer(&company, None).await.unwrap_err(),
        Error::ImmutableField { .. }
    ));
    let entries = audit(&w, reg.org).await;
    let change = entries
        .iter()
        .find(|e| {
            e.event.event == AuditEventName::CustomerUpdated && e.event.outcome == Outcome::Success
        })
        .unwrap();
    assert_eq!(
        change.event.personal.get(PersonalField::OldName),
        Some("Levi Cohen")
    );
    assert_eq!(
        change.event.personal.get(PersonalField::NewName),
        Some("Levi Cohen-Mizrahi")
    );
    // Personal values stay beside the chain: the entry itself names fields, not values.
    assert!(!format!("{:?}", change.event.changed_fields).contains("Levi"));
}

#[tokio::test]
async fn acc_2_acc_3_recipients_after_setting_contact_emails() {
    let w = world();
    let (reg, session) = owner(&w, "ada@acme.example").await;
    let set = session
        .set_contact_emails(vec![
            additional("accounting@acme.example", &[EmailCategory::Invoice]),
            additional(
                "noc@acme.example",
                &[EmailCategory::VolumeNotifications, EmailCategory::Service],
            ),
            additional("ops@acme.example", &[EmailCategory::Service]),
        ])
        .await
        .unwrap();
    assert_eq!(set, session.contact_emails().await.unwrap());
    assert_eq!(set.main().as_str(), "billing@acme.example");

    let customer = session.customer().await.unwrap().customer;
    let main = email("billing@acme.example");
    assert_eq!(
        customer.recipients(EmailCategory::Invoice),
        [main.clone(), email("accounting@acme.example")]
    );
    assert_eq!(
        customer.recipients(EmailCategory::VolumeNotifications),
        [main.clone(), email("noc@acme.example")]
    );
    assert_eq!(
        customer.recipients(EmailCategory::Service),
        [
            main.clone(),
            email("noc@acme.example"),
            email("ops@acme.example")
        ]
    );
    // ACC-2: the main contact receives every category, here alone.
    assert_eq!(customer.recipients(EmailCategory::Orders), [main]);

    let entries = audit(&w, reg.org).await;
    let change = entries
        .iter()
        .find(|e| e.event.event == AuditEventName::ContactEmailsChanged)
        .unwrap();
    assert_eq!(change.event.changed_fields.len(), 1);
    assert_eq!(change.event.changed_fields[0].as_str(), "additional_emails");
    assert_eq!(
        change.event.personal.get(PersonalField::NewEmail),
        Some("accounting@acme.example, noc@acme.example, ops@acme.example")
    );

    // Dropping one address is traced as removed.
    session
        .set_contact_emails(vec![additional(
            "noc@acme.example",
            &[EmailCategory::VolumeNotifications],
        )])
        .await
        .unwrap();
    let entries = audit(&w, reg.org).await;
    let last = entries.last().unwrap();
    assert_eq!(last.event.event, AuditEventName::ContactEmailsChanged);
    assert_eq!(
        last.event.personal.get(PersonalField::OldEmail),
        Some("accounting@acme.example, ops@acme.example")
    );
}

#[tokio::test]
async fn acc_3_duplicates_the_main_contact_and_more_than_ten_addresses_are_refused() {
    let w = world();
    let (reg, session) = owner(&w, "ada@acme.example").await;
    let before = stored(&w, reg.org).await;

    let duplicate = session
        .set_contact_emails(vec![
            additional("a@acme.example", &[EmailCategory::Invoice]),
            additional("A@ACME.example", &[EmailCategory::Orders]),
        ])
        .await
        .unwrap_err();
    assert!(
        matches!(&duplicate, Error::Validation { field, reason: ReasonCode::ContactEmailDuplicate, .. }
            if field == "additional_emails[1].email"),
        "{duplicate:?}"
    );
    let main = session
        .set_contact_emails(vec![additional(
            "Billing@Acme.example",
            &[EmailCategory::Invoice],
        )])
        .await
        .unwrap_err();
    assert_eq!(main.reason(), ReasonCode::ContactEmailIsMain);
    let eleven: Vec<_> = (0..11)
        .map(|i| additional(&format!("u{i}@acme.example"), &[EmailCategory::Orders]))
        .collect();
    let too_many = session
        .set_contact_emails(eleven.clone())
        .await
        .unwrap_err();
    assert_eq!(too_many.reason(), ReasonCode::TooManyContactEmails);
    assert_eq!(
        stored(&w, reg.org).await,
        before,
        "a refused list writes nothing"
    );

    let ten = session
        .set_contact_emails(eleven[..10].to_vec())
        .await
        .unwrap();
    assert_eq!(ten.additional().len(), 10);
    let customer = session.customer().await.unwrap().customer;
    assert_eq!(customer.recipients(EmailCategory::Orders).len(), 11);
    assert_eq!(customer.recipients(EmailCategory::Invoice).len(), 1);
}

#[tokio::test]
async fn acc_4_contact_language_is_set_from_a_bcp47_tag() {
    let w = world();
    let (reg, session) = owner(&w, "ada@acme.example").await;
    assert_eq!(
        session.customer().await.unwrap().customer.language(),
        Language::German
    );
    assert_eq!(
        session.set_language("he-IL").await.unwrap(),
        Language::Hebrew
    );
    assert_eq!(
        session.customer().await.unwrap().customer.language(),
        Language::Hebrew
    );
    let unsupported = session.set_language("fr").await.unwrap_err();
    assert!(
        matches!(&unsupported, Error::Validation { field, reason: ReasonCode::LanguageUnsupported, .. }
            if field == "language"),
        "{unsupported:?}"
    );
    let garbage = session.set_language("not a tag!").await.unwrap_err();
    assert!(matches!(garbage, Error::Validation { .. }), "{garbage:?}");
    // The same language again is no change and no entry.
    let version = stored(&w, reg.org).await.version;
    assert_eq!(session.set_language("he").await.unwrap(), Language::Hebrew);
    assert_eq!(stored(&w, reg.org).await.version, version);
    assert_eq!(
        customer_events(&audit(&w, reg.org).await),
        [(
            AuditEventName::CustomerUpdated,
            Outcome::Success,
            strings(&["language"])
        )]
    );
}

#[tokio::test]
async fn acc_5_volume_limits_are_chosen_from_the_configured_steps_only() {
    let w = world();
    let (reg, session) = owner(&w, "ada@acme.example").await;
    let initial = session.volume_limits().await.unwrap();
    assert_eq!(initial.steps, w.portal.config().volume_limit_steps);
    assert_eq!(
        (initial.limits.data_mb(), initial.limits.sms()),
        (Limit::Unlimited, Limit::Unlimited)
    );

    let set = session
        .set_volume_limits(Limit::Capped(5_000), Limit::Capped(500))
        .await
        .unwrap();
    assert_eq!(
        (set.data_mb(), set.sms()),
        (Limit::Capped(5_000), Limit::Capped(500))
    );
    assert_eq!(session.volume_limits().await.unwrap().limits, set);

    for (data, sms, field) in [
        (Limit::Capped(2_000), Limit::Capped(500), "data_mb"),
        (Limit::Capped(0), Limit::Capped(500), "data_mb"),
        (Limit::Capped(5_000), Limit::Capped(250), "sms"),
        (Limit::Capped(5_000), Limit::Capped(5_000), "sms"),
    ] {
        let err = session.set_volume_limits(data, sms).await.unwrap_err();
        assert!(
            matches!(&err, Error::Validation { field: f, reason: ReasonCode::VolumeLimitNotAStep, .. }
                if f == field),
            "{data:?}/{sms:?}: {err:?}"
        );
    }
    assert_eq!(stored(&w, reg.org).await.volume_limits, set);

    // Only the SMS limit changes now.
    session
        .set_volume_limits(Limit::Capped(5_000), Limit::Unlimited)
        .await
        .unwrap();
    assert_eq!(
        customer_events(&audit(&w, reg.org).await),
        [
            (
                AuditEventName::VolumeLimitsChanged,
                Outcome::Success,
                strings(&["data_mb", "sms"])
            ),
            (
                AuditEventName::VolumeLimitsChanged,
                Outcome::Success,
                strings(&["sms"])
            ),
        ]
    );
}

#[tokio::test]
async fn usr_4_user_and_read_only_cannot_read_or_change_customer_data_admin_can() {
    let w = world();
    let (reg, _owner) = owner(&w, "ada@acme.example").await;
    let before = stored(&w, reg.org).await;
    for (role, login_email) in [
        (Role::User, "user@acme.example"),
        (Role::ReadOnly, "reader@acme.example"),
    ] {
        let (_, s) = member(&w, reg.org, login_email, role).await;
        let update = CustomerUpdate {
            language: Some("en".into()),
            ..Default::default()
        };
        let results = [
            s.customer().await.map(|_| ()),
            s.update_customer(&update, None).await.map(|_| ()),
            s.contact_emails().await.map(|_| ()),
            s.set_contact_emails(vec![additional("x@acme.example", &[EmailCategory::Orders])])
                .await
                .map(|_| ()),
            s.set_language("en").await.map(|_| ()),
            s.volume_limits().await.map(|_| ()),
            s.set_volume_limits(Limit::Capped(1_000), Limit::Capped(100))
                .await
                .map(|_| ()),
        ];
        for (i, result) in results.into_iter().enumerate() {
            assert!(
                matches!(result, Err(Error::PermissionDenied { .. })),
                "{role:?} call {i}: {result:?}"
            );
        }
        // Their own profile stays theirs to read.
        assert_eq!(s.me().await.unwrap().role, role);
    }
    assert_eq!(stored(&w, reg.org).await, before);
    assert!(customer_events(&audit(&w, reg.org).await).is_empty());

    let (_, admin) = member(&w, reg.org, "admin@acme.example", Role::Admin).await;
    assert_eq!(admin.set_language("en").await.unwrap(), Language::English);
    admin
        .set_volume_limits(Limit::Capped(1_000), Limit::Capped(100))
        .await
        .unwrap();
}

#[tokio::test]
async fn usr_5_a_session_only_ever_reaches_its_own_organisation() {
    let w = world();
    let (reg_a, session_a) = owner(&w, "ada@acme.example").await;
    let (reg_b, session_b) = owner(&w, "bob@beta.example").await;
    assert_ne!(reg_a.org, reg_b.org);
    session_a
        .set_contact_emails(vec![additional(
            "noc@acme.example",
            &[EmailCategory::Service],
        )])
        .await
        .unwrap();
    let a_before = stored(&w, reg_a.org).await;
    let a_audit_before = audit(&w, reg_a.org).await;

    // B's every call changes B and only B.
    let b_view = session_b.customer().await.unwrap();
    assert_eq!(b_view.customer.id(), reg_b.org);
    assert!(
        session_b
            .contact_emails()
            .await
            .unwrap()
            .additional()
            .is_empty()
    );
    session_b
        .update_customer(
            &CustomerUpdate {
                vat_id: Some(None),
                ..Default::default()
            },
            Some(b_view.version),
        )
        .await
        .unwrap();
    session_b
        .set_contact_emails(vec![additional(
            "ops@beta.example",
            &[EmailCategory::Orders],
        )])
        .await
        .unwrap();
    session_b.set_language("he").await.unwrap();
    session_b
        .set_volume_limits(Limit::Capped(1_000), Limit::Capped(100))
        .await
        .unwrap();

    let b_after = stored(&w, reg_b.org).await;
    assert_eq!(b_after.customer.vat_id(), None);
    assert_eq!(b_after.customer.language(), Language::Hebrew);
    assert_eq!(b_after.volume_limits.data_mb(), Limit::Capped(1_000));
    assert_eq!(b_after.customer.contact_emails().additional().len(), 1);
    assert_eq!(customer_events(&audit(&w, reg_b.org).await).len(), 4);

    // A's record, version and audit chain are exactly as before.
    assert_eq!(stored(&w, reg_a.org).await, a_before);
    assert_eq!(audit(&w, reg_a.org).await, a_audit_before);
    assert_eq!(session_a.customer().await.unwrap(), a_before);
    // B's entries name only B's customer.
    assert!(
        audit(&w, reg_b.org)
            .await
            .iter()
            .all(|e| e.event.org == Some(reg_b.org))
    );
}

#[tokio::test]
async fn usr_5_a_demotion_takes_effect_at_once_in_an_open_session() {
    let w = world();
    let (reg, _owner) = owner(&w, "ada@acme.example").await;
    let (admin_id, admin) = member(&w, reg.org, "admin@acme.example", Role::Admin).await;
    assert_eq!(admin.set_language("en").await.unwrap(), Language::English);

    set_role(&w, reg.org, admin_id, Role::User).await;
    let err = admin.set_language("de").await.unwrap_err();
    assert!(matches!(err, Error::PermissionDenied { .. }), "{err:?}");
    assert!(matches!(
        admin.customer().await.unwrap_err(),
        Error::PermissionDenied { .. }
    ));
    assert_eq!(
        stored(&w, reg.org).await.customer.language(),
        Language::English
    );

    // Promoted back, the same session works again: nothing about the role lives in it.
    set_role(&w, reg.org, admin_id, Role::Admin).await;
    assert_eq!(admin.set_language("de").await.unwrap(), Language::German);
}

#[tokio::test]
async fn auth_5_customer_data_changes_need_no_captcha() {
    // The world's HumanVerifier fails every call: customer data (unlike one's own profile and
    // card saves) is changed without it.
    let w = world();
    let (_, session) = owner(&w, "ada@acme.example").await;
    let update = CustomerUpdate {
        vat_id: Some(Some("DE111222333".into())),
        ..Default::default()
    };
    session.update_customer(&update, None).await.unwrap();
    session
        .set_contact_emails(vec![additional(
            "x@acme.example",
            &[EmailCategory::Invoice],
        )])
        .await
        .unwrap();
    session.set_language("en").await.unwrap();
    session
        .set_volume_limits(Limit::Capped(10_000), Limit::Capped(1_000))
        .await
        .unwrap();
}
