"""Where a watched collection's change stream stands, kept in the producer state store.

One record per collection (namespace ``cdc.resume``), in one of three shapes:

- **following**: ``token`` is the last resume token handled (an event's, or the stream's
  post-batch token saved while the collection was quiet, so it never ages out of the oplog);
- **scanning**: ``scan`` says a backfill is under way: the operation time read before it
  began (``since``) and the last ``_id`` it queued (``after``). A restart continues the scan
  from there; the old token is dropped only when the scan is done;
- **scanned**: ``start_at`` is the scan's ``since``: the stream follows from it, so every
  change made during the scan is seen. ``window`` names the scan, so that an event the scan
  already queued (same document, same content, not after ``until``) finds the scan's job.

No record at all is a first start (or a ``sluice cdc reset``): the watcher scans first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bson import Timestamp, json_util

from producers.cdc.events import Planned
from producers.state_store import StateStore
from schemas.job import utcnow

TOKENS_NAMESPACE = "cdc.resume"


def _stamp(value: dict[str, int] | None) -> Timestamp | None:
    return Timestamp(int(value["t"]), int(value["i"])) if value else None


def _plain(stamp: Timestamp) -> dict[str, int]:
    return {"t": stamp.time, "i": stamp.inc}


def marker_of(since: Timestamp) -> str:
    return f"{since.time}.{since.inc}"


@dataclass(frozen=True)
class Scan:
    """A backfill under way: it queues documents in ``_id`` order after ``after``."""

    since: Timestamp
    after: Any = None

    @property
    def marker(self) -> str:
        return marker_of(self.since)


@dataclass(frozen=True)
class ScanWindow:
    """Events up to ``until`` may repeat what the scan ``marker`` queued."""

    marker: str
    until: Timestamp

    def covers(self, event: dict[str, Any]) -> bool:
        stamp = event.get("clusterTime")
        return isinstance(stamp, Timestamp) and stamp <= self.until


@dataclass(frozen=True)
class Position:
    token: dict[str, Any] | None = None
    start_at: Timestamp | None = None
    scan: Scan | None = None
    window: ScanWindow | None = None

    @property
    def first_start(self) -> bool:
        return self.token is None and self.start_at is None and self.scan is None


def _window_doc(window: ScanWindow | None) -> dict[str, Any] | None:
    return {"marker": window.marker, "until": _plain(window.until)} if window else None


class ResumeTokens:
    """The position of each watched collection, in the producer state store."""

    def __init__(self, state: StateStore) -> None:
        self._state = state

    def position(self, collection: str) -> Position:
        record = self._state.get(TOKENS_NAMESPACE, collection)
        if record is None:
            return Position()
        doc = record.doc
        scan, window = doc.get("scan"), doc.get("window")
        return Position(
            token=dict(doc["token"]) if doc.get("token") else None,
            start_at=_stamp(doc.get("start_at")),
            scan=Scan(Timestamp(scan["since"]["t"], scan["since"]["i"]),
                      json_util.loads(scan["after"]) if scan.get("after") else None)
            if scan else None,
            window=ScanWindow(window["marker"],
                              Timestamp(window["until"]["t"], window["until"]["i"]))
            if window else None,
        )

    def load(self, collection: str) -> dict[str, Any] | None:
        """The resume token to follow from, if the stream has one."""
        return self.position(collection).token

    def save(
        self, collection: str, token: dict[str, Any], planned: Planned | None = None,
        window: ScanWindow | None = None,
    ) -> None:
        """Follow from ``token`` next time: after the event ``planned``, or (None) a quiet
        stream's post-batch token."""
        cluster_time = planned.cluster_time if planned else None
        self._state.put(TOKENS_NAMESPACE, collection, {
            "token": token, "action": planned.action.value if planned else "idle",
            "saved_at": utcnow().isoformat(),
            "cluster_time": cluster_time.isoformat() if cluster_time else None,
            "window": _window_doc(window),
        })

    def begin_scan(self, collection: str, since: Timestamp) -> Position:
        """Record that a scan from ``since`` starts; the token stays until it is done."""
        old = self.position(collection)
        self._state.put(TOKENS_NAMESPACE, collection, {
            "token": old.token, "scan": {"since": _plain(since), "after": None},
            "saved_at": utcnow().isoformat(),
        })
        return Position(token=old.token, scan=Scan(since))

    def scanned_to(self, collection: str, position: Position, after: Any) -> Position:
        """Record the scan's progress: the last ``_id`` queued."""
        assert position.scan is not None
        self._state.put(TOKENS_NAMESPACE, collection, {
            "token": position.token,
            "scan": {"since": _plain(position.scan.since), "after": json_util.dumps(after)},
            "saved_at": utcnow().isoformat(),
        })
        return Position(token=position.token, scan=Scan(position.scan.since, after))

    def finish_scan(self, collection: str, scan: Scan, until: Timestamp) -> Position:
        """The scan is done: follow from its start, forgetting the old token."""
        window = ScanWindow(scan.marker, until)
        self._state.put(TOKENS_NAMESPACE, collection, {
            "start_at": _plain(scan.since), "window": _window_doc(window),
            "saved_at": utcnow().isoformat(),
        })
        return Position(start_at=scan.since, window=window)

    def clear(self, collection: str) -> bool:
        return self._state.delete(TOKENS_NAMESPACE, collection)


__all__ = ["TOKENS_NAMESPACE", "Position", "ResumeTokens", "Scan", "ScanWindow", "marker_of"]
