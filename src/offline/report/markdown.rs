//! The report as Markdown, for terminals and pull requests.

use std::fmt::Write;

use super::accounts::Accounts;
use super::{
    describe_period, fmt_amount, fmt_count_share, fmt_duration, fmt_pct, ratio, Currency, Figures,
    Group, Report, FUNNEL,
};
use crate::core::admit::Shown;
use crate::core::Stage;

/// The funnel stage as the report names it.
pub fn stage_label(stage: Stage) -> &'static str {
    match stage {
        Stage::Mql => "MQL",
        Stage::Sal => "SAL",
        Stage::Sql => "SQL",
        other => other.as_str(),
    }
}

/// A Markdown table. `|` inside a cell is escaped, and so are newlines and
/// other control characters (a cell from an input cannot add rows).
pub(super) fn table(headers: &[String], rows: &[Vec<String>]) -> String {
    let cell = |s: &str| Shown(s).to_string().replace('|', "\\|");
    let mut out = String::new();
    let _ = writeln!(out, "| {} |", headers.join(" | "));
    let _ = writeln!(
        out,
        "|{}|",
        headers.iter().map(|_| "---").collect::<Vec<_>>().join("|")
    );
    for row in rows {
        let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// The header of the amount columns; [`headers`] adds the currency to it.
pub(super) const AMOUNT: &str = "won amount";

/// Column headers, the amount column's naming the currency.
pub(super) fn headers(names: &[&str], currency: &Currency) -> Vec<String> {
    names
        .iter()
        .map(|&h| {
            if h == AMOUNT {
                currency.column(h)
            } else {
                h.to_owned()
            }
        })
        .collect()
}

/// The overall figures as (label, value) rows.
pub(super) fn overall_rows(f: &Figures, currency: &Currency) -> Vec<[String; 2]> {
    let s = &f.sla;
    vec![
        ["Leads passed to sales".into(), f.passed.to_string()],
        [
            "Contacted within SLA".into(),
            format!("{} ({} of {})", fmt_pct(s.within()), s.met, s.judged()),
        ],
        ["SLA met".into(), s.met.to_string()],
        ["SLA breached".into(), s.breached.to_string()],
        ["Open past the deadline".into(), s.overdue_open.to_string()],
        ["Open, deadline not reached".into(), s.pending.to_string()],
        ["Rejected before contact".into(), s.closed.to_string()],
        ["SLA deadlines missed".into(), f.breaches.to_string()],
        [
            "Contacted".into(),
            fmt_count_share(f.follow_up.len() as u32, f.passed),
        ],
        ["Median follow-up".into(), fmt_duration(f.median())],
        ["p90 follow-up".into(), fmt_duration(f.p90())],
        ["Mean follow-up".into(), fmt_duration(f.mean())],
        [
            "Accepted by sales".into(),
            fmt_count_share(f.accepted, f.passed),
        ],
        [
            "Rejected by sales".into(),
            fmt_count_share(f.rejected, f.passed),
        ],
        [
            "Awaiting accept or reject".into(),
            fmt_count_share(f.awaiting_feedback, f.passed),
        ],
        [
            "Feedback overdue".into(),
            fmt_count_share(f.feedback_overdue, f.passed),
        ],
        ["Won".into(), f.won.to_string()],
        ["Won amount".into(), currency.amount(f.won_amount)],
        ["Lost".into(), f.lost.to_string()],
        [
            "Win rate (won / closed)".into(),
            fmt_pct(ratio(f.won, f.won + f.lost)),
        ],
    ]
}

/// Conversion rows: stage, leads, % of passed, % of previous stage.
pub(super) fn funnel_rows(f: &Figures) -> Vec<Vec<String>> {
    FUNNEL
        .iter()
        .enumerate()
        .map(|(i, &stage)| {
            vec![
                stage_label(stage).to_owned(),
                f.funnel[i].to_string(),
                fmt_pct(f.reached_share(i)),
                if i == 0 {
                    "–".to_owned()
                } else {
                    fmt_pct(f.step_share(i))
                },
            ]
        })
        .collect()
}

pub(super) const FUNNEL_HEADERS: [&str; 4] = ["stage", "leads", "% of passed", "% of previous"];

/// Rejection reasons, most frequent first (then by name).
pub(super) fn reasons_sorted(f: &Figures) -> Vec<(&str, u32)> {
    let mut v: Vec<(&str, u32)> = f.rejections.iter().map(|(r, &n)| (r.as_str(), n)).collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v
}

pub(super) const RULE_HEADERS: [&str; 6] = ["rule", "passed", "won", AMOUNT, "lost", "win rate"];

pub(super) fn rule_rows(f: &Figures) -> Vec<Vec<String>> {
    f.rules
        .iter()
        .map(|(rule, o)| {
            vec![
                rule.clone(),
                o.passed.to_string(),
                o.won.to_string(),
                fmt_amount(o.won_amount),
                o.lost.to_string(),
                fmt_pct(o.win_rate()),
            ]
        })
        .collect()
}

pub(super) const GROUP_HEADERS: [&str; 14] = [
    "passed",
    "within SLA",
    "median",
    "p90",
    "SAL",
    "SQL",
    "opportunity",
    "customer",
    "rejected",
    "feedback overdue",
    "won",
    AMOUNT,
    "lost",
    "deadlines missed",
];

/// One row of the team or rep table (without the team/rep columns).
pub(super) fn group_cells(f: &Figures) -> Vec<String> {
    let s = &f.sla;
    let mut v = vec![
        f.passed.to_string(),
        format!("{} ({}/{})", fmt_pct(s.within()), s.met, s.judged()),
        fmt_duration(f.median()),
        fmt_duration(f.p90()),
    ];
    for i in 1..FUNNEL.len() {
        v.push(fmt_count_share(f.funnel[i], f.passed));
    }
    v.extend([
        f.rejected.to_string(),
        f.feedback_overdue.to_string(),
        f.won.to_string(),
        fmt_amount(f.won_amount),
        f.lost.to_string(),
        f.breaches.to_string(),
    ]);
    v
}

fn group_keys(g: &Group) -> Vec<String> {
    let mut v = vec![g.team.clone()];
    v.extend(g.rep.clone());
    v
}

/// The group tables: `(headers, rows)` for teams or reps.
pub(super) fn group_table(
    groups: &[Group],
    with_rep: bool,
    currency: &Currency,
) -> (Vec<String>, Vec<Vec<String>>) {
    let rows = groups
        .iter()
        .map(|g| {
            let mut row = group_keys(g);
            row.extend(group_cells(&g.figures));
            row
        })
        .collect();
    (keyed(with_rep, &GROUP_HEADERS, currency), rows)
}

/// Rejection reasons per group: team, [rep,] reason, leads.
pub(super) fn group_reason_rows(groups: &[Group]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for g in groups {
        for (reason, n) in reasons_sorted(&g.figures) {
            let mut row = group_keys(g);
            row.extend([reason.to_owned(), n.to_string()]);
            rows.push(row);
        }
    }
    rows
}

/// Columns of the per-group rule table after team and rep.
pub(super) const RULE_BY_GROUP_HEADERS: [&str; 5] = ["rule", "passed", "won", AMOUNT, "lost"];

/// Won and lost by rule per group: team, [rep,] rule, passed, won, amount, lost.
pub(super) fn group_rule_rows(groups: &[Group]) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    for g in groups {
        for (rule, o) in &g.figures.rules {
            let mut row = group_keys(g);
            row.extend([
                rule.clone(),
                o.passed.to_string(),
                o.won.to_string(),
                fmt_amount(o.won_amount),
                o.lost.to_string(),
            ]);
            rows.push(row);
        }
    }
    rows
}

/// Headers of a per-team (or per-rep) table: team, [rep,] then `rest`.
pub(super) fn keyed(with_rep: bool, rest: &[&str], currency: &Currency) -> Vec<String> {
    let mut h = vec!["team"];
    if with_rep {
        h.push("rep");
    }
    h.extend_from_slice(rest);
    headers(&h, currency)
}

/// Columns of the account table.
pub(super) const ACCOUNT_HEADERS: [&str; 11] = [
    "account",
    "alerts",
    "followed up",
    "people alerted",
    "leads passed",
    "within SLA",
    "accepted",
    "SQL",
    "customer",
    "won",
    AMOUNT,
];

/// The accounts summary as (label, value) rows.
pub(super) fn account_summary(a: &Accounts) -> Vec<Vec<String>> {
    vec![
        vec!["Accounts passed to sales".into(), a.passed.to_string()],
        vec!["Account alerts".into(), a.alerts.to_string()],
        vec![
            "Account alerts followed up".into(),
            fmt_count_share(a.followed_up, a.alerts),
        ],
    ]
}

/// One row per account: alerts, follow-up, and its leads' conversion.
pub(super) fn account_rows(a: &Accounts) -> Vec<Vec<String>> {
    let sql = FUNNEL
        .iter()
        .position(|&s| s == Stage::Sql)
        .expect("SQL is a stage");
    let customer = FUNNEL.len() - 1;
    a.rows
        .iter()
        .map(|r| {
            let f = &r.figures;
            let s = &f.sla;
            vec![
                r.account.clone(),
                r.alerts.to_string(),
                fmt_count_share(r.followed_up, r.alerts),
                r.people.to_string(),
                f.passed.to_string(),
                format!("{} ({}/{})", fmt_pct(s.within()), s.met, s.judged()),
                fmt_count_share(f.accepted, f.passed),
                fmt_count_share(f.funnel[sql], f.passed),
                fmt_count_share(f.funnel[customer], f.passed),
                f.won.to_string(),
                fmt_amount(f.won_amount),
            ]
        })
        .collect()
}

/// Renders the report as Markdown, amounts in `currency`.
pub fn render(report: &Report, currency: &Currency) -> String {
    let f = &report.overall;
    let mut out = String::new();
    let _ = writeln!(out, "# Sales check-in\n");
    let _ = writeln!(out, "{}\n", describe_period(report));

    let _ = writeln!(out, "## Overall\n");
    let rows: Vec<Vec<String>> = overall_rows(f, currency)
        .into_iter()
        .map(Vec::from)
        .collect();
    out.push_str(&table(&headers(&["figure", "value"], currency), &rows));

    let _ = writeln!(out, "\n## Conversion by stage\n");
    out.push_str(&table(&headers(&FUNNEL_HEADERS, currency), &funnel_rows(f)));

    let _ = writeln!(out, "\n## Rejection reasons\n");
    let reasons = reasons_sorted(f);
    if reasons.is_empty() {
        let _ = writeln!(out, "No rejections.");
    } else {
        let rows: Vec<Vec<String>> = reasons
            .iter()
            .map(|&(r, n)| vec![r.to_owned(), n.to_string(), fmt_pct(ratio(n, f.rejected))])
            .collect();
        out.push_str(&table(
            &headers(&["reason", "leads", "share"], currency),
            &rows,
        ));
    }

    let _ = writeln!(out, "\n## Won and lost by qualifying rule\n");
    out.push_str(&table(&headers(&RULE_HEADERS, currency), &rule_rows(f)));

    for (title, groups, with_rep) in [
        ("By team", &report.teams, false),
        ("By rep", &report.reps, true),
    ] {
        let _ = writeln!(out, "\n## {title}\n");
        let (headers, rows) = group_table(groups, with_rep, currency);
        out.push_str(&table(&headers, &rows));
    }

    for (title, groups, with_rep) in [
        ("Rejection reasons by team", &report.teams, false),
        ("Rejection reasons by rep", &report.reps, true),
    ] {
        let _ = writeln!(out, "\n## {title}\n");
        let rows = group_reason_rows(groups);
        if rows.is_empty() {
            let _ = writeln!(out, "No rejections.");
        } else {
            out.push_str(&table(
                &keyed(with_rep, &["reason", "leads"], currency),
                &rows,
            ));
        }
    }

    for (title, groups, with_rep) in [
        ("Won and lost by rule, per team", &report.teams, false),
        ("Won and lost by rule, per rep", &report.reps, true),
    ] {
        let _ = writeln!(out, "\n## {title}\n");
        let rows = group_rule_rows(groups);
        out.push_str(&table(
            &keyed(with_rep, &RULE_BY_GROUP_HEADERS, currency),
            &rows,
        ));
    }

    // Only a model that scores accounts has account records.
    if !report.accounts.rows.is_empty() {
        let _ = writeln!(out, "\n## Accounts\n");
        let a = &report.accounts;
        out.push_str(&table(
            &headers(&["figure", "value"], currency),
            &account_summary(a),
        ));
        let _ = writeln!(out, "\n## By account\n");
        out.push_str(&table(
            &headers(&ACCOUNT_HEADERS, currency),
            &account_rows(a),
        ));
    }
    if let Some(c) = &report.shadow {
        let _ = writeln!(out, "\n## Champion and challenger\n");
        let headers: Vec<String> = super::shadow::HEADERS.map(String::from).into();
        out.push_str(&table(&headers, &c.rows()));
        for line in c.only_lines() {
            let _ = writeln!(out, "\n{line}");
        }
    }
    out
}
