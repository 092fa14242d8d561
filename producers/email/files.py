"""Messages from disk: single ``.eml`` files, folders of them, and maildirs.

Each message goes through the same :class:`~producers.email.intake.EmailIntake` as IMAP
mail, so ingesting a folder twice, or a message that also arrived by IMAP, adds nothing.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

MAILDIR_PARTS = ("cur", "new", "tmp")


class NotAMailSource(ValueError):
    """The path is neither an .eml file, a folder of them, nor a maildir."""


def is_maildir(path: Path) -> bool:
    return path.is_dir() and all((path / part).is_dir() for part in MAILDIR_PARTS)


def _maildir_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    box = mailbox.Maildir(path, factory=None, create=False)
    for key in sorted(box.iterkeys()):
        yield f"{path}#{key}", box.get_bytes(key)
    for folder in sorted(box.list_folders()):
        yield from _maildir_messages(path / f".{folder}")


def iter_messages(path: Path) -> Iterator[tuple[str, bytes]]:
    """(where, raw bytes) for every message under ``path``, in a stable order."""
    if path.is_file():
        yield str(path), path.read_bytes()
    elif is_maildir(path):
        yield from _maildir_messages(path)
    elif path.is_dir():
        for child in sorted(path.rglob("*.eml")):
            yield str(child), child.read_bytes()
        for child in sorted(p for p in path.iterdir() if is_maildir(p)):
            yield from _maildir_messages(child)
    else:
        raise NotAMailSource(f"{path}: no such file or directory")
