//! The consumer loop of `leadpulse notify`: read the alert topics
//! (read_committed, own group), deliver every record on every channel
//! concurrently, and commit each partition's contiguous prefix of records
//! that are delivered or dead-lettered. At least once: a crash redelivers
//! from the last commit, and receivers de-duplicate by the idempotency key.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::message::{BorrowedMessage, Header, Message, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};
use tokio::sync::{mpsc, Semaphore};

use super::deliver::{backoff, now_ms, Attempt, Endpoint};
use super::links::LinkSigner;
use super::notice::{delivery_id, Notice, Record};
use super::offsets::Offsets;
use super::plan::{plan, Delivery};
use super::render::Links;
use crate::codec;
use crate::config::{Settings, Topic, TopicNames};
use crate::core::Roster;
use crate::telemetry;

/// Why the notifier stopped.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("kafka: {0}")]
    Kafka(String),
    #[error("{0}")]
    Setup(String),
}

/// The topics the notifier reads, with the record kind each holds.
/// A new notifying topic is one more row here and one more [`Record`]
/// variant.
pub const INPUTS: [Topic; 5] = [
    Topic::Alerts,
    Topic::Breaches,
    Topic::Overdue,
    Topic::WatchAlerts,
    Topic::AccountAlerts,
];

fn decode(topic: Topic, bytes: &[u8]) -> Result<Record, String> {
    let r = match topic {
        Topic::Alerts => codec::decode_alert(bytes).map(Record::Alert),
        Topic::Breaches => codec::decode_breach(bytes).map(Record::Breach),
        Topic::Overdue => codec::decode_overdue(bytes).map(Record::Overdue),
        Topic::WatchAlerts => return codec::decode_watch_alert(bytes).map(Record::Watch),
        Topic::AccountAlerts => codec::decode_account_alert(bytes).map(Record::Account),
        _ => return Err("not a notifying topic".into()),
    };
    r.map_err(|e| e.to_string())
}

/// Everything a delivery task needs, shared.
struct Shared {
    settings: Settings,
    roster: Option<Arc<Roster>>,
    endpoints: Vec<Endpoint>,
    signer: Option<LinkSigner>,
    producer: FutureProducer,
    dlq: String,
    names: TopicNames,
}

/// Commits the finished prefix of revoked partitions before they move, so
/// the next owner redelivers as little as possible.
struct NotifyContext {
    offsets: Arc<Mutex<Offsets>>,
}

impl ClientContext for NotifyContext {}

impl ConsumerContext for NotifyContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let mut offsets = self.offsets.lock().expect("not poisoned");
            let commits: Vec<_> = offsets
                .to_commit()
                .into_iter()
                .filter(|(t, p, _)| tpl.find_partition(t, *p).is_some())
                .collect();
            if !commits.is_empty() {
                if let Err(e) = consumer.commit(&commit_list(&commits), CommitMode::Sync) {
                    tracing::warn!(error = %e, "cannot commit revoked partitions; they are redelivered");
                }
            }
            for e in tpl.elements() {
                offsets.revoke(e.topic(), e.partition());
            }
        }
    }
}

fn commit_list(commits: &[(String, i32, i64)]) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (t, p, o) in commits {
        let _ = tpl.add_partition_offset(t, *p, Offset::Offset(*o));
    }
    tpl
}

/// The consumer of the notifier's own group.
pub fn consumer_config(settings: &Settings) -> ClientConfig {
    let mut c = crate::service::client_base(settings);
    c.set("group.id", &settings.notify.group_id)
        .set(
            "client.id",
            format!("leadpulse-notify-{}", settings.kafka.instance_id()),
        )
        .set("isolation.level", "read_committed")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest");
    for (key, value) in &settings.kafka.consumer {
        c.set(key, value);
    }
    c
}

/// Runs until `stop` is set. Blocks; builds its own runtime.
pub fn run(
    settings: &Settings,
    roster: Option<Arc<Roster>>,
    stop: Arc<AtomicBool>,
    prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> Result<(), NotifyError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| NotifyError::Setup(e.to_string()))?;
    rt.block_on(serve(settings.clone(), roster, stop, prometheus))
}

async fn serve(
    settings: Settings,
    roster: Option<Arc<Roster>>,
    stop: Arc<AtomicBool>,
    prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
) -> Result<(), NotifyError> {
    let kafka =
        |e: rdkafka::error::KafkaError| NotifyError::Kafka(crate::service::client_error(&e));
    {
        let s = settings.clone();
        tokio::task::spawn_blocking(move || crate::service::check_connection(&s))
            .await
            .map_err(|e| NotifyError::Setup(e.to_string()))?
            .map_err(|e| NotifyError::Kafka(e.to_string()))?;
    }
    let names = TopicNames::from_settings(&settings);
    let dlq = names.name(Topic::NotificationsDlq).to_owned();
    if settings.topics.create_missing {
        ensure_dlq(&settings, &dlq).await?;
    }
    let mut endpoints = Vec::new();
    for c in &settings.notify.channels {
        endpoints.push(
            Endpoint::new(c, &settings.notify).map_err(|e| NotifyError::Setup(e.to_string()))?,
        );
    }
    let f = &settings.notify.feedback;
    let signer = match (&f.link_key, &f.public_url) {
        (Some(k), Some(u)) if f.enabled => {
            Some(LinkSigner::new(&super::deliver::secret_bytes(k), u))
        }
        _ => None,
    };
    let producer: FutureProducer = crate::service::client_base(&settings)
        .set("enable.idempotence", "true")
        .set("linger.ms", "5")
        .create()
        .map_err(kafka)?;

    let http = super::feedback::serve_http(&settings, roster.clone(), prometheus, &names)
        .await
        .map_err(NotifyError::Setup)?;

    let offsets = Arc::new(Mutex::new(Offsets::default()));
    let consumer: StreamConsumer<NotifyContext> = consumer_config(&settings)
        .create_with_context(NotifyContext {
            offsets: offsets.clone(),
        })
        .map_err(kafka)?;
    let topics: Vec<&str> = INPUTS.iter().map(|&t| names.name(t)).collect();
    consumer.subscribe(&topics).map_err(kafka)?;
    tracing::info!(
        group = %settings.notify.group_id,
        channels = endpoints.len(),
        topics = ?topics,
        "notify: delivering"
    );

    let shared = Arc::new(Shared {
        settings: settings.clone(),
        roster,
        endpoints,
        signer,
        producer,
        dlq,
        names,
    });
    let in_flight = Arc::new(Semaphore::new(settings.notify.max_in_flight));
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<(String, i32, i64, u64)>();
    let mut commit_tick =
        tokio::time::interval(Duration::from_millis(settings.notify.commit_interval_ms));
    commit_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut stop_tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            biased;
            Some((t, p, o, g)) = done_rx.recv() => {
                offsets.lock().expect("not poisoned").finished(&t, p, o, g);
            }
            _ = stop_tick.tick() => {
                if stop.load(Ordering::Relaxed) { break; }
            }
            _ = commit_tick.tick() => {
                commit(&consumer, &offsets, CommitMode::Async);
                let n = offsets.lock().expect("not poisoned").in_flight();
                telemetry::notify_in_flight(n);
            }
            permit = in_flight.clone().acquire_owned() => {
                let permit = permit.expect("never closed");
                let m = tokio::select! {
                    m = consumer.recv() => m,
                    _ = tokio::time::sleep(Duration::from_millis(100)) => continue,
                };
                let m = match m {
                    Ok(m) => m,
                    Err(e) => {
                        tracing::warn!(error = %e, "notify: consumer error");
                        continue;
                    }
                };
                let (topic, partition, offset) = (m.topic().to_owned(), m.partition(), m.offset());
                let generation = offsets.lock().expect("not poisoned").started(&topic, partition, offset);
                let job = Job::of(&m, &shared);
                let shared = shared.clone();
                let done = done_tx.clone();
                tokio::spawn(async move {
                    job.run(&shared).await;
                    let _ = done.send((topic, partition, offset, generation));
                    drop(permit);
                });
            }
        }
    }
    tracing::info!("notify: stopping; committing what is delivered");
    while let Ok((t, p, o, g)) = done_rx.try_recv() {
        offsets.lock().expect("not poisoned").finished(&t, p, o, g);
    }
    commit(&consumer, &offsets, CommitMode::Sync);
    http.abort();
    Ok(())
}

fn commit<C: ConsumerContext>(
    consumer: &StreamConsumer<C>,
    offsets: &Mutex<Offsets>,
    mode: CommitMode,
) {
    let mut o = offsets.lock().expect("not poisoned");
    let commits = o.to_commit();
    if commits.is_empty() {
        return;
    }
    match consumer.commit(&commit_list(&commits), mode) {
        Ok(()) => o.mark_committed(&commits),
        Err(e) => tracing::warn!(error = %e, "notify: commit failed; retried at the next interval"),
    }
}

/// One input record and what must happen to it.
struct Job {
    topic: String,
    partition: i32,
    offset: i64,
    /// The Kafka timestamp: delivery latency counts from it.
    written_at: Option<i64>,
    bytes: Vec<u8>,
    record: Result<Record, String>,
}

impl Job {
    fn of(m: &BorrowedMessage<'_>, shared: &Shared) -> Job {
        let bytes = m.payload().unwrap_or_default().to_vec();
        let record = match shared.names.topic_of(m.topic()) {
            Some(t) => decode(t, &bytes),
            None => Err("record of an unknown topic".into()),
        };
        Job {
            topic: m.topic().to_owned(),
            partition: m.partition(),
            offset: m.offset(),
            written_at: m.timestamp().to_millis(),
            bytes,
            record,
        }
    }

    async fn run(self, shared: &Shared) {
        let record = match &self.record {
            Ok(r) => r,
            Err(why) => {
                tracing::warn!(
                    topic = %self.topic, partition = self.partition, offset = self.offset,
                    reason = %why, "notify: record does not decode; dead-lettered"
                );
                let id = delivery_id(
                    &format!("{}/{}/{}", self.topic, self.partition, self.offset),
                    "-",
                    "-",
                );
                self.dead_letter(shared, &id, "-", "-", "malformed", why)
                    .await;
                return;
            }
        };
        let roster = shared.roster.as_deref();
        let notice = Notice::of(record, roster);
        let now = now_ms();
        let links = Links {
            lead_url: shared.settings.notify.lead_url.as_deref(),
            crm_url: shared.settings.notify.crm_url.as_deref(),
            signer: shared.signer.as_ref(),
            link_expires: now / 1000 + shared.settings.notify.feedback.link_ttl_hours as i64 * 3600,
        };
        let (deliveries, unbuildable) = plan(
            &notice,
            &shared.settings.notify.channels,
            roster,
            &links,
            now,
        );
        for u in unbuildable {
            let ch = &shared.endpoints[u.channel];
            telemetry::notify_failed(&ch.name, "unbuildable");
            self.dead_letter(shared, &u.id, &ch.name, &u.target, "unbuildable", &u.reason)
                .await;
        }
        let tasks = deliveries.into_iter().map(|d| self.deliver(shared, d));
        futures_join_all(tasks).await;
    }

    /// Sends one delivery until it lands, is refused, or the budget is spent.
    async fn deliver(&self, shared: &Shared, d: Delivery) {
        let n = &shared.settings.notify;
        let ep = &shared.endpoints[d.channel];
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = ep.send(&d.id, &d.payload).await;
            telemetry::notify_attempt(&ep.name, ep.kind, result.outcome());
            match result {
                Attempt::Delivered => {
                    let latency = self
                        .written_at
                        .map(|t| (now_ms() - t).max(0) as f64 / 1000.0);
                    telemetry::notify_delivered(&ep.name, ep.kind, latency);
                    tracing::debug!(channel = %ep.name, id = %d.id, attempt, "notify: delivered");
                    return;
                }
                Attempt::Refused { reason } => {
                    tracing::warn!(channel = %ep.name, id = %d.id, %reason, "notify: refused; dead-lettered");
                    telemetry::notify_failed(&ep.name, "refused");
                    self.dead_letter(shared, &d.id, &ep.name, &d.target, "refused", &reason)
                        .await;
                    return;
                }
                Attempt::Retry { reason, after } => {
                    if attempt >= n.max_attempts {
                        tracing::warn!(channel = %ep.name, id = %d.id, %reason, attempt, "notify: out of retries; dead-lettered");
                        telemetry::notify_failed(&ep.name, "retries_exhausted");
                        let detail = format!("{attempt} attempts, last: {reason}");
                        self.dead_letter(
                            shared,
                            &d.id,
                            &ep.name,
                            &d.target,
                            "retries_exhausted",
                            &detail,
                        )
                        .await;
                        return;
                    }
                    let wait = backoff(
                        attempt,
                        Duration::from_millis(n.backoff_initial_ms),
                        Duration::from_millis(n.backoff_max_ms),
                        after,
                        rand::random::<f64>(),
                    );
                    tracing::debug!(channel = %ep.name, id = %d.id, %reason, attempt, ?wait, "notify: retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Writes the original record to `notifications-dlq` with the reason,
    /// and waits until the broker has it: only then may the offset commit.
    async fn dead_letter(
        &self,
        shared: &Shared,
        id: &str,
        channel: &str,
        target: &str,
        reason: &str,
        detail: &str,
    ) {
        let partition = self.partition.to_string();
        let offset = self.offset.to_string();
        let mut wait = Duration::from_millis(200);
        loop {
            let headers = OwnedHeaders::new_with_capacity(8)
                .insert(Header {
                    key: "leadpulse-dlq-reason",
                    value: Some(reason),
                })
                .insert(Header {
                    key: "leadpulse-dlq-detail",
                    value: Some(detail),
                })
                .insert(Header {
                    key: "leadpulse-notify-channel",
                    value: Some(channel),
                })
                .insert(Header {
                    key: "leadpulse-notify-target",
                    value: Some(target),
                })
                .insert(Header {
                    key: "leadpulse-notification-id",
                    value: Some(id),
                })
                .insert(Header {
                    key: "leadpulse-source-topic",
                    value: Some(self.topic.as_str()),
                })
                .insert(Header {
                    key: "leadpulse-source-partition",
                    value: Some(&partition),
                })
                .insert(Header {
                    key: "leadpulse-source-offset",
                    value: Some(&offset),
                });
            let record = FutureRecord::to(&shared.dlq)
                .key(id)
                .payload(&self.bytes)
                .headers(headers);
            match shared.producer.send(record, Duration::from_secs(30)).await {
                Ok(_) => {
                    telemetry::notify_dead_lettered(reason);
                    return;
                }
                Err((e, _)) => {
                    tracing::warn!(error = %e, "notify: cannot write the dead letter yet; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                }
            }
        }
    }
}

/// Runs the futures concurrently and waits for all.
async fn futures_join_all<F: std::future::Future<Output = ()>>(tasks: impl Iterator<Item = F>) {
    let mut set = Vec::new();
    for t in tasks {
        set.push(Box::pin(t));
    }
    let mut pending: Vec<_> = set.iter_mut().map(Some).collect();
    std::future::poll_fn(|cx| {
        let mut all = true;
        for slot in pending.iter_mut() {
            if let Some(f) = slot {
                if f.as_mut().poll(cx).is_ready() {
                    *slot = None;
                } else {
                    all = false;
                }
            }
        }
        if all {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// Creates `notifications-dlq` when it is missing (one partition per
/// `topics.partitions`; it is not co-partitioned with anything).
async fn ensure_dlq(settings: &Settings, dlq: &str) -> Result<(), NotifyError> {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    let admin: AdminClient<DefaultClientContext> =
        crate::service::client_base(settings)
            .create()
            .map_err(|e| NotifyError::Kafka(crate::service::client_error(&e)))?;
    let topic = NewTopic::new(
        dlq,
        settings.topics.partitions,
        TopicReplication::Fixed(settings.topics.replication_factor),
    );
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics([&topic], &opts)
        .await
        .map_err(|e| NotifyError::Kafka(format!("cannot create `{dlq}`: {e}")))?;
    for r in results {
        match r {
            Ok(_) => tracing::info!(topic = dlq, "created topic"),
            Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((_, code)) => {
                return Err(NotifyError::Kafka(format!("cannot create `{dlq}`: {code}")))
            }
        }
    }
    Ok(())
}
