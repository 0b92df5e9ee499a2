//! A broker outage is survived without help. The test owns its broker and
//! stops it mid-stream for `LEADPULSE_OUTAGE_SECS` (default 60, well past
//! the 10 s transaction timeout, so the coordinator aborts the open
//! transaction and the producer is lost): the service must stay up, say it
//! is not ready while it cannot commit, recover by itself once the broker is
//! back, and end with outputs equal to `replay` of the same events: nothing
//! lost, nothing twice.

use std::time::{Duration, Instant};

use crate::support::*;

fn outage() -> Duration {
    let secs = std::env::var("LEADPULSE_OUTAGE_SECS")
        .ok()
        .map(|s| {
            s.parse::<u64>()
                .expect("LEADPULSE_OUTAGE_SECS: whole seconds")
        })
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// `/readyz`'s status; `None` while the admin edge does not answer.
fn readyz(addr: &str) -> Option<u16> {
    std::panic::catch_unwind(|| http_get(addr, "/readyz").0).ok()
}

#[test]
fn a_broker_outage_mid_stream_is_survived_and_loses_or_duplicates_nothing() {
    let broker = OwnBroker::start();
    let d = Deployment::on("outage", 3, broker.access());
    d.create_events_topic();
    let records = dataset(24_000, 1_500, 71);
    let (before, after) = records.split_at(16_000);
    let topic = d.topic("events");
    let client = d.access.client();

    let mut s = d.spawn("a", 1);
    let addr = s.admin_addr();
    s.wait_for_log("restored lead state", Duration::from_secs(120));
    produce_on(&client, &topic, before, 2_000, Duration::from_millis(100));
    // Mid-stream: the service is committing the backlog when the broker goes.
    s.wait_for_log("transaction committed", Duration::from_secs(120));
    broker.stop();
    let down = Instant::now();

    let mut not_ready = 0;
    while down.elapsed() < outage() {
        if let Some(status) = s.child.try_wait().unwrap() {
            panic!(
                "leadpulse exited ({status}) during the outage:\n{}",
                s.log_text()
            );
        }
        if readyz(&addr) == Some(503) {
            not_ready += 1;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    assert!(
        not_ready > 0,
        "/readyz never said 503 while the broker was down:\n{}",
        s.log_text()
    );
    assert_eq!(
        readyz(&addr),
        Some(503),
        "/readyz must stay 503 until the broker is back"
    );
    broker.restart();
    let back = Instant::now();

    produce_on(&client, &topic, after, 2_000, Duration::from_millis(100));
    d.wait_caught_up(Duration::from_secs(600));
    let deadline = Instant::now() + Duration::from_secs(120);
    while readyz(&addr) != Some(200) {
        assert!(
            Instant::now() < deadline,
            "/readyz did not become 200 after the outage:\n{}",
            s.log_text()
        );
        assert!(
            s.child.try_wait().unwrap().is_none(),
            "leadpulse exited after the outage:\n{}",
            s.log_text()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let ready_after = back.elapsed();
    let log = s.terminate();
    assert!(!log.contains("leadpulse stopped"), "{log}");

    let oracle = oracle(&records, d.dir.path());
    assert_matches_oracle(&d, &records, &oracle);
    // The figures RELIABILITY.md records (not asserted: they vary by machine).
    eprintln!(
        "outage {:?}: {} events, {} alerts as replay; /readyz 503 for {not_ready} s of the \
         outage, 200 again {ready_after:.0?} after the broker was back",
        outage(),
        records.len(),
        oracle.alerts.len(),
    );
    for (what, n) in warnings(&log) {
        eprintln!("  {n:>5} x {what}");
    }
}

/// The distinct warnings and errors the service logged, with their counts.
fn warnings(log: &str) -> std::collections::BTreeMap<String, usize> {
    let mut seen = std::collections::BTreeMap::new();
    for line in log.lines() {
        let Some(at) = line.find(" WARN ").or_else(|| line.find(" ERROR ")) else {
            continue;
        };
        // The message without its fields' values.
        let what: String = line[at..]
            .split(" error=")
            .next()
            .unwrap_or_default()
            .chars()
            .take(160)
            .collect();
        *seen.entry(what).or_insert(0) += 1;
    }
    seen
}
