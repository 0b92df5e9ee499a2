//! The real schema registry of the tests (Apicurio Registry, started by
//! scripts/test.sh or by a test itself) and the Python that frames events
//! and reads outputs with the stock confluent-kafka serdes.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::input::InputRecord;
use super::python::python;

/// The shared registry's Confluent API base, from `SCHEMA_REGISTRY_URL`.
/// Fails, never skips.
pub fn registry_url() -> String {
    match std::env::var("SCHEMA_REGISTRY_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "SCHEMA_REGISTRY_URL is not set. The schema registry tests need a registry: run \
             `scripts/test.sh`, or `eval \"$(scripts/schema-registry/start.sh)\"; export SCHEMA_REGISTRY_URL`"
        ),
    }
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A registry of one test's own, which it may stop and start again: the
/// same data dir brings it back on the same port with its schemas.
pub struct OwnRegistry {
    pub dir: tempfile::TempDir,
    pub url: String,
}

impl OwnRegistry {
    pub fn start() -> OwnRegistry {
        Self::start_with(&[])
    }

    /// Started with `env` (e.g. `QUARKUS_HTTP_SSL_…`, which the registry
    /// reads as its settings).
    pub fn start_with(env: &[(&str, &str)]) -> OwnRegistry {
        let dir = tempfile::Builder::new()
            .prefix("leadpulse-schema-registry.")
            .tempdir()
            .unwrap();
        let url = start_on(dir.path(), env);
        OwnRegistry { dir, url }
    }

    /// Stops it, keeping its data.
    pub fn stop(&self) {
        let status = Command::new(root().join("scripts/schema-registry/stop.sh"))
            .arg("--keep")
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "stop.sh failed");
    }

    /// Starts it again on its data (and port).
    pub fn restart(&self) {
        assert_eq!(
            start_on(self.dir.path(), &[]),
            self.url,
            "the registry moved"
        );
    }
}

impl Drop for OwnRegistry {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/schema-registry/stop.sh"))
            .arg("--keep")
            .arg(self.dir.path())
            .status();
    }
}

fn start_on(dir: &Path, env: &[(&str, &str)]) -> String {
    let out = Command::new(root().join("scripts/schema-registry/start.sh"))
        .arg(dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "start.sh failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("SCHEMA_REGISTRY_URL=").map(str::to_owned))
        .expect("start.sh prints SCHEMA_REGISTRY_URL")
}

/// `leadpulse proto-descriptors`, written into `dir`.
pub fn descriptors(dir: &Path) -> PathBuf {
    let path = dir.join("leadpulse.fds");
    let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .arg("proto-descriptors")
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&path, out.stdout).unwrap();
    path
}

/// How a record is framed by tests/contract/frame_events.py.
#[derive(Clone, Copy)]
pub enum Framing {
    /// ProtobufSerializer (the record must be a protobuf `LeadEvent`).
    Proto,
    /// JSONSerializer with the first event schema.
    Json,
    /// JSONSerializer with a compatible second version (a new id).
    Json2,
}

/// Frames `records[i]` for each `(i, how)` in place, with the stock
/// serializers registering `<topic>-value` on `url`; returns the ids the
/// script printed (`{"proto": id, "json": id, ...}`).
pub fn frame_with_python(
    url: &str,
    dir: &Path,
    topic: &str,
    records: &mut [InputRecord],
    which: &[(usize, Framing)],
) -> serde_json::Value {
    let input = dir.join("to-frame.jsonl");
    let output = dir.join("framed.txt");
    let mut text = String::new();
    for &(i, how) in which {
        let mode = match how {
            Framing::Proto => "proto",
            Framing::Json => "json",
            Framing::Json2 => "json2",
        };
        let hex: String = records[i]
            .payload
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        text.push_str(&serde_json::json!({"mode": mode, "topic": topic, "hex": hex}).to_string());
        text.push('\n');
    }
    std::fs::write(&input, text).unwrap();
    let out = Command::new(python())
        .arg(root().join("tests/contract/frame_events.py"))
        .arg(url)
        .arg(descriptors(dir))
        .arg(&input)
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "frame_events.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let framed = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = framed.lines().collect();
    assert_eq!(lines.len(), which.len());
    for (&(i, _), line) in which.iter().zip(lines) {
        records[i].payload = (0..line.len())
            .step_by(2)
            .map(|k| u8::from_str_radix(&line[k..k + 2], 16).unwrap())
            .collect();
        records[i].content_type = None;
    }
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Reads `topic=Message` pairs with tests/contract/read_registry_outputs.py
/// (the stock deserializers with a registry client).
pub fn read_with_python(url: &str, dir: &Path, topics: &[(String, &str)]) -> serde_json::Value {
    let out = Command::new(python())
        .arg(root().join("tests/contract/read_registry_outputs.py"))
        .arg(url)
        .arg(super::broker::bootstrap())
        .arg(descriptors(dir))
        .args(topics.iter().map(|(t, m)| format!("{t}={m}")))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "read_registry_outputs.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}
