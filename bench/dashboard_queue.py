"""Does the DLQ queue view stay fast with 10,000 dead items?

Fills a SQLite store with N dead extraction jobs (two attempts each, a handful of error
signatures), then times, in one run: the first page, a page deep in the queue reached by
cursor, the per-signature counts, the total, and the whole queue page rendered over HTTP.
Prints each time and the ratio of the deep page to the first page (the baseline): cursor
paging should keep that ratio near 1, whatever the depth.

    python -m bench.dashboard_queue [--items 10000] [--depth 150]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.dashboard_session import signed_in_viewer
from bench.timing import timed
from dlq_dashboard import queue
from libs.dead_letter.actions import error_signature
from schemas.job import DeadReason, Job, JobStatus, utcnow
from sluice.settings import load_settings
from sluice.stores import open_store
from sluice.stores.base import JobStore

SIGNATURE_ERRORS = [
    [{"loc": ["order_id"], "type": "not_in_source", "msg": "not in source", "input": "55210"}],
    [{"loc": ["order_date"], "type": "date_from_datetime_parsing", "msg": "bad", "input": "x"}],
    [{"loc": ["issue_type"], "type": "enum", "msg": "bad", "input": "refund"},
     {"loc": ["order_id"], "type": "string_pattern_mismatch", "msg": "bad", "input": "1"}],
    [{"loc": ["customer_email"], "type": "value_error", "msg": "bad", "input": "x@"}],
]
RAW = ('{"customer_email": "jane@example.com", "order_id": "55210", "issue_type": '
       '"refund_request", "order_date": "2025-02-03", "customer_name": "Jane Doe"}')
EMAIL = "From: Jane <jane@example.com>\nSubject: Broken kettle\n\n" + "Hello, " * 200


def fill(store: JobStore, items: int) -> None:
    start = utcnow() - timedelta(days=30)
    for index in range(items):
        errors = SIGNATURE_ERRORS[index % len(SIGNATURE_ERRORS)]
        attempts = [
            {"number": n, "model": "gemma", "mode": "json_object_schema", "raw_text": RAW,
             "errors": errors, "prompt_tokens": 400, "completion_tokens": 50, "latency_ms": 800}
            for n in (1, 2)
        ]
        store.create(Job(
            kind="extract",
            input={"schema": "support_ticket", "email": EMAIL, "source": "email:support",
                   "sender": f"user{index % 500}@example.com"},
            status=JobStatus.DEAD,
            reason=DeadReason.EXHAUSTED if index % 3 else DeadReason.BUDGET,
            attempts=attempts,
            schema_name="support_ticket",
            schema_version=1,
            error_signature=error_signature(errors),
            created_at=start + timedelta(seconds=index * 60),
        ))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--depth", type=int, default=150, help="page number of the deep page")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp))
        store = open_store(settings)
        began = time.perf_counter()
        fill(store, args.items)
        print(f"filled {args.items} dead items in {time.perf_counter() - began:.1f} s")
        everything = queue.QueueFilter()
        cursor = None
        for _ in range(args.depth - 1):
            cursor = queue.page(store, everything, cursor).next_cursor
        deep_cursor = cursor
        first = timed(lambda: queue.page(store, everything, None), repeat=7)
        deep = timed(lambda: queue.page(store, everything, deep_cursor), repeat=7)
        budget = queue.QueueFilter(reason="budget")
        filtered = timed(lambda: queue.page(store, budget, None), repeat=7)
        groups = timed(lambda: queue.signature_groups(store, everything), repeat=7)
        total = timed(lambda: store.count(everything.query()), repeat=7)

        client, _services = signed_in_viewer(settings, store)
        page_http = timed(lambda: client.get("/").raise_for_status(), repeat=5)
        deep_http = timed(lambda: client.get("/", params={"cursor": deep_cursor})
                          .raise_for_status(), repeat=5)
        store.close()
    print(f"first page (50, oldest first)     {first:8.1f} ms   (baseline)")
    print(f"page {args.depth} by cursor               {deep:8.1f} ms   ratio {deep / first:.2f}")
    print(f"first page, reason=budget         {filtered:8.1f} ms   ratio {filtered / first:.2f}")
    print(f"counts per signature (GROUP BY)   {groups:8.1f} ms")
    print(f"total count                       {total:8.1f} ms")
    print(f"queue page over HTTP (page 1)     {page_http:8.1f} ms   (counts cached 10 s)")
    print(f"queue page over HTTP (page {args.depth})   {deep_http:8.1f} ms   ratio "
          f"{deep_http / page_http:.2f}")


if __name__ == "__main__":
    main()
