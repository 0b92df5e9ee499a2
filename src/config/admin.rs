//! `[admin]`, `[shutdown]` and `[log]`: how the service is watched and
//! stopped.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::SettingsError;

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
    pub(super) fn resolve(&mut self) -> Result<(), SettingsError> {
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
/// environment override of digits is also offered as a number first.
fn admin_token<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SecretString>, D::Error> {
    struct Token;
    impl serde::de::Visitor<'_> for Token {
        type Value = Option<SecretString>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a string")
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
