"""The compose file and the Kubernetes manifests are valid against their published schemas, offline: the
compose spec bundled by check-jsonschema, and the Kubernetes API schemas bundled by kubernetes-validate
(strict: an unknown or misspelt field fails), for the oldest and the newest Kubernetes release they hold
that we support. Each check is shown to fail on a broken copy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.infra import REPO

pytestmark = pytest.mark.unit

K8S = REPO / "deploy" / "k8s"
COMPOSE = REPO / "deploy" / "docker-compose.yml"
KUBERNETES_VERSIONS = ("1.29.0", "1.37.0")


def manifests() -> list[tuple[str, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = kustomization["resources"]
    assert sorted(listed) == sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"), \
        "every manifest is listed in kustomization.yaml, and every listed one exists"
    return [(name, doc) for name in listed for doc in yaml.safe_load_all((K8S / name).read_text()) if doc]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_kubernetes_manifest_is_valid_against_the_api_schema(version: str) -> None:
    documents = manifests()
    assert {doc["kind"] for _, doc in documents} >= {"Namespace", "ConfigMap", "Secret", "Deployment", "Service"}
    for name, doc in documents:
        kubernetes_validate.validate(doc, version, strict=True)  # raises with the field at fault
        assert doc["metadata"]["name"], name


def test_the_kubernetes_check_rejects_a_misspelt_field_and_a_wrong_type() -> None:
    deployment = next(doc for _, doc in manifests() if doc["kind"] == "Deployment")
    misspelt = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        kubernetes_validate.validate(misspelt, KUBERNETES_VERSIONS[-1], strict=True)
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    wrong = yaml.safe_load(yaml.safe_dump(deployment))
    wrong["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"] = "a lot"
    assert container["resources"]["requests"] != "a lot"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong, KUBERNETES_VERSIONS[-1], strict=True)


def check_compose(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True, text=True, timeout=120,
    )


def test_the_compose_file_is_valid_against_the_compose_spec() -> None:
    result = check_compose(COMPOSE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_check_rejects_a_misspelt_service_field(tmp_path: Path) -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    compose["services"]["health"]["comand"] = compose["services"]["health"].pop("command")
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(compose))
    result = check_compose(broken)
    assert result.returncode != 0 and "comand" in result.stdout + result.stderr
