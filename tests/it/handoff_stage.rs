//! The stage a `lead-handoffs` record carries does not depend on where the
//! service's transactions begin and end: a lead that alerts and then
//! unsubscribes in the same transaction, and one that does so in two
//! consecutive transactions, both end `disqualified`, as in `replay`.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::*;
use leadpulse::codec;
use leadpulse::core::{Event, EventKind, HandoffRecord, Stage};

fn event(lead: &str, n: i64, at: i64, kind: EventKind) -> InputRecord {
    record(&Event {
        event_id: format!("{lead}-{n}"),
        lead_id: lead.into(),
        visitor_id: None,
        occurred_at: at + n,
        company_domain: Some("initech.com".into()),
        account_id: None,
        kind,
    })
}

/// The latest record of each handoff, by alert id.
fn latest(records: impl Iterator<Item = Vec<u8>>) -> BTreeMap<String, HandoffRecord> {
    records
        .map(|r| codec::decode_handoff(&r).unwrap())
        .map(|h| (h.handoff.alert_id.clone(), h))
        .collect()
}

/// `replay --outputs` of the same events: its `lead-handoffs` file.
fn replayed(events: &[InputRecord], dir: &std::path::Path) -> BTreeMap<String, HandoffRecord> {
    let file = dir.join("handoff-events.ndjson");
    let text: String = events.iter().map(|r| format!("{}\n", r.ndjson)).collect();
    std::fs::write(&file, text).unwrap();
    let outputs = dir.join("replay-outputs");
    let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(["replay", "--model"])
        .arg(model_path())
        .arg("--events")
        .arg(&file)
        .arg("--outputs")
        .arg(&outputs)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(outputs.join("lead-handoffs.ndjson")).unwrap();
    latest(text.lines().map(|l| l.as_bytes().to_vec()))
}

#[test]
fn the_handoff_stage_is_the_same_whatever_the_transaction_boundaries() {
    let d = Deployment::new("handoff-stage", 2);
    d.create_events_topic();
    // Long transactions, so the first lead's alert and unsubscribe surely
    // share one.
    let mut service = d.spawn_with("a", 1, "[pipeline]\ncommit_interval_ms = 3000\n");
    service.wait_for_log("restored lead state", Duration::from_secs(60));
    let now = now_ms();
    let unsubscribe = |lead: &str| event(lead, 10, now, EventKind::Unsubscribe);

    // Same transaction: everything at once.
    let mut same = hot_lead("L-same", now);
    same.push(unsubscribe("L-same"));
    produce(&d.topic("events"), &same, 0, Duration::ZERO);

    // Consecutive transactions: the unsubscribe only once the alert is
    // committed.
    let two = hot_lead("L-two", now);
    produce(&d.topic("events"), &two, 0, Duration::ZERO);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !read_all(&d.topic("alerts")).iter().any(|r| {
        codec::decode_alert(r.payload.as_deref().unwrap())
            .unwrap()
            .lead_id
            == "L-two"
    }) {
        assert!(Instant::now() < deadline, "L-two never alerted");
        std::thread::sleep(Duration::from_millis(200));
    }
    let late = vec![unsubscribe("L-two")];
    produce(&d.topic("events"), &late, 0, Duration::ZERO);
    d.wait_caught_up(Duration::from_secs(60));
    service.terminate();

    let got = latest(
        read_all(&d.topic("handoffs"))
            .into_iter()
            .map(|r| r.payload.unwrap()),
    );
    let all: Vec<InputRecord> = same.into_iter().chain(two).chain(late).collect();
    let want = replayed(&all, d.dir.path());
    assert_eq!(want.len(), 2, "both leads alert: {want:?}");
    for h in want.values() {
        assert_eq!(h.stage, Some(Stage::Disqualified), "{}", h.lead_id);
    }
    assert_eq!(got, want, "lead-handoffs (left: Kafka, right: replay)");
}
