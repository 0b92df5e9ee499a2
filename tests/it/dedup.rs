//! Re-sent events count once: the same stream with 10% of its events sent
//! again (next to the first copy, thousands of records later, and after a
//! `kill -9` of the service) gives the alerts and scores of the clean
//! stream, in `replay` and on the broker.

use std::time::Duration;

use crate::support::*;

const EVENTS: usize = 10_000;
const LEADS: u32 = 1_000;

/// `clean` with every 10th well-formed record sent once more: a third
/// right after the first copy, a third 2,500 records later, and a third at
/// the very end (after everything else, which the broker test produces
/// after a restart).
fn with_resent(clean: &[InputRecord]) -> (Vec<InputRecord>, usize) {
    let mut later: Vec<(usize, InputRecord)> = Vec::new();
    let mut at_end = Vec::new();
    let mut out = Vec::new();
    let mut resent = 0;
    for (i, r) in clean.iter().enumerate() {
        out.push(r.clone());
        while later.first().is_some_and(|(at, _)| *at == i) {
            out.push(later.remove(0).1);
        }
        if r.malformed || i % 10 != 3 {
            continue;
        }
        resent += 1;
        match (i / 10) % 3 {
            0 => out.push(r.clone()),
            1 => later.push((i + 2_500, r.clone())),
            _ => at_end.push(r.clone()),
        }
    }
    out.extend(later.into_iter().map(|(_, r)| r));
    out.extend(at_end);
    (out, resent)
}

fn re_sent_in(summary: &str) -> usize {
    summary
        .split(" re-sent")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no re-sent count in {summary}"))
}

#[test]
fn replay_of_a_stream_with_re_sent_events_equals_the_clean_stream() {
    let clean = dataset(EVENTS, LEADS, 21);
    let (dirty, resent) = with_resent(&clean);
    assert!(resent >= EVENTS / 10 - EVENTS / 100, "{resent}");
    assert_eq!(dirty.len(), clean.len() + resent);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let want = oracle(&clean, a.path());
    let got = oracle(&dirty, b.path());
    assert!(!want.alerts.is_empty(), "the dataset must produce alerts");
    assert_eq!(re_sent_in(&want.summary), 0, "{}", want.summary);
    assert_eq!(re_sent_in(&got.summary), resent, "{}", got.summary);
    assert_eq!(got.alerts, want.alerts, "alerts differ");
    assert_eq!(got.scores, want.scores, "final scores differ");
}

#[test]
fn re_sent_events_across_kill_9_give_the_clean_stream_s_outputs() {
    let d = Deployment::new("dedup-kill", 3);
    d.create_events_topic();
    let clean = dataset(EVENTS, LEADS, 22);
    let (dirty, resent) = with_resent(&clean);
    let at_end = resent / 3;
    let (before, after) = dirty.split_at(dirty.len() - at_end);
    let topic = d.topic("events");

    // Run 1: killed with -9 mid-stream, with re-sent copies before the kill.
    let producer = {
        let records = before.to_vec();
        let topic = topic.clone();
        std::thread::spawn(move || produce(&topic, &records, 500, Duration::from_millis(300)))
    };
    let mut s = d.spawn("a", 1);
    s.wait_for_log("transaction committed", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(2));
    let _ = s.kill9();

    // Run 2: restores, reads the rest, then the copies of events it (or
    // the killed run) already applied.
    let mut s = d.spawn("a", 2);
    producer.join().unwrap();
    s.wait_for_log("restored lead state", Duration::from_secs(60));
    d.wait_caught_up(Duration::from_secs(180));
    produce(&topic, after, 0, Duration::ZERO);
    d.wait_caught_up(Duration::from_secs(120));
    let (status, metrics) = s.get("/metrics");
    assert_eq!(status, 200);
    let log = s.terminate();
    assert!(log.contains("restored lead state"), "{log}");

    // The committed outputs are the clean stream's, and the copies read
    // since the restart were counted as re-sent (the killed run's count
    // is lost with it; its copies are among those re-read).
    let oracle = oracle(&clean, d.dir.path());
    assert_matches_oracle(&d, &clean, &oracle);
    let counted = metric(&metrics, "leadpulse_events_duplicate_total");
    assert!(
        counted >= at_end as f64 && counted <= resent as f64,
        "{counted} re-sent counted, {resent} sent, {at_end} after the restart"
    );
}
