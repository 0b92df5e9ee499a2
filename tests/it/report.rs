//! `leadpulse report` end to end. The example events are replayed with the
//! example roster, a simulated sales team answers the alerts, events and
//! feedback are replayed together, and the report of that run is checked
//! against its records, computed here independently (from the raw JSON,
//! not through leadpulse's decoders). The HTML page is rendered in a real
//! headless browser (Debian's chromium) with a screenshot kept under
//! `target/test-artifacts/`, and the same report is read back from the
//! topics of a real broker.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use leadpulse::codec::{self, format_rfc3339, parse_rfc3339, Format};
use leadpulse::tools::simulate::{simulate_with_plans, SimOptions};
use serde_json::Value;

use crate::support::Deployment;

const SEED: &str = "9";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs leadpulse and returns its stdout and stderr; fails the test on a
/// non-zero exit.
fn leadpulse_with_stderr(args: &[&str]) -> (Vec<u8>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(args)
        .current_dir(root())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "leadpulse {args:?} failed: {stderr}");
    (out.stdout, stderr)
}

/// Runs leadpulse and returns its stdout.
fn leadpulse(args: &[&str]) -> Vec<u8> {
    leadpulse_with_stderr(args).0
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The two replays and the simulated feedback, made once per test binary.
struct Run {
    /// `replay --outputs` of the example events alone.
    first: PathBuf,
    /// The feedback `simulate-sales` wrote for the first run's alerts.
    feedback: Vec<u8>,
    /// `replay --outputs` of the events and the feedback merged.
    second: PathBuf,
}

fn fixture() -> &'static Run {
    static RUN: OnceLock<Run> = OnceLock::new();
    RUN.get_or_init(|| {
        let dir =
            Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("report-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (first, second) = (dir.join("first"), dir.join("second"));
        let replay = |events: &Path, outputs: &Path, extra: &[&str]| {
            let mut args = vec![
                "replay",
                "--model",
                "examples/model.toml",
                "--events",
                s(events),
                "--routing",
                "examples/routing.toml",
                "--outputs",
                s(outputs),
            ];
            args.extend_from_slice(extra);
            let (_, summary) = leadpulse_with_stderr(&args);
            assert!(summary.contains(" 0 dead-lettered"), "{summary}");
        };
        let events = root().join("examples/events.ndjson");
        replay(
            &events,
            &first,
            &["--reference-time", "2026-11-27T00:00:00Z"],
        );
        let alerts = first.join("hot-lead-alerts.ndjson");
        let feedback = leadpulse(&["simulate-sales", "--alerts", s(&alerts), "--seed", SEED]);
        let merged_by_cli = leadpulse(&[
            "simulate-sales",
            "--alerts",
            s(&alerts),
            "--seed",
            SEED,
            "--merge",
            s(&events),
        ]);
        let merged = merge(&std::fs::read(&events).unwrap(), &feedback);
        assert!(
            merged == merged_by_cli,
            "simulate-sales --merge does not merge in event-time order"
        );
        let merged_path = dir.join("merged.ndjson");
        std::fs::write(&merged_path, &merged).unwrap();
        // Deals close weeks after the last engagement event; then the
        // timers run out, so every deadline has its outcome.
        replay(
            &merged_path,
            &second,
            &[
                "--reference-time",
                "2027-02-01T00:00:00Z",
                "--until",
                "2027-02-01T00:00:00Z",
            ],
        );
        Run {
            first,
            feedback,
            second,
        }
    })
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

fn time_of(line: &[u8]) -> i64 {
    let v: Value = serde_json::from_slice(line).unwrap();
    parse_rfc3339(v["occurred_at"].as_str().unwrap()).unwrap()
}

/// Events then feedback, stably sorted by event time.
fn merge(events: &[u8], feedback: &[u8]) -> Vec<u8> {
    let mut all: Vec<(i64, usize, &[u8])> = lines(events)
        .into_iter()
        .chain(lines(feedback))
        .enumerate()
        .map(|(i, l)| (time_of(l), i, l))
        .collect();
    all.sort_by_key(|&(t, i, _)| (t, i));
    let mut out = Vec::new();
    for (_, _, l) in all {
        out.extend_from_slice(l);
        out.push(b'\n');
    }
    out
}

// ---- the records, read independently --------------------------------------

#[derive(Debug, Clone)]
struct Handoff {
    alert_id: String,
    team: String,
    rep: String,
    handed_at: i64,
    respond_by: i64,
    first_contact_at: Option<i64>,
    feedback_at: Option<i64>,
    sla: String,
    breaches: u64,
    feedback: Option<String>,
    rejection_reason: Option<String>,
    feedback_overdue: bool,
    qualified_by: String,
    won_amount: Option<f64>,
    lost: bool,
}

struct Breach {
    breach_id: String,
    alert_id: String,
    team: String,
    rep: String,
    respond_by: i64,
    number: u64,
}

struct Records {
    handoffs: BTreeMap<String, Handoff>,
    /// (alert_id, to, at)
    stages: Vec<(Option<String>, String, i64)>,
    breaches: Vec<Breach>,
}

fn json_lines(path: &Path) -> Vec<Value> {
    lines(&std::fs::read(path).unwrap())
        .into_iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect()
}

fn time(v: &Value) -> Option<i64> {
    v.as_str().map(|t| parse_rfc3339(t).unwrap())
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

fn records(dir: &Path) -> Records {
    let mut handoffs = BTreeMap::new();
    for v in json_lines(&dir.join("lead-handoffs.ndjson")) {
        let h = Handoff {
            alert_id: text(&v["alert_id"]),
            team: text(&v["team"]),
            rep: text(&v["rep"]),
            handed_at: time(&v["handed_at"]).unwrap(),
            respond_by: time(&v["respond_by"]).unwrap(),
            first_contact_at: time(&v["first_contact_at"]),
            feedback_at: time(&v["feedback_at"]),
            sla: text(&v["sla"]),
            breaches: v["breaches"].as_u64().unwrap(),
            feedback: v["feedback"].as_str().map(str::to_owned),
            rejection_reason: v["rejection_reason"].as_str().map(str::to_owned),
            feedback_overdue: v["feedback_overdue"].as_bool().unwrap(),
            qualified_by: text(&v["qualified_by"]),
            won_amount: v["won_amount"].as_f64(),
            lost: v["lost_reason"].is_string(),
        };
        handoffs.insert(h.alert_id.clone(), h);
    }
    let stages = json_lines(&dir.join("lead-lifecycle.ndjson"))
        .iter()
        .map(|v| {
            (
                v["alert_id"].as_str().map(str::to_owned),
                text(&v["to"]),
                time(&v["at"]).unwrap(),
            )
        })
        .collect();
    let breaches = json_lines(&dir.join("sla-breaches.ndjson"))
        .iter()
        .map(|v| Breach {
            breach_id: text(&v["breach_id"]),
            alert_id: text(&v["alert_id"]),
            team: text(&v["team"]),
            rep: text(&v["rep"]),
            respond_by: time(&v["respond_by"]).unwrap(),
            number: v["breach_number"].as_u64().unwrap(),
        })
        .collect();
    Records {
        handoffs,
        stages,
        breaches,
    }
}

impl Records {
    fn as_of(&self) -> i64 {
        let h = self
            .handoffs
            .values()
            .flat_map(|h| [Some(h.handed_at), h.first_contact_at, h.feedback_at]);
        h.flatten()
            .chain(self.stages.iter().map(|s| s.2))
            .chain(self.breaches.iter().map(|b| b.respond_by))
            .max()
            .unwrap()
    }

    /// The furthest funnel stage (0 = MQL … 4 = customer) each handoff reached.
    fn furthest(&self, alert_id: &str) -> usize {
        let funnel = ["mql", "sal", "sql", "opportunity", "customer"];
        self.stages
            .iter()
            .filter(|(a, _, _)| a.as_deref() == Some(alert_id))
            .filter_map(|(_, to, _)| funnel.iter().position(|s| s == to))
            .max()
            .unwrap_or(0)
    }
}

/// The figures of the handoffs `keep` selects.
#[derive(Debug, Default)]
struct Expected {
    passed: usize,
    met: usize,
    breached: usize,
    overdue_open: usize,
    closed: usize,
    follow_up: Vec<i64>,
    funnel: [usize; 5],
    accepted: usize,
    rejected: usize,
    feedback_overdue: usize,
    reasons: BTreeMap<String, usize>,
    won: usize,
    won_amount: f64,
    lost: usize,
    rules: BTreeMap<String, (usize, usize, usize)>,
    deadlines_missed: usize,
}

fn expected(
    r: &Records,
    keep: impl Fn(&Handoff) -> bool,
    missed: impl Fn(&Breach, &Handoff) -> bool,
) -> Expected {
    let as_of = r.as_of();
    let mut e = Expected::default();
    for h in r.handoffs.values().filter(|h| keep(h)) {
        e.passed += 1;
        match h.sla.as_str() {
            "met" => e.met += 1,
            "breached" => e.breached += 1,
            "closed" => e.closed += 1,
            "open" if h.respond_by <= as_of => e.overdue_open += 1,
            "open" => {}
            other => panic!("unknown sla {other}"),
        }
        if let Some(t) = h.first_contact_at {
            e.follow_up.push(t - h.handed_at);
        }
        e.feedback_overdue += usize::from(h.feedback_overdue);
        let furthest = r.furthest(&h.alert_id);
        for (i, n) in e.funnel.iter_mut().enumerate() {
            *n += usize::from(furthest >= i);
        }
        match h.feedback.as_deref() {
            Some("accepted") => e.accepted += 1,
            Some("rejected") => {
                e.rejected += 1;
                *e.reasons
                    .entry(h.rejection_reason.clone().unwrap())
                    .or_default() += 1;
            }
            _ => {}
        }
        let rule = e.rules.entry(h.qualified_by.clone()).or_default();
        rule.0 += 1;
        if let Some(a) = h.won_amount {
            e.won += 1;
            e.won_amount += a;
            rule.1 += 1;
        } else if h.lost {
            e.lost += 1;
            rule.2 += 1;
        }
    }
    e.follow_up.sort_unstable();
    // Deadlines missed count for whoever missed them, over the breaches
    // of the handoffs `missed` accepts.
    e.deadlines_missed = r
        .breaches
        .iter()
        .filter(|b| r.handoffs.get(&b.alert_id).is_some_and(|h| missed(b, h)))
        .count();
    e
}

impl Expected {
    fn judged(&self) -> usize {
        self.met + self.breached + self.overdue_open
    }

    /// Nearest rank: the smallest time at least p% of the times are at or under.
    fn percentile(&self, p: usize) -> Option<i64> {
        let n = self.follow_up.len();
        self.follow_up
            .iter()
            .copied()
            .find(|&x| self.follow_up.iter().filter(|&&y| y <= x).count() * 100 >= p * n)
    }
}

// ---- how the report writes numbers ------------------------------------------

fn pct(part: usize, whole: usize) -> String {
    if whole == 0 {
        "–".into()
    } else {
        format!("{:.1}%", part as f64 / whole as f64 * 100.0)
    }
}

fn dur(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "–".into() };
    let m = (ms + 30_000) / 60_000;
    match (m / 1440, m / 60 % 24, m % 60) {
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m:02}m"),
        (d, h, m) => format!("{d}d {h:02}h {m:02}m"),
    }
}

fn amount(a: f64) -> String {
    assert_eq!(a.fract(), 0.0, "the simulator's amounts are whole");
    let digits = (a as u64).to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The rows of the Markdown table under `## heading`, as maps from column
/// name to cell.
fn table(md: &str, heading: &str) -> Vec<BTreeMap<String, String>> {
    let start = md
        .find(&format!("\n## {heading}\n"))
        .unwrap_or_else(|| panic!("no section {heading:?} in\n{md}"));
    let rows: Vec<Vec<String>> = md[start..]
        .lines()
        .skip(2)
        .skip_while(|l| l.is_empty())
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            l.trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_owned())
                .collect()
        })
        .collect();
    assert!(rows.len() >= 2, "section {heading:?} has no table");
    rows[2..]
        .iter()
        .map(|r| rows[0].iter().cloned().zip(r.iter().cloned()).collect())
        .collect()
}

/// The overall table as label → value.
fn overall(md: &str) -> BTreeMap<String, String> {
    table(md, "Overall")
        .into_iter()
        .map(|r| (r["figure"].clone(), r["value"].clone()))
        .collect()
}

fn check_overall(md: &str, e: &Expected) {
    let o = overall(md);
    let want = [
        ("Leads passed to sales", e.passed.to_string()),
        (
            "Contacted within SLA",
            format!("{} ({} of {})", pct(e.met, e.judged()), e.met, e.judged()),
        ),
        ("SLA met", e.met.to_string()),
        ("SLA breached", e.breached.to_string()),
        ("Open past the deadline", e.overdue_open.to_string()),
        ("Rejected before contact", e.closed.to_string()),
        ("SLA deadlines missed", e.deadlines_missed.to_string()),
        ("Median follow-up", dur(e.percentile(50))),
        ("p90 follow-up", dur(e.percentile(90))),
        (
            "Accepted by sales",
            format!("{} ({})", e.accepted, pct(e.accepted, e.passed)),
        ),
        (
            "Rejected by sales",
            format!("{} ({})", e.rejected, pct(e.rejected, e.passed)),
        ),
        (
            "Feedback overdue",
            format!(
                "{} ({})",
                e.feedback_overdue,
                pct(e.feedback_overdue, e.passed)
            ),
        ),
        ("Won", e.won.to_string()),
        // Without --currency, amounts are labelled USD.
        ("Won amount", format!("USD {}", amount(e.won_amount))),
        ("Lost", e.lost.to_string()),
    ];
    for (label, value) in want {
        assert_eq!(o[label], value, "{label}");
    }
}

fn report_md(args: &[&str]) -> String {
    let dir = s(&fixture().second).to_owned();
    let mut all = vec!["report", "--from", &dir];
    all.extend_from_slice(args);
    String::from_utf8(leadpulse(&all)).unwrap()
}

#[test]
fn the_report_agrees_with_the_records_overall_per_team_and_per_rep() {
    let r = records(&fixture().second);
    let md = report_md(&[]);
    let all = expected(&r, |_| true, |_, _| true);
    // The run must exercise what the report shows.
    assert!(all.met > 0 && all.breached > 0 && all.closed > 0, "{all:?}");
    assert!(all.rejected > 0 && all.won > 0 && all.lost > 0, "{all:?}");
    assert!(all.funnel[2] > 0 && all.funnel[3] > 0, "{all:?}");
    check_overall(&md, &all);

    let funnel = table(&md, "Conversion by stage");
    assert_eq!(funnel.len(), 5);
    for (row, n) in funnel.iter().zip(all.funnel) {
        assert_eq!(row["leads"], n.to_string(), "{row:?}");
        assert_eq!(row["% of passed"], pct(n, all.passed), "{row:?}");
    }

    let reasons: BTreeMap<String, usize> = table(&md, "Rejection reasons")
        .into_iter()
        .map(|row| (row["reason"].clone(), row["leads"].parse().unwrap()))
        .collect();
    assert_eq!(reasons, all.reasons);

    let rules: BTreeMap<String, (usize, usize, usize)> =
        table(&md, "Won and lost by qualifying rule")
            .into_iter()
            .map(|row| {
                let n = |c: &str| row[c].parse::<usize>().unwrap();
                (row["rule"].clone(), (n("passed"), n("won"), n("lost")))
            })
            .collect();
    assert_eq!(rules, all.rules);

    let teams: BTreeSet<&str> = r.handoffs.values().map(|h| h.team.as_str()).collect();
    assert!(teams.len() > 1, "one team only: {teams:?}");
    let team_rows = table(&md, "By team");
    assert_eq!(team_rows.len(), teams.len());
    for row in &team_rows {
        let team = row["team"].clone();
        let e = expected(&r, |h| h.team == team, |b, _| b.team == team);
        check_group(row, &e);
    }
    let rep_rows = table(&md, "By rep");
    let mut reps: BTreeSet<(String, String)> = r
        .handoffs
        .values()
        .map(|h| (h.team.clone(), h.rep.clone()))
        .collect();
    reps.extend(r.breaches.iter().map(|b| (b.team.clone(), b.rep.clone())));
    assert_eq!(rep_rows.len(), reps.len());
    for row in &rep_rows {
        let (team, rep) = (row["team"].clone(), row["rep"].clone());
        let e = expected(
            &r,
            |h| h.team == team && h.rep == rep,
            |b, _| b.team == team && b.rep == rep,
        );
        check_group(row, &e);
    }
}

fn check_group(row: &BTreeMap<String, String>, e: &Expected) {
    let want = [
        ("passed", e.passed.to_string()),
        (
            "within SLA",
            format!("{} ({}/{})", pct(e.met, e.judged()), e.met, e.judged()),
        ),
        ("median", dur(e.percentile(50))),
        ("p90", dur(e.percentile(90))),
        (
            "SAL",
            format!("{} ({})", e.funnel[1], pct(e.funnel[1], e.passed)),
        ),
        (
            "customer",
            format!("{} ({})", e.funnel[4], pct(e.funnel[4], e.passed)),
        ),
        ("rejected", e.rejected.to_string()),
        ("feedback overdue", e.feedback_overdue.to_string()),
        ("won", e.won.to_string()),
        ("lost", e.lost.to_string()),
        ("deadlines missed", e.deadlines_missed.to_string()),
    ];
    for (col, value) in want {
        assert_eq!(row[col], value, "{col} in {row:?}");
    }
}

#[test]
fn the_period_selects_handoffs_by_handoff_time() {
    let r = records(&fixture().second);
    let mut times: Vec<i64> = r.handoffs.values().map(|h| h.handed_at).collect();
    times.sort_unstable();
    let (since, until) = (times[times.len() / 4], times[times.len() * 3 / 4]);
    let md = report_md(&[
        "--since",
        &format_rfc3339(since),
        "--until",
        &format_rfc3339(until),
    ]);
    let e = expected(
        &r,
        |h| h.handed_at >= since && h.handed_at < until,
        |_, h| h.handed_at >= since && h.handed_at < until,
    );
    assert!(e.passed > 0 && e.passed < r.handoffs.len());
    check_overall(&md, &e);

    // A date means midnight UTC.
    let md = report_md(&["--until", "2026-11-10"]);
    let cut = parse_rfc3339("2026-11-10T00:00:00Z").unwrap();
    let e = expected(&r, |h| h.handed_at < cut, |_, h| h.handed_at < cut);
    check_overall(&md, &e);
}

#[test]
fn the_sales_loop_judges_each_lead_as_the_simulated_reps_answered() {
    let run = fixture();
    // The library gives what the command wrote.
    let alerts: Vec<_> = lines(&std::fs::read(run.first.join("hot-lead-alerts.ndjson")).unwrap())
        .into_iter()
        .map(|l| codec::decode_alert(l).unwrap())
        .collect();
    let options = SimOptions {
        seed: SEED.parse().unwrap(),
        ..SimOptions::default()
    };
    let (events, plans) = simulate_with_plans(&alerts, &options);
    let mut written = Vec::new();
    for e in &events {
        written.extend(codec::encode_event(e, Format::Json));
        written.push(b'\n');
    }
    assert!(
        written == run.feedback,
        "simulate-sales differs from the library"
    );

    let r = records(&run.second);
    let mut checked = BTreeMap::<&str, usize>::new();
    for plan in &plans {
        // Feedback can make a lead alert again (a new handoff) or not at
        // all; the handoffs of the first run that happen again are judged.
        let Some(h) = r.handoffs.get(&plan.alert_id) else {
            continue;
        };
        let want = match (plan.first_response, plan.first_contact, plan.on_time) {
            (None, _, _) => "breached",
            (Some(_), Some(_), true) => "met",
            (Some(_), None, true) => "closed",
            (Some(_), _, false) => "breached",
        };
        assert_eq!(h.sla, want, "{plan:?} {h:?}");
        if let Some(t) = plan.first_contact {
            assert_eq!(h.first_contact_at, Some(t), "{plan:?}");
        }
        *checked.entry(want).or_default() += 1;
    }
    assert!(
        ["met", "breached", "closed"]
            .iter()
            .all(|k| checked.get(k).copied().unwrap_or(0) > 0),
        "every SLA outcome should be checked: {checked:?}"
    );

    // Breaches: exactly once per missed deadline, and only for late leads.
    let ids: BTreeSet<&str> = r.breaches.iter().map(|b| b.breach_id.as_str()).collect();
    assert_eq!(ids.len(), r.breaches.len(), "a breach was emitted twice");
    let first_breaches: BTreeSet<&str> = r
        .breaches
        .iter()
        .filter(|b| b.number == 1)
        .map(|b| b.alert_id.as_str())
        .collect();
    let breached: BTreeSet<&str> = r
        .handoffs
        .values()
        .filter(|h| h.sla == "breached")
        .map(|h| h.alert_id.as_str())
        .collect();
    assert_eq!(first_breaches, breached);
    for h in r.handoffs.values() {
        let n = r
            .breaches
            .iter()
            .filter(|b| b.alert_id == h.alert_id)
            .count();
        assert_eq!(n as u64, h.breaches, "{h:?}");
        if let Some(t) = h.first_contact_at {
            assert_eq!(h.sla == "met", t < h.respond_by, "{h:?}");
        }
    }
}

// ---- the HTML page in a real browser ------------------------------------------

fn artifacts() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("LEADPULSE_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(
        path.exists(),
        "chromium not found at {}: the HTML report is checked in a real headless browser. \
         Run scripts/test.sh (it installs Debian's `chromium` package when missing), \
         install it with `apt-get install chromium`, or set LEADPULSE_CHROMIUM to a \
         Chromium binary",
        path.display()
    );
    path
}

/// Runs headless chromium on `url` with `args`; returns its stdout.
fn browse(args: &[&str], url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap());
    let stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    // A guard against a hung browser, not a performance assertion.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(180) {
            let _ = child.kill();
            panic!("chromium {args:?} did not finish");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = reader.join().unwrap();
    let err = err_reader.join().unwrap();
    assert!(status.success(), "chromium {args:?} failed: {err}");
    out
}

/// The text of the element after `marker` up to the next `<`.
fn text_after<'a>(dom: &'a str, marker: &str) -> &'a str {
    let at = dom
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in the rendered page"));
    let rest = &dom[at + marker.len()..];
    &rest[..rest.find('<').unwrap()]
}

#[test]
fn the_html_report_renders_in_a_real_browser() {
    let run = fixture();
    let dir = artifacts();
    let html = dir.join("report.html");
    leadpulse(&[
        "report",
        "--from",
        s(&run.second),
        "--format",
        "html",
        "--currency",
        "eur",
        "--out",
        s(&html),
    ]);
    let url = format!("file://{}", html.display());
    let dom = browse(&["--dump-dom"], &url);
    assert!(dom.contains("<h1>Sales check-in</h1>"), "{dom}");

    let r = records(&run.second);
    let e = expected(&r, |_| true, |_, _| true);
    let tile = |id: &str| text_after(&dom, &format!(r#"data-figure="{id}"><span class="value">"#));
    assert_eq!(tile("passed"), e.passed.to_string());
    assert_eq!(tile("within-sla"), pct(e.met, e.judged()));
    assert_eq!(tile("median"), dur(e.percentile(50)));
    assert_eq!(tile("p90"), dur(e.percentile(90)));
    assert_eq!(tile("rejected"), e.rejected.to_string());
    // Amounts name the currency asked for: standalone ones in the value,
    // table columns in the header.
    assert_eq!(tile("won"), format!("EUR {}", amount(e.won_amount)));
    assert!(
        dom.contains(r#"<th class="num">won amount (EUR)</th>"#),
        "{dom}"
    );
    // The layout for a 1280 px page: charts side by side on a grid, the
    // charts scaled to their columns, text columns left and figures right.
    for rule in [
        ".charts { display: grid;",
        "@media (min-width: 1200px) { .charts { grid-template-columns: 1fr 1.3fr 1fr; } }",
        ".chart svg { display: block; width: 100%; height: auto; }",
        ".columns { display: grid;",
        "th.text, td.text { text-align: left; }",
        "th.num, td.num { text-align: right; }",
    ] {
        assert!(dom.contains(rule), "no {rule:?} in the page's style");
    }
    for table in ["teams", "reps"] {
        let start = dom.find(&format!(r#"<table id="{table}">"#)).unwrap();
        let head = &dom[start..start + dom[start..].find("</thead>").unwrap()];
        assert!(head.contains(r#"<th class="text">team</th>"#), "{head}");
        assert!(head.contains(r#"<th class="num">passed</th>"#), "{head}");
    }

    // The three charts were parsed as SVG and carry the figures.
    let chart = |id: &str| {
        let start = dom
            .find(&format!(r#"<svg id="{id}""#))
            .unwrap_or_else(|| panic!("no {id} in the rendered page"));
        &dom[start..start + dom[start..].find("</svg>").unwrap()]
    };
    let funnel = chart("funnel-chart");
    assert!(
        funnel.contains(&format!(">{} (100.0%)<", e.passed)),
        "{funnel}"
    );
    assert!(funnel.contains(&format!(
        ">{} ({})<",
        e.funnel[1],
        pct(e.funnel[1], e.passed)
    )));
    let hist = chart("follow-up-chart");
    assert_eq!(hist.matches("<rect").count(), 8);
    let sla = chart("sla-chart");
    for (team, rep) in r
        .handoffs
        .values()
        .map(|h| (h.team.clone(), h.rep.clone()))
        .collect::<BTreeSet<_>>()
    {
        let x = expected(
            &r,
            |h| h.team == team && h.rep == rep,
            |b, _| b.team == team && b.rep == rep,
        );
        assert!(sla.contains(&format!(">{team} / {rep}<")), "{rep} in {sla}");
        if x.judged() > 0 {
            let value = format!(">{} ({}/{})<", pct(x.met, x.judged()), x.met, x.judged());
            assert!(sla.contains(&value), "{value} in {sla}");
        }
    }

    let png = dir.join("report.png");
    let _ = std::fs::remove_file(&png);
    browse(
        &[
            &format!("--screenshot={}", png.display()),
            "--window-size=1280,2600",
        ],
        &url,
    );
    let bytes = std::fs::read(&png).expect("chromium wrote no screenshot");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 2600));
    // A blank page of that size compresses to a few kilobytes.
    assert!(
        bytes.len() > 40_000,
        "the screenshot is almost empty ({} bytes)",
        bytes.len()
    );
}

// ---- the same report from Kafka ------------------------------------------------

#[test]
fn the_report_from_the_topics_equals_the_report_from_replay() {
    use leadpulse::core::{HandoffRecord, SlaStatus};
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};

    let run = fixture();
    let d = Deployment::new("report", 3);
    let (handoffs, lifecycle, breaches) = (
        d.topic("handoffs"),
        d.topic("lifecycle"),
        d.topic("breaches"),
    );
    d.create_topic(&handoffs, &[("cleanup.policy", "compact")]);
    d.create_topic(&lifecycle, &[]);
    d.create_topic(&breaches, &[]);

    let producer: BaseProducer = d
        .access
        .client()
        .set("enable.idempotence", "true")
        .create()
        .unwrap();
    let send = |topic: &str, key: &str, payload: Option<&[u8]>| {
        let mut record = BaseRecord::<str, [u8]>::to(topic).key(key);
        if let Some(p) = payload {
            record = record.payload(p);
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
        producer.poll(Duration::ZERO);
    };
    let format = |i: usize| {
        if i % 2 == 0 {
            Format::Json
        } else {
            Format::Protobuf
        }
    };
    let read = |file: &str| std::fs::read(run.second.join(file)).unwrap();

    // Handoffs: an earlier state of each, then the latest, in both formats;
    // and a handoff deleted by a tombstone.
    let records: Vec<HandoffRecord> = lines(&read("lead-handoffs.ndjson"))
        .into_iter()
        .map(|l| codec::decode_handoff(l).unwrap())
        .collect();
    for (i, rec) in records.iter().enumerate() {
        let mut earlier = rec.clone();
        earlier.handoff.sla = SlaStatus::Open;
        earlier.handoff.first_contact_at = None;
        earlier.handoff.feedback = None;
        earlier.handoff.won_amount = None;
        let key = &rec.handoff.alert_id;
        send(
            &handoffs,
            key,
            Some(&codec::encode_handoff(&earlier, format(i + 1))),
        );
        send(&handoffs, key, Some(&codec::encode_handoff(rec, format(i))));
    }
    let mut gone = records[0].clone();
    gone.handoff.alert_id = "deleted-handoff".into();
    gone.handoff.team = "deleted-team".into();
    send(
        &handoffs,
        "deleted-handoff",
        Some(&codec::encode_handoff(&gone, Format::Json)),
    );
    send(&handoffs, "deleted-handoff", None);
    for (i, l) in lines(&read("lead-lifecycle.ndjson"))
        .into_iter()
        .enumerate()
    {
        let c = codec::decode_stage(l).unwrap();
        send(
            &lifecycle,
            &c.lead_id,
            Some(&codec::encode_stage(&c, format(i))),
        );
    }
    for (i, l) in lines(&read("sla-breaches.ndjson")).into_iter().enumerate() {
        let b = codec::decode_breach(l).unwrap();
        send(
            &breaches,
            &b.lead_id,
            Some(&codec::encode_breach(&b, format(i))),
        );
    }
    producer.flush(Duration::from_secs(30)).unwrap();

    // An aborted transaction: read_committed never shows it.
    let txn: BaseProducer = d
        .access
        .client()
        .set("transactional.id", format!("{}-txn", d.name))
        .create()
        .unwrap();
    txn.init_transactions(Duration::from_secs(30)).unwrap();
    txn.begin_transaction().unwrap();
    let mut ghost = records[0].clone();
    ghost.handoff.alert_id = "aborted-handoff".into();
    ghost.handoff.team = "aborted-team".into();
    let payload = codec::encode_handoff(&ghost, Format::Json);
    txn.send(
        BaseRecord::<str, [u8]>::to(&handoffs)
            .key("aborted-handoff")
            .payload(&payload),
    )
    .map_err(|(e, _)| e)
    .unwrap();
    txn.flush(Duration::from_secs(30)).unwrap();
    txn.abort_transaction(Duration::from_secs(30)).unwrap();

    let config = d.dir.path().join("report.toml");
    std::fs::write(
        &config,
        format!(
            "[kafka]\nbootstrap_servers = \"{}\"\ngroup_id = \"{}\"\n\n[topics]\nhandoffs = \"{handoffs}\"\nlifecycle = \"{lifecycle}\"\nbreaches = \"{breaches}\"\n",
            d.access.bootstrap,
            d.group()
        ),
    )
    .unwrap();
    let from_kafka = String::from_utf8(leadpulse(&["report", "--config", s(&config)])).unwrap();
    assert!(!from_kafka.contains("aborted-team") && !from_kafka.contains("deleted-team"));
    assert_eq!(from_kafka, report_md(&[]));
}
