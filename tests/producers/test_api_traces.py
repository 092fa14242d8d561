"""/v1/traces and /v1/stats over jobs in a real store, with known timings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.job import Job, JobStatus, TraceStep
from tests.conftest import SluiceEnv

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def stored_job(env: SluiceEnv, kind: str, source: str, run_ms: list[float],
               status: JobStatus = JobStatus.SUCCEEDED, queued_ms: float = 10.0,
               tokens: tuple[int, int] | None = None, created_s: float = 0.0) -> Job:
    """A finished job created ``created_s`` after T0, whose steps took ``run_ms`` one after
    the other."""
    created = T0 + timedelta(seconds=created_s)
    started = created + timedelta(milliseconds=queued_ms)
    steps, moment = [], started
    names = (["retrieval_semantic", "llm_generation"] if kind == "ask"
             else ["chunking", "embedding"])
    for name, duration in zip(names, run_ms, strict=True):
        attrs = {}
        if name == "llm_generation" and tokens:
            attrs = {"prompt_tokens": tokens[0], "completion_tokens": tokens[1]}
        steps.append(TraceStep(name=name, started_at=moment, duration_ms=duration, attrs=attrs))
        moment += timedelta(milliseconds=duration)
    job = Job(kind=kind, input={"source": source}, status=status, created_at=created,
              started_at=started, finished_at=moment, trace=steps)
    created, _ = env.store.create(job)
    return created


def test_traces_list_jobs_with_their_steps_newest_first(sluice_env: SluiceEnv) -> None:
    old = stored_job(sluice_env, "embed", "handbook", [5.0, 20.0])
    new = stored_job(sluice_env, "ask", "handbook", [30.0, 200.0], tokens=(50, 7), created_s=1)
    client = sluice_env.api()

    listed = client.get("/v1/traces", headers=sluice_env.auth()).json()["items"]
    asks = client.get("/v1/traces", params={"kind": "ask"}, headers=sluice_env.auth()).json()
    one = client.get(f"/v1/traces/{old.id}", headers=sluice_env.auth()).json()

    assert [item["job_id"] for item in listed] == [new.id, old.id]
    assert [item["job_id"] for item in asks["items"]] == [new.id]
    assert [step["name"] for step in one["steps"]] == ["chunking", "embedding"]
    assert one["steps_ms"] == 25.0 and one["run_ms"] == 25.0 and one["total_ms"] == 35.0
    assert client.get("/v1/traces/nope", headers=sluice_env.auth()).status_code == 404
    assert client.get("/v1/traces").status_code == 401


def test_stats_sum_latency_steps_tokens_and_counts(sluice_env: SluiceEnv) -> None:
    for n in range(20):  # ask jobs of 110 .. 300 ms (+10 ms queued)
        stored_job(sluice_env, "ask", "handbook" if n % 2 else "mail",
                   [10.0, 100.0 + 10 * n], tokens=(40, 5))
    stored_job(sluice_env, "embed", "handbook", [1.0, 9.0], status=JobStatus.DEAD)
    client = sluice_env.api()

    stats = client.get("/v1/stats", headers=sluice_env.auth()).json()
    asks = client.get("/v1/stats", params={"kind": "ask"}, headers=sluice_env.auth()).json()

    assert stats["jobs"] == 21
    assert stats["by_kind"] == {"ask": 20, "embed": 1}
    assert stats["by_source"] == {"handbook": 11, "mail": 10}
    assert stats["by_status"] == {"succeeded": 20, "dead": 1}
    assert stats["tokens"] == {"prompt_tokens": 800, "completion_tokens": 100}
    generation = asks["steps"]["llm_generation"]
    assert generation["count"] == 20
    assert generation["avg_ms"] == sum(100.0 + 10 * n for n in range(20)) / 20
    assert generation["p95_ms"] == 280.0  # nearest rank: the 19th of 20
    assert generation["p50_ms"] == 190.0  # nearest rank: the 10th of 20
    assert asks["latency"]["p95_ms"] == 300.0  # 10 queued + 10 retrieval + 280
    assert asks["run"]["avg_ms"] == asks["latency"]["avg_ms"] - 10.0
    assert set(stats["steps"]) == {"chunking", "embedding", "retrieval_semantic",
                                   "llm_generation"}
