//! The service's configuration: one TOML file, overridable from the
//! environment as `LEADPULSE_SECTION__KEY` (e.g.
//! `LEADPULSE_KAFKA__BOOTSTRAP_SERVERS`), secrets kept in `secrecy` types,
//! and every check `config check` runs. Unknown keys are errors.
//! Reference: `docs/config.md`.
//!
//! One file per section; `load` layers the file, the environment and the
//! checks that span sections.

mod admin;
mod kafka;
mod load;
mod notify;
mod pipeline;
mod registry;
mod topics;

use std::path::PathBuf;

use serde::Deserialize;

pub use admin::{AdminSettings, LogFormat, LogSettings, ShutdownSettings};
pub use kafka::{KafkaSettings, SaslMechanism, SecurityProtocol, SecuritySettings};
pub use notify::{
    endpoint_problem, webhook_key, ChannelSettings, EmailChannel, FeedbackSettings, NotifySettings,
    SlackChannel, SmtpTls, TeamsChannel, WebhookChannel,
};
pub use pipeline::{ModelSettings, PipelineSettings, RoutingSettings, ShadowSettings};
pub use registry::SchemaRegistrySettings;
pub use topics::{
    Role, Topic, TopicNames, TopicSettings, MAX_PARTITIONS, MAX_REPLICATION_FACTOR,
    MAX_TOPIC_NAME_LEN,
};

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
    /// Like `Invalid`, for a key with an index (`notify.channel[2].url`).
    #[error("config: `{key}` {message}")]
    Field { key: String, message: String },
    /// A librdkafka property librdkafka does not know or refuses; the
    /// message never holds its value.
    #[error("config: `[{section}] \"{property}\"` {message}")]
    Property {
        section: &'static str,
        property: String,
        message: String,
    },
    /// Two `[topics]` keys name the same topic.
    #[error(
        "config: `{key}` and `{other}` are both `{name}`; every topic needs a name of its own"
    )]
    TopicClash {
        key: &'static str,
        other: &'static str,
        name: String,
    },
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
    pub routing: RoutingSettings,
    /// At most one challenger model scored in shadow (`[[shadow]]`).
    #[serde(default)]
    pub shadow: Vec<ShadowSettings>,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub admin: AdminSettings,
    #[serde(default)]
    pub shutdown: ShutdownSettings,
    #[serde(default)]
    pub notify: NotifySettings,
    /// The Schema Registry; without the section, records are plain JSON or
    /// protobuf and framed ones go to the DLQ as malformed.
    #[serde(default)]
    pub schema_registry: Option<SchemaRegistrySettings>,
}
