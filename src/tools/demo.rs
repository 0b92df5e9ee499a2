//! `leadpulse demo`: the whole service on one machine with no external
//! broker. An in-process Kafka cluster (librdkafka's mock cluster) carries
//! a synthetic event stream through the same transactional pipeline as
//! `run`, and a read_committed consumer prints alerts as they fire.
//! `leadpulse notify` delivers them to an embedded webhook receiver (the
//! rep's inbox, [`inbox`]), where a simulated rep clicks "Contacted"
//! through the notifier's one-click feedback link; the printer shows the
//! lead's stage change that follows.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};

use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use time::UtcOffset;

use crate::codec::{self, Format};
use crate::config::Settings;
use crate::core::{Alert, Millis, Model};
use crate::service::{self, RunSummary};
use crate::tools::generate::{malformed, Generator, GeneratorConfig};

pub mod console;
pub mod inbox;

use console::{now_ms, View};
use inbox::{InboxCounts, Out};

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
    /// The console's time zone. Found by the caller before any thread
    /// starts: the `time` crate reads it only while the process is
    /// single-threaded.
    pub utc_offset: UtcOffset,
}

/// How the alerts' follow-up went, as the console saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowUps {
    /// Alerts whose lead a simulated rep contacted (and no breach came).
    pub contacted: u64,
    /// Alerts whose first deadline passed without a contact.
    pub breached: u64,
    /// Breach records of first deadlines (one per breached alert).
    pub first_breaches: u64,
    /// Of those, handed to another rep with a fresh deadline.
    pub reassigned: u64,
    /// Breach records on `sla-breaches` (a reassigned lead can breach again).
    pub breach_records: u64,
    /// Alerts with neither outcome yet when the demo stopped.
    pub open: u64,
    /// Deadlines not yet passed nor met when the demo stopped, those of
    /// reassigned leads included.
    pub open_deadlines: u64,
}

/// What the demo did.
#[derive(Debug)]
pub struct DemoSummary {
    /// Engagement events produced, the malformed ones included.
    pub produced: u64,
    /// Of those, malformed on purpose (every 200th), to show the DLQ.
    pub malformed: u64,
    /// Feedback events (`contacted`) the simulated reps sent.
    pub feedback: u64,
    pub service: RunSummary,
    pub alerts_seen: Vec<Alert>,
    pub follow_ups: FollowUps,
    /// Alert id → what became of it: `contacted`, `breached`, or `open`.
    pub outcomes: BTreeMap<String, &'static str>,
    /// What the rep's inbox received and clicked.
    pub inbox: InboxCounts,
    /// Ctrl-C ended the demo before every deadline had passed.
    pub stopped_early: bool,
    /// The wait for the open deadlines reached its bound.
    pub gave_up_waiting: bool,
}

/// Every 200th record the demo produces is malformed.
const MALFORMED_EVERY: u64 = 200;

/// What the alert printer and the demo's end share: the deadlines still
/// open, and how the others went.
#[derive(Debug, Default)]
struct Story {
    /// Alert id → the deadline its lead now waits on.
    open: BTreeMap<String, Millis>,
    follow_ups: FollowUps,
    /// Feedback events sent.
    feedback: u64,
    /// Alert id → `contacted` or `breached`, once known.
    outcomes: BTreeMap<String, &'static str>,
}

/// Runs the demo until its traffic is over and every follow-up deadline of
/// its alerts has passed or been met (at most a few SLAs later), or until
/// `stop` is set. Alerts are printed to `out` as they are committed.
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
        &t.watches,
        &t.watch_alerts,
        &t.merges,
        &t.accounts,
        &t.account_scores,
        &t.account_alerts,
        &t.shadow_alerts,
        &t.notifications_dlq,
        &t.changelog(&settings.kafka.group_id),
    ] {
        cluster.create_topic(topic, options.partitions, 1)?;
    }
    let sla = options.roster.as_deref().map_or(String::new(), |r| {
        let slas: BTreeSet<Millis> = r.teams.iter().map(|t| t.sla).collect();
        let secs: Vec<String> = slas
            .iter()
            .map(|&ms| console::points(ms as f64 / 1000.0))
            .collect();
        format!(
            " Alerts go to reps with a {} s follow-up SLA; `leadpulse notify` delivers them to \
             the rep's inbox, where simulated reps click \"Contacted\" on about 60% of their \
             leads in time.",
            secs.join("/")
        )
    });
    eprintln!(
        "leadpulse demo: in-process Kafka at {bootstrap}; model {} (sales-ready when {}); \
         {} leads, {} events/s for {} s.{sla} Times are {}. Ctrl-C stops.",
        model.version,
        model.qualify.describe(),
        options.leads,
        options.rate,
        options.duration.as_secs(),
        console::zone(options.utc_offset),
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

    // The live console view of committed alerts, the rep's inbox that
    // `leadpulse notify` delivers to, and the simulated rep.
    let out: Out = Arc::new(Mutex::new(Box::new(out)));
    let printed = Arc::new(AtomicU64::new(0));
    let story = Arc::new(Mutex::new(Story::default()));
    let sla = options
        .roster
        .as_deref()
        .and_then(|r| r.teams.iter().map(|t| t.sla).max())
        .unwrap_or(0);
    let key: [u8; 32] = rand::random();
    let inbox = inbox::start(
        key.to_vec(),
        out.clone(),
        story.clone(),
        sla,
        options.roster.clone(),
    )?;
    notify_settings(&mut settings, &inbox.url, &key)?;
    let notify_stop = Arc::new(AtomicBool::new(false));
    let notifier = {
        let settings = settings.clone();
        let roster = options.roster.clone();
        let stop = notify_stop.clone();
        thread::Builder::new()
            .name("leadpulse-notify".into())
            .spawn(move || crate::notify::run(&settings, roster, stop, None))?
    };
    let printer_stop = Arc::new(AtomicBool::new(false));
    let printer = {
        let settings = settings.clone();
        let view = View {
            roster: options.roster.clone(),
            offset: options.utc_offset,
        };
        let printed = printed.clone();
        let story = story.clone();
        let stop = printer_stop.clone();
        let out = out.clone();
        thread::Builder::new()
            .name("leadpulse-alerts".into())
            .spawn(move || print_alerts(&settings, &view, &out, &printed, &story, &stop))?
    };

    // The event source.
    let produced = produce(&bootstrap, &settings.topics.events, options, &stop)?;

    // The rest of the story: every deadline passes or is met.
    let (mut stopped_early, mut gave_up_waiting) = (stop.load(Ordering::Relaxed), false);
    match options.roster.as_deref() {
        Some(roster) if !stopped_early => {
            let longest = roster.teams.iter().map(|t| t.sla).max().unwrap_or(0);
            let longest = Duration::from_millis(longest.max(0) as u64);
            // Commits every 100 ms; the timers are checked between polls.
            let settle = longest + Duration::from_secs(2);
            let bound = longest * (roster.max_reassignments + 1) + Duration::from_secs(10);
            let open = lock(&story).open.len();
            eprintln!(
                "leadpulse demo: traffic over; waiting until every follow-up deadline has passed \
                 or been met ({open} open now; at most {} s; Ctrl-C stops now)",
                bound.as_secs()
            );
            match wait_for_deadlines(&story, &stop, settle, bound) {
                Waited::Done => {}
                Waited::Stopped => stopped_early = true,
                Waited::GaveUp => gave_up_waiting = true,
            }
        }
        // Let the service drain what was produced.
        _ => thread::sleep(Duration::from_millis(1500)),
    }
    // The rep stops clicking, the notifier stops (its feedback is on the
    // topic by then), then the service.
    let inbox = inbox.stop();
    notify_stop.store(true, Ordering::Relaxed);
    notifier
        .join()
        .map_err(|_| anyhow::anyhow!("the notifier thread panicked"))?
        .map_err(|e| anyhow::anyhow!("notify: {e}"))?;
    thread::sleep(Duration::from_millis(500));
    service_stop.store(true, Ordering::Relaxed);
    let summary = service
        .join()
        .map_err(|_| anyhow::anyhow!("the service thread panicked"))??;
    let deadline = Instant::now() + Duration::from_secs(5);
    while printed.load(Ordering::Relaxed) < summary.counts.alerts && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    printer_stop.store(true, Ordering::Relaxed);
    let alerts_seen = printer
        .join()
        .map_err(|_| anyhow::anyhow!("the alert printer panicked"))??;
    drop(cluster);
    let story = lock(&story);
    let mut follow_ups = story.follow_ups.clone();
    follow_ups.open_deadlines = story.open.len() as u64;
    let mut outcomes = story.outcomes.clone();
    for id in story.open.keys() {
        outcomes.entry(id.clone()).or_insert("open");
    }
    let count = |what: &str| outcomes.values().filter(|o| **o == what).count() as u64;
    follow_ups.contacted = count("contacted");
    follow_ups.breached = count("breached");
    follow_ups.open = count("open");
    Ok(DemoSummary {
        produced,
        malformed: produced / MALFORMED_EVERY,
        feedback: story.feedback,
        service: summary,
        alerts_seen,
        follow_ups,
        outcomes,
        inbox,
        stopped_early,
        gave_up_waiting,
    })
}

fn lock(story: &Mutex<Story>) -> std::sync::MutexGuard<'_, Story> {
    story.lock().unwrap_or_else(|p| p.into_inner())
}

enum Waited {
    /// Every deadline has passed or been met.
    Done,
    /// Ctrl-C.
    Stopped,
    /// `bound` passed first.
    GaveUp,
}

/// Waits until no alert's deadline is open, and not before `settle` (by
/// then every alert the traffic raised has been committed and its first
/// deadline has passed: an alert's deadline is its event time plus the SLA,
/// and the traffic is over); at most `bound`.
fn wait_for_deadlines(
    story: &Mutex<Story>,
    stop: &AtomicBool,
    settle: Duration,
    bound: Duration,
) -> Waited {
    let began = Instant::now();
    loop {
        if stop.load(Ordering::Relaxed) {
            return Waited::Stopped;
        }
        if began.elapsed() >= settle && lock(story).open.is_empty() {
            return Waited::Done;
        }
        if began.elapsed() >= bound {
            return Waited::GaveUp;
        }
        thread::sleep(Duration::from_millis(100));
    }
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
        // Kafka's default partitioner, as docs/events.md asks of every
        // producer: the notifier writes the reps' feedback with it, and
        // feedback must land on its lead's partition.
        .set("partitioner", "murmur2_random")
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
        let (key, payload, format) = if produced % MALFORMED_EVERY == 0 {
            let (key, payload, _) = malformed(
                produced / MALFORMED_EVERY,
                &event.lead_id,
                event.occurred_at,
            );
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

/// Points `leadpulse notify` at the inbox: one Standard Webhooks channel
/// signed with `key`, and the one-click feedback endpoint on a free
/// loopback port.
fn notify_settings(settings: &mut Settings, inbox: &str, key: &[u8]) -> anyhow::Result<()> {
    use base64::Engine;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let secret = base64::engine::general_purpose::STANDARD.encode(key);
    let link_key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
    let toml = format!(
        r#"group_id = "leadpulse-demo-notify"
listen = "127.0.0.1:{port}"
lead_url = "https://app.example/leads/{{lead_id}}"
backoff_initial_ms = 100
commit_interval_ms = 200
[feedback]
enabled = true
public_url = "http://127.0.0.1:{port}"
link_key = "{link_key}"
[[channel]]
kind = "webhook"
name = "inbox"
url = "{inbox}"
secrets = ["whsec_{secret}"]
allow_http_localhost = true
"#
    );
    settings.notify = toml::from_str(&toml)?;
    Ok(())
}

fn print_alerts(
    settings: &Settings,
    view: &View,
    out: &Out,
    printed: &AtomicU64,
    story: &Mutex<Story>,
    stop: &AtomicBool,
) -> anyhow::Result<Vec<Alert>> {
    let consumer: BaseConsumer = service::reader_config(settings)
        .set("enable.partition.eof", "false")
        .create()
        .map_err(|e| anyhow::anyhow!(service::client_error(&e)))?;
    let t = &settings.topics;
    let mut tpl = TopicPartitionList::new();
    for topic in [&t.alerts, &t.breaches, &t.handoffs] {
        let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
        for t in md.topics() {
            for p in t.partitions() {
                tpl.add_partition_offset(t.name(), p.id(), Offset::Beginning)?;
            }
        }
    }
    consumer.assign(&tpl)?;
    let say = |text: &str| {
        let mut o = out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(o, "{text}");
        let _ = o.flush();
    };
    let mut seen = Vec::new();
    let mut contacts: BTreeSet<String> = BTreeSet::new();
    while !stop.load(Ordering::Relaxed) {
        let Some(m) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let m = m?;
        if m.topic() == t.breaches {
            if let Some(b) = m.payload().and_then(|p| codec::decode_breach(p).ok()) {
                {
                    let mut story = lock(story);
                    let f = &mut story.follow_ups;
                    f.breach_records += 1;
                    f.first_breaches += u64::from(b.breach_number == 1);
                    f.reassigned += u64::from(b.reassigned_to.is_some());
                    story.outcomes.insert(b.alert_id.clone(), "breached");
                    match b.new_respond_by {
                        Some(by) => story.open.insert(b.alert_id.clone(), by),
                        None => story.open.remove(&b.alert_id),
                    };
                }
                say(&view.breach(&b));
            }
            continue;
        }
        if m.topic() == t.handoffs {
            // The handoff a rep's click changes: the loop closed.
            let Some(r) = m.payload().and_then(|p| codec::decode_handoff(p).ok()) else {
                continue;
            };
            let h = &r.handoff;
            let first = |at| contacts.insert(h.alert_id.clone()).then_some(at);
            if let Some(at) = h.first_contact_at.and_then(first) {
                say(&format!(
                    "HANDOFF    {}  first contact by {} at {}: SLA {}, stage {} (lead-handoffs)",
                    r.lead_id,
                    view.rep(&h.rep),
                    console::clock(at, view.offset),
                    h.sla.as_str(),
                    r.stage.map_or("-", |s| s.as_str()),
                ));
            }
            continue;
        }
        let Some(alert) = m.payload().and_then(|p| codec::decode_alert(p).ok()) else {
            continue;
        };
        if alert.owner_rep.is_some() {
            let mut story = lock(story);
            // Unless the rep was quicker than this printer.
            if !story.outcomes.contains_key(&alert.alert_id) {
                story.open.insert(alert.alert_id.clone(), alert.respond_by);
            }
        }
        say(&view.alert(&alert));
        seen.push(alert);
        printed.fetch_add(1, Ordering::Relaxed);
    }
    Ok(seen)
}
