"""The JSONL sink: one line per accepted record, ``{"job_id", "schema", "record"}``.

Appends happen under an exclusive lock (``flock``), so lines from concurrent workers never
interleave, and they are all or nothing: a write that fails part-way (a full disk, a killed
process) is cut back to the last newline, by the writer when it can and otherwise by the
next writer before it appends, so a torn line is never read as a record. A redelivered
delivery first looks for its job id among the complete lines: the first delivery may have
written the line and died before saying so.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any, BinaryIO

from libs.sinks import SinkUnavailable
from sluice.private_files import PRIVATE_FILE
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
        # Created private: the records are customers' data.
        descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
        with os.fdopen(descriptor, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                end = _repair_torn_tail(handle)
                if check_existing and _contains(handle, job_id):
                    return False
                try:
                    _write_all(handle.fileno(), (line + "\n").encode())
                    os.fsync(handle.fileno())
                except OSError:
                    os.ftruncate(handle.fileno(), end)
                    raise
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError as exc:
        raise SinkUnavailable(f"jsonl {path}: {exc}") from exc
    return True


def _repair_torn_tail(handle: BinaryIO) -> int:
    """Cut an unfinished last line (a writer died mid-write); returns the file's new size."""
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        return 0
    handle.seek(size - 1)
    if handle.read(1) == b"\n":
        return size
    # Scan back in blocks for the last newline: the torn line is at most one record long.
    position = size
    while position > 0:
        start = max(0, position - 65536)
        handle.seek(start)
        cut = handle.read(position - start).rfind(b"\n")
        if cut >= 0:
            end = start + cut + 1
            break
        position = start
    else:
        end = 0
    os.ftruncate(handle.fileno(), end)
    return end


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _contains(handle: BinaryIO, job_id: str) -> bool:
    handle.seek(0)
    needle = f'"job_id":"{job_id}"'.encode()
    return any(needle in line and line.endswith(b"\n") for line in handle)


def erase_lines_containing(path: Path, needle: str) -> int:
    """Remove every line that mentions ``needle`` (any case); how many were removed.

    Under the writers' lock, so no append is lost or torn. The file is rewritten in place
    (appenders hold descriptors on this inode, a rename would strand their writes) after a
    private copy of the original is on disk, which is deleted once the rewrite is synced.
    """
    if not path.exists():
        return 0
    needle_bytes = needle.lower().encode()
    descriptor = os.open(path, os.O_RDWR)
    with os.fdopen(descriptor, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            _repair_torn_tail(handle)
            handle.seek(0)
            lines = handle.read().splitlines(keepends=True)
            kept = [line for line in lines if needle_bytes not in line.lower()]
            if len(kept) == len(lines):
                return 0
            backup = path.with_name(path.name + ".erasing")
            backup_fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
            _write_all(backup_fd, b"".join(lines))
            os.fsync(backup_fd)
            os.close(backup_fd)
            content = b"".join(kept)
            os.pwrite(handle.fileno(), content, 0)
            os.ftruncate(handle.fileno(), len(content))
            os.fsync(handle.fileno())
            backup.unlink()
            return len(lines) - len(kept)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
