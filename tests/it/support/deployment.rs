//! One deployment under test: its config file, its topics and group, and
//! waiting until its group has caught up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::broker::{model_path, unique, Access};

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
watches = "{watches}"
watch_alerts = "{watch_alerts}"
merges = "{merges}"
accounts = "{accounts}"
account_scores = "{account_scores}"
account_alerts = "{account_alerts}"
shadow_alerts = "{shadow_alerts}"
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
            watches = self.topic("watches"),
            watch_alerts = self.topic("watch-alerts"),
            merges = self.topic("merges"),
            accounts = self.topic("accounts"),
            account_scores = self.topic("account-scores"),
            account_alerts = self.topic("account-alerts"),
            shadow_alerts = self.topic("shadow-alerts"),
            partitions = self.partitions,
            model = model.display(),
        );
        std::fs::write(&path, text).unwrap();
        path
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

    /// Per partition of the events topic: the group's committed offset (0
    /// when none) and the high watermark.
    pub fn progress(&self) -> BTreeMap<i32, (i64, i64)> {
        let consumer: BaseConsumer = self
            .access
            .client()
            .set("group.id", self.group())
            .create()
            .unwrap();
        let topic = self.topic("events");
        let mut tpl = TopicPartitionList::new();
        for p in 0..self.partitions {
            tpl.add_partition(&topic, p);
        }
        let committed = consumer
            .committed_offsets(tpl, Duration::from_secs(10))
            .unwrap();
        (0..self.partitions)
            .map(|p| {
                let (_, high) = consumer
                    .fetch_watermarks(&topic, p, Duration::from_secs(10))
                    .unwrap();
                let done = match committed.find_partition(&topic, p).map(|e| e.offset()) {
                    Some(Offset::Offset(o)) => o,
                    _ => 0,
                };
                (p, (done, high))
            })
            .collect()
    }
}
