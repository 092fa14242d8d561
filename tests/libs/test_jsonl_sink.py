"""The JSONL sink never leaves a torn line, and never counts one as a delivered record."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from libs.sinks.jsonl import append_record

RECORD = {"email": "ann@example.com", "order_id": "A-1001"}


def _lines(path: Path) -> list[dict[str, object]]:
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), "the file ends inside a line"
    return [json.loads(line) for line in raw.decode().splitlines()]


def test_a_torn_line_left_by_a_dead_writer_is_cut_and_the_record_written_once(
    tmp_path: Path,
) -> None:
    path = tmp_path / "records.jsonl"
    assert append_record(path, "job-1", "support_ticket", 1, RECORD, check_existing=False)
    whole = json.dumps({"job_id": "job-2", "schema": "support_ticket", "record": RECORD})
    with path.open("ab") as handle:  # a writer killed half-way through its line
        handle.write(whole[: len(whole) // 2].encode())

    assert append_record(path, "job-2", "support_ticket", 1, RECORD, check_existing=True)
    assert not append_record(path, "job-2", "support_ticket", 1, RECORD, check_existing=True)
    assert [line["job_id"] for line in _lines(path)] == ["job-1", "job-2"]


def test_a_write_that_fails_part_way_is_rolled_back_to_the_last_newline(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl"
    assert append_record(path, "job-1", "support_ticket", 1, RECORD, check_existing=False)
    size = path.stat().st_size
    # A real short write: the file-size limit lets 10 bytes of the next line through.
    child = f"""
import resource, signal
from pathlib import Path
from libs.sinks import SinkUnavailable
from libs.sinks.jsonl import append_record
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, ({size} + 10, resource.RLIM_INFINITY))
try:
    append_record(Path({str(path)!r}), "job-2", "support_ticket", 1, {RECORD!r},
                  check_existing=True)
except SinkUnavailable as exc:
    print("refused:", exc)
"""
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True,
                          timeout=60)
    assert "refused:" in done.stdout, done.stderr
    assert path.stat().st_size == size

    assert append_record(path, "job-2", "support_ticket", 1, RECORD, check_existing=True)
    assert [line["job_id"] for line in _lines(path)] == ["job-1", "job-2"]
