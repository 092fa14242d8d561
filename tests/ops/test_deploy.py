"""The production stack as files: Docker cannot run here, so its shape is checked instead.

The compose file is validated against the compose specification's own JSON schema
(vendored in tests/fixtures from check-jsonschema's copy), every service and manifest runs
a `sluice` command the CLI really has with options it really takes, and every metric the
alerts and the dashboard use is one Sluice exports.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml
from prometheus_client.parser import text_string_to_metric_families

from cli.main import app as cli_app
from sluice.broker_queues import PRIORITY_SEPARATOR
from sluice.kinds import Queue
from sluice.priorities import BROKER_PRIORITY
from sluice.settings import Settings
from tests.conftest import REPO_ROOT, SluiceEnv, make_env

DEPLOY = REPO_ROOT / "deploy"
COMPOSE = REPO_ROOT / "docker-compose.yml"
SLUICE_IMAGE_SERVICES = {
    "api", "dashboard", "worker-io", "worker-cpu", "worker-gpu", "beat", "cdc", "flower",
}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def manifests() -> Iterator[dict[str, Any]]:
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                document["__file__"] = path.name
                yield document


def cli_command(argv: list[str]) -> Any:
    """The click command ``sluice ARGV`` runs, after checking its options exist."""
    command: Any = typer.main.get_command(cli_app)
    rest = list(argv)
    while hasattr(command, "list_commands"):  # a group (typer ships its own click)
        if not rest and getattr(command, "invoke_without_command", False):
            break  # a group that runs on its own (`sluice cdc`)
        assert rest, f"`sluice {' '.join(argv)}` names a group, not a command"
        name = rest.pop(0)
        sub = command.get_command(typer.Context(command), name)
        assert sub is not None, f"`sluice {' '.join(argv)}`: the CLI has no command {name!r}"
        command = sub
    known = {opt for param in command.params for opt in getattr(param, "opts", [])}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in known, f"`sluice {' '.join(argv)}`: no option {word}"
    return command


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads((REPO_ROOT / "tests/fixtures/compose-spec.json").read_text())
    jsonschema.validate(compose(), schema)


def test_compose_runs_the_whole_production_shape() -> None:
    services = compose()["services"]
    assert SLUICE_IMAGE_SERVICES | {"redis", "mongo", "qdrant", "vllm", "prometheus", "grafana"} \
        <= set(services)
    redis_command = services["redis"]["command"]
    assert redis_command[redis_command.index("--appendonly") + 1] == "yes"
    assert "--replSet" in services["mongo"]["command"]
    assert "rs.initiate" in " ".join(services["mongo"]["healthcheck"]["test"])
    assert services["vllm"]["profiles"] == ["gpu"]
    assert "--guided-decoding-backend" in services["vllm"]["command"]
    for name, service in services.items():
        # beat and cdc serve nothing to probe; every other service says when it is healthy.
        assert "healthcheck" in service or name in {"beat", "cdc", "flower"}, name
    for name in ("redis", "mongo", "qdrant", "prometheus", "grafana"):
        assert any(":" in volume for volume in services[name]["volumes"]), name
    # Flower is published on localhost only and cannot start without a password.
    assert services["flower"]["ports"][0].startswith("127.0.0.1:")
    assert ":?" in services["flower"]["environment"]["SLUICE_FLOWER_PASSWORD"]


def test_every_compose_service_runs_a_command_the_cli_has() -> None:
    services = compose()["services"]
    queues = set()
    for name in SLUICE_IMAGE_SERVICES:
        command = services[name]["command"]
        cli_command(command)
        if command[0] == "worker":
            queues.add(command[command.index("--queues") + 1])
            assert services[name]["environment"]["SLUICE_WORKER_METRICS_PORT"] == "9808"
    assert queues == {queue.value for queue in Queue}


def test_env_example_covers_the_compose_variables_and_names_real_settings() -> None:
    example = (REPO_ROOT / ".env.example").read_text()
    defined = set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.MULTILINE))
    referenced = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert referenced - defined == set()
    fields = {f"SLUICE_{name.upper()}" for name in Settings.model_fields}
    not_settings = {"SLUICE_IMAGE", "SLUICE_VLLM_MODEL"}  # compose-only
    assert {name for name in defined if name.startswith("SLUICE_")} - fields - not_settings \
        == set()
    compose_env = set()
    for service in compose()["services"].values():
        environment = service.get("environment") or {}
        compose_env |= {name for name in environment if name.startswith("SLUICE_")}
    assert compose_env - fields == set()


def test_manifests_are_well_formed_and_run_cli_commands_as_non_root() -> None:
    documents = list(manifests())
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    assert {"sluice-api", "sluice-dashboard", "sluice-flower", "sluice-beat", "sluice-cdc"} \
        <= set(deployments)
    fields = {f"SLUICE_{name.upper()}" for name in Settings.model_fields}
    for document in documents:
        assert document["apiVersion"] and document["kind"]
        assert document["kind"] == "Kustomization" or document["metadata"]["name"]
        if document["kind"] == "ConfigMap":
            assert set(document["data"]) - fields == set()
    for name, deployment in deployments.items():
        template = deployment["spec"]["template"]
        selector = deployment["spec"]["selector"]["matchLabels"]
        assert selector.items() <= template["metadata"]["labels"].items(), name
        assert template["spec"]["securityContext"]["runAsNonRoot"] is True, name
        (container,) = template["spec"]["containers"]
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
        cli_command(container["args"])
        for variable in container.get("env", []):
            assert variable["name"] in fields, (name, variable["name"])
    for service in (d for d in documents if d["kind"] == "Service"):
        assert any(service["spec"]["selector"].items()
                   <= d["spec"]["template"]["metadata"]["labels"].items()
                   for d in deployments.values()), service["metadata"]["name"]
    kustomization = next(d for d in documents if d["kind"] == "Kustomization")
    for resource in kustomization["resources"]:
        assert (DEPLOY / "k8s" / resource).exists(), resource


def test_each_worker_queue_has_a_keda_scaled_object_on_its_queue_depth() -> None:
    documents = list(manifests())
    deployments = {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}
    scaled = [d for d in documents if d["kind"] == "ScaledObject"]
    by_queue = {}
    for scaled_object in scaled:
        target = deployments[scaled_object["spec"]["scaleTargetRef"]["name"]]
        triggers = scaled_object["spec"]["triggers"]
        args = target["spec"]["template"]["spec"]["containers"][0]["args"]
        queue = args[args.index("--queues") + 1]
        # Every priority step's list, summed: a backlog of normal jobs scales too.
        assert {trigger["metadata"]["listName"] for trigger in triggers} \
            == {queue + (f"{PRIORITY_SEPARATOR}{step}" if step else "")
                for step in BROKER_PRIORITY.values()}
        for trigger in triggers:
            assert trigger["type"] == "redis" and int(trigger["metadata"]["listLength"]) > 0
        formula = scaled_object["spec"]["advanced"]["scalingModifiers"]["formula"]
        assert sorted(formula.replace(" ", "").split("+")) \
            == sorted(trigger["name"] for trigger in triggers)
        spec = scaled_object["spec"]
        assert 1 <= spec["minReplicaCount"] <= spec["maxReplicaCount"]
        by_queue[queue] = scaled_object
    assert set(by_queue) == {queue.value for queue in Queue}


def test_dockerfile_is_multi_stage_and_runs_as_non_root() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+\S+(?:\s+AS\s+(\S+))?", text, re.MULTILINE)
    assert len(stages) >= 2
    final = text.split("\nFROM ")[-1]
    user = re.search(r"^USER\s+(\S+)", final, re.MULTILINE)
    assert user and not user.group(1).startswith(("root", "0"))
    assert 'ENTRYPOINT ["sluice"]' in final
    assert "COPY --from=" in final


@pytest.fixture
def exported_metrics(sluice_env: SluiceEnv) -> set[str]:
    """Every series name Sluice exports: the API's /metrics with a budget configured (this
    process's registry also holds the CDC reader's metrics once its module is imported)."""
    import producers.cdc.consumer  # noqa: F401
    env = make_env(sluice_env.tmp / "m", str(sluice_env.settings.broker_url),
                   llm_budgets="global:tokens:hour=10")
    text = env.api().get("/metrics").text
    env.store.close()
    names = {"up"}
    for family in text_string_to_metric_families(text):
        for suffix in ("", "_total", "_bucket", "_count", "_sum", "_created"):
            names.add(family.name + suffix)
    return names


def expressions() -> Iterator[tuple[str, str]]:
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield f"alert {rule['alert']}", rule["expr"]
    dashboard = json.loads((DEPLOY / "grafana/dashboards/sluice.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            yield f"panel {panel['title']}", target["expr"]


def test_alerts_and_dashboard_use_only_metrics_sluice_exports(exported_metrics: set[str]) -> None:
    for where, expr in expressions():
        for name in re.findall(r"\b(sluice_[a-z_]+|up)\b", expr):
            assert name in exported_metrics, f"{where} uses {name}, which nothing exports"


def test_alert_rules_cover_the_pages_an_operator_needs() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())
    alerts = {rule["alert"]: rule for group in rules["groups"] for rule in group["rules"]}
    needed = {"SluiceDeadLetterQueueGrowing", "SluiceOldestMessageOverSLO",
              "SluiceLLMBudgetNearLimit", "SluiceWorkersMissing"}
    assert needed <= set(alerts)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        assert rule["annotations"]["summary"], name
    scrape = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"] for job in scrape["scrape_configs"]}
    assert jobs == {"sluice-api", "sluice-workers", "sluice-cdc"}
    assert scrape["rule_files"] == ["alerts.yml"]  # beside prometheus.yml
    mounted = compose()["services"]["prometheus"]["volumes"][0]
    assert mounted.startswith("./deploy/prometheus:/etc/prometheus")
    assert Path(REPO_ROOT / "deploy/grafana/provisioning/dashboards/sluice.yml").exists()
