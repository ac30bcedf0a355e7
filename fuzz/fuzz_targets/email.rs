//! E-mail parsing (ACC-3, AUTH): never panics; parsing is idempotent on its own output, the
//! comparison key is the login key of the text, and the domain has an inner dot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use selfcare_core::contact::Email;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    // Login throttling keys every submitted text, valid or not (AUTH-3).
    let login_key = Email::login_key(raw);
    let Ok(email) = Email::parse(raw) else {
        return;
    };
    let again = Email::parse(email.as_str()).unwrap();
    assert_eq!(again.as_str(), email.as_str());
    assert_eq!(again.key(), email.key());
    assert_eq!(email.key(), login_key);
    assert_eq!(Email::login_key(email.as_str()), email.key());
    assert_eq!(email.as_str(), email.as_str().trim());
    let domain = email.as_str().rsplit_once('@').map(|(_, d)| d).unwrap();
    assert!(domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
    let json = serde_json::to_string(&email).unwrap();
    assert_eq!(
        serde_json::from_str::<Email>(&json).unwrap().as_str(),
        email.as_str()
    );
});
