"""Sign-in throttling: failed sign-ins per user name and per client address, in a window.

Each try costs an argon2id hash (64 MiB, tens of milliseconds) and a failure adds a row
to the append-only audit log, so an unthrottled form is both a CPU lever and a way to
grow a table that refuses deletes. Past ``MAX_FAILURES_PER_USER`` failures for one name,
or ``MAX_FAILURES_PER_ADDRESS`` from one address, within ``WINDOW_SECONDS``, a try is
refused with 429 before any hash is computed, and only the first refusal of a window is
audited. A successful sign-in clears the name's failures (not the address's: one address
guessing many names stays throttled).

The counts live in the dashboard process: the dashboard runs as one process per
database file, and a restart forgetting them only gives an attacker one more window.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

WINDOW_SECONDS = 15 * 60.0
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_ADDRESS = 20
# Bounds the memory an attacker cycling through names or addresses can make us hold.
MAX_TRACKED_KEYS = 10_000


@dataclass
class Verdict:
    allowed: bool
    retry_after: float = 0.0
    first_refusal: bool = False


@dataclass
class _Failures:
    times: deque[float] = field(default_factory=deque)
    refused_in_window: bool = False


class SignInThrottle:
    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._failures: dict[str, _Failures] = {}

    def check(self, username: str, address: str) -> Verdict:
        """May this try run? Counts nothing: call :meth:`failed` after a wrong password."""
        now = self._now()
        with self._lock:
            waits = []
            first = False
            for key, limit in self._limits(username, address):
                entry = self._current(key, now)
                if entry is not None and len(entry.times) >= limit:
                    waits.append(entry.times[0] + WINDOW_SECONDS - now)
                    first = first or not entry.refused_in_window
                    entry.refused_in_window = True
            if waits:
                return Verdict(False, retry_after=max(1.0, max(waits)), first_refusal=first)
            return Verdict(True)

    def failed(self, username: str, address: str) -> None:
        now = self._now()
        with self._lock:
            if len(self._failures) >= MAX_TRACKED_KEYS:
                self._forget_expired(now)
            for key, _ in self._limits(username, address):
                entry = self._current(key, now) or self._failures.setdefault(key, _Failures())
                entry.times.append(now)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(_user_key(username), None)

    def _current(self, key: str, now: float) -> _Failures | None:
        entry = self._failures.get(key)
        if entry is None:
            return None
        while entry.times and entry.times[0] <= now - WINDOW_SECONDS:
            entry.times.popleft()
            entry.refused_in_window = False
        return entry

    def _forget_expired(self, now: float) -> None:
        for key in list(self._failures):
            entry = self._current(key, now)
            if entry is not None and not entry.times:
                del self._failures[key]
        while len(self._failures) >= MAX_TRACKED_KEYS:  # all live: drop the oldest keys
            self._failures.pop(next(iter(self._failures)))

    @staticmethod
    def _limits(username: str, address: str) -> list[tuple[str, int]]:
        return [(_user_key(username), MAX_FAILURES_PER_USER),
                (f"address:{address}", MAX_FAILURES_PER_ADDRESS)]


def _user_key(username: str) -> str:
    return f"user:{username.strip().lower()[:64]}"
