"""What waits in the broker's queues: depth and the age of the oldest message, from Redis.

Every message carries its publish time in a header (stamped by :mod:`sluice.instruments`);
the fleet metrics and stranded-job recovery read it here.
"""

from __future__ import annotations

import json
from typing import Any

PUBLISHED_AT_HEADER = "sluice_published_at"
# Kombu's Redis transport keeps priorities 3, 6 and 9 in sibling lists.
PRIORITY_SEPARATOR = "\x06\x16"
PRIORITY_STEPS = (3, 6, 9)


def queue_lists(queue: str) -> list[str]:
    return [queue, *(f"{queue}{PRIORITY_SEPARATOR}{step}" for step in PRIORITY_STEPS)]


def queue_depth(client: Any, queue: str) -> int:
    pipe = client.pipeline(transaction=False)
    for name in queue_lists(queue):
        pipe.llen(name)
    return int(sum(pipe.execute()))


def oldest_message_age(client: Any, queue: str, now: float) -> float:
    """Seconds since the oldest waiting message was published; 0 for an empty queue.

    Kombu pushes on the left and pops on the right, so the oldest is at index -1.
    """
    oldest = 0.0
    for name in queue_lists(queue):
        raw = client.lindex(name, -1)
        if raw is None:
            continue
        try:
            headers = json.loads(raw).get("headers") or {}
            published = float(headers[PUBLISHED_AT_HEADER])
        except (ValueError, KeyError, TypeError):
            continue
        oldest = max(oldest, now - published)
    return oldest
