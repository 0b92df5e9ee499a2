//! The service configuration: one TOML file, overridable from the
//! environment as `LEADPULSE_SECTION__KEY` (e.g.
//! `LEADPULSE_KAFKA__BOOTSTRAP_SERVERS`). Unknown keys are errors.
//! Reference: `docs/config.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::codec::Format;

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("config {origin}: {message}")]
    Parse { origin: String, message: String },
    #[error("config: `{key}` {message}")]
    Invalid { key: &'static str, message: String },
}

/// All settings of `leadpulse run`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub kafka: KafkaSettings,
    #[serde(default)]
    pub topics: TopicSettings,
    #[serde(default)]
    pub pipeline: PipelineSettings,
    #[serde(default)]
    pub model: ModelSettings,
    #[serde(default)]
    pub log: LogSettings,
}

/// How to reach Kafka and who we are in the consumer group.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KafkaSettings {
    /// `bootstrap.servers`.
    pub bootstrap_servers: String,
    /// The consumer group; instances sharing it split the partitions.
    pub group_id: String,
    /// Names this instance; the transactional id is `<group_id>-<instance_id>`.
    /// Keep it stable across restarts so a restarted instance fences its
    /// predecessor at once. Defaults to `$HOSTNAME`.
    pub instance_id: Option<String>,
    /// librdkafka properties for every client (consumer, producer, admin).
    pub properties: BTreeMap<String, String>,
    /// librdkafka properties for the consumer only.
    pub consumer: BTreeMap<String, String>,
    /// librdkafka properties for the producer only.
    pub producer: BTreeMap<String, String>,
}

impl Default for KafkaSettings {
    fn default() -> Self {
        KafkaSettings {
            bootstrap_servers: "127.0.0.1:9092".into(),
            group_id: "leadpulse".into(),
            instance_id: None,
            properties: BTreeMap::new(),
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
        }
    }
}

impl KafkaSettings {
    /// The instance id, defaulted from the host name.
    pub fn instance_id(&self) -> String {
        self.instance_id
            .clone()
            .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| "leadpulse".into())
    }

    /// The producer's `transactional.id`.
    pub fn transactional_id(&self) -> String {
        format!("{}-{}", self.group_id, self.instance_id())
    }
}

/// Topic names and how missing topics are created.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicSettings {
    /// Input: engagement events, keyed by lead_id.
    pub events: String,
    /// Output: compacted latest score per lead.
    pub scores: String,
    /// Output: hot-lead alerts.
    pub alerts: String,
    /// Output: events that could not be scored, with the reason in headers.
    pub dlq: String,
    /// Output: qualified leads waiting for required attributes.
    pub enrichment: String,
    /// Internal: compacted per-lead state, co-partitioned with `events`.
    /// Defaults to `<group_id>-lead-state-changelog`.
    pub changelog: Option<String>,
    /// Create missing topics at startup.
    pub create_missing: bool,
    /// Partitions for a created `events` topic (outputs follow it).
    pub partitions: i32,
    /// Replication factor for created topics; -1 takes the broker default.
    pub replication_factor: i32,
}

impl Default for TopicSettings {
    fn default() -> Self {
        TopicSettings {
            events: "lead-events".into(),
            scores: "lead-scores".into(),
            alerts: "hot-lead-alerts".into(),
            dlq: "lead-events-dlq".into(),
            enrichment: "leads-needing-enrichment".into(),
            changelog: None,
            create_missing: true,
            partitions: 6,
            replication_factor: -1,
        }
    }
}

impl TopicSettings {
    /// The changelog topic name.
    pub fn changelog(&self, group_id: &str) -> String {
        self.changelog
            .clone()
            .unwrap_or_else(|| format!("{group_id}-lead-state-changelog"))
    }
}

/// The transaction loop.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PipelineSettings {
    /// One transaction (outputs + consumer offsets) per interval.
    pub commit_interval_ms: u64,
    /// `transaction.timeout.ms`; keep it below the group's session timeout
    /// so a crashed instance's open transaction is aborted before its
    /// partitions move.
    pub transaction_timeout_ms: u64,
    /// Events dated further than this after their record time go to the DLQ.
    pub max_future_skew_secs: i64,
    /// Wire format of `lead-scores` and `hot-lead-alerts`.
    pub output_format: Format,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings {
            commit_interval_ms: 100,
            transaction_timeout_ms: 10_000,
            max_future_skew_secs: 86_400,
            output_format: Format::Json,
        }
    }
}

/// Where the scoring model lives.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelSettings {
    /// The model file.
    pub path: PathBuf,
    /// How often the file is checked for changes; 0 turns hot reload off.
    pub reload_interval_ms: u64,
}

impl Default for ModelSettings {
    fn default() -> Self {
        ModelSettings {
            path: "examples/model.toml".into(),
            reload_interval_ms: 2_000,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `text` for people, `json` for log pipelines.
    pub format: LogFormat,
    /// A tracing filter, e.g. `info` or `leadpulse=debug,info`. `RUST_LOG` wins.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

const ENV_PREFIX: &str = "LEADPULSE_";

impl Settings {
    /// Loads `path` (or defaults when `None`), applies `LEADPULSE_*`
    /// overrides from `env`, and validates.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Settings, SettingsError> {
        let (origin, text) = match path {
            Some(p) => (
                p.display().to_string(),
                std::fs::read_to_string(p).map_err(|source| SettingsError::Read {
                    path: p.to_owned(),
                    source,
                })?,
            ),
            None => ("(defaults)".to_owned(), String::new()),
        };
        let mut table: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| SettingsError::Parse {
                    origin: origin.clone(),
                    message: e.to_string().trim_end().to_owned(),
                })?;
        let mut overridden = Vec::new();
        for (name, value) in env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let mut path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
            if path.len() < 2 || path.iter().any(String::is_empty) {
                continue;
            }
            // librdkafka property names use dots: LEADPULSE_KAFKA__PROPERTIES__SASL_USERNAME.
            if path.len() == 3
                && path[0] == "kafka"
                && matches!(path[1].as_str(), "properties" | "consumer" | "producer")
            {
                path[2] = path[2].replace('_', ".");
            }
            set_path(&mut table, &path, parse_env_value(&value));
            overridden.push(name);
        }
        let origin = if overridden.is_empty() {
            origin
        } else {
            format!("{origin} with {}", overridden.join(", "))
        };
        let settings: Settings =
            table
                .try_into()
                .map_err(|e: toml::de::Error| SettingsError::Parse {
                    origin,
                    message: e.to_string().trim_end().to_owned(),
                })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), SettingsError> {
        let bad = |key, message: &str| {
            Err(SettingsError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if self.kafka.bootstrap_servers.trim().is_empty() {
            return bad("kafka.bootstrap_servers", "must not be empty");
        }
        if self.kafka.group_id.trim().is_empty() {
            return bad("kafka.group_id", "must not be empty");
        }
        if !(10..=60_000).contains(&self.pipeline.commit_interval_ms) {
            return bad(
                "pipeline.commit_interval_ms",
                "must be between 10 and 60000",
            );
        }
        if self.pipeline.transaction_timeout_ms < 1_000 + 2 * self.pipeline.commit_interval_ms {
            return bad(
                "pipeline.transaction_timeout_ms",
                "must be at least 1000 + 2 × commit_interval_ms",
            );
        }
        if self.pipeline.max_future_skew_secs < 0 {
            return bad("pipeline.max_future_skew_secs", "must not be negative");
        }
        if self.topics.partitions < 1 {
            return bad("topics.partitions", "must be at least 1");
        }
        if self.topics.replication_factor == 0 || self.topics.replication_factor < -1 {
            return bad(
                "topics.replication_factor",
                "must be -1 (broker default) or at least 1",
            );
        }
        let t = &self.topics;
        let names = [
            &t.events,
            &t.scores,
            &t.alerts,
            &t.dlq,
            &t.changelog(&self.kafka.group_id),
        ];
        for (i, a) in names.iter().enumerate() {
            if a.trim().is_empty() {
                return bad("topics", "topic names must not be empty");
            }
            if names[i + 1..].contains(a) {
                return bad("topics", &format!("`{a}` is used for two different topics"));
            }
        }
        Ok(())
    }
}

fn parse_env_value(raw: &str) -> toml::Value {
    // Numbers and booleans keep their type; everything else is a string.
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(b) = raw.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    toml::Value::String(raw.to_owned())
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    let (last, parents) = path.split_last().expect("path has at least two parts");
    let mut t = table;
    for p in parents {
        let entry = t
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        t = entry.as_table_mut().expect("made a table above");
    }
    t.insert(last.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, env: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("leadpulse.toml");
        std::fs::write(&path, text).unwrap();
        Settings::load(
            Some(&path),
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())),
        )
    }

    #[test]
    fn env_overrides_the_file() {
        let s = load(
            "[kafka]\nbootstrap_servers = \"a:1\"\n",
            &[
                ("LEADPULSE_KAFKA__BOOTSTRAP_SERVERS", "b:2"),
                ("LEADPULSE_PIPELINE__COMMIT_INTERVAL_MS", "250"),
                (
                    "LEADPULSE_KAFKA__PROPERTIES__SASL_MECHANISM",
                    "SCRAM-SHA-512",
                ),
                ("UNRELATED", "x"),
            ],
        )
        .unwrap();
        assert_eq!(s.kafka.bootstrap_servers, "b:2");
        assert_eq!(s.pipeline.commit_interval_ms, 250);
        assert_eq!(s.kafka.properties["sasl.mechanism"], "SCRAM-SHA-512");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let err = load("[pipeline]\ncommit_intervall_ms = 5\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("commit_intervall_ms"), "{err}");
        let err = load("", &[("LEADPULSE_PIPELINE__NOPE", "1")])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("nope") && err.contains("LEADPULSE_PIPELINE__NOPE"),
            "{err}"
        );
    }

    #[test]
    fn invalid_values_name_the_key() {
        let err = load("[pipeline]\ncommit_interval_ms = 1\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("pipeline.commit_interval_ms"), "{err}");
        let err = load("[topics]\nalerts = \"lead-scores\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("used for two different topics"), "{err}");
    }
}
