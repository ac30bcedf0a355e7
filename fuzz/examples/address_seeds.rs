//! Writes the seed corpus of the `address` target: valid and invalid address forms encoded so
//! that `arbitrary` decodes them back exactly. Run from the repository root:
//! `cargo run --manifest-path fuzz/Cargo.toml --example address_seeds`.
//!
//! `arbitrary` reads each string's length from the end of the input and its bytes (and the
//! flag of an `Option`) from the front; even the last field, an `Option`, takes a length. So
//! the encoder lays out the contents and then searches each length byte until that field
//! decodes as intended.

use arbitrary::{Arbitrary, Unstructured};
use selfcare_core::address::{AddressInput, PostalAddress};
use selfcare_fuzz::AddressFields;

fn decode(data: &[u8]) -> Option<AddressFields> {
    AddressFields::arbitrary_take_rest(Unstructured::new(data)).ok()
}

/// The fields in declaration order: `(is_option, value)`.
fn fields(f: &AddressFields) -> Vec<(bool, Option<String>)> {
    vec![
        (false, Some(f.name.clone())),
        (true, f.company.clone()),
        (false, Some(f.street.clone())),
        (true, f.house_number.clone()),
        (true, f.line2.clone()),
        (false, Some(f.postal_code.clone())),
        (false, Some(f.city.clone())),
        (true, f.region.clone()),
        (false, Some(f.country.clone())),
        (true, f.phone.clone()),
    ]
}

fn encode(target: &AddressFields) -> Option<Vec<u8>> {
    let wanted = fields(target);
    let mut front = Vec::new();
    let mut sized = Vec::new();
    for (i, (is_option, value)) in wanted.iter().enumerate() {
        if *is_option {
            front.push(u8::from(value.is_some()));
        }
        if let Some(text) = value {
            front.extend_from_slice(text.as_bytes());
            sized.push(i);
        }
    }
    let mut data = front;
    let len_at = data.len();
    data.resize(len_at + sized.len(), 0);
    // Lengths are taken from the end: the first sized field's byte is the last one.
    for (k, &field) in sized.iter().enumerate() {
        let at = data.len() - 1 - k;
        let found = (0..=u8::MAX).find(|&b| {
            data[at] = b;
            decode(&data).is_some_and(|d| fields(&d)[field] == wanted[field])
        });
        found?;
    }
    (decode(&data).as_ref() == Some(target)).then_some(data)
}

fn form(parts: [&str; 10]) -> AddressFields {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let [
        name,
        company,
        street,
        house,
        line2,
        postal,
        city,
        region,
        country,
        phone,
    ] = parts;
    AddressFields {
        name: name.into(),
        company: opt(company),
        street: street.into(),
        house_number: opt(house),
        line2: opt(line2),
        postal_code: postal.into(),
        city: city.into(),
        region: opt(region),
        country: country.into(),
        phone: opt(phone),
    }
}

fn main() {
    let seeds = [
        (
            "valid_de_billing",
            [
                "Ada Lovelace",
                "Acme GmbH",
                "Invalidenstraße",
                "116",
                "",
                "10115",
                "Berlin",
                "",
                "DE",
                "+49 30 1234567",
            ],
        ),
        (
            "valid_gb_lowercase",
            [
                " Ada ",
                "",
                "Downing Street",
                "10",
                "Flat 2",
                "sw1a 2aa",
                "London",
                "",
                "gb",
                "",
            ],
        ),
        (
            "valid_il_hebrew",
            [
                "שרה כהן",
                "",
                "רחוב הרצל",
                "12",
                "",
                "6100000",
                "תל אביב",
                "",
                "IL",
                "+972 3 123 4567",
            ],
        ),
        (
            "valid_us_region",
            [
                "Jo Doe",
                "Doe Inc",
                "Pennsylvania Ave NW",
                "1600",
                "",
                "20500-0003",
                "Washington",
                "DC",
                "us",
                "0012025550100",
            ],
        ),
        (
            "valid_nfc_city",
            [
                "Zoe",
                "",
                "Rue de la Paix",
                "",
                "",
                "75002",
                "Cafe\u{301}ville",
                "",
                "FR",
                "",
            ],
        ),
        (
            "bad_country",
            [
                "Ada",
                "",
                "Main St",
                "1",
                "",
                "12345",
                "Springfield",
                "",
                "XX",
                "",
            ],
        ),
        (
            "bad_postal_code",
            [
                "Ada", "", "Main St", "1", "", "10115!", "Berlin", "", "DE", "",
            ],
        ),
        (
            "long_postal_code",
            [
                "Ada",
                "",
                "Main St",
                "1",
                "",
                "123456789012345678901",
                "Berlin",
                "",
                "DE",
                "",
            ],
        ),
        (
            "empty_name",
            ["", "", "Main St", "1", "", "10115", "Berlin", "", "DE", ""],
        ),
        (
            "control_in_street",
            [
                "Ada",
                "",
                "Main\nStreet",
                "1",
                "",
                "10115",
                "Berlin",
                "",
                "DE",
                "",
            ],
        ),
        (
            "bad_phone",
            [
                "Ada", "", "Main St", "1", "", "10115", "Berlin", "", "DE", "12",
            ],
        ),
    ];
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/address");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, parts) in seeds {
        let fields = form(parts);
        let bytes = encode(&fields).unwrap_or_else(|| panic!("cannot encode {name}"));
        std::fs::write(dir.join(name), bytes).unwrap();
        let outcome = match PostalAddress::parse(&AddressInput::from(fields)) {
            Ok(_) => "valid".to_owned(),
            Err(err) => format!("invalid: {err}"),
        };
        println!("{name}: {outcome}");
    }
}
