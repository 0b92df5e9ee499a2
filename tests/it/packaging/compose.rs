//! Every file docker compose mounts or names exists: its build contexts
//! and bind mounts are in the repository, and each path a container is
//! told to read (in its command, environment, the config its command names,
//! or Grafana's provisioning) lands in a mounted file, or, for the leadpulse
//! image, in a file the image holds.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::paths::{path_list, path_words, toml_paths};
use super::{files, root, yaml_docs};

/// The host file behind `path` in a container with `mounts` (container
/// path → host path), through the most specific mount.
fn on_host(mounts: &BTreeMap<String, PathBuf>, path: &str) -> Option<PathBuf> {
    mounts
        .iter()
        .filter_map(|(target, host)| {
            let rest = path.strip_prefix(target.as_str())?;
            let host = match rest.strip_prefix('/') {
                _ if rest.is_empty() => host.clone(),
                Some(inside) => host.join(inside),
                None => return None,
            };
            Some((target.len(), host))
        })
        .max_by_key(|(len, _)| *len)
        .map(|(_, host)| host)
}

/// Where the leadpulse image puts files: the destinations of the runtime
/// stage's `COPY` lines.
fn image_files() -> BTreeSet<String> {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let runtime = dockerfile
        .rsplit("\nFROM ")
        .next()
        .expect("the Dockerfile has stages");
    runtime
        .lines()
        .filter_map(|l| l.strip_prefix("COPY "))
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_owned)
        .collect()
}

/// The files at `host`: itself, or those in the folder.
fn mounted_files(host: &Path) -> Vec<PathBuf> {
    if host.is_dir() {
        let mut out = Vec::new();
        files(host, &[""], &mut out);
        out
    } else {
        vec![host.to_owned()]
    }
}

#[test]
fn every_path_it_mounts_or_names_exists() {
    let compose = &yaml_docs(&root().join("docker-compose.yml"))[0];
    let named_volumes = compose["volumes"].as_object().cloned().unwrap_or_default();
    let image_files = image_files();
    let mut checked = 0;
    for (name, service) in compose["services"].as_object().unwrap() {
        let builds_leadpulse = !service["build"].is_null();
        if let Some(build) = service.get("build") {
            let context = build
                .as_str()
                .or_else(|| build["context"].as_str())
                .unwrap_or_else(|| panic!("{name}: build without a context"));
            let dockerfile = build["dockerfile"].as_str().unwrap_or("Dockerfile");
            let file = root().join(context).join(dockerfile);
            assert!(
                file.is_file(),
                "{name}: builds from {}, which does not exist",
                file.display()
            );
            checked += 1;
        }
        for env_file in path_list(&service["env_file"]) {
            assert!(
                root().join(&env_file).is_file(),
                "{name}: env_file {env_file} does not exist"
            );
            checked += 1;
        }

        let mut mounts = BTreeMap::new();
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let (source, target) = match volume {
                Value::String(s) => {
                    let mut parts = s.split(':');
                    let source = parts.next().unwrap().to_owned();
                    let target = parts
                        .next()
                        .unwrap_or_else(|| panic!("{name}: volume {s:?} has no target"));
                    (source, target.to_owned())
                }
                v => (
                    v["source"].as_str().unwrap_or_default().to_owned(),
                    v["target"].as_str().unwrap().to_owned(),
                ),
            };
            if source.starts_with('.') || source.starts_with('/') {
                let host = root().join(source.trim_start_matches("./"));
                assert!(
                    host.exists(),
                    "{name}: mounts {source} at {target}, and {source} does not exist"
                );
                mounts.insert(target, host);
                checked += 1;
            } else {
                assert!(
                    named_volumes.contains_key(&source),
                    "{name}: mounts volume {source:?}, which compose does not declare"
                );
            }
        }

        // Paths the service is told to read: in its command and
        // environment, in the TOML config its command names, and in the
        // provisioning files it mounts.
        let mut wanted: Vec<(String, String)> = Vec::new();
        for (what, value) in [
            ("command", &service["command"]),
            ("environment", &service["environment"]),
        ] {
            wanted.extend(path_words(value).into_iter().map(|p| (what.to_owned(), p)));
        }
        for config in path_words(&service["command"]) {
            if let Some(host) = on_host(&mounts, &config).filter(|_| config.ends_with(".toml")) {
                let text = std::fs::read_to_string(&host).unwrap();
                let what = format!("config {config}");
                wanted.extend(
                    toml_paths(&text, &what)
                        .into_iter()
                        .map(|p| (what.clone(), p)),
                );
            }
        }
        for (target, host) in mounts
            .iter()
            .filter(|(t, _)| t.starts_with("/etc/grafana/provisioning"))
        {
            for file in mounted_files(host) {
                for doc in yaml_docs(&file) {
                    for provider in doc["providers"].as_array().into_iter().flatten() {
                        if let Some(p) = provider["options"]["path"].as_str() {
                            wanted.push((format!("provisioning in {target}"), p.to_owned()));
                        }
                    }
                }
            }
        }
        for (what, path) in wanted {
            match on_host(&mounts, &path) {
                Some(host) => {
                    assert!(
                        host.exists(),
                        "{name}: its {what} names {path}, mounted from {}, which does not exist",
                        host.display()
                    );
                    checked += 1;
                }
                None if builds_leadpulse
                    || service["image"] == compose["services"]["leadpulse"]["image"] =>
                {
                    assert!(
                        image_files.contains(&path),
                        "{name}: its {what} names {path}, which is neither mounted nor in the image"
                    );
                    checked += 1;
                }
                // A third-party image's own program (e.g. the Kafka scripts).
                None if what == "command" => {}
                None => panic!("{name}: its {what} names {path}, which is not mounted"),
            }
        }
    }
    assert!(
        checked >= 10,
        "compose mounts and names files: {checked} checked"
    );
}
