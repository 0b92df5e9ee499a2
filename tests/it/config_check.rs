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

#[test]
fn env_values_are_read_as_the_settings_type() {
    let out = accepted(
        "",
        &[
            ("LEADPULSE_KAFKA__INSTANCE_ID", "0"),
            ("LEADPULSE_TOPICS__PARTITIONS", "12"),
            ("LEADPULSE_ADMIN__ENABLED", "false"),
        ],
    );
    assert!(out.contains("transactional.id leadpulse-0"), "{out}");
    let err = refused("", &[("LEADPULSE_TOPICS__PARTITIONS", "twelve")]);
    assert!(
        err.contains("LEADPULSE_TOPICS__PARTITIONS") && err.contains("partitions"),
        "{err}"
    );
}

#[test]
fn limits_kafka_would_refuse_are_refused_naming_the_key() {
    for (text, key) in [
        (
            "[topics]\nreplication_factor = 32768\n",
            "topics.replication_factor",
        ),
        ("[topics]\npartitions = 2147483647\n", "topics.partitions"),
        ("[topics]\nalerts = \"hot leads\"\n", "topics.alerts"),
        ("[topics]\nscores = \"..\"\n", "topics.scores"),
    ] {
        let err = refused(text, &[]);
        assert!(err.contains(&format!("`{key}`")), "{text}: {err}");
    }
    let long = "x".repeat(250);
    let err = refused(&format!("[topics]\nhandoffs = \"{long}\"\n"), &[]);
    assert!(
        err.contains("`topics.handoffs`") && err.contains("249"),
        "{err}"
    );
}

#[test]
fn replay_refuses_more_partitions_than_a_topic_may_have() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .arg("replay")
        .arg("--model")
        .arg(root.join("examples/model.toml"))
        .arg("--events")
        .arg(root.join("examples/events.ndjson"))
        .args(["--partitions", "2000000000"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--partitions") && err.contains("1..=100000"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_misspelt_secret_property_is_refused_by_name_and_never_printed() {
    let text = "[kafka.properties]\n\"sasl.passwrd\" = \"hunter22-not-for-logs\"\n";
    let err = refused(text, &[]);
    assert!(
        err.contains("`[kafka.properties] \"sasl.passwrd\"`")
            && err.contains("is not a librdkafka property"),
        "{err}"
    );
    assert!(!err.contains("hunter22"), "{err}");

    // From the environment too, and `run` stops on it before any client.
    let env = [(
        "LEADPULSE_KAFKA__PRODUCER__SASL_PASSWRD",
        "hunter22-not-for-logs",
    )];
    let err = refused("", &env);
    assert!(
        err.contains("`[kafka.producer] \"sasl.passwrd\"`") && !err.contains("hunter22"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leadpulse.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .arg("run")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("sasl.passwrd") && !all.contains("hunter22"),
        "{all}"
    );
}

#[test]
fn a_bad_schema_registry_section_is_refused_naming_the_field() {
    let cases: [(&str, &str); 6] = [
        ("url = \"registry:8081\"", "`schema_registry.url`"),
        ("url = \"ftp://registry:8081\"", "`schema_registry.url`"),
        (
            "url = \"http://registry:8081\"\nusername = \"svc\"",
            "`schema_registry.password`",
        ),
        (
            "url = \"http://registry:8081\"\nca_location = \"/etc/hosts\"",
            "must be https://",
        ),
        (
            "url = \"https://registry:8081\"\nca_location = \"/no/such/ca.pem\"",
            "`schema_registry.ca_location`",
        ),
        (
            "url = \"http://registry:8081\"\ntimeout_ms = 5",
            "`schema_registry.timeout_ms`",
        ),
    ];
    for (section, field) in cases {
        let err = refused(&format!("[schema_registry]\n{section}\n"), &[]);
        assert!(err.contains(field), "{section}: {err}");
    }
    let err = refused(
        "[schema_registry]\nurl = \"http://r:8081\"\noutput = true\n",
        &[],
    );
    // The section is named; field names are blanked in a message that
    // lists `password`, as everywhere else.
    assert!(err.contains("in `schema_registry`"), "{err}");
    let err = refused(
        "[schema_registry]\nurl = \"http://r:8081\"\npassword = \"hunter2-secret\"\n",
        &[],
    );
    assert!(!err.contains("hunter2"), "a secret in the message: {err}");
    accepted(
        "[schema_registry]\nurl = \"http://registry:8081/apis/ccompat/v7\"\noutputs = true\n",
        &[("LEADPULSE_SCHEMA_REGISTRY__TIMEOUT_MS", "500")],
    );
}

#[test]
fn a_named_account_of_an_unknown_rep_is_refused_naming_the_field_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let roster = dir.path().join("routing.toml");
    std::fs::write(
        &roster,
        "[[team]]\nid = \"t\"\nlead = \"boss\"\n[[team.rep]]\nid = \"ann\"\n\n\
         [[named_account]]\naccount = \"acme.com\"\nrep = \"zoe\"\n",
    )
    .unwrap();
    let config = format!("[routing]\npath = \"{}\"\n", roster.display());
    let err = refused(&config, &[]);
    assert!(
        err.contains("routing.toml:9:")
            && err.contains("`named_account.rep`")
            && err.contains("`zoe`"),
        "{err}"
    );
    std::fs::write(
        &roster,
        "[[team]]\nid = \"t\"\nlead = \"boss\"\n[[team.rep]]\nid = \"ann\"\n\n\
         [[named_account]]\naccount = \"acme.com\"\nrep = \"ann\"\n",
    )
    .unwrap();
    accepted(&config, &[]);
    // A roster path of another machine is noted, not refused.
    let out = check("[routing]\npath = \"/nowhere/routing.toml\"\n", &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not checked"));
}
