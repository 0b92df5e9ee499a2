//! The oracle: `leadpulse replay` of the same events says what the
//! service must have committed; the check compares the two.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use leadpulse::codec;
use leadpulse::core::{Alert, LeadScore};

use super::broker::model_path;
use super::deployment::Deployment;
use super::input::InputRecord;
use super::output::read_all_on;

/// What `leadpulse replay` says the outputs must be.
pub struct Oracle {
    pub alerts: Vec<Alert>,
    pub scores: BTreeMap<String, LeadScore>,
    pub summary: String,
}

/// Runs `leadpulse replay` on the records' NDJSON equivalent.
pub fn oracle(records: &[InputRecord], dir: &Path) -> Oracle {
    oracle_with(records, dir, &[])
}

/// [`oracle`] with more `replay` arguments (e.g. `--partitions 3`).
pub fn oracle_with(records: &[InputRecord], dir: &Path, args: &[&str]) -> Oracle {
    let events = dir.join("events.ndjson");
    let scores = dir.join("oracle-scores.ndjson");
    let mut text = String::new();
    for r in records {
        text.push_str(&r.ndjson);
        text.push('\n');
    }
    std::fs::write(&events, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(["replay", "--model"])
        .arg(model_path())
        .arg("--events")
        .arg(&events)
        .arg("--scores")
        .arg(&scores)
        .args(args)
        .output()
        .unwrap();
    let summary = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "replay failed: {summary}");
    let alerts = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| codec::decode_alert(l.as_bytes()).unwrap())
        .collect();
    let scores = std::fs::read_to_string(&scores)
        .unwrap()
        .lines()
        .map(|l| {
            let s = codec::decode_score(l.as_bytes()).unwrap();
            (s.lead_id.clone(), s)
        })
        .collect();
    Oracle {
        alerts,
        scores,
        summary,
    }
}

/// Checks the deployment's outputs against the oracle: the same alerts (no
/// duplicates), every malformed record in the DLQ, every lead's final score.
pub fn assert_matches_oracle(d: &Deployment, records: &[InputRecord], oracle: &Oracle) {
    // Alerts.
    let alerts: Vec<Alert> = read_all_on(&d.access.client(), &d.topic("alerts"))
        .iter()
        .map(|r| codec::decode_alert(r.payload.as_deref().unwrap()).unwrap())
        .collect();
    let mut by_id = BTreeMap::new();
    for a in &alerts {
        assert!(
            by_id.insert(a.alert_id.clone(), a.clone()).is_none(),
            "duplicate alert_id {}",
            a.alert_id
        );
    }
    let want: BTreeMap<String, Alert> = oracle
        .alerts
        .iter()
        .map(|a| (a.alert_id.clone(), a.clone()))
        .collect();
    assert!(!want.is_empty(), "the dataset must produce alerts");
    let missing: Vec<_> = want.keys().filter(|k| !by_id.contains_key(*k)).collect();
    let extra: Vec<_> = by_id.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "alerts differ from replay: missing {missing:?}, extra {extra:?}"
    );
    for (id, w) in &want {
        assert_eq!(
            &by_id[id], w,
            "alert {id} differs from replay (left: Kafka, right: replay)"
        );
    }

    // Dead letters: every malformed input, byte for byte, with its reason.
    let dlq = read_all_on(&d.access.client(), &d.topic("dlq"));
    let mut bad: Vec<Vec<u8>> = records
        .iter()
        .filter(|r| r.malformed)
        .map(|r| r.payload.clone())
        .collect();
    let mut got: Vec<Vec<u8>> = dlq
        .iter()
        .map(|r| r.payload.clone().unwrap_or_default())
        .collect();
    bad.sort();
    got.sort();
    assert_eq!(
        got.len(),
        bad.len(),
        "DLQ holds {} records, {} malformed were produced",
        got.len(),
        bad.len()
    );
    assert_eq!(got, bad, "DLQ payloads differ from the malformed inputs");
    for r in &dlq {
        for h in [
            "leadpulse-dlq-reason",
            "leadpulse-dlq-detail",
            "leadpulse-source-partition",
            "leadpulse-source-offset",
        ] {
            assert!(
                r.headers.contains_key(h),
                "DLQ record lacks header {h}: {:?}",
                r.headers
            );
        }
    }

    // Final scores: the last committed record per lead.
    let mut last: BTreeMap<String, LeadScore> = BTreeMap::new();
    for r in read_all_on(&d.access.client(), &d.topic("scores")) {
        let s = codec::decode_score(r.payload.as_deref().unwrap()).unwrap();
        last.insert(s.lead_id.clone(), s);
    }
    assert_eq!(
        last.len(),
        oracle.scores.len(),
        "lead-scores covers {} leads, replay {}",
        last.len(),
        oracle.scores.len()
    );
    for (lead, want) in &oracle.scores {
        let got = &last[lead];
        assert!(
            (got.score - want.score).abs() < 1e-9,
            "lead {lead}: score {} in Kafka, {} in replay",
            got.score,
            want.score
        );
        assert_eq!(
            got, want,
            "lead {lead}: score record differs (left: Kafka, right: replay)"
        );
    }
}
