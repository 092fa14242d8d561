"""What a change event means for the vectors, as a pure function of the event.

Events are in MongoDB's documented change-stream format. ``insert``, ``replace`` and an
``update`` that touched the content become ``embed``; ``delete`` becomes ``delete``;
``invalidate`` ends the stream. An update that only touched the embedding worker's own
bookkeeping (``indexed_hash``, ``chunk_count``, ...) is ignored: re-embedding on it would
make every embed trigger the next one, forever.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

# Fields whose change means the text to embed changed.
CONTENT_FIELDS = frozenset({"content", "content_hash", "content_type", "source", "doc_id"})


class Action(StrEnum):
    EMBED = "embed"
    DELETE = "delete"
    INVALIDATE = "invalidate"
    IGNORE = "ignore"


@dataclass(frozen=True)
class Planned:
    action: Action
    token: dict[str, Any]
    job_input: dict[str, Any] | None = None
    cluster_time: datetime | None = None
    why: str = ""

    @property
    def kind(self) -> str | None:
        return self.action.value if self.action in (Action.EMBED, Action.DELETE) else None

    @property
    def idempotency_key(self) -> str:
        """One job per event: a replay after a crash (token not yet saved) finds it."""
        digest = hashlib.sha256(str(self.token.get("_data", self.token)).encode()).hexdigest()
        return f"cdc:{digest[:40]}"


def cluster_time_of(event: dict[str, Any]) -> datetime | None:
    stamp = event.get("clusterTime")
    if stamp is not None and hasattr(stamp, "time"):
        return datetime.fromtimestamp(int(stamp.time), UTC)
    wall = event.get("wallTime")
    return wall if isinstance(wall, datetime) else None


def embed_input(document: dict[str, Any]) -> dict[str, Any] | None:
    if not {"source", "doc_id"} <= document.keys():
        return None
    return {"document_id": str(document["_id"]), "source": document["source"],
            "doc_id": document["doc_id"], "content_hash": document.get("content_hash")}


def plan_event(event: dict[str, Any]) -> Planned:
    token = dict(event["_id"])
    when = cluster_time_of(event)
    operation = event.get("operationType")
    key = (event.get("documentKey") or {}).get("_id")
    if operation in ("insert", "replace"):
        job_input = embed_input(event.get("fullDocument") or {})
        if job_input is None:
            return Planned(Action.IGNORE, token, cluster_time=when, why="not a warehouse document")
        return Planned(Action.EMBED, token, job_input, when)
    if operation == "update":
        description = event.get("updateDescription") or {}
        touched = set(description.get("updatedFields") or {}) | set(
            description.get("removedFields") or [])
        if not touched & CONTENT_FIELDS:
            return Planned(Action.IGNORE, token, cluster_time=when, why="bookkeeping only")
        full = event.get("fullDocument")
        if not full:  # deleted since: its delete event follows
            return Planned(Action.IGNORE, token, cluster_time=when, why="document gone")
        job_input = embed_input(full)
        if job_input is None:
            return Planned(Action.IGNORE, token, cluster_time=when, why="not a warehouse document")
        return Planned(Action.EMBED, token, job_input, when)
    if operation == "delete":
        before = event.get("fullDocumentBeforeChange") or {}
        deletion: dict[str, Any] = {"document_id": str(key)}
        if "source" in before and "doc_id" in before:
            deletion.update(source=before["source"], doc_id=before["doc_id"])
        return Planned(Action.DELETE, token, deletion, when)
    if operation == "invalidate":
        return Planned(Action.INVALIDATE, token, cluster_time=when, why="stream invalidated")
    return Planned(Action.IGNORE, token, cluster_time=when, why=f"{operation} event")
