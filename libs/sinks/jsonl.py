"""The JSONL sink: one line per accepted record, ``{"job_id", "schema", "record"}``.

Appends are single ``write`` calls under an exclusive lock (``flock``), so lines from
concurrent workers never interleave. A redelivered delivery first looks for its job id in
the file: the first delivery may have written the line and died before saying so.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from libs.sinks import SinkUnavailable
from sluice.settings import Settings


def jsonl_path(settings: Settings) -> Path:
    return settings.sink_jsonl_path or settings.data_dir / "records.jsonl"


def append_record(
    path: Path,
    job_id: str,
    schema_name: str | None,
    schema_version: int | None,
    record: dict[str, Any],
    *,
    check_existing: bool,
) -> bool:
    """Append the record's line; False when ``check_existing`` finds it written already."""
    line = json.dumps(
        {"job_id": job_id, "schema": schema_name, "schema_version": schema_version,
         "record": record},
        separators=(",", ":"),
    )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                if check_existing and _contains(handle, job_id):
                    return False
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError as exc:
        raise SinkUnavailable(f"jsonl {path}: {exc}") from exc
    return True


def _contains(handle: Any, job_id: str) -> bool:
    handle.seek(0)
    needle = f'"job_id":"{job_id}"'
    return any(needle in line for line in handle)
