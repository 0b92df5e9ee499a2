//! What a person is told: a notice built from one alert, breach or overdue
//! record and the roster, and its view for one recipient (deadline in their
//! time zone, links). Pure: the caller gives the time.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::codec::format_rfc3339;
use crate::core::{
    Alert, FeedbackOverdue, Grade, Millis, Reason, ReasonKind, Rep, Roster, SlaBreach,
};

/// Which record a notice comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// `hot-lead-alerts`: a lead became sales-ready.
    HotLead,
    /// `sla-breaches`: a follow-up deadline passed.
    SlaBreach,
    /// `feedback-overdue`: no accept or reject in time.
    FeedbackOverdue,
}

impl NoticeKind {
    /// The webhook event type.
    pub fn event_type(self) -> &'static str {
        match self {
            NoticeKind::HotLead => "lead.hot",
            NoticeKind::SlaBreach => "lead.sla_breached",
            NoticeKind::FeedbackOverdue => "lead.feedback_overdue",
        }
    }
}

/// One record, decoded.
#[derive(Debug, Clone)]
pub enum Record {
    Alert(Alert),
    Breach(SlaBreach),
    Overdue(FeedbackOverdue),
}

/// What every channel says about one record.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: NoticeKind,
    /// The record's own id (alert id, breach id, `<alert id>-overdue`):
    /// the stem of every delivery's idempotency key.
    pub source_id: String,
    pub lead_id: String,
    pub alert_id: String,
    pub company: Option<String>,
    pub account_id: Option<String>,
    pub score: Option<f64>,
    pub grade: Option<Grade>,
    /// Largest share first.
    pub reasons: Vec<Reason>,
    /// The respond-by (alerts, breaches) or feedback deadline.
    pub deadline: Option<Millis>,
    pub team: Option<String>,
    /// Rep ids to tell, the responsible rep first.
    pub recipients: Vec<Arc<str>>,
    /// One sentence on what happened, for breaches and overdue feedback.
    pub what: Option<String>,
}

/// Reasons and activities shown at most.
const TOP_REASONS: usize = 5;
const LAST_ACTIVITIES: usize = 3;

impl Notice {
    pub fn of(record: &Record, roster: Option<&Roster>) -> Notice {
        let name = |rep: &str| {
            roster
                .and_then(|r| r.rep(rep))
                .map_or_else(|| rep.to_owned(), |r| r.name.clone())
        };
        let mut recipients: Vec<Arc<str>> = Vec::new();
        let mut add = |rep: &str| {
            if !rep.is_empty() && !recipients.iter().any(|r| &**r == rep) {
                recipients.push(rep.into());
            }
        };
        match record {
            Record::Alert(a) => {
                if let Some(rep) = &a.owner_rep {
                    add(rep);
                }
                Notice {
                    kind: NoticeKind::HotLead,
                    source_id: a.alert_id.clone(),
                    lead_id: a.lead_id.clone(),
                    alert_id: a.alert_id.clone(),
                    company: a.company_domain.clone(),
                    account_id: a.account_id.clone(),
                    score: Some(a.score),
                    grade: Some(a.grade),
                    reasons: a.reasons.clone(),
                    deadline: Some(a.respond_by),
                    team: a.owner_team.clone(),
                    recipients,
                    what: None,
                }
            }
            Record::Breach(b) => {
                let what = match &b.reassigned_to {
                    Some(next) => format!(
                        "{} missed the follow-up deadline; the lead now goes to {} (escalated to {}).",
                        name(&b.rep),
                        name(next),
                        name(&b.escalate_to)
                    ),
                    None => format!(
                        "{} missed the follow-up deadline (escalated to {}).",
                        name(&b.rep),
                        name(&b.escalate_to)
                    ),
                };
                let deadline = b.new_respond_by.unwrap_or(b.respond_by);
                if let Some(next) = &b.reassigned_to {
                    add(next);
                }
                add(&b.rep);
                add(&b.escalate_to);
                Notice {
                    kind: NoticeKind::SlaBreach,
                    source_id: b.breach_id.clone(),
                    lead_id: b.lead_id.clone(),
                    alert_id: b.alert_id.clone(),
                    company: None,
                    account_id: None,
                    score: None,
                    grade: None,
                    reasons: Vec::new(),
                    deadline: Some(deadline),
                    team: Some(b.team.clone()),
                    recipients,
                    what: Some(what),
                }
            }
            Record::Overdue(o) => {
                add(&o.rep);
                add(&o.escalate_to);
                Notice {
                    kind: NoticeKind::FeedbackOverdue,
                    source_id: format!("{}-overdue", o.alert_id),
                    lead_id: o.lead_id.clone(),
                    alert_id: o.alert_id.clone(),
                    company: None,
                    account_id: None,
                    score: None,
                    grade: None,
                    reasons: Vec::new(),
                    deadline: Some(o.feedback_by),
                    team: Some(o.team.clone()),
                    recipients,
                    what: Some(format!(
                        "{} has neither accepted nor rejected this lead (escalated to {}).",
                        name(&o.rep),
                        name(&o.escalate_to)
                    )),
                }
            }
        }
    }

    /// The headline, e.g. `Hot lead: initech.com (score 82, grade A)`.
    pub fn headline(&self) -> String {
        let who = self.company.as_deref().unwrap_or(&self.lead_id);
        match (self.kind, self.score, self.grade) {
            (NoticeKind::HotLead, Some(s), Some(g)) => {
                format!("Hot lead: {who} (score {s:.0}, grade {})", g.as_str())
            }
            (NoticeKind::HotLead, ..) => format!("Hot lead: {who}"),
            (NoticeKind::SlaBreach, ..) => format!("Follow-up missed: {who}"),
            (NoticeKind::FeedbackOverdue, ..) => format!("Feedback overdue: {who}"),
        }
    }

    /// The top reasons, as `+25 Visited pricing (×3)`.
    pub fn reason_lines(&self) -> Vec<String> {
        self.reasons
            .iter()
            .take(TOP_REASONS)
            .map(|r| {
                let count = if r.count > 1 {
                    format!(" (×{})", r.count)
                } else {
                    String::new()
                };
                format!("{:+} {}{count}", r.points, r.label)
            })
            .collect()
    }

    /// The lead's latest activities, newest first, in `tz`.
    pub fn activity_lines(&self, tz: &jiff::tz::TimeZone) -> Vec<String> {
        let mut engagement: Vec<&Reason> = self
            .reasons
            .iter()
            .filter(|r| r.kind == ReasonKind::Engagement)
            .collect();
        engagement.sort_by(|a, b| {
            b.last_seen
                .cmp(&a.last_seen)
                .then(a.rule_id.cmp(&b.rule_id))
        });
        engagement
            .into_iter()
            .take(LAST_ACTIVITIES)
            .map(|r| format!("{}, last {}", r.label, local_time(r.last_seen, tz)))
            .collect()
    }
}

/// The stable id of one delivery: the same record to the same recipient on
/// the same channel always gets the same id, however often it is retried
/// or redelivered after a restart. `msg_` and 32 hex digits of SHA-256.
pub fn delivery_id(source_id: &str, channel: &str, target: &str) -> String {
    let mut h = Sha256::new();
    for part in [source_id, channel, target] {
        h.update(part.len().to_le_bytes());
        h.update(part.as_bytes());
    }
    let digest = h.finalize();
    let mut id = String::with_capacity(36);
    id.push_str("msg_");
    for b in &digest[..16] {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

/// `Tue 2 Dec 10:30 CET`.
pub fn local_time(at: Millis, tz: &jiff::tz::TimeZone) -> String {
    match jiff::Timestamp::from_millisecond(at) {
        Ok(t) => t
            .to_zoned_datetime(tz.clone())
            .strftime("%a %-d %b %H:%M %Z")
            .to_string(),
        Err(_) => format_rfc3339(at),
    }
}

/// The deadline as a recipient reads it: when (in their time zone), and
/// whether it has passed at `now`.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    pub at: Millis,
    /// `Tue 2 Dec 10:30 CET`.
    pub local: String,
    /// The IANA name of the zone shown (`UTC` when the rep has none).
    pub zone: String,
    pub passed: bool,
    /// `respond by Tue 2 Dec 10:30 CET (in 40 min)`, or
    /// `respond-by passed: Tue 2 Dec 10:30 CET (12 min ago)`.
    pub text: String,
}

impl Deadline {
    pub fn new(kind: NoticeKind, at: Millis, now: Millis, rep: Option<&Rep>) -> Deadline {
        let tz = rep
            .and_then(|r| r.time_zone.clone())
            .unwrap_or(jiff::tz::TimeZone::UTC);
        let zone = tz.iana_name().unwrap_or("UTC").to_owned();
        let local = local_time(at, &tz);
        let passed = at <= now;
        let what = match kind {
            NoticeKind::FeedbackOverdue => "feedback due",
            _ => "respond by",
        };
        let span = human_span((at - now).abs());
        let text = if passed {
            format!("{what} {local} has passed ({span} ago)")
        } else {
            format!("{what} {local} (in {span})")
        };
        Deadline {
            at,
            local,
            zone,
            passed,
            text,
        }
    }
}

/// `40 min`, `3 h 5 min`, `2 d 4 h`.
fn human_span(ms: Millis) -> String {
    let min = ms / 60_000;
    match min {
        0 => "less than a minute".into(),
        1..=59 => format!("{min} min"),
        60..=1439 if min % 60 == 0 => format!("{} h", min / 60),
        60..=1439 => format!("{} h {} min", min / 60, min % 60),
        _ => format!("{} d {} h", min / 1440, (min % 1440) / 60),
    }
}

/// Truncates to at most `max` characters, ending in `…` when cut.
pub fn clip(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `template` with `{lead_id}` and `{alert_id}` filled in (percent-encoded).
pub fn fill(template: &str, lead_id: &str, alert_id: &str) -> String {
    template
        .replace("{lead_id}", &encode(lead_id))
        .replace("{alert_id}", &encode(alert_id))
}

/// Percent-encodes everything but unreserved URL characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn alert() -> Alert {
        Alert {
            alert_id: "a1".into(),
            lead_id: "lead-42".into(),
            score: 82.4,
            fit: 40.0,
            engagement: 42.4,
            grade: Grade::A,
            threshold: 70.0,
            qualification: "score ≥ 70".into(),
            crossed_at: 1_764_670_000_000,
            respond_by: 1_764_673_600_000,
            model_version: "v1".into(),
            event_id: "e1".into(),
            reasons: vec![
                Reason {
                    rule_id: "pricing".into(),
                    label: "Visited pricing".into(),
                    kind: ReasonKind::Engagement,
                    points: 25.0,
                    count: 3,
                    last_seen: 1_764_669_000_000,
                },
                Reason {
                    rule_id: "cto".into(),
                    label: "Title: CTO".into(),
                    kind: ReasonKind::Fit,
                    points: 20.0,
                    count: 1,
                    last_seen: 1_764_670_000_000,
                },
                Reason {
                    rule_id: "demo".into(),
                    label: "Requested a demo".into(),
                    kind: ReasonKind::Engagement,
                    points: 30.0,
                    count: 1,
                    last_seen: 1_764_670_000_000,
                },
            ],
            company_domain: Some("initech.com".into()),
            account_id: None,
            owner_team: Some("emea".into()),
            owner_rep: Some("lars".into()),
            routed_via: Some("territory".into()),
        }
    }

    pub(crate) fn roster() -> Roster {
        Roster::from_toml(
            "r.toml",
            r#"
[[team]]
id = "emea"
lead = "ingrid"
slack_channel = "C0123ABCD"
[[team.rep]]
id = "lars"
name = "Lars Jensen"
email = "lars@example.com"
slack_user = "U024BE7LH"
time_zone = "Europe/Berlin"
[[team.rep]]
id = "ingrid"
name = "Ingrid Berg"
available = false
"#,
        )
        .unwrap()
    }

    #[test]
    fn a_deadline_reads_in_the_reps_time_zone_and_says_when_it_passed() {
        let roster = roster();
        let lars = roster.rep("lars");
        let at = 1_764_673_600_000; // 2025-12-02T11:06:40Z
        let d = Deadline::new(NoticeKind::HotLead, at, at - 40 * 60_000, lars);
        assert_eq!(d.zone, "Europe/Berlin");
        assert_eq!(d.local, "Tue 2 Dec 12:06 CET");
        assert!(!d.passed);
        assert_eq!(d.text, "respond by Tue 2 Dec 12:06 CET (in 40 min)");
        let late = Deadline::new(NoticeKind::HotLead, at, at + 12 * 60_000, lars);
        assert!(late.passed);
        assert_eq!(
            late.text,
            "respond by Tue 2 Dec 12:06 CET has passed (12 min ago)"
        );
        let utc = Deadline::new(NoticeKind::HotLead, at, at, None);
        assert_eq!(utc.local, "Tue 2 Dec 11:06 UTC");
        assert!(utc.passed);
    }

    #[test]
    fn a_notice_names_the_lead_its_reasons_and_its_latest_activities() {
        let n = Notice::of(&Record::Alert(alert()), Some(&roster()));
        assert_eq!(n.headline(), "Hot lead: initech.com (score 82, grade A)");
        assert_eq!(n.recipients, vec![Arc::<str>::from("lars")]);
        assert_eq!(
            n.reason_lines(),
            [
                "+25 Visited pricing (×3)",
                "+20 Title: CTO",
                "+30 Requested a demo"
            ]
        );
        let tz = jiff::tz::TimeZone::UTC;
        assert_eq!(
            n.activity_lines(&tz),
            [
                "Requested a demo, last Tue 2 Dec 10:06 UTC",
                "Visited pricing, last Tue 2 Dec 09:50 UTC"
            ]
        );
    }

    #[test]
    fn a_breach_tells_the_next_rep_the_one_who_missed_it_and_the_team_lead() {
        let b = SlaBreach {
            breach_id: "a1-1".into(),
            lead_id: "lead-42".into(),
            alert_id: "a1".into(),
            team: "emea".into(),
            rep: "lars".into(),
            escalate_to: "ingrid".into(),
            respond_by: 1,
            breach_number: 1,
            reassigned_to: None,
            new_respond_by: None,
        };
        let n = Notice::of(&Record::Breach(b), Some(&roster()));
        assert_eq!(n.recipients, vec![Arc::from("lars"), Arc::from("ingrid")]);
        assert_eq!(
            n.what.as_deref(),
            Some("Lars Jensen missed the follow-up deadline (escalated to Ingrid Berg).")
        );
    }

    #[test]
    fn delivery_ids_are_stable_and_differ_per_channel_and_recipient() {
        let id = delivery_id("a1", "crm", "lars");
        assert_eq!(id, delivery_id("a1", "crm", "lars"));
        assert_eq!(id.len(), 36);
        assert!(id.starts_with("msg_"));
        assert_ne!(id, delivery_id("a1", "crm", "chloe"));
        assert_ne!(id, delivery_id("a1", "slack", "lars"));
        // Parts are length-prefixed, so shifting text between them changes the id.
        assert_ne!(delivery_id("a1c", "rm", "x"), delivery_id("a1", "crm", "x"));
    }

    #[test]
    fn templates_are_filled_and_encoded() {
        assert_eq!(
            fill(
                "https://crm.example/leads/{lead_id}?a={alert_id}",
                "a b/c",
                "x"
            ),
            "https://crm.example/leads/a%20b%2Fc?a=x"
        );
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
    }
}
