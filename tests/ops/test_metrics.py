"""Metrics move as jobs run: queue depth up then down, dead-letter counters on a dead job."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from cli.embedded_redis import EmbeddedRedis
from schemas.job import JobStatus
from sluice.enqueue import submit
from sluice.stores import JobQuery
from tests.conftest import SluiceEnv, make_env
from tests.support.polling import wait_for


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def test_queue_depth_rises_with_submissions_and_falls_as_a_worker_drains_them(
    sluice_env: SluiceEnv,
) -> None:
    api = sluice_env.api()
    for index in range(5):
        response = api.post("/v1/jobs", json={"kind": "echo", "input": {"n": index}},
                            headers=sluice_env.auth())
        assert response.status_code == 201
    scraped = api.get("/metrics").text
    assert value(scraped, "sluice_queue_depth", queue="cpu") == 5
    assert value(scraped, "sluice_queue_oldest_message_age_seconds", queue="cpu") > 0
    assert value(scraped, "sluice_jobs", kind="echo", status="queued") == 5

    sluice_env.worker(queues="cpu")
    succeeded = JobQuery(statuses=(JobStatus.SUCCEEDED,))
    wait_for(lambda: sluice_env.store.count(succeeded) == 5, timeout=30, what="5 succeeded jobs")
    api.app.state.fleet_registry = None  # skip the scrape cache
    scraped = api.get("/metrics").text
    assert value(scraped, "sluice_queue_depth", queue="cpu") == 0
    assert value(scraped, "sluice_queue_oldest_message_age_seconds", queue="cpu") == 0
    assert value(scraped, "sluice_jobs", kind="echo", status="queued") == 0
    assert value(scraped, "sluice_jobs_finished_total", kind="echo", status="succeeded") == 5


def test_a_dead_job_moves_the_dead_letter_counters_of_worker_and_api(
    tmp_path: Path, redis_server: EmbeddedRedis
) -> None:
    port = free_port()
    env = make_env(tmp_path, redis_server.url, worker_metrics_port=port, max_retries=1,
                   worker_metrics_host="127.0.0.1")
    try:
        env.worker(queues="io", pool="prefork", concurrency=2)
        job, _ = submit("test.flaky", {"failures": 5}, store=env.store, celery=env.celery,
                        settings=env.settings)
        submit("test.flaky", {"failures": 0}, store=env.store, celery=env.celery,
               settings=env.settings)
        wait_for(lambda: env.store.get(job.id).status == "dead", timeout=30, what="a dead job")
        url = f"http://127.0.0.1:{port}/metrics"

        def dead_counted() -> str | None:
            text = httpx.get(url, timeout=5).text
            dead = value(text, "sluice_dead_lettered_total", kind="test.flaky", reason="exhausted")
            return text if dead == 1 else None

        text = wait_for(dead_counted, timeout=15, what="the worker's dead-letter counter")
        assert value(text, "sluice_retries_total", kind="test.flaky") == 1
        assert value(text, "sluice_job_outcomes_total", kind="test.flaky", status="succeeded") == 1
        assert value(text, "sluice_job_run_seconds_count", kind="test.flaky", queue="io") == 3
        assert value(text, "sluice_queue_wait_seconds_count", kind="test.flaky", queue="io") == 3
        assert value(text, "sluice_job_deliveries_count", kind="test.flaky") == 2
        assert any(name == "sluice_worker_heartbeat_timestamp_seconds"
                   for name, _labels in samples(text))

        api_text = env.api().get("/metrics").text
        assert value(api_text, "sluice_dead_letter_jobs", reason="exhausted") == 1
        assert value(api_text, "sluice_jobs", kind="test.flaky", status="dead") == 1
    finally:
        for worker in env.workers:
            worker.stop()
        env.store.close()
