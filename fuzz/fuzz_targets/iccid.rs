//! ICCID parsing (SIM-1): never panics; whatever parses is 19–20 digits starting with `89` with
//! a correct Luhn check digit, and re-parses (text and JSON) to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use selfcare_core::numbers::{Iccid, luhn_check_digit};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(iccid) = Iccid::parse(raw) else {
        return;
    };
    let digits = iccid.as_str();
    assert!((19..=20).contains(&digits.len()), "length of {digits}");
    assert!(digits.starts_with("89"), "prefix of {digits}");
    assert!(
        digits.bytes().all(|b| b.is_ascii_digit()),
        "digits of {digits}"
    );
    let (payload, check) = digits.split_at(digits.len() - 1);
    assert_eq!(
        check,
        luhn_check_digit(payload).to_string(),
        "check digit of {digits}"
    );
    assert_eq!(Iccid::parse(digits).as_ref(), Ok(&iccid));
    assert_eq!(Iccid::from_payload(payload).as_ref(), Ok(&iccid));
    let json = serde_json::to_string(&iccid).unwrap();
    assert_eq!(serde_json::from_str::<Iccid>(&json).unwrap(), iccid);
});
