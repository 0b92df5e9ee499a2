//! SLA timers fire on the wall clock once a partition has read everything
//! committed, even while another producer's transaction stays open on the
//! input: the high watermark is then out of reach for a read_committed
//! consumer, and only the last stable offset tells the partition is caught
//! up.

use std::time::Duration;

use crate::support::*;
use leadpulse::codec;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

const ROSTER: &str = r#"
default_sla_minutes = 0.05
feedback_business_days = 3
max_reassignments = 0

[[team]]
id = "inbound"
lead = "lee"

[[team.rep]]
id = "ann"
"#;

#[test]
fn timers_fire_while_a_foreign_transaction_hangs_on_the_input() {
    let d = Deployment::new("hanging-txn", 1);
    d.create_events_topic();
    let routing = d.dir.path().join("routing.toml");
    std::fs::write(&routing, ROSTER).unwrap();
    let extra = format!("[routing]\npath = \"{}\"\n", routing.display());
    let mut service = d.spawn_with("a", 1, &extra);
    service.wait_for_log("restored lead state", Duration::from_secs(60));

    produce(
        &d.topic("events"),
        &hot_lead("L-hang", now_ms()),
        0,
        Duration::ZERO,
    );
    wait_records(&d.topic("alerts"), 1, Duration::from_secs(60));

    // Another producer opens a transaction on the input and never ends it.
    let foreign: ThreadedProducer<DefaultProducerContext> = Access::plain()
        .client()
        .set("transactional.id", format!("{}-foreign", d.group()))
        .set("transaction.timeout.ms", "300000")
        .create()
        .unwrap();
    foreign.init_transactions(Duration::from_secs(30)).unwrap();
    foreign.begin_transaction().unwrap();
    let other = &hot_lead("L-other", now_ms())[0];
    foreign
        .send(
            BaseRecord::to(&d.topic("events"))
                .key(&other.key)
                .payload(&other.payload),
        )
        .map_err(|(e, _)| e)
        .unwrap();
    foreign.flush(Duration::from_secs(30)).unwrap();

    // The 3-second deadline passes on the wall clock: the breach fires.
    let breaches = wait_records(&d.topic("breaches"), 1, Duration::from_secs(60));
    let b = codec::decode_breach(breaches[0].payload.as_deref().unwrap()).unwrap();
    assert_eq!(b.lead_id, "L-hang");
    foreign.abort_transaction(Duration::from_secs(30)).unwrap();
    service.terminate();
}
