//! End to end against a real Kafka broker: the service's committed outputs
//! must equal `leadpulse replay` of the same events, through restarts,
//! crashes and a second instance.

use std::time::Duration;

use crate::support::*;

const EVENTS: usize = 10_000;
const LEADS: u32 = 1_000;

#[test]
fn outputs_equal_replay_with_json_protobuf_and_malformed_input() {
    let d = Deployment::new("e2e-basic", 3);
    d.create_events_topic();
    let records = dataset(EVENTS, LEADS, 1);
    assert_eq!(records.iter().filter(|r| r.malformed).count(), EVENTS / 100);
    produce(&d.topic("events"), &records, 0, Duration::ZERO);

    let mut service = d.spawn("a", 1);
    service.wait_for_log("restored lead state", Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(120));
    let log = service.terminate();
    assert!(log.contains("stopped"), "{log}");

    let oracle = oracle(&records, d.dir.path());
    assert!(
        oracle
            .summary
            .contains(&format!("{} dead-lettered", EVENTS / 100)),
        "{}",
        oracle.summary
    );
    assert_matches_oracle(&d, &records, &oracle);
}

#[test]
fn sigterm_and_kill_9_mid_stream_change_no_output() {
    let d = Deployment::new("e2e-restart", 3);
    d.create_events_topic();
    let records = dataset(EVENTS, LEADS, 2);
    let topic = d.topic("events");
    let producer = {
        let records = records.clone();
        std::thread::spawn(move || produce(&topic, &records, 500, Duration::from_millis(400)))
    };

    // Run 1: stopped with SIGTERM mid-stream.
    let mut s = d.spawn("a", 1);
    s.wait_for_log("transaction committed", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    let log1 = s.terminate();
    assert!(log1.contains("shutting down"), "{log1}");

    // Run 2: killed with -9 mid-stream.
    let mut s = d.spawn("a", 2);
    s.wait_for_log("transaction committed", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    let log2 = s.kill9();
    assert!(
        restored_leads(&log2) > 0,
        "run 2 must restore state from the changelog:\n{log2}"
    );

    // Run 3: finishes the stream after the crash.
    let mut s = d.spawn("a", 3);
    producer.join().unwrap();
    s.wait_for_log("restored lead state", Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(180));
    let log3 = s.terminate();
    assert!(
        restored_leads(&log3) > 0,
        "run 3 must restore state from the changelog:\n{log3}"
    );

    let oracle = oracle(&records, d.dir.path());
    assert_matches_oracle(&d, &records, &oracle);
}

#[test]
fn two_instances_split_the_partitions_and_together_match_replay() {
    let d = Deployment::new("e2e-scale", 4);
    d.create_events_topic();
    let records = dataset(EVENTS, LEADS, 3);
    let topic = d.topic("events");
    // The second half is produced only once `b` holds partitions, so `b`
    // has records to score however long `a` and `b` take to start.
    let (first, second) = records.split_at(records.len() / 2);
    let producer = {
        let (topic, first) = (topic.clone(), first.to_vec());
        std::thread::spawn(move || produce(&topic, &first, 1000, Duration::from_millis(300)))
    };
    let mut a = d.spawn("a", 1);
    a.wait_for_log("transaction committed", Duration::from_secs(60));
    let mut b = d.spawn("b", 1);
    b.wait_for_log(
        "restored lead state from changelog partitions=[",
        Duration::from_secs(90),
    );
    producer.join().unwrap();
    produce(&topic, second, 1000, Duration::from_millis(300));
    b.wait_for_log("transaction committed", Duration::from_secs(90));
    d.wait_caught_up(Duration::from_secs(180));
    let log_a = a.terminate();
    let log_b = b.terminate();
    for (name, log) in [("a", &log_a), ("b", &log_b)] {
        assert!(
            log.lines()
                .any(|l| l.contains("partitions assigned") && !l.contains("partitions=[]")),
            "instance {name} never owned a partition:\n{log}"
        );
    }
    assert!(
        log_a.contains("partitions revoked"),
        "instance a must hand partitions to b:\n{log_a}"
    );

    let oracle = oracle(&records, d.dir.path());
    assert_matches_oracle(&d, &records, &oracle);
}

/// Leads restored, summed over the "restored lead state" log lines.
fn restored_leads(log: &str) -> u64 {
    log.lines()
        .filter(|l| l.contains("restored lead state from changelog"))
        .filter_map(|l| l.split("leads=").nth(1))
        .filter_map(|rest| rest.split_whitespace().next())
        .filter_map(|n| n.parse::<u64>().ok())
        .sum()
}
