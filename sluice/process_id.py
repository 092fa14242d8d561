"""This process's id, read without a system call.

The stores and the job-event publisher compare it on every statement and every write to
notice that they now run in a forked child (a Celery prefork process) and must not reuse
the parent's connections or thread. glibc no longer caches ``getpid()``, so asking the
kernel each time cost a system call per statement; a fork hook keeps the value instead.
"""

from __future__ import annotations

import os

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def current_pid() -> int:
    return _pid


__all__ = ["current_pid"]
