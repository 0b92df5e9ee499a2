//! Every file the Kubernetes manifests apply, mount or name exists: the
//! files kustomize applies, the ConfigMaps and Secrets the pod mounts, and
//! the paths the pod reads, each a key of the ConfigMap or Secret mounted
//! there; the ConfigMap's model and roster are copies of the examples.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_json::Value;

use super::paths::{path_list, path_words, toml_paths};
use super::{files, root, yaml_docs};

/// The manifests of deploy/kubernetes, each with the file it came from.
fn manifests() -> Vec<(PathBuf, Value)> {
    let mut yaml = Vec::new();
    files(
        &root().join("deploy/kubernetes"),
        &[".yaml", ".yml"],
        &mut yaml,
    );
    yaml.sort();
    yaml.into_iter()
        .flat_map(|f| yaml_docs(&f).into_iter().map(move |d| (f.clone(), d)))
        .collect()
}

fn named<'a>(manifests: &'a [(PathBuf, Value)], kind: &str, name: &str) -> Option<&'a Value> {
    manifests
        .iter()
        .map(|(_, d)| d)
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
}

/// The keys a ConfigMap or Secret offers as files.
fn keys(object: &Value) -> BTreeSet<String> {
    ["data", "stringData", "binaryData"]
        .iter()
        .filter_map(|k| object[*k].as_object())
        .flat_map(|m| m.keys().cloned())
        .collect()
}

#[test]
fn every_file_the_manifests_apply_mount_or_name_exists() {
    let dir = root().join("deploy/kubernetes");
    let manifests = manifests();

    // What `kubectl apply -k` applies: every listed file exists, and every
    // manifest of the folder (but the examples) is listed.
    let kustomization = &yaml_docs(&dir.join("kustomization.yaml"))[0];
    let mut listed = BTreeSet::new();
    for key in ["resources", "patchesStrategicMerge", "components"] {
        listed.extend(path_list(&kustomization[key]));
    }
    listed.extend(path_list(&kustomization["patches"]));
    for generator in ["configMapGenerator", "secretGenerator"] {
        for g in kustomization[generator].as_array().into_iter().flatten() {
            listed.extend(
                path_list(&g["files"])
                    .into_iter()
                    .map(|f| f.rsplit_once('=').map_or(f.clone(), |(_, p)| p.to_owned())),
            );
            listed.extend(path_list(&g["envs"]));
        }
    }
    assert!(!listed.is_empty(), "kustomization.yaml lists no resources");
    for f in &listed {
        assert!(
            dir.join(f).exists(),
            "kustomization.yaml lists {f}, which does not exist"
        );
    }
    for (file, _) in &manifests {
        let name = file.file_name().unwrap().to_string_lossy();
        if name == "kustomization.yaml" || name.ends_with(".example.yaml") {
            continue;
        }
        assert!(
            listed.contains(name.as_ref()),
            "kustomization.yaml does not apply {name}"
        );
    }

    // The pod's volumes are ConfigMaps and Secrets of the manifests, and
    // every path it reads is a key of the one mounted there.
    let sts = named(&manifests, "StatefulSet", "leadpulse").expect("a StatefulSet `leadpulse`");
    let pod = &sts["spec"]["template"]["spec"];
    let volumes: BTreeMap<&str, &Value> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["name"].as_str().unwrap(), v))
        .collect();
    let mut checked = 0;
    for container in pod["containers"].as_array().unwrap() {
        // Mount path → (what is mounted, the files it offers).
        let mut mounts: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
        for m in container["volumeMounts"].as_array().into_iter().flatten() {
            let name = m["name"].as_str().unwrap();
            let volume = volumes
                .get(name)
                .unwrap_or_else(|| panic!("volumeMount {name}: no such volume"));
            let (what, object) = if let Some(cm) = volume["configMap"]["name"].as_str() {
                (
                    format!("ConfigMap {cm}"),
                    named(&manifests, "ConfigMap", cm),
                )
            } else if let Some(secret) = volume["secret"]["secretName"].as_str() {
                (
                    format!("Secret {secret}"),
                    named(&manifests, "Secret", secret),
                )
            } else {
                panic!("volume {name}: neither a ConfigMap nor a Secret: {volume}")
            };
            let object =
                object.unwrap_or_else(|| panic!("volume {name}: {what} is in no manifest"));
            let mut offered = keys(object);
            if let Some(items) = volume["configMap"]["items"].as_array() {
                for item in items {
                    let key = item["key"].as_str().unwrap();
                    assert!(
                        offered.contains(key),
                        "volume {name}: {what} has no key {key}"
                    );
                }
                offered = items
                    .iter()
                    .map(|i| i["path"].as_str().unwrap().to_owned())
                    .collect();
            }
            mounts.insert(m["mountPath"].as_str().unwrap().to_owned(), (what, offered));
        }
        let mut wanted = path_words(&container["args"]);
        wanted.extend(path_words(&container["command"]));
        wanted.extend(path_words(&container["env"]));
        // The paths in the config file the pod is started with.
        let mut configs = 0;
        for config in wanted.clone().iter().filter(|p| p.ends_with(".toml")) {
            let (dir, key) = config.rsplit_once('/').unwrap();
            let Some((what, _)) = mounts.get(dir) else {
                continue;
            };
            if let Some(cm) = what.strip_prefix("ConfigMap ") {
                let text = named(&manifests, "ConfigMap", cm).unwrap()["data"][key]
                    .as_str()
                    .unwrap_or_else(|| {
                        panic!("the pod reads {config}, but {what} has no key {key}")
                    })
                    .to_owned();
                wanted.extend(toml_paths(&text, &format!("{what}: {key}")));
                configs += 1;
            }
        }
        assert!(
            configs > 0,
            "the pod is started with a config from its ConfigMap"
        );
        assert!(!wanted.is_empty(), "the pod reads its config from a mount");
        for path in wanted {
            let (target, (what, offered)) = mounts
                .iter()
                .filter(|(t, _)| path.starts_with(&format!("{t}/")))
                .max_by_key(|(t, _)| t.len())
                .unwrap_or_else(|| panic!("the pod reads {path}, which is under no mount"));
            let key = &path[target.len() + 1..];
            assert!(
                offered.contains(key),
                "the pod reads {path}, but {what} mounted at {target} has no key {key}: {offered:?}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "{checked} paths checked");

    // KEDA's trigger authentication reads keys of a Secret of the manifests.
    for scaled in manifests
        .iter()
        .map(|(_, d)| d)
        .filter(|d| d["kind"] == "ScaledObject")
    {
        let target = &scaled["spec"]["scaleTargetRef"];
        assert!(
            named(
                &manifests,
                target["kind"].as_str().unwrap(),
                target["name"].as_str().unwrap()
            )
            .is_some(),
            "the ScaledObject scales {target}, which is in no manifest"
        );
        for trigger in scaled["spec"]["triggers"].as_array().into_iter().flatten() {
            let Some(auth) = trigger["authenticationRef"]["name"].as_str() else {
                continue;
            };
            let auth = named(&manifests, "TriggerAuthentication", auth)
                .unwrap_or_else(|| panic!("no TriggerAuthentication {auth}"));
            for r in auth["spec"]["secretTargetRef"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let (secret, key) = (r["name"].as_str().unwrap(), r["key"].as_str().unwrap());
                let secret_keys = keys(
                    named(&manifests, "Secret", secret)
                        .unwrap_or_else(|| panic!("KEDA reads Secret {secret}, in no manifest")),
                );
                assert!(
                    secret_keys.contains(key),
                    "Secret {secret} has no key {key}"
                );
            }
        }
    }
}

#[test]
fn the_configmap_copies_of_the_example_model_and_roster_are_current() {
    let manifests = manifests();
    let cm = named(&manifests, "ConfigMap", "leadpulse").expect("a ConfigMap `leadpulse`");
    for key in ["model.toml", "routing.toml"] {
        let copy = cm["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("the ConfigMap has no {key}"));
        let example = std::fs::read_to_string(root().join("examples").join(key)).unwrap();
        assert!(
            copy == example,
            "deploy/kubernetes/configmap.yaml's {key} is not a copy of examples/{key}; \
             paste the example into the ConfigMap again"
        );
    }
}
