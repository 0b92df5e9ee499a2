//! How the demo speaks to a person at a terminal: why a lead scores what it
//! does (in parts that add up to the score), deadlines in local time with
//! how far off they are, and reps by name.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use time::{OffsetDateTime, UtcOffset};

use crate::core::{Alert, Millis, Reason, Roster, SlaBreach};

/// Drivers named one by one in a "why" line; the rest are summed.
const DRIVERS: usize = 3;

/// Why a lead scores `score`: its largest positive reasons, the sum of the
/// other positive ones, then every penalty, so the parts add up to the
/// score (within the hundredths each reason is rounded to).
///
/// `+35 Requested a demo, +25 Senior title, +8 Viewed pricing ×3, + 21 from 4 more, −10 Unsubscribed = 79`
pub fn why(reasons: &[Reason], score: f64) -> String {
    let mut positive: Vec<&Reason> = reasons.iter().filter(|r| r.points > 0.0).collect();
    positive.sort_by(|a, b| {
        b.points
            .total_cmp(&a.points)
            .then_with(|| a.rule_id.cmp(&b.rule_id))
    });
    let mut parts: Vec<String> = positive
        .iter()
        .take(DRIVERS)
        .map(|r| format!("+{} {}", points(r.points), labelled(r)))
        .collect();
    let rest = &positive[DRIVERS.min(positive.len())..];
    if !rest.is_empty() {
        let sum: f64 = rest.iter().map(|r| r.points).sum();
        parts.push(format!("+ {} from {} more", points(sum), rest.len()));
    }
    for r in reasons.iter().filter(|r| r.points < 0.0) {
        parts.push(format!("−{} {}", points(-r.points), labelled(r)));
    }
    if parts.is_empty() {
        parts.push("no scoring rule applies".into());
    }
    format!("{} = {}", parts.join(", "), points(score))
}

fn labelled(r: &Reason) -> String {
    if r.count > 1 {
        format!("{} ×{}", r.label, r.count)
    } else {
        r.label.to_string()
    }
}

/// Points as people write them: `35`, `12.5`, `7.25`.
pub fn points(p: f64) -> String {
    let hundredths = (p * 100.0).round() / 100.0;
    let s = format!("{hundredths:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".into()
    } else {
        s.to_owned()
    }
}

/// The wall-clock time of `at` in `offset`, to the second: `14:05:09`.
pub fn clock(at: Millis, offset: UtcOffset) -> String {
    let t = OffsetDateTime::from_unix_timestamp(at.div_euclid(1000))
        .map_or(OffsetDateTime::UNIX_EPOCH, |t| t.to_offset(offset));
    format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second())
}

/// How far `at` is from `now`: `in 20 s`, `2 min ago`, `now`.
pub fn relative(at: Millis, now: Millis) -> String {
    let secs = ((at - now) as f64 / 1000.0).round() as i64;
    let size = |s: i64| match s {
        0..120 => format!("{s} s"),
        120..7_200 => format!("{} min", (s as f64 / 60.0).round() as i64),
        _ => format!("{} h", (s as f64 / 3600.0).round() as i64),
    };
    match secs {
        0 => "now".into(),
        s if s > 0 => format!("in {}", size(s)),
        s => format!("{} ago", size(-s)),
    }
}

/// `UTC+01:00`, `UTC`: what the clock times are in.
pub fn zone(offset: UtcOffset) -> String {
    if offset == UtcOffset::UTC {
        return "UTC".into();
    }
    let (h, m, _) = offset.as_hms();
    let sign = if offset.is_negative() { '-' } else { '+' };
    format!("UTC{sign}{:02}:{:02}", h.unsigned_abs(), m.unsigned_abs())
}

/// A rep's name from the roster; the id itself when the roster does not
/// list them (a team lead from outside the teams, say).
pub fn rep_name<'a>(roster: Option<&'a Roster>, id: &'a str) -> &'a str {
    roster
        .into_iter()
        .flat_map(|r| &r.teams)
        .flat_map(|t| &t.reps)
        .find(|r| &*r.id == id)
        .map_or(id, |r| r.name.as_str())
}

/// A team's name from the roster, else its id.
pub fn team_name<'a>(roster: Option<&'a Roster>, id: &'a str) -> &'a str {
    roster
        .and_then(|r| r.team(id))
        .map_or(id, |t| t.name.as_str())
}

/// What the console needs to speak of people and times.
pub(super) struct View {
    pub(super) roster: Option<Arc<crate::core::Roster>>,
    pub(super) offset: UtcOffset,
}

impl View {
    pub(super) fn rep<'a>(&'a self, id: &'a str) -> &'a str {
        rep_name(self.roster.as_deref(), id)
    }

    fn team<'a>(&'a self, id: &'a str) -> &'a str {
        team_name(self.roster.as_deref(), id)
    }

    /// `14:05:09 (in 20 s)`.
    fn deadline(&self, at: Millis) -> String {
        format!("{} ({})", clock(at, self.offset), relative(at, now_ms()))
    }

    pub(super) fn alert(&self, alert: &Alert) -> String {
        let owner = match (alert.owner_rep.as_deref(), alert.owner_team.as_deref()) {
            (Some(rep), Some(team)) => format!(
                "  → {}, {}  respond by {}",
                self.rep(rep),
                self.team(team),
                self.deadline(alert.respond_by)
            ),
            _ => String::new(),
        };
        format!(
            "HOT LEAD {}  score {} ≥ {}  {}{owner}\n         why: {}",
            alert.lead_id,
            points(alert.score),
            points(alert.threshold),
            alert.company_domain.as_deref().unwrap_or("-"),
            why(&alert.reasons, alert.score)
        )
    }

    pub(super) fn breach(&self, b: &SlaBreach) -> String {
        let again = if b.breach_number > 1 {
            " (after a reassignment)"
        } else {
            ""
        };
        let moved = match (b.reassigned_to.as_deref(), b.new_respond_by) {
            (Some(rep), Some(by)) => format!(
                "; reassigned to {}, respond by {}",
                self.rep(rep),
                self.deadline(by)
            ),
            _ => String::new(),
        };
        format!(
            "SLA BREACH {}  {}{again} did not respond by {}; escalated to {}, lead of {}{moved}",
            b.lead_id,
            self.rep(&b.rep),
            self.deadline(b.respond_by),
            self.rep(&b.escalate_to),
            self.team(&b.team)
        )
    }
}

/// The wall clock, which the demo's deadlines are on.
pub(super) fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ReasonKind;

    fn reason(id: &str, points: f64, count: u32) -> Reason {
        Reason {
            rule_id: Arc::from(id),
            label: Arc::from(format!("Label {id}")),
            kind: ReasonKind::Engagement,
            points,
            count,
            last_seen: 0,
        }
    }

    /// The numbers of a "why" line, signed: what its reader adds up.
    fn parts(line: &str) -> (Vec<f64>, f64) {
        let (body, total) = line.rsplit_once(" = ").unwrap();
        let parts = body
            .split(", ")
            .map(|p| {
                let p = p.replace("+ ", "+").replace('−', "-");
                p.split(' ').next().unwrap().parse::<f64>().unwrap()
            })
            .collect();
        (parts, total.parse().unwrap())
    }

    #[test]
    fn why_names_the_top_drivers_sums_the_rest_and_shows_penalties_apart() {
        let reasons = vec![
            reason("demo", 35.0, 1),
            reason("unsubscribed", -40.0, 1),
            reason("title", 25.0, 1),
            reason("pricing", 8.0, 3),
            reason("webinar", 7.5, 1),
            reason("size", 15.0, 1),
            reason("whitepaper", 12.25, 2),
            reason("bounce", -5.0, 1),
        ];
        let score: f64 = reasons.iter().map(|r| r.points).sum();
        let line = why(&reasons, score);
        assert_eq!(
            line,
            "+35 Label demo, +25 Label title, +15 Label size, + 27.75 from 3 more, \
             −40 Label unsubscribed, −5 Label bounce = 57.75"
        );
        let (parts, total) = parts(&line);
        assert!((parts.iter().sum::<f64>() - total).abs() < 1e-9, "{line}");
    }

    #[test]
    fn why_adds_up_to_the_score_however_many_reasons_there_are() {
        for n in 0..9 {
            let reasons: Vec<Reason> = (0..n)
                .map(|i| {
                    let p = f64::from(i * 7 % 11) - 3.0 + f64::from(i) / 4.0;
                    reason(&format!("r{i}"), p, i)
                })
                .collect();
            let score = reasons.iter().map(|r| r.points).sum::<f64>();
            let line = why(&reasons, score);
            let (parts, total) = parts(&line.replace("no scoring rule applies", "0"));
            assert!(
                (parts.iter().sum::<f64>() - total).abs() < 0.005 * (n.max(1) as f64),
                "{line}"
            );
            assert!(
                line.matches(", +").count() <= DRIVERS,
                "at most {DRIVERS} drivers named: {line}"
            );
        }
    }

    #[test]
    fn a_count_is_shown_with_its_label() {
        let line = why(&[reason("pricing", 24.0, 3)], 24.0);
        assert_eq!(line, "+24 Label pricing ×3 = 24");
    }

    #[test]
    fn points_drop_needless_decimals() {
        assert_eq!(points(35.0), "35");
        assert_eq!(points(12.5), "12.5");
        assert_eq!(points(7.254), "7.25");
        assert_eq!(points(-0.001), "0");
    }

    #[test]
    fn deadlines_read_as_a_clock_and_a_distance() {
        // 2026-12-01T22:09:10.873Z
        let at = 1_796_162_950_873;
        assert_eq!(clock(at, UtcOffset::UTC), "22:09:10");
        let cet = UtcOffset::from_hms(1, 0, 0).unwrap();
        assert_eq!(clock(at, cet), "23:09:10");
        assert_eq!(zone(cet), "UTC+01:00");
        assert_eq!(zone(UtcOffset::from_hms(-5, -30, 0).unwrap()), "UTC-05:30");
        assert_eq!(zone(UtcOffset::UTC), "UTC");
        assert_eq!(relative(at + 20_000, at), "in 20 s");
        assert_eq!(relative(at - 120_000, at), "2 min ago");
        assert_eq!(relative(at - 400, at), "now");
        assert_eq!(relative(at - 1_500, at), "2 s ago");
        assert_eq!(relative(at + 3 * 3_600_000, at), "in 3 h");
    }

    #[test]
    fn reps_and_teams_go_by_name_and_unknown_ones_by_id() {
        let roster = Roster::from_toml(
            "r.toml",
            "[[team]]\nid = \"emea\"\nname = \"EMEA\"\nlead = \"erik\"\n\
             [[team.rep]]\nid = \"lars\"\nname = \"Lars Jensen\"\n",
        )
        .unwrap();
        assert_eq!(rep_name(Some(&roster), "lars"), "Lars Jensen");
        assert_eq!(rep_name(Some(&roster), "erik"), "erik");
        assert_eq!(rep_name(None, "lars"), "lars");
        assert_eq!(team_name(Some(&roster), "emea"), "EMEA");
        assert_eq!(team_name(Some(&roster), "apac"), "apac");
    }
}
