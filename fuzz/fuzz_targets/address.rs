//! Address parsing (ADDR-1) from arbitrary strings: never panics; `problems` agrees with
//! `parse`; a parsed address keeps every limit, re-parses from its own plain form to itself,
//! survives JSON, and its snapshot (ADDR-3) carries the same fields. The billing check (ADDR-4)
//! accepts an address against its own company and country.
#![no_main]

use libfuzzer_sys::fuzz_target;
use selfcare_core::address::{
    AddressInput, CITY_MAX, COMPANY_MAX, HOUSE_NUMBER_MAX, LINE2_MAX, NAME_MAX, POSTAL_CODE_MAX,
    PostalAddress, REGION_MAX, STREET_MAX, check_billing_address,
};
use selfcare_fuzz::AddressFields;

fn within(value: Option<&str>, max: usize) -> bool {
    value.is_none_or(|v| !v.is_empty() && v.chars().count() <= max && v.trim() == v)
}

fuzz_target!(|fields: AddressFields| {
    let raw = AddressInput::from(fields);
    let problems = PostalAddress::problems(&raw);
    let address = match PostalAddress::parse(&raw) {
        Ok(address) => address,
        Err(err) => {
            assert_eq!(problems.first(), Some(&err));
            assert!(err.field().is_some(), "{err:?} names no field");
            return;
        }
    };
    assert!(problems.is_empty(), "{problems:?}");
    assert!(within(Some(address.name()), NAME_MAX));
    assert!(within(address.company(), COMPANY_MAX));
    assert!(within(Some(address.street()), STREET_MAX));
    assert!(within(address.house_number(), HOUSE_NUMBER_MAX));
    assert!(within(address.line2(), LINE2_MAX));
    assert!(within(Some(address.postal_code()), POSTAL_CODE_MAX));
    assert!(within(Some(address.city()), CITY_MAX));
    assert!(within(address.region(), REGION_MAX));
    assert!(
        address
            .postal_code()
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'-')
    );

    assert_eq!(
        PostalAddress::parse(&address.to_input()).as_ref(),
        Ok(&address)
    );
    let json = serde_json::to_string(&address).unwrap();
    assert_eq!(
        serde_json::from_str::<PostalAddress>(&json).unwrap(),
        address
    );

    let snapshot = address.snapshot();
    assert_eq!(snapshot.name(), address.name());
    assert_eq!(snapshot.postal_code(), address.postal_code());
    assert_eq!(snapshot.country(), address.country());
    assert_eq!(snapshot.phone_e164(), address.phone().map(|p| p.e164()));
    assert!(address.lines().len() >= 4);

    assert_eq!(
        check_billing_address(&address, address.company(), address.country()),
        Ok(())
    );
});
