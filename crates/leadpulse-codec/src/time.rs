//! RFC 3339 timestamps ⇄ event-time milliseconds.

use ::time::format_description::well_known::Rfc3339;
use ::time::OffsetDateTime;

use leadpulse_core::Millis;

/// Parses an RFC 3339 timestamp (`2026-11-20T10:00:00Z`) to epoch milliseconds.
pub fn parse_rfc3339(s: &str) -> Result<Millis, String> {
    if let Some(ms) = parse_common(s.as_bytes()) {
        return Ok(ms);
    }
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("not an RFC 3339 timestamp: {e}"))?;
    // Floored, so a time just before the epoch stays before it.
    Ok(t.unix_timestamp_nanos().div_euclid(1_000_000) as Millis)
}

/// Formats epoch milliseconds as RFC 3339 in UTC.
pub fn format_rfc3339(ms: Millis) -> String {
    if let Some(t) = Rfc3339Text::new(ms) {
        return t.as_str().to_owned();
    }
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Epoch milliseconds from 1970 to 9999 as RFC 3339 text in UTC, on the
/// stack: what `format_rfc3339` gives, without its allocation (every score
/// record carries several timestamps).
pub struct Rfc3339Text {
    buf: [u8; 24],
    len: usize,
}

impl Rfc3339Text {
    /// `None` outside 1970..=9999.
    pub fn new(ms: Millis) -> Option<Rfc3339Text> {
        if !(0..253_402_300_800_000).contains(&ms) {
            return None;
        }
        let (secs, millis) = (ms.div_euclid(1000), ms.rem_euclid(1000));
        let (days, sod) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        // Hinnant's civil_from_days.
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        let mut buf = *b"0000-00-00T00:00:00.000Z";
        let mut put = |at: usize, width: usize, mut n: i64| {
            for i in (at..at + width).rev() {
                buf[i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
        };
        put(0, 4, year);
        put(5, 2, month);
        put(8, 2, day);
        put(11, 2, sod / 3600);
        put(14, 2, sod / 60 % 60);
        put(17, 2, sod % 60);
        let len = if millis == 0 {
            buf[19] = b'Z';
            20
        } else {
            put(20, 3, millis);
            // Trailing zeros of the fraction are left out.
            let digits = if millis % 100 == 0 {
                1
            } else if millis % 10 == 0 {
                2
            } else {
                3
            };
            buf[20 + digits] = b'Z';
            21 + digits
        };
        Some(Rfc3339Text { buf, len })
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("ASCII digits")
    }
}

/// The shape nearly every producer sends, `2026-11-20T10:00:00.250Z` or with
/// a `+01:00` offset, from 1970 on, parsed without the general parser (it
/// is a sizeable share of decoding an event). Anything else returns `None`
/// and goes to the general parser, which also words the errors.
fn parse_common(b: &[u8]) -> Option<Millis> {
    fn num(b: &[u8]) -> Option<i64> {
        b.iter().try_fold(0i64, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + i64::from(c - b'0'))
        })
    }
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(&b[0..4])?, num(&b[5..7])?, num(&b[8..10])?);
    let (hour, minute, second) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if year < 1970
        || !(1..=12).contains(&month)
        || day < 1
        || day > month_days[(month - 1) as usize]
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0;
    if rest.first() == Some(&b'.') {
        let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 9 {
            return None;
        }
        let frac = &rest[1..1 + digits];
        millis = frac
            .iter()
            .take(3)
            .fold(0, |n, &c| n * 10 + i64::from(c - b'0'))
            * 10i64.pow(3u32.saturating_sub(digits as u32));
        rest = &rest[1 + digits..];
    }
    let offset_secs = match rest {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (h, m) = (num(&[*h1, *h2])?, num(&[*m1, *m2])?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    // Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's
    // days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_secs;
    if secs < 0 {
        return None; // before the epoch: the general parser rounds those
    }
    Some(secs * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn general(s: &str) -> Option<Millis> {
        OffsetDateTime::parse(s, &Rfc3339)
            .ok()
            .map(|t| t.unix_timestamp_nanos().div_euclid(1_000_000) as Millis)
    }

    #[test]
    fn leap_seconds_padding_and_times_just_before_1970() {
        // A leap second is the last instant of second 59; it never spills
        // into the next minute.
        let leap = parse_rfc3339("2016-12-31T23:59:60Z").unwrap();
        let last = parse_rfc3339("2016-12-31T23:59:59.999Z").unwrap();
        assert!(leap >= last && leap < parse_rfc3339("2017-01-01T00:00:00Z").unwrap());
        assert_eq!(leap, last);
        for padded in [
            " 2026-11-20T10:00:00Z",
            "2026-11-20T10:00:00Z ",
            "\t2026-11-20T10:00:00Z",
        ] {
            assert!(parse_rfc3339(padded).is_err(), "{padded:?}");
        }
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59.9999Z"), Ok(-1));
    }

    #[test]
    fn the_fast_path_agrees_with_the_general_parser() {
        let mut cases: Vec<String> = [
            "2026-11-20T10:00:00Z",
            "2026-11-20T10:00:00.250Z",
            "2026-11-20T10:00:00.2Z",
            "2026-11-20T10:00:00.123456789Z",
            "2026-11-20T10:00:00.1234567891Z",
            "2024-02-29T23:59:59+01:00",
            "2023-02-29T00:00:00Z",
            "2026-11-20T10:00:00-05:30",
            "1970-01-01T00:00:00Z",
            "1970-01-01T00:30:00+01:00",
            "1969-12-31T23:59:59.999Z",
            "2026-11-20t10:00:00z",
            "2026-11-20T24:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-11-20T10:00:60Z",
            "2026-11-20T10:00:00",
            "2026-11-20T10:00:00.Z",
            "2026-11-20 10:00:00Z",
            "+2026-11-20T10:00:00Z",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // A spread of dates across four centuries, with and without offsets.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..5_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let year = 1970 + x % 430;
            let (month, day) = (1 + (x >> 10) % 12, 1 + (x >> 20) % 31);
            let (h, m, s, ms) = (
                (x >> 30) % 24,
                (x >> 36) % 60,
                (x >> 42) % 60,
                (x >> 48) % 1000,
            );
            let zone = match x % 3 {
                0 => "Z".to_string(),
                1 => format!("+{:02}:{:02}", (x >> 5) % 24, (x >> 3) % 60),
                _ => format!("-{:02}:{:02}", (x >> 5) % 24, (x >> 3) % 60),
            };
            cases.push(format!(
                "{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{ms:03}{zone}"
            ));
        }
        for c in &cases {
            if let Some(fast) = parse_common(c.as_bytes()) {
                assert_eq!(Some(fast), general(c), "{c}");
            }
            assert_eq!(parse_rfc3339(c).ok(), general(c), "{c}");
        }
        assert!(parse_common(b"2026-11-20T10:00:00.250Z").is_some());
    }

    #[test]
    fn the_fast_formatter_agrees_with_the_general_one() {
        let general = |ms: Millis| {
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .unwrap()
                .format(&Rfc3339)
                .unwrap()
        };
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut cases = vec![
            0,
            1,
            10,
            100,
            999,
            1000,
            951_782_400_000,
            253_402_300_799_999,
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let ms = (x % 253_402_300_800_000) as Millis;
            cases.extend([ms, ms - ms % 10, ms - ms % 100, ms - ms % 1000]);
        }
        for ms in cases {
            assert_eq!(Rfc3339Text::new(ms).unwrap().as_str(), general(ms), "{ms}");
        }
        assert!(Rfc3339Text::new(-1).is_none());
        assert_eq!(format_rfc3339(-1), general(-1));
    }
}
