"""The queue with 10,000 dead items: paging by cursor costs the same at any depth."""

from __future__ import annotations

import time

import pytest

from bench.dashboard_queue import fill
from dlq_dashboard import queue
from tests.dlq_dashboard.conftest import Dashboard

ITEMS = 10_000


def best_of(action: object, repeat: int = 5) -> float:
    timings = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()  # type: ignore[operator]
        timings.append(time.perf_counter() - began)
    return min(timings)


@pytest.mark.slow
def test_cursor_paging_stays_fast_with_10000_items(dashboard: Dashboard) -> None:
    fill(dashboard.store, ITEMS)
    everything = queue.QueueFilter()
    cursor: str | None = None
    deep_cursor: str | None = None
    pages = 0
    while True:
        result = queue.page(dashboard.store, everything, cursor)
        pages += 1
        if result.next_cursor is None:
            break
        cursor = result.next_cursor
        if pages == 150:
            deep_cursor = cursor
    assert pages == ITEMS // queue.PAGE_SIZE and deep_cursor is not None
    first = best_of(lambda: queue.page(dashboard.store, everything, None))
    deep = best_of(lambda: queue.page(dashboard.store, everything, deep_cursor))
    assert deep < max(3 * first, 0.02), (first, deep)
    client = dashboard.signed_in("vera")
    began = time.perf_counter()
    page = client.get("/", params={"cursor": deep_cursor})
    assert page.status_code == 200 and page.text.count('id="row-') == queue.PAGE_SIZE
    assert '<span class="count">2500</span>' in page.text  # four signatures, counted
    assert time.perf_counter() - began < 2.0
    cached = best_of(lambda: client.get("/", params={"cursor": deep_cursor}), repeat=3)
    assert cached < 0.5, cached
