"""A /metrics scrape costs the same whatever the history: every query it sends to the job
store is an indexed search over a live set or a read of the finished-job counters.

SQLite's own ``EXPLAIN QUERY PLAN`` of each statement the scrape ran is the proof: a plan
that scans ``jobs``, or searches it without the status as its first constraint, reads rows
in proportion to history. The counters are checked against the history written."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bench.history_rows import ENDINGS, KINDS, add_history, add_live_set
from cli.embedded_redis import EmbeddedRedis
from sluice.fleet_metrics import LIVE, FleetCollector
from sluice.settings import load_settings
from sluice.stores.sqlite import SQLiteJobStore

HISTORY = 4_000


def scrape_statements(tmp_path: Path, redis_server: EmbeddedRedis) -> tuple[list[str], str]:
    settings = load_settings(data_dir=tmp_path, broker_url=redis_server.url)
    store = SQLiteJobStore(settings.sqlite_path)
    add_live_set(store, dead=12, queued=5, running=3)
    add_history(store, HISTORY)
    registry = CollectorRegistry()
    registry.register(FleetCollector(settings, store, ttl=0))
    statements: list[str] = []
    connection = store._db.get()  # the scrape runs in this thread, on this connection
    connection.set_trace_callback(statements.append)
    text = generate_latest(registry).decode()
    connection.set_trace_callback(None)
    plans = []
    for statement in statements:
        rows = connection.execute(f"EXPLAIN QUERY PLAN {statement}").fetchall()
        plans.append(statement + "\n  " + "\n  ".join(str(row[3]) for row in rows))
    store.close()
    return plans, text


def test_a_scrape_reads_no_row_of_history(tmp_path: Path, redis_server: EmbeddedRedis) -> None:
    plans, _text = scrape_statements(tmp_path, redis_server)
    assert plans, "the scrape sent no query to the store"
    for plan in plans:
        steps = plan.splitlines()[1:]
        on_jobs = [step.strip() for step in steps if " jobs " in f"{step} "]
        for step in on_jobs:
            # SEARCH jobs USING [COVERING] INDEX jobs_status_... (status=?): a live set only.
            assert step.startswith("SEARCH jobs USING") and "(status=?" in step, plan


def test_finished_jobs_are_counters_and_live_sets_are_gauges(
    tmp_path: Path, redis_server: EmbeddedRedis
) -> None:
    _plans, text = scrape_statements(tmp_path, redis_server)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text) for sample in family.samples
    }
    expected = Counter(
        (KINDS[index % len(KINDS)], ENDINGS[index % len(ENDINGS)].value)
        for index in range(HISTORY)
    )
    for (kind, status), count in expected.items():
        key = ("sluice_jobs_finished_total", (("kind", kind), ("status", status)))
        assert samples.get(key) == count, (kind, status)
    live = {status.value for status in LIVE}
    gauges = {dict(labels)["status"]: value for (name, labels), value in samples.items()
              if name == "sluice_jobs"}
    assert set(gauges) <= live
    assert gauges == {"dead": 12, "queued": 5, "running": 3}
    assert samples[("sluice_dead_letter_jobs", (("reason", "exhausted"),))] == 12
