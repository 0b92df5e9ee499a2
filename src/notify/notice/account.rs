//! An account alert as a notice: the account, its score and breadth, and
//! the people whose engagement made it cross, each with their reasons and
//! when. The owner the alert names is told, as a hot-lead alert's is.

use std::sync::Arc;

use super::{local_time, Notice, NoticeKind};
use crate::core::{AccountAlert, AccountKey, AccountReason, Contact, Millis, PersonShare};

/// The reasons shown per person.
const REASONS_PER_PERSON: usize = 3;

/// What an account alert says beyond a lead's notice.
#[derive(Debug, Clone)]
pub struct AccountSurge {
    /// `domain:initech.com` or `id:0015g…`.
    pub key: String,
    /// How people read the account: its company's name when a person's
    /// record has one, else the domain or account id.
    pub name: String,
    /// `score` or `breadth`: the threshold crossed.
    pub trigger: &'static str,
    pub fit: f64,
    pub engagement: f64,
    pub breadth: u32,
    pub threshold: Option<f64>,
    pub breadth_threshold: Option<u32>,
    pub crossed_at: Millis,
    pub fit_reasons: Vec<AccountReason>,
    /// Most engaged first, as the alert lists them.
    pub people: Vec<PersonShare>,
}

impl AccountSurge {
    /// The people who engaged: `Ana Lima, CTO (lead L-1): 25 points: +15
    /// Webinar, +10 Pricing; last engaged Tue 2 Dec 10:30 CET`.
    pub fn people_lines(&self, tz: &jiff::tz::TimeZone) -> Vec<String> {
        self.people
            .iter()
            .map(|p| {
                let mut s = person_name(&p.lead_id, &p.contact);
                s.push_str(&format!(": {:.0} points", p.engagement));
                let reasons: Vec<String> = p
                    .reasons
                    .iter()
                    .take(REASONS_PER_PERSON)
                    .map(|r| format!("{:+} {}", r.points, r.label))
                    .collect();
                if !reasons.is_empty() {
                    s.push_str(&format!(" ({})", reasons.join(", ")));
                }
                if let Some(at) = p.engaged_at {
                    s.push_str(&format!("; last engaged {}", local_time(at, tz)));
                }
                if !p.in_breadth {
                    s.push_str("; outside the breadth window");
                }
                s
            })
            .collect()
    }

    /// The fit rules that hold, as `+20 Target industry`.
    pub fn fit_lines(&self) -> Vec<String> {
        self.fit_reasons
            .iter()
            .map(|r| format!("{:+} {}", r.points, r.label))
            .collect()
    }

    /// One sentence on the crossing.
    fn what(&self, score: f64) -> String {
        let people = match self.breadth {
            1 => "1 person".to_owned(),
            n => format!("{n} people"),
        };
        let crossed = match (self.trigger, self.threshold, self.breadth_threshold) {
            ("breadth", _, Some(b)) => format!("breadth {} reached {b}", self.breadth),
            (_, Some(t), _) => format!("score {score:.0} reached {t:.0}"),
            _ => format!("score {score:.0}"),
        };
        format!(
            "{people} of {} engaged within the breadth window: {crossed} (fit {:.0}, engagement {:.0}).",
            self.name, self.fit, self.engagement
        )
    }
}

/// `Ana Lima, CTO (lead L-1)`, or `lead L-1` when the name is unknown.
fn person_name(lead_id: &str, c: &Contact) -> String {
    match (&c.name, &c.title) {
        (Some(n), Some(t)) => format!("{n}, {t} (lead {lead_id})"),
        (Some(n), None) => format!("{n} (lead {lead_id})"),
        (None, Some(t)) => format!("{t} (lead {lead_id})"),
        (None, None) => format!("lead {lead_id}"),
    }
}

/// The notice of an account alert: to its owner rep, and the owner team's
/// channel. Its id is the alert's; it takes no feedback, which is about a
/// lead's handoff.
pub(super) fn notice(a: &AccountAlert) -> Notice {
    let (company, account_id) = match &a.account {
        AccountKey::Domain(d) => (Some(d.clone()), None),
        AccountKey::Id(id) => (None, Some(id.clone())),
    };
    let name = a
        .people
        .iter()
        .find_map(|p| p.contact.company.clone())
        .unwrap_or_else(|| a.account.value().to_owned());
    let surge = AccountSurge {
        key: a.account.to_string(),
        name,
        trigger: a.trigger.as_str(),
        fit: a.fit,
        engagement: a.engagement,
        breadth: a.breadth,
        threshold: a.threshold,
        breadth_threshold: a.breadth_threshold,
        crossed_at: a.crossed_at,
        fit_reasons: a.fit_reasons.clone(),
        people: a.people.clone(),
    };
    let recipients: Vec<Arc<str>> = a
        .owner_rep
        .iter()
        .filter(|r| !r.is_empty())
        .map(|r| Arc::from(r.as_str()))
        .collect();
    Notice {
        kind: NoticeKind::AccountSurge,
        source_id: a.alert_id.clone(),
        lead_id: a.lead_id.clone(),
        alert_id: String::new(),
        company,
        account_id,
        contact: Contact::default(),
        watch: None,
        what: Some(surge.what(a.score)),
        account: Some(surge),
        score: Some(a.score),
        grade: None,
        reasons: Vec::new(),
        deadline: None,
        team: a.owner_team.clone(),
        recipients,
    }
}
