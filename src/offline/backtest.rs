//! The backtest report of `leadpulse replay --report`: what a model would
//! have done on past events, alone or side by side with another model, so
//! marketing and sales can agree on a change before it goes live. With an
//! `[account]` section, it also shows the accounts alerted per day and the
//! top accounts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::codec::format_rfc3339;
use crate::core::admit::Shown;
use crate::core::{AccountKey, AccountScorer, LeadScore, ReasonKind, Scorer, DAY_MS};
use crate::offline::replay::ReplayOutcome;

/// The figures of one model's replay.
#[derive(Debug)]
pub struct Backtest {
    pub model_version: String,
    pub qualification: String,
    pub events: u64,
    pub scored: u64,
    pub dead_lettered: u64,
    pub leads: usize,
    pub span_days: i64,
    pub first_day: Option<i64>,
    /// Alerts per event-time day (days since the epoch).
    pub alerts_per_day: BTreeMap<i64, u64>,
    /// Leads that alerted at least once.
    pub alerted_leads: BTreeSet<String>,
    pub alerts: u64,
    /// Final scores, one per lead.
    pub scores: Vec<LeadScore>,
    /// Per rule: (label, counted matches, leads).
    pub rules: BTreeMap<String, (String, u64, u64)>,
    /// Leads held for enrichment at least once.
    pub held_leads: BTreeSet<String>,
    /// Leads still held at the end: lead → missing attributes.
    pub still_held: BTreeMap<String, Vec<String>>,
    /// Disqualified leads at the end, by reason label.
    pub disqualified: BTreeMap<String, u64>,
    /// The accounts, if the model scores them (`[account]`).
    pub accounts: Option<AccountBacktest>,
}

/// What a model's `[account]` did in the replay.
#[derive(Debug, Default)]
pub struct AccountBacktest {
    /// Accounts that alerted, per event-time day (each counted once a day).
    pub alerted_per_day: BTreeMap<i64, u64>,
    /// Account alerts in all.
    pub alerts: u64,
    /// The accounts with the most alerts, then the highest final score:
    /// at most [`TOP_ACCOUNTS`].
    pub top: Vec<TopAccount>,
    /// Accounts scored.
    pub accounts: usize,
}

/// One account of [`AccountBacktest::top`].
#[derive(Debug, Clone, PartialEq)]
pub struct TopAccount {
    pub account: String,
    pub alerts: u64,
    /// Final score and breadth.
    pub score: f64,
    pub breadth: u32,
}

/// How many accounts the top list shows.
pub const TOP_ACCOUNTS: usize = 10;

impl AccountBacktest {
    fn new(scorer: &Scorer, outcome: &ReplayOutcome) -> Option<AccountBacktest> {
        let accounts = AccountScorer::new(scorer.model().clone())?;
        let mut per_day: BTreeMap<i64, BTreeSet<&AccountKey>> = BTreeMap::new();
        let mut alerts: BTreeMap<&AccountKey, u64> = BTreeMap::new();
        for a in &outcome.account_alerts {
            per_day
                .entry(a.crossed_at.div_euclid(DAY_MS))
                .or_default()
                .insert(&a.account);
            *alerts.entry(&a.account).or_default() += 1;
        }
        let mut top: Vec<TopAccount> = outcome
            .account_scores(&accounts)
            .into_iter()
            .map(|s| TopAccount {
                alerts: alerts.get(&s.account).copied().unwrap_or(0),
                account: s.account.to_string(),
                score: s.score,
                breadth: s.breadth,
            })
            .collect();
        top.sort_by(|x, y| {
            y.alerts
                .cmp(&x.alerts)
                .then(y.score.total_cmp(&x.score))
                .then_with(|| x.account.cmp(&y.account))
        });
        top.truncate(TOP_ACCOUNTS);
        Some(AccountBacktest {
            alerted_per_day: per_day
                .into_iter()
                .map(|(d, a)| (d, a.len() as u64))
                .collect(),
            alerts: outcome.account_alerts.len() as u64,
            top,
            accounts: outcome.accounts.len(),
        })
    }

    /// The two account sections of the report for model `version`.
    fn render(&self, version: &str, out: &mut String) {
        let _ = writeln!(out, "\n## Accounts alerted per day ({version})\n");
        if self.alerted_per_day.is_empty() {
            let _ = writeln!(out, "(no account alerts)");
        }
        let max = self.alerted_per_day.values().copied().max().unwrap_or(0);
        for (d, n) in &self.alerted_per_day {
            let _ = writeln!(out, "{}  {:>4} {}", day(*d), n, bar(*n, max, 40));
        }
        let _ = writeln!(
            out,
            "\n## Top accounts ({version}: {} scored, {} alerts)\n",
            self.accounts, self.alerts
        );
        let _ = writeln!(
            out,
            "{:<40} {:>6} {:>8} {:>7}",
            "account", "alerts", "score", "breadth"
        );
        for t in &self.top {
            let _ = writeln!(
                out,
                "{:<40} {:>6} {:>8.1} {:>7}",
                Shown(&t.account).to_string(),
                t.alerts,
                t.score,
                t.breadth
            );
        }
    }
}

impl Backtest {
    /// Summarises a replay made with `scorer`'s model.
    pub fn new(scorer: &Scorer, outcome: &ReplayOutcome) -> Self {
        let model = scorer.model();
        let mut alerts_per_day = BTreeMap::new();
        for a in &outcome.alerts {
            *alerts_per_day
                .entry(a.crossed_at.div_euclid(DAY_MS))
                .or_insert(0) += 1;
        }
        let scores = outcome.scores(scorer);
        let mut rules: BTreeMap<String, (String, u64, u64)> = BTreeMap::new();
        for r in &model.rules {
            rules.insert(r.id.to_string(), (r.label.to_string(), 0, 0));
        }
        for r in &model.fit_rules {
            rules.insert(r.id.to_string(), (r.label.to_string(), 0, 0));
        }
        for lead in outcome.leads.values() {
            for c in &lead.contributions {
                if let Some(e) = rules.get_mut(&*c.rule_id) {
                    e.1 += u64::from(c.count);
                    e.2 += 1;
                }
            }
        }
        let mut disqualified = BTreeMap::new();
        let mut still_held = BTreeMap::new();
        for s in &scores {
            for r in s.reasons.iter().filter(|r| r.kind == ReasonKind::Fit) {
                if let Some(e) = rules.get_mut(&*r.rule_id) {
                    e.1 += 1;
                    e.2 += 1;
                }
            }
            if let Some(d) = &s.disqualified {
                *disqualified.entry(d.label.to_string()).or_insert(0) += 1;
            }
            if !s.missing.is_empty() {
                still_held.insert(s.lead_id.clone(), s.missing.clone());
            }
        }
        let (first_day, span_days) = match outcome.span {
            Some((a, b)) => (
                Some(a.div_euclid(DAY_MS)),
                b.div_euclid(DAY_MS) - a.div_euclid(DAY_MS) + 1,
            ),
            None => (None, 0),
        };
        Backtest {
            model_version: model.version.to_string(),
            qualification: model.qualify.describe(),
            events: outcome.counts.consumed,
            scored: outcome.counts.scored,
            dead_lettered: outcome.counts.dead_lettered_total(),
            leads: outcome.leads.len(),
            span_days,
            first_day,
            alerts_per_day,
            alerted_leads: outcome.alerts.iter().map(|a| a.lead_id.clone()).collect(),
            alerts: outcome.counts.alerts,
            scores,
            rules,
            held_leads: outcome.holds.iter().map(|h| h.lead_id.clone()).collect(),
            still_held,
            disqualified,
            accounts: AccountBacktest::new(scorer, outcome),
        }
    }

    fn alert_rate(&self) -> f64 {
        if self.leads == 0 {
            0.0
        } else {
            100.0 * self.alerted_leads.len() as f64 / self.leads as f64
        }
    }

    fn per_day(&self) -> f64 {
        if self.span_days == 0 {
            0.0
        } else {
            self.alerts as f64 / self.span_days as f64
        }
    }

    /// Final scores in buckets of ten points: (lower bound, leads).
    fn histogram(&self) -> BTreeMap<i64, u64> {
        let mut h = BTreeMap::new();
        for s in &self.scores {
            *h.entry((s.score / 10.0).floor() as i64 * 10).or_insert(0) += 1;
        }
        h
    }
}

fn bar(n: u64, max: u64, width: usize) -> String {
    if max == 0 {
        return String::new();
    }
    let len = ((n as f64 / max as f64) * width as f64).ceil() as usize;
    "█".repeat(len.min(width))
}

fn day(d: i64) -> String {
    format_rfc3339(d * DAY_MS)[..10].to_owned()
}

/// Renders the report for one model, or two side by side (`a` is the
/// candidate, `b` the model it is compared with).
pub fn render(a: &Backtest, b: Option<&Backtest>) -> String {
    let mut out = String::new();
    let both = |f: &dyn Fn(&Backtest) -> String| match b {
        Some(b) => format!("{:>22} {:>22}", f(a), f(b)),
        None => format!("{:>22}", f(a)),
    };
    let _ = writeln!(out, "# Backtest\n");
    let _ = writeln!(out, "{:<28} {}", "", both(&|x| x.model_version.clone()));
    type Row = (&'static str, fn(&Backtest) -> String);
    let rows: [Row; 10] = [
        ("events", |x| x.events.to_string()),
        ("dead-lettered", |x| x.dead_lettered.to_string()),
        ("leads", |x| x.leads.to_string()),
        ("days of events", |x| x.span_days.to_string()),
        ("alerts (MQLs)", |x| x.alerts.to_string()),
        ("leads alerted", |x| {
            format!("{} ({:.1}%)", x.alerted_leads.len(), x.alert_rate())
        }),
        ("alerts per day", |x| format!("{:.1}", x.per_day())),
        ("leads held for enrichment", |x| {
            x.held_leads.len().to_string()
        }),
        ("  still waiting at the end", |x| {
            x.still_held.len().to_string()
        }),
        ("leads disqualified", |x| {
            x.disqualified.values().sum::<u64>().to_string()
        }),
    ];
    for (name, f) in &rows {
        let _ = writeln!(out, "{name:<28} {}", both(f));
    }
    let _ = writeln!(out, "\nsales-ready when: {}", a.qualification);
    if let Some(b) = b {
        let _ = writeln!(out, "           versus: {}", b.qualification);
    }

    // Alerts per day.
    let _ = writeln!(out, "\n## Alerts per day\n");
    let days: BTreeSet<i64> = a
        .alerts_per_day
        .keys()
        .chain(b.map(|b| b.alerts_per_day.keys()).into_iter().flatten())
        .copied()
        .collect();
    let max = days
        .iter()
        .map(|d| {
            a.alerts_per_day.get(d).copied().unwrap_or(0).max(
                b.and_then(|b| b.alerts_per_day.get(d).copied())
                    .unwrap_or(0),
            )
        })
        .max()
        .unwrap_or(0);
    if days.is_empty() {
        let _ = writeln!(out, "(no alerts)");
    }
    for d in &days {
        let na = a.alerts_per_day.get(d).copied().unwrap_or(0);
        match b {
            None => {
                let _ = writeln!(out, "{}  {:>4} {}", day(*d), na, bar(na, max, 40));
            }
            Some(b) => {
                let nb = b.alerts_per_day.get(d).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "{}  {:>4} {:<25} {:>4} {}",
                    day(*d),
                    na,
                    bar(na, max, 25),
                    nb,
                    bar(nb, max, 25)
                );
            }
        }
    }

    // Score distribution.
    let _ = writeln!(out, "\n## Final score distribution (leads per 10 points)\n");
    let ha = a.histogram();
    let hb = b.map(Backtest::histogram).unwrap_or_default();
    let buckets: BTreeSet<i64> = ha.keys().chain(hb.keys()).copied().collect();
    let max = ha.values().chain(hb.values()).copied().max().unwrap_or(0);
    for k in &buckets {
        let na = ha.get(k).copied().unwrap_or(0);
        let label = format!("{:>4}–{:<4}", k, k + 10);
        match b {
            None => {
                let _ = writeln!(out, "{label} {:>6} {}", na, bar(na, max, 40));
            }
            Some(_) => {
                let nb = hb.get(k).copied().unwrap_or(0);
                let _ = writeln!(
                    out,
                    "{label} {:>6} {:<25} {:>6} {}",
                    na,
                    bar(na, max, 25),
                    nb,
                    bar(nb, max, 25)
                );
            }
        }
    }

    // Top-firing rules.
    let _ = writeln!(out, "\n## Top-firing rules ({})\n", a.model_version);
    let _ = writeln!(
        out,
        "{:<22} {:<42} {:>8} {:>6}",
        "rule", "label", "matches", "leads"
    );
    let mut top: Vec<_> = a.rules.iter().filter(|(_, v)| v.1 > 0).collect();
    top.sort_by(|x, y| y.1 .1.cmp(&x.1 .1).then(x.0.cmp(y.0)));
    for (id, (label, matches, leads)) in top.iter().take(15) {
        let _ = writeln!(out, "{id:<22} {label:<42} {matches:>8} {leads:>6}");
    }

    // Disqualifications and holds.
    if !a.disqualified.is_empty() {
        let _ = writeln!(out, "\n## Disqualified leads ({})\n", a.model_version);
        for (label, n) in &a.disqualified {
            let _ = writeln!(out, "{n:>6}  {label}");
        }
    }
    let _ = writeln!(
        out,
        "\n## Leads waiting for enrichment at the end ({})\n",
        a.model_version
    );
    if a.still_held.is_empty() {
        let _ = writeln!(out, "(none)");
    }
    for (lead, missing) in a.still_held.iter().take(20) {
        let _ = writeln!(out, "{}  missing {}", Shown(lead), missing.join(", "));
    }
    if a.still_held.len() > 20 {
        let _ = writeln!(out, "… and {} more", a.still_held.len() - 20);
    }

    // Accounts, for each model that scores them.
    for x in std::iter::once(a).chain(b) {
        if let Some(acc) = &x.accounts {
            acc.render(&x.model_version, &mut out);
        }
    }

    // Who alerts under one model and not the other.
    if let Some(b) = b {
        let only_a: Vec<&String> = a.alerted_leads.difference(&b.alerted_leads).collect();
        let only_b: Vec<&String> = b.alerted_leads.difference(&a.alerted_leads).collect();
        let _ = writeln!(out, "\n## Leads that alert under one model only\n");
        let list = |v: &[&String]| {
            if v.is_empty() {
                "(none)".to_owned()
            } else {
                let shown: Vec<String> = v.iter().take(30).map(|s| Shown(s).to_string()).collect();
                let more = if v.len() > 30 {
                    format!(" … and {} more", v.len() - 30)
                } else {
                    String::new()
                };
                format!("{}{more}", shown.join(" "))
            }
        };
        let _ = writeln!(
            out,
            "only {} ({}): {}",
            a.model_version,
            only_a.len(),
            list(&only_a)
        );
        let _ = writeln!(
            out,
            "only {} ({}): {}",
            b.model_version,
            only_b.len(),
            list(&only_b)
        );
        let _ = writeln!(
            out,
            "both: {}",
            a.alerted_leads.intersection(&b.alerted_leads).count()
        );
    }
    if let Some(first) = a.first_day {
        let _ = writeln!(
            out,
            "\nevents from {} over {} days",
            day(first),
            a.span_days
        );
    }
    out
}
