"""Write deploy/k8s/prometheus-rule.yaml from deploy/prometheus/alerts.yml, so compose and
Kubernetes alert on the same rules (tests/ops/test_monitoring.py checks they agree).

    python scripts/prometheus_rule.py            # print the PrometheusRule
    python scripts/prometheus_rule.py --write    # replace the file
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
TARGET = DEPLOY / "k8s" / "prometheus-rule.yaml"
HEADER = (
    "# Generated from deploy/prometheus/alerts.yml by scripts/prometheus_rule.py: edit that\n"
    "# file and run the script. The PodMonitor (monitoring.yaml) sets the job labels these\n"
    "# rules match.\n"
)


def prometheus_rule() -> str:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": "sluice",
            "namespace": "sluice",
            "labels": {"app.kubernetes.io/name": "sluice"},
        },
        "spec": {"groups": groups},
    }
    return HEADER + yaml.safe_dump(rule, sort_keys=False, width=100)


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        TARGET.write_text(prometheus_rule())
    else:
        sys.stdout.write(prometheus_rule())
