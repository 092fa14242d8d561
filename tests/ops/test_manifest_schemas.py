"""Every Kubernetes object in deploy/k8s is valid against its schema, offline.

Built-in kinds are validated by `kubernetes-validate` (the official OpenAPI schemas of the
newest Kubernetes it ships, strict: an unknown field is an error). It ships no schemas for
custom resources, so the three operators' kinds we use are checked against the fields their
operators require and the ones we rely on (tests/fixtures/crd-schemas.yaml, written from
the operators' API references), and the Kustomization by kustomize's own rules.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from tests.conftest import REPO_ROOT
from tests.ops.test_deploy import manifests

CUSTOM = yaml.safe_load((REPO_ROOT / "tests/fixtures/crd-schemas.yaml").read_text())


def objects() -> list[dict[str, Any]]:
    found = []
    for document in manifests():
        document = dict(document)
        document.pop("__file__")
        found.append(document)
    return found


def test_every_built_in_object_is_valid_against_the_official_kubernetes_schema() -> None:
    version = kubernetes_validate.latest_version()
    checked = []
    for document in objects():
        key = f"{document['apiVersion']}/{document['kind']}"
        if key in CUSTOM or document["kind"] == "Kustomization":
            continue
        kubernetes_validate.validate(document, version, strict=True)
        checked.append(document["kind"])
    assert {"Deployment", "Service", "ConfigMap", "Namespace", "PersistentVolumeClaim"} \
        <= set(checked)


def test_every_custom_resource_has_a_schema_and_matches_it() -> None:
    kinds = set()
    for document in objects():
        key = f"{document['apiVersion']}/{document['kind']}"
        if document["kind"] == "Kustomization" or not _is_custom(document):
            continue
        assert key in CUSTOM, f"{key}: no schema to check it against"
        jsonschema.validate(document, CUSTOM[key])
        kinds.add(document["kind"])
    assert kinds == {"PodMonitor", "PrometheusRule", "ScaledObject", "TriggerAuthentication"}


def test_the_strict_validation_catches_a_misspelt_field() -> None:
    deployment = next(d for d in objects() if d["kind"] == "Deployment")
    deployment["spec"]["replica"] = 2
    try:
        kubernetes_validate.validate(deployment, kubernetes_validate.latest_version(),
                                     strict=True)
    except kubernetes_validate.ValidationError as error:
        assert "replica" in str(error)
    else:
        raise AssertionError("a misspelt field passed")


def _is_custom(document: dict[str, Any]) -> bool:
    try:
        kubernetes_validate.validate(document, kubernetes_validate.latest_version())
    except kubernetes_validate.SchemaNotFoundError:
        return True
    return False
