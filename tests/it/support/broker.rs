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

/// A broker of the test's own (`scripts/kafka/start.sh` on a data folder of
/// its own), for tests that stop and restart it. Removed on drop.
pub struct OwnBroker {
    pub data_dir: PathBuf,
    pub bootstrap: String,
}

impl OwnBroker {
    /// Starts a fresh single-node broker on free ports.
    pub fn start() -> Self {
        let data_dir = tempfile::Builder::new()
            .prefix("leadpulse-kafka.")
            .tempdir_in("/tmp")
            .unwrap()
            .keep();
        let bootstrap = start_on(&data_dir);
        OwnBroker {
            data_dir,
            bootstrap,
        }
    }

    /// How the service and the test's clients reach it.
    pub fn access(&self) -> Access {
        Access {
            bootstrap: self.bootstrap.clone(),
            properties: Vec::new(),
            service_toml: String::new(),
        }
    }

    /// Stops the broker, keeping its data: an outage.
    pub fn stop(&self) {
        let ok = std::process::Command::new(script("stop.sh"))
            .arg("--keep")
            .arg(&self.data_dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "stop.sh --keep {} failed", self.data_dir.display());
    }

    /// Starts it again on the same data and ports.
    pub fn restart(&self) {
        let bootstrap = start_on(&self.data_dir);
        assert_eq!(
            bootstrap, self.bootstrap,
            "the broker came back on other ports"
        );
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        let _ = std::process::Command::new(script("stop.sh"))
            .arg(&self.data_dir)
            .status();
    }
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts/kafka")
        .join(name)
}

/// Runs start.sh on `data_dir`; returns the bootstrap address it prints.
fn start_on(data_dir: &Path) -> String {
    let out = std::process::Command::new(script("start.sh"))
        .arg(data_dir)
        .stderr(std::process::Stdio::inherit())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "start.sh failed: {stdout}");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("KAFKA_BOOTSTRAP="))
        .unwrap_or_else(|| panic!("start.sh printed no KAFKA_BOOTSTRAP: {stdout}"))
        .to_owned()
}
