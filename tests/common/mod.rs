//! Helpers for tests against a real Kafka broker (`KAFKA_BOOTSTRAP`).
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use leadpulse::codec::{self, Format};
use leadpulse::core::{Alert, LeadScore};
use leadpulse::tools::generate::{malformed, Generator, GeneratorConfig};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// The broker under test. Fails, never skips, when there is none.
pub fn bootstrap() -> String {
    match std::env::var("KAFKA_BOOTSTRAP") {
        Ok(b) if !b.trim().is_empty() => b,
        _ => panic!(
            "KAFKA_BOOTSTRAP is not set. These tests need a real Kafka broker: run \
             `scripts/test.sh`, which starts one, or start one with `scripts/kafka/start.sh` \
             (or `docker compose up -d kafka`) and export KAFKA_BOOTSTRAP=host:port"
        ),
    }
}

/// How a test reaches its broker: the plain `KAFKA_BOOTSTRAP` one, or a
/// SASL_SSL listener (see tests/security.rs).
#[derive(Clone)]
pub struct Access {
    pub bootstrap: String,
    /// librdkafka properties for the test's own clients.
    pub properties: Vec<(String, String)>,
    /// Extra `[kafka.security]` TOML for the service.
    pub service_toml: String,
}

impl Access {
    pub fn plain() -> Self {
        Access {
            bootstrap: bootstrap(),
            properties: Vec::new(),
            service_toml: String::new(),
        }
    }

    /// A client config for the test's own producers and readers.
    pub fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn model_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/model.toml")
}

/// One deployment under test: its own topics and group.
pub struct Deployment {
    pub dir: tempfile::TempDir,
    pub name: String,
    pub partitions: i32,
    pub access: Access,
}

impl Deployment {
    pub fn new(prefix: &str, partitions: i32) -> Self {
        Self::on(prefix, partitions, Access::plain())
    }

    pub fn on(prefix: &str, partitions: i32, access: Access) -> Self {
        Deployment {
            dir: tempfile::tempdir().unwrap(),
            name: unique(prefix),
            partitions,
            access,
        }
    }

    pub fn group(&self) -> String {
        format!("{}-group", self.name)
    }
    pub fn topic(&self, what: &str) -> String {
        format!("{}-{what}", self.name)
    }

    /// Writes a config for instance `instance` and returns its path.
    pub fn config(&self, instance: &str, extra: &str) -> PathBuf {
        self.config_with_model(instance, extra, &model_path())
    }

    /// Like [`Deployment::config`], with the model file at `model` (checked
    /// for changes every 200 ms).
    pub fn config_with_model(&self, instance: &str, extra: &str, model: &Path) -> PathBuf {
        let path = self.dir.path().join(format!("{instance}.toml"));
        let text = format!(
            r#"
[kafka]
bootstrap_servers = "{bootstrap}"
group_id = "{group}"
instance_id = "{instance}"

[kafka.consumer]
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "1000"
{security}

[admin]
listen = "127.0.0.1:0"

[topics]
events = "{events}"
scores = "{scores}"
alerts = "{alerts}"
dlq = "{dlq}"
enrichment = "{enrichment}"
feedback = "{feedback}"
breaches = "{breaches}"
overdue = "{overdue}"
lifecycle = "{lifecycle}"
handoffs = "{handoffs}"
changelog = "{changelog}"
partitions = {partitions}
replication_factor = 1

[model]
path = "{model}"
reload_interval_ms = 200
{extra}
"#,
            bootstrap = self.access.bootstrap,
            security = self.access.service_toml,
            group = self.group(),
            events = self.topic("events"),
            scores = self.topic("scores"),
            alerts = self.topic("alerts"),
            dlq = self.topic("dlq"),
            enrichment = self.topic("enrichment"),
            feedback = self.topic("feedback"),
            breaches = self.topic("breaches"),
            overdue = self.topic("overdue"),
            lifecycle = self.topic("lifecycle"),
            handoffs = self.topic("handoffs"),
            changelog = self.topic("changelog"),
            partitions = self.partitions,
            model = model.display(),
        );
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Starts `leadpulse run` as a child process, logging to `<instance>-<n>.log`.
    pub fn spawn(&self, instance: &str, run: usize) -> Service {
        self.spawn_with(instance, run, "")
    }

    /// [`Deployment::spawn`] with extra config TOML (sections after `[model]`).
    pub fn spawn_with(&self, instance: &str, run: usize, extra: &str) -> Service {
        self.spawn_with_config(instance, run, &self.config(instance, extra))
    }

    /// Starts `leadpulse run` with the given config file.
    pub fn spawn_with_config(&self, instance: &str, run: usize, config: &Path) -> Service {
        let log = self.dir.path().join(format!("{instance}-{run}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
            .args(["run", "--config"])
            .arg(config)
            .env("RUST_LOG", "leadpulse=debug,info")
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .expect("start leadpulse");
        Service { child, log }
    }

    /// Creates the events topic up front so producers and the service agree.
    pub fn create_events_topic(&self) {
        self.create_topic(&self.topic("events"), &[]);
    }

    /// Creates a topic with the deployment's partition count.
    pub fn create_topic(&self, topic: &str, config: &[(&str, &str)]) {
        let admin: rdkafka::admin::AdminClient<_> = self.access.client().create().unwrap();
        let mut new = rdkafka::admin::NewTopic::new(
            topic,
            self.partitions,
            rdkafka::admin::TopicReplication::Fixed(1),
        );
        for (k, v) in config {
            new = new.set(k, v);
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let res = rt
            .block_on(admin.create_topics([&new], &rdkafka::admin::AdminOptions::new()))
            .unwrap();
        for r in res {
            r.unwrap();
        }
    }

    /// Waits until the group has committed every record of the events topic.
    pub fn wait_caught_up(&self, timeout: Duration) {
        let consumer: BaseConsumer = self
            .access
            .client()
            .set("group.id", self.group())
            .create()
            .unwrap();
        let topic = self.topic("events");
        let deadline = Instant::now() + timeout;
        loop {
            let mut tpl = TopicPartitionList::new();
            let mut ends = BTreeMap::new();
            for p in 0..self.partitions {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, p, Duration::from_secs(10))
                    .unwrap();
                ends.insert(p, high);
                tpl.add_partition(&topic, p);
            }
            let committed = consumer.committed_offsets(tpl, Duration::from_secs(10));
            let done = committed.as_ref().is_ok_and(|c| {
                ends.iter().all(|(&p, &high)| {
                    matches!(c.find_partition(&topic, p).map(|e| e.offset()),
                        Some(Offset::Offset(o)) if o >= high)
                })
            });
            if done {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "group {} did not catch up on {topic} within {timeout:?}: ends {ends:?}, committed {committed:?}",
                self.group()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

/// A running `leadpulse run` process.
pub struct Service {
    pub child: Child,
    pub log: PathBuf,
}

impl Service {
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_for_log(&mut self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.log_text().contains(needle) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "leadpulse exited ({status}) before logging {needle:?}:\n{}",
                    self.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {needle:?} in log within {timeout:?}:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The admin HTTP address, from the "admin HTTP listening" log line.
    pub fn admin_addr(&mut self) -> String {
        self.wait_for_log("admin HTTP listening", Duration::from_secs(60));
        let log = self.log_text();
        let line = log
            .lines()
            .find(|l| l.contains("admin HTTP listening"))
            .unwrap();
        // Text logs say addr=HOST:PORT, JSON logs "addr":"HOST:PORT".
        line.split("addr=")
            .nth(1)
            .or_else(|| line.split("\"addr\":").nth(1))
            .and_then(|r| r.split([' ', ',', '}']).next())
            .unwrap_or_else(|| panic!("no addr in {line:?}"))
            .trim_matches('"')
            .to_owned()
    }

    /// GET `path` from the admin endpoint: (status, body).
    pub fn get(&mut self, path: &str) -> (u16, String) {
        let addr = self.admin_addr();
        http_get(&addr, path)
    }

    /// Waits for the process to exit on its own and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        wait_timeout(&mut self.child, timeout)
    }

    /// Sends SIGTERM and waits for a clean exit.
    pub fn terminate(mut self) -> String {
        signal(&self.child, "TERM");
        let status = wait_timeout(&mut self.child, Duration::from_secs(60));
        let log = self.log_text();
        assert!(
            status.success(),
            "leadpulse exited with {status} on SIGTERM:\n{log}"
        );
        log
    }

    /// kill -9.
    pub fn kill9(mut self) -> String {
        signal(&self.child, "KILL");
        let _ = self.child.wait();
        self.log_text()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET: (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s =
        std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad response to GET {path}: {raw:?}"));
    (status, body.to_owned())
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .args([format!("-{sig}"), child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} failed");
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "process did not exit within {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One input record and its replay-file equivalent.
#[derive(Clone)]
pub struct InputRecord {
    pub key: String,
    pub payload: Vec<u8>,
    pub content_type: Option<&'static str>,
    pub ndjson: String,
    pub malformed: bool,
}

/// `events` events for `leads` leads, alternating JSON and protobuf (half of
/// them without a content-type header, so the format is sniffed), with every
/// 100th record malformed.
pub fn dataset(events: usize, leads: u32, seed: u64) -> std::sync::Arc<Vec<InputRecord>> {
    dataset_from(events, generator_config(leads, seed))
}

/// The generator settings of [`dataset`]: events dated from a day ago.
pub fn generator_config(leads: u32, seed: u64) -> GeneratorConfig {
    GeneratorConfig {
        leads,
        seed,
        start: now_ms() - 86_400_000,
        mean_gap_ms: 100.0,
        ..GeneratorConfig::default()
    }
}

/// [`dataset`] from a given generator configuration.
pub fn dataset_from(events: usize, config: GeneratorConfig) -> std::sync::Arc<Vec<InputRecord>> {
    let mut generator = Generator::new(config);
    (0..events)
        .map(|i| {
            let event = generator.next_event();
            if i % 100 == 99 {
                let (key, payload, line) =
                    malformed(i as u64 / 100, &event.lead_id, event.occurred_at);
                return InputRecord {
                    key,
                    payload,
                    content_type: None,
                    ndjson: line,
                    malformed: true,
                };
            }
            let format = if i % 2 == 0 {
                Format::Json
            } else {
                Format::Protobuf
            };
            InputRecord {
                key: event.lead_id.clone(),
                payload: codec::encode_event(&event, format),
                content_type: (i % 4 < 2).then(|| format.content_type()),
                ndjson: String::from_utf8(codec::encode_event(&event, Format::Json)).unwrap(),
                malformed: false,
            }
        })
        .collect::<Vec<_>>()
        .into()
}

/// Produces records in order (idempotent producer, so order holds per
/// partition), sleeping `pause` between chunks of `chunk`.
pub fn produce(topic: &str, records: &[InputRecord], chunk: usize, pause: Duration) {
    produce_on(&Access::plain().client(), topic, records, chunk, pause)
}

/// [`produce`] with a given client config (e.g. SASL, or
/// `partitioner=murmur2_random`).
pub fn produce_on(
    client: &ClientConfig,
    topic: &str,
    records: &[InputRecord],
    chunk: usize,
    pause: Duration,
) {
    let producer: ThreadedProducer<DefaultProducerContext> = client
        .clone()
        .set("enable.idempotence", "true")
        // Kafka's default (murmur2), as docs/events.md asks of producers, so
        // `replay --partitions` sees the same partitions.
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "5")
        .create()
        .unwrap();
    for (i, r) in records.iter().enumerate() {
        let mut record = BaseRecord::to(topic).key(&r.key).payload(&r.payload);
        if let Some(ct) = r.content_type {
            record = record.headers(OwnedHeaders::new().insert(Header {
                key: "content-type",
                value: Some(ct),
            }));
        }
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((_, back)) => {
                    record = back;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        if chunk > 0 && (i + 1) % chunk == 0 {
            producer.flush(Duration::from_secs(30)).unwrap();
            std::thread::sleep(pause);
        }
    }
    producer.flush(Duration::from_secs(30)).unwrap();
}

/// A committed output record.
pub struct OutputRecord {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<Vec<u8>>,
    pub payload: Option<Vec<u8>>,
    pub headers: HashMap<String, String>,
}

/// Reads every committed record of `topic` (read_committed), in offset
/// order per partition.
pub fn read_all(topic: &str) -> Vec<OutputRecord> {
    read_all_on(&Access::plain().client(), topic)
}

/// [`read_all`] with a given client config.
pub fn read_all_on(client: &ClientConfig, topic: &str) -> Vec<OutputRecord> {
    let consumer: BaseConsumer = client
        .clone()
        .set("group.id", unique("reader"))
        .set("isolation.level", "read_committed")
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let partitions: Vec<i32> = md.topics()[0].partitions().iter().map(|p| p.id()).collect();
    assert!(!partitions.is_empty(), "topic {topic} has no partitions");
    let mut tpl = TopicPartitionList::new();
    for &p in &partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&tpl).unwrap();
    let mut pending: std::collections::BTreeSet<i32> = partitions.into_iter().collect();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !pending.is_empty() {
        assert!(Instant::now() < deadline, "reading {topic} took too long");
        match consumer.poll(Duration::from_millis(500)) {
            None => {}
            Some(Err(KafkaError::PartitionEOF(p))) => {
                pending.remove(&p);
            }
            Some(Err(e)) => panic!("reading {topic}: {e}"),
            Some(Ok(m)) => out.push(OutputRecord {
                partition: m.partition(),
                offset: m.offset(),
                key: m.key().map(<[u8]>::to_vec),
                payload: m.payload().map(<[u8]>::to_vec),
                headers: m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| {
                                (
                                    h.key.to_owned(),
                                    String::from_utf8_lossy(h.value.unwrap_or_default())
                                        .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
        }
    }
    out
}

/// What `leadpulse replay` says the outputs must be.
pub struct Oracle {
    pub alerts: Vec<Alert>,
    pub scores: BTreeMap<String, LeadScore>,
    pub summary: String,
}

/// Runs `leadpulse replay` on the records' NDJSON equivalent.
pub fn oracle(records: &[InputRecord], dir: &Path) -> Oracle {
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
