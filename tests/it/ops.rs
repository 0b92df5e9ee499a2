//! Operating the service against a real broker: the admin endpoint
//! (readiness through a 100k-lead restore, `/leads/{id}`, `/metrics`), lead
//! ownership across two instances, and the shutdown grace period.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use leadpulse::codec;
use leadpulse::core::partitioner::partition_for_key;
use leadpulse::core::{Event, EventKind, LeadState, Model, Scorer};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use serde_json::Value;

use crate::support::*;

const RESTORED_LEADS: usize = 100_000;

fn model() -> Model {
    Model::from_toml("model", &std::fs::read_to_string(model_path()).unwrap()).unwrap()
}

/// Writes one changelog record per lead, each lead scored once by a
/// `page_view` of the pricing page, into the changelog partition the
/// default (murmur2) partitioner gives its id.
fn fill_changelog(d: &Deployment, leads: usize) -> LeadState {
    let scorer = Scorer::new(model().into());
    let mut state = LeadState::default();
    let event = Event {
        event_id: "seed-1".into(),
        lead_id: "seed".into(),
        visitor_id: None,
        occurred_at: now_ms() - 60_000,
        company_domain: Some("acme.io".into()),
        account_id: None,
        kind: EventKind::PageView {
            url: "https://example.com/pricing".into(),
            referrer: None,
            duration_ms: None,
        },
    };
    scorer.apply(&mut state, &event);
    assert!(
        scorer.score_at(&state, state.updated_at) > 0.0,
        "the seed event must score"
    );
    let payload_of = |id: &str| codec::encode_state(id, &state);
    let producer: ThreadedProducer<DefaultProducerContext> = d
        .access
        .client()
        .set("linger.ms", "20")
        .set("batch.num.messages", "10000")
        .create()
        .unwrap();
    let topic = d.topic("changelog");
    for i in 0..leads {
        let id = format!("R-{i:07}");
        let payload = payload_of(&id);
        let mut record = BaseRecord::to(&topic)
            .partition(partition_for_key(id.as_bytes(), d.partitions))
            .key(&id)
            .payload(&payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    producer.poll(Duration::from_millis(5));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(60)).unwrap();
    state
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Polls `/readyz` until it answers 200; returns every body seen.
fn readyz_until_ready(s: &mut Service, timeout: Duration) -> Vec<(u16, Value)> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        let (code, body) = s.get("/readyz");
        seen.push((code, json(&body)));
        if code == 200 {
            return seen;
        }
        assert_eq!(code, 503, "{body}");
        assert!(
            Instant::now() < deadline,
            "not ready within {timeout:?}; last: {body}\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn readyz_is_false_while_100k_leads_restore_then_leads_and_metrics_are_served() {
    let d = Deployment::new("ops-restore", 2);
    d.create_events_topic();
    d.create_topic(&d.topic("changelog"), &[("cleanup.policy", "compact")]);
    let seeded = fill_changelog(&d, RESTORED_LEADS);

    let mut s = d.spawn("a", 1);
    let (code, body) = s.get("/healthz");
    assert_eq!((code, json(&body)["status"].as_str()), (200, Some("ok")));
    let seen = readyz_until_ready(&mut s, Duration::from_secs(300));

    // Not ready while restoring, with progress shown; ready afterwards.
    let restoring: Vec<&Value> = seen
        .iter()
        .filter(|(code, b)| {
            *code == 503 && b["restoring"].as_object().is_some_and(|r| !r.is_empty())
        })
        .map(|(_, b)| b)
        .collect();
    assert!(
        !restoring.is_empty(),
        "/readyz never reported a restore in progress: {seen:?}"
    );
    assert!(
        restoring.iter().all(|b| b["ready"] == false),
        "{restoring:?}"
    );
    eprintln!(
        "/readyz answered 503 with a restore in progress {} times, first {}, last {}",
        restoring.len(),
        restoring[0],
        restoring[restoring.len() - 1]
    );
    let (_, last) = seen.last().unwrap();
    assert_eq!(last["ready"], true, "{last}");
    assert_eq!(last["leads"], RESTORED_LEADS, "{last}");
    assert_eq!(last["partitions"], serde_json::json!([0, 1]), "{last}");
    assert!(s.log_text().contains(&format!("leads={RESTORED_LEADS}")));

    // A restored lead, from committed state, with its partition.
    let id = "R-0004242";
    let (code, body) = s.get(&format!("/leads/{id}"));
    assert_eq!(code, 200, "{body}");
    let lead = json(&body);
    assert_eq!(lead["lead_id"], id);
    let want = Scorer::new(model().into()).score_of(id, &seeded).score;
    assert_eq!(lead["score"].as_f64(), Some(want));
    assert_eq!(lead["partition"], partition_for_key(id.as_bytes(), 2));
    assert_eq!(lead["instance"], "a");
    assert_eq!(lead["reasons"][0]["rule_id"], "pricing-page", "{lead}");
    let (code, body) = s.get("/leads/nobody@example.com");
    assert_eq!(code, 404, "{body}");

    // Scoring live events is visible once committed.
    let records = dataset(2_000, 50, 9);
    let client = d
        .access
        .client()
        .set("partitioner", "murmur2_random")
        .clone();
    produce_on(&client, &d.topic("events"), &records, 0, Duration::ZERO);
    d.wait_caught_up(Duration::from_secs(120));
    let oracle = oracle(&records, d.dir.path());
    for (lead_id, want) in oracle.scores.iter().take(20) {
        let (code, body) = s.get(&format!("/leads/{lead_id}"));
        assert_eq!(code, 200, "{lead_id}: {body}");
        let got = json(&body);
        assert_eq!(got["score"].as_f64(), Some(want.score), "{lead_id}: {body}");
        assert_eq!(
            got["partition"],
            partition_for_key(lead_id.as_bytes(), 2),
            "the service's partition must be where a murmur2 producer put the lead"
        );
    }

    // Metrics: Prometheus text, only names from telemetry::METRICS, and the
    // restore, lag and latency series present.
    let deadline = Instant::now() + Duration::from_secs(60);
    let metrics = loop {
        let (code, body) = s.get("/metrics");
        assert_eq!(code, 200);
        if body.contains("leadpulse_consumer_lag_records{") {
            break body;
        }
        assert!(Instant::now() < deadline, "no consumer lag metric:\n{body}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let known: BTreeSet<&str> = leadpulse::telemetry::METRICS.iter().map(|m| m.0).collect();
    for line in metrics
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let name = line.split(['{', ' ']).next().unwrap();
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .filter(|b| known.contains(b))
            .unwrap_or(name);
        assert!(known.contains(base), "{name} is not in telemetry::METRICS");
    }
    for want in [
        format!("leadpulse_restored_leads_total {RESTORED_LEADS}"),
        format!("leadpulse_restore_records_total {RESTORED_LEADS}"),
        "leadpulse_restore_remaining_records{partition=\"0\"} 0".into(),
        "leadpulse_ready 1".into(),
        "leadpulse_event_to_alert_seconds_bucket{le=".into(),
        "leadpulse_transaction_commit_seconds_bucket{le=".into(),
        format!("leadpulse_events_consumed_total {}", records.len()),
        format!(
            "leadpulse_consumer_lag_records{{topic=\"{}\",partition=\"0\"}}",
            d.topic("events")
        ),
    ] {
        assert!(metrics.contains(&want), "no {want:?} in\n{metrics}");
    }
    let log = s.terminate();
    assert!(!log.contains("@example.com"), "an email address was logged");
}

#[test]
fn leads_endpoint_names_the_partition_and_instance_that_own_a_lead() {
    let d = Deployment::new("ops-owner", 2);
    d.create_events_topic();
    let mut a = d.spawn("a", 1);
    readyz_until_ready(&mut a, Duration::from_secs(120));
    let mut b = d.spawn("b", 1);
    // Wait until each instance owns one partition and is ready.
    let deadline = Instant::now() + Duration::from_secs(120);
    let (owned_a, owned_b) = loop {
        let (ca, ba) = a.get("/readyz");
        let (cb, bb) = b.get("/readyz");
        let pa = json(&ba)["partitions"].clone();
        let pb = json(&bb)["partitions"].clone();
        if ca == 200
            && cb == 200
            && pa.as_array().unwrap().len() == 1
            && pb.as_array().unwrap().len() == 1
        {
            break (
                pa[0].as_i64().unwrap() as i32,
                pb[0].as_i64().unwrap() as i32,
            );
        }
        assert!(Instant::now() < deadline, "no split: a {ba}, b {bb}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_ne!(owned_a, owned_b);
    let lead_of_b = (0..)
        .map(|i| format!("L-{i:06}"))
        .find(|id| partition_for_key(id.as_bytes(), 2) == owned_b)
        .unwrap();
    let (code, body) = a.get(&format!("/leads/{lead_of_b}"));
    assert_eq!(code, 421, "{body}");
    let answer = json(&body);
    assert_eq!(answer["partition"], owned_b, "{answer}");
    assert_eq!(answer["owner"], "b", "{answer}");
    let (code, body) = b.get(&format!("/leads/{lead_of_b}"));
    assert_eq!(code, 404, "b owns it but has never seen it: {body}");
    a.terminate();
    b.terminate();
}

#[test]
fn sigterm_exits_0_within_the_grace_period_even_when_kafka_is_unreachable() {
    // A port nothing listens on: the service keeps trying to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let d = Deployment::on(
        "ops-grace",
        1,
        Access {
            bootstrap: format!("127.0.0.1:{port}"),
            properties: Vec::new(),
            service_toml: String::new(),
        },
    );
    let mut s = d.spawn_with("a", 1, "[shutdown]\ngrace_period_secs = 2\n");
    let (code, body) = s.get("/readyz");
    assert_eq!(code, 503, "{body}");
    let log = s.terminate();
    assert!(log.contains("grace period expired"), "{log}");
}

#[test]
fn the_json_log_format_writes_one_object_per_line() {
    let d = Deployment::new("ops-jsonlog", 1);
    d.create_events_topic();
    let mut s = d.spawn_with("a", 1, "[log]\nformat = \"json\"\n");
    readyz_until_ready(&mut s, Duration::from_secs(120));
    let log = s.terminate();
    let mut messages = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v = json(line);
        messages.push(v["message"].as_str().unwrap_or_default().to_owned());
    }
    assert!(messages.iter().any(|m| m == "stopped"), "{messages:?}");
    // Spans: restore lines carry the span's fields.
    assert!(
        log.contains("\"span\"") || log.contains("\"spans\""),
        "{log}"
    );
}

#[test]
fn repeated_sigterm_mid_stream_loses_and_duplicates_nothing() {
    let d = Deployment::new("ops-sigterm", 3);
    d.create_events_topic();
    let records = dataset(8_000, 800, 31);
    let topic = d.topic("events");
    let producer = {
        let records = records.clone();
        std::thread::spawn(move || produce(&topic, &records, 400, Duration::from_millis(300)))
    };
    // Three runs stopped by SIGTERM while events keep arriving: each one
    // stops fetching, commits its open transaction, leaves the group and
    // exits 0 (Service::terminate asserts the status).
    for run in 1..=3 {
        let mut s = d.spawn_with("a", run, "[shutdown]\ngrace_period_secs = 30\n");
        s.wait_for_log("transaction committed", Duration::from_secs(60));
        let (code, _) = s.get("/readyz");
        assert_eq!(code, 200);
        let log = s.terminate();
        let stop = log.find("shutting down: committing the open transaction");
        let stopped = log.rfind("stopped");
        assert!(
            stop.is_some() && stopped > stop,
            "run {run}: no orderly stop:\n{log}"
        );
        assert!(!log.contains("grace period expired"), "run {run}:\n{log}");
    }
    producer.join().unwrap();
    let mut s = d.spawn("a", 4);
    s.wait_for_log("restored lead state", Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(180));
    s.terminate();
    let oracle = oracle(&records, d.dir.path());
    assert_matches_oracle(&d, &records, &oracle);
}

#[test]
fn generate_to_kafka_keys_by_lead_and_partitions_with_murmur2() {
    let d = Deployment::new("ops-generate", 4);
    d.create_events_topic();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args([
            "generate", "--kafka", "--events", "500", "--rate", "2000", "--config",
        ])
        .arg(d.config("generator", ""))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records = read_all(&d.topic("events"));
    assert_eq!(records.len(), 500);
    let mut partitions = BTreeSet::new();
    for r in &records {
        let key = r.key.as_deref().unwrap();
        let event = codec::decode_event(r.payload.as_deref().unwrap(), None).unwrap();
        assert_eq!(key, event.lead_id.as_bytes());
        // librdkafka's murmur2 partitioner and ours (the Java client's) agree.
        assert_eq!(r.partition, partition_for_key(key, 4));
        partitions.insert(r.partition);
    }
    assert_eq!(partitions.len(), 4, "{partitions:?}");
}

/// A changelog record that does not decode stops the restore (exit 2),
/// naming its partition and offset, unless a later record of the same lead
/// replaces it, as compaction eventually would.
#[test]
fn a_broken_changelog_record_stops_the_restore_unless_a_later_one_replaces_it() {
    let d = Deployment::new("ops-broken-state", 1);
    d.create_events_topic();
    d.create_topic(&d.topic("changelog"), &[("cleanup.policy", "compact")]);
    let good = {
        let mut state = LeadState::default();
        Scorer::new(model().into()).apply(
            &mut state,
            &Event {
                event_id: "e-1".into(),
                lead_id: "L-fixed".into(),
                visitor_id: None,
                occurred_at: now_ms() - 60_000,
                company_domain: Some("acme.io".into()),
                account_id: None,
                kind: EventKind::PageView {
                    url: "https://example.com/pricing".into(),
                    referrer: None,
                    duration_ms: None,
                },
            },
        );
        state
    };
    let broken: &[u8] = &[0x12, 0x7F, 0x01]; // a length past the end
    let producer: ThreadedProducer<DefaultProducerContext> = d.access.client().create().unwrap();
    let topic = d.topic("changelog");
    let write = |key: &str, payload: Option<&[u8]>| {
        let mut record = BaseRecord::<str, [u8]>::to(&topic).partition(0).key(key);
        if let Some(p) = payload {
            record = record.payload(p);
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
        producer.flush(Duration::from_secs(30)).unwrap();
    };
    write("L-fixed", Some(broken)); // offset 0: replaced at offset 1
    write("L-fixed", Some(&codec::encode_state("L-fixed", &good)));
    write("L-bad", Some(broken)); // offset 2: the one that stops the restore
    write("L-gone", Some(broken)); // offset 3: deleted at offset 4
    write("L-gone", None);

    let mut s = d.spawn("a", 1);
    let status = s.wait_exit(Duration::from_secs(120));
    let log = s.log_text();
    assert_eq!(status.code(), Some(2), "{log}");
    assert!(
        log.contains(&format!(
            "`{topic}` partition 0 offset 2: malformed protobuf"
        )),
        "the error names the record: {log}"
    );

    write("L-bad", Some(&codec::encode_state("L-bad", &good)));
    let mut s = d.spawn("a", 2);
    let seen = readyz_until_ready(&mut s, Duration::from_secs(120));
    let (_, last) = seen.last().unwrap();
    assert_eq!(last["ready"], true, "{last}");
    assert_eq!(last["leads"], 2, "L-fixed and L-bad: {last}");
    for id in ["L-fixed", "L-bad"] {
        let (code, body) = s.get(&format!("/leads/{id}"));
        assert_eq!(code, 200, "{id}: {body}");
    }
    let (code, _) = s.get("/leads/L-gone");
    assert_eq!(code, 404);
    s.terminate();
}
