//! Anonymous visitors against a real broker: each visitor browses on one
//! partition, fills a form as a lead whose id hashes to another, and its
//! five page views count toward the lead exactly once, through a `kill -9`,
//! a rebalance onto a second instance, and a re-sent identify; the
//! committed alerts and scores equal `replay --partitions 3`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use leadpulse::codec;
use leadpulse::core::partitioner::partition_for_key;
use leadpulse::core::{Event, EventKind, LeadScore};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::support::*;
use leadpulse::tools::generate::GeneratorConfig;

const PARTITIONS: i32 = 3;
const PAIRS: usize = 40;
const MIN: i64 = 60_000;

/// `(lead, visitor)` pairs whose ids hash to different partitions.
fn pairs(prefix: &str) -> Vec<(String, String)> {
    (0..)
        .map(|i| (format!("L-{prefix}-{i}"), format!("v-{prefix}-{i}")))
        .filter(|(l, v)| {
            partition_for_key(l.as_bytes(), PARTITIONS)
                != partition_for_key(v.as_bytes(), PARTITIONS)
        })
        .take(PAIRS)
        .collect()
}

fn ev(id: String, lead: &str, visitor: Option<&str>, at: i64, kind: EventKind) -> InputRecord {
    record(&Event {
        event_id: id,
        lead_id: lead.into(),
        visitor_id: visitor.map(Into::into),
        occurred_at: at,
        company_domain: None,
        account_id: None,
        kind,
    })
}

fn view(path: &str) -> EventKind {
    EventKind::PageView {
        url: format!("https://leadpulse.example/{path}"),
        referrer: None,
        duration_ms: None,
    }
}

/// A grade-C lead whose `contact-sales` form alone scores 50: the
/// visitor's views (3 × pricing, 2 × security: +34) take it over 70.
fn form(lead: &str, visitor: &str, at: i64) -> InputRecord {
    let fields = [
        ("email", format!("{lead}@acme.example")),
        ("job_title", "Data Engineer".into()),
        ("company_size", "51-200".into()),
        ("country", "US".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let kind = EventKind::FormSubmit {
        form_id: "contact-sales".into(),
        fields,
    };
    let mut r = ev(format!("{lead}-form"), lead, Some(visitor), at, kind);
    let mut e = codec::decode_event(r.ndjson.as_bytes(), None).unwrap();
    e.company_domain = Some("acme.example".into());
    r = record(&e);
    r
}

/// The five anonymous views of a visitor, before its form.
fn browsing(visitor: &str, at: i64) -> Vec<InputRecord> {
    ["pricing", "pricing", "security", "pricing", "security"]
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let t = at - (10 - i as i64) * MIN;
            ev(format!("{visitor}-pv-{i}"), "", Some(visitor), t, view(p))
        })
        .collect()
}

/// The offset after the last committed record of each partition of a
/// transactional topic (its commit markers and aborted records excluded).
fn committed_ends(d: &Deployment, topic: &str) -> BTreeMap<i32, i64> {
    let consumer: BaseConsumer = d
        .access
        .client()
        .set("group.id", unique("visitors-ends"))
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    for p in 0..PARTITIONS {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut ends = BTreeMap::new();
    let mut eof = std::collections::BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while eof.len() < PARTITIONS as usize && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                ends.insert(m.partition(), m.offset() + 1);
            }
            Some(Err(rdkafka::error::KafkaError::PartitionEOF(p))) => {
                eof.insert(p);
            }
            _ => {}
        }
    }
    ends
}

/// Waits until the group has committed every record of the events topic
/// and every committed merges record, twice a second apart (a committed
/// link's history may be produced just as the offsets are read).
fn wait_settled(d: &Deployment, timeout: Duration) {
    wait_settled_on(d, &["events", "merges"], timeout)
}

/// [`wait_settled`] on the events topic and the repartition topics named
/// after it (`what` as [`Deployment::topic`] takes it), whose committed
/// records the group must have read.
pub(crate) fn wait_settled_on(d: &Deployment, inputs: &[&str], timeout: Duration) {
    let consumer: BaseConsumer = d
        .access
        .client()
        .set("group.id", d.group())
        .create()
        .unwrap();
    let deadline = Instant::now() + timeout;
    let mut settled = 0;
    loop {
        let mut all = true;
        let mut seen = Vec::new();
        for &what in inputs {
            let topic = d.topic(what);
            let ends = if what != "events" {
                committed_ends(d, &topic)
            } else {
                (0..PARTITIONS)
                    .map(|p| {
                        let (_, high) = consumer
                            .fetch_watermarks(&topic, p, Duration::from_secs(10))
                            .unwrap();
                        (p, high)
                    })
                    .collect()
            };
            let mut tpl = TopicPartitionList::new();
            for p in 0..PARTITIONS {
                tpl.add_partition(&topic, p);
            }
            let committed = consumer
                .committed_offsets(tpl, Duration::from_secs(10))
                .unwrap();
            for p in 0..PARTITIONS {
                let at = match committed.find_partition(&topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o,
                    _ => 0,
                };
                let end = ends.get(&p).copied().unwrap_or(0);
                seen.push((what, p, at, end));
                all &= at >= end;
            }
        }
        settled = if all { settled + 1 } else { 0 };
        if settled == 2 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "not settled within {timeout:?}: (topic, partition, committed, end) {seen:?}"
        );
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn last_scores(d: &Deployment) -> BTreeMap<String, LeadScore> {
    read_all(&d.topic("scores"))
        .iter()
        .map(|r| codec::decode_score(r.payload.as_deref().unwrap()).unwrap())
        .map(|s| (s.lead_id.clone(), s))
        .collect()
}

#[test]
fn a_visitors_views_count_for_its_lead_once_through_kill_9_and_a_rebalance() {
    let d = Deployment::new("visitors", PARTITIONS);
    d.create_events_topic();
    let now = now_ms();
    let pairs = pairs(&d.name);

    // Other leads' traffic around the visitors', and every visitor's
    // views before its form.
    let mut records: Vec<InputRecord> = dataset_from(
        2_000,
        GeneratorConfig {
            start: now - 3_600_000,
            ..generator_config(200, 77)
        },
    )
    .to_vec();
    for (i, (lead, visitor)) in pairs.iter().enumerate() {
        let at = now - 1_800_000 + i as i64 * 1_000;
        let mut mine = browsing(visitor, at);
        mine.push(form(lead, visitor, at));
        let spot = (i * records.len() / PAIRS).min(records.len());
        records.splice(spot..spot, mine);
    }
    // A visitor that never identifies.
    records.extend(browsing(&format!("v-{}-anon", d.name), now - 60_000));

    let mut a = d.spawn("a", 1);
    a.wait_for_log("restored lead state", Duration::from_secs(60));
    let topic = d.topic("events");
    let producer = {
        let records = records.clone();
        std::thread::spawn(move || produce(&topic, &records, 200, Duration::from_millis(400)))
    };
    a.wait_for_log("transaction committed", Duration::from_secs(60));
    std::thread::sleep(Duration::from_secs(1));
    a.kill9();
    let mut a = d.spawn("a", 2);
    a.wait_for_log("transaction committed", Duration::from_secs(90));
    let mut b = d.spawn("b", 1);
    b.wait_for_log("restored lead state", Duration::from_secs(90));
    a.wait_for_log("partitions revoked", Duration::from_secs(90));
    producer.join().unwrap();
    wait_settled(&d, Duration::from_secs(180));

    // Then each lead identifies again, re-sends its form, and its visitor
    // reads a case study: linked already, nothing merges twice, and the
    // new view goes to the lead.
    let mut later = Vec::new();
    for (i, (lead, visitor)) in pairs.iter().enumerate() {
        let at = now - 600_000 + i as i64 * 1_000;
        later.push(ev(
            format!("{lead}-identify"),
            lead,
            Some(visitor),
            at,
            EventKind::Identify,
        ));
        later.push(form(lead, visitor, now - 1_800_000 + i as i64 * 1_000));
        later.push(ev(
            format!("{visitor}-late"),
            "",
            Some(visitor),
            at + MIN,
            view("customers/acme"),
        ));
    }
    produce(&d.topic("events"), &later, 0, Duration::ZERO);
    records.extend(later);
    wait_settled(&d, Duration::from_secs(180));
    a.terminate();
    b.terminate();

    // Every lead counts its visitor's views once: 3 pricing, 2 security,
    // then the late case study, and alerted on the third view.
    let scores = last_scores(&d);
    let alerts: Vec<_> = read_all(&d.topic("alerts"))
        .iter()
        .map(|r| codec::decode_alert(r.payload.as_deref().unwrap()).unwrap())
        .collect();
    for (lead, visitor) in &pairs {
        let s = &scores[lead];
        let count = |rule: &str| {
            s.reasons
                .iter()
                .find(|r| &*r.rule_id == rule)
                .map_or(0, |r| r.count)
        };
        assert_eq!(
            (
                count("pricing-page"),
                count("security-page"),
                count("case-study")
            ),
            (3, 2, 1),
            "{lead}: {s:?}"
        );
        let mine: Vec<_> = alerts.iter().filter(|a| &a.lead_id == lead).collect();
        assert_eq!(mine.len(), 1, "{lead} alerts once");
        assert_eq!(mine[0].event_id, format!("{visitor}-pv-2"));
    }
    assert!(
        !scores.keys().any(|k| k.starts_with("v-")),
        "visitors are no leads"
    );

    // The oracle: replay of the same events, on as many partitions.
    let oracle = oracle_with(&records, d.dir.path(), &["--partitions", "3"]);
    assert_matches_oracle(&d, &records, &oracle);
}
