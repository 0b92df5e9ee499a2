//! Model hot reload: the running service picks up a changed model file
//! between transactions, without a restart.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use xxhash_rust::xxh3::xxh3_64;

use crate::core::Model;

/// Polls the model file and parses it when its content changes.
pub struct ModelWatcher {
    path: PathBuf,
    interval: Duration,
    last_check: Instant,
    /// Hash of the content last loaded or last refused, so a broken file is
    /// reported once, not on every poll.
    seen: u64,
}

impl ModelWatcher {
    /// Watches `path`, whose current content produced the running model.
    pub fn new(path: PathBuf, interval: Duration) -> Self {
        let seen = std::fs::read(&path).map_or(0, |b| xxh3_64(&b));
        ModelWatcher {
            path,
            interval,
            last_check: Instant::now(),
            seen,
        }
    }

    /// A new valid model, if the file changed since the last call. A file
    /// that does not parse is logged with its errors and the running model
    /// stays.
    pub fn poll(&mut self) -> Option<Arc<Model>> {
        if self.last_check.elapsed() < self.interval {
            return None;
        }
        self.last_check = Instant::now();
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot read the model file; keeping the running model");
                return None;
            }
        };
        let hash = xxh3_64(&bytes);
        if hash == self.seen {
            return None;
        }
        self.seen = hash;
        let text = String::from_utf8_lossy(&bytes);
        match Model::from_toml(&self.path.display().to_string(), &text) {
            Ok(model) => Some(Arc::new(model)),
            Err(e) => {
                tracing::error!(error = %e, "the changed model file is invalid; keeping the running model");
                crate::telemetry::model_reload(false);
                None
            }
        }
    }
}
