//! The deploy files pass the schemas of the systems that read them
//! (`scripts/validate-deploy.py`: Kubernetes' OpenAPI schemas, KEDA's CRDs,
//! the Compose specification), and a broken copy of each fails, naming the
//! file and the field.

use std::path::Path;
use std::process::{Command, Output};

use super::root;
use crate::support::python;

fn validate(tree: &Path) -> Output {
    Command::new(python())
        .arg(root().join("scripts/validate-deploy.py"))
        .arg("--root")
        .arg(tree)
        .output()
        .expect("run scripts/validate-deploy.py")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A copy of the deploy files to break one at a time.
fn copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    super::files(
        &root().join("deploy"),
        &[".yaml", ".yml", ".json", ".toml"],
        &mut files,
    );
    for f in files {
        let to = dir.path().join(f.strip_prefix(root()).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(&f, &to).unwrap();
    }
    std::fs::copy(
        root().join("docker-compose.yml"),
        dir.path().join("docker-compose.yml"),
    )
    .unwrap();
    dir
}

fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{} has no {from:?}", file.display());
    std::fs::write(file, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn every_manifest_the_scaled_object_and_compose_pass_their_schemas() {
    let out = validate(root());
    let text = text(&out);
    assert!(out.status.success(), "{text}");
    for expected in [
        "StatefulSet leadpulse) against Kubernetes",
        "ScaledObject leadpulse) against the keda-",
        "TriggerAuthentication leadpulse-kafka) against the keda-",
        "docker-compose.yml against the Compose specification",
    ] {
        assert!(text.contains(expected), "{expected:?} not checked:\n{text}");
    }
}

#[test]
fn a_wrong_field_type_in_the_stateful_set_fails_naming_the_field() {
    let tree = copy();
    let sts = tree.path().join("deploy/kubernetes/statefulset.yaml");
    let text = std::fs::read_to_string(&sts).unwrap();
    let replicas = text
        .lines()
        .find(|l| l.trim_start().starts_with("replicas:"))
        .expect("the StatefulSet sets replicas")
        .to_owned();
    edit(&sts, &replicas, "  replicas: \"two\"");
    let out = validate(tree.path());
    let text = self::text(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("FAIL deploy/kubernetes/statefulset.yaml document 1 (StatefulSet leadpulse): spec/replicas: 'two' is not of type"),
        "{text}"
    );
}

#[test]
fn an_unknown_field_fails_in_a_manifest_the_scaled_object_and_compose() {
    let tree = copy();
    let k8s = tree.path().join("deploy/kubernetes");
    edit(
        &k8s.join("pdb.yaml"),
        "spec:\n",
        "spec:\n  maxUnavailabel: 1\n",
    );
    edit(
        &k8s.join("keda-scaledobject.yaml"),
        "  cooldownPeriod:",
        "  coolDownPeriod: 300\n  cooldownPeriod:",
    );
    edit(
        &tree.path().join("docker-compose.yml"),
        "    image: ",
        "    imag: ",
    );
    let out = validate(tree.path());
    let text = self::text(&out);
    assert!(!out.status.success(), "{text}");
    for expected in [
        "FAIL deploy/kubernetes/pdb.yaml document 1 (PodDisruptionBudget leadpulse): spec:",
        "'maxUnavailabel' was unexpected",
        "FAIL deploy/kubernetes/keda-scaledobject.yaml document 1 (ScaledObject leadpulse): spec:",
        "'coolDownPeriod' was unexpected",
        "FAIL docker-compose.yml: services/",
        "'imag' was unexpected",
    ] {
        assert!(text.contains(expected), "{expected:?} missing:\n{text}");
    }
}
