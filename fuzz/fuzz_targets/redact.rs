//! The log redactor (src/telemetry/redact.rs, compiled in from its source:
//! the service crate itself would bring rdkafka and tokio into the fuzz
//! build). Whatever the line, it never panics, redacting twice changes
//! nothing more, a line without `@` is left alone, and no email-like
//! address (`local@domain.tld`, ASCII or any script) is left in the output.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../src/telemetry/redact.rs"]
mod redact;

use redact::{redact, redact_emails};

/// IDNA's dots, as well as the ASCII one.
fn is_dot(c: char) -> bool {
    matches!(c, '.' | '\u{3002}' | '\u{FF0E}' | '\u{FF61}')
}

/// An independent, deliberately narrow idea of an address, to check the
/// redactor's regex against: a letter or digit (any script) right before
/// an `@`, then labels of letters, digits and hyphens joined by dots, the
/// last one two characters long or non-ASCII.
fn leaked_address(out: &str) -> Option<String> {
    let chars: Vec<char> = out.chars().collect();
    for (at, _) in chars.iter().enumerate().filter(|(_, c)| **c == '@') {
        if at == 0 || !chars[at - 1].is_alphanumeric() {
            continue;
        }
        let label = |c: char| c.is_alphanumeric() || c == '-';
        let mut i = at + 1;
        let mut labels = 0;
        loop {
            let start = i;
            while i < chars.len() && label(chars[i]) {
                i += 1;
            }
            if i == start {
                break;
            }
            let text: String = chars[start..i].iter().collect();
            let tld = text.chars().filter(|c| c.is_alphanumeric()).count() >= 2
                || text.chars().any(|c| !c.is_ascii() && c.is_alphanumeric());
            if labels >= 1 && tld {
                let local_start = (0..at)
                    .rev()
                    .take_while(|&j| !chars[j].is_whitespace())
                    .last()
                    .unwrap_or(at);
                return Some(chars[local_start..i].iter().collect());
            }
            if i < chars.len() && is_dot(chars[i]) {
                labels += 1;
                i += 1;
            } else {
                break;
            }
        }
    }
    None
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let out = redact_emails(&text);
    if !text.contains('@') {
        assert!(matches!(redact(&text), std::borrow::Cow::Borrowed(_)));
        assert_eq!(out, text);
        return;
    }
    assert_eq!(redact_emails(&out), out, "redacting twice changed {text:?}");
    if let Some(address) = leaked_address(&out) {
        panic!("{address:?} survived: {text:?} → {out:?}");
    }
});
