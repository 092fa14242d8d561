"""Batch run records: what a run selected, how far it got, and how it ended.

A run is a record in the state store (``batch.runs``), changed only compare-and-set. Its
items are jobs whose input carries ``batch_run`` and whose idempotency key is
``batch:<run id>:<item key>``, so the store itself is the ledger of what was done: the
run's ``cursor`` only saves re-reading the selection, and an item submitted twice (a
runner killed between submitting and saving the cursor) is the same job both times.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from producers.state_store import StateRecord, StateStore
from schemas.job import utcnow
from sluice.stores.cas import ConcurrentUpdate

RUNS_NAMESPACE = "batch.runs"


class RunStatus(StrEnum):
    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"


class BatchRunNotFound(KeyError):
    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id

    def __str__(self) -> str:
        return f"no batch run {self.run_id}"


class ConcurrentRunUpdate(ConcurrentUpdate):
    """A run record kept changing under a writer."""


class BatchRun(BaseModel):
    id: str = Field(default_factory=lambda: uuid.uuid4().hex[:16])
    transform: str
    options: dict[str, Any] = Field(default_factory=dict)
    since: datetime | None = None
    # The selection ends when the run starts: items the run itself creates are never
    # selected again, and a resumed run sees the same items.
    until: datetime = Field(default_factory=utcnow)
    filters: list[tuple[str, Any]] = Field(default_factory=list)
    status: RunStatus = RunStatus.RUNNING
    selected: int = 0
    skipped: int = 0  # selected items a transform cannot process (no text, ...)
    cursor: str | None = None
    exhausted: bool = False
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    summary: dict[str, Any] | None = None

    def idempotency_key(self, item_key: str) -> str:
        return f"batch:{self.id}:{item_key}"


class BatchRuns:
    def __init__(self, state: StateStore) -> None:
        self._state = state

    def create(self, run: BatchRun) -> BatchRun:
        if not self._state.insert(RUNS_NAMESPACE, run.id, run.model_dump(mode="json")):
            raise ValueError(f"batch run {run.id} exists already")
        return run

    def get(self, run_id: str) -> BatchRun:
        record = self._state.get(RUNS_NAMESPACE, run_id)
        if record is None:
            raise BatchRunNotFound(run_id)
        return BatchRun.model_validate(record.doc)

    def update(self, run_id: str, change: Callable[[BatchRun], BatchRun | None]) -> BatchRun:
        """Compare-and-set; ``change`` gets a copy and returns the new run or None."""
        runs: list[BatchRun] = []

        def change_record(record: StateRecord | None) -> dict[str, Any] | None:
            if record is None:
                raise BatchRunNotFound(run_id)
            current = BatchRun.model_validate(record.doc)
            proposed = change(current.model_copy(deep=True))
            runs.append(current if proposed is None else proposed)
            if proposed is None:
                return None
            proposed.updated_at = utcnow()
            return proposed.model_dump(mode="json")

        self._state.update(RUNS_NAMESPACE, run_id, change_record, conflict=ConcurrentRunUpdate)
        return runs[-1]

    def list(self, limit: int = 50) -> list[BatchRun]:
        return [BatchRun.model_validate(r.doc) for r in self._state.list(RUNS_NAMESPACE, limit)]
