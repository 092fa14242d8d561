"""Does every hot read cost the same with 1,000,000 jobs of history as with 10,000?

Two installations side by side, each with the same live set (200 dead, 50 queued, 10
running): one with 10,000 jobs in all, one with 1,000,000, the finished history written in
bulk (``bench/history_rows.py``). Each hot path is timed on both in turns, so other load on
the machine weighs on both alike. Prints each median time and the ratio of the large store
to the small one; target: every ratio <= 1.5.

Timed: submit (store + broker), get, the first page of ``GET /v1/jobs`` and of
``GET /v1/dlq``, a ``/metrics`` scrape (the scrape cache bypassed), ``GET /v1/stats``
(newest 1,000 jobs), the recovery sweep, and the dashboard's queue page (signature counts
and total recounted on every request).

    python -m bench.history_scale [--small 10000] [--large 1000000] [--repeat 7]

``--large 100000`` gives a quick run (well under a minute on an idle machine).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from bench.dashboard_session import signed_in_viewer
from bench.history_rows import add_history, add_live_set
from cli.embedded_redis import start_redis
from cli.kinds import load_kinds
from sluice.celery_app import create_celery_app
from sluice.enqueue import submit
from sluice.logs import configure_logging
from sluice.recovery import recover
from sluice.settings import Settings, load_settings
from sluice.stores.sqlite import SQLiteJobStore

API_KEY = "bench-key"
LIVE_SET = 260  # add_live_set's defaults


def hot_paths(settings: Settings, store: SQLiteJobStore, celery: Any,
              stack: contextlib.ExitStack) -> dict[str, Callable[[], Any]]:
    """Each hot path of one installation, as a call to time."""
    from producers.api.app import create_app

    api_app = create_app(settings)  # its own store on the same file, as in production
    stack.callback(api_app.state.store.close)
    api = TestClient(api_app)
    auth = {"Authorization": f"Bearer {API_KEY}"}
    dashboard, services = signed_in_viewer(settings, store)
    known = store.list_jobs(limit=1).items[0].id

    def scrape() -> None:
        api_app.state.fleet_registry = None  # a fresh collector: no scrape cache
        api.get("/metrics").raise_for_status()

    def queue_page() -> None:
        services.group_counts.clear()  # counts recomputed, as on a cold cache
        dashboard.get("/").raise_for_status()

    return {
        "submit": lambda: submit("echo", {"n": 1}, store=store, celery=celery,
                                 settings=settings),
        "get": lambda: store.get(known),
        "first page of jobs": lambda: api.get("/v1/jobs", headers=auth).raise_for_status(),
        "first DLQ page": lambda: api.get("/v1/dlq", headers=auth).raise_for_status(),
        "/metrics scrape": scrape,
        "/v1/stats": lambda: api.get("/v1/stats", headers=auth).raise_for_status(),
        "recovery sweep": lambda: recover(store, celery, settings),
        "dashboard queue page": queue_page,
    }


def install(root: Path, broker_url: str, history: int) -> tuple[Settings, SQLiteJobStore, Any]:
    """An installation with the live set and ``history`` finished jobs; the time it took."""
    settings = load_settings(data_dir=root, broker_url=broker_url, api_keys=API_KEY,
                             log_level="WARNING")
    store = SQLiteJobStore(settings.sqlite_path)
    add_live_set(store)
    began = time.perf_counter()
    add_history(store, history)
    print(f"{root.name}: {history + LIVE_SET:,} jobs written in "
          f"{time.perf_counter() - began:.1f} s")
    return settings, store, create_celery_app(settings, load_kinds(settings))


def interleaved(small: Callable[[], Any], large: Callable[[], Any],
                repeat: int) -> tuple[float, float]:
    """Median milliseconds of each, run in turns after a warm-up, so that whatever else the
    machine does at the time weighs on both sizes alike."""
    small()
    large()
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeat):
        for action, found in ((small, samples[0]), (large, samples[1])):
            began = time.perf_counter()
            action()
            found.append(time.perf_counter() - began)
    return statistics.median(samples[0]) * 1000, statistics.median(samples[1]) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=9)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="sluice-history-") as tmp, \
            contextlib.ExitStack() as stack:
        root = Path(tmp)
        server = start_redis(root / "redis", appendonly=False)
        stack.callback(server.stop)
        configure_logging(load_settings(data_dir=root, log_level="WARNING"))
        sizes = {}
        for name, total in (("small", args.small), ("large", args.large)):
            settings, store, celery = install(root / name, server.url, total - LIVE_SET)
            stack.callback(store.close)
            sizes[name] = hot_paths(settings, store, celery, stack)
        results = {path: interleaved(sizes["small"][path], sizes["large"][path], args.repeat)
                   for path in sizes["small"]}

    print(f"{'':24} {args.small:>12,} {args.large:>12,}   ratio (target <= 1.5)")
    worst = 0.0
    for path, (before, after) in results.items():
        worst = max(worst, after / before)
        print(f"{path:24} {before:9.2f} ms {after:9.2f} ms   {after / before:5.2f}")
    print(f"worst ratio {worst:.2f}")


if __name__ == "__main__":
    main()
