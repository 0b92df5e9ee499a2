//! `[admin]`, `[shutdown]` and `[log]`: how the service is watched and
//! stopped.

use serde::Deserialize;

/// The admin HTTP endpoint: `/metrics`, `/healthz`, `/readyz`, `/leads/{id}`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminSettings {
    /// Serve the admin endpoint at all.
    pub enabled: bool,
    /// Address to bind. Loopback by default: expose it on purpose (e.g.
    /// `0.0.0.0:9898` in a container) and only on a trusted network.
    pub listen: String,
}

impl Default for AdminSettings {
    fn default() -> Self {
        AdminSettings {
            enabled: true,
            listen: "127.0.0.1:9898".into(),
        }
    }
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
