//! `[pipeline]`, `[model]` and `[routing]`: the transaction loop and the
//! files it scores and routes with.

use std::path::PathBuf;

use serde::Deserialize;

use crate::codec::Format;

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

/// A `[[shadow]]` entry: a challenger model scored live beside the
/// champion (`model.path`) on the same events, its alerts on
/// `topics.shadow_alerts` only.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShadowSettings {
    /// The challenger's model file.
    pub model: PathBuf,
}

/// Where the sales roster lives.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RoutingSettings {
    /// The roster file (docs/sales-loop.md). Without one, alerts carry no
    /// owner and the SLA loop does not run.
    pub path: Option<PathBuf>,
}
