"""Static checks of helm/orderbook-platform: rendered by a real helm, validated against the
Kubernetes schemas, and read for the properties the platform depends on."""

from __future__ import annotations

import ipaddress
import json
import posixpath
import re
import tempfile
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from engine.service_config import ServiceConfig
from tests.helm.accepted import accepted_env_names, dagster_env_names, settings_env_names
from tests.helm.chart import (
    CHART,
    DEFAULT,
    EXTERNAL,
    KAFKA_TLS,
    KUBE_VERSION,
    NAMESPACE,
    ROOT,
    SCENARIOS,
    HelmError,
    containers,
    dagster_instance,
    find,
    lint,
    named,
    one,
    pod_spec,
    render,
    settings_env,
    workloads,
)

pytestmark = pytest.mark.unit

CHART_VALUES = yaml.safe_load((CHART / "values.yaml").read_text())
PLATFORM_IMAGE_REPOS = {"orderbook-platform", "registry.example/orderbook-platform"}


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _image_of(values: dict[str, Any]) -> str:
    image = _merge(CHART_VALUES["image"], values.get("image", {}))
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    return f"{image['repository']}:{image['tag'] or chart['appVersion']}"


def _platform_containers(manifests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        c
        for w in workloads(manifests)
        for c in containers(w)
        if c["image"].rpartition(":")[0] in PLATFORM_IMAGE_REPOS
    ]


def _service_for(manifests: list[dict[str, Any]], host: str) -> dict[str, Any] | None:
    """The rendered Service a `<name>.<namespace>.svc` host name resolves to."""
    name, _, rest = host.partition(".")
    if rest != f"{NAMESPACE}.svc":
        return None
    return named(manifests, "Service", name)


def _selects(service: dict[str, Any], workload: dict[str, Any]) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    return all(labels.get(k) == v for k, v in service["spec"]["selector"].items())


# ---------------------------------------------------------------- helm itself


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_chart_lints_strictly(scenario: str) -> None:
    assert "0 chart(s) failed" in lint(SCENARIOS[scenario])


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_rendered_manifest_is_valid_kubernetes(scenario: str) -> None:
    manifests = render(SCENARIOS[scenario])
    assert len(manifests) > 10
    for manifest in manifests:
        # strict: an unknown field (a typo, a misplaced key) is an error too
        kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)


def test_values_schema_rejects_an_unknown_key() -> None:
    with pytest.raises(HelmError, match="replica"):
        render({"engine": {"replica": 2}})
    with pytest.raises(HelmError, match="bootstrap_server"):
        render({"config": {"kafka": {"bootstrap_server": "typo:9092"}}})


def test_values_schema_config_is_exactly_what_the_platform_reads() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    config = schema["properties"]["config"]["properties"]
    in_schema = set()
    for section, spec in config.items():
        if "properties" in spec:
            in_schema |= {f"OB__{section}__{key}".upper() for key in spec["properties"]}
        else:
            in_schema.add(f"OB__{section}".upper())
    # A setting the platform gains (or loses) must be offered (or dropped) here too.
    assert in_schema == accepted_env_names()


# ---------------------------------------------------------------- settings as OB__ variables


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_ob_variable_is_one_the_platform_accepts(scenario: str) -> None:
    manifests = render(SCENARIOS[scenario])
    names = set(settings_env(manifests))
    for container in _platform_containers(manifests):
        names |= {e["name"] for e in container.get("env", []) if e["name"].startswith("OB__")}
    assert names, "no OB__ variables rendered"
    assert names <= accepted_env_names(), names - accepted_env_names()


def test_settings_secrets_go_to_the_secret_not_the_configmap() -> None:
    manifests = render(DEFAULT)
    config_map = one(manifests, "ConfigMap", "config")
    secret = one(manifests, "Secret", "config")
    assert "OB__S3__SECRET_KEY" in secret["stringData"]
    assert not set(config_map["data"]) & set(secret["stringData"])
    assert "OB__S3__SECRET_KEY" not in config_map["data"]


@pytest.mark.parametrize("scenario", ["default", "external", "kafka-tls"])
def test_rendered_settings_load_into_the_settings_classes(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.settings import EngineSettings
    from orderbook_platform.config import Settings
    from traders.settings import PoolSettings

    values = _merge(CHART_VALUES, SCENARIOS[scenario])
    env = settings_env(render(SCENARIOS[scenario]))
    monkeypatch.delenv("OB_CONFIG", raising=False)
    for name in accepted_env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    settings = Settings()
    assert settings.kafka.bootstrap_servers == env["OB__KAFKA__BOOTSTRAP_SERVERS"]
    assert settings.kafka.security_protocol == values["config"]["kafka"]["security_protocol"]
    assert settings.s3.endpoint_url == env["OB__S3__ENDPOINT_URL"]
    assert settings.s3.bucket == values["config"]["s3"]["bucket"]
    assert settings.topics.partitions == values["config"]["topics"]["partitions"]
    assert EngineSettings().duplicate_id_window == values["config"]["engine"]["duplicate_id_window"]
    pool = PoolSettings()
    assert pool.symbols == values["config"]["traders"]["symbols"]
    assert pool.mix == pytest.approx(values["config"]["traders"]["mix"])
    assert pool.traders == values["config"]["traders"]["traders"]
    assert pool.metrics_host == values["config"]["traders"]["metrics_host"]
    assert env["OB__LAKE__ROOT"] == f"s3://{values['config']['s3']['bucket']}/lake"


def test_a_settings_change_rolls_the_pods_that_read_them() -> None:
    def checksums(values: dict[str, Any]) -> dict[str, str]:
        return {
            w["metadata"]["name"]: w["spec"]["template"]["metadata"]["annotations"][
                "checksum/config"
            ]
            for w in workloads(render(values))
            if "checksum/config" in w["spec"]["template"]["metadata"].get("annotations", {})
        }

    before = checksums(DEFAULT)
    after = checksums({"config": {"engine": {"duplicate_id_window": 100_000}}})
    assert {"ob-orderbook-platform-engine", "ob-orderbook-platform-traders"} <= set(before)
    assert all(before[name] != after[name] for name in before)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_referenced_configmap_and_secret_exists(scenario: str) -> None:
    values = _merge(CHART_VALUES, SCENARIOS[scenario])
    manifests = render(SCENARIOS[scenario])
    external_secrets = {
        values["existingConfigSecret"],
        values["dagster"]["postgresql"]["existingSecret"],
        values["kafkaTls"]["caSecret"],
    } - {""}
    for workload in workloads(manifests):
        spec = pod_spec(workload)
        refs = [
            ("ConfigMap", v["configMap"]["name"])
            for v in spec.get("volumes", [])
            if "configMap" in v
        ] + [
            ("Secret", v["secret"]["secretName"]) for v in spec.get("volumes", []) if "secret" in v
        ]
        for container in containers(workload):
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    refs.append(("ConfigMap", source["configMapRef"]["name"]))
                if "secretRef" in source:
                    refs.append(("Secret", source["secretRef"]["name"]))
            for var in container.get("env", []):
                ref = var.get("valueFrom", {})
                if "configMapKeyRef" in ref:
                    refs.append(("ConfigMap", ref["configMapKeyRef"]["name"]))
                if "secretKeyRef" in ref:
                    refs.append(("Secret", ref["secretKeyRef"]["name"]))
        for kind, name in refs:
            assert named(manifests, kind, name) or (
                kind == "Secret" and name in external_secrets
            ), f"{workload['metadata']['name']} refers to a missing {kind} {name}"


# ---------------------------------------------------------------- Kafka, MinIO, Postgres


def test_bootstrap_servers_point_at_the_rendered_kafka_service() -> None:
    manifests = render(DEFAULT)
    host, _, port = settings_env(manifests)["OB__KAFKA__BOOTSTRAP_SERVERS"].rpartition(":")
    service = _service_for(manifests, host)
    assert service is not None, f"{host} is not a Service of the chart"
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}
    broker = one(manifests, "StatefulSet", "kafka")
    assert _selects(service, broker)
    env = {e["name"]: e.get("value") for e in pod_spec(broker)["containers"][0]["env"]}
    # Clients are told to reconnect where they bootstrapped.
    assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{host}:{port}"
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_s3_endpoint_points_at_the_rendered_minio_service() -> None:
    manifests = render(DEFAULT)
    endpoint = settings_env(manifests)["OB__S3__ENDPOINT_URL"]
    host, _, port = endpoint.removeprefix("http://").rpartition(":")
    service = _service_for(manifests, host)
    assert service is not None and _selects(service, one(manifests, "StatefulSet", "minio"))
    assert int(port) in {p["port"] for p in service["spec"]["ports"]}


def test_external_mode_renders_no_broker_store_or_database() -> None:
    manifests = render(EXTERNAL)
    for component in ("kafka", "minio", "postgresql"):
        assert not find(manifests, "StatefulSet", component)
        assert not find(manifests, "Service", component)
    env = settings_env(manifests)
    assert env["OB__KAFKA__BOOTSTRAP_SERVERS"] == EXTERNAL["config"]["kafka"]["bootstrap_servers"]
    assert env["OB__KAFKA__SASL_PASSWORD"] == "kafka-password"
    assert env["OB__S3__ENDPOINT_URL"] == EXTERNAL["config"]["s3"]["endpoint_url"]
    storage = dagster_instance(manifests)["storage"]["postgres"]["postgres_db"]
    assert storage["hostname"] == EXTERNAL["dagster"]["postgresql"]["host"]
    launcher = dagster_instance(manifests)["run_launcher"]["config"]
    assert launcher["postgres_password_secret"] == "dagster-db-password"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"kafka": {"enabled": False}}, "config.kafka.bootstrap_servers"),
        ({"minio": {"enabled": False}}, "config.s3.endpoint_url"),
        ({"dagster": {"postgresql": {"enabled": False}}}, "dagster.postgresql.host"),
    ],
)
def test_turning_a_service_off_without_its_endpoint_is_refused(
    values: dict[str, Any], message: str
) -> None:
    with pytest.raises(HelmError, match=re.escape(message)):
        render(values)


# ---------------------------------------------------------------- Kafka TLS: the CA from a Secret


def _settings_containers(manifests: list[dict[str, Any]]) -> list[tuple[dict, dict]]:
    """(workload, container) for every container that loads the platform settings (the
    settings ConfigMap in its envFrom): the ones that may open a Kafka client."""
    config_map = one(manifests, "ConfigMap", "config")["metadata"]["name"]
    return [
        (w, c)
        for w in workloads(manifests)
        for c in containers(w)
        if {"configMapRef": {"name": config_map}} in c.get("envFrom", [])
    ]


def _files_of_secret_key(
    spec: dict[str, Any], container: dict[str, Any], secret: str, key: str
) -> set[str]:
    """Where `key` of the Secret `secret` appears in the container's file system, read from
    its volumeMounts and the pod's volumes (the Kubernetes rules for `items` and
    `subPath`); each mount must be read-only."""
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    files = set()
    for mount in container.get("volumeMounts", []):
        source = volumes[mount["name"]].get("secret")
        if not source or source["secretName"] != secret:
            continue
        assert mount.get("readOnly") is True, mount
        items = source.get("items")
        names = {i["path"] for i in items if i["key"] == key} if items else {key}
        for name in names:
            if "subPath" in mount:
                if mount["subPath"] == name:
                    files.add(mount["mountPath"])
            else:
                files.add(posixpath.join(mount["mountPath"], name))
    return files


def _settings_of(
    manifests: list[dict[str, Any]], container: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Any:
    """The Settings the container's environment (and nothing of the test's) builds."""
    from orderbook_platform.config import Settings

    monkeypatch.delenv("OB_CONFIG", raising=False)
    for name in accepted_env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in _container_env(manifests, container).items():
        monkeypatch.setenv(name, value)
    return Settings()


class _DaemonInstance:
    """What `K8sRunLauncher.launch_run` asks of the daemon's DagsterInstance: its ref (which
    the run pod gets, serialized into `dagster api execute_run`'s argument) and a place for
    the run tag and the engine events it records (dropped here)."""

    def __init__(self, ref: Any) -> None:
        self._ref = ref

    def get_ref(self) -> Any:
        return self._ref

    def add_run_tags(self, run_id: str, new_tags: Any) -> None:
        pass

    def report_engine_event(self, *args: Any, **kwargs: Any) -> None:
        pass


class _JobsApi:
    """Stands in for the Kubernetes API: keeps the Job the launcher would create."""

    def __init__(self) -> None:
        self.created: list[tuple[Any, str]] = []

    def create_namespaced_job_with_retries(self, body: Any, namespace: str) -> None:
        self.created.append((body, namespace))


def _launched_run(
    manifests: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    tags: dict[str, str] | None = None,
) -> tuple[dict[str, Any], str]:
    """(Job, namespace) of what dagster-k8s's `K8sRunLauncher.launch_run` creates for a run
    of the chart's code location, run by dagster-k8s itself from the rendered dagster.yaml:
    the launcher built from its `run_launcher` section, the daemon's instance ref built from
    the whole file the way the daemon builds it (`InstanceRef.from_dir` of DAGSTER_HOME),
    the run's origin the code server's (its image: DAGSTER_CURRENT_IMAGE); only the kube
    config is not loaded and the Kubernetes API is replaced, so nothing is sent."""
    import kubernetes
    from dagster._config import process_config
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.instance.ref import InstanceRef
    from dagster._core.launcher import LaunchRunContext
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster_k8s import launcher

    instance = dagster_instance(manifests)
    section = instance["run_launcher"]
    assert (section["module"], section["class"]) == ("dagster_k8s", "K8sRunLauncher")
    config = process_config(launcher.K8sRunLauncher.config_type(), section["config"])
    assert config.success, [e.message for e in config.errors]
    monkeypatch.setattr(launcher, "load_kubernetes_config", lambda **_: None)
    run_launcher = launcher.K8sRunLauncher.from_config_value(None, config.value)
    api = _JobsApi()
    run_launcher._api_client = api

    daemon = one(manifests, "Deployment", "dagster-daemon")
    daemon_env = {e["name"]: e.get("value") for e in pod_spec(daemon)["containers"][0]["env"]}
    with tempfile.TemporaryDirectory() as config_dir:
        (Path(config_dir) / "dagster.yaml").write_text(yaml.safe_dump(instance))
        ref = InstanceRef.from_dir(daemon_env["DAGSTER_HOME"], config_dir=config_dir)
    daemon_instance = _DaemonInstance(ref)
    run_launcher.register_instance(daemon_instance)

    code = one(manifests, "Deployment", "dagster-code")
    (server,) = pod_spec(code)["containers"]
    command = dict(zip(server["command"][3::2], server["command"][4::2], strict=True))
    server_env = {e["name"]: e.get("value") for e in server.get("env", [])}
    origin = JobPythonOrigin(
        job_name="lake_job",
        repository_origin=RepositoryPythonOrigin(
            executable_path="python",
            code_pointer=ModuleCodePointer(command["--module-name"], command["--attribute"], None),
            container_image=server_env["DAGSTER_CURRENT_IMAGE"],
            entry_point=["dagster"],  # what `dagster api grpc` reports by default
        ),
    )
    run = DagsterRun(
        job_name=origin.job_name,
        run_id="0e0c5a1e-5d1b-4c3e-9a57-3f5f6d6c1a2b",
        job_code_origin=origin,
        tags=tags or {},
    )
    run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    ((job, namespace),) = api.created
    return kubernetes.client.ApiClient().sanitize_for_serialization(job), namespace


def _run_job(manifests: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The Job dagster-k8s creates for a run (`_launched_run`)."""
    return _launched_run(manifests, monkeypatch)[0]


def test_the_kafka_ca_is_mounted_where_the_settings_of_every_kafka_client_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tls = KAFKA_TLS["kafkaTls"]
    manifests = render(KAFKA_TLS)
    found = _settings_containers(manifests)
    components = {w["metadata"]["labels"]["app.kubernetes.io/component"] for w, _ in found}
    assert {"engine", "traders", "topics", "dagster-code"} <= components
    # the topics init containers of the engine and the traders are among them
    assert sum(c["command"] == ["orderbook", "topics", "apply"] for _, c in found) == 3
    for workload, container in found:
        where = f"{workload['metadata']['name']}/{container['name']}"
        settings = _settings_of(manifests, container, monkeypatch)
        assert settings.kafka.security_protocol == "SASL_SSL"
        files = _files_of_secret_key(pod_spec(workload), container, tls["caSecret"], tls["caKey"])
        assert settings.kafka.ssl_ca_location is not None, where
        assert str(settings.kafka.ssl_ca_location) in files, (where, files)
        # ... which librdkafka and Spark's Java client are then given
        path = str(settings.kafka.ssl_ca_location)
        assert settings.kafka.client_config()["ssl.ca.location"] == path
        assert settings.kafka.java_client_options()["ssl.truststore.location"] == path


def test_dagster_run_pods_mount_the_kafka_ca_where_their_settings_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tls = KAFKA_TLS["kafkaTls"]
    manifests = render(KAFKA_TLS)
    job = _run_job(manifests, monkeypatch)
    kubernetes_validate.validate(job, KUBE_VERSION, strict=True)
    spec = pod_spec(job)
    (container,) = spec["containers"]
    settings = _settings_of(manifests, container, monkeypatch)
    files = _files_of_secret_key(spec, container, tls["caSecret"], tls["caKey"])
    assert settings.kafka.ssl_ca_location is not None
    assert str(settings.kafka.ssl_ca_location) in files, files
    # the same path as in the chart's own pods
    engine = one(manifests, "StatefulSet", "engine")
    (engine_container,) = pod_spec(engine)["containers"]
    assert files == _files_of_secret_key(
        pod_spec(engine), engine_container, tls["caSecret"], tls["caKey"]
    )


def test_the_kafka_ca_path_wins_over_an_empty_ssl_ca_location_even_as_a_secret_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = _merge(
        KAFKA_TLS,
        {
            "config": {"kafka": {"ssl_ca_location": ""}},
            "secretKeys": [*CHART_VALUES["secretKeys"], "kafka.ssl_ca_location"],
        },
    )
    manifests = render(values)
    engine = one(manifests, "StatefulSet", "engine")
    (container,) = pod_spec(engine)["containers"]
    tls = KAFKA_TLS["kafkaTls"]
    files = _files_of_secret_key(pod_spec(engine), container, tls["caSecret"], tls["caKey"])
    assert str(_settings_of(manifests, container, monkeypatch).kafka.ssl_ca_location) in files


@pytest.mark.parametrize("scenario", ["default", "external", "scaled"])
def test_without_a_kafka_ca_secret_nothing_is_mounted(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the CA adds, read from a render with it, must be absent from one without.
    with_ca = render(KAFKA_TLS)
    ca_volumes = {
        v["name"]
        for w, _ in _settings_containers(with_ca)
        for v in pod_spec(w).get("volumes", [])
        if v.get("secret", {}).get("secretName") == KAFKA_TLS["kafkaTls"]["caSecret"]
    }
    ca_dirs = {
        m["mountPath"]
        for _, c in _settings_containers(with_ca)
        for m in c.get("volumeMounts", [])
        if m["name"] in ca_volumes
    }
    assert ca_volumes and ca_dirs
    manifests = render(SCENARIOS[scenario])
    for workload in [*workloads(manifests), _run_job(manifests, monkeypatch)]:
        spec = pod_spec(workload)
        assert not {v["name"] for v in spec.get("volumes", [])} & ca_volumes, workload
        assert not [v for v in spec.get("volumes", []) if "secret" in v], workload
        for container in containers(workload):
            for mount in container.get("volumeMounts", []):
                assert mount["name"] not in ca_volumes
                assert not any(Path(d).is_relative_to(mount["mountPath"]) for d in ca_dirs), mount
    launcher = dagster_instance(manifests)["run_launcher"]["config"]
    assert not launcher.get("volumes") and not launcher.get("volume_mounts")
    assert "OB__KAFKA__SSL_CA_LOCATION" not in settings_env(manifests)


@pytest.mark.parametrize(
    ("kafka", "message"),
    [
        ({}, "config.kafka.security_protocol is PLAINTEXT"),
        (
            {"security_protocol": "SASL_PLAINTEXT"},
            "config.kafka.security_protocol is SASL_PLAINTEXT",
        ),
        (
            {"security_protocol": "SSL", "ssl_ca_location": "/etc/ssl/kafka-ca.pem"},
            'config.kafka.ssl_ca_location is "/etc/ssl/kafka-ca.pem"',
        ),
    ],
)
def test_a_kafka_ca_secret_that_would_not_be_used_is_refused(
    kafka: dict[str, Any], message: str
) -> None:
    values = {"kafkaTls": {"caSecret": "kafka-ca"}, "config": {"kafka": kafka}}
    with pytest.raises(HelmError, match=re.escape(message)) as refused:
        render(values)
    assert "kafkaTls.caSecret" in str(refused.value)


def test_ssl_ca_location_without_a_kafka_ca_secret_is_left_to_the_user() -> None:
    # A CA file mounted some other way (a custom image, a CSI driver) stays possible.
    manifests = render(
        {"config": {"kafka": {"security_protocol": "SSL", "ssl_ca_location": "/etc/ssl/ca.pem"}}}
    )
    assert settings_env(manifests)["OB__KAFKA__SSL_CA_LOCATION"] == "/etc/ssl/ca.pem"


# ---------------------------------------------------------------- the topics job


def test_topics_are_applied_by_a_post_install_and_post_upgrade_hook() -> None:
    manifests = render(DEFAULT)
    job = one(manifests, "Job", "topics")
    hooks = set(job["metadata"]["annotations"]["helm.sh/hook"].split(","))
    assert {"post-install", "post-upgrade"} <= hooks
    assert pod_spec(job)["containers"][0]["command"] == ["orderbook", "topics", "apply"]
    # MinIO starts empty: the hook creates the lake's bucket first.
    assert [c["name"] for c in pod_spec(job)["initContainers"]] == ["bucket"]
    assert "initContainers" not in pod_spec(one(render(EXTERNAL), "Job", "topics"))


# ---------------------------------------------------------------- the engine


@pytest.mark.parametrize("scenario", ["default", "scaled"])
def test_engine_replicas_have_stable_ids_in_one_consumer_group(scenario: str) -> None:
    values = _merge(CHART_VALUES, SCENARIOS[scenario])
    engine = one(render(SCENARIOS[scenario]), "StatefulSet", "engine")
    assert engine["spec"]["replicas"] == values["engine"]["replicas"]
    container = pod_spec(engine)["containers"][0]
    command = container["command"]
    assert command[:3] == ["orderbook", "engine", "run"]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    # The pod name: stable per replica, unique within the StatefulSet.
    assert options["--instance-id"] == "$(POD_NAME)"
    pod_name = next(e for e in container["env"] if e["name"] == "POD_NAME")
    assert pod_name["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert options["--group"] == values["engine"]["group"]


def test_more_engine_replicas_than_partitions_is_refused() -> None:
    with pytest.raises(HelmError, match=re.escape("exceeds config.topics.partitions")):
        render({"engine": {"replicas": 4}})


def test_engine_stops_gracefully_and_waits_for_its_topics() -> None:
    engine = one(render(DEFAULT), "StatefulSet", "engine")
    assert pod_spec(engine)["terminationGracePeriodSeconds"] >= 30
    init = pod_spec(engine)["initContainers"]
    assert [c["command"] for c in init] == [["orderbook", "topics", "apply"]]


def _engine_service_config(container: dict[str, Any], monkeypatch) -> ServiceConfig:
    """The ServiceConfig the rendered `orderbook engine run` command line builds.

    The command goes through the real CLI, with only the service itself replaced, so what
    the tests read is what the engine would bind, not the chart's own idea of it.
    """
    from typer.testing import CliRunner

    import engine.service
    import engine.telemetry
    from orderbook_platform.cli.main import app

    built: list[ServiceConfig] = []
    monkeypatch.setattr(engine.service, "run_service", lambda _s, config: built.append(config))
    monkeypatch.setattr(engine.telemetry, "configure_logging", lambda: None)
    args = [
        w.replace("$(POD_NAME)", "ob-orderbook-platform-engine-0") for w in container["command"]
    ]
    assert args[0] == "orderbook"
    result = CliRunner().invoke(app, args[1:], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(built) == 1
    return built[0]


def _port_number(container: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    return next(p["containerPort"] for p in container.get("ports", []) if p["name"] == port)


def _reachable_over_the_pod_ip(host: str) -> bool:
    """Whether a server bound to `host` answers on the pod IP, which is known only at run
    time: only the unspecified address (0.0.0.0, ::) is certain to."""
    try:
        return ipaddress.ip_address(host).is_unspecified
    except ValueError:  # a host name: which address it binds depends on the pod's DNS
        return False


def test_engine_probes_reach_its_health_endpoints_where_it_binds_them(monkeypatch) -> None:
    engine = one(render(DEFAULT), "StatefulSet", "engine")
    container = pod_spec(engine)["containers"][0]
    config = _engine_service_config(container, monkeypatch)
    assert _reachable_over_the_pod_ip(config.metrics_host), config.metrics_host
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = container[probe]["httpGet"]
        assert get["path"] == path
        # No `host`: the kubelet connects to the pod IP.
        assert "host" not in get
        assert get.get("scheme", "HTTP") == "HTTP"
        assert _port_number(container, get["port"]) == config.metrics_port


def test_prometheus_scrapes_the_engine_where_it_binds_its_metrics(monkeypatch) -> None:
    manifests = render(DEFAULT)
    engine = one(manifests, "StatefulSet", "engine")
    annotations = engine["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert annotations["prometheus.io/path"] == "/metrics"
    containers_ = pod_spec(engine)["containers"]
    # The engine itself serves the pod network: no relay beside it.
    assert [c["name"] for c in containers_] == ["engine"]
    config = _engine_service_config(containers_[0], monkeypatch)
    assert _reachable_over_the_pod_ip(config.metrics_host), config.metrics_host
    assert int(annotations["prometheus.io/port"]) == config.metrics_port
    # The headless Service's `metrics` port (for a ServiceMonitor) lands on the same port.
    service = one(manifests, "Service", "engine")
    (port,) = [p for p in service["spec"]["ports"] if p["name"] == "metrics"]
    assert _port_number(containers_[0], port["targetPort"]) == config.metrics_port


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "::1", "localhost"])
def test_a_loopback_engine_metrics_host_is_refused(host: str) -> None:
    with pytest.raises(HelmError, match=re.escape(f'engine.metricsHost "{host}" is loopback')):
        render({"engine": {"metricsHost": host}})


def test_the_engine_metrics_host_and_port_come_from_the_values(monkeypatch) -> None:
    engine = one(
        render({"engine": {"metricsHost": "::", "metricsPort": 9500}}), "StatefulSet", "engine"
    )
    container = pod_spec(engine)["containers"][0]
    config = _engine_service_config(container, monkeypatch)
    assert (config.metrics_host, config.metrics_port) == ("::", 9500)
    assert _port_number(container, container["livenessProbe"]["httpGet"]["port"]) == 9500


# ---------------------------------------------------------------- the traders


def _container_env(manifests: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The variables a container starts with: its `envFrom` sources in order (a later one
    wins), then its own `env`. A Secret the chart does not render (existingConfigSecret)
    adds nothing here."""
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            config_map = named(manifests, "ConfigMap", source["configMapRef"]["name"])
            env.update((config_map or {}).get("data") or {})
        if "secretRef" in source:
            secret = named(manifests, "Secret", source["secretRef"]["name"])
            env.update((secret or {}).get("stringData") or {})
    env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
    return env


def _traders_pool_settings(
    manifests: list[dict[str, Any]], container: dict[str, Any], monkeypatch
) -> Any:
    """The PoolSettings the rendered `orderbook traders run` builds in its container.

    The command goes through the real CLI with the container's environment (and nothing
    of the test's), with only the swarm itself replaced, so what the tests read is where
    the pool would bind its /metrics and /healthz, not the chart's own idea of it.
    """
    from typer.testing import CliRunner

    import traders.cli
    from orderbook_platform.cli.main import app

    monkeypatch.delenv("OB_CONFIG", raising=False)
    for name in accepted_env_names():
        monkeypatch.delenv(name, raising=False)
    for name, value in _container_env(manifests, container).items():
        monkeypatch.setenv(name, value)
    built: list[Any] = []
    monkeypatch.setattr(
        traders.cli, "run_swarm", lambda _s, pool_settings, **_: built.append(pool_settings)
    )
    monkeypatch.setattr(traders.cli, "print_swarm_summary", lambda _summary: None)
    assert container["command"][0] == "orderbook"
    result = CliRunner().invoke(app, container["command"][1:], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(built) == 1
    return built[0]


def _traders(manifests: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    deployment = one(manifests, "Deployment", "traders")
    (container,) = pod_spec(deployment)["containers"]
    return deployment, container


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_traders_probe_reaches_the_pool_where_it_binds_its_metrics(
    scenario: str, monkeypatch
) -> None:
    manifests = render(SCENARIOS[scenario])
    deployment, container = _traders(manifests)
    pool = _traders_pool_settings(manifests, container, monkeypatch)
    # The probe is rendered (config.traders.metrics_port is set), so the pool must not
    # keep its loopback default: the kubelet connects to the pod IP.
    get = container["livenessProbe"]["httpGet"]
    assert pool.metrics_host == "0.0.0.0"
    assert get["path"] == "/healthz"
    assert "host" not in get
    assert get.get("scheme", "HTTP") == "HTTP"
    assert _port_number(container, get["port"]) == pool.metrics_port
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == pool.metrics_port


def test_the_traders_metrics_host_and_port_come_from_the_values(monkeypatch) -> None:
    manifests = render({"config": {"traders": {"metrics_port": 9200, "metrics_host": "::"}}})
    _, container = _traders(manifests)
    pool = _traders_pool_settings(manifests, container, monkeypatch)
    assert (pool.metrics_host, pool.metrics_port) == ("::", 9200)
    assert _reachable_over_the_pod_ip(pool.metrics_host)
    assert _port_number(container, container["livenessProbe"]["httpGet"]["port"]) == 9200


def test_traders_without_a_metrics_port_have_no_probe_and_serve_nothing(monkeypatch) -> None:
    # With nothing to probe, a loopback (or absent) host is no one's concern.
    for host in ("127.0.0.1", None):
        values = {"config": {"traders": {"metrics_port": None, "metrics_host": host}}}
        manifests = render(values)
        deployment, container = _traders(manifests)
        assert "livenessProbe" not in container and "ports" not in container
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert not any(key.startswith("prometheus.io/") for key in annotations)
        assert _traders_pool_settings(manifests, container, monkeypatch).metrics_port is None


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.1.1", "::1", "localhost", None])
def test_a_traders_metrics_host_the_probe_cannot_reach_is_refused(host: str | None) -> None:
    with pytest.raises(HelmError, match=re.escape("config.traders.metrics_host")):
        render({"config": {"traders": {"metrics_host": host}}})


# ---------------------------------------------------------------- commands in the image


def _console_scripts() -> set[str]:
    return {ep.name for ep in entry_points(group="console_scripts")}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_platform_command_is_an_installed_console_script(scenario: str) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    allowed = _console_scripts() | {"python"}
    for container in _platform_containers(render(SCENARIOS[scenario])):
        program = container["command"][0]
        assert program in allowed, f"{container['name']}: {program} is not installed"
        if program == "orderbook":
            assert "orderbook" in project["project"]["scripts"]


def test_orderbook_commands_and_options_of_the_chart_exist() -> None:
    from typer.testing import CliRunner

    from orderbook_platform.cli.main import app

    runner = CliRunner()
    commands = {
        tuple(c["command"])
        for c in _platform_containers(render(SCENARIOS["scaled"]))
        if c["command"][0] == "orderbook"
    }
    assert {cmd[:3] for cmd in commands} >= {
        ("orderbook", "engine", "run"),
        ("orderbook", "traders", "run"),
        ("orderbook", "topics", "apply"),
    }
    for command in commands:
        words = [w for w in command[1:] if not w.startswith("-")]
        path = words[: 2 if len(words) >= 2 else 1]
        result = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert result.exit_code == 0, (command, result.output)
        for option in (w for w in command if w.startswith("--")):
            assert option in result.output, f"{' '.join(path)} has no {option}"


# ---------------------------------------------------------------- Dagster


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_runs_are_launched_as_kubernetes_jobs_with_the_platform_image(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._cli.api import ExecuteRunArgs
    from dagster._serdes import deserialize_value

    values = SCENARIOS[scenario]
    manifests = render(values)
    instance = dagster_instance(manifests)
    config = instance["run_launcher"]["config"]
    job, namespace = _launched_run(manifests, monkeypatch)
    kubernetes_validate.validate(job, KUBE_VERSION, strict=True)
    assert namespace == NAMESPACE
    spec = pod_spec(job)
    (container,) = spec["containers"]
    # The platform image: the code server's, which it reports as DAGSTER_CURRENT_IMAGE.
    code = one(manifests, "Deployment", "dagster-code")
    (server,) = pod_spec(code)["containers"]
    assert container["image"] == server["image"] == config["job_image"] == _image_of(values)
    assert {"name": "DAGSTER_CURRENT_IMAGE", "value": container["image"]} in server["env"]
    # The platform settings, as the engine gets them.
    engine = one(manifests, "StatefulSet", "engine")
    assert container["envFrom"] == pod_spec(engine)["containers"][0]["envFrom"]
    # The chart's service account (which may manage Jobs: tested below).
    assert spec["serviceAccountName"] == config["service_account_name"]
    assert named(manifests, "ServiceAccount", spec["serviceAccountName"])
    # The Dagster instance: dagster-k8s 0.29.27 mounts no dagster.yaml in the run pod (it
    # requires `instance_config_map` but does not use it to build the Job; asserted so that
    # the chart's comments and docs/kubernetes.md are revisited should that change); the
    # daemon's instance, loaded from the rendered dagster.yaml, travels serialized in the
    # argument of `dagster api execute_run` ...
    assert not [v for v in spec.get("volumes", []) if "configMap" in v]
    assert container["args"][:3] == ["dagster", "api", "execute_run"]
    ref = deserialize_value(container["args"][3], ExecuteRunArgs).instance_ref
    assert ref is not None and ref.storage_data is not None
    storage = yaml.safe_load(ref.storage_data.config_yaml)
    assert storage == instance["storage"]["postgres"]
    # ... and its storage reads the password from DAGSTER_PG_PASSWORD, which the run pod
    # gets from the same Secret key as the daemon; DAGSTER_HOME is the daemon's too.
    daemon = one(manifests, "Deployment", "dagster-daemon")
    (daemon_container,) = pod_spec(daemon)["containers"]
    assert storage["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    for name in ("DAGSTER_PG_PASSWORD", "DAGSTER_HOME"):
        run_var = next(e for e in container["env"] if e["name"] == name)
        assert run_var in daemon_container["env"], run_var


def _writable_mounts(spec: dict[str, Any], container: dict[str, Any]) -> dict[str, dict]:
    """mountPath -> volume source (the volume without its name) of the container's mounts it
    can write to: not readOnly, and not of a kind Kubernetes always mounts read-only."""
    read_only_kinds = {"configMap", "secret", "downwardAPI", "projected"}
    volumes = {v["name"]: v for v in spec.get("volumes", [])}
    writable = {}
    for mount in container.get("volumeMounts", []):
        source = {k: v for k, v in volumes[mount["name"]].items() if k != "name"}
        if not mount.get("readOnly") and not read_only_kinds & set(source):
            writable[mount["mountPath"]] = source
    return writable


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_run_pods_run_as_the_code_server_does_and_can_write_where_it_can(
    scenario: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifests = render(SCENARIOS[scenario])
    job = _run_job(manifests, monkeypatch)
    kubernetes_validate.validate(job, KUBE_VERSION, strict=True)
    code = one(manifests, "Deployment", "dagster-code")
    code_spec, run_spec = pod_spec(code), pod_spec(job)
    (server,) = code_spec["containers"]
    (run,) = run_spec["containers"]
    # The chart's security contexts (orderbook.podSecurityContext and
    # orderbook.containerSecurityContext), exactly.
    assert code_spec["securityContext"]["runAsNonRoot"] is True
    assert server["securityContext"]["allowPrivilegeEscalation"] is False
    assert run_spec.get("securityContext") == code_spec["securityContext"]
    assert run.get("securityContext") == server["securityContext"]
    # Every path the code server may write to, the run pod may write to, on the same kind
    # of volume (none today: the root file system is writable in both) ...
    run_writable = _writable_mounts(run_spec, run)
    for path, source in _writable_mounts(code_spec, server).items():
        assert run_writable.get(path) == source, path
    # ... and with a read-only root file system, what a run writes needs a volume: /tmp
    # (Spark's scratch space, the stack state dir) and DAGSTER_HOME (compute logs).
    if run["securityContext"].get("readOnlyRootFilesystem"):
        home = next(e["value"] for e in run["env"] if e["name"] == "DAGSTER_HOME")
        assert {"/tmp", home} <= set(run_writable), run_writable


def _k8s_config_tag(config: dict[str, Any]) -> dict[str, str]:
    """The run tag through which a run sets its own pod's Kubernetes config."""
    return {"dagster-k8s/config": json.dumps(config)}


ROOT_POD = {"pod_spec_config": {"securityContext": {"runAsUser": 0, "runAsNonRoot": False}}}


def test_a_run_may_ask_for_other_resources_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = render(DEFAULT)
    bigger = {"container_config": {"resources": {"limits": {"memory": "8Gi"}}}}
    job = _launched_run(manifests, monkeypatch, _k8s_config_tag(bigger))[0]
    (run,) = pod_spec(job)["containers"]
    assert run["resources"]["limits"]["memory"] == "8Gi"
    # A run that would change its pod's security context is refused at launch.
    with pytest.raises(Exception, match="violated the allowed list: pod_spec_config"):
        _launched_run(manifests, monkeypatch, _k8s_config_tag(ROOT_POD))


def test_without_an_allowlist_a_run_tag_can_change_its_pod_security_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What the allowlist prevents: with `allowedK8sConfig: null` the same tag goes through.
    manifests = render({"dagster": {"runs": {"allowedK8sConfig": None}}})
    launcher_config = dagster_instance(manifests)["run_launcher"]["config"]
    assert "only_allow_user_defined_k8s_config_fields" not in launcher_config
    job = _launched_run(manifests, monkeypatch, _k8s_config_tag(ROOT_POD))[0]
    assert pod_spec(job)["securityContext"]["runAsUser"] == 0


def test_a_run_may_be_allowed_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # Helm merges a values map into the default, so "nothing" is the one entry turned off.
    nothing = {"container_config": {"resources": False}}
    manifests = render({"dagster": {"runs": {"allowedK8sConfig": nothing}}})
    launcher_config = dagster_instance(manifests)["run_launcher"]["config"]
    assert launcher_config["only_allow_user_defined_k8s_config_fields"] == nothing
    bigger = {"container_config": {"resources": {"limits": {"memory": "8Gi"}}}}
    with pytest.raises(Exception, match=r"violated the allowed list: container_config\.resources"):
        _launched_run(manifests, monkeypatch, _k8s_config_tag(bigger))


def _bindings_of(manifests: list[dict[str, Any]], account: str) -> list[dict[str, Any]]:
    subject = {"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}
    return [
        b
        for kind in ("RoleBinding", "ClusterRoleBinding")
        for b in find(manifests, kind)
        if subject in b.get("subjects", [])
    ]


def test_the_webserver_and_the_daemon_may_manage_jobs_and_read_pod_logs() -> None:
    manifests = render(DEFAULT)
    account = pod_spec(one(manifests, "Deployment", "dagster-daemon"))["serviceAccountName"]
    assert named(manifests, "ServiceAccount", account)
    bindings = _bindings_of(manifests, account)
    assert len(bindings) == 1
    role = named(manifests, "Role", bindings[0]["roleRef"]["name"])
    assert role is not None

    def allowed(group: str, resource: str, verb: str) -> bool:
        return any(
            group in rule["apiGroups"] and resource in rule["resources"] and verb in rule["verbs"]
            for rule in role["rules"]
        )

    for verb in ("create", "get", "list", "watch", "delete"):
        assert allowed("batch", "jobs", verb), verb
    for resource in ("pods", "pods/log"):
        assert allowed("", resource, "get") and allowed("", resource, "list")
    for component in ("dagster-webserver", "dagster-daemon"):
        assert pod_spec(one(manifests, "Deployment", component))["serviceAccountName"] == account


def test_run_pods_have_an_account_of_their_own_with_no_role(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = render(DEFAULT)
    account = pod_spec(_run_job(manifests, monkeypatch))["serviceAccountName"]
    daemon = pod_spec(one(manifests, "Deployment", "dagster-daemon"))["serviceAccountName"]
    assert account != daemon
    assert named(manifests, "ServiceAccount", account) is not None
    assert _bindings_of(manifests, account) == []


def test_without_a_chart_made_account_run_pods_use_the_given_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifests = render({"serviceAccount": {"create": False, "name": "platform"}})
    assert pod_spec(_run_job(manifests, monkeypatch))["serviceAccountName"] == "platform"
    assert find(manifests, "ServiceAccount") == []


@pytest.mark.parametrize("scenario", ["default", "external", "kafka-tls"])
def test_instance_config_is_valid_for_this_dagster(scenario: str, tmp_path) -> None:
    from dagster._config import validate_config
    from dagster._core.instance.config import dagster_instance_config
    from dagster._serdes import class_from_code_pointer
    from dagster_postgres import DagsterPostgresStorage

    instance = dagster_instance(render(SCENARIOS[scenario]))
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(instance))
    dagster_instance_config(str(tmp_path))  # raises on an invalid instance file
    for key in ("run_launcher", "run_coordinator"):
        section = instance[key]
        configurable = class_from_code_pointer(section["module"], section["class"])
        result = validate_config(configurable.config_type(), section.get("config", {}))
        assert result.success, (key, [e.message for e in result.errors])
    storage = validate_config(DagsterPostgresStorage.config_type(), instance["storage"]["postgres"])
    assert storage.success, [e.message for e in storage.errors]


def test_postgres_password_reaches_every_dagster_process_the_same_way() -> None:
    manifests = render(DEFAULT)
    instance = dagster_instance(manifests)
    assert instance["storage"]["postgres"]["postgres_db"]["password"] == {
        "env": "DAGSTER_PG_PASSWORD"
    }
    secret_name = instance["run_launcher"]["config"]["postgres_password_secret"]
    # dagster-k8s reads this key for the run pods; the chart uses it everywhere else.
    secret = named(manifests, "Secret", secret_name)
    assert secret is not None and "postgresql-password" in secret["stringData"]
    for component in ("dagster-webserver", "dagster-daemon"):
        env = pod_spec(one(manifests, "Deployment", component))["containers"][0]["env"]
        password = next(e for e in env if e["name"] == "DAGSTER_PG_PASSWORD")
        assert password["valueFrom"]["secretKeyRef"] == {
            "name": secret_name,
            "key": "postgresql-password",
        }
    database = one(manifests, "StatefulSet", "postgresql")
    db_env = next(
        e for e in pod_spec(database)["containers"][0]["env"] if e["name"] == "POSTGRES_PASSWORD"
    )
    assert db_env["valueFrom"]["secretKeyRef"]["name"] == secret_name


def test_workspace_loads_the_repository_code_location_from_the_grpc_server() -> None:
    manifests = render(DEFAULT)
    workspace_map = next(
        m for m in find(manifests, "ConfigMap", "dagster") if "workspace.yaml" in m["data"]
    )
    (entry,) = yaml.safe_load(workspace_map["data"]["workspace.yaml"])["load_from"]
    server = entry["grpc_server"]
    local = yaml.safe_load((ROOT / "workspace.yaml").read_text())["load_from"][0]["python_module"]
    assert server["location_name"] == local["location_name"]
    service = _service_for(manifests, server["host"])
    code = one(manifests, "Deployment", "dagster-code")
    assert service is not None and _selects(service, code)
    assert server["port"] in {p["port"] for p in service["spec"]["ports"]}
    command = pod_spec(code)["containers"][0]["command"]
    assert command[:3] == ["dagster", "api", "grpc"]
    options = dict(zip(command[3::2], command[4::2], strict=True))
    assert options["--module-name"] == local["module_name"]
    assert options["--attribute"] == local["attribute"]
    assert int(options["--port"]) == server["port"]
    assert {"OB__S3__ACCESS_KEY", "OB__ALERTS__WEBHOOK_URL"} <= dagster_env_names()
    assert settings_env_names()  # the code server reads both kinds through envFrom
