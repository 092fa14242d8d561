"""Compare-and-set: the one read-change-write loop every store uses.

A store hands :func:`compare_and_set` three things: how to read the current record, the
caller's change, and a conditional write that succeeds only when the record is still the
one that was read (a version match, a ``WHERE`` on the old hash). When another writer got
there first the write reports False, and the loop reads again and re-applies the change;
after ``attempts`` lost races it gives up with the store's :class:`ConcurrentUpdate`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

MAX_CAS_ATTEMPTS = 50

Current = TypeVar("Current")
Proposed = TypeVar("Proposed")


class ConcurrentUpdate(Exception):
    """A record kept changing under a writer; the change was not applied."""


@dataclass(frozen=True)
class Swap(Generic[Current, Proposed]):
    """What :func:`compare_and_set` did: the record it last read, and what it wrote
    (None when the change chose to leave the record as it was)."""

    current: Current
    written: Proposed | None


def compare_and_set(
    read: Callable[[], Current],
    change: Callable[[Current], Proposed | None],
    write: Callable[[Current, Proposed], bool],
    *,
    what: str,
    attempts: int = MAX_CAS_ATTEMPTS,
    conflict: Callable[[str], Exception] = ConcurrentUpdate,
) -> Swap[Current, Proposed]:
    """Read, change, write-if-unchanged; again while another writer wins the race.

    ``change`` may run more than once, so it must not act outside the record it returns.
    ``write`` returns False when the record moved since ``read`` (nothing written).
    """
    for _ in range(attempts):
        current = read()
        proposed = change(current)
        if proposed is None:
            return Swap(current, None)
        if write(current, proposed):
            return Swap(current, proposed)
    raise conflict(f"{what} changed {attempts} times while updating")


__all__ = ["MAX_CAS_ATTEMPTS", "ConcurrentUpdate", "Swap", "compare_and_set"]
