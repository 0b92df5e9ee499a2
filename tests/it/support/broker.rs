//! Reaching the broker under test: its address, client settings, names no
//! other run uses.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use rdkafka::ClientConfig;

/// The broker under test. Fails, never skips, when there is none.
pub fn bootstrap() -> String {
    match std::env::var("KAFKA_BOOTSTRAP") {
        Ok(b) if !b.trim().is_empty() => b,
        _ => panic!(
            "KAFKA_BOOTSTRAP is not set. These tests need a real Kafka broker: run \
             `scripts/test.sh`, which starts one, or start one with `scripts/kafka/start.sh` \
             (or `docker compose up -d kafka`) and export KAFKA_BOOTSTRAP=host:port"
        ),
    }
}

/// How a test reaches its broker: the plain `KAFKA_BOOTSTRAP` one, or a
/// SASL_SSL listener (see `security`).
#[derive(Clone)]
pub struct Access {
    pub bootstrap: String,
    /// librdkafka properties for the test's own clients.
    pub properties: Vec<(String, String)>,
    /// Extra `[kafka.security]` TOML for the service.
    pub service_toml: String,
}

impl Access {
    pub fn plain() -> Self {
        Access {
            bootstrap: bootstrap(),
            properties: Vec::new(),
            service_toml: String::new(),
        }
    }

    /// A client config for the test's own producers and readers.
    pub fn client(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        c
    }
}

/// A name no other test run uses.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000_000
    )
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

pub fn model_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/model.toml")
}
