//! The range of every number in a model. Anything outside is refused with
//! its line and column, so no value can overflow event-time arithmetic,
//! disable a cap or cooldown, or turn a score into NaN. docs/model.md
//! ("Numbers and their ranges") lists the same table.

use std::ops::Range;

use toml::Spanned;

use super::error::Source;
use super::DAY_MS;
use crate::event::Millis;

/// Where a number must lie.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bounds {
    pub(super) min: f64,
    pub(super) max: f64,
    /// The minimum itself is refused (thresholds must be above 0).
    pub(super) above_min: bool,
    /// Only whole numbers.
    pub(super) whole: bool,
    /// The unit, for messages ("days").
    pub(super) unit: &'static str,
}

const fn span(min: f64, max: f64) -> Bounds {
    Bounds {
        min,
        max,
        above_min: false,
        whole: false,
        unit: "",
    }
}

/// `respond_within_minutes`: up to 30 days, so `respond_by` stays a date.
pub(super) const RESPOND_WITHIN_MINUTES: Bounds = Bounds {
    whole: true,
    unit: "minutes",
    ..span(1.0, 43_200.0)
};
/// A rule's `points` (0 is refused too: such a rule would do nothing).
pub(super) const POINTS: Bounds = span(-10_000.0, 10_000.0);
/// Grade bands, `engagement_levels` and `rearm_below`: score levels.
pub(super) const SCORE_LEVEL: Bounds = span(-1_000_000.0, 1_000_000.0);
/// `score_at_least` and `engagement_at_least`.
pub(super) const THRESHOLD: Bounds = Bounds {
    above_min: true,
    ..span(0.0, 1_000_000.0)
};
/// `at_least` / `below` in attribute tests: attributes such as revenue may
/// be large, but stay exact in an f64.
pub(super) const ATTRIBUTE_NUMBER: Bounds = span(-1e15, 1e15);
/// `half_life_days`, `window_days`, `cap.per_days` and `cooldown_days`.
pub(super) const DAYS: Bounds = Bounds {
    unit: "days",
    ..span(0.001, 3_650.0)
};
/// `cap.max`: each counted match within the window is kept per lead.
pub(super) const CAP_MAX: Bounds = Bounds {
    whole: true,
    ..span(1.0, 1_000.0)
};
/// `[dedup] window_hours`: up to a year of event time; 0 turns it off.
pub(super) const DEDUP_WINDOW_HOURS: Bounds = Bounds {
    unit: "hours",
    ..span(0.0, 8_760.0)
};
/// `[dedup] max_ids`: the ids each lead remembers; 0 turns it off.
pub(super) const DEDUP_MAX_IDS: Bounds = Bounds {
    whole: true,
    ..span(0.0, 10_000.0)
};
/// `[visitors] visitor_ttl_days`: up to a year; 0 keeps no anonymous history.
pub(super) const VISITOR_TTL_DAYS: Bounds = Bounds {
    unit: "days",
    ..span(0.0, 365.0)
};
/// `[visitors] max_events`: the anonymous events each visitor keeps.
pub(super) const VISITOR_MAX_EVENTS: Bounds = Bounds {
    whole: true,
    ..span(0.0, 1_000.0)
};
/// `[account] engaged_above`: the engagement a person needs to count in
/// an account's breadth.
pub(super) const ENGAGED_ABOVE: Bounds = span(0.0, 1_000_000.0);
/// `[account] breadth_at_least` and `max_people`: people of one account;
/// each kept person costs the account's state a few hundred bytes.
pub(super) const PEOPLE: Bounds = Bounds {
    whole: true,
    ..span(1.0, 1_000.0)
};
/// How many `engagement_levels` a matrix may have (cells go up to level 10).
pub(super) const MAX_LEVELS: usize = 9;

impl Bounds {
    pub(super) fn holds(&self, v: f64) -> bool {
        let low = if self.above_min {
            v > self.min
        } else {
            v >= self.min
        };
        low && v <= self.max && (!self.whole || v.fract() == 0.0)
    }

    /// The range in words, e.g. "a whole number of days from 1 to 3650".
    pub(super) fn describe(&self) -> String {
        let kind = match (self.whole, self.unit) {
            (true, "") => "a whole number".to_owned(),
            (true, unit) => format!("a whole number of {unit}"),
            (false, "") => "a number".to_owned(),
            (false, unit) => format!("a number of {unit}"),
        };
        let (min, max) = (number(self.min), number(self.max));
        if self.above_min {
            format!("{kind} above {min} and at most {max}")
        } else {
            format!("{kind} from {min} to {max}")
        }
    }

    /// The value if it is in range; otherwise reports it and gives `None`.
    pub(super) fn check(&self, key: &str, v: &Spanned<f64>, src: &Source<'_>) -> Option<f64> {
        self.check_at(key, *v.get_ref(), v.span(), src)
    }

    pub(super) fn check_at(
        &self,
        key: &str,
        v: f64,
        at: Range<usize>,
        src: &Source<'_>,
    ) -> Option<f64> {
        if self.holds(v) {
            return Some(v);
        }
        src.report(
            at,
            format!("`{key}` must be {}, not {}", self.describe(), number(v)),
        );
        None
    }

    /// A number of days in range, in milliseconds.
    pub(super) fn days(&self, key: &str, v: &Spanned<f64>, src: &Source<'_>) -> Option<Millis> {
        self.check(key, v, src)
            .map(|d| (d * DAY_MS as f64).round() as Millis)
    }
}

/// A number as people write it: `1e307` rather than 308 digits, but
/// `4294967295` and `1000000` as they are.
pub(super) fn number(v: f64) -> String {
    let plain = v.to_string();
    if !v.is_finite() || v == 0.0 || (1e-6..1e10).contains(&v.abs()) {
        return plain;
    }
    let short = format!("{v:e}");
    if short.len() < plain.len() {
        short
    } else {
        plain
    }
}
