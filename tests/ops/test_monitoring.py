"""Monitoring that is checked: promtool validates the shipped Prometheus files and proves each
alert fires and clears (deploy/prometheus/alerts_test.yml), the Kubernetes PrometheusRule
carries the same rules, the job labels the rules match are the ones both Prometheus setups
really produce, and every exporter in a container binds an address another host can scrape.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from sluice.settings import Settings
from tests.conftest import REPO_ROOT
from tests.ops.test_deploy import compose, manifests

PROMETHEUS = REPO_ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool missing: scripts/system-packages.sh test installs it"
)

# The address each role's server or exporter binds, by the command it runs: (the port
# setting that turns it on, or None where it always listens; the host setting).
BIND_SETTINGS: dict[str, tuple[str | None, str]] = {
    "api": (None, "api_host"),
    "dashboard": (None, "dashboard_host"),
    "flower": (None, "flower_host"),
    "worker": ("worker_metrics_port", "worker_metrics_host"),
    "cdc": ("cdc_metrics_port", "cdc_metrics_host"),
}


def promtool(*args: str, cwd: Path = PROMETHEUS) -> str:
    assert PROMTOOL is not None
    result = subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@needs_promtool
def test_promtool_accepts_the_prometheus_config_and_its_rules() -> None:
    assert "1 rule files found" in promtool("check", "config", "prometheus.yml")
    promtool("check", "rules", "alerts.yml")


@needs_promtool
def test_every_paging_alert_fires_and_clears_in_promtool_unit_tests() -> None:
    promtool("test", "rules", "alerts_test.yml")
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    checked: dict[str, list[bool]] = {}
    for case in tests:
        for check in case["alert_rule_test"]:
            checked.setdefault(check["alertname"], []).append(bool(check["exp_alerts"]))
    for alert in ("SluiceWorkersMissing", "SluiceAPIDown", "SluiceDeadLetterQueueGrowing",
                  "SluiceOldestMessageOverSLO", "SluiceLLMBudgetNearLimit", "SluiceCDCLagging"):
        firing = checked.get(alert, [])
        assert any(firing), f"{alert}: no case where it fires"
        assert firing and not firing[-1], f"{alert}: its last case must show it cleared"


@needs_promtool
def test_the_kubernetes_prometheus_rule_is_the_same_rules_and_valid(tmp_path: Path) -> None:
    from scripts.prometheus_rule import TARGET, prometheus_rule

    assert TARGET.read_text() == prometheus_rule(), "run: python scripts/prometheus_rule.py --write"
    (rule,) = [d for d in manifests() if d["kind"] == "PrometheusRule"]
    (tmp_path / "rules.yml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    promtool("check", "rules", "rules.yml", cwd=tmp_path)


def alert_jobs() -> set[str]:
    import re

    return set(re.findall(r'job="([^"]+)"', ALERTS.read_text()))


def test_alert_job_labels_are_the_ones_compose_prometheus_scrapes() -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {scrape["job_name"] for scrape in config["scrape_configs"]}
    assert alert_jobs() <= jobs


def pod_templates() -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d["spec"]["template"] for d in manifests()
            if d["kind"] == "Deployment"}


def test_the_pod_monitor_sets_the_job_labels_the_alerts_match_and_scrapes_only_exporters(
) -> None:
    (monitor,) = [d for d in manifests() if d["kind"] == "PodMonitor"]
    job_label = monitor["spec"]["jobLabel"]
    (expression,) = monitor["spec"]["selector"]["matchExpressions"]
    assert (expression["key"], expression["operator"]) == (job_label, "Exists")
    endpoints = {(e["port"], e["path"]) for e in monitor["spec"]["podMetricsEndpoints"]}
    scraped: dict[str, str] = {}
    for name, template in pod_templates().items():
        job = template["metadata"]["labels"].get(job_label)
        if job is None:
            continue
        scraped[name] = job
        (container,) = template["spec"]["containers"]
        ports = {port["name"] for port in container.get("ports", [])}
        assert ports & {port for port, _ in endpoints}, f"{name}: no scraped port"
        role = container["args"][0]
        assert role in ("api", "worker", "cdc"), f"{name} ({role}) serves no /metrics"
    assert {"sluice-dashboard", "sluice-flower"}.isdisjoint(scraped)
    assert alert_jobs() <= set(scraped.values())
    assert set(scraped.values()) == {"sluice-api", "sluice-workers", "sluice-cdc"}


def assert_binds_scrapable(where: str, role: str, environment: dict[str, str]) -> None:
    port_setting, host_setting = BIND_SETTINGS[role]
    if port_setting and f"SLUICE_{port_setting.upper()}" not in environment:
        return
    default = Settings.model_fields[host_setting].default
    host = environment.get(f"SLUICE_{host_setting.upper()}", default)
    assert not ipaddress.ip_address(host).is_loopback, \
        f"{where}: {role} binds {host} ({host_setting}), which no other container can reach"


def test_no_exporter_binds_loopback_in_the_compose_services() -> None:
    for name, service in compose()["services"].items():
        command = service.get("command") or []
        if command and command[0] in BIND_SETTINGS:
            environment = {k: str(v) for k, v in (service.get("environment") or {}).items()}
            assert_binds_scrapable(f"compose {name}", command[0], environment)


def test_no_exporter_binds_loopback_in_the_kubernetes_pods() -> None:
    (config,) = [d for d in manifests() if d["kind"] == "ConfigMap"]
    for name, template in pod_templates().items():
        (container,) = template["spec"]["containers"]
        role = container["args"][0]
        if role in BIND_SETTINGS:
            environment = dict(config["data"])
            environment |= {v["name"]: str(v["value"]) for v in container.get("env", [])}
            assert_binds_scrapable(f"k8s {name}", role, environment)


def test_the_loopback_check_catches_the_old_cdc_binding() -> None:
    with pytest.raises(AssertionError, match=r"cdc binds 127\.0\.0\.1"):
        assert_binds_scrapable("example", "cdc", {"SLUICE_CDC_METRICS_PORT": "9809",
                                                  "SLUICE_CDC_METRICS_HOST": "127.0.0.1"})


def test_the_dashboard_keeps_its_state_and_its_secure_cookies_reach_it() -> None:
    (dashboard,) = [d for d in manifests()
                    if d["kind"] == "Deployment" and d["metadata"]["name"] == "sluice-dashboard"]
    (container,) = dashboard["spec"]["template"]["spec"]["containers"]
    data_mount = next(m for m in container["volumeMounts"] if m["mountPath"] == "/data")
    volumes = {v["name"]: v for v in dashboard["spec"]["template"]["spec"]["volumes"]}
    assert "emptyDir" not in volumes[data_mount["name"]], "the audit trail must survive rollouts"
    services = compose()["services"]
    assert "ports" not in services["dashboard"], "Secure cookies never work over plain HTTP"
    proxy = services["dashboard-tls"]
    caddyfile = (REPO_ROOT / "deploy" / "caddy" / "Caddyfile").read_text()
    assert "reverse_proxy dashboard:8001" in caddyfile and "tls internal" in caddyfile
    assert any(str(port).endswith(":443") for port in proxy["ports"])


def test_the_image_installs_the_cpu_torch_build_unless_asked_for_cuda() -> None:
    text = (REPO_ROOT / "deploy" / "Dockerfile").read_text()
    assert "ARG TORCH_VARIANT=cpu" in text
    assert "download.pytorch.org/whl/cpu" in text
    import tomllib

    wheel = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"]
    packages = wheel["targets"]["wheel"]["packages"]
    for package in packages:
        assert f"COPY {package} ./{package}" in text, f"the image misses the {package} package"
