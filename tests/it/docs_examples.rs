//! The examples shown in the docs are the real output of the commands they
//! show, so the docs cannot drift from the product.

use std::path::Path;
use std::process::Command;

fn leadpulse(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "leadpulse {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn doc(name: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(name)).unwrap()
}

#[test]
fn the_backtest_report_in_docs_model_md_is_current() {
    let report = leadpulse(&[
        "replay",
        "--model",
        "examples/model.toml",
        "--events",
        "examples/events.ndjson",
        "--reference-time",
        "2026-11-27T00:00:00Z",
        "--report",
    ]);
    let docs = doc("docs/model.md");
    assert!(
        docs.contains(report.trim_end()),
        "docs/model.md does not show the current `replay --report` output; it is now:\n{report}"
    );
}

#[test]
fn the_model_comparison_in_docs_model_md_is_current() {
    let report = leadpulse(&[
        "replay",
        "--model",
        "examples/model-candidate.toml",
        "--events",
        "examples/events.ndjson",
        "--reference-time",
        "2026-11-27T00:00:00Z",
        "--report",
        "--compare",
        "examples/model.toml",
    ]);
    let docs = doc("docs/model.md");
    let head: String = report.lines().take(16).collect::<Vec<_>>().join("\n");
    let tail = &report[report
        .find("## Leads that alert under one model only")
        .unwrap()..];
    assert!(
        docs.contains(&head),
        "docs/model.md shows an outdated comparison; it is now:\n{report}"
    );
    assert!(
        docs.contains(tail.trim_end()),
        "docs/model.md shows an outdated comparison; it is now:\n{report}"
    );
}

#[test]
fn the_shipped_models_pass_model_check() {
    for m in [
        "examples/model.toml",
        "examples/model-candidate.toml",
        "deploy/leadpulse.toml",
    ] {
        if m.ends_with("leadpulse.toml") {
            let out = leadpulse(&["config", "check", m]);
            assert!(out.starts_with("config ok"), "{out}");
        } else {
            let out = leadpulse(&["model", "check", m]);
            assert!(out.contains("A lead is sales-ready when"), "{out}");
        }
    }
}

/// Runs the commands of the `sh` block under `## Example` in
/// docs/report.md, as written, in a scratch folder that sees `examples/`,
/// and checks the doc shows what the last one prints.
#[test]
fn the_report_example_in_docs_report_md_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = doc("docs/report.md");
    let example = &docs[docs.find("\n## Example\n").expect("an Example section")..];
    let block = &example[example.find("```sh\n").expect("a sh block") + 6..];
    let block = block[..block.find("```").unwrap()].replace("\\\n", " ");
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root.join("examples"), dir.path().join("examples")).unwrap();
    let mut last = None;
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let (command, redirect) = match line.split_once(" > ") {
            Some((c, r)) => (c, Some(r.trim())),
            None => (line, None),
        };
        let args: Vec<&str> = command.split_whitespace().collect();
        assert_eq!(args[0], "leadpulse", "{line}");
        let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
            .args(&args[1..])
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{line}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        match redirect {
            Some("/dev/null") => {}
            Some(file) => std::fs::write(dir.path().join(file), &out.stdout).unwrap(),
            None => last = Some(String::from_utf8(out.stdout).unwrap()),
        }
    }
    let report = last.expect("the example ends with a command that prints the report");
    assert!(report.starts_with("# Sales check-in"), "{report}");
    assert!(
        docs.contains(report.trim_end()),
        "docs/report.md does not show the current `leadpulse report` output; it is now:\n{report}"
    );
}

/// Runs `model check` on each file shown in the `model check` section of
/// docs/model.md (a `toml` block whose first line is `# NAME`), in a scratch
/// folder, and checks the doc shows what it prints, errors and warnings
/// alike.
#[test]
fn the_model_check_examples_in_docs_model_md_are_current() {
    let docs = doc("docs/model.md");
    let start = docs
        .find("## `leadpulse model check`")
        .expect("a model check section");
    let end = start + docs[start..].find("\n## Backtest").expect("a next section");
    let section = &docs[start..end];
    let dir = tempfile::tempdir().unwrap();
    let mut shown = 0;
    for block in section.split("```toml\n").skip(1) {
        let text = &block[..block.find("```").expect("a closed toml block")];
        let name = text
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("# "))
            .expect("a toml block starting with `# NAME`");
        std::fs::write(dir.path().join(name), text).unwrap();
        let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
            .args(["model", "check", name])
            .current_dir(dir.path())
            .output()
            .unwrap();
        let printed = format!(
            "$ leadpulse model check {name}\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // A model that loads prints its summary and exits 0; else 1.
        let expected = if out.stdout.is_empty() {
            Some(1)
        } else {
            Some(0)
        };
        assert_eq!(out.status.code(), expected, "{name}: {printed}");
        assert!(
            section.contains(&format!("```\n{printed}```")),
            "docs/model.md does not show what `model check {name}` prints; it is now:\n{printed}"
        );
        shown += 1;
    }
    assert_eq!(shown, 3, "the broken, typo and warnings examples");
}

/// The `model suggest` run in docs/model.md ("Tuning the model from
/// outcomes"): the report, the excerpt of the candidate file and the
/// refusal are what the commands print and write today.
#[test]
fn the_model_suggestion_in_docs_model_md_is_current() {
    let docs = doc("docs/model.md");
    let start = docs
        .find("## Tuning the model from outcomes")
        .expect("a tuning section");
    let section = &docs[start..];
    let dir = tempfile::tempdir().unwrap();
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/model.toml");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_leadpulse"))
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    for (leads, file) in [("2000", "outcomes.ndjson"), ("400", "few.ndjson")] {
        let out = run(&[
            "generate",
            "--outcomes",
            "--leads",
            leads,
            "--days",
            "40",
            "--seed",
            "11",
            "--start",
            "2026-09-01T08:00:00Z",
        ]);
        assert!(out.status.success());
        std::fs::write(dir.path().join(file), out.stdout).unwrap();
    }
    let suggest = |events: &str| {
        run(&[
            "model",
            "suggest",
            "--model",
            model.to_str().unwrap(),
            "--events",
            events,
            "--reference-time",
            "2026-12-01T00:00:00Z",
            "--out",
            "suggested.toml",
        ])
    };
    let refusal = suggest("few.ndjson");
    assert_eq!(refusal.status.code(), Some(1));
    let refusal = String::from_utf8(refusal.stderr).unwrap();
    assert!(
        section.contains(refusal.trim_end()),
        "docs/model.md shows an outdated refusal; it is now:\n{refusal}"
    );
    let out = suggest("outcomes.ndjson");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8(out.stdout).unwrap();
    assert!(
        section.contains(report.trim_end()),
        "docs/model.md shows an outdated `model suggest` report; it is now:\n{report}"
    );
    // The excerpt of suggested.toml: the block after "In `suggested.toml`:".
    let written = std::fs::read_to_string(dir.path().join("suggested.toml")).unwrap();
    let excerpt = section
        .split("`suggested.toml`:\n\n```\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("an excerpt of suggested.toml");
    for part in excerpt.split("\n\n") {
        assert!(
            written.contains(part.trim_end()),
            "docs/model.md shows an outdated part of suggested.toml:\n{part}\nit is now:\n{written}"
        );
    }
}
