//! What can be checked of the packaging without a container engine: every
//! YAML and JSON file parses; the config used by docker compose and by the
//! Kubernetes manifests passes `leadpulse config check` with the
//! environment they set; every metric the Grafana dashboard queries is one
//! the service exports, and docs/metrics.md documents exactly those. The
//! image's build context builds (`image`), and every file compose and the
//! manifests mount or name exists (`compose`, `kubernetes`); the deploy
//! files pass Kubernetes', KEDA's and Compose's own schemas (`schemas`).

mod compose;
mod image;
mod kubernetes;
mod paths;
mod schemas;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" {
                files(&path, exts, out);
            }
        } else if exts.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

fn yaml_docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::Deserializer::from_str(&text)
        .map(|d| {
            let v: serde_norway::Value = serde::Deserialize::deserialize(d)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            serde_json::to_value(v).unwrap()
        })
        .filter(|v| !v.is_null())
        .collect()
}

#[test]
fn every_yaml_and_json_file_parses() {
    let mut yaml = Vec::new();
    files(root(), &[".yaml", ".yml"], &mut yaml);
    assert!(yaml.len() >= 10, "{yaml:?}");
    for f in &yaml {
        assert!(!yaml_docs(f).is_empty(), "{}: empty", f.display());
    }
    let mut json = Vec::new();
    files(root(), &[".json"], &mut json);
    assert!(!json.is_empty());
    for f in &json {
        serde_json::from_str::<Value>(&std::fs::read_to_string(f).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

/// Runs `leadpulse config check FILE` with exactly `env` as LEADPULSE_*.
fn config_check(file: &Path, env: &BTreeMap<String, String>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadpulse"));
    cmd.args(["config", "check"]).arg(file);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("LEADPULSE_")) {
        cmd.env_remove(k);
    }
    cmd.envs(env);
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "leadpulse config check {} with {env:?}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn model_check(file: &Path) {
    let out = Command::new(env!("CARGO_BIN_EXE_leadpulse"))
        .args(["model", "check"])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn leadpulse_env(env: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match env {
        Value::Object(m) => {
            for (k, v) in m {
                out.insert(k.clone(), v.as_str().map_or(v.to_string(), str::to_owned));
            }
        }
        Value::Array(items) => {
            for item in items {
                // Kubernetes `env:` entries; `valueFrom` ones are not known here.
                if let (Some(k), Some(v)) = (item["name"].as_str(), item["value"].as_str()) {
                    out.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        _ => {}
    }
    out.retain(|k, _| k.starts_with("LEADPULSE_"));
    out
}

#[test]
fn compose_config_and_env_pass_config_check() {
    let compose = &yaml_docs(&root().join("docker-compose.yml"))[0];
    let services = compose["services"].as_object().unwrap();
    for name in [
        "kafka",
        "kafka-init",
        "leadpulse",
        "generator",
        "prometheus",
        "grafana",
    ] {
        assert!(services.contains_key(name), "compose lacks `{name}`");
    }
    for name in ["leadpulse", "generator"] {
        let service = &services[name];
        let env = leadpulse_env(&service["environment"]);
        assert!(!env.is_empty(), "{name}: no LEADPULSE_ variables");
        let mut checked = false;
        for v in service["volumes"].as_array().unwrap() {
            let (host, container) = v.as_str().unwrap().split_once(':').unwrap();
            let host = root().join(host.trim_start_matches("./"));
            assert!(host.exists(), "{name}: {} does not exist", host.display());
            if container.starts_with("/etc/leadpulse/leadpulse.toml") {
                config_check(&host, &env);
                checked = true;
            }
            if container.starts_with("/etc/leadpulse/model.toml") {
                model_check(&host);
            }
            if container.starts_with("/etc/leadpulse/routing.toml") {
                routing_check(&std::fs::read_to_string(&host).unwrap());
            }
        }
        assert!(checked, "{name}: no config file mounted");
    }
    // The Dockerfile's defaults must hold too.
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let env: BTreeMap<String, String> = dockerfile
        .replace("\\\n", " ")
        .lines()
        .filter_map(|l| l.strip_prefix("ENV "))
        .flat_map(str::split_whitespace)
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| k.starts_with("LEADPULSE_"))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert!(env.contains_key("LEADPULSE_ADMIN__LISTEN"), "{env:?}");
    config_check(&root().join("deploy/leadpulse.toml"), &env);
    assert!(
        dockerfile.matches("\nFROM ").count() >= 2,
        "not multi-stage"
    );
    let user = dockerfile
        .lines()
        .rfind(|l| l.starts_with("USER "))
        .expect("the runtime image sets USER");
    assert!(!user.contains("root") && !user.contains(" 0"), "{user}");
}

#[test]
fn kubernetes_config_and_model_pass_their_checks() {
    let dir = root().join("deploy/kubernetes");
    let mut by_kind: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut yaml = Vec::new();
    files(&dir, &[".yaml"], &mut yaml);
    for f in &yaml {
        for doc in yaml_docs(f) {
            if let Some(kind) = doc["kind"].as_str() {
                by_kind.entry(kind.to_owned()).or_default().push(doc);
            }
        }
    }
    for kind in [
        "ConfigMap",
        "StatefulSet",
        "Service",
        "PodDisruptionBudget",
        "ScaledObject",
    ] {
        assert!(
            by_kind.contains_key(kind),
            "deploy/kubernetes has no {kind}"
        );
    }
    let sts = &by_kind["StatefulSet"][0];
    let container = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    let scaled = &by_kind["ScaledObject"][0];
    assert_eq!(scaled["spec"]["scaleTargetRef"]["kind"], "StatefulSet");
    assert_eq!(scaled["spec"]["triggers"][0]["type"], "kafka");

    // The ConfigMap's files, as mounted, with the Secret's files in place.
    let cm = &by_kind["ConfigMap"][0]["data"];
    let tmp = tempfile::tempdir().unwrap();
    let secrets = tmp.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::write(secrets.join("password"), "x").unwrap();
    std::fs::write(secrets.join("ca.pem"), "x").unwrap();
    let config = cm["leadpulse.toml"]
        .as_str()
        .unwrap()
        .replace("/etc/leadpulse/secrets", &secrets.display().to_string());
    let config_path = tmp.path().join("leadpulse.toml");
    std::fs::write(&config_path, config).unwrap();
    config_check(&config_path, &leadpulse_env(&container["env"]));
    let model_path = tmp.path().join("model.toml");
    std::fs::write(&model_path, cm["model.toml"].as_str().unwrap()).unwrap();
    model_check(&model_path);
    routing_check(cm["routing.toml"].as_str().unwrap());
    let mounts: BTreeSet<&str> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["mountPath"].as_str())
        .collect();
    assert!(
        mounts.contains("/etc/leadpulse"),
        "the ConfigMap is mounted as a folder, so model edits reach the pod: {mounts:?}"
    );
    assert!(mounts.contains("/etc/leadpulse/secrets"), "{mounts:?}");
}

fn routing_check(text: &str) {
    let roster =
        leadpulse::core::Roster::from_toml("routing.toml", text).unwrap_or_else(|e| panic!("{e}"));
    assert!(!roster.teams.is_empty());
}

fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("leadpulse_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        let name = &tail[..end];
        let base = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s))
            .unwrap_or(name);
        names.insert(base.to_owned());
        rest = &tail[end..];
    }
    names
}

#[test]
fn dashboard_queries_only_exported_metrics_and_docs_list_them_all() {
    let exported: BTreeSet<String> = leadpulse::telemetry::METRICS
        .iter()
        .map(|(n, _)| (*n).to_owned())
        .collect();
    let dashboard: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("deploy/grafana/leadpulse.json")).unwrap(),
    )
    .unwrap();
    let mut queried = BTreeSet::new();
    let mut titles = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        titles.push(panel["title"].as_str().unwrap_or_default().to_owned());
        for t in panel["targets"].as_array().into_iter().flatten() {
            queried.extend(metric_names(t["expr"].as_str().unwrap()));
        }
    }
    assert!(!queried.is_empty());
    let unknown: Vec<_> = queried.difference(&exported).collect();
    assert!(
        unknown.is_empty(),
        "the dashboard queries metrics leadpulse does not export: {unknown:?}"
    );
    for row in ["Throughput", "Lag", "Alerts", "SLA compliance", "Funnel"] {
        assert!(
            titles.iter().any(|t| t == row),
            "no `{row}` row: {titles:?}"
        );
    }

    let docs = std::fs::read_to_string(root().join("docs/metrics.md")).unwrap();
    let documented = metric_names(&docs);
    assert_eq!(
        documented, exported,
        "docs/metrics.md and telemetry::METRICS differ"
    );
}
