"""The budget and the kill switch as workers meet them, through the real chat call site."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli.embedded_redis import EmbeddedRedis
from libs.llm import budget as llm_budget
from schemas.job import JobStatus
from sluice.enqueue import submit
from tests.conftest import make_env
from tests.support.polling import wait_for
from tests.support.scripted_llm import Reply, ScriptedLLM

PLUGINS = "tests.support.kernel_tasks,tests.ops.llm_kinds"
WINDOW_SECONDS = 6


class Arrivals:
    """A responder that answers every call and notes when, and from which process."""

    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.lock = threading.Lock()
        self.calls: list[tuple[float, str]] = []

    def __call__(self, body: dict[str, object]) -> Reply:
        content = str(body["messages"][0]["content"])  # type: ignore[index]
        match = re.search(r"pid=(\d+)", content)
        with self.lock:
            self.calls.append((time.time(), match[1] if match else "?"))
        return self.reply


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@pytest.mark.slow
def test_pause_stops_calls_within_a_second_across_two_workers(
    tmp_path: Path, redis_server: EmbeddedRedis, llm: ScriptedLLM
) -> None:
    arrivals = Arrivals(Reply(content="ok", delay=0.01))
    llm.responder = arrivals
    env = make_env(tmp_path, redis_server.url, plugins=PLUGINS, llm_base_url=llm.url,
                   llm_pause_recheck_seconds=0.5)
    try:
        env.worker(queues="gpu", concurrency=2)
        env.worker(queues="gpu", concurrency=2)
        jobs = [submit("test.llm_calls", {"calls": 60}, store=env.store, celery=env.celery,
                       settings=env.settings)[0] for _ in range(4)]
        wait_for(lambda: len({pid for _, pid in arrivals.calls}) >= 2, timeout=30,
                 what="calls from both workers")

        paused_at = time.time()
        llm_budget.pause(env.settings, by="test", reason="chaos drill")
        wait_for(lambda: all(env.store.get(job.id).status is JobStatus.RETRYING for job in jobs),
                 timeout=10, what="every job to wait")
        late = [at - paused_at for at, _ in arrivals.calls if at > paused_at + 1.0]
        assert late == [], f"calls started after the pause: {late}"
        waiting = env.store.get(jobs[0].id)
        assert waiting.error and "paused" in waiting.error and "chaos drill" in waiting.error

        llm_budget.resume(env.settings, by="test")
        wait_for(lambda: all(env.store.get(job.id).status is JobStatus.SUCCEEDED for job in jobs),
                 timeout=60, what="every job to finish after resume")
    finally:
        llm_budget.resume(env.settings, by="test")
        for worker in env.workers:
            worker.stop()
        env.store.close()


@pytest.mark.slow
def test_budget_of_n_tokens_holds_the_next_call_until_the_window_rolls(
    tmp_path: Path, redis_server: EmbeddedRedis, llm: ScriptedLLM
) -> None:
    arrivals = Arrivals(Reply(content="ok", prompt_tokens=20, completion_tokens=10))
    llm.responder = arrivals
    env = make_env(tmp_path, redis_server.url, plugins=PLUGINS, llm_base_url=llm.url,
                   llm_budgets=f"global:tokens:{WINDOW_SECONDS}s=30", max_retries=0)
    try:
        env.worker(queues="gpu", concurrency=1)
        wait_for(lambda: time.time() % WINDOW_SECONDS < 0.5, timeout=WINDOW_SECONDS + 1,
                 interval=0.01, what="a fresh budget window")
        first, _ = submit("test.llm_calls", {"calls": 1}, store=env.store, celery=env.celery,
                          settings=env.settings)
        wait_for(lambda: env.store.get(first.id).status is JobStatus.SUCCEEDED, timeout=5,
                 what="the first job to spend the budget")
        assert env.store.get(first.id).result == {"tokens": 30}

        second, _ = submit("test.llm_calls", {"calls": 1}, store=env.store, celery=env.celery,
                           settings=env.settings)
        held = wait_for(lambda: (job := env.store.get(second.id)).status is JobStatus.RETRYING
                        and job, timeout=5, what="the second job to wait")
        assert held.error and "LLM budget global:tokens:6s" in held.error
        assert "used 30 of 30" in held.error
        assert len(arrivals.calls) == 1  # the 31st token's call never reached the model

        done = wait_for(lambda: (job := env.store.get(second.id)).status is JobStatus.SUCCEEDED
                        and job, timeout=WINDOW_SECONDS + 5, what="the job to resume")
        assert len(arrivals.calls) == 2
        assert done.waits >= 1 and done.reason is None  # waited; never exhausted
        assert arrivals.calls[1][0] // WINDOW_SECONDS > arrivals.calls[0][0] // WINDOW_SECONDS
    finally:
        for worker in env.workers:
            worker.stop()
        env.store.close()
