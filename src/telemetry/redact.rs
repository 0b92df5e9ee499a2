//! Email addresses out of log lines, in every script: ASCII addresses,
//! Unicode local parts (RFC 6531), internationalised domain names in
//! Unicode or punycode, and IDNA's full-width dots. Every log line passes
//! through [`redact_emails`], so lines without an `@` cost one `memchr`.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;

/// What stands in for an address.
pub const REDACTED: &str = "[email]";

/// An address, generously: a false positive costs a few words of a log
/// line, a false negative leaks personal data.
///
/// - Local part: RFC 5322's `atext` and dots, and any non-ASCII character
///   but whitespace (RFC 6531 allows all of them). Whatever touches the
///   address without a space or an ASCII delimiter (quote, bracket, comma,
///   colon, `;`, `<`, `>`, `@`) is taken with it.
/// - Domain: two or more labels of letters, marks and digits of any script
///   (Unicode `\w`), other numerals (`¹`, `①`: IDNA maps them to digits)
///   and hyphens, punycode included, separated by `.` or IDNA's `。` `．`
///   `｡`; the last label has two characters or a non-ASCII one. Or an
///   address literal: `[192.0.2.1]`, `[IPv6:…]`.
static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)
        [\w.!\#$%&'*+/=?^`{|}~\-[^\x00-\x7F\s]]+
        @
        (?:
            (?:[\w\p{N}-]+[.\x{3002}\x{FF0E}\x{FF61}])+
            (?:[\w\p{N}-]{2,}|[\w\p{N}-]*[\w\p{N}&&[^\x00-\x7F]][\w\p{N}-]*)
          | \[(?:IPv6:)?[0-9A-Fa-f:.]+\]
        )",
    )
    .expect("the email pattern compiles")
});

/// Replaces every email address in `text` with `[email]`.
pub fn redact_emails(text: &str) -> String {
    redact(text).into_owned()
}

/// As [`redact_emails`], borrowing `text` when it has no address.
pub fn redact(text: &str) -> Cow<'_, str> {
    if memchr::memchr(b'@', text.as_bytes()).is_none() {
        return Cow::Borrowed(text);
    }
    EMAIL.replace_all(text, REDACTED)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_addresses_are_redacted() {
        assert_eq!(
            redact_emails("lead jane.doe+x@acme.co.uk signed up, cc bob@example.com."),
            "lead [email] signed up, cc [email]."
        );
        assert_eq!(
            redact_emails(r#"{"fields":{"email":"a_b@c-d.io"}}"#),
            r#"{"fields":{"email":"[email]"}}"#
        );
        assert_eq!(
            redact_emails("<o'neil!#$%&*/=?^`{|}~@mail.example.org>"),
            "<[email]>"
        );
        assert_eq!(redact_emails("root@[192.0.2.1]"), "[email]");
        assert_eq!(redact_emails("root@[IPv6:2001:db8::1]"), "[email]");
    }

    #[test]
    fn unicode_and_idn_addresses_are_redacted() {
        for address in [
            "jöhn.smith@exämple.com",
            "jöhn.smith@xn--exmple-cua.com",
            "用户@例子.广告",
            "чебурашка@ящик-с-апельсинами.рф",
            "δοκιμή@παράδειγμα.δοκιμή",
            "अजय@डाटा.भारत",
            "θσερ@εχαμπλε.ψομ",
            "user@bücher.example",
            "user@xn--bcher-kva.xn--p1ai",
            "ñoño@ejemplo。es",
            "x@例え．テスト",
            "x@例え｡テスト",
            "o\u{308}mer@exa\u{308}mple.de",
            "😀@example.com",
            "user@日本.中",
            // Found by the `redact` fuzz target: numerals that are not
            // decimal digits, which IDNA maps to digits (`¹` → `1`).
            "ящз@例子.¹",
            "a@①②.com",
            "x@example.com²",
        ] {
            for line in [
                address.to_owned(),
                format!("lead {address} signed up"),
                format!(r#"{{"email":"{address}"}}"#),
                format!("email={address}, next"),
                format!("<{address}>."),
            ] {
                let out = redact_emails(&line);
                assert!(out.contains(REDACTED), "{line:?} → {out:?}");
                assert!(!out.contains('@'), "{line:?} → {out:?}");
                let domain = address.split('@').nth(1).unwrap();
                assert!(!out.contains(domain), "{line:?} → {out:?}");
            }
        }
    }

    #[test]
    fn what_is_not_an_address_is_kept() {
        for kept in [
            "no at sign",
            "user@localhost",
            "@handle",
            "x@y",
            "L-000042@",
            "a @ b.com",
            "price @ 3.5",
            "ünïcödé without at",
        ] {
            assert_eq!(redact_emails(kept), kept);
        }
        assert!(matches!(redact("nothing to hide"), Cow::Borrowed(_)));
    }

    /// Letters, marks and digits of several scripts, as local parts and
    /// IDN labels use them.
    fn unicode_word() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                prop::char::range('a', 'z'),
                prop::char::range('0', '9'),
                prop::char::range('à', 'ÿ').prop_filter("a letter", |c| c.is_alphabetic()),
                prop::char::range('α', 'ω'),
                prop::char::range('а', 'я'),
                prop::char::range('\u{4E00}', '\u{4FFF}'),
                prop::char::range('\u{0915}', '\u{0939}'),
                // Devanagari vowel signs: marks, not letters.
                prop::char::range('\u{093E}', '\u{094C}'),
                prop::char::range('\u{0627}', '\u{064A}'),
                prop::char::range('\u{3041}', '\u{3096}'),
                Just('\u{308}'),
            ],
            1..8,
        )
        .prop_map(|cs| cs.into_iter().collect())
    }

    fn ascii_local() -> impl Strategy<Value = String> {
        "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,12}(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,8}){0,2}"
    }

    fn local_part() -> impl Strategy<Value = String> {
        prop_oneof![
            ascii_local(),
            prop::collection::vec(unicode_word(), 1..3).prop_map(|w| w.join(".")),
        ]
    }

    fn label() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?",
            "xn--[a-z0-9]{2,10}(-[a-z0-9]{1,4})?",
            unicode_word(),
        ]
    }

    fn tld() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]{2,6}",
            "xn--[a-z0-9]{2,8}",
            unicode_word().prop_filter("non-ASCII or two characters", |w| {
                !w.is_ascii() || w.chars().count() >= 2
            }),
        ]
    }

    fn address() -> impl Strategy<Value = String> {
        (
            local_part(),
            prop::collection::vec(label(), 1..4),
            prop::sample::select(vec![".", ".", ".", "\u{3002}", "\u{FF0E}", "\u{FF61}"]),
            tld(),
        )
            .prop_map(|(local, labels, dot, tld)| {
                let mut domain = labels.join(dot);
                domain.push_str(dot);
                domain.push_str(&tld);
                format!("{local}@{domain}")
            })
    }

    /// What a log line puts around a value: none, a space, JSON quotes, a
    /// key, brackets; what may follow it: punctuation, the end of a field.
    fn before() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "", "lead ", "\"", "email: ", "<", "(", "[", ", ", "\n",
        ])
    }

    fn after() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "",
            " signed up",
            "\"",
            ">",
            ")",
            "]",
            ",",
            ";",
            ". ",
            "\n",
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]

        #[test]
        fn no_generated_address_survives(
            address in address(),
            before in before(),
            after in after(),
            words in "[a-z ]{0,20}",
        ) {
            let line = format!("{words} {before}{address}{after} {words}");
            let out = redact_emails(&line);
            prop_assert_eq!(out, format!("{words} {before}{REDACTED}{after} {words}"), "{}", line);
        }

        #[test]
        fn every_address_of_a_line_is_redacted(
            addresses in prop::collection::vec(address(), 1..5),
        ) {
            let line = addresses.join(" and ");
            let out = redact_emails(&line);
            prop_assert_eq!(out.matches(REDACTED).count(), addresses.len(), "{}", line);
            prop_assert!(!out.contains('@'), "{}", line);
        }

        #[test]
        fn any_text_is_redacted_without_panic_and_once_is_enough(text in "\\PC*") {
            let once = redact_emails(&text);
            prop_assert_eq!(redact_emails(&once), once.clone());
            if !text.contains('@') {
                prop_assert_eq!(once, text);
            }
        }
    }
}
