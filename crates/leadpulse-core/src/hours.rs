//! Business hours: the clock a team's SLA and feedback deadline run on.
//!
//! A team works on some weekdays, from an opening to a closing time on its
//! own wall clock, except on holidays; only that time counts. An alert on
//! Friday at 17:50 with a 60-minute SLA, for a team open Mon–Fri
//! 09:00–18:00, is due on Monday at 09:50.
//!
//! Pure: the time zone's rules come from the tz database compiled into the
//! binary (jiff's bundled copy), looked up once when the roster is loaded.
//! Every deadline is then computed from event time alone, so `run` and
//! `replay` agree.
//!
//! A working day's hours are the span from the instant its wall clock shows
//! `open` to the instant it shows `close`. When `open` or `close` itself
//! falls in a daylight-saving gap it is read as the same time after the
//! gap (02:30 on a day that skips 02:00–03:00 is 03:30); in the repeated
//! hour of a fall-back, as its first occurrence. Hours that merely span a
//! change (say 00:00–24:00, or 01:00–04:00) count the day's real length:
//! 23 or 25 hours for the whole day.

use std::collections::BTreeSet;
use std::fmt;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::event::Millis;

const MINUTE_MS: Millis = 60_000;
/// The longest span [`BusinessHours::add`] is asked for, in working days
/// (the roster refuses longer SLAs and feedback periods), so that counting
/// day by day stays cheap.
pub const MAX_WORKING_DAYS: u32 = 366;

/// When a team works: weekdays, opening and closing time on its wall clock,
/// holidays, all in one IANA time zone.
#[derive(Debug, Clone)]
pub struct BusinessHours {
    zone_name: String,
    time_zone: TimeZone,
    /// Working weekdays, Monday first.
    days: [bool; 7],
    /// Minutes after local midnight; `close` may be 1440 (24:00).
    open: u16,
    close: u16,
    /// Local dates without business time.
    holidays: BTreeSet<Date>,
}

impl BusinessHours {
    /// Hours on `days` from `open` to `close` (minutes after midnight, close
    /// up to 24:00) in `time_zone`, except on `holidays`. Refuses hours that
    /// never open.
    pub fn new(
        time_zone: TimeZone,
        zone_name: &str,
        days: [bool; 7],
        open: u16,
        close: u16,
        holidays: BTreeSet<Date>,
    ) -> Result<BusinessHours, String> {
        if !days.contains(&true) {
            return Err("no working day".into());
        }
        if close > 24 * 60 || open >= close {
            return Err(format!(
                "`open` ({}) must be before `close` ({}); hours past midnight are not supported",
                Clock(open),
                Clock(close)
            ));
        }
        Ok(BusinessHours {
            zone_name: zone_name.to_owned(),
            time_zone,
            days,
            open,
            close,
            holidays,
        })
    }

    /// The IANA name of the team's time zone.
    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    /// The business time of one full working day.
    pub fn day_length(&self) -> Millis {
        Millis::from(self.close - self.open) * MINUTE_MS
    }

    /// The instant at which `span` of business time has passed since `at`.
    ///
    /// The result lies within a working day's hours: after its opening and
    /// at or before its closing (a deadline at 18:00 sharp is the last
    /// moment of that day, not 09:00 the next). A zero span is `at` itself.
    /// Monotonic in both arguments.
    pub fn add(&self, at: Millis, span: Millis) -> Millis {
        // Only outside the calendar (beyond the years ±9999) is there no
        // answer; there the plain sum is as good as any.
        self.try_add(at, span)
            .unwrap_or_else(|| at.saturating_add(span))
    }

    /// The instant at which `days` full working days of business time have
    /// passed since `at`: from a handoff on Tuesday at 14:00, three working
    /// days (Mon–Fri) end on Friday at 14:00; from one on Saturday, on
    /// Wednesday at closing time.
    pub fn add_working_days(&self, at: Millis, days: u32) -> Millis {
        self.add(at, Millis::from(days) * self.day_length())
    }

    /// Whether `at` is business time: a working day that is no holiday, at
    /// or after its opening and before its closing.
    pub fn is_open(&self, at: Millis) -> bool {
        let Ok(date) = self.local_date(at) else {
            return false;
        };
        // The span of the local date, or (around a change at midnight) of
        // the day before, holds `at`.
        [date.yesterday().ok(), Some(date)]
            .into_iter()
            .flatten()
            .filter_map(|d| self.hours_on(d).ok().flatten())
            .any(|(open, close)| open <= at && at < close)
    }

    fn try_add(&self, at: Millis, span: Millis) -> Option<Millis> {
        if span <= 0 {
            return Some(at);
        }
        // Start a day early: a day's hours end by the next local midnight,
        // but that midnight can be read back into the day before when the
        // clock changes at midnight.
        let mut date = self.local_date(at).ok()?.yesterday().ok()?;
        let mut left = span;
        // Enough days for the longest span the roster allows on the
        // sparsest week, plus every holiday.
        let budget = (MAX_WORKING_DAYS as usize + 2) * 7 + self.holidays.len();
        for _ in 0..budget {
            if let Some((open, close)) = self.hours_on(date).ok()? {
                let from = open.max(at);
                if from < close {
                    let available = close - from;
                    if left <= available {
                        return Some(from + left);
                    }
                    left -= available;
                }
            }
            date = date.tomorrow().ok()?;
        }
        None
    }

    fn local_date(&self, at: Millis) -> Result<Date, jiff::Error> {
        let ts = Timestamp::from_millisecond(at)?;
        Ok(self.time_zone.to_datetime(ts).date())
    }

    /// The instants a working day opens and closes; `None` on a closed day.
    fn hours_on(&self, date: Date) -> Result<Option<(Millis, Millis)>, jiff::Error> {
        let weekday = date.weekday().to_monday_zero_offset() as usize;
        if !self.days[weekday] || self.holidays.contains(&date) {
            return Ok(None);
        }
        Ok(Some((
            self.instant(date, self.open)?,
            self.instant(date, self.close)?,
        )))
    }

    fn instant(&self, date: Date, minutes: u16) -> Result<Millis, jiff::Error> {
        let local: DateTime = if minutes >= 24 * 60 {
            date.tomorrow()?.at(0, 0, 0, 0)
        } else {
            date.at((minutes / 60) as i8, (minutes % 60) as i8, 0, 0)
        };
        let ts = self.time_zone.to_ambiguous_timestamp(local).compatible()?;
        Ok(ts.as_millisecond())
    }
}

impl fmt::Display for BusinessHours {
    /// `Mon–Fri 09:00–18:00 Europe/Berlin, 2 holidays`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}–{} {}",
            Days(self.days),
            Clock(self.open),
            Clock(self.close),
            self.zone_name
        )?;
        match self.holidays.len() {
            0 => Ok(()),
            1 => write!(f, ", 1 holiday"),
            n => write!(f, ", {n} holidays"),
        }
    }
}

/// Minutes after midnight as `HH:MM`.
struct Clock(u16);

impl fmt::Display for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

const DAY_NAMES: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Working weekdays as ranges: `Mon–Fri`, `Mon–Wed, Fri`.
struct Days([bool; 7]);

impl fmt::Display for Days {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        let mut i = 0;
        while i < 7 {
            if !self.0[i] {
                i += 1;
                continue;
            }
            let start = i;
            while i + 1 < 7 && self.0[i + 1] {
                i += 1;
            }
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            match i - start {
                0 => f.write_str(DAY_NAMES[start])?,
                1 => write!(f, "{}, {}", DAY_NAMES[start], DAY_NAMES[i])?,
                _ => write!(f, "{}–{}", DAY_NAMES[start], DAY_NAMES[i])?,
            }
            i += 1;
        }
        Ok(())
    }
}

// ---- parsing the roster's strings -------------------------------------------

/// An IANA time zone from the built-in database, such as `Europe/Berlin`.
pub fn parse_time_zone(name: &str) -> Result<TimeZone, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("must name an IANA time zone such as \"Europe/Berlin\"".into());
    }
    TimeZone::get(name).map_err(|_| {
        format!("unknown time zone `{name}`; use an IANA name such as \"Europe/Berlin\" or \"UTC\"")
    })
}

/// Weekdays such as `Mon-Fri`, `Mon,Wed,Fri` or `Sun-Thu` (three-letter
/// English names, any case; a range may wrap past Sunday).
pub fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let day = |s: &str| -> Result<usize, String> {
        let s = s.trim();
        DAY_NAMES
            .iter()
            .position(|d| d.eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                format!(
                    "`{s}` is not a day; write three-letter names as in \"Mon-Fri\" or \"Mon,Wed,Fri\""
                )
            })
    };
    let mut days = [false; 7];
    for part in text.split(',') {
        match part.split_once('-') {
            Some((from, to)) => {
                let (from, to) = (day(from)?, day(to)?);
                let mut d = from;
                loop {
                    days[d] = true;
                    if d == to {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => days[day(part)?] = true,
        }
    }
    Ok(days)
}

/// A wall-clock time `HH:MM` as minutes after midnight; `24:00` only when
/// `end_of_day` is allowed (a closing time).
pub fn parse_clock(text: &str, end_of_day: bool) -> Result<u16, String> {
    let bad = || {
        format!(
            "`{text}` is not a time of day; write \"HH:MM\", 00:00 to {}",
            if end_of_day { "24:00" } else { "23:59" }
        )
    };
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    let digits = |s: &str, max: u16| -> Option<u16> {
        (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
            .filter(|v| *v <= max)
    };
    let (h, m) = (
        digits(h, 24).ok_or_else(bad)?,
        digits(m, 59).ok_or_else(bad)?,
    );
    let minutes = h * 60 + m;
    if minutes > 24 * 60 || (minutes == 24 * 60 && !end_of_day) {
        return Err(bad());
    }
    Ok(minutes)
}

/// A local calendar date `YYYY-MM-DD`.
pub fn parse_date(text: &str) -> Result<Date, String> {
    let bad = || format!("`{text}` is not a date; write \"YYYY-MM-DD\"");
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let num = |s: &str, len: usize| -> Option<i16> {
        (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (y, m, d) = (
        num(y, 4).ok_or_else(bad)?,
        num(m, 2).ok_or_else(bad)?,
        num(d, 2).ok_or_else(bad)?,
    );
    Date::new(y, m as i8, d as i8).map_err(|_| bad())
}
