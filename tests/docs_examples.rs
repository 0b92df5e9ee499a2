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
