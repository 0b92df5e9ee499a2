//! Where `leadpulse report` reads the sales loop's records: a
//! `replay --outputs` folder, or the output topics of a running deployment
//! (read_committed, from the beginning to the end; the latest
//! `lead-handoffs` record of each key; the account records when the model
//! scores accounts). Records may be JSON or protobuf.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::codec;
use crate::config::{Settings, Topic, TopicNames};
use crate::core::Rejection;
use crate::offline::report::ReportInput;

/// Why the records could not be read.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("cannot read {path}")]
    File {
        path: String,
        source: std::io::Error,
    },
    #[error("topic `{0}` does not exist; is the sales loop running with these topic names?")]
    MissingTopic(String),
    #[error("kafka: {0}")]
    Kafka(String),
    /// No broker answered, or the brokers refused our credentials.
    #[error("{0}")]
    Connect(String),
}

/// Records that did not decode and were left out; the caller reports them.
#[derive(Debug, Default)]
pub struct Skipped {
    pub count: usize,
    /// Where the first one was, and why.
    pub first: Option<String>,
}

impl Skipped {
    fn note(&mut self, place: impl FnOnce() -> String, e: &Rejection) {
        self.count += 1;
        if self.first.is_none() {
            self.first = Some(format!("{}: {e}", place()));
        }
    }
}

/// The kind of record a topic or file holds.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Handoffs,
    Lifecycle,
    Breaches,
    AccountScores,
    AccountAlerts,
    /// The challenger's alerts (`[[shadow]]`); optional.
    ShadowAlerts,
    /// The champion's alerts, read only to compare with the challenger's.
    Alerts,
}

impl Kind {
    /// The challenger's before the champion's: without challenger alerts
    /// the champion's are not read.
    const ALL: [Kind; 7] = [
        Kind::Handoffs,
        Kind::Lifecycle,
        Kind::Breaches,
        Kind::AccountScores,
        Kind::AccountAlerts,
        Kind::ShadowAlerts,
        Kind::Alerts,
    ];

    /// Whether a missing file or topic is an error: account records exist
    /// only with a model that scores accounts, the comparison's only where
    /// a challenger ran.
    fn required(self) -> bool {
        !matches!(
            self,
            Kind::AccountScores | Kind::AccountAlerts | Kind::ShadowAlerts | Kind::Alerts
        )
    }

    /// Whether to read this kind at all, given what was read before it.
    fn wanted(self, input: &ReportInput) -> bool {
        !matches!(self, Kind::Alerts) || !input.shadow_alerts.is_empty()
    }

    /// Where records of this kind are published.
    fn topic(self) -> Topic {
        match self {
            Kind::Handoffs => Topic::Handoffs,
            Kind::Lifecycle => Topic::Lifecycle,
            Kind::Breaches => Topic::Breaches,
            Kind::AccountScores => Topic::AccountScores,
            Kind::AccountAlerts => Topic::AccountAlerts,
            Kind::ShadowAlerts => Topic::ShadowAlerts,
            Kind::Alerts => Topic::Alerts,
        }
    }

    /// The `replay --outputs` file of the topic.
    fn file(self) -> String {
        self.topic()
            .replay_file()
            .expect("the report reads outputs, and replay writes every output")
    }
}

fn absorb(
    input: &mut ReportInput,
    kind: Kind,
    key: Option<&[u8]>,
    bytes: Option<&[u8]>,
) -> Result<(), Rejection> {
    match (kind, bytes) {
        (Kind::Handoffs, None) => {
            if let Some(key) = key.and_then(|k| std::str::from_utf8(k).ok()) {
                input.remove_handoff(key);
            }
        }
        (_, None) => {}
        (Kind::Handoffs, Some(b)) => input.add_handoff(codec::decode_handoff(b)?),
        (Kind::Lifecycle, Some(b)) => input.stages.push(codec::decode_stage(b)?),
        (Kind::Breaches, Some(b)) => input.breaches.push(codec::decode_breach(b)?),
        (Kind::AccountScores, Some(b)) => input.add_account_score(&codec::decode_account_score(b)?),
        (Kind::AccountAlerts, Some(b)) => input.add_account_alert(codec::decode_account_alert(b)?),
        (Kind::ShadowAlerts, Some(b)) => input.shadow_alerts.push(codec::decode_alert(b)?),
        (Kind::Alerts, Some(b)) => input.alerts.push(codec::decode_alert(b)?),
    }
    Ok(())
}

/// Reads a `replay --outputs` folder: `lead-handoffs.ndjson` (a later line
/// of the same handoff replaces an earlier one), `lead-lifecycle.ndjson`,
/// `sla-breaches.ndjson` and, if there, `account-scores.ndjson` and
/// `account-alerts.ndjson`; `shadow-alerts.ndjson` and
/// `hot-lead-alerts.ndjson` if `replay --shadow` wrote them.
pub fn from_dir(dir: &Path) -> Result<(ReportInput, Skipped), InputError> {
    let mut input = ReportInput::default();
    let mut skipped = Skipped::default();
    for kind in Kind::ALL {
        if !kind.wanted(&input) {
            continue;
        }
        let path = dir.join(kind.file());
        let text = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !kind.required() => continue,
            read => read.map_err(|source| InputError::File {
                path: path.display().to_string(),
                source,
            })?,
        };
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            if let Err(e) = absorb(&mut input, kind, None, Some(line)) {
                skipped.note(|| format!("{}:{}", path.display(), i + 1), &e);
            }
        }
    }
    Ok((input, skipped))
}

/// Reads the handoff, lifecycle and breach topics named in `settings`
/// (and `shadow-alerts`, then with challenger alerts `hot-lead-alerts`)
/// from the beginning to their end (the last stable offset: read_committed
/// skips aborted and open transactions). Gives up after `timeout` when no
/// broker answers, with one error rather than librdkafka's log of every
/// failed attempt.
pub fn from_kafka(
    settings: &Settings,
    timeout: Duration,
) -> Result<(ReportInput, Skipped), InputError> {
    crate::service::check_reachable(settings, timeout)
        .map_err(|e| InputError::Connect(e.to_string()))?;
    let kafka = |e: KafkaError| InputError::Kafka(crate::service::client_error(&e));
    let names = TopicNames::from_settings(settings);
    let mut input = ReportInput::default();
    let mut skipped = Skipped::default();
    for kind in Kind::ALL {
        if !kind.wanted(&input) {
            continue;
        }
        let topic = names.name(kind.topic());
        let consumer: BaseConsumer<crate::service::Reader> =
            crate::service::reader_config(settings)
                .create_with_context(crate::service::Reader)
                .map_err(kafka)?;
        let metadata = consumer
            .fetch_metadata(Some(topic), timeout)
            .map_err(kafka)?;
        let partitions: Vec<i32> = match metadata.topics().first() {
            Some(m) if m.error().is_none() && !m.partitions().is_empty() => {
                m.partitions().iter().map(|p| p.id()).collect()
            }
            _ if !kind.required() => continue,
            _ => return Err(InputError::MissingTopic(topic.to_owned())),
        };
        let mut tpl = TopicPartitionList::new();
        let mut pending = BTreeSet::new();
        for p in partitions {
            let (low, high) = consumer
                .fetch_watermarks(topic, p, timeout)
                .map_err(kafka)?;
            if high > low {
                tpl.add_partition_offset(topic, p, Offset::Beginning)
                    .map_err(kafka)?;
                pending.insert(p);
            }
        }
        if pending.is_empty() {
            continue;
        }
        consumer.assign(&tpl).map_err(kafka)?;
        while !pending.is_empty() {
            match consumer.poll(timeout) {
                None => {
                    return Err(InputError::Kafka(format!(
                        "no record from `{topic}` within {timeout:?} (partitions {pending:?} not read to the end)"
                    )))
                }
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    pending.remove(&p);
                }
                Some(Err(e)) => return Err(kafka(e)),
                Some(Ok(m)) => {
                    if let Err(e) = absorb(&mut input, kind, m.key(), m.payload()) {
                        skipped.note(
                            || format!("`{topic}` partition {} offset {}", m.partition(), m.offset()),
                            &e,
                        );
                    }
                }
            }
        }
    }
    Ok((input, skipped))
}
