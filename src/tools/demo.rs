//! `leadpulse demo`: the whole service on one machine with no external
//! broker. An in-process Kafka cluster (librdkafka's mock cluster) carries
//! a synthetic event stream through the same transactional pipeline as
//! `run`, and a read_committed consumer prints alerts as they fire.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use crate::codec::{self, format_rfc3339, Format};
use crate::config::Settings;
use crate::core::{Alert, Millis, Model};
use crate::service::{self, RunSummary};
use crate::tools::generate::{malformed, Generator, GeneratorConfig};

/// What the demo runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// How long events are generated.
    pub duration: Duration,
    /// Distinct leads in the stream.
    pub leads: u32,
    /// Events per second.
    pub rate: u32,
    /// Seed of the generated stream.
    pub seed: u64,
    /// Partitions of the events topic.
    pub partitions: i32,
    /// Routes alerts to reps and runs the SLA loop.
    pub roster: Option<Arc<crate::core::Roster>>,
}

/// What the demo did.
#[derive(Debug)]
pub struct DemoSummary {
    pub produced: u64,
    pub service: RunSummary,
    pub alerts_seen: Vec<Alert>,
    /// Leads the simulated reps contacted within the SLA.
    pub contacted: u64,
    /// SLA breaches published.
    pub breaches: u64,
}

fn now_ms() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as Millis)
}

/// Runs the demo until its duration is over or `stop` is set. Alerts are
/// printed to `out` as they are committed.
pub fn run(
    model: Arc<Model>,
    options: &DemoOptions,
    stop: Arc<AtomicBool>,
    out: impl Write + Send + 'static,
) -> anyhow::Result<DemoSummary> {
    let cluster = MockCluster::new(1)?;
    let bootstrap = cluster.bootstrap_servers();
    let mut settings = Settings::default();
    settings.kafka.bootstrap_servers = bootstrap.clone();
    settings.kafka.group_id = "leadpulse-demo".into();
    settings.kafka.instance_id = Some("demo".into());
    settings.topics.create_missing = false;
    let t = &settings.topics;
    for topic in [
        &t.events,
        &t.enrichment,
        &t.feedback,
        &t.breaches,
        &t.overdue,
        &t.lifecycle,
        &t.handoffs,
        &t.scores,
        &t.alerts,
        &t.dlq,
        &t.changelog(&settings.kafka.group_id),
    ] {
        cluster.create_topic(topic, options.partitions, 1)?;
    }
    eprintln!(
        "leadpulse demo: in-process Kafka at {bootstrap}; model {} (sales-ready when {}); \
         {} leads, {} events/s for {} s. Alerts go to reps with a 20 s follow-up SLA; \
         simulated reps contact about 60% of their leads in time. Ctrl-C stops.",
        model.version,
        model.qualify.describe(),
        options.leads,
        options.rate,
        options.duration.as_secs()
    );

    // The service.
    let service_stop = Arc::new(AtomicBool::new(false));
    let service = {
        let settings = settings.clone();
        let model = model.clone();
        let roster = options.roster.clone();
        let stop = service_stop.clone();
        thread::Builder::new()
            .name("leadpulse-run".into())
            .spawn(move || service::run(&settings, model, roster, None, &stop))?
    };

    // The live console view of committed alerts.
    let printed = Arc::new(AtomicU64::new(0));
    let printer_stop = Arc::new(AtomicBool::new(false));
    let printer = {
        let settings = settings.clone();
        let printed = printed.clone();
        let stop = printer_stop.clone();
        thread::Builder::new()
            .name("leadpulse-alerts".into())
            .spawn(move || print_alerts(&settings, out, &printed, &stop))?
    };

    // The event source.
    let produced = produce(&bootstrap, &settings.topics.events, options, &stop)?;

    // Let the service drain what was produced, then stop it.
    thread::sleep(Duration::from_millis(1500));
    service_stop.store(true, Ordering::Relaxed);
    let summary = service
        .join()
        .map_err(|_| anyhow::anyhow!("the service thread panicked"))??;
    let deadline = Instant::now() + Duration::from_secs(5);
    while printed.load(Ordering::Relaxed) < summary.counts.alerts && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    printer_stop.store(true, Ordering::Relaxed);
    let (alerts_seen, contacted, breaches) = printer
        .join()
        .map_err(|_| anyhow::anyhow!("the alert printer panicked"))??;
    drop(cluster);
    Ok(DemoSummary {
        produced,
        service: summary,
        alerts_seen,
        contacted,
        breaches,
    })
}

fn produce(
    bootstrap: &str,
    topic: &str,
    options: &DemoOptions,
    stop: &AtomicBool,
) -> anyhow::Result<u64> {
    let producer: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()?;
    let rate = options.rate.max(1);
    let start = now_ms();
    let mut generator = Generator::new(GeneratorConfig {
        leads: options.leads,
        start,
        mean_gap_ms: 1000.0 / f64::from(rate),
        seed: options.seed,
        ..GeneratorConfig::default()
    });
    let began = Instant::now();
    let mut produced = 0u64;
    while !stop.load(Ordering::Relaxed) && began.elapsed() < options.duration {
        let event = generator.next_event();
        // Pace the stream so event time tracks the wall clock.
        let due = Duration::from_millis((event.occurred_at - start).max(0) as u64);
        if let Some(wait) = due.checked_sub(began.elapsed()) {
            thread::sleep(wait);
        }
        produced += 1;
        let (key, payload, format) = if produced % 200 == 0 {
            let (key, payload, _) = malformed(produced / 200, &event.lead_id, event.occurred_at);
            (key, payload, None)
        } else {
            let format = if produced % 2 == 0 {
                Format::Json
            } else {
                Format::Protobuf
            };
            (
                event.lead_id.clone(),
                codec::encode_event(&event, format),
                Some(format),
            )
        };
        let mut record = BaseRecord::to(topic).key(&key).payload(&payload);
        if let Some(f) = format {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: "content-type",
                value: Some(f.content_type()),
            }));
        }
        let mut record = record;
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, r)) => {
                    record = r;
                    thread::sleep(Duration::from_millis(5));
                }
            }
        }
    }
    producer.flush(Duration::from_secs(10))?;
    Ok(produced)
}

/// A rep's simulated first contact, due at a wall-clock time.
struct PlannedContact {
    due: Instant,
    lead_id: String,
    rep: String,
    after_secs: u64,
}

/// Plays the sales team: about 60% of alerted leads are contacted 3–12 s
/// after the alert (chosen from the alert id, so a seed gives the same
/// plan); the others are left alone and breach their SLA.
fn plan_contact(alert: &Alert) -> Option<PlannedContact> {
    let h = xxhash_rust::xxh3::xxh3_64(alert.alert_id.as_bytes());
    (h % 100 < 60).then(|| {
        let after_secs = 3 + (h >> 8) % 10;
        PlannedContact {
            due: Instant::now() + Duration::from_secs(after_secs),
            lead_id: alert.lead_id.clone(),
            rep: alert.owner_rep.clone().unwrap_or_default(),
            after_secs,
        }
    })
}

fn print_alerts(
    settings: &Settings,
    mut out: impl Write,
    printed: &AtomicU64,
    stop: &AtomicBool,
) -> anyhow::Result<(Vec<Alert>, u64, u64)> {
    let (mut contacted, mut breaches) = (0, 0);
    let consumer: BaseConsumer = service::reader_config(settings)
        .set("enable.partition.eof", "false")
        .create()
        .map_err(|e| anyhow::anyhow!(service::client_error(&e)))?;
    let t = &settings.topics;
    let mut tpl = TopicPartitionList::new();
    for topic in [&t.alerts, &t.breaches] {
        let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
        for t in md.topics() {
            for p in t.partitions() {
                tpl.add_partition_offset(t.name(), p.id(), Offset::Beginning)?;
            }
        }
    }
    consumer.assign(&tpl)?;
    let reps: ThreadedProducer<DefaultProducerContext> = ClientConfig::new()
        .set("bootstrap.servers", &settings.kafka.bootstrap_servers)
        .set("enable.idempotence", "true")
        .create()?;
    let mut planned: Vec<PlannedContact> = Vec::new();
    let mut seen = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        // Reps whose time has come contact their lead.
        let now = Instant::now();
        for c in planned.iter().filter(|c| c.due <= now) {
            let event = crate::core::Event {
                event_id: format!("demo-contact-{}", c.lead_id),
                lead_id: c.lead_id.clone(),
                occurred_at: now_ms(),
                company_domain: None,
                account_id: None,
                kind: crate::core::EventKind::Feedback {
                    feedback: crate::core::Feedback::Contacted,
                    rep_id: Some(c.rep.clone()),
                },
            };
            let payload = codec::encode_event(&event, Format::Json);
            let _ = reps.send(
                BaseRecord::to(&t.feedback)
                    .key(&c.lead_id)
                    .payload(&payload),
            );
            contacted += 1;
            let _ = writeln!(
                out,
                "CONTACTED {}  by {} after {} s (within the SLA)",
                c.lead_id, c.rep, c.after_secs
            );
        }
        planned.retain(|c| c.due > now);
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m?;
        if m.topic() == t.breaches {
            if let Some(b) = m.payload().and_then(|p| codec::decode_breach(p).ok()) {
                breaches += 1;
                let moved = b
                    .reassigned_to
                    .as_deref()
                    .map_or(String::new(), |r| format!("; reassigned to {r}"));
                let _ = writeln!(
                    out,
                    "SLA BREACH {}  {} did not respond by {}; escalated to {}{moved}",
                    b.lead_id,
                    b.rep,
                    format_rfc3339(b.respond_by),
                    b.escalate_to
                );
            }
            continue;
        }
        let Some(alert) = m.payload().and_then(|p| codec::decode_alert(p).ok()) else {
            continue;
        };
        planned.extend(plan_contact(&alert));
        let why: Vec<String> = alert
            .reasons
            .iter()
            .take(3)
            .map(|r| {
                if r.count > 1 {
                    format!("{} ×{} ({:+})", r.label, r.count, r.points)
                } else {
                    format!("{} ({:+})", r.label, r.points)
                }
            })
            .collect();
        let _ = writeln!(
            out,
            "HOT LEAD {}  score {} ≥ {}  {}  → {} ({})  respond by {}\n         why: {}",
            alert.lead_id,
            alert.score,
            alert.threshold,
            alert.company_domain.as_deref().unwrap_or("-"),
            alert.owner_rep.as_deref().unwrap_or("unassigned"),
            alert.owner_team.as_deref().unwrap_or("-"),
            format_rfc3339(alert.respond_by),
            why.join(", ")
        );
        let _ = out.flush();
        seen.push(alert);
        printed.fetch_add(1, Ordering::Relaxed);
    }
    Ok((seen, contacted, breaches))
}
