"""Data files are private: directories Sluice makes are 0700, files it writes are 0600.

The data dir holds emails, extracted records, the dashboard's password hashes and the
broker's append-only file: nothing another local user should read. Each place that
creates a directory or a file goes through this module; processes started by the CLI
also run under umask 077, so what libraries create (Qdrant's segments, Redis's AOF,
SQLite's WAL) is private too.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

PRIVATE_DIRECTORY = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077


def private_directory(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700; an existing one of ours is tightened.

    A directory someone else owns (say ``/srv`` above a configured path) is left alone.
    """
    missing = [parent for parent in (path, *path.parents) if not parent.exists()]
    path.mkdir(parents=True, exist_ok=True)
    for directory in [*missing, path]:
        _tighten(directory, PRIVATE_DIRECTORY)
    return path


def private_file(path: Path) -> Path:
    """Make an existing file ours alone (0600), e.g. a SQLite database before its WAL."""
    _tighten(path, PRIVATE_FILE)
    return path


def restrict_new_files() -> None:
    """Every file and directory this process creates from now on is private."""
    os.umask(PRIVATE_UMASK)


def _tighten(path: Path, mode: int) -> None:
    with contextlib.suppress(FileNotFoundError, PermissionError):
        if path.stat().st_uid == os.getuid():
            path.chmod(mode)
