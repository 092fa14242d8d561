"""Every exception of the kernel, in one leaf module that imports nothing of ours at run time.

Task code raises :class:`Retryable` and :class:`DeadLetter`; the kernel raises the rest.
Any module can import this one without an import cycle (``schemas`` is only named for
typing). :class:`~schemas.job.IllegalTransition` lives with the state machine in
``schemas.job``; it is not repeated here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schemas.job import DeadReason


class Retryable(Exception):
    """A transient fault (timeout, connection refused, 429, 5xx): try again later."""

    def __init__(self, message: str, *, countdown: float | None = None, wait: bool = False) -> None:
        super().__init__(message)
        self.countdown = countdown
        # A wait (an LLM budget window, the kill switch) is not a fault: the job waits as
        # long as it takes, and by default the wait never counts toward the retry limit.
        self.wait = wait


class DeadLetter(Exception):
    """Stop here: the job goes to the dead-letter queue with ``reason``."""

    def __init__(self, reason: DeadReason, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.reason = reason
        self.fields = fields


class UnknownKind(KeyError):
    """A kind no loaded module declares (or, at the door, one clients may not submit)."""

    def __init__(self, kind: str, known: list[str]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.known = known

    def __str__(self) -> str:
        return f"unknown job kind {self.kind!r}; known kinds: {', '.join(self.known)}"


class InvalidInput(ValueError):
    """A job's input that its kind's input model refuses; ``errors`` are pydantic's."""

    def __init__(self, kind: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(kind)
        self.kind = kind
        self.errors = errors

    def __str__(self) -> str:
        first = self.errors[0] if self.errors else {}
        where = ".".join(str(part) for part in first.get("loc", ())) or "input"
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        return f"invalid input for {self.kind!r}: {where}: {first.get('msg', '?')}{more}"


class InputNotEditable(ValueError):
    """An internal kind's job is re-run only with the input the system gave it."""

    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind

    def __str__(self) -> str:
        return (f"{self.kind!r} is an internal kind: it can be re-run, but not with an "
                "edited input")


class KindsNotLoaded(RuntimeError):
    """The kind table was read before the composition root loaded it."""

    def __str__(self) -> str:
        return ("no kind table is loaded in this process: the composition root loads it "
                "(cli.kinds.load_kinds) before anything submits or routes a job")


class DuplicateKind(ValueError):
    """Two modules declare the same kind name."""


class JobNotFound(KeyError):
    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id

    def __str__(self) -> str:
        return f"no job {self.job_id}"


class CountdownTooLong(ValueError):
    """A countdown or ETA the broker would redeliver before it is due."""


class UnsafeWorkerConfiguration(Exception):
    """The worker would lose or duplicate work with these options; it refuses to start."""


class CallbackNotAllowed(ValueError):
    """A job's callback_url that the settings do not allow (host, scheme, no secret)."""


class UnstorableValue(ValueError):
    """A value the store cannot hold (MongoDB: an integer outside 64 bits, a document over
    16 MiB). Nothing was written; ``why`` names the value and the limit."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why
