"""Batch runs over HTTP: their records and live progress (counted from the job store)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status

from producers.api.auth import Operator
from producers.api.dependencies import SettingsDep, StoreDep
from producers.batch.progress import batch_progress
from producers.batch.runs import BatchRunNotFound, BatchRuns
from producers.state_store import StateStore, shared_state_store

router = APIRouter(prefix="/v1/batches", tags=["batches"])


def _runs(request: Request, settings: SettingsDep) -> BatchRuns:
    state: StateStore | None = getattr(request.app.state, "producer_state", None)
    if state is None:
        state = request.app.state.producer_state = shared_state_store(settings)
    return BatchRuns(state)


@router.get("")
def list_batches(
    request: Request, _caller: Operator, store: StoreDep, settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[dict[str, Any]]:
    """Recent runs, most recently updated first, each with its progress."""
    return [
        {"run": run.model_dump(mode="json"),
         "progress": batch_progress(store, run, run.skipped).as_dict()}
        for run in _runs(request, settings).list(limit)
    ]


@router.get("/{run_id}")
def get_batch(
    run_id: str, request: Request, _caller: Operator, store: StoreDep, settings: SettingsDep
) -> dict[str, Any]:
    """The run record (selection, cursor, summary once finished) and its live progress."""
    try:
        run = _runs(request, settings).get(run_id)
    except BatchRunNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    return {"run": run.model_dump(mode="json"),
            "progress": batch_progress(store, run, run.skipped).as_dict()}
