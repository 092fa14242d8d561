"""``sluice submit`` carries priority, schedule and callback through the client to the API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from schemas.job import JobStatus
from tests.conftest import SluiceEnv, make_env
from tests.support.live_api import LiveAPI


def test_submit_sends_priority_run_at_and_callback_url(sluice_env: SluiceEnv) -> None:
    env = make_env(sluice_env.tmp / "cli", sluice_env.settings.broker_url or "",
                   callback_secret="s", callback_allowed_hosts="hooks.example.com")
    from producers.api.app import create_app

    with LiveAPI(create_app(env.settings)) as api:
        cli_env = {**env.env, "SLUICE_API_URL": api.url}
        submitted = subprocess.run(
            [sys.executable, "-m", "cli", "submit", "echo", "--input", '{"n": 1}',
             "--priority", "high", "--run-at", "2031-01-02T03:04:05+01:00",
             "--callback-url", "https://hooks.example.com/sluice"],
            env=cli_env, capture_output=True, text=True, timeout=120,
            cwd=Path(__file__).resolve().parents[2],
        )
        refused = subprocess.run(
            [sys.executable, "-m", "cli", "submit", "echo", "--run-at", "2031-01-02T03:04:05"],
            env=cli_env, capture_output=True, text=True, timeout=120,
        )
    assert submitted.returncode == 0, submitted.stderr
    job = json.loads(submitted.stdout)
    assert job["priority"] == "high" and job["status"] == "scheduled"
    assert job["run_at"].startswith("2031-01-02T02:04:05")  # kept in UTC
    assert job["callback_url"] == "https://hooks.example.com/sluice"
    assert env.store.get(job["id"]).status is JobStatus.SCHEDULED
    assert refused.returncode != 0 and "zone" in refused.stderr
    env.store.close()
