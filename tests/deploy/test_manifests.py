"""Offline validation of the deploy files: Kubernetes manifests against the
Kubernetes schemas (kubernetes-validate), the compose file against the
compose-spec schema, and the consistency of both with the code (settings
names, CLI commands, probe paths and ports)."""

from __future__ import annotations

import copy
import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from pydantic import ValidationError
from typer.testing import CliRunner

from core.settings import PLACEHOLDER_SECRET, Settings
from rvrota.cli import build_app

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S_VERSION = "1.33.0"
MANIFESTS = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def _all_k8s_docs() -> list[dict[str, Any]]:
    return [doc for path in MANIFESTS for doc in _docs(path)]


def _find(kind: str, name: str) -> dict[str, Any]:
    for doc in _all_k8s_docs():
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    raise AssertionError(f"no {kind}/{name} in deploy/k8s")


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _compose_schema() -> dict[str, Any]:
    """The compose-spec schema vendored by check-jsonschema (read as a file: its CLI
    does not import with the click pinned here)."""
    spec = importlib.util.find_spec("check_jsonschema")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations)))
    schema = json.loads((root / "builtin_schemas/vendor/compose-spec.json").read_text("utf-8"))
    assert isinstance(schema, dict)
    return schema


def _compose_errors(data: dict[str, Any]) -> list[str]:
    schema = _compose_schema()
    validator_cls = jsonschema.validators.validator_for(schema)
    validator = validator_cls(schema, format_checker=validator_cls.FORMAT_CHECKER)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]


def _containers(doc: dict[str, Any]) -> list[dict[str, Any]]:
    spec = doc["spec"]["jobTemplate"]["spec"] if doc["kind"] == "CronJob" else doc["spec"]
    containers: list[dict[str, Any]] = spec["template"]["spec"]["containers"]
    return containers


def _setting_names() -> set[str]:
    return {f"RVROTA_{name.upper()}" for name in Settings.model_fields}


# --- Kubernetes --------------------------------------------------------------


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_k8s_manifest_validates_strictly(path: Path) -> None:
    docs = _docs(path)
    assert docs, f"{path.name} holds no resource"
    for doc in docs:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_k8s_validator_rejects_broken_manifests() -> None:
    """The check above can fail: a typo'd field and a wrong type are both caught."""
    worker = _find("Deployment", "rvrota-worker")
    typo = copy.deepcopy(worker)
    typo["spec"]["replica"] = typo["spec"].pop("replicas")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(typo, K8S_VERSION, strict=True)
    wrong_type = copy.deepcopy(worker)
    _containers(wrong_type)[0]["readinessProbe"]["httpGet"]["path"] = 42
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, K8S_VERSION, strict=True)


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)


def test_k8s_resources_share_one_namespace() -> None:
    namespace = _find("Namespace", "rvrota")["metadata"]["name"]
    for doc in _all_k8s_docs():
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == namespace, doc["metadata"]["name"]


def test_k8s_config_and_secret_are_settings_that_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    config = _find("ConfigMap", "rvrota-config")["data"]
    secret = _find("Secret", "rvrota-secret")["stringData"]
    unknown = (set(config) | set(secret)) - _setting_names()
    assert not unknown, f"not rvrota settings: {sorted(unknown)}"
    assert not set(config) & set(secret), "a setting is both in the ConfigMap and the Secret"
    for key, value in {**config, **secret}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("RVROTA_SECRET_KEY", "a-real-secret-for-this-test-0123456789")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.environment == "production"
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.kafka_bootstrap == config["RVROTA_KAFKA_BOOTSTRAP"]


def test_k8s_secret_placeholder_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Secret applied without replacing its placeholder stops the pods."""
    secret = _find("Secret", "rvrota-secret")
    assert secret["stringData"]["RVROTA_SECRET_KEY"] == PLACEHOLDER_SECRET
    assert "PLACEHOLDER" in (K8S / "secret.yaml").read_text(encoding="utf-8")
    monkeypatch.setenv("RVROTA_ENVIRONMENT", "production")
    monkeypatch.setenv("RVROTA_SECRET_KEY", secret["stringData"]["RVROTA_SECRET_KEY"])
    with pytest.raises(ValidationError, match="RVROTA_SECRET_KEY"):
        Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("name", "port_setting"),
    [("rvrota-api", "RVROTA_API_PORT"), ("rvrota-worker", "RVROTA_WORKER_PORT")],
)
def test_k8s_probes_hit_health_paths_on_the_configured_port(name: str, port_setting: str) -> None:
    config = _find("ConfigMap", "rvrota-config")["data"]
    (container,) = _containers(_find("Deployment", name))
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        port = container[probe]["httpGet"]["port"]
        assert ports[port] == int(config[port_setting])
    env_from = {next(iter(src.values()))["name"] for src in container["envFrom"]}
    assert env_from == {"rvrota-config", "rvrota-secret"}


def test_probes_can_reach_the_pods() -> None:
    """The API and the worker's probe server bind RVROTA_API_HOST: not loopback, since
    kubelet probes the pod's IP and compose publishes the API's port."""
    assert _find("ConfigMap", "rvrota-config")["data"]["RVROTA_API_HOST"] == "0.0.0.0"
    for name in ("api", "worker"):
        assert _compose()["services"][name]["environment"]["RVROTA_API_HOST"] == "0.0.0.0"


def test_k8s_api_service_targets_the_api_pods() -> None:
    service = _find("Service", "rvrota-api")
    deployment = _find("Deployment", "rvrota-api")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    (container,) = _containers(deployment)
    port_names = {p["name"] for p in container["ports"]}
    assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names


def test_k8s_worker_autoscaler_stays_within_partitions() -> None:
    hpa = _find("HorizontalPodAutoscaler", "rvrota-worker")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "rvrota-worker")
    partitions = int(_find("ConfigMap", "rvrota-config")["data"]["RVROTA_KAFKA_PARTITIONS"])
    assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions
    (container,) = _containers(_find("Deployment", "rvrota-worker"))
    assert "cpu" in container["resources"]["requests"], "CPU utilisation needs a CPU request"


def test_k8s_kafka_and_postgres_are_external() -> None:
    images = [
        c["image"]
        for d in _all_k8s_docs()
        if d["kind"] in {"Deployment", "Job", "CronJob"}
        for c in _containers(d)
    ]
    assert images and all(image.startswith("rvrota:") for image in images)


# --- compose -----------------------------------------------------------------


def test_compose_file_matches_compose_spec() -> None:
    errors = _compose_errors(_compose())
    assert not errors, "\n".join(errors)


def test_compose_schema_rejects_broken_files() -> None:
    broken = _compose()
    broken["services"]["worker"]["deploy"]["replicas"] = ["two"]
    assert _compose_errors(broken)
    broken = _compose()
    broken["services"]["api"]["helthcheck"] = broken["services"]["api"].pop("healthcheck")
    assert _compose_errors(broken)


def test_compose_runs_kafka_in_kraft_mode_and_postgres() -> None:
    services = _compose()["services"]
    kafka = services["kafka"]["environment"]
    assert set(kafka["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in key for key in kafka)
    assert kafka["KAFKA_CONTROLLER_LISTENER_NAMES"] in kafka["KAFKA_LISTENERS"]
    assert services["postgres"]["image"].startswith("postgres:")
    for name in ("kafka", "postgres", "api", "worker"):
        assert "healthcheck" in services[name], name


def test_compose_services_share_settings_that_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    services = _compose()["services"]
    rvrota = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("rvrota")}
    assert set(rvrota) == {"migrate", "api", "worker"}
    for name, service in rvrota.items():
        env: dict[str, str] = service["environment"]
        unknown = set(env) - _setting_names()
        assert not unknown, f"{name}: not rvrota settings: {sorted(unknown)}"
    env = rvrota["api"]["environment"]
    for key, value in env.items():
        # compose interpolation is the operator's; give the variables a value
        monkeypatch.setenv(key, re.sub(r"\$\{[^}]*\}", "x" * 32, value))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.kafka_bootstrap == "kafka:9092"


def test_compose_migration_runs_before_api_and_workers() -> None:
    services = _compose()["services"]
    assert services["migrate"]["command"] == ["rvrota", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["kafka"]["condition"] == "service_healthy"


def test_compose_workers_scale_within_partitions_and_probe_their_port() -> None:
    services = _compose()["services"]
    worker = services["worker"]
    partitions = int(worker["environment"]["RVROTA_KAFKA_PARTITIONS"])
    assert 2 <= worker["deploy"]["replicas"] <= partitions
    assert "ports" not in worker, "replicas cannot share a host port"
    port = worker["environment"]["RVROTA_WORKER_PORT"]
    assert f":{port}/readyz" in " ".join(worker["healthcheck"]["test"])
    api_port = services["api"]["environment"]["RVROTA_API_PORT"]
    assert f":{api_port}/readyz" in " ".join(services["api"]["healthcheck"]["test"])


# --- Dockerfile and commands -------------------------------------------------


def _dockerfile_commands() -> list[list[str]]:
    text = DOCKERFILE.read_text(encoding="utf-8")
    return [json.loads(m) for m in re.findall(r"^CMD (\[.*\])$", text, flags=re.MULTILINE)]


def test_dockerfile_copies_every_package_and_sets_only_settings() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    pyproject = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    include = re.search(r"include = \[(.*?)\]", pyproject)
    assert include is not None
    packages = [p.strip().strip('"').rstrip("*") for p in include.group(1).split(",")]
    for package in packages:
        assert re.search(rf"^COPY {package} \./{package}$", text, flags=re.MULTILINE), package
    env_names = set(re.findall(r"\b(RVROTA_[A-Z_]+)=", text))
    assert env_names and env_names <= _setting_names()


def _package_data_globs() -> dict[str, list[str]]:
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    data: dict[str, list[str]] = config["tool"]["setuptools"].get("package-data", {})
    return data


def test_installed_package_holds_runtime_files() -> None:
    """The image installs the package (not the tree): every file the code reads at run
    time must be package data (setuptools globs are relative to each package's dir)."""
    from setuptools import find_packages

    globs = _package_data_globs()
    include = re.search(r"include = \[(.*?)\]", (REPO / "pyproject.toml").read_text("utf-8"))
    assert include is not None
    patterns = [p.strip().strip('"') for p in include.group(1).split(",")]
    packages = find_packages(where=str(REPO), include=patterns)
    shipped: set[Path] = set()
    for package in packages:
        package_dir = REPO / package.replace(".", "/")
        shipped |= set(package_dir.glob("*.py"))
        for pattern in globs.get("*", []) + globs.get(package, []):
            shipped |= set(package_dir.glob(pattern))
    needed = [
        p
        for folder in ("api/templates", "api/static", "fleet/migrations")
        for p in (REPO / folder).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    ]
    assert needed
    missing = sorted(str(p.relative_to(REPO)) for p in needed if p not in shipped)
    assert not missing, f"not installed by `pip install .`: {missing}"


def _all_commands() -> list[list[str]]:
    services = _compose()["services"]
    commands = [s["command"] for s in services.values() if "command" in s]
    for doc in _all_k8s_docs():
        if doc["kind"] in {"Deployment", "Job", "CronJob"}:
            commands.extend(c["command"] for c in _containers(doc))
    return commands + _dockerfile_commands()


def test_deploy_commands_exist_in_the_cli() -> None:
    """Every command the deploy files run parses with the real CLI (`... --help` exits 0
    only if the command and all its options exist)."""
    commands = {tuple(c) for c in _all_commands()}
    assert {c[:2] for c in commands} >= {
        ("rvrota", "serve"),
        ("rvrota", "worker"),
        ("rvrota", "db"),
        ("rvrota", "workers"),  # the nightly retention of personal data
    }
    app = build_app()
    runner = CliRunner()
    for command in sorted(commands):
        assert command[0] == "rvrota"
        result = runner.invoke(app, [*command[1:], "--help"])
        assert result.exit_code == 0, f"{' '.join(command)}: {result.output}"
