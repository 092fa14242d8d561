"""The kind registry: what a job kind declares about itself, and the table of loaded kinds.

A kind is declared beside its task, with :func:`sluice.job_task.job_task` (a job kind) or
:func:`internal_task` (a plain Celery task the system sends itself, such as a schedule's),
as a :class:`KindSpec`: name, queue, whether clients may submit it, its retry policy and
its input model (in ``schemas/``, so the API validates without importing workers).
Declaring happens when the task's module is imported; this module names no kind.

The composition root (``cli.kinds``) decides which modules to import, calls
:func:`load_kinds` once per process, and passes the resulting :class:`KindTable` to what
it builds (the Celery app, the API). Kernel code that routes a job by name outside a task
(``enqueue``, ``recovery``) reads :func:`loaded_kinds`, the table that call installed.
"""

from __future__ import annotations

import importlib
import random
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from celery import shared_task
from pydantic import BaseModel, ValidationError

from sluice.errors import DuplicateKind, InvalidInput, KindsNotLoaded, UnknownKind
from sluice.settings import Settings


class Queue(StrEnum):
    IO = "io"  # fetch pages, deliver to sinks and webhooks: threads, scales with network
    CPU = "cpu"  # chunk, embed, upsert, retrieve: scales with cores
    GPU = "gpu"  # extract, generate: threads feeding the model server


@dataclass(frozen=True)
class RetryPolicy:
    """When a kind gives up on transient faults, and how long it waits between tries.

    ``limit`` bounds the retries; without it the setting named ``limit_setting`` does (so
    an operator can raise it). A wait (``Retryable(wait=True)``: an LLM budget window, the
    kill switch) counts toward the limit only with ``waits_count``. ``transient`` names
    exceptions the kernel retries as if the task had raised ``Retryable``.
    """

    limit: int | None = None
    limit_setting: str = "max_retries"
    waits_count: bool = False
    transient: tuple[type[BaseException], ...] = ()

    def limit_for(self, settings: Settings) -> int:
        if self.limit is not None:
            return self.limit
        return int(getattr(settings, self.limit_setting))

    def counted(self, retries: int, waits: int) -> int:
        """The retries that count toward the limit."""
        return retries if self.waits_count else retries - waits

    def gives_up(self, retries: int, waits: int, limit: int, *, waiting: bool = False) -> bool:
        """Whether a transient fault now ends the job (``dead/exhausted``).

        ``retries`` is how often the job was retried so far, ``waits`` how many of those
        were waits; a wait itself never ends a job unless waits count.
        """
        if waiting and not self.waits_count:
            return False
        return self.counted(retries, waits) >= limit

    def is_transient(self, exc: BaseException) -> bool:
        return isinstance(exc, self.transient)


def retry_countdown(settings: Settings, retries: int) -> float:
    """Exponential backoff with equal jitter: a herd of retries spreads out, yet none
    comes back sooner than half the nominal delay."""
    ceiling = min(settings.retry_backoff_max_seconds, settings.retry_backoff_seconds * 2**retries)
    return random.uniform(ceiling / 2, ceiling)


@dataclass(frozen=True)
class KindSpec:
    """One kind as its module declares it."""

    name: str
    queue: Queue
    module: str
    # An internal kind is sent by the system (sinks, schedules); clients cannot submit it.
    internal: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    input_model: type[BaseModel] | None = None

    @property
    def submittable(self) -> bool:
        return not self.internal

    def check_input(self, value: Mapping[str, Any]) -> None:
        """Raise :class:`InvalidInput` with field errors when the input model refuses it."""
        if self.input_model is None:
            return
        try:
            self.input_model.model_validate(dict(value))
        except ValidationError as exc:
            errors = [
                {"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]}
                for error in exc.errors(include_url=False, include_input=False)
            ]
            raise InvalidInput(self.name, errors) from None


class KindTable(Mapping[str, KindSpec]):
    """The kinds one process knows, by name, and the modules that declared them."""

    def __init__(self, specs: Iterable[KindSpec], modules: Iterable[str]) -> None:
        self._specs = {spec.name: spec for spec in specs}
        self.modules: tuple[str, ...] = tuple(dict.fromkeys(modules))

    def __getitem__(self, name: str) -> KindSpec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def submittable(self) -> list[str]:
        return sorted(name for name, spec in self._specs.items() if spec.submittable)

    def spec(self, kind: str) -> KindSpec:
        """The kind's declaration, or :class:`UnknownKind` naming the submittable ones."""
        if kind not in self._specs:
            raise UnknownKind(kind, self.submittable())
        return self._specs[kind]

    def task_routes(self) -> dict[str, dict[str, str]]:
        return {name: {"queue": spec.queue.value} for name, spec in self._specs.items()}


_declared: dict[str, KindSpec] = {}
_loaded: KindTable | None = None
_lock = threading.Lock()


def declare(spec: KindSpec) -> KindSpec:
    """Record a declaration; the same module may declare again (a re-import), no other."""
    with _lock:
        known = _declared.get(spec.name)
        if known is not None and known.module != spec.module:
            raise DuplicateKind(
                f"kind {spec.name!r} is declared by {known.module} and {spec.module}"
            )
        _declared[spec.name] = spec
    return spec


def load_kinds(modules: Iterable[str]) -> KindTable:
    """Import ``modules``, make the table of the kinds they declare, and install it.

    A module may still carry the old ``KINDS`` dict (kind -> queue name): it routes a kind
    declared without a queue (or by another module), or one that has no task here at all.
    """
    global _loaded
    names = list(dict.fromkeys(modules))
    routed_by_name: set[str] = set()
    for name in names:
        module = importlib.import_module(name)
        legacy: dict[str, str] = getattr(module, "KINDS", {})
        for kind, queue in legacy.items():
            known = _declared.get(kind) or KindSpec(kind, Queue(queue), module=name)
            declare(replace(known, queue=Queue(queue)))
            routed_by_name.add(kind)
    wanted = set(names)
    table = KindTable(
        (spec for spec in _declared.values()
         if spec.module in wanted or spec.name in routed_by_name),
        names,
    )
    with _lock:
        _loaded = table
    return table


def loaded_kinds() -> KindTable:
    """The table :func:`load_kinds` installed in this process."""
    if _loaded is None:
        raise KindsNotLoaded()
    return _loaded


def internal_task(
    name: str,
    *,
    queue: Queue | str,
    input_model: type[BaseModel] | None = None,
    **celery_options: Any,
) -> Callable[[Callable[..., Any]], Any]:
    """Declare a plain Celery task the system sends itself (its arguments are its own, not a
    job id), and register it with Celery under ``name``; the decorator returns the task."""

    def register(function: Callable[..., Any]) -> Any:
        declare(KindSpec(name, Queue(queue), module=function.__module__, internal=True,
                         input_model=input_model))
        options = {"acks_late": True, "ignore_result": True, **celery_options}
        return shared_task(name=name, **options)(function)

    return register
