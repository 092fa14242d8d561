"""Read a file in a child process with a memory and time limit: a hostile file costs a child.

A parser library is not a sandbox: a crafted PDF can make one allocate gigabytes or loop for
minutes, and in a worker that would take every job of the process down with it. So the file
goes to ``python -m libs.files.child`` on stdin, with an address-space limit
(``files_parse_memory_mb``) it sets on itself before parsing and a wall-time limit
(``files_parse_seconds``) after which it is killed. Whatever goes wrong ends as
:class:`~libs.files.reading.UnreadableFile` with the reason; nothing reaches the caller's
process but JSON.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import asdict

from libs.documents.model import ContentType
from libs.files.reading import FileText, ReadLimits, UnreadableFile
from sluice.settings import Settings


def limits_of(settings: Settings) -> ReadLimits:
    return ReadLimits(
        max_pages=settings.files_max_pages,
        max_expansion_ratio=settings.files_max_expansion_ratio,
        seconds=settings.files_parse_seconds,
        memory_bytes=settings.files_parse_memory_mb * 1024 * 1024,
    )


def read_file(data: bytes, content_type: ContentType, limits: ReadLimits) -> FileText:
    """The file's pages of text, read by a child process; :class:`UnreadableFile` if not."""
    request = json.dumps({"content_type": content_type.value, "limits": asdict(limits)})
    # The child imports this package as the caller does: same interpreter, same path.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    try:
        finished = subprocess.run(
            [sys.executable, "-m", "libs.files.child", request], input=data,
            capture_output=True, timeout=limits.seconds, env=env, check=False,
        )
    except subprocess.TimeoutExpired:
        raise UnreadableFile(
            f"reading the file took longer than {limits.seconds:g} s (the limit)"
        ) from None
    try:
        answer = json.loads(finished.stdout or b"null")
    except ValueError:
        answer = None
    if isinstance(answer, dict) and "error" in answer:
        raise UnreadableFile(str(answer["error"]))
    if finished.returncode == 0 and isinstance(answer, dict):
        return FileText.from_json(answer)
    if finished.returncode < 0:
        name = signal.Signals(-finished.returncode).name
        raise UnreadableFile(f"the file's parser was killed ({name}) while reading it")
    tail = finished.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
    raise UnreadableFile(
        f"the file's parser failed (exit {finished.returncode}): {' '.join(tail)[:300]}"
    )
