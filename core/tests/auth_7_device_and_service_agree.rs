//! AUTH-7: on a device the SDK's checks serve the interface (explain, pre-validate); the service
//! checks everything again. Both run the same `core` functions, so what a form shows before
//! sending must be exactly what the service decides: these tests pin that agreement for the
//! helpers meant for forms.

use selfcare_core::address::{AddressInput, PostalAddress};
use selfcare_core::ids::{OrgId, UserId};
use selfcare_core::password::{Password, check_new_password, password_strength};
use selfcare_core::policy::{Action, Actor, Decision, decide, explain};
use selfcare_core::roles::{Channel, Role};
use time::macros::datetime;

#[test]
fn auth_7_address_form_problems_agree_with_the_service_parse() {
    let inputs = [
        AddressInput {
            name: "Dana Levi".into(),
            street: "Herzl".into(),
            postal_code: "6100001".into(),
            city: "Tel Aviv".into(),
            country: "IL".into(),
            ..Default::default()
        },
        AddressInput {
            name: String::new(),
            street: "x".repeat(101),
            postal_code: "10115!".into(),
            city: "Berlin".into(),
            country: "XX".into(),
            phone: Some("+49 1".into()),
            ..Default::default()
        },
        AddressInput::default(),
    ];
    for input in &inputs {
        let problems = PostalAddress::problems(input);
        match PostalAddress::parse(input) {
            // The service accepts exactly when the form shows no problem…
            Ok(_) => assert!(problems.is_empty(), "{problems:?}"),
            // …and its error is the first problem the form shows, field and reason alike.
            Err(service) => {
                let first = problems
                    .first()
                    .expect("the form must show the service's error");
                assert_eq!(first.field(), service.field());
                assert_eq!(first.reason(), service.reason());
            }
        }
    }
}

#[test]
fn auth_7_password_meter_agrees_with_the_service_policy() {
    let context = ["Dana Levi", "dana@example.com", ""];
    for raw in [
        "dana levi 2026 dana",
        "correct horse battery staple",
        "aaaaaaaaaaaaaaaaaaaa",
        "Tr0ub4dor&3-Tr0ub4dor",
        "purple tractors dream of quiet fog",
    ] {
        let password = Password::new(raw);
        let meter_says_strong = password_strength(&password, &context).score >= 3;
        let service_accepts = check_new_password(&password, false, &context).is_ok();
        // Length rules come on top of strength; every tried password is long enough.
        assert_eq!(meter_says_strong, service_accepts, "{raw}");
    }
}

#[test]
fn auth_7_a_decision_computed_on_the_device_is_the_one_the_service_sends() {
    let now = datetime!(2026-11-23 10:00 UTC);
    let org = OrgId::new(now, [1; 10]);
    let actor = Actor {
        org,
        user: UserId::new(now, [2; 10]),
        role: Role::ReadOnly,
        channel: Channel::Portal,
    };
    let on_device = decide(&actor, Action::PlaceOrder, org);
    // The service sends its decision over the wire; the device reads it back unchanged.
    let wire = serde_json::to_string(&on_device).unwrap();
    let from_service: Decision = serde_json::from_str(&wire).unwrap();
    assert_eq!(from_service, on_device);
    assert!(!from_service.allowed());
    assert_eq!(
        explain(Role::ReadOnly, Action::PlaceOrder, &from_service),
        explain(Role::ReadOnly, Action::PlaceOrder, &on_device)
    );
}
