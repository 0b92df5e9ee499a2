//! Writes the binary seed corpora (protobuf events, changelog records) and
//! the text ones taken from `examples/` into `fuzz/corpus/<target>/`:
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds`.
//! File names are content hashes, so running it again adds nothing new.

use std::path::Path;
use std::sync::Arc;

use leadpulse_codec::{decode_event, encode_event, encode_state, Format};
use leadpulse_core::{
    Disqualification, Handoff, LeadState, LeadStore, Model, Scorer, SlaStatus, Stage,
};

fn write(target: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).expect("corpus directory");
    // FNV-1a: stable across runs and platforms, enough to name a seed.
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    std::fs::write(dir.join(format!("{hash:016x}")), bytes).expect("seed written");
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).expect(p);
    let ndjson = read("examples/events.ndjson");
    let lines: Vec<&str> = ndjson.lines().collect();

    // JSON: the first two of every event type, and the malformed lines.
    let mut per_type = std::collections::BTreeMap::<String, usize>::new();
    let mut events = Vec::new();
    for line in &lines {
        match decode_event(line.as_bytes(), Some(b"application/json")) {
            Ok(e) => {
                let n = per_type
                    .entry(e.kind.event_type().as_str().into())
                    .or_default();
                *n += 1;
                if *n <= 2 {
                    write("decode_event_json", line.as_bytes());
                    write("decode_event_protobuf", &encode_event(&e, Format::Protobuf));
                }
                events.push(e);
            }
            Err(_) => write("decode_event_json", line.as_bytes()),
        }
    }

    // Changelog records of the busiest leads after scoring the stream, and
    // one with every optional part set.
    let model = Model::from_toml("examples/model.toml", &read("examples/model.toml"))
        .expect("the example model loads");
    let scorer = Scorer::new(Arc::new(model));
    let mut store = LeadStore::default();
    for e in &events {
        scorer.apply(&mut store.stage(&e.lead_id).state, e);
    }
    let mut states: Vec<(String, LeadState)> = store
        .iter()
        .map(|(id, s)| (id.to_string(), s.clone()))
        .collect();
    states.sort_by_key(|(id, s)| (std::cmp::Reverse(s.contributions.len()), id.clone()));
    let mut full = states[0].1.clone();
    full.disqualified = Some(Box::new(Disqualification {
        rule_id: "student".into(),
        at: -5,
        sticky: true,
    }));
    full.held = vec!["job_title".into(), String::new()];
    full.stage = Some(Stage::Sal);
    full.last_alert_at = Some(0);
    full.handoff = Some(Box::new(Handoff {
        alert_id: "a-L-1-1".into(),
        team: "emea".into(),
        rep: "ana".into(),
        via: "territory".into(),
        handed_at: 1,
        respond_by: 2,
        contact_due: Some(0),
        first_contact_at: None,
        sla: SlaStatus::Breached,
        breaches: 2,
        reassignments: 1,
        feedback_by: 3,
        feedback: Some(("rejected".into(), 4, Some("no budget".into()))),
        feedback_overdue: true,
        qualified_by: "pricing".into(),
        grade: "B".into(),
        score: 12.5,
        won_amount: Some(0.0),
        lost_reason: None,
    }));
    for (id, s) in states.iter().take(6) {
        write("changelog_state", &encode_state(id, s));
    }
    write("changelog_state", &encode_state("L-full", &full));
    write("changelog_state", &encode_state("", &LeadState::default()));

    for p in ["examples/model.toml", "examples/model-candidate.toml"] {
        write("model_from_toml", read(p).as_bytes());
    }
    write("roster", read("examples/routing.toml").as_bytes());

    for line in [
        "lead jane.doe+x@acme.co.uk signed up, cc bob@example.com.",
        r#"{"fields":{"email":"jöhn.smith@exämple.com"}}"#,
        "用户@例子.广告 and чебурашка@ящик-с-апельсинами.рф",
        "root@[192.0.2.1] <o'neil@mail.example.org>",
        "ñoño@ejemplo。es x@例え．テスト user@xn--bcher-kva.xn--p1ai",
        "user@localhost price @ 3.5 L-000042@",
    ] {
        write("redact", line.as_bytes());
    }
    for line in lines.iter().filter(|l| l.contains('@')).take(3) {
        write("redact", line.as_bytes());
    }

    for t in [
        "2026-11-20T10:00:00Z",
        "2026-11-20T10:00:00.250Z",
        "2026-11-20T10:00:00.123456789+01:00",
        "1969-12-31T23:59:59.999Z",
        "2024-02-29T23:59:60Z",
        "0000-01-01T00:00:00-23:59",
        "9999-12-31t23:59:59.999z",
    ] {
        write("rfc3339", t.as_bytes());
    }
}
