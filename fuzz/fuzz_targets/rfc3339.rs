//! The codec's RFC 3339 parser (a hand-written fast path for the common
//! shape, the `time` crate for the rest) against the `time` crate alone:
//! the same text gives the same instant or is refused by both; and every
//! instant from year 0 to 9999 formats to text that parses back to it.
#![no_main]

use leadpulse_codec::{format_rfc3339, parse_rfc3339};
use libfuzzer_sys::fuzz_target;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// 0000-01-01T00:00:00Z ..= 9999-12-31T23:59:59.999Z.
const RANGE: std::ops::RangeInclusive<i64> = -62_167_219_200_000..=253_402_300_799_999;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let ours = parse_rfc3339(text);
        let reference = OffsetDateTime::parse(text, &Rfc3339)
            .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64);
        match (&ours, &reference) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text:?}"),
            (Err(e), Err(_)) => assert!(e.starts_with("not an RFC 3339 timestamp"), "{e}"),
            _ => panic!("{text:?}: ours {ours:?}, time's {reference:?}"),
        }
    }
    if let Some(bytes) = data.get(..8) {
        let ms = i64::from_le_bytes(bytes.try_into().expect("8 bytes"));
        let ms = RANGE.start() + ms.rem_euclid(RANGE.end() - RANGE.start() + 1);
        let text = format_rfc3339(ms);
        assert_eq!(parse_rfc3339(&text), Ok(ms), "{ms} → {text:?}");
    }
});
