//! IMSI parsing (SIM-1): never panics; whatever parses is 15 ASCII digits whose MCC is its
//! first three, and re-parses (text and JSON) to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use selfcare_core::numbers::Imsi;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(imsi) = Imsi::parse(raw) else {
        return;
    };
    let digits = imsi.as_str();
    assert_eq!(digits.len(), 15, "length of {digits}");
    assert!(
        digits.bytes().all(|b| b.is_ascii_digit()),
        "digits of {digits}"
    );
    assert_eq!(imsi.mcc(), &digits[..3]);
    assert_eq!(Imsi::parse(digits).as_ref(), Ok(&imsi));
    let json = serde_json::to_string(&imsi).unwrap();
    assert_eq!(serde_json::from_str::<Imsi>(&json).unwrap(), imsi);
});
