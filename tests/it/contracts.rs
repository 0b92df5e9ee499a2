//! Contracts for downstream services: a Python client (confluent-kafka,
//! protobuf and jsonschema from PyPI) reads the real output of the service
//! with read_committed, in JSON and in protobuf, and sees what
//! `leadpulse replay` says it must; JSON records match the schemas of
//! docs/asyncapi.yaml, which must describe every topic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use leadpulse::config::{Role, Topic, TopicNames};
use serde_json::Value;

use crate::support::*;

fn python_reads_what_replay_says(format: &str) {
    let d = Deployment::new(&format!("contract-{format}"), 3);
    d.create_events_topic();
    let records = dataset(3_000, 200, 21);
    produce(&d.topic("events"), &records, 0, Duration::ZERO);
    let mut s = d.spawn_with(
        "a",
        1,
        &format!("[pipeline]\noutput_format = \"{format}\"\n"),
    );
    s.wait_for_log("restored lead state", Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(120));
    s.terminate();

    let descriptors = d.dir.path().join("leadpulse.fds");
    let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .arg("proto-descriptors")
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&descriptors, out.stdout).unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(python())
        .arg(root.join("tests/contract/read_outputs.py"))
        .arg(bootstrap())
        .arg(d.topic("scores"))
        .arg(d.topic("alerts"))
        .arg(&descriptors)
        .arg(root.join("docs/asyncapi.yaml"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "the Python consumer failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();

    let content_type = if format == "json" {
        "application/json"
    } else {
        "application/x-protobuf"
    };
    assert_eq!(seen["formats"], serde_json::json!([content_type]));

    let oracle = oracle(&records, d.dir.path());
    let want: BTreeSet<&str> = oracle.alerts.iter().map(|a| a.alert_id.as_str()).collect();
    let got: Vec<&str> = seen["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["alert_id"].as_str().unwrap())
        .collect();
    assert!(!want.is_empty());
    assert_eq!(got.len(), want.len(), "duplicate or missing alerts");
    assert_eq!(got.into_iter().collect::<BTreeSet<_>>(), want);

    let scores: BTreeMap<String, f64> = seen["scores"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_f64().unwrap()))
        .collect();
    assert_eq!(scores.len(), oracle.scores.len());
    for (lead, want) in &oracle.scores {
        assert!(
            (scores[lead] - want.score).abs() < 1e-9,
            "{lead}: Python saw {}, replay says {}",
            scores[lead],
            want.score
        );
    }
}

#[test]
fn python_reads_json_output() {
    python_reads_what_replay_says("json");
}

#[test]
fn python_reads_protobuf_output() {
    python_reads_what_replay_says("protobuf");
}

#[test]
fn asyncapi_describes_every_topic_with_key_schema_and_cleanup_policy() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let doc: Value =
        serde_norway::from_str(&std::fs::read_to_string(root.join("docs/asyncapi.yaml")).unwrap())
            .unwrap();
    let defaults = leadpulse::config::Settings::default();
    let names = TopicNames::from_settings(&defaults);
    let channels = doc["channels"].as_object().unwrap();
    assert_eq!(
        channels.len(),
        Topic::ALL.len(),
        "docs/asyncapi.yaml has a channel for a topic the registry does not know"
    );
    for (topic, name) in names.iter() {
        let policy = if topic.compacted() {
            "compact"
        } else {
            "delete"
        };
        let (_, channel) = channels
            .iter()
            .find(|(_, c)| c["address"] == name)
            .unwrap_or_else(|| panic!("docs/asyncapi.yaml has no channel for `{name}`"));
        let config = &channel["bindings"]["kafka"]["topicConfiguration"];
        assert_eq!(config["cleanup.policy"][0], policy, "{name}");
        assert!(config["retention.ms"].is_i64(), "{name}: no retention");
        for m in channel["messages"].as_object().unwrap().values() {
            let message_name = m["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
            let message = &doc["components"]["messages"][message_name];
            assert!(
                message["payload"].is_object(),
                "{name}: {message_name} has no payload"
            );
            if topic.role() != Role::DeadLetter {
                assert!(
                    message["bindings"]["kafka"]["key"].is_object(),
                    "{name}: {message_name} has no key schema"
                );
            }
            if let Some(r) = message["payload"]["schema"]["$ref"].as_str() {
                let proto = r.split('#').next().unwrap().trim_start_matches("../");
                assert!(root.join(proto).is_file(), "{r}: no such proto file");
            }
        }
    }
}

/// docs/topics.md has a section per topic, headed by its default name with
/// `(input)` or `(compacted)` where the registry says so, and docs/config.md
/// lists every topic's settings key.
#[test]
fn topics_md_and_config_md_describe_every_topic_of_the_registry() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let topics_md = std::fs::read_to_string(root.join("docs/topics.md")).unwrap();
    let config_md = std::fs::read_to_string(root.join("docs/config.md")).unwrap();
    let headings: Vec<&str> = topics_md.lines().filter(|l| l.starts_with("## ")).collect();
    let names = TopicNames::from_settings(&leadpulse::config::Settings::default());
    for (topic, name) in names.iter() {
        let documented = if topic == Topic::Changelog {
            "`<group_id>-lead-state-changelog`".to_owned()
        } else {
            format!("`{name}`")
        };
        let heading = headings
            .iter()
            .find(|h| h.contains(&documented))
            .unwrap_or_else(|| panic!("docs/topics.md has no section for {documented}"));
        let section = &heading[heading.find(&documented).unwrap() + documented.len()..];
        // What follows the name, up to the next topic of a shared heading.
        let qualifier = section.split('`').next().unwrap();
        assert_eq!(
            qualifier.contains("(input)"),
            topic.role() == Role::Input,
            "docs/topics.md: {heading}"
        );
        assert_eq!(
            qualifier.contains("compacted"),
            topic.compacted(),
            "docs/topics.md: {heading}"
        );
        let row = format!("| `{}` |", topic.field());
        assert!(
            config_md.contains(&row),
            "docs/config.md does not list {}",
            topic.key()
        );
    }
    for (key, value) in Topic::Changelog.creation_config() {
        assert!(
            topics_md.contains(&format!("`{key}={value}`")),
            "docs/topics.md does not say the changelog is created with {key}={value}"
        );
    }
}
