//! Phone number parsing (SIM-1, ADDR-1): never panics; whatever parses is `+` and at most 15
//! digits, and its E.164 form and its bare digits both re-parse to the same number.
#![no_main]

use libfuzzer_sys::fuzz_target;
use selfcare_core::numbers::Msisdn;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(number) = Msisdn::parse(raw) else {
        return;
    };
    let e164 = number.e164();
    let digits = number.digits();
    assert_eq!(e164.strip_prefix('+'), Some(digits), "{e164} vs {digits}");
    assert!(!digits.is_empty() && digits.len() <= 15, "length of {e164}");
    assert!(
        digits.bytes().all(|b| b.is_ascii_digit()),
        "digits of {e164}"
    );
    assert_eq!(Msisdn::parse(e164).as_ref(), Ok(&number));
    assert_eq!(Msisdn::parse(digits).as_ref(), Ok(&number));
    let json = serde_json::to_string(&number).unwrap();
    assert_eq!(serde_json::from_str::<Msisdn>(&json).unwrap(), number);
});
