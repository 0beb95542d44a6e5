"""The deployment files describe services that exist, with the contract's ports."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from shared.auth import ApiKeys
from tests.infra import REPO

pytestmark = pytest.mark.unit

CONTRACT_PORTS = {"ingest": 8001, "health": 8002, "renewals": 8003, "expansion": 8004}


def test_every_compose_service_runs_a_module_that_exists_on_its_contract_port() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    orchard = {name: svc for name, svc in compose["services"].items() if name in CONTRACT_PORTS}
    assert {"ingest", "health"} <= set(orchard)
    for name, svc in orchard.items():
        assert svc["command"] == ["python", "-m", f"services.{name}"]
        assert (REPO / "services" / name / "__main__.py").is_file(), f"services/{name} has no entry point"
        port = CONTRACT_PORTS[name]
        assert svc["environment"][f"ORCHARD_{name.upper()}_PORT"] == str(port)
        assert f"{port}:{port}" in svc["ports"]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    readme = (REPO / "README.md").read_text()
    assert re.search(r"^make test$", ci, re.M)
    assert "`make test`" in readme and "`make run`" in readme


def test_every_kubernetes_deployment_probes_the_shared_health_endpoints_on_its_contract_port() -> None:
    k8s = REPO / "deploy" / "k8s"
    listed = yaml.safe_load((k8s / "kustomization.yaml").read_text())["resources"]
    deployments = [
        doc for name in listed for doc in yaml.safe_load_all((k8s / name).read_text())
        if doc and doc.get("kind") == "Deployment"
    ]
    assert {d["metadata"]["name"] for d in deployments} >= {"ingest", "health"}
    for deployment in deployments:
        name = deployment["metadata"]["name"]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["python", "-m", f"services.{name}"]
        assert (REPO / "services" / name / "__main__.py").is_file()
        assert container["ports"][0]["containerPort"] == CONTRACT_PORTS[name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name


def _k8s_documents() -> list[dict[str, Any]]:
    k8s = REPO / "deploy" / "k8s"
    listed = yaml.safe_load((k8s / "kustomization.yaml").read_text())["resources"]
    return [doc for name in listed for doc in yaml.safe_load_all((k8s / name).read_text()) if doc]


def test_kubernetes_takes_the_api_keys_from_a_secret_that_holds_no_usable_key() -> None:
    documents = _k8s_documents()
    config_maps = [d for d in documents if d["kind"] == "ConfigMap"]
    assert all("ORCHARD_API_KEYS" not in d.get("data", {}) for d in config_maps)
    (secret,) = [d for d in documents if d["kind"] == "Secret"]
    # Shipped as placeholders: a service refuses to start until the operator puts real digests in.
    with pytest.raises(ValueError, match="sha256"):
        ApiKeys.parse(secret["stringData"]["ORCHARD_API_KEYS"])
    for deployment in (d for d in documents if d["kind"] == "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        sources = container["envFrom"]
        assert {"secretRef": {"name": secret["metadata"]["name"]}} in sources, deployment["metadata"]["name"]
        assert all(e["name"] != "ORCHARD_API_KEYS" for e in container.get("env", []))


def test_compose_takes_the_api_keys_from_the_environment_and_has_none_built_in() -> None:
    compose = yaml.safe_load((REPO / "deploy" / "docker-compose.yml").read_text())
    for name in CONTRACT_PORTS:
        keys = compose["services"][name]["environment"]["ORCHARD_API_KEYS"]
        assert keys.startswith("${ORCHARD_API_KEYS:?"), name
