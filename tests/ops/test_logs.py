"""Structured logs: lines about a job say which job, kind, queue and attempt."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import structlog

from cli.embedded_redis import EmbeddedRedis
from schemas.job import JobStatus
from sluice.enqueue import submit
from tests.conftest import make_env
from tests.support.polling import wait_for


def json_lines(text: str) -> list[dict[str, Any]]:
    lines = []
    for raw in text.splitlines():
        try:
            parsed = json.loads(raw)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            lines.append(parsed)
    return lines


def test_worker_lines_about_a_job_carry_job_kind_queue_and_attempt(
    tmp_path: Path, redis_server: EmbeddedRedis
) -> None:
    env = make_env(tmp_path, redis_server.url, log_json=True)
    try:
        worker = env.worker(queues="io")
        job, _ = submit("test.flaky", {"failures": 1}, store=env.store, celery=env.celery,
                        settings=env.settings)
        wait_for(lambda: env.store.get(job.id).status is JobStatus.SUCCEEDED, timeout=30,
                 what="the flaky job to succeed")
        worker.stop()
        lines = [line for line in json_lines(worker.log()) if line.get("job_id") == job.id]
        events = [line["event"] for line in lines]
        assert "job retrying" in events and "job succeeded" in events
        for line in lines:
            assert line["kind"] == "test.flaky" and line["queue"] == "io", line
        attempts = [line["attempt"] for line in lines if line["event"] != "delivery dropped"]
        assert attempts == [1, 2], lines
    finally:
        env.store.close()


def test_api_lines_about_a_job_carry_its_id(
    tmp_path: Path, redis_server: EmbeddedRedis, capfd: pytest.CaptureFixture[str]
) -> None:
    env = make_env(tmp_path, redis_server.url, log_json=True)
    api = env.api()
    job = api.post("/v1/jobs", json={"kind": "echo", "input": {}}, headers=env.auth()).json()

    def log_inside_request() -> None:
        structlog.get_logger("test").info("inside a request")

    api.app.router.add_api_route("/v1/jobs/{job_id}/probe", lambda job_id: log_inside_request())
    api.get(f"/v1/jobs/{job['id']}/probe")
    lines = json_lines(capfd.readouterr().err)
    submitted = [line for line in lines if line.get("event") == "job submitted"]
    assert submitted and submitted[0]["job_id"] == job["id"]
    assert submitted[0]["kind"] == "echo" and submitted[0]["queue"] == "cpu"
    inside = [line for line in lines if line.get("event") == "inside a request"]
    assert inside and inside[0]["job_id"] == job["id"] and inside[0]["request_id"]
    env.store.close()
    structlog.contextvars.clear_contextvars()
