//! `leadpulse model suggest` on streams from `generate --outcomes`, whose
//! true drivers of won deals are known: a driver page and form raise the
//! odds, a noise page does not, and won leads visit an onboarding page
//! only after the win.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use leadpulse::core::{Model, Rule};
use leadpulse::tools::generate::outcomes::{AFTER_WIN_PAGE, DRIVER_FORM, DRIVER_PAGE, NOISE_PAGE};

const REFERENCE: &str = "2026-12-01T00:00:00Z";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = run(dir, args);
    assert!(
        out.status.success(),
        "leadpulse {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A stream of `leads` leads over 40 days, written to `dir/events.ndjson`.
fn generate(dir: &Path, leads: u32, seed: u64) -> PathBuf {
    let events = ok(
        dir,
        &[
            "generate",
            "--outcomes",
            "--leads",
            &leads.to_string(),
            "--days",
            "40",
            "--seed",
            &seed.to_string(),
            "--start",
            "2026-09-01T08:00:00Z",
        ],
    );
    let path = dir.join("events.ndjson");
    std::fs::write(&path, events).unwrap();
    path
}

fn example_model() -> String {
    root().join("examples/model.toml").display().to_string()
}

fn suggest(dir: &Path, events: &Path, extra: &[&str]) -> Output {
    let model = example_model();
    let events = events.display().to_string();
    let mut args = vec![
        "model",
        "suggest",
        "--model",
        &model,
        "--events",
        &events,
        "--out",
        "suggested.toml",
        "--reference-time",
        REFERENCE,
    ];
    args.extend_from_slice(extra);
    run(dir, &args)
}

fn success(out: &Output) -> String {
    assert!(
        out.status.success(),
        "model suggest failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn load(path: &Path) -> Model {
    let text = std::fs::read_to_string(path).unwrap();
    Model::from_toml(&path.display().to_string(), &text).expect("the suggestion is a valid model")
}

/// The engagement rule that matches a visit to `path` only (a rule drawn
/// from the data for that page).
fn page_rule<'a>(model: &'a Model, path: &str) -> Option<&'a Rule> {
    let visit = |p: &str| {
        leadpulse::codec::decode_event(
            format!(
                r#"{{"event_id":"x","lead_id":"L","type":"page_view","occurred_at":"2026-09-01T00:00:00Z","url":"https://leadpulse.example{p}"}}"#
            )
            .as_bytes(),
            None,
        )
        .unwrap()
    };
    let target = visit(path);
    let other = visit("/somewhere-else");
    model
        .rules
        .iter()
        .find(|r| r.matches(&target) && !r.matches(&other))
}

/// A figure of the report's holdout table: (current, suggested).
fn holdout_row<'a>(report: &'a str, name: &str) -> (&'a str, &'a str) {
    let line = report
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_else(|| panic!("no `{name}` row in:\n{report}"));
    let cells: Vec<&str> = line[name.len()..].split_whitespace().collect();
    (cells[0], cells[cells.len() - 1])
}

#[test]
fn suggest_gives_the_true_drivers_points_ignores_noise_and_beats_the_example_model() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate(dir.path(), 2000, 11);
    let report = success(&suggest(dir.path(), &events, &[]));
    let model = load(&dir.path().join("suggested.toml"));

    let page = page_rule(&model, DRIVER_PAGE).expect("a rule for the driver page");
    let form = model
        .rules
        .iter()
        .find(|r| r.id.contains(DRIVER_FORM))
        .expect("a rule for the driver form");
    let threshold = model.qualify.score_at_least.unwrap();
    // "Clearly positive": each is worth at least a fifth of the threshold.
    assert!(
        page.points >= threshold / 5.0,
        "driver page: {}",
        page.points
    );
    assert!(
        form.points >= threshold / 5.0,
        "driver form: {}",
        form.points
    );
    // "About zero": the noise page gets no rule, or one worth at most a
    // tenth of the weaker driver.
    let floor = page.points.min(form.points) / 10.0;
    if let Some(noise) = page_rule(&model, NOISE_PAGE) {
        assert!(noise.points.abs() <= floor, "noise page: {}", noise.points);
    }
    // Visits after the win are never evidence for it.
    assert!(page_rule(&model, AFTER_WIN_PAGE).is_none(), "{report}");

    let (now, suggested) = holdout_row(&report, "AUC (highest score before outcome)");
    let (now, suggested): (f64, f64) = (now.parse().unwrap(), suggested.parse().unwrap());
    assert!(
        suggested > now,
        "AUC {suggested} does not beat {now}:\n{report}"
    );

    // The same input gives the same output, byte for byte.
    let again = tempfile::tempdir().unwrap();
    let report_again = success(&suggest(again.path(), &events, &[]));
    assert_eq!(report, report_again);
    assert_eq!(
        std::fs::read(dir.path().join("suggested.toml")).unwrap(),
        std::fs::read(again.path().join("suggested.toml")).unwrap()
    );
}

#[test]
fn suggest_refuses_too_few_outcomes_and_names_the_minimum() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate(dir.path(), 300, 4);
    let out = suggest(dir.path(), &events, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("needs at least 50 won leads in the training window"),
        "{err}"
    );
    let found: usize = err
        .split("found ")
        .nth(1)
        .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in: {err}"));
    assert!(found < 50, "{err}");
    assert!(!dir.path().join("suggested.toml").exists());
    // The minimum is a flag, and named as set.
    let out = suggest(dir.path(), &events, &["--min-outcomes", "500"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("needs at least 500 won leads"), "{err}");
}

#[test]
fn every_suggestion_passes_model_check() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate(dir.path(), 1500, 21);
    let variants: [&[&str]; 6] = [
        &[],
        &["--outcome", "sql", "--scale", "range"],
        &["--outcome", "accepted", "--penalty", "0.001"],
        &[
            "--penalty",
            "0.002",
            "--min-support",
            "10",
            "--min-outcomes",
            "20",
        ],
        &[
            "--holdout",
            "0.5",
            "--min-outcomes",
            "20",
            "--max-count",
            "1",
        ],
        &["--penalty", "0.05", "--min-outcomes", "20"],
    ];
    let mut written = 0;
    for extra in variants {
        let _ = std::fs::remove_file(dir.path().join("suggested.toml"));
        let out = suggest(dir.path(), &events, extra);
        if out.status.success() {
            written += 1;
            ok(dir.path(), &["model", "check", "suggested.toml"]);
            load(&dir.path().join("suggested.toml"));
        } else {
            // A refusal says why and writes nothing.
            assert!(!out.stderr.is_empty());
            assert!(!dir.path().join("suggested.toml").exists(), "{extra:?}");
        }
    }
    assert!(written >= 4, "only {written} of the variants gave a model");
}

#[test]
fn replay_compare_reproduces_the_reports_mqls_per_day() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate(dir.path(), 1500, 21);
    let report = success(&suggest(dir.path(), &events, &["--min-outcomes", "20"]));
    let holdout = report
        .lines()
        .find_map(|l| l.strip_prefix("holdout      from "))
        .expect("holdout line");
    let first_day = &holdout[..10];
    let days: f64 = holdout[12..]
        .trim_start_matches('(')
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let compare = ok(
        dir.path(),
        &[
            "replay",
            "--model",
            "suggested.toml",
            "--events",
            &events.display().to_string(),
            "--reference-time",
            REFERENCE,
            "--report",
            "--compare",
            &example_model(),
        ],
    );
    let section = compare
        .split("## Alerts per day")
        .nth(1)
        .and_then(|s| s.split("## ").next())
        .unwrap();
    let (mut suggested, mut current) = (0_u64, 0_u64);
    for line in section
        .lines()
        .filter(|l| l.len() > 10 && &l[..10] >= first_day)
    {
        let counts: Vec<u64> = line
            .split_whitespace()
            .filter_map(|c| c.parse().ok())
            .collect();
        suggested += counts[0];
        current += counts[1];
    }
    let (now, then) = holdout_row(&report, "MQLs (alerts) per day");
    assert_eq!(format!("{:.2}", suggested as f64 / days), then, "{compare}");
    assert_eq!(format!("{:.2}", current as f64 / days), now, "{compare}");
    let (now, then) = holdout_row(&report, "alerts in the holdout");
    assert_eq!(
        (now, then),
        (current.to_string().as_str(), suggested.to_string().as_str())
    );
}

#[test]
fn outcomes_from_a_replay_outputs_folder_give_the_same_suggestion_as_feedback_in_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    let events = generate(dir.path(), 1500, 21);
    // The same split for both: the stream without feedback ends earlier.
    let split = ["--min-outcomes", "20", "--holdout-from", "2026-09-29"];
    success(&suggest(dir.path(), &events, &split));
    let expected = std::fs::read_to_string(dir.path().join("suggested.toml")).unwrap();
    // The lifecycle records of a replay of the whole stream, and the
    // stream without its feedback.
    ok(
        dir.path(),
        &[
            "replay",
            "--model",
            &example_model(),
            "--events",
            &events.display().to_string(),
            "--reference-time",
            REFERENCE,
            "--outputs",
            "out",
        ],
    );
    let text = std::fs::read_to_string(&events).unwrap();
    let engagement: String = text
        .lines()
        .filter(|l| {
            !l.contains("\"lead_accepted\"")
                && !l.contains("\"lead_qualified\"")
                && !l.contains("\"deal_won\"")
                && !l.contains("\"deal_lost\"")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    assert!(engagement.len() < text.len());
    let bare = dir.path().join("engagement.ndjson");
    std::fs::write(&bare, engagement).unwrap();
    std::fs::remove_file(dir.path().join("suggested.toml")).unwrap();
    let from_outputs = [&split[..], &["--outputs", "out"]].concat();
    success(&suggest(dir.path(), &bare, &from_outputs));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("suggested.toml")).unwrap(),
        expected
    );
}
