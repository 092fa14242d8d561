"""Importing sluice.client loads httpx, httpx-sse and schemas: none of the runtime (no
Celery, Redis, settings, stores) and no edge, so a service can use it without them."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import REPO_ROOT

PROBE = """
import json, sys
import sluice.client
print(json.dumps(sorted(sys.modules)))
"""
OURS = ("schemas", "sluice", "libs", "producers", "workers", "dlq_dashboard", "cli")
RUNTIME = ("celery", "kombu", "redis", "fastapi", "starlette", "pymongo", "pydantic_settings",
           "structlog", "prometheus_client")


def test_the_client_loads_nothing_of_the_runtime() -> None:
    loaded = json.loads(subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True,
        cwd=REPO_ROOT, env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    ).stdout)
    top = {name.split(".")[0] for name in loaded}
    assert not top & set(RUNTIME)
    ours = [name for name in loaded if name.split(".")[0] in OURS]
    assert all(name.startswith(("schemas", "sluice.client")) or name == "sluice"
               for name in ours), ours
    assert {"httpx", "httpx_sse"} <= top
