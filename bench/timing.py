"""Median wall time of a repeated action, the measure the read benches report."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def timed(action: Callable[[], Any], repeat: int = 9) -> float:
    """Median milliseconds of ``repeat`` runs of ``action``."""
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        action()
        samples.append(time.perf_counter() - began)
    return statistics.median(samples) * 1000
