//! The service configuration: one TOML file, overridable from the
//! environment as `LEADPULSE_SECTION__KEY` (e.g.
//! `LEADPULSE_KAFKA__BOOTSTRAP_SERVERS`). Unknown keys are errors.
//! Reference: `docs/config.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
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
    pub routing: RoutingSettings,
    #[serde(default)]
    pub log: LogSettings,
    #[serde(default)]
    pub admin: AdminSettings,
    #[serde(default)]
    pub shutdown: ShutdownSettings,
}

/// The admin HTTP endpoint: `/metrics`, `/healthz`, `/readyz`, `/leads/{id}`.
/// The limits keep a hostile or broken client from holding the process's
/// descriptors or memory; docs/config.md has the threat model.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// Serve the admin endpoint at all.
    pub enabled: bool,
    /// Address to bind. Loopback by default: expose it on purpose (e.g.
    /// `0.0.0.0:9898` in a container) and only on a trusted network.
    pub listen: String,
    /// The bearer token `/leads/{id}` (per-lead data) asks for. Without
    /// one, `/leads/{id}` answers only connections from loopback.
    #[serde(deserialize_with = "admin_token")]
    pub token: Option<SecretString>,
    /// A file holding the token (e.g. a mounted Kubernetes secret); read
    /// into `token` at load.
    pub token_file: Option<PathBuf>,
    /// Connections served at once; one more is answered 503 and closed.
    pub max_connections: usize,
    /// From a connection's start (or its previous response) to the end of
    /// the request head.
    pub header_read_timeout_ms: u64,
    /// For the handler to answer once the head is read.
    pub request_timeout_ms: u64,
    /// A connection that reads nor writes a byte for this long is closed
    /// (a stalled body, a client that does not read its response).
    pub idle_timeout_ms: u64,
    /// Largest request body; none of the endpoints takes one.
    pub max_body_bytes: usize,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            enabled: true,
            listen: "127.0.0.1:9898".into(),
            token: None,
            token_file: None,
            max_connections: 128,
            header_read_timeout_ms: 5_000,
            request_timeout_ms: 10_000,
            idle_timeout_ms: 30_000,
            max_body_bytes: 4_096,
        }
    }
}

impl AdminSettings {
    /// Reads `token_file` and checks the limits.
    fn resolve(&mut self) -> Result<(), SettingsError> {
        let bad = |key, message: String| Err(SettingsError::Invalid { key, message });
        if let Some(path) = &self.token_file {
            if self.token.is_some() {
                return bad(
                    "admin.token_file",
                    "set either the secret or its `_file`, not both".into(),
                );
            }
            let text = std::fs::read_to_string(path).map_err(|e| SettingsError::Invalid {
                key: "admin.token_file",
                message: format!("cannot read {}: {e}", path.display()),
            })?;
            self.token = Some(SecretString::from(text.trim_end_matches(['\r', '\n'])));
        }
        if let Some(token) = &self.token {
            let t = token.expose_secret();
            if t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()) {
                return bad(
                    "admin.token",
                    "must be at least 16 printable ASCII characters without spaces".into(),
                );
            }
        }
        if self.max_connections == 0 || self.max_connections > 65_536 {
            return bad(
                "admin.max_connections",
                "must be between 1 and 65536".into(),
            );
        }
        for (key, ms) in [
            ("admin.header_read_timeout_ms", self.header_read_timeout_ms),
            ("admin.request_timeout_ms", self.request_timeout_ms),
            ("admin.idle_timeout_ms", self.idle_timeout_ms),
        ] {
            if !(100..=600_000).contains(&ms) {
                return bad(key, "must be between 100 and 600000".into());
            }
        }
        if self.idle_timeout_ms < self.request_timeout_ms {
            return bad(
                "admin.idle_timeout_ms",
                "must be at least admin.request_timeout_ms (a connection waits idle for its answer)"
                    .into(),
            );
        }
        if self.max_body_bytes > 1 << 20 {
            return bad("admin.max_body_bytes", "must be at most 1048576".into());
        }
        Ok(())
    }
}

/// The token as a string, and never its value in an error: an
/// environment override of digits arrives as a number.
fn admin_token<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    struct Token;
    impl serde::de::Visitor<'_> for Token {
        type Value = Option<SecretString>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string (a token of digits only: use admin.token_file)")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(SecretString::from(v)))
        }
        fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Err(E::invalid_type(
                serde::de::Unexpected::Other("a number"),
                &self,
            ))
        }
        fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Err(E::invalid_type(
                serde::de::Unexpected::Other("a number"),
                &self,
            ))
        }
        fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Err(E::invalid_type(
                serde::de::Unexpected::Other("a number"),
                &self,
            ))
        }
        fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Err(E::invalid_type(
                serde::de::Unexpected::Other("a boolean"),
                &self,
            ))
        }
    }
    d.deserialize_any(Token)
}

/// How long a SIGTERM may take.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShutdownSettings {
    /// Seconds from SIGTERM to exit, whatever is still running then. Keep it
    /// below the orchestrator's own limit (Kubernetes:
    /// `terminationGracePeriodSeconds`, 30 s by default).
    pub grace_period_secs: u64,
}

impl Default for ShutdownSettings {
    fn default() -> Self {
        ShutdownSettings {
            grace_period_secs: 25,
        }
    }
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
    /// TLS and SASL; secrets come from here (or `*_file`), never from the
    /// property maps.
    pub security: SecuritySettings,
}

/// `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecurityProtocol {
    Plaintext,
    Ssl,
    SaslPlaintext,
    SaslSsl,
}

impl SecurityProtocol {
    /// The librdkafka value.
    pub fn as_str(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "plaintext",
            SecurityProtocol::Ssl => "ssl",
            SecurityProtocol::SaslPlaintext => "sasl_plaintext",
            SecurityProtocol::SaslSsl => "sasl_ssl",
        }
    }

    fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }

    fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }
}

/// `sasl.mechanism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum SaslMechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

impl SaslMechanism {
    /// The librdkafka value.
    pub fn as_str(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// `[kafka.security]`: how to authenticate to the brokers and trust them.
/// Secrets are held in [`SecretString`]s: `Debug` prints them redacted and
/// nothing logs them. After [`Settings::load`], `password` and
/// `key_password` hold the contents of their `*_file` if one was given.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecuritySettings {
    /// `PLAINTEXT` (default), `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub protocol: Option<SecurityProtocol>,
    /// `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`; required with SASL.
    pub sasl_mechanism: Option<SaslMechanism>,
    /// The SASL user.
    pub username: Option<String>,
    /// The SASL password. Prefer `password_file` or the environment
    /// (`LEADPULSE_KAFKA__SECURITY__PASSWORD`) to a literal in the file.
    pub password: Option<SecretString>,
    /// A file holding the SASL password (a mounted secret); one trailing
    /// newline is ignored.
    pub password_file: Option<PathBuf>,
    /// PEM file of the CA(s) that signed the brokers' certificates
    /// (`ssl.ca.location`); the system store when absent.
    pub ca_location: Option<PathBuf>,
    /// PEM client certificate for mutual TLS (`ssl.certificate.location`).
    pub certificate_location: Option<PathBuf>,
    /// PEM private key of the client certificate (`ssl.key.location`).
    pub key_location: Option<PathBuf>,
    /// Password of an encrypted `key_location`.
    pub key_password: Option<SecretString>,
    /// A file holding `key_password`.
    pub key_password_file: Option<PathBuf>,
}

impl SecuritySettings {
    /// The librdkafka properties these settings stand for, secrets included:
    /// hand them to a `ClientConfig` only, never to a log line.
    pub fn properties(&self) -> Vec<(&'static str, String)> {
        let mut p = Vec::new();
        if let Some(protocol) = self.protocol {
            p.push(("security.protocol", protocol.as_str().to_owned()));
        }
        if let Some(m) = self.sasl_mechanism {
            p.push(("sasl.mechanism", m.as_str().to_owned()));
        }
        if let Some(u) = &self.username {
            p.push(("sasl.username", u.clone()));
        }
        if let Some(pw) = &self.password {
            p.push(("sasl.password", pw.expose_secret().to_owned()));
        }
        let path = |p: &PathBuf| p.display().to_string();
        if let Some(ca) = &self.ca_location {
            p.push(("ssl.ca.location", path(ca)));
        }
        if let Some(c) = &self.certificate_location {
            p.push(("ssl.certificate.location", path(c)));
        }
        if let Some(k) = &self.key_location {
            p.push(("ssl.key.location", path(k)));
        }
        if let Some(pw) = &self.key_password {
            p.push(("ssl.key.password", pw.expose_secret().to_owned()));
        }
        p
    }

    /// Reads `*_file` secrets and checks the combination.
    fn resolve(&mut self) -> Result<(), SettingsError> {
        let read = |key: &'static str, path: &Path| {
            std::fs::read_to_string(path)
                .map(|s| {
                    let s = s.strip_suffix('\n').unwrap_or(&s);
                    SecretString::from(s.strip_suffix('\r').unwrap_or(s).to_owned())
                })
                .map_err(|e| SettingsError::Invalid {
                    key,
                    message: format!("cannot read {}: {e}", path.display()),
                })
        };
        let both = |key| SettingsError::Invalid {
            key,
            message: "set either the secret or its `_file`, not both".into(),
        };
        if let Some(f) = &self.password_file {
            if self.password.is_some() {
                return Err(both("kafka.security.password_file"));
            }
            self.password = Some(read("kafka.security.password_file", f)?);
        }
        if let Some(f) = &self.key_password_file {
            if self.key_password.is_some() {
                return Err(both("kafka.security.key_password_file"));
            }
            self.key_password = Some(read("kafka.security.key_password_file", f)?);
        }
        let protocol = self.protocol.unwrap_or(SecurityProtocol::Plaintext);
        let invalid = |key, message: &str| {
            Err(SettingsError::Invalid {
                key,
                message: message.to_owned(),
            })
        };
        if protocol.uses_sasl() {
            if self.sasl_mechanism.is_none() {
                return invalid(
                    "kafka.security.sasl_mechanism",
                    "is required with a SASL protocol: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512",
                );
            }
            if self.username.as_deref().is_none_or(|u| u.trim().is_empty()) {
                return invalid(
                    "kafka.security.username",
                    "is required with a SASL protocol",
                );
            }
            if self.password.is_none() {
                return invalid(
                    "kafka.security.password",
                    "is required with a SASL protocol (or password_file, or LEADPULSE_KAFKA__SECURITY__PASSWORD)",
                );
            }
        } else if self.sasl_mechanism.is_some() || self.username.is_some() {
            return invalid(
                "kafka.security.protocol",
                "must be SASL_SSL or SASL_PLAINTEXT when a SASL mechanism or username is set",
            );
        }
        let tls_paths = [
            &self.ca_location,
            &self.certificate_location,
            &self.key_location,
        ];
        if !protocol.uses_tls() && tls_paths.iter().any(|p| p.is_some()) {
            return invalid(
                "kafka.security.protocol",
                "must be SSL or SASL_SSL when TLS files are set",
            );
        }
        if self.certificate_location.is_some() != self.key_location.is_some() {
            return invalid(
                "kafka.security.key_location",
                "a client certificate needs its key, and a key its certificate",
            );
        }
        for (key, path) in [
            ("kafka.security.ca_location", &self.ca_location),
            (
                "kafka.security.certificate_location",
                &self.certificate_location,
            ),
            ("kafka.security.key_location", &self.key_location),
        ] {
            if let Some(p) = path {
                if !p.is_file() {
                    return invalid(key, &format!("{} is not a readable file", p.display()));
                }
            }
        }
        Ok(())
    }
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
            security: SecuritySettings::default(),
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
    /// Input: sales feedback, keyed by lead_id, co-partitioned with `events`.
    pub feedback: String,
    /// Output: follow-up SLA breaches.
    pub breaches: String,
    /// Output: handoffs neither accepted nor rejected in time.
    pub overdue: String,
    /// Output: lifecycle stage transitions.
    pub lifecycle: String,
    /// Output: compacted state of each handoff, keyed by alert id.
    pub handoffs: String,
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
            feedback: "lead-feedback".into(),
            breaches: "sla-breaches".into(),
            overdue: "feedback-overdue".into(),
            lifecycle: "lead-lifecycle".into(),
            handoffs: "lead-handoffs".into(),
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

/// Where the sales roster lives.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingSettings {
    /// The roster file (docs/sales-loop.md). Without one, alerts carry no
    /// owner and the SLA loop does not run.
    pub path: Option<PathBuf>,
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
                    message: redact_password_lines(e.to_string().trim_end()),
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
            // Secrets and names stay strings, even when they look like numbers.
            let value = if path[0] == "kafka" && path.get(1).is_some_and(|p| p == "security") {
                toml::Value::String(value)
            } else {
                parse_env_value(&value)
            };
            set_path(&mut table, &path, value);
            overridden.push(name);
        }
        let origin = if overridden.is_empty() {
            origin
        } else {
            format!("{origin} with {}", overridden.join(", "))
        };
        let mut settings: Settings =
            table
                .try_into()
                .map_err(|e: toml::de::Error| SettingsError::Parse {
                    origin,
                    message: redact_password_lines(e.to_string().trim_end()),
                })?;
        settings.kafka.security.resolve()?;
        settings.admin.resolve()?;
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
        for (section, map) in [
            ("kafka.properties", &self.kafka.properties),
            ("kafka.consumer", &self.kafka.consumer),
            ("kafka.producer", &self.kafka.producer),
        ] {
            if let Some(key) = map.keys().find(|k| is_secret_property(k)) {
                return Err(SettingsError::Invalid {
                    key: "kafka.security",
                    message: format!(
                        "holds secrets: move `{key}` out of [{section}] into [kafka.security] \
                         (password, password_file, key_password, key_password_file), \
                         where it is kept out of logs and debug output"
                    ),
                });
            }
        }
        if self.admin.enabled && self.admin.listen.parse::<std::net::SocketAddr>().is_err() {
            return bad(
                "admin.listen",
                "must be an IP address and port, e.g. 127.0.0.1:9898",
            );
        }
        if self.shutdown.grace_period_secs == 0 {
            return bad("shutdown.grace_period_secs", "must be at least 1");
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

/// TOML errors quote the offending line or value: when one is about a
/// password, blank out values, so a typo never prints a secret.
fn redact_password_lines(message: &str) -> String {
    if !message.to_ascii_lowercase().contains("password") {
        return message.to_owned();
    }
    message
        .lines()
        .map(|line| {
            if let Some(eq) = line.find('=') {
                return format!("{}= [redacted]", &line[..eq]);
            }
            if line.trim_start().starts_with("in `") {
                return line.to_owned(); // the key path
            }
            // `invalid type: integer `123`, expected …`: drop quoted values.
            let mut out = String::new();
            for (i, part) in line.split('`').enumerate() {
                out.push_str(if i % 2 == 1 { "`[redacted]`" } else { part });
            }
            out
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// librdkafka properties that carry secrets.
fn is_secret_property(key: &str) -> bool {
    matches!(
        key,
        "sasl.password"
            | "ssl.key.password"
            | "ssl.keystore.password"
            | "ssl.key.pem"
            | "ssl_key"
            | "sasl.oauthbearer.client.secret"
            | "sasl.oauthbearer.config"
    )
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
    fn secrets_come_from_files_or_env_and_never_print() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret-from-file\n").unwrap();
        let text = format!(
            "[kafka.security]\nprotocol = \"SASL_SSL\"\nsasl_mechanism = \"SCRAM-SHA-512\"\n\
             username = \"svc\"\npassword_file = \"{}\"\n",
            pw.display()
        );
        let s = load(&text, &[]).unwrap();
        let props = s.kafka.security.properties();
        assert!(props.contains(&("sasl.password", "s3cret-from-file".into())));
        assert!(props.contains(&("sasl.mechanism", "SCRAM-SHA-512".into())));
        assert!(props.contains(&("security.protocol", "sasl_ssl".into())));
        assert!(
            !format!("{s:?}").contains("s3cret"),
            "Debug leaks the secret"
        );

        // From the environment, kept a string even when it looks like a number.
        let s = load(
            "[kafka.security]\nprotocol = \"SASL_SSL\"\nsasl_mechanism = \"PLAIN\"\nusername = \"svc\"\n",
            &[("LEADPULSE_KAFKA__SECURITY__PASSWORD", "12345")],
        )
        .unwrap();
        assert!(s
            .kafka
            .security
            .properties()
            .contains(&("sasl.password", "12345".into())));
    }

    #[test]
    fn security_mistakes_are_explained_without_secrets() {
        let err = load(
            "[kafka.security]\nprotocol = \"SASL_SSL\"\nusername = \"svc\"\npassword = \"hunter22\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("kafka.security.sasl_mechanism"), "{err}");
        assert!(!err.contains("hunter22"), "{err}");
        let err = load(
            "[kafka.properties]\n\"sasl.password\" = \"hunter22\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("[kafka.security]") && !err.contains("hunter22"),
            "{err}"
        );
        let err = load(
            "[kafka.security]\nprotocol = \"SSL\"\nca_location = \"/nope.pem\"\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("kafka.security.ca_location"), "{err}");
        let err = load("[kafka.security]\npassword = 12345678\n", &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("password") && !err.contains("12345678"),
            "{err}"
        );
        let err = load("[kafka.security]\npassword = \"hunter22\n", &[])
            .unwrap_err()
            .to_string();
        assert!(!err.contains("hunter22"), "{err}");
        let err = load("[admin]\nlisten = \"localhost\"\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains("admin.listen"), "{err}");
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
