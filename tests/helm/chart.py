"""Rendering the Helm chart with a real `helm` binary, and what the tests read from it.

The binary is the one `make helm` builds into ~/.cache/orderbook-platform/bin (override:
$OB_HELM). Renders are cached per values, so a scenario is templated once per session.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "orderbook-platform"
HELM_ENV = "OB_HELM"
DEFAULT_HELM = Path.home() / ".cache" / "orderbook-platform" / "bin" / "helm"
# The cluster version the chart is templated for and its manifests validated against.
KUBE_VERSION = "1.33.0"
RELEASE = "ob"
NAMESPACE = "trading"

# Scenarios: the values a test renders the chart with (merged over values.yaml).
DEFAULT: dict[str, Any] = {}
EXTERNAL: dict[str, Any] = {
    "config": {
        "kafka": {
            "bootstrap_servers": "broker-1.kafka.example:9094,broker-2.kafka.example:9094",
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "orderbook",
            "sasl_password": "kafka-password",
        },
        "s3": {
            "endpoint_url": "https://s3.eu-west-1.amazonaws.com",
            "bucket": "acme-orderbook-lake",
            "region": "eu-west-1",
        },
    },
    "kafka": {"enabled": False},
    "minio": {"enabled": False},
    "dagster": {
        "postgresql": {
            "enabled": False,
            "host": "dagster-db.databases.svc",
            "existingSecret": "dagster-db-password",
        }
    },
}
SCALED: dict[str, Any] = {
    "config": {"topics": {"partitions": 6}, "traders": {"traders": 1000}},
    "engine": {"replicas": 6},
    "traders": {"replicas": 2},
    "existingConfigSecret": "orderbook-settings",
    "image": {"repository": "registry.example/orderbook-platform", "tag": "2026.1"},
}
# The external cluster over TLS with a private CA, mounted from a Secret the user created.
KAFKA_TLS: dict[str, Any] = {
    **EXTERNAL,
    "kafkaTls": {"caSecret": "kafka-ca", "caKey": "broker-ca.pem"},
}
SCENARIOS = {"default": DEFAULT, "external": EXTERNAL, "scaled": SCALED, "kafka-tls": KAFKA_TLS}


class HelmError(Exception):
    """helm exited non-zero; the message is its stderr."""


def helm_binary() -> Path:
    path = Path(os.environ.get(HELM_ENV) or DEFAULT_HELM)
    if not path.is_file():
        raise FileNotFoundError(f"no helm at {path}: run `make helm` (or set ${HELM_ENV})")
    return path


def _run_helm(args: list[str], values: dict[str, Any]) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
        yaml.safe_dump(values, handle)
    try:
        result = subprocess.run(
            [str(helm_binary()), *args, "--values", handle.name],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    finally:
        os.unlink(handle.name)
    if result.returncode != 0:
        raise HelmError(result.stderr.strip() or result.stdout.strip())
    return result.stdout


@functools.cache
def _render_text(values_json: str) -> str:
    return _run_helm(
        ["template", RELEASE, str(CHART), "--namespace", NAMESPACE, "--kube-version", KUBE_VERSION],
        json.loads(values_json),
    )


def render(values: dict[str, Any]) -> list[dict[str, Any]]:
    """Every manifest `helm template` renders with these values."""
    text = _render_text(json.dumps(values, sort_keys=True))
    return [doc for doc in yaml.safe_load_all(text) if doc]


def lint(values: dict[str, Any]) -> str:
    return _run_helm(["lint", str(CHART), "--strict", "--kube-version", KUBE_VERSION], values)


def find(manifests: list[dict[str, Any]], kind: str, component: str | None = None) -> list[dict]:
    return [
        m
        for m in manifests
        if m["kind"] == kind
        and (
            component is None
            or m["metadata"].get("labels", {}).get("app.kubernetes.io/component") == component
        )
    ]


def one(manifests: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    found = find(manifests, kind, component)
    assert len(found) == 1, f"expected one {kind} of {component}, found {len(found)}"
    return found[0]


def named(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any] | None:
    return next((m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name), None)


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    return workload["spec"]["template"]["spec"]


def containers(workload: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(workload)
    yield from spec.get("initContainers", [])
    yield from spec["containers"]


def workloads(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in manifests if m["kind"] in ("Deployment", "StatefulSet", "Job")]


def settings_env(manifests: list[dict[str, Any]]) -> dict[str, str]:
    """The OB__ variables of the chart's settings ConfigMap and (when rendered) Secret."""
    env: dict[str, str] = {}
    for m in manifests:
        if m["metadata"].get("labels", {}).get("app.kubernetes.io/component") != "config":
            continue
        if m["kind"] == "ConfigMap":
            env.update(m.get("data") or {})
        elif m["kind"] == "Secret":
            env.update(m.get("stringData") or {})
    return env


def dagster_instance(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    config_maps = [
        m for m in find(manifests, "ConfigMap", "dagster") if "dagster.yaml" in m["data"]
    ]
    assert len(config_maps) == 1
    return yaml.safe_load(config_maps[0]["data"]["dagster.yaml"])
