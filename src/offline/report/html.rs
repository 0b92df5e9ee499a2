//! The report as one self-contained HTML page: inline CSS and inline SVG
//! charts, no scripts, fonts or anything else fetched (a Content Security
//! Policy forbids it), so it can be mailed or attached as is.

use std::fmt::Write;

use super::markdown::{
    account_rows, account_summary, funnel_rows, group_reason_rows, group_rule_rows, group_table,
    headers, keyed, overall_rows, reasons_sorted, rule_rows, stage_label, ACCOUNT_HEADERS,
    FUNNEL_HEADERS, RULE_BY_GROUP_HEADERS, RULE_HEADERS,
};
use super::{
    describe_period, fmt_duration, fmt_pct, ratio, Currency, Report, FOLLOW_UP_BUCKETS_MIN, FUNNEL,
};

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Laid out for a 1280 px screen and up: the charts side by side, the
/// short tables in two columns, the wide team and rep tables fitting
/// without scrolling (headers wrap, cells do not). Narrower windows stack
/// the columns, and a table too wide for them scrolls on its own.
const STYLE: &str = r##"
:root { color-scheme: light; --ink: #1d2433; --muted: #5b6478; --line: #d9dee8;
  --accent: #2f6fde; --good: #1f9d63; --warn: #d98c1a; --bad: #d4473d; --track: #eef1f6; }
* { box-sizing: border-box; }
body { margin: 0; padding: 32px 40px 48px; font: 14px/1.45 system-ui, -apple-system,
  "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
p.period { color: var(--muted); margin: 0 0 20px; }
.tiles { display: flex; flex-wrap: wrap; gap: 12px; }
.tile { flex: 1 0 140px; border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.tile .value { display: block; font-size: 24px; font-weight: 650; white-space: nowrap; }
.tile .label { color: var(--muted); font-size: 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 320px), 1fr));
  gap: 16px; align-items: start; }
@media (min-width: 1200px) { .charts { grid-template-columns: 1fr 1.3fr 1fr; } }
.chart { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; min-width: 0; }
.chart h3 { font-size: 14px; margin: 0 0 8px; }
.chart svg { display: block; width: 100%; height: auto; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--ink); }
svg text.muted { fill: var(--muted); }
svg text.axis { font-size: 11px; }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 440px), 1fr));
  gap: 0 32px; align-items: start; }
.columns > div { min-width: 0; }
table { border-collapse: collapse; margin: 4px 0 8px; font-size: 13px;
  font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 4px 7px; }
th { background: #f5f7fb; font-weight: 600; vertical-align: bottom; }
td { white-space: nowrap; }
th.num, td.num { text-align: right; }
th.text, td.text { text-align: left; }
p.none { color: var(--muted); }
.scroll { overflow-x: auto; }
"##;

fn tile(out: &mut String, id: &str, value: &str, label: &str) {
    let _ = write!(
        out,
        r##"<div class="tile" data-figure="{}"><span class="value">{}</span><span class="label">{}</span></div>"##,
        escape(id),
        escape(value),
        escape(label)
    );
}

/// A table: the first `text_cols` columns are text, aligned left with
/// their headers; the others are figures, aligned right.
fn table(out: &mut String, id: &str, headers: &[String], rows: &[Vec<String>], text_cols: usize) {
    let class = |i: usize| if i < text_cols { "text" } else { "num" };
    let _ = write!(
        out,
        r##"<div class="scroll"><table id="{}"><thead><tr>"##,
        escape(id)
    );
    for (i, h) in headers.iter().enumerate() {
        let _ = write!(out, r##"<th class="{}">{}</th>"##, class(i), escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let _ = write!(out, r##"<td class="{}">{}</td>"##, class(i), escape(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>\n");
}

/// The widths the charts are drawn at, those of their columns on a 1280 px
/// page (the follow-up histogram's is wider, for its eight axis labels).
/// The page scales each drawing to its column.
const CHART_W: f64 = 320.0;
const HISTOGRAM_W: f64 = 420.0;

/// The funnel: one centred bar per stage, as wide as its share of passed leads.
fn funnel_chart(out: &mut String, report: &Report) {
    let f = &report.overall;
    let (w, bar_h, gap, label_w, value_w) = (CHART_W, 28.0, 8.0, 76.0, 92.0);
    let area = w - label_w - value_w;
    let h = FUNNEL.len() as f64 * (bar_h + gap) - gap;
    let _ = write!(
        out,
        r##"<svg id="funnel-chart" role="img" aria-label="Conversion funnel" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><title>Leads reaching each stage</title>"##
    );
    for (i, &stage) in FUNNEL.iter().enumerate() {
        let share = f.reached_share(i).unwrap_or(0.0);
        let bw = (share * area).max(2.0);
        let x = label_w + (area - bw) / 2.0;
        let y = i as f64 * (bar_h + gap);
        let ty = y + bar_h / 2.0 + 4.0;
        let _ = write!(
            out,
            r##"<text x="0" y="{ty}">{label}</text><rect x="{x:.1}" y="{y}" width="{bw:.1}" height="{bar_h}" rx="3" fill="#2f6fde" opacity="{op:.2}"/><text x="{vx}" y="{ty}">{n} ({pct})</text>"##,
            label = stage_label(stage),
            op = 1.0 - i as f64 * 0.12,
            vx = label_w + area + 10.0,
            n = f.funnel[i],
            pct = fmt_pct(f.reached_share(i)),
        );
    }
    out.push_str("</svg>");
}

/// Labels of the follow-up buckets: `<15m`, `15–30m`, …, `≥24h`.
pub fn bucket_labels() -> Vec<String> {
    let name = |m: i64| {
        if m >= 60 {
            format!("{}h", m / 60)
        } else {
            format!("{m}m")
        }
    };
    let mut labels = vec![format!("<{}", name(FOLLOW_UP_BUCKETS_MIN[0]))];
    for pair in FOLLOW_UP_BUCKETS_MIN.windows(2) {
        let (a, b) = (name(pair[0]), name(pair[1]));
        // `1h–2h` reads better as `1–2h`.
        let a = if a.ends_with('h') == b.ends_with('h') {
            a[..a.len() - 1].to_owned()
        } else {
            a
        };
        labels.push(format!("{a}–{b}"));
    }
    labels.push(format!(
        "≥{}",
        name(FOLLOW_UP_BUCKETS_MIN[FOLLOW_UP_BUCKETS_MIN.len() - 1])
    ));
    labels
}

/// The follow-up time distribution: one column per bucket.
fn follow_up_chart(out: &mut String, report: &Report) {
    let hist = report.overall.follow_up_histogram();
    let labels = bucket_labels();
    let max = hist.iter().copied().max().unwrap_or(0).max(1);
    let (w, h, top, bottom) = (HISTOGRAM_W, 180.0, 18.0, 24.0);
    let slot = w / hist.len() as f64;
    let plot = h - top - bottom;
    let _ = write!(
        out,
        r##"<svg id="follow-up-chart" role="img" aria-label="Follow-up time distribution" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><title>Leads by time to first contact</title>"##
    );
    let _ = write!(
        out,
        r##"<line x1="0" y1="{y}" x2="{w}" y2="{y}" stroke="#d9dee8"/>"##,
        y = top + plot
    );
    for (i, (&n, label)) in hist.iter().zip(&labels).enumerate() {
        let bh = f64::from(n) / f64::from(max) * plot;
        let x = i as f64 * slot + slot * 0.15;
        let bw = slot * 0.7;
        let y = top + plot - bh;
        let cx = i as f64 * slot + slot / 2.0;
        let _ = write!(
            out,
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" rx="2" fill="#2f6fde"/><text x="{cx:.1}" y="{ny:.1}" text-anchor="middle">{n}</text><text class="muted axis" x="{cx:.1}" y="{ly}" text-anchor="middle">{label}</text>"##,
            ny = y - 5.0,
            ly = h - 6.0,
            label = escape(label),
        );
    }
    out.push_str("</svg>");
}

/// Contacted within SLA, one bar per rep, on a 0–100% track.
fn sla_chart(out: &mut String, report: &Report) {
    let names: Vec<String> = report
        .reps
        .iter()
        .map(|g| format!("{} / {}", g.team, g.rep.as_deref().unwrap_or("")))
        .collect();
    // Room for the longest name (about 6.5 px a character at 12 px); a
    // longer one widens the drawing, which the page then scales down.
    let longest = names.iter().map(|n| n.chars().count()).max().unwrap_or(0);
    let label_w = (longest as f64 * 6.5 + 10.0).clamp(70.0, 240.0);
    let (bar_h, gap, value_w) = (20.0, 8.0, 92.0);
    let area = (CHART_W - label_w - value_w).max(110.0);
    let w = label_w + area + value_w;
    let h = (report.reps.len().max(1) as f64) * (bar_h + gap) - gap;
    let _ = write!(
        out,
        r##"<svg id="sla-chart" role="img" aria-label="Contacted within SLA per rep" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><title>Share of each rep's leads contacted within the SLA</title>"##
    );
    for (i, (g, name)) in report.reps.iter().zip(&names).enumerate() {
        let s = &g.figures.sla;
        let y = i as f64 * (bar_h + gap);
        let ty = y + bar_h / 2.0 + 4.0;
        let _ = write!(
            out,
            r##"<text x="0" y="{ty}">{}</text><rect x="{label_w}" y="{y}" width="{area}" height="{bar_h}" rx="3" fill="#eef1f6"/>"##,
            escape(name)
        );
        let value = match s.within() {
            Some(share) => {
                let color = if share >= 0.8 {
                    "#1f9d63"
                } else if share >= 0.5 {
                    "#d98c1a"
                } else {
                    "#d4473d"
                };
                let _ = write!(
                    out,
                    r##"<rect x="{label_w}" y="{y}" width="{bw:.1}" height="{bar_h}" rx="3" fill="{color}"/>"##,
                    bw = share * area
                );
                format!("{} ({}/{})", fmt_pct(Some(share)), s.met, s.judged())
            }
            None => "no outcome yet".to_owned(),
        };
        let _ = write!(
            out,
            r##"<text x="{vx}" y="{ty}">{}</text>"##,
            escape(&value),
            vx = label_w + area + 10.0
        );
    }
    out.push_str("</svg>");
}

/// Renders the report as a self-contained HTML page, amounts in `currency`.
pub fn render(report: &Report, currency: &Currency) -> String {
    let f = &report.overall;
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    out.push_str("<title>Sales check-in</title><style>");
    out.push_str(STYLE);
    out.push_str("</style></head><body>\n<h1>Sales check-in</h1>");
    let _ = writeln!(
        out,
        r##"<p class="period">{}</p>"##,
        escape(&describe_period(report))
    );

    out.push_str(r##"<section class="tiles">"##);
    tile(
        &mut out,
        "passed",
        &f.passed.to_string(),
        "leads passed to sales",
    );
    tile(
        &mut out,
        "within-sla",
        &fmt_pct(f.sla.within()),
        &format!("contacted within SLA ({} of {})", f.sla.met, f.sla.judged()),
    );
    tile(
        &mut out,
        "median",
        &fmt_duration(f.median()),
        "median follow-up",
    );
    tile(&mut out, "p90", &fmt_duration(f.p90()), "p90 follow-up");
    tile(
        &mut out,
        "customers",
        &fmt_pct(f.reached_share(FUNNEL.len() - 1)),
        "now customers",
    );
    tile(
        &mut out,
        "won",
        &currency.amount(f.won_amount),
        &format!("won in {} deal{}", f.won, if f.won == 1 { "" } else { "s" }),
    );
    tile(
        &mut out,
        "rejected",
        &f.rejected.to_string(),
        "rejected by sales",
    );
    out.push_str("</section>\n");

    out.push_str(r##"<h2>At a glance</h2><section class="charts">"##);
    out.push_str(r##"<div class="chart"><h3>Conversion by stage</h3>"##);
    funnel_chart(&mut out, report);
    out.push_str(r##"</div><div class="chart"><h3>Time to first contact</h3>"##);
    follow_up_chart(&mut out, report);
    out.push_str(r##"</div><div class="chart"><h3>Contacted within SLA, per rep</h3>"##);
    sla_chart(&mut out, report);
    out.push_str("</div></section>\n");

    // The overall table beside the three short ones.
    out.push_str(r##"<section class="columns"><div><h2>Overall</h2>"##);
    let rows: Vec<Vec<String>> = overall_rows(f, currency)
        .into_iter()
        .map(Vec::from)
        .collect();
    table(
        &mut out,
        "overall",
        &headers(&["figure", "value"], currency),
        &rows,
        1,
    );

    out.push_str("</div><div><h2>Conversion by stage</h2>");
    table(
        &mut out,
        "funnel",
        &headers(&FUNNEL_HEADERS, currency),
        &funnel_rows(f),
        1,
    );

    out.push_str("<h2>Rejection reasons</h2>");
    let reasons = reasons_sorted(f);
    if reasons.is_empty() {
        out.push_str(r##"<p class="none">No rejections.</p>"##);
    } else {
        let rows: Vec<Vec<String>> = reasons
            .iter()
            .map(|&(r, n)| vec![r.to_owned(), n.to_string(), fmt_pct(ratio(n, f.rejected))])
            .collect();
        let h = headers(&["reason", "leads", "share"], currency);
        table(&mut out, "reasons", &h, &rows, 1);
    }

    out.push_str("<h2>Won and lost by qualifying rule</h2>");
    table(
        &mut out,
        "rules",
        &headers(&RULE_HEADERS, currency),
        &rule_rows(f),
        1,
    );
    out.push_str("</div></section>\n");

    for (title, id, groups, with_rep) in [
        ("By team", "teams", &report.teams, false),
        ("By rep", "reps", &report.reps, true),
    ] {
        let _ = write!(out, "<h2>{title}</h2>");
        let (headers, rows) = group_table(groups, with_rep, currency);
        table(&mut out, id, &headers, &rows, 1 + usize::from(with_rep));
    }

    // Per team and per rep side by side.
    out.push_str(r##"<section class="columns">"##);
    for (title, id, groups, with_rep) in [
        (
            "Rejection reasons by team",
            "team-reasons",
            &report.teams,
            false,
        ),
        (
            "Rejection reasons by rep",
            "rep-reasons",
            &report.reps,
            true,
        ),
    ] {
        let _ = write!(out, "<div><h2>{title}</h2>");
        let rows = group_reason_rows(groups);
        let keys = 1 + usize::from(with_rep);
        if rows.is_empty() {
            out.push_str(r##"<p class="none">No rejections.</p>"##);
        } else {
            let h = keyed(with_rep, &["reason", "leads"], currency);
            table(&mut out, id, &h, &rows, keys + 1);
        }
        out.push_str("</div>");
    }
    out.push_str("</section>\n<section class=\"columns\">");
    for (title, id, groups, with_rep) in [
        (
            "Won and lost by rule, per team",
            "team-rules",
            &report.teams,
            false,
        ),
        (
            "Won and lost by rule, per rep",
            "rep-rules",
            &report.reps,
            true,
        ),
    ] {
        let _ = write!(out, "<div><h2>{title}</h2>");
        let h = keyed(with_rep, &RULE_BY_GROUP_HEADERS, currency);
        let keys = 1 + usize::from(with_rep);
        table(&mut out, id, &h, &group_rule_rows(groups), keys + 1);
        out.push_str("</div>");
    }
    out.push_str("</section>\n");
    // Only a model that scores accounts has account records.
    if !report.accounts.rows.is_empty() {
        let a = &report.accounts;
        out.push_str("<h2>Accounts</h2>");
        let h = headers(&["figure", "value"], currency);
        table(&mut out, "accounts", &h, &account_summary(a), 1);
        out.push_str("<h2>By account</h2>");
        let h = headers(&ACCOUNT_HEADERS, currency);
        table(&mut out, "by-account", &h, &account_rows(a), 1);
    }
    if let Some(c) = &report.shadow {
        out.push_str("<h2>Champion and challenger</h2>");
        let headers: Vec<String> = super::shadow::HEADERS.map(String::from).into();
        table(&mut out, "shadow", &headers, &c.rows(), 1);
        for line in c.only_lines() {
            let _ = write!(out, "<p>{}</p>", escape(&line));
        }
    }
    out.push_str("</body></html>\n");
    out
}
