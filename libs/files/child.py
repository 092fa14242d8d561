"""The child process of :mod:`libs.files.bounded`: limit itself, read stdin, print JSON.

Run as ``python -m libs.files.child '{"content_type": ..., "limits": {...}}'`` with the file
on stdin. It prints ``{"pages": [...], "needs_ocr": ...}`` or ``{"error": reason}``.
"""

from __future__ import annotations

import json
import resource
import sys

from libs.files.reading import ReadLimits, UnreadableFile, read_file


def main() -> int:
    request = json.loads(sys.argv[1])
    limits = ReadLimits(**request["limits"])
    # Set before the file is read: the parser never sees more memory than this.
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    data = sys.stdin.buffer.read()
    try:
        text = read_file(data, str(request["content_type"]), limits)
    except UnreadableFile as exc:
        answer = {"error": exc.reason}
    except MemoryError:
        answer = {"error": f"reading the file needed more than "
                           f"{limits.memory_bytes // (1024 * 1024)} MiB (the limit)"}
    else:
        answer = text.to_json()
    sys.stdout.write(json.dumps(answer))
    return 0


if __name__ == "__main__":
    sys.exit(main())
