//! `leadpulse report`: the check-in table sales and marketing meet over.
//!
//! Pure: it takes the sales loop's records (the latest `lead-handoffs`
//! record of each handoff, the `lead-lifecycle` transitions and the
//! `sla-breaches` events) and computes, for the handoffs of a period,
//! overall and per team and per rep:
//!
//! - leads passed to sales;
//! - the share contacted within the follow-up SLA;
//! - median, p90 and mean follow-up time;
//! - conversion by stage (MQL → SAL → SQL → opportunity → customer);
//! - accept, reject (by reason) and overdue feedback;
//! - won and lost (count and amount) by the rule that qualified the lead;
//! - accounts passed (account alerts), their follow-up, and conversion per
//!   account ([`accounts`]).
//! - with `[[shadow]]` alerts, the champion's and the challenger's alerts
//!   compared by lead ([`shadow`]).
//!
//! Where the records come from (a `replay --outputs` folder or the topics
//! of a running deployment) is [`crate::offline::report_input`]'s business; how the
//! figures are shown is [`markdown`] and [`html`]. docs/report.md defines
//! every figure.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::core::{
    AccountAlert, AccountKey, Alert, HandoffRecord, Millis, SlaBreach, SlaStatus, Stage,
    StageChange,
};

pub mod accounts;
pub mod html;
pub mod markdown;
pub mod shadow;

/// The funnel stages a handoff can reach, in order.
pub const FUNNEL: [Stage; 5] = [
    Stage::Mql,
    Stage::Sal,
    Stage::Sql,
    Stage::Opportunity,
    Stage::Customer,
];

/// Upper bounds (exclusive, in minutes) of the follow-up time buckets of
/// the distribution chart; the last bucket is open-ended.
pub const FOLLOW_UP_BUCKETS_MIN: [i64; 7] = [15, 30, 60, 120, 240, 480, 1440];

/// What the report reads.
#[derive(Debug, Clone, Default)]
pub struct ReportInput {
    /// The latest record of each handoff, by alert id.
    pub handoffs: BTreeMap<String, HandoffRecord>,
    /// Every lifecycle transition.
    pub stages: Vec<StageChange>,
    /// Every SLA breach.
    pub breaches: Vec<SlaBreach>,
    /// Every account alert.
    pub account_alerts: Vec<AccountAlert>,
    /// Lead id → its account, as the account records name their people.
    pub lead_accounts: BTreeMap<String, AccountKey>,
    /// Every champion alert (`hot-lead-alerts`).
    pub alerts: Vec<Alert>,
    /// Every challenger alert (`shadow-alerts`, with `[[shadow]]`).
    pub shadow_alerts: Vec<Alert>,
}

impl ReportInput {
    /// Adds a handoff record read in topic order: a later record of the
    /// same handoff replaces the earlier one, as compaction would.
    pub fn add_handoff(&mut self, record: HandoffRecord) {
        self.handoffs
            .insert(record.handoff.alert_id.clone(), record);
    }

    /// Forgets a handoff (a tombstone on the compacted topic).
    pub fn remove_handoff(&mut self, alert_id: &str) {
        self.handoffs.remove(alert_id);
    }

    /// The latest time anything in the records happened: the report is
    /// "as of" it.
    pub fn latest_time(&self) -> Option<Millis> {
        let handoffs = self.handoffs.values().flat_map(|r| {
            let h = &r.handoff;
            [
                Some(h.handed_at),
                h.first_contact_at,
                h.feedback.as_ref().map(|f| f.1),
            ]
        });
        let stages = self.stages.iter().map(|c| Some(c.at));
        let breaches = self.breaches.iter().map(|b| Some(b.respond_by));
        handoffs.chain(stages).chain(breaches).flatten().max()
    }
}

/// The handoffs a report covers: handed to sales in `[since, until)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Period {
    pub since: Option<Millis>,
    pub until: Option<Millis>,
}

impl Period {
    pub fn contains(&self, t: Millis) -> bool {
        self.since.is_none_or(|s| t >= s) && self.until.is_none_or(|u| t < u)
    }
}

/// Follow-up SLA outcomes of a set of handoffs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SlaCounts {
    /// First contact (or acceptance) before the deadline.
    pub met: u32,
    /// A deadline passed without contact (a breach was emitted).
    pub breached: u32,
    /// Still waiting for a first contact although the deadline has passed
    /// at the report's "as of" time (its breach is not published yet).
    pub overdue_open: u32,
    /// Still waiting, deadline not reached yet: no outcome.
    pub pending: u32,
    /// Rejected before any contact: no outcome.
    pub closed: u32,
}

impl SlaCounts {
    /// Handoffs with an SLA outcome: met, breached or open past the deadline.
    pub fn judged(&self) -> u32 {
        self.met + self.breached + self.overdue_open
    }

    /// Share contacted within the SLA: met / (met + breached + overdue_open).
    pub fn within(&self) -> Option<f64> {
        ratio(self.met, self.judged())
    }
}

/// Outcomes of the handoffs one rule qualified.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RuleOutcome {
    pub passed: u32,
    pub won: u32,
    pub won_amount: f64,
    pub lost: u32,
}

impl RuleOutcome {
    /// won / (won + lost).
    pub fn win_rate(&self) -> Option<f64> {
        ratio(self.won, self.won + self.lost)
    }
}

/// Every figure of the check-in table, for one set of handoffs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Leads passed to sales: handoffs in the period.
    pub passed: u32,
    pub sla: SlaCounts,
    /// Follow-up times (first contact − handoff), ascending.
    pub follow_up: Vec<Millis>,
    /// Handoffs that reached each [`FUNNEL`] stage (or a later one).
    pub funnel: [u32; 5],
    /// Sales accepted.
    pub accepted: u32,
    /// Sales rejected.
    pub rejected: u32,
    /// Neither accepted nor rejected yet.
    pub awaiting_feedback: u32,
    /// The accept/reject deadline passed without either (whether or not
    /// feedback came later).
    pub feedback_overdue: u32,
    /// Rejections by reason.
    pub rejections: BTreeMap<String, u32>,
    /// Deals won and their total amount.
    pub won: u32,
    pub won_amount: f64,
    /// Deals lost.
    pub lost: u32,
    /// Outcomes by the rule that qualified the lead (`(none)` if none).
    pub rules: BTreeMap<String, RuleOutcome>,
    /// SLA deadlines missed (breach events), by whoever missed them.
    pub breaches: u32,
}

impl Figures {
    /// Median follow-up time (nearest rank).
    pub fn median(&self) -> Option<Millis> {
        percentile(&self.follow_up, 50)
    }

    /// 90th percentile follow-up time (nearest rank).
    pub fn p90(&self) -> Option<Millis> {
        percentile(&self.follow_up, 90)
    }

    /// Mean follow-up time, rounded to the millisecond.
    pub fn mean(&self) -> Option<Millis> {
        let n = self.follow_up.len() as i128;
        (n > 0).then(|| (self.follow_up.iter().map(|&t| i128::from(t)).sum::<i128>() / n) as Millis)
    }

    /// Share of passed leads that reached funnel stage `i` (of [`FUNNEL`]).
    pub fn reached_share(&self, i: usize) -> Option<f64> {
        ratio(self.funnel[i], self.passed)
    }

    /// Share of the previous stage's leads that reached stage `i`.
    pub fn step_share(&self, i: usize) -> Option<f64> {
        if i == 0 {
            return self.reached_share(0);
        }
        ratio(self.funnel[i], self.funnel[i - 1])
    }

    /// Follow-up times per [`FOLLOW_UP_BUCKETS_MIN`] bucket.
    pub fn follow_up_histogram(&self) -> [u32; FOLLOW_UP_BUCKETS_MIN.len() + 1] {
        let mut out = [0; FOLLOW_UP_BUCKETS_MIN.len() + 1];
        for &t in &self.follow_up {
            let i = FOLLOW_UP_BUCKETS_MIN
                .iter()
                .position(|&m| t < m * 60_000)
                .unwrap_or(FOLLOW_UP_BUCKETS_MIN.len());
            out[i] += 1;
        }
        out
    }

    fn add(&mut self, h: &Handoff<'_>) {
        let r = &h.record.handoff;
        self.passed += 1;
        match h.sla {
            SlaOutcome::Met => self.sla.met += 1,
            SlaOutcome::Breached => self.sla.breached += 1,
            SlaOutcome::OverdueOpen => self.sla.overdue_open += 1,
            SlaOutcome::Pending => self.sla.pending += 1,
            SlaOutcome::Closed => self.sla.closed += 1,
        }
        if let Some(t) = h.follow_up {
            let at = self.follow_up.partition_point(|&x| x <= t);
            self.follow_up.insert(at, t);
        }
        for (i, n) in self.funnel.iter_mut().enumerate() {
            if h.reached >= i {
                *n += 1;
            }
        }
        match r.feedback.as_ref() {
            Some((kind, _, reason)) if kind == "rejected" => {
                self.rejected += 1;
                let reason = reason.clone().unwrap_or_else(|| "(no reason)".into());
                *self.rejections.entry(reason).or_default() += 1;
            }
            Some(_) => self.accepted += 1,
            None => self.awaiting_feedback += 1,
        }
        self.feedback_overdue += u32::from(r.feedback_overdue);
        let rule = self.rules.entry(rule_name(&r.qualified_by)).or_default();
        rule.passed += 1;
        if let Some(amount) = r.won_amount {
            self.won += 1;
            self.won_amount += amount;
            rule.won += 1;
            rule.won_amount += amount;
        } else if r.lost_reason.is_some() {
            self.lost += 1;
            rule.lost += 1;
        }
    }
}

/// The rule name a handoff is grouped under.
pub fn rule_name(qualified_by: &str) -> String {
    if qualified_by.is_empty() {
        "(none)".into()
    } else {
        qualified_by.to_owned()
    }
}

/// The name of an unrouted handoff's team and rep.
pub const UNROUTED: &str = "(unrouted)";

/// Figures of one team, or one rep of a team.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub team: String,
    /// `None` for a team's row.
    pub rep: Option<String>,
    pub figures: Figures,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub period: Period,
    /// The time outcomes are judged at: the latest time in the records.
    pub as_of: Option<Millis>,
    /// Earliest and latest handoff time in the period.
    pub span: Option<(Millis, Millis)>,
    pub overall: Figures,
    /// One row per team, by team id.
    pub teams: Vec<Group>,
    /// One row per rep, by team then rep id.
    pub reps: Vec<Group>,
    /// Accounts passed, their follow-up and conversion.
    pub accounts: accounts::Accounts,
    /// Champion and challenger compared, with `[[shadow]]` alerts.
    pub shadow: Option<shadow::Comparison>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlaOutcome {
    Met,
    Breached,
    OverdueOpen,
    Pending,
    Closed,
}

/// One handoff, judged.
struct Handoff<'a> {
    record: &'a HandoffRecord,
    sla: SlaOutcome,
    follow_up: Option<Millis>,
    /// Index in [`FUNNEL`] of the furthest stage reached.
    reached: usize,
}

fn or_unrouted(s: &str) -> String {
    if s.is_empty() {
        UNROUTED.to_owned()
    } else {
        s.to_owned()
    }
}

impl Report {
    /// Computes the report for the handoffs of `period`.
    pub fn new(input: &ReportInput, period: Period) -> Report {
        let as_of = input.latest_time();
        // The furthest funnel stage each handoff reached, from its transitions.
        let mut furthest: HashMap<&str, usize> = HashMap::new();
        for c in &input.stages {
            let (Some(alert_id), Some(i)) = (&c.alert_id, FUNNEL.iter().position(|&s| s == c.to))
            else {
                continue;
            };
            let f = furthest.entry(alert_id.as_str()).or_default();
            *f = (*f).max(i);
        }
        let judged: Vec<Handoff<'_>> = input
            .handoffs
            .values()
            .filter(|r| period.contains(r.handoff.handed_at))
            .map(|record| {
                let h = &record.handoff;
                let sla = match h.sla {
                    SlaStatus::Met => SlaOutcome::Met,
                    SlaStatus::Breached => SlaOutcome::Breached,
                    SlaStatus::Closed => SlaOutcome::Closed,
                    SlaStatus::Open if as_of.is_some_and(|t| h.respond_by <= t) => {
                        SlaOutcome::OverdueOpen
                    }
                    SlaStatus::Open => SlaOutcome::Pending,
                };
                Handoff {
                    record,
                    sla,
                    follow_up: h.first_contact_at.map(|t| t - h.handed_at),
                    reached: furthest.get(h.alert_id.as_str()).copied().unwrap_or(0),
                }
            })
            .collect();

        let mut overall = Figures::default();
        let mut teams: BTreeMap<String, Figures> = BTreeMap::new();
        let mut reps: BTreeMap<(String, String), Figures> = BTreeMap::new();
        let mut span: Option<(Millis, Millis)> = None;
        for h in &judged {
            let r = &h.record.handoff;
            let (team, rep) = (or_unrouted(&r.team), or_unrouted(&r.rep));
            overall.add(h);
            teams.entry(team.clone()).or_default().add(h);
            reps.entry((team, rep)).or_default().add(h);
            let t = r.handed_at;
            span = Some(span.map_or((t, t), |(a, b)| (a.min(t), b.max(t))));
        }
        let in_period: BTreeSet<&str> = judged
            .iter()
            .map(|h| h.record.handoff.alert_id.as_str())
            .collect();
        for b in input
            .breaches
            .iter()
            .filter(|b| in_period.contains(b.alert_id.as_str()))
        {
            let (team, rep) = (or_unrouted(&b.team), or_unrouted(&b.rep));
            overall.breaches += 1;
            teams.entry(team.clone()).or_default().breaches += 1;
            reps.entry((team, rep)).or_default().breaches += 1;
        }
        let accounts = accounts::Accounts::new(input, period, &judged);
        Report {
            accounts,
            period,
            as_of,
            span,
            overall,
            teams: teams
                .into_iter()
                .map(|(team, figures)| Group {
                    team,
                    rep: None,
                    figures,
                })
                .collect(),
            reps: reps
                .into_iter()
                .map(|((team, rep), figures)| Group {
                    team,
                    rep: Some(rep),
                    figures,
                })
                .collect(),
            shadow: shadow::Comparison::new(&input.alerts, &input.shadow_alerts, period),
        }
    }
}

/// `part / whole`, if `whole` is not zero.
pub fn ratio(part: u32, whole: u32) -> Option<f64> {
    (whole > 0).then(|| f64::from(part) / f64::from(whole))
}

/// Nearest-rank percentile of ascending `sorted`: the smallest value that
/// at least `p` percent of the values are at or under.
pub fn percentile(sorted: &[Millis], p: u32) -> Option<Millis> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (n * p as usize).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

// ---- formatting shared by the renderers -------------------------------------

/// `42.1%`, or `–` when undefined.
pub fn fmt_pct(share: Option<f64>) -> String {
    share.map_or_else(|| "–".into(), |s| format!("{:.1}%", s * 100.0))
}

/// A duration rounded to the minute: `42m`, `1h 05m`, `2d 03h 10m`; `–` when undefined.
pub fn fmt_duration(ms: Option<Millis>) -> String {
    let Some(ms) = ms else {
        return "–".into();
    };
    let sign = if ms < 0 { "-" } else { "" };
    let minutes = (ms.unsigned_abs() + 30_000) / 60_000;
    let (d, h, m) = (minutes / 1440, minutes / 60 % 24, minutes % 60);
    if d > 0 {
        format!("{sign}{d}d {h:02}h {m:02}m")
    } else if h > 0 {
        format!("{sign}{h}h {m:02}m")
    } else {
        format!("{sign}{m}m")
    }
}

/// An amount with thousands separators, and cents only when there are any:
/// `1,234,500`, `99.50`.
pub fn fmt_amount(amount: f64) -> String {
    let cents = (amount * 100.0).round() as i128;
    let (whole, frac) = (cents.abs() / 100, cents.abs() % 100);
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    let sign = if cents < 0 { "-" } else { "" };
    if frac == 0 {
        format!("{sign}{out}")
    } else {
        format!("{sign}{out}.{frac:02}")
    }
}

/// The currency `deal_won` amounts are in, as an ISO 4217 code. The records
/// carry bare numbers, so the report is told which currency to name; it
/// labels amounts and never converts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Currency(String);

impl Currency {
    /// A three-letter ISO 4217 code, in either case: `EUR`, `usd`.
    pub fn parse(code: &str) -> Result<Currency, String> {
        if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Currency(code.to_ascii_uppercase()))
        } else {
            Err(format!(
                "expected a three-letter ISO 4217 currency code such as EUR or USD, got {code:?}"
            ))
        }
    }

    pub fn code(&self) -> &str {
        &self.0
    }

    /// An amount with its currency: `EUR 235,500`.
    pub fn amount(&self, amount: f64) -> String {
        format!("{} {}", self.0, fmt_amount(amount))
    }

    /// The header of an amount column, which names the currency once so
    /// the cells stay narrow: `won amount (EUR)`.
    pub fn column(&self, header: &str) -> String {
        format!("{header} ({})", self.0)
    }
}

/// US dollars, the currency most CRMs default to.
impl Default for Currency {
    fn default() -> Self {
        Currency("USD".into())
    }
}

impl std::str::FromStr for Currency {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

/// `2026-11-03 21:39 UTC`.
pub fn fmt_time(ms: Millis) -> String {
    let s = crate::codec::format_rfc3339(ms);
    match (s.get(..10), s.get(11..16)) {
        (Some(date), Some(hm)) => format!("{date} {hm} UTC"),
        _ => s,
    }
}

/// `12 (42.1%)`: a count and its share of `whole`.
pub fn fmt_count_share(n: u32, whole: u32) -> String {
    format!("{n} ({})", fmt_pct(ratio(n, whole)))
}

/// The period in words.
pub fn describe_period(report: &Report) -> String {
    let bound = |t: Option<Millis>, open: &str| t.map_or_else(|| open.to_owned(), fmt_time);
    let period = match (report.period.since, report.period.until) {
        (None, None) => "all handoffs".to_owned(),
        (since, until) => format!(
            "handoffs from {} to {} (exclusive)",
            bound(since, "the first"),
            bound(until, "the last")
        ),
    };
    let span = report.span.map_or_else(
        || "none in the records".to_owned(),
        |(a, b)| format!("first {}, last {}", fmt_time(a), fmt_time(b)),
    );
    let as_of = report
        .as_of
        .map_or_else(|| "no records".to_owned(), fmt_time);
    format!("Period: {period} ({span}). Outcomes as of {as_of}.")
}

#[cfg(test)]
mod tests;
