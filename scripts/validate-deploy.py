#!/usr/bin/env python3
"""Validates leadpulse's deploy files against the schemas of the systems
that read them, as `kubectl apply --validate=strict` and `docker compose`
would, without a cluster or a container engine:

- every Kubernetes manifest under deploy/kubernetes against the OpenAPI
  schemas of a Kubernetes release (the `kubernetes-validate` package, which
  ships them), strictly: an unknown field is an error;
- KEDA's ScaledObject and TriggerAuthentication against the CRD schemas of
  the KEDA release in deploy/schemas/, strictly as well (Kubernetes prunes or,
  with strict field validation, refuses fields a structural schema does not
  declare);
- docker-compose.yml against the Compose specification's JSON Schema (the
  copy `check-jsonschema` vendors).

Usage: validate-deploy.py [--kubernetes-version 1.37] [--root DIR]
Prints one line per document checked and exits 1 if any fails, naming the
file, the document and the field.
"""

import argparse
import copy
import importlib.resources
import json
import pathlib
import sys

import jsonschema
import kubernetes_validate
import yaml

# The KEDA release whose CRDs are vendored in deploy/schemas/.
KEDA = "keda-v2.20.2"
# Kinds that `kubectl apply -k` reads but that are not cluster resources.
KUSTOMIZE_KINDS = {("kustomize.config.k8s.io/v1beta1", "Kustomization")}


def strict(schema):
    """A CRD's openAPIV3Schema as strict field validation reads it: objects
    with declared properties allow no others, unless the schema says it
    keeps unknown fields."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if (
                node.get("type") == "object"
                and "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return schema


def crd_schemas(root):
    """(apiVersion, kind) → a JSON Schema, from the vendored CRDs."""
    out = {}
    for path in sorted((root / "deploy" / "schemas" / KEDA).glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group = crd["spec"]["group"]
            kind = crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                schema = strict(version["schema"]["openAPIV3Schema"])
                props = schema.setdefault("properties", {})
                # apiVersion, kind and metadata are checked by the API server
                # itself; the CRD leaves them open.
                props["apiVersion"] = {"const": f"{group}/{version['name']}"}
                props["kind"] = {"const": kind}
                props["metadata"] = {
                    "type": "object",
                    "required": ["name"],
                    "properties": {
                        "name": {"type": "string"},
                        "namespace": {"type": "string"},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                    "additionalProperties": False,
                }
                schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata"})
                out[(f"{group}/{version['name']}", kind)] = (schema, path.name)
    return out


def where(error):
    return "/".join(str(p) for p in error.absolute_path) or "(top level)"


def check_kubernetes(root, k8s_version, failures):
    crds = crd_schemas(root)
    manifests = sorted((root / "deploy" / "kubernetes").glob("*.y*ml"))
    if not manifests:
        failures.append("deploy/kubernetes: no manifests found")
    for path in manifests:
        rel = path.relative_to(root)
        for n, doc in enumerate(yaml.safe_load_all(path.read_text()), start=1):
            if not doc:
                continue
            key = (doc.get("apiVersion"), doc.get("kind"))
            name = (doc.get("metadata") or {}).get("name", "?")
            label = f"{rel} document {n} ({key[1]} {name})"
            if key in KUSTOMIZE_KINDS:
                # Its resource list is checked against the folder by
                # tests/it/packaging/kubernetes.rs.
                print(f"skip {label}: a kustomize file, not a cluster resource")
                continue
            if key in crds:
                schema, source = crds[key]
                errors = sorted(
                    jsonschema.Draft7Validator(schema).iter_errors(doc),
                    key=lambda e: list(e.absolute_path),
                )
                for e in errors:
                    failures.append(f"{label}: {where(e)}: {e.message} (CRD {KEDA}/{source})")
                if not errors:
                    print(f"ok   {label} against the {KEDA} CRD")
                continue
            try:
                kubernetes_validate.validate(doc, k8s_version, strict=True)
                print(f"ok   {label} against Kubernetes {k8s_version}")
            except kubernetes_validate.ValidationError as e:
                failures.append(f"{label}: {where(e)}: {e.message} (Kubernetes {k8s_version})")
            except kubernetes_validate.SchemaNotFoundError:
                failures.append(f"{label}: no schema for {key[0]} {key[1]} in Kubernetes {k8s_version}")


def check_compose(root, failures):
    path = root / "docker-compose.yml"
    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    doc = yaml.safe_load(path.read_text())
    errors = sorted(
        jsonschema.validators.validator_for(schema)(schema).iter_errors(doc),
        key=lambda e: list(e.absolute_path),
    )
    for e in errors:
        failures.append(f"docker-compose.yml: {where(e)}: {e.message} (Compose specification)")
    if not errors:
        print("ok   docker-compose.yml against the Compose specification")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes-version", default="1.37")
    parser.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parent.parent))
    args = parser.parse_args()
    root = pathlib.Path(args.root)
    failures = []
    check_kubernetes(root, args.kubernetes_version, failures)
    check_compose(root, failures)
    for f in failures:
        print(f"FAIL {f}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
