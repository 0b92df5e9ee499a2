//! Tests of the business-hours clock: worked examples (DST changes in
//! Europe/Berlin and America/New_York included), the roster's strings, and
//! properties checked against a minute-by-minute count of the team's wall
//! clock.

use std::collections::BTreeSet;

use jiff::civil::{date, Date};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use proptest::prelude::*;

use super::event::Millis;
use super::hours::{parse_clock, parse_date, parse_days, BusinessHours};

const MIN: Millis = 60_000;
const HOUR: Millis = 60 * MIN;

fn hours(zone: &str, days: &str, open: &str, close: &str, holidays: &[&str]) -> BusinessHours {
    BusinessHours::new(
        TimeZone::get(zone).unwrap(),
        zone,
        parse_days(days).unwrap(),
        parse_clock(open, false).unwrap(),
        parse_clock(close, true).unwrap(),
        holidays.iter().map(|d| parse_date(d).unwrap()).collect(),
    )
    .unwrap()
}

/// An instant given as a local time in `zone` (the first, if repeated).
fn local(zone: &str, d: Date, h: i8, m: i8) -> Millis {
    TimeZone::get(zone)
        .unwrap()
        .to_ambiguous_timestamp(d.at(h, m, 0, 0))
        .compatible()
        .unwrap()
        .as_millisecond()
}

fn utc(text: &str) -> Millis {
    text.parse::<Timestamp>().unwrap().as_millisecond()
}

fn berlin() -> BusinessHours {
    hours("Europe/Berlin", "Mon-Fri", "09:00", "18:00", &[])
}

#[test]
fn friday_at_17_50_with_60_minutes_is_due_monday_at_09_50() {
    let h = berlin();
    // 2026-11-20 is a Friday.
    let at = local("Europe/Berlin", date(2026, 11, 20), 17, 50);
    assert_eq!(h.add(at, 60 * MIN), utc("2026-11-23T08:50:00Z"));
    assert_eq!(
        h.add(at, 60 * MIN),
        local("Europe/Berlin", date(2026, 11, 23), 9, 50)
    );
}

#[test]
fn a_deadline_at_closing_time_stays_on_that_day() {
    let h = berlin();
    let at = local("Europe/Berlin", date(2026, 11, 19), 17, 0);
    let close = local("Europe/Berlin", date(2026, 11, 19), 18, 0);
    assert_eq!(h.add(at, 60 * MIN), close);
    assert!(!h.is_open(close), "18:00 itself is after hours");
    assert!(h.is_open(close - 1));
    // One millisecond more runs into the next morning.
    assert_eq!(
        h.add(at, 60 * MIN + 1),
        local("Europe/Berlin", date(2026, 11, 20), 9, 0) + 1
    );
}

#[test]
fn time_outside_hours_counts_from_the_next_opening() {
    let h = berlin();
    // Saturday noon, and Monday before opening.
    let saturday = local("Europe/Berlin", date(2026, 11, 21), 12, 0);
    let early = local("Europe/Berlin", date(2026, 11, 23), 7, 0);
    let want = local("Europe/Berlin", date(2026, 11, 23), 9, 30);
    assert_eq!(h.add(saturday, 30 * MIN), want);
    assert_eq!(h.add(early, 30 * MIN), want);
    assert_eq!(
        h.add(saturday, 0),
        saturday,
        "a zero span is no time at all"
    );
}

#[test]
fn holidays_count_no_business_time() {
    let h = hours(
        "Europe/Berlin",
        "Mon-Fri",
        "09:00",
        "18:00",
        &["2026-12-24", "2026-12-25", "2026-12-31", "2027-01-01"],
    );
    // Wednesday 23 December, 17:30: 30 minutes that day, then the next
    // working day is Monday 28 December.
    let at = local("Europe/Berlin", date(2026, 12, 23), 17, 30);
    assert_eq!(
        h.add(at, 60 * MIN),
        local("Europe/Berlin", date(2026, 12, 28), 9, 30)
    );
    // An alert on a holiday waits for the next working day.
    let on_holiday = local("Europe/Berlin", date(2026, 12, 31), 10, 0);
    assert!(!h.is_open(on_holiday));
    assert_eq!(
        h.add(on_holiday, 60 * MIN),
        local("Europe/Berlin", date(2027, 1, 4), 10, 0)
    );
}

#[test]
fn the_clock_follows_berlin_across_its_daylight_saving_changes() {
    let h = berlin();
    // Friday 27 March 2026 17:50 CET (UTC+1); summer time starts on Sunday
    // the 29th; Monday 09:50 is CEST (UTC+2).
    let at = local("Europe/Berlin", date(2026, 3, 27), 17, 50);
    assert_eq!(at, utc("2026-03-27T16:50:00Z"));
    assert_eq!(h.add(at, 60 * MIN), utc("2026-03-30T07:50:00Z"));
    // Friday 23 October CEST; winter time from Sunday the 25th.
    let at = local("Europe/Berlin", date(2026, 10, 23), 17, 50);
    assert_eq!(at, utc("2026-10-23T15:50:00Z"));
    assert_eq!(h.add(at, 60 * MIN), utc("2026-10-26T08:50:00Z"));

    // A team open around the clock on Sundays: the day of the change has
    // 23 hours in March and 25 in October.
    let sunday = hours("Europe/Berlin", "Sun", "00:00", "24:00", &[]);
    let march = local("Europe/Berlin", date(2026, 3, 29), 0, 0);
    let october = local("Europe/Berlin", date(2026, 10, 25), 0, 0);
    assert_eq!(
        sunday.add(march, 23 * HOUR),
        local("Europe/Berlin", date(2026, 3, 30), 0, 0)
    );
    assert_eq!(
        sunday.add(october, 25 * HOUR),
        local("Europe/Berlin", date(2026, 10, 26), 0, 0)
    );
    // Hours that span the change (01:00–04:00) count its real length.
    let night = hours("Europe/Berlin", "Sun", "01:00", "04:00", &[]);
    let one = local("Europe/Berlin", date(2026, 3, 29), 1, 0);
    assert_eq!(night.add(one, 2 * HOUR), utc("2026-03-29T02:00:00Z"));
    assert_eq!(
        night.add(one, 2 * HOUR + 1),
        local("Europe/Berlin", date(2026, 4, 5), 1, 0) + 1
    );
    let one = local("Europe/Berlin", date(2026, 10, 25), 1, 0);
    assert_eq!(night.add(one, 4 * HOUR), utc("2026-10-25T03:00:00Z"));
    // An opening time inside the gap is read as the time after it.
    let gap = hours("Europe/Berlin", "Sun", "02:30", "04:00", &[]);
    let before = local("Europe/Berlin", date(2026, 3, 29), 0, 0);
    assert_eq!(gap.add(before, 1), utc("2026-03-29T01:30:00Z") + 1);
}

#[test]
fn the_clock_follows_new_york_across_its_daylight_saving_changes() {
    let h = hours("America/New_York", "Mon-Fri", "09:00", "17:00", &[]);
    // Summer time starts on Sunday 8 March 2026: Friday EST (UTC−5),
    // Monday EDT (UTC−4).
    let at = local("America/New_York", date(2026, 3, 6), 16, 30);
    assert_eq!(at, utc("2026-03-06T21:30:00Z"));
    assert_eq!(h.add(at, 90 * MIN), utc("2026-03-09T14:00:00Z"));
    // It ends on Sunday 1 November.
    let at = local("America/New_York", date(2026, 10, 30), 16, 30);
    assert_eq!(at, utc("2026-10-30T20:30:00Z"));
    assert_eq!(h.add(at, 90 * MIN), utc("2026-11-02T15:00:00Z"));
    let sunday = hours("America/New_York", "Sun", "00:00", "24:00", &[]);
    let november = local("America/New_York", date(2026, 11, 1), 0, 0);
    assert_eq!(
        sunday.add(november, 25 * HOUR),
        local("America/New_York", date(2026, 11, 2), 0, 0)
    );
}

#[test]
fn working_days_end_at_the_same_business_time() {
    let h = berlin();
    let tuesday = local("Europe/Berlin", date(2026, 11, 17), 14, 0);
    assert_eq!(
        h.add_working_days(tuesday, 3),
        local("Europe/Berlin", date(2026, 11, 20), 14, 0)
    );
    // Friday 14:00 + 3 working days is Wednesday 14:00.
    let friday = local("Europe/Berlin", date(2026, 11, 20), 14, 0);
    assert_eq!(
        h.add_working_days(friday, 3),
        local("Europe/Berlin", date(2026, 11, 25), 14, 0)
    );
    // From a Saturday, the clock starts on Monday morning.
    let saturday = local("Europe/Berlin", date(2026, 11, 21), 10, 0);
    assert_eq!(
        h.add_working_days(saturday, 3),
        local("Europe/Berlin", date(2026, 11, 25), 18, 0)
    );
    assert_eq!(h.add_working_days(saturday, 0), saturday);
}

#[test]
fn the_roster_strings_parse_strictly() {
    let week = |s: &str| parse_days(s).map(|d| d.map(u8::from));
    assert_eq!(week("Mon-Fri"), Ok([1, 1, 1, 1, 1, 0, 0]));
    assert_eq!(week("mon, wed ,FRI"), Ok([1, 0, 1, 0, 1, 0, 0]));
    assert_eq!(week("Sun-Thu"), Ok([1, 1, 1, 1, 0, 0, 1]));
    assert_eq!(week("Mon-Sun"), Ok([1; 7]));
    assert_eq!(week("Sat"), Ok([0, 0, 0, 0, 0, 1, 0]));
    for bad in ["", "Monday", "Mon-", "Mon-Fri,", "Mo-Fr"] {
        let e = parse_days(bad).unwrap_err();
        assert!(e.contains("is not a day"), "{bad:?}: {e}");
    }
    assert_eq!(parse_clock("09:00", false), Ok(540));
    assert_eq!(parse_clock("23:59", false), Ok(1439));
    assert_eq!(parse_clock("24:00", true), Ok(1440));
    for (bad, end) in [
        ("24:00", false),
        ("24:01", true),
        ("9:00", true),
        ("09:60", true),
        ("0900", true),
        ("09:00:00", true),
        ("-1:00", true),
    ] {
        let e = parse_clock(bad, end).unwrap_err();
        assert!(e.contains("is not a time of day"), "{bad:?}: {e}");
    }
    assert_eq!(parse_date("2026-12-25"), Ok(date(2026, 12, 25)));
    for bad in [
        "2026-02-30",
        "2026-12-5",
        "26-12-25",
        "2026-12-25T00:00",
        "",
    ] {
        let e = parse_date(bad).unwrap_err();
        assert!(e.contains("is not a date"), "{bad:?}: {e}");
    }
    let tz = TimeZone::get("UTC").unwrap();
    let never = BusinessHours::new(tz.clone(), "UTC", [true; 7], 600, 600, BTreeSet::new());
    assert!(never.unwrap_err().contains("must be before `close`"));
    let none = BusinessHours::new(tz, "UTC", [false; 7], 540, 600, BTreeSet::new());
    assert!(none.unwrap_err().contains("no working day"));
    assert_eq!(
        hours(
            "Europe/Berlin",
            "Mon-Wed,Fri",
            "09:00",
            "18:00",
            &["2026-12-25"]
        )
        .to_string(),
        "Mon–Wed, Fri 09:00–18:00 Europe/Berlin, 1 holiday"
    );
}

// ---- properties -------------------------------------------------------------

/// Zones with and without daylight saving time, and with a half-hour offset.
const ZONES: [&str; 4] = ["Europe/Berlin", "America/New_York", "UTC", "Asia/Kolkata"];

/// Opening and closing times, minutes after midnight. Times from 01:00 to
/// 03:00 are left out: there the zones above change their clocks, and the
/// module reads an `open` or `close` inside a gap or a repeated hour by a
/// convention the wall-clock count below does not share.
fn clock_times() -> Vec<u16> {
    (0..60).chain(181..=1440).collect()
}

#[derive(Debug, Clone)]
struct Spec {
    zone: &'static str,
    days: [bool; 7],
    open: u16,
    close: u16,
    holidays: BTreeSet<Date>,
}

impl Spec {
    fn build(&self) -> BusinessHours {
        BusinessHours::new(
            TimeZone::get(self.zone).unwrap(),
            self.zone,
            self.days,
            self.open,
            self.close,
            self.holidays.clone(),
        )
        .unwrap()
    }

    /// Whether the minute starting at `t` is business time, read off the
    /// wall clock alone.
    fn open_minute(&self, t: Millis) -> bool {
        let tz = TimeZone::get(self.zone).unwrap();
        let dt = tz.to_datetime(Timestamp::from_millisecond(t).unwrap());
        let day = dt.date();
        let minute = dt.hour() as u16 * 60 + dt.minute() as u16;
        self.days[day.weekday().to_monday_zero_offset() as usize]
            && !self.holidays.contains(&day)
            && self.open <= minute
            && minute < self.close
    }
}

/// The first day of the period the properties range over: every DST
/// change of 2026 in Berlin and New York falls inside it.
const START: Date = date(2026, 3, 1);

fn spec() -> impl Strategy<Value = Spec> {
    let times = clock_times();
    let n = times.len();
    (
        0..ZONES.len(),
        prop::array::uniform7(any::<bool>()).prop_filter("a working day", |d| d.contains(&true)),
        (0..n - 1).prop_flat_map(move |i| (Just(i), i + 1..n)),
        prop::collection::btree_set(0..300i32, 0..12),
    )
        .prop_map(move |(z, days, (i, j), holidays)| Spec {
            zone: ZONES[z],
            days,
            open: times[i],
            close: times[j],
            holidays: holidays
                .into_iter()
                .map(|d| START.checked_add(jiff::Span::new().days(d)).unwrap())
                .collect(),
        })
}

/// A whole minute in March to November 2026 (UTC).
fn minute_in_2026() -> impl Strategy<Value = Millis> {
    let start = utc("2026-03-01T00:00:00Z");
    (0..270 * 24 * 60i64).prop_map(move |m| start + m * MIN)
}

/// A span of up to `days` working days, in thousandths of one.
#[derive(Debug, Clone, Copy)]
struct WorkingTime(i64);

impl WorkingTime {
    fn of(self, h: &BusinessHours) -> Millis {
        (h.day_length() * self.0 / 1000).max(1)
    }
}

fn working_time(days: i64) -> impl Strategy<Value = WorkingTime> {
    (1..=days * 1000).prop_map(WorkingTime)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The deadline is where the wall clock has shown exactly `span` of
    /// working time since `at`, never counting a closed day, a holiday or
    /// the hours outside `open`–`close`, and it ends on working time.
    #[test]
    fn the_deadline_counts_exactly_the_working_minutes(
        spec in spec(),
        at in minute_in_2026(),
        // Up to two working days, in whole minutes.
        fraction in 1u32..=2000,
    ) {
        let h = spec.build();
        let day = Millis::from(spec.close - spec.open);
        let minutes = (day * Millis::from(fraction) / 1000).max(1);
        let deadline = h.add(at, minutes * MIN);
        prop_assert_eq!(deadline % MIN, 0);
        prop_assert!(deadline > at);
        let mut counted = 0;
        let mut t = at;
        while t < deadline {
            if spec.open_minute(t) {
                counted += 1;
            }
            t += MIN;
        }
        prop_assert_eq!(counted, minutes, "{} from {}", h, at);
        prop_assert!(spec.open_minute(deadline - MIN), "ends on working time");
        prop_assert!(h.is_open(deadline - 1));
    }

    /// Wherever it starts, to the millisecond, a deadline lies after an
    /// opening and at or before a closing.
    #[test]
    fn a_deadline_always_falls_in_working_hours(
        spec in spec(),
        at in minute_in_2026(),
        jitter in 0..MIN,
        span in working_time(3),
    ) {
        let h = spec.build();
        let span = span.of(&h);
        let deadline = h.add(at + jitter, span);
        prop_assert!(h.is_open(deadline - 1), "{} + {} → {}", at + jitter, span, deadline);
        prop_assert!(deadline >= at + jitter + span, "business time never runs faster");
    }

    /// Adding business time is monotonic in the start and in the span.
    #[test]
    fn adding_business_time_is_monotonic(
        spec in spec(),
        a in minute_in_2026(),
        b in minute_in_2026(),
        s in working_time(2),
        t in working_time(2),
    ) {
        let h = spec.build();
        let (s, t) = (s.of(&h), t.of(&h));
        let (a, b) = (a.min(b), a.max(b));
        let (s, t) = (s.min(t), s.max(t));
        prop_assert!(h.add(a, s) <= h.add(b, s));
        prop_assert!(h.add(a, s) <= h.add(a, t));
    }

    /// Making a working day inside the counted stretch a holiday moves the
    /// deadline later; a holiday after it changes nothing.
    #[test]
    fn a_holiday_takes_its_day_out(
        spec in spec(),
        at in minute_in_2026(),
        span in working_time(5),
    ) {
        let h = spec.build();
        let span = span.of(&h);
        let deadline = h.add(at, span);
        let tz = TimeZone::get(spec.zone).unwrap();
        let day_of = |t: Millis| tz.to_datetime(Timestamp::from_millisecond(t).unwrap()).date();
        let last = day_of(deadline - 1);
        let mut later = spec.clone();
        later.holidays.insert(last.tomorrow().unwrap());
        prop_assert_eq!(later.build().add(at, span), deadline);
        // The deadline's own day was working time: without it, later.
        let mut without = spec.clone();
        without.holidays.insert(last);
        prop_assert!(without.build().add(at, span) > deadline);
    }

    /// Around the clock (every day 00:00–24:00 in UTC) business time is
    /// plain time.
    #[test]
    fn around_the_clock_is_plain_addition(
        at in -4_000_000_000_000i64..4_000_000_000_000,
        span in 0..(400 * 24 * HOUR),
    ) {
        let h = hours("UTC", "Mon-Sun", "00:00", "24:00", &[]);
        prop_assert_eq!(h.add(at, span), at + span);
    }
}
