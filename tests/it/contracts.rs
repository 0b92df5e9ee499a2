//! Contracts for downstream services: a Python client (confluent-kafka,
//! protobuf and jsonschema from PyPI) reads the real output of the service
//! with read_committed, in JSON and in protobuf, and sees what
//! `leadpulse replay` says it must; JSON records match the schemas of
//! docs/asyncapi.yaml, which must describe every topic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

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
    let t = &defaults.topics;
    let channels = doc["channels"].as_object().unwrap();
    for (topic, policy) in [
        (t.events.clone(), "delete"),
        (t.scores.clone(), "compact"),
        (t.alerts.clone(), "delete"),
        (t.dlq.clone(), "delete"),
        (t.changelog(&defaults.kafka.group_id), "compact"),
    ] {
        let (_, channel) = channels
            .iter()
            .find(|(_, c)| c["address"] == topic.as_str())
            .unwrap_or_else(|| panic!("docs/asyncapi.yaml has no channel for `{topic}`"));
        let config = &channel["bindings"]["kafka"]["topicConfiguration"];
        assert_eq!(config["cleanup.policy"][0], policy, "{topic}");
        assert!(config["retention.ms"].is_i64(), "{topic}: no retention");
        for m in channel["messages"].as_object().unwrap().values() {
            let name = m["$ref"].as_str().unwrap().rsplit('/').next().unwrap();
            let message = &doc["components"]["messages"][name];
            assert!(
                message["payload"].is_object(),
                "{topic}: {name} has no payload"
            );
            if name != "DeadLetter" {
                assert!(
                    message["bindings"]["kafka"]["key"].is_object(),
                    "{topic}: {name} has no key schema"
                );
            }
            if let Some(r) = message["payload"]["schema"]["$ref"].as_str() {
                let proto = r.split('#').next().unwrap().trim_start_matches("../");
                assert!(root.join(proto).is_file(), "{r}: no such proto file");
            }
        }
    }
}
