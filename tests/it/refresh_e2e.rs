//! Decay refresh against a real Kafka broker: with the model's `[refresh]`
//! and a 7-day half-life, leads that went quiet a month ago are
//! re-published on `lead-scores` with their decayed score, and the latest
//! record of every lead is the one `replay --until` gives.

use std::collections::BTreeMap;
use std::time::Duration;

use leadpulse::codec;
use leadpulse::core::LeadScore;

use crate::support::*;

const EXAMPLE: &str = include_str!("../../examples/model.toml");

/// The latest record per lead on the deployment's `lead-scores`.
fn latest_scores(d: &Deployment) -> BTreeMap<String, LeadScore> {
    read_all(&d.topic("scores"))
        .iter()
        .map(|r| codec::decode_score(r.payload.as_deref().unwrap()).unwrap())
        .map(|s| (s.lead_id.clone(), s))
        .collect()
}

/// `leadpulse replay --until` of the records: the final score per lead.
fn replay_scores(
    d: &Deployment,
    model: &std::path::Path,
    records: &[InputRecord],
    until: i64,
) -> BTreeMap<String, LeadScore> {
    let events = d.dir.path().join("replay-input.ndjson");
    let text: String = records.iter().map(|r| format!("{}\n", r.ndjson)).collect();
    std::fs::write(&events, text).unwrap();
    let out = d.dir.path().join("replay-out");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(["replay", "--model"])
        .arg(model)
        .args([
            "--partitions",
            "2",
            "--until",
            &codec::format_rfc3339(until),
            "--events",
        ])
        .arg(&events)
        .arg("--outputs")
        .arg(&out)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "replay failed");
    std::fs::read_to_string(out.join("lead-scores.ndjson"))
        .unwrap()
        .lines()
        .map(|l| codec::decode_score(l.as_bytes()).unwrap())
        .map(|s| (s.lead_id.clone(), s))
        .collect()
}

#[test]
fn quiet_leads_are_re_published_as_they_decay_and_replay_agrees() {
    let d = Deployment::new("refresh", 2);
    d.create_events_topic();
    // Every engagement group decays with a 7-day half-life.
    let text =
        EXAMPLE.replace("half_life_days = 21", "half_life_days = 7") + "\n[refresh]\nstep = 1\n";
    let model = d.dir.path().join("model.toml");
    std::fs::write(&model, &text).unwrap();
    let config = d.config_with_model("a", "", &model);
    let mut service = d.spawn_with_config("a", 1, &config);
    service.wait_for_log("restored lead state", Duration::from_secs(60));

    // Six leads went quiet 30 days ago, two are active now.
    let now = now_ms();
    let quiet: Vec<String> = (0..6).map(|i| format!("L-refresh-quiet-{i}")).collect();
    let mut events: Vec<InputRecord> = quiet
        .iter()
        .flat_map(|l| hot_lead(l, now - 30 * 86_400_000))
        .collect();
    events.extend((0..2).flat_map(|i| hot_lead(&format!("L-refresh-active-{i}"), now)));
    produce(&d.topic("events"), &events, 0, Duration::ZERO);
    d.wait_caught_up(Duration::from_secs(120));

    // The refreshes due by now fire on the wall clock once caught up; wait
    // until the topic's latest records match replay up to now.
    let until = now_ms();
    let want = replay_scores(&d, &model, &events, until);
    assert_eq!(want.len(), 8);
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let got = loop {
        let got = latest_scores(&d);
        if got == want || std::time::Instant::now() > deadline {
            break got;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    service.terminate();
    for (lead, w) in &want {
        assert_eq!(got.get(lead), Some(w), "{lead}: left Kafka, right replay");
    }
    // The quiet leads show a score re-published by decay, long after
    // their events.
    for lead in &quiet {
        let s = &want[lead];
        assert!(s.updated_at > now - 29 * 86_400_000, "{s:?}");
        assert!(
            s.reasons
                .iter()
                .all(|r| r.kind == leadpulse::core::ReasonKind::Fit
                    || r.last_seen <= now - 30 * 86_400_000),
            "{s:?}"
        );
    }
    // The active ones keep the score of their last event.
    for i in 0..2 {
        let s = &want[&format!("L-refresh-active-{i}")];
        assert!(s.updated_at <= now, "{s:?}");
    }
}
