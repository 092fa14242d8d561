"""Chaos: hundreds of jobs through real workers while we kill them, restart the broker and
let the LLM fail; afterwards every job has ended, none is lost, and every sink holds each
record exactly once.

The broker is a private redis-server with an append-only file, on a fixed socket; it is
SIGKILLed mid-run and started again, and comes back with what its AOF held. Workers are
real ``sluice worker`` processes killed with SIGKILL (the way an OOM killer or a lost node
ends them), and the LLM is a scripted OpenAI-protocol server that answers 20% of calls
with a 500, a timeout or garbage.

It runs twice: on one host with the embedded SQLite store, and as a multi-node rehearsal
on PostgreSQL: two worker "hosts", each with its own data dir and no file shared with the
other, whose worker process groups are killed independently. That run shows that nothing
in a worker depends on a file another worker wrote; its sink is the records table in
PostgreSQL (a JSONL file is one host's, so a job redelivered to the other host would
rightly write it there again).
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cli.embedded_redis import EmbeddedRedis, start_redis
from libs.sinks.jsonl import jsonl_path
from libs.sinks.records import open_records
from schemas.job import SETTLED, DeadReason, Job, JobStatus
from sluice.enqueue import submit
from sluice.stores import JobQuery
from tests.conftest import SluiceEnv, make_env
from tests.support.extraction_cases import TICKET_TEXT, VALID_TICKET, ticket
from tests.support.polling import TimedOut, wait_for
from tests.support.processes import WorkerProcess, start_worker
from tests.support.scripted_llm import Reply, ScriptedLLM

pytestmark = pytest.mark.slow

ECHO_JOBS = 297
EXTRACT_JOBS = 200
POISON_JOBS = 3
KILLS = 6
KILL_EVERY_SECONDS = (4.0, 8.0)
BROKER_RESTART_AFTER_SECONDS = 8.0
FAULT_RATE = 0.2
LLM_TIMEOUT_SECONDS = 1.0
MAX_DELIVERIES = 3
SEED = 20261121

# One worker per pool shape: prefork for the cpu queue (echo, and the poison kind whose
# child dies on every delivery), threads for the LLM and sink queues.
CPU_WORKER: dict[str, Any] = {"queues": "cpu", "pool": "prefork", "concurrency": 2}
LLM_WORKER: dict[str, Any] = {"queues": "gpu,io", "pool": "threads", "concurrency": 4}


@dataclass(frozen=True)
class Layout:
    """Where the store lives and which workers run on which host."""

    name: str
    store: str  # "sqlite" or "postgresql"
    hosts: tuple[tuple[dict[str, Any], ...], ...]
    sinks: str


LAYOUTS = {
    "sqlite": Layout("sqlite", "sqlite", ((CPU_WORKER, LLM_WORKER, LLM_WORKER),),
                     "records,jsonl"),
    "postgresql-two-hosts": Layout(
        "postgresql-two-hosts", "postgresql",
        ((CPU_WORKER, LLM_WORKER), (CPU_WORKER, LLM_WORKER)), "records",
    ),
}


@dataclass
class Host:
    """A worker machine: its own data dir and environment; nothing shared but the broker
    and the store."""

    name: str
    data_dir: Path
    env: dict[str, str]


@dataclass
class FaultyLLM:
    """Answers like a model, except for ``FAULT_RATE`` of calls: 500s, timeouts, garbage."""

    rng: random.Random
    faults: Counter[str] = field(default_factory=Counter)
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, body: dict[str, Any]) -> Reply:
        with self.lock:
            self.calls += 1
            roll = self.rng.random()
            fault = None
            if roll < FAULT_RATE / 3:
                fault = "500"
            elif roll < 2 * FAULT_RATE / 3:
                fault = "timeout"
            elif roll < FAULT_RATE:
                fault = "garbage"
            if fault:
                self.faults[fault] += 1
        if fault == "500":
            return Reply(status=500, error_body={"error": {"message": "chaos"}})
        if fault == "timeout":
            return Reply(content=ticket(), delay=LLM_TIMEOUT_SECONDS + 0.5)
        if fault == "garbage":
            return Reply(content="}{ not a ticket")
        return Reply(content=ticket(), prompt_tokens=100, completion_tokens=40)


@dataclass
class Fleet:
    env: SluiceEnv
    broker_dir: Path
    broker: EmbeddedRedis
    rng: random.Random
    layout: Layout
    hosts: list[Host] = field(default_factory=list)
    workers: list[tuple[WorkerProcess, Host, dict[str, Any]]] = field(default_factory=list)
    kills: int = 0
    restarts: int = 0
    errors: list[BaseException] = field(default_factory=list)

    def start(self, host: Host, spec: dict[str, Any]) -> None:
        worker = start_worker(host.env, self.env.celery, host.data_dir, **spec)
        self.workers.append((worker, host, spec))

    def kill_one(self) -> None:
        # One worker's process group (the worker and its pool children), on one host.
        index = self.rng.randrange(len(self.workers))
        victim, host, spec = self.workers.pop(index)
        victim.kill()
        self.kills += 1
        self.start(host, spec)

    def restart_broker(self) -> None:
        # SIGKILL, not a clean shutdown: what survives is what the append-only file holds.
        self.broker.process.kill()
        self.broker.process.wait()
        time.sleep(1.0)  # an outage, not a blip: producers and workers see it
        self.broker = start_redis(self.broker_dir, appendonly=True)
        self.restarts += 1

    def monkey(self, stop: threading.Event) -> None:
        try:
            # The restart comes first, while jobs are still being submitted: their sends
            # fail, and the workers' stranded-job recovery must send them later.
            if stop.wait(BROKER_RESTART_AFTER_SECONDS):
                return
            self.restart_broker()
            for _ in range(KILLS):
                if stop.wait(self.rng.uniform(*KILL_EVERY_SECONDS)):
                    return
                self.kill_one()
        except BaseException as exc:  # surfaced by the test, not lost in a thread
            self.errors.append(exc)


@pytest.fixture(params=sorted(LAYOUTS))
def fleet(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Fleet]:
    layout = LAYOUTS[request.param]
    database: dict[str, str] = {}
    if layout.store == "postgresql":
        database["database_url"] = request.getfixturevalue("postgres_url")
    broker_dir = tmp_path / "broker"
    broker = start_redis(broker_dir, appendonly=True)
    env = make_env(
        tmp_path, broker.url,
        llm_structured_mode="json_object_schema",
        llm_timeout_seconds=LLM_TIMEOUT_SECONDS,
        sinks=layout.sinks,
        # The faulty model answers bare records; this test is about delivery, not the gate.
        acceptance="schema-only",
        max_deliveries=MAX_DELIVERIES,
        max_retries=10,
        worker_concurrency=4,
        **database,
    )
    fleet = Fleet(env=env, broker_dir=broker_dir, broker=broker, rng=random.Random(SEED),
                  layout=layout)
    for number in range(len(layout.hosts)):
        # One host keeps the producer's data dir (as `sluice up` would); any other has its own.
        data_dir = env.settings.data_dir if len(layout.hosts) == 1 else tmp_path / f"host-{number}"
        data_dir.mkdir(parents=True, exist_ok=True)
        fleet.hosts.append(Host(f"host-{number}", data_dir,
                                {**env.env, "SLUICE_DATA_DIR": str(data_dir)}))
    try:
        yield fleet
    finally:
        for worker, _host, _spec in fleet.workers:
            worker.kill()
        env.store.close()
        fleet.broker.stop()


def submit_all(env: SluiceEnv, rng: random.Random) -> tuple[dict[str, list[str]], int]:
    """Submit the mix; returns the ids by kind, and how many the broker refused (those
    wait, stored, for a worker's stranded-job recovery to send them)."""
    plan = ["echo"] * ECHO_JOBS + ["extract"] * EXTRACT_JOBS + ["test.crash"] * POISON_JOBS
    rng.shuffle(plan)
    ids: dict[str, list[str]] = {"echo": [], "extract": [], "test.crash": []}
    stranded = 0
    for index, kind in enumerate(plan):
        body: dict[str, Any] = {"n": index}
        if kind == "extract":
            body = {"schema": "support_ticket", "text": TICKET_TEXT}
        job, _ = submit(kind, body, store=env.store, celery=env.celery, settings=env.settings)
        ids[kind].append(job.id)
        stranded += job.sent_at is None
        time.sleep(0.05)  # a steady stream, so the kills and the restart land mid-flight
    return ids, stranded


def unsettled(env: SluiceEnv) -> list[Job]:
    open_states = tuple(status for status in JobStatus if status not in SETTLED)
    return env.store.list_jobs(JobQuery(statuses=open_states), limit=20).items


def test_no_job_is_lost_or_duplicated_under_kills_broker_restart_and_llm_faults(
    fleet: Fleet,
) -> None:
    env = fleet.env
    llm_faults = FaultyLLM(rng=random.Random(SEED + 1))
    started = time.monotonic()
    with ScriptedLLM(responder=llm_faults) as llm:
        # A timed-out client hangs up before its reply: expected here, not worth a traceback.
        llm._server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        for host in fleet.hosts:
            host.env["SLUICE_LLM_BASE_URL"] = llm.url
        for host, specs in zip(fleet.hosts, fleet.layout.hosts, strict=True):
            for spec in specs:
                fleet.start(host, spec)
        stop = threading.Event()
        monkey = threading.Thread(target=fleet.monkey, args=(stop,), daemon=True)
        monkey.start()
        ids, stranded = submit_all(env, random.Random(SEED + 2))
        monkey.join(timeout=180)
        stop.set()
        assert not fleet.errors, fleet.errors
        try:
            wait_for(lambda: not unsettled(env), timeout=150, interval=0.5,
                     what="every job to end")
        except TimedOut:
            stuck = [(j.id, j.kind, j.status, j.deliveries, j.retries, j.sent_at, j.error)
                     for j in unsettled(env)]
            pytest.fail(f"jobs never ended: {stuck}")
    elapsed = time.monotonic() - started

    jobs = {job.id: job for job in env.store.iter_jobs(JobQuery())}
    submitted = [job_id for group in ids.values() for job_id in group]
    lost = [job_id for job_id in submitted if job_id not in jobs]
    assert lost == []
    assert all(jobs[job_id].status in SETTLED for job_id in submitted)

    for job_id in ids["echo"]:
        assert jobs[job_id].status is JobStatus.SUCCEEDED, jobs[job_id]
    for job_id in ids["test.crash"]:
        poison = jobs[job_id]
        assert (poison.status, poison.reason) == (JobStatus.DEAD, DeadReason.POISON), poison
        assert poison.deliveries == MAX_DELIVERIES + 1

    # Exactly once: every accepted record is in each sink once; nothing else is.
    succeeded = {job_id for job_id in ids["extract"]
                 if jobs[job_id].status is JobStatus.SUCCEEDED}
    for job_id in ids["extract"]:
        job = jobs[job_id]
        assert job.status is JobStatus.SUCCEEDED or job.reason is DeadReason.EXHAUSTED, job
    for job_id in succeeded:
        assert jobs[job_id].result == VALID_TICKET
        statuses = {sink: entry.status for sink, entry in
                    jobs[job_id].sink_deliveries.items()}
        assert statuses == dict.fromkeys(fleet.layout.sinks.split(","), "delivered"), (
            job_id, statuses)
    records = open_records(env.settings)
    assert records.count() == len(succeeded)
    assert all(records.get(job_id) for job_id in succeeded)
    duplicates = records.count() - len(succeeded)
    if "jsonl" in fleet.layout.sinks:
        lines = Counter()
        for line in jsonl_path(env.settings).read_text().splitlines():
            lines[line.split('"job_id":"', 1)[1].split('"', 1)[0]] += 1
        duplicates = sum(count - 1 for count in lines.values() if count > 1)
        assert duplicates == 0, {job_id: n for job_id, n in lines.items() if n > 1}
        assert set(lines) == succeeded
    if fleet.layout.store == "postgresql":
        # No store file on any host: every worker found its jobs, state and records in
        # PostgreSQL, never in a file another worker wrote. (What a host does hold is its
        # own: its workers' logs, metrics folders and the LLM probe cache.)
        for host in fleet.hosts:
            stores = sorted(path.name for path in host.data_dir.rglob("*")
                            if path.name in ("sluice.db", "dashboard.db", "records.jsonl"))
            assert stores == [], (host.name, stores)
    # Local sinks are written in place by the extraction worker; any delivery job (a
    # webhook, or a local sink that failed in place) must have succeeded too.
    deliveries = [job for job in jobs.values() if job.kind == "sink.deliver"]
    assert all(job.status is JobStatus.SUCCEEDED for job in deliveries), deliveries

    assert fleet.kills >= 5 and fleet.restarts == 1
    faults = sum(llm_faults.faults.values())
    assert faults > 0
    dead_extract = len(ids["extract"]) - len(succeeded)
    per_host = Counter(host.name for _worker, host, _spec in fleet.workers)
    print(
        f"\nchaos[{fleet.layout.name}]: hosts={dict(per_host)} jobs={len(submitted)}"
        f" (echo={len(ids['echo'])} extract={len(ids['extract'])}"
        f" poison={len(ids['test.crash'])}; extract succeeded={len(succeeded)}"
        f" dead={dead_extract}) kills={fleet.kills} restarts={fleet.restarts}"
        f" faults={faults} ({dict(llm_faults.faults)} of {llm_faults.calls} LLM calls)"
        f" stranded_by_restart={stranded}"
        f" lost={len(lost)} duplicates={duplicates} time={elapsed:.1f}s"
    )
