//! What a person is told: a notice built from one alert, breach, overdue,
//! watch-alert or account-alert record and the roster, and its view for one recipient (deadline in their
//! time zone, links). Pure: the caller gives the time.

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::codec::format_rfc3339;
use crate::core::{
    AccountAlert, Alert, Contact, FeedbackOverdue, Grade, Millis, Reason, ReasonKind, Rep, Roster,
    SlaBreach, WatchAlert,
};

mod account;
pub use account::AccountSurge;

/// Which record a notice comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeKind {
    /// `hot-lead-alerts`: a lead became sales-ready.
    HotLead,
    /// `sla-breaches`: a follow-up deadline passed.
    SlaBreach,
    /// `feedback-overdue`: no accept or reject in time.
    FeedbackOverdue,
    /// `watch-alerts`: a lead a rep watches did what the watch asks for.
    WatchMatch,
    /// `account-alerts`: several people of one account engaged at once.
    AccountSurge,
}

impl NoticeKind {
    /// The webhook event type.
    pub fn event_type(self) -> &'static str {
        match self {
            NoticeKind::HotLead => "lead.hot",
            NoticeKind::SlaBreach => "lead.sla_breached",
            NoticeKind::FeedbackOverdue => "lead.feedback_overdue",
            NoticeKind::WatchMatch => "lead.watch_matched",
            NoticeKind::AccountSurge => "account.surge",
        }
    }
}

/// One record, decoded.
#[derive(Debug, Clone)]
pub enum Record {
    Alert(Alert),
    Breach(SlaBreach),
    Overdue(FeedbackOverdue),
    Watch(WatchAlert),
    Account(AccountAlert),
}

/// Which watch an event met, and what the lead did.
#[derive(Debug, Clone)]
pub struct WatchMatch {
    pub watch_id: String,
    /// `domain acme.com`, `email ana@acme.com`, ...
    pub target: String,
    /// The watch's condition in words.
    pub condition: String,
    /// The rep's own words for the watch.
    pub note: Option<String>,
    /// The event type, e.g. `page_view`.
    pub event_type: String,
    pub event_id: String,
    pub occurred_at: Millis,
    /// The page or link, for page views and email clicks.
    pub url: Option<String>,
    /// The form, asset, campaign or webinar.
    pub item: Option<String>,
}

impl WatchMatch {
    /// What the lead did, e.g. `viewed https://acme.example/pricing`.
    pub fn did(&self) -> String {
        let what = match self.event_type.as_str() {
            "page_view" => "viewed",
            "form_submit" => "submitted form",
            "content_download" => "downloaded",
            "email_open" => "opened email",
            "email_click" => "clicked in email",
            "webinar_attended" => "attended webinar",
            other => other,
        };
        match self.url.as_deref().or(self.item.as_deref()) {
            Some(on) => format!("{what} {on}"),
            None => what.replace('_', " "),
        }
    }
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
    /// The company's web domain.
    pub company: Option<String>,
    pub account_id: Option<String>,
    /// The person's name, title and company name, when known.
    pub contact: Contact,
    /// The watch met, for watch alerts.
    pub watch: Option<WatchMatch>,
    /// The account and its people, for account alerts.
    pub account: Option<AccountSurge>,
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
                    contact: a.contact.clone(),
                    watch: None,
                    account: None,
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
                    contact: b.contact.clone(),
                    watch: None,
                    account: None,
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
                    contact: o.contact.clone(),
                    watch: None,
                    account: None,
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
            Record::Watch(w) => {
                add(&w.rep);
                Notice {
                    kind: NoticeKind::WatchMatch,
                    source_id: w.watch_alert_id.clone(),
                    lead_id: w.lead_id.clone(),
                    alert_id: w.alert_id.clone().unwrap_or_default(),
                    company: w.company_domain.clone(),
                    account_id: w.account_id.clone(),
                    contact: w.contact.clone(),
                    watch: Some(WatchMatch {
                        watch_id: w.watch_id.to_string(),
                        target: w.target.to_string(),
                        condition: w.condition.to_string(),
                        note: w.note.clone(),
                        event_type: w.event_type.as_str().to_owned(),
                        event_id: w.event_id.clone(),
                        occurred_at: w.occurred_at,
                        url: w.url.clone(),
                        item: w.item.clone(),
                    }),
                    account: None,
                    score: Some(w.score),
                    grade: None,
                    reasons: w.reasons.clone(),
                    deadline: w.respond_by,
                    team: None,
                    recipients,
                    what: Some(match &w.note {
                        Some(note) => format!(
                            "Your watch on {} ({}) matched: “{note}”.",
                            w.target, w.condition
                        ),
                        None => format!("Your watch on {} ({}) matched.", w.target, w.condition),
                    }),
                }
            }
            Record::Account(a) => account::notice(a),
        }
    }

    /// Whether the recipient can give feedback on it: there is a handoff
    /// (a hot-lead alert) to give it on.
    pub fn takes_feedback(&self) -> bool {
        !self.alert_id.is_empty()
    }

    /// The lead in a few words: `Jane Doe at Initech`, else the company's
    /// domain, else the lead id.
    pub fn who_short(&self) -> String {
        if let Some(a) = &self.account {
            return a.name.clone();
        }
        let company = self.contact.company.as_ref().or(self.company.as_ref());
        match (&self.contact.name, company) {
            (Some(n), Some(c)) => format!("{n} at {c}"),
            (Some(n), None) => n.clone(),
            (None, Some(c)) => c.clone(),
            (None, None) => self.lead_id.clone(),
        }
    }

    /// `Jane Doe, CTO at Initech`: the contact details known, or `None`.
    pub fn contact_line(&self) -> Option<String> {
        let c = &self.contact;
        let mut s = c.name.clone().unwrap_or_default();
        if let Some(t) = &c.title {
            if !s.is_empty() {
                s.push_str(", ");
            }
            s.push_str(t);
        }
        if let Some(co) = &c.company {
            if s.is_empty() {
                s.push_str(co);
            } else {
                s.push_str(&format!(" at {co}"));
            }
        }
        (!s.is_empty()).then_some(s)
    }

    /// The headline, e.g. `Hot lead: initech.com (score 82, grade A)`.
    pub fn headline(&self) -> String {
        let who = self.who_short();
        match (self.kind, self.score, self.grade) {
            (NoticeKind::HotLead, Some(s), Some(g)) => {
                format!("Hot lead: {who} (score {s:.0}, grade {})", g.as_str())
            }
            (NoticeKind::HotLead, ..) => format!("Hot lead: {who}"),
            (NoticeKind::SlaBreach, ..) => format!("Follow-up missed: {who}"),
            (NoticeKind::FeedbackOverdue, ..) => format!("Feedback overdue: {who}"),
            (NoticeKind::WatchMatch, score, _) => {
                let score = score.map_or(String::new(), |s| format!(" (score {s:.0})"));
                match &self.watch {
                    Some(w) => format!("Watched lead active: {who}{score} {}", w.did()),
                    None => format!("Watched lead active: {who}{score}"),
                }
            }
            (NoticeKind::AccountSurge, score, _) => {
                let score = score.map_or(String::new(), |s| format!("score {s:.0}, "));
                let breadth = self.account.as_ref().map_or(0, |a| a.breadth);
                let people = if breadth == 1 { "person" } else { "people" };
                format!("Account in market: {who} ({score}{breadth} {people} engaged)")
            }
        }
    }

    /// The top reasons, as `+25 Visited pricing (×3)`; an account's fit
    /// reasons.
    pub fn reason_lines(&self) -> Vec<String> {
        if let Some(a) = &self.account {
            return a.fit_lines().into_iter().take(TOP_REASONS).collect();
        }
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

    /// The heading of [`Notice::activity_lines`].
    pub fn activity_heading(&self) -> &'static str {
        match self.account {
            Some(_) => "Who engaged",
            None => "Latest activity",
        }
    }

    /// The lead's latest activities, newest first, in `tz`: the watched
    /// event first for a watch alert, then the engagement rules' latest
    /// matches. For an account, its people, what they did and when.
    pub fn activity_lines(&self, tz: &jiff::tz::TimeZone) -> Vec<String> {
        if let Some(a) = &self.account {
            return a.people_lines(tz);
        }
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
        let mut out: Vec<String> = Vec::with_capacity(LAST_ACTIVITIES + 1);
        if let Some(w) = &self.watch {
            out.push(format!(
                "{} ({}), {}",
                w.did(),
                w.event_type.replace('_', " "),
                local_time(w.occurred_at, tz)
            ));
        }
        out.extend(
            engagement
                .into_iter()
                .take(LAST_ACTIVITIES)
                .map(|r| format!("{}, last {}", r.label, local_time(r.last_seen, tz))),
        );
        out
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
pub(crate) mod tests;
