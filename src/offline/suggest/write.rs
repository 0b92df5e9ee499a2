//! The candidate model file: the current file as written (comments,
//! thresholds, grades, groups, disqualifiers, handoff), with changed points,
//! removed rules commented out, and new rules appended, each with its
//! evidence in a comment. Edited line by line, so everything else stays
//! byte for byte; `suggest` loads the result before anyone sees it.

use std::collections::BTreeMap;

use crate::core::Model;

use super::features::{quote, Probe};
use super::{Evidence, SuggestOptions};

/// A rule table in the file: its header line and its last line.
struct Table {
    header: usize,
    last: usize,
}

fn is_header(line: &str) -> Option<&str> {
    let t = line.trim();
    let t = t.split('#').next().unwrap_or("").trim_end();
    let inner = t.strip_prefix("[[")?.strip_suffix("]]")?;
    Some(inner.trim())
}

fn starts_table(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with('[') && !t.contains('=')
}

/// The `key = ` line's key, if the line sets one.
fn key_of(line: &str) -> Option<&str> {
    let (k, _) = line.split_once('=')?;
    let k = k.trim();
    (!k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')).then_some(k)
}

/// The `[[fit.rule]]` and `[[engagement.rule]]` tables by (fit, id).
fn rule_tables(lines: &[&str]) -> BTreeMap<(bool, String), Table> {
    let mut out = BTreeMap::new();
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| starts_table(lines[i]))
        .collect();
    for (k, &start) in starts.iter().enumerate() {
        let fit = match is_header(lines[start]) {
            Some("fit.rule") => true,
            Some("engagement.rule") => false,
            _ => continue,
        };
        let mut last = starts.get(k + 1).map_or(lines.len(), |&n| n) - 1;
        while last > start && {
            let t = lines[last].trim();
            t.is_empty() || t.starts_with('#')
        } {
            last -= 1;
        }
        let id = lines[start + 1..=last].iter().find_map(|l| {
            (key_of(l) == Some("id"))
                .then(|| toml::from_str::<toml::Table>(l).ok())
                .flatten()
                .and_then(|t| t.get("id").and_then(|v| v.as_str().map(str::to_owned)))
        });
        if let Some(id) = id {
            out.insert(
                (fit, id),
                Table {
                    header: start,
                    last,
                },
            );
        }
    }
    out
}

fn evidence(e: &Evidence) -> String {
    let coef = e
        .coefficient
        .map_or("not fitted".to_owned(), |c| format!("coefficient {c:+.3}"));
    format!(
        "support {} leads ({} with the outcome), lift {:.2}, {coef}",
        e.support, e.outcomes, e.lift
    )
}

/// The candidate model's text.
pub(crate) fn candidate(
    text: &str,
    current: &Model,
    probe: &Probe,
    rules: &[Evidence],
    options: &SuggestOptions,
) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let tables = rule_tables(&lines);
    let outcome = options.target.as_str();
    let mut before: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mut replace: BTreeMap<usize, String> = BTreeMap::new();
    let mut commented = vec![false; lines.len()];

    if let Some(i) = lines
        .iter()
        .take_while(|l| !starts_table(l))
        .position(|l| key_of(l) == Some("version"))
    {
        before.entry(i).or_default().push(format!(
            "# Suggested by `leadpulse model suggest --outcome {outcome}` from {}: review the\n\
             # changes below, then compare with `leadpulse replay --report --compare`.",
            current.version
        ));
        replace.insert(
            i,
            format!(
                "version = {}",
                quote(&format!("{}-suggested", current.version))
            ),
        );
    }
    for e in rules.iter().filter(|e| !e.new) {
        let Some(t) = tables.get(&(e.fit, e.id.clone())) else {
            continue;
        };
        let note = match (e.coefficient, e.points_before, e.points_after) {
            (None, _, _) => format!(
                "# model suggest: kept as it is, too little evidence (matched {} training \
                 leads, fewer than {})",
                e.support, options.min_support
            ),
            (Some(_), Some(b), None) => {
                (t.header..=t.last).for_each(|i| commented[i] = true);
                format!(
                    "# model suggest: removed (was {b} points; its points round to 0): {}",
                    evidence(e)
                )
            }
            (Some(_), Some(b), Some(a)) if a != b => {
                if let Some(i) = (t.header..=t.last).find(|&i| key_of(lines[i]) == Some("points")) {
                    let indent = &lines[i][..lines[i].len() - lines[i].trim_start().len()];
                    replace.insert(i, format!("{indent}points = {a}"));
                }
                format!("# model suggest: {b} → {a} points: {}", evidence(e))
            }
            _ => format!("# model suggest: unchanged: {}", evidence(e)),
        };
        before.entry(t.header).or_default().push(note);
    }

    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        for note in before.get(&i).into_iter().flatten() {
            out.push_str(note);
            out.push('\n');
        }
        let line = replace.get(&i).map_or(*line, String::as_str);
        if commented[i] {
            out.push_str("# ");
        }
        out.push_str(line);
        out.push('\n');
    }
    let added: Vec<&Evidence> = rules
        .iter()
        .filter(|e| e.new && e.points_after.is_some())
        .collect();
    if !added.is_empty() {
        out.push_str(&format!(
            "\n# ---------------------------------------------------------------------------\n\
             # Rules drawn from the data by `leadpulse model suggest --outcome {outcome}`:\n\
             # each matched at least {} training leads and predicts the outcome.\n\
             # ---------------------------------------------------------------------------\n",
            options.min_support
        ));
    }
    for e in added {
        let (Some(c), Some(points)) = (
            probe.candidates.iter().find(|c| c.id == e.id),
            e.points_after,
        ) else {
            continue;
        };
        out.push_str(&format!("\n# model suggest: new: {}\n", evidence(e)));
        out.push_str(&c.table(points));
    }
    out
}
