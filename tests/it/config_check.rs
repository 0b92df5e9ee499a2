//! `leadpulse config check` as an operator runs it: the exit status and the
//! message for configs it must refuse. No broker needed.

use std::process::{Command, Output};

/// Runs `config check` on `text` with `env` as the only `LEADPULSE_…`
/// variables (whatever the test runner's environment holds).
fn check(text: &str, env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadpulse.toml");
    std::fs::write(&path, text).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadpulse"));
    cmd.args(["config", "check"]).arg(&path);
    for (name, _) in std::env::vars() {
        if name.starts_with("LEADPULSE_") {
            cmd.env_remove(name);
        }
    }
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

/// The config is refused with exit status 1 and a message; returns it.
fn refused(text: &str, env: &[(&str, &str)]) -> String {
    let out = check(text, env);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "not refused: {stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// The config passes; returns what `config check` printed.
fn accepted(text: &str, env: &[(&str, &str)]) -> String {
    let out = check(text, env);
    assert!(
        out.status.success(),
        "refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_valid_config_passes() {
    let out = accepted("[kafka]\ngroup_id = \"scoring\"\n", &[]);
    assert!(
        out.starts_with("config ok:") && out.contains("group scoring"),
        "{out}"
    );
}

#[test]
fn two_topics_with_one_name_are_refused_naming_both_keys() {
    let err = refused("[topics]\nfeedback = \"lead-events\"\n", &[]);
    assert!(
        err.contains("`topics.feedback` and `topics.events` are both `lead-events`"),
        "{err}"
    );
    let err = refused("", &[("LEADPULSE_TOPICS__DLQ", "lead-lifecycle")]);
    assert!(
        err.contains("`topics.dlq` and `topics.lifecycle` are both `lead-lifecycle`"),
        "{err}"
    );
}
