//! Poison records never stall a partition: a 600 KB refused value, a
//! 950 KB malformed record and leads pushed past every state limit, mixed
//! with canary events on every partition, are each dead-lettered exactly
//! once with their reason, no transaction aborts, and every canary is
//! scored as `replay` scores it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::*;
use leadpulse::codec::{self, Format};
use leadpulse::core::partitioner::partition_for_key;
use leadpulse::core::{Event, EventKind};

const PARTITIONS: i32 = 3;

fn json(event: &Event, malformed: bool) -> InputRecord {
    let payload = codec::encode_event(event, Format::Json);
    InputRecord {
        key: event.lead_id.clone(),
        ndjson: String::from_utf8(payload.clone()).unwrap(),
        payload,
        content_type: Some("application/json"),
        malformed,
    }
}

fn raw(key: &str, text: String) -> InputRecord {
    InputRecord {
        key: key.into(),
        payload: text.clone().into_bytes(),
        content_type: None,
        ndjson: text,
        malformed: true,
    }
}

fn page_view(lead: &str, n: u32, at: i64) -> Event {
    Event {
        event_id: format!("{lead}-{n}"),
        lead_id: lead.into(),
        visitor_id: None,
        occurred_at: at + i64::from(n),
        company_domain: None,
        account_id: None,
        kind: EventKind::PageView {
            url: "https://leadpulse.example/pricing".into(),
            referrer: None,
            duration_ms: None,
        },
    }
}

fn profile(lead: &str, n: u32, at: i64, name: &str, value: String) -> Event {
    Event {
        kind: EventKind::ProfileUpdate {
            attributes: BTreeMap::from([(name.to_owned(), value)]),
        },
        ..page_view(lead, n, at)
    }
}

/// One canary lead per partition.
fn canaries() -> Vec<String> {
    let mut by_partition = BTreeMap::new();
    for i in 0.. {
        let id = format!("canary-{i}");
        by_partition
            .entry(partition_for_key(id.as_bytes(), PARTITIONS))
            .or_insert(id);
        if by_partition.len() == PARTITIONS as usize {
            return by_partition.into_values().collect();
        }
    }
    unreachable!()
}

#[test]
fn poison_records_are_dead_lettered_once_and_stall_nothing() {
    let d = Deployment::new("poison", PARTITIONS);
    d.create_events_topic();
    let mut service = d.spawn("a", 1);
    service.wait_for_log("restored lead state", Duration::from_secs(60));
    let now = now_ms();
    let canaries = canaries();

    let mut records: Vec<InputRecord> = canaries
        .iter()
        .map(|c| json(&page_view(c, 0, now), false))
        .collect();
    // A 600 KB refused value: an unknown type, and a string where a number
    // belongs.
    let big = "t".repeat(600_000);
    records.push(raw(
        "P-type",
        format!(
            r#"{{"event_id":"p1","lead_id":"P-type","type":"{big}","occurred_at":"2026-11-20T10:00:00Z"}}"#
        ),
    ));
    records.push(raw(
        "P-duration",
        format!(
            r#"{{"event_id":"p2","lead_id":"P-duration","type":"page_view","url":"/","duration_ms":"{big}","occurred_at":"2026-11-20T10:00:00Z"}}"#
        ),
    ));
    // A 950 KB record that is not JSON at all.
    records.push(raw(
        "P-malformed",
        format!("{{\"lead_id\":{}", "x".repeat(950_000)),
    ));
    // Past the attribute bytes limit: the fifth 60 KB attribute and after.
    for n in 0..10 {
        let event = profile("P-bytes", n, now, &format!("big_{n}"), "b".repeat(60_000));
        records.push(json(&event, n >= 4));
    }
    // Past the attribute count limit: the 65th attribute and after.
    for n in 0..70 {
        let event = profile("P-count", n, now, &format!("a_{n:02}"), "v".into());
        records.push(json(&event, n >= 64));
    }
    records.extend(canaries.iter().map(|c| json(&page_view(c, 1, now), false)));
    // A lead that turns hot after the poison, so alerts are compared too.
    let attributes = [
        ("email", "pat@initech.com"),
        ("job_title", "CTO"),
        ("company_size", "1001-5000"),
        ("country", "US"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let hot = [
        EventKind::ProfileUpdate { attributes },
        EventKind::FormSubmit {
            form_id: "demo-request".into(),
            fields: BTreeMap::new(),
        },
    ];
    for (n, kind) in hot.into_iter().enumerate() {
        let event = Event {
            kind,
            company_domain: Some("initech.com".into()),
            ..page_view("H-1", n as u32, now)
        };
        records.push(json(&event, false));
    }
    records.push(json(&page_view("H-1", 2, now), false));
    produce(&d.topic("events"), &records, 0, Duration::ZERO);
    d.wait_caught_up(Duration::from_secs(120));

    let metrics = service.get("/metrics").1;
    let aborted = metrics
        .lines()
        .find(|l| l.starts_with("leadpulse_transactions_total") && l.contains("aborted"));
    assert_eq!(aborted, None, "a transaction aborted:\n{aborted:?}");
    service.terminate();

    let oracle = oracle(&records, d.dir.path());
    assert_matches_oracle(&d, &records, &oracle);
    let dlq = read_all(&d.topic("dlq"));
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for r in &dlq {
        *reasons
            .entry(r.headers["leadpulse-dlq-reason"].clone())
            .or_default() += 1;
        assert!(
            r.headers["leadpulse-dlq-detail"].len() <= 1024,
            "the detail is bounded"
        );
    }
    assert_eq!(reasons.get("state_limit"), Some(&12), "{reasons:?}");
    assert_eq!(reasons.values().sum::<usize>(), 15, "{reasons:?}");
    for c in &canaries {
        assert!(oracle.scores.contains_key(c), "canary {c} scored");
    }
}
