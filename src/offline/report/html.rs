//! The report as one self-contained HTML page: inline CSS and inline SVG
//! charts, no scripts, fonts or anything else fetched (a Content Security
//! Policy forbids it), so it can be mailed or attached as is.

use std::fmt::Write;

use super::markdown::{
    funnel_rows, group_reason_rows, group_rule_rows, group_table, overall_rows, reasons_sorted,
    rule_rows, stage_label, FUNNEL_HEADERS, RULE_HEADERS,
};
use super::{
    describe_period, fmt_amount, fmt_duration, fmt_pct, ratio, Report, FOLLOW_UP_BUCKETS_MIN,
    FUNNEL,
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
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; min-width: 150px; }
.tile .value { display: block; font-size: 24px; font-weight: 650; }
.tile .label { color: var(--muted); font-size: 12px; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; }
.chart { border: 1px solid var(--line); border-radius: 8px; padding: 12px 16px; }
.chart h3 { font-size: 14px; margin: 0 0 8px; }
svg text { font: 12px system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; fill: var(--ink); }
svg text.muted { fill: var(--muted); }
table { border-collapse: collapse; margin: 4px 0 8px; }
th, td { border: 1px solid var(--line); padding: 4px 8px; text-align: right; white-space: nowrap; }
th { background: #f5f7fb; font-weight: 600; }
td:first-child, th:first-child, td.text { text-align: left; }
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

/// A table; cells of the first `text_cols` columns are left-aligned text.
fn table(out: &mut String, id: &str, headers: &[&str], rows: &[Vec<String>], text_cols: usize) {
    let _ = write!(
        out,
        r##"<div class="scroll"><table id="{}"><thead><tr>"##,
        escape(id)
    );
    for h in headers {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            if i < text_cols {
                let _ = write!(out, r##"<td class="text">{}</td>"##, escape(c));
            } else {
                let _ = write!(out, "<td>{}</td>", escape(c));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>\n");
}

/// The funnel: one centred bar per stage, as wide as its share of passed leads.
fn funnel_chart(out: &mut String, report: &Report) {
    let f = &report.overall;
    let (w, bar_h, gap, label_w, value_w) = (560.0, 30.0, 8.0, 90.0, 120.0);
    let area = w - label_w - value_w;
    let h = FUNNEL.len() as f64 * (bar_h + gap);
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
    let (w, h, top, bottom) = (560.0, 220.0, 20.0, 28.0);
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
            r##"<rect x="{x:.1}" y="{y:.1}" width="{bw:.1}" height="{bh:.1}" rx="2" fill="#2f6fde"/><text x="{cx:.1}" y="{ny:.1}" text-anchor="middle">{n}</text><text class="muted" x="{cx:.1}" y="{ly}" text-anchor="middle">{label}</text>"##,
            ny = y - 5.0,
            ly = h - 8.0,
            label = escape(label),
        );
    }
    out.push_str("</svg>");
}

/// Contacted within SLA, one bar per rep, on a 0–100% track.
fn sla_chart(out: &mut String, report: &Report) {
    let (w, bar_h, gap, label_w, value_w) = (560.0, 22.0, 8.0, 160.0, 110.0);
    let area = w - label_w - value_w;
    let h = (report.reps.len().max(1) as f64) * (bar_h + gap);
    let _ = write!(
        out,
        r##"<svg id="sla-chart" role="img" aria-label="Contacted within SLA per rep" width="{w}" height="{h}" viewBox="0 0 {w} {h}"><title>Share of each rep's leads contacted within the SLA</title>"##
    );
    for (i, g) in report.reps.iter().enumerate() {
        let s = &g.figures.sla;
        let y = i as f64 * (bar_h + gap);
        let ty = y + bar_h / 2.0 + 4.0;
        let name = format!("{} / {}", g.team, g.rep.as_deref().unwrap_or(""));
        let _ = write!(
            out,
            r##"<text x="0" y="{ty}">{}</text><rect x="{label_w}" y="{y}" width="{area}" height="{bar_h}" rx="3" fill="#eef1f6"/>"##,
            escape(&name)
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

/// Renders the report as a self-contained HTML page.
pub fn render(report: &Report) -> String {
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
        "passed leads now customers",
    );
    tile(
        &mut out,
        "won",
        &format!("{} · {}", f.won, fmt_amount(f.won_amount)),
        "deals won · amount",
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

    out.push_str("<h2>Overall</h2>");
    let rows: Vec<Vec<String>> = overall_rows(f).into_iter().map(Vec::from).collect();
    table(&mut out, "overall", &["figure", "value"], &rows, 1);

    out.push_str("<h2>Conversion by stage</h2>");
    table(&mut out, "funnel", &FUNNEL_HEADERS, &funnel_rows(f), 1);

    out.push_str("<h2>Rejection reasons</h2>");
    let reasons = reasons_sorted(f);
    if reasons.is_empty() {
        out.push_str(r##"<p class="none">No rejections.</p>"##);
    } else {
        let rows: Vec<Vec<String>> = reasons
            .iter()
            .map(|&(r, n)| vec![r.to_owned(), n.to_string(), fmt_pct(ratio(n, f.rejected))])
            .collect();
        table(&mut out, "reasons", &["reason", "leads", "share"], &rows, 1);
    }

    out.push_str("<h2>Won and lost by qualifying rule</h2>");
    table(&mut out, "rules", &RULE_HEADERS, &rule_rows(f), 1);

    for (title, id, groups, with_rep) in [
        ("By team", "teams", &report.teams, false),
        ("By rep", "reps", &report.reps, true),
    ] {
        let _ = write!(out, "<h2>{title}</h2>");
        let (headers, rows) = group_table(groups, with_rep);
        table(&mut out, id, &headers, &rows, 1 + usize::from(with_rep));
    }
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
        let _ = write!(out, "<h2>{title}</h2>");
        let rows = group_reason_rows(groups);
        let keys = 1 + usize::from(with_rep);
        if rows.is_empty() {
            out.push_str(r##"<p class="none">No rejections.</p>"##);
        } else {
            let mut headers = vec!["team"];
            if with_rep {
                headers.push("rep");
            }
            headers.extend(["reason", "leads"]);
            table(&mut out, id, &headers, &rows, keys + 1);
        }
    }
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
        let _ = write!(out, "<h2>{title}</h2>");
        let mut headers = vec!["team"];
        if with_rep {
            headers.push("rep");
        }
        headers.extend(["rule", "passed", "won", "won amount", "lost"]);
        let keys = 1 + usize::from(with_rep);
        table(&mut out, id, &headers, &group_rule_rows(groups), keys + 1);
    }
    out.push_str("\n</body></html>\n");
    out
}
