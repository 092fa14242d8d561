"""How a job kind's code runs inside Celery: count the delivery, run, record the outcome.

Task code is a plain function of a :class:`JobContext` registered with :func:`job_task`,
which also declares the kind (queue, retry policy, input model; see :mod:`sluice.kinds`).
It returns the result, or raises :class:`Retryable` for a transient fault (retried by
Celery with jittered exponential backoff, bounded by the kind's :class:`RetryPolicy`) or
:class:`DeadLetter` to send the job to the dead-letter queue with a reason. Any other
exception is a bug or bad input: the job goes to ``dead/non_retryable`` with the error.

Task code reaches the Celery app in one place, :attr:`JobContext.celery` (the running
task's own app), and sends follow-up jobs with :meth:`JobContext.enqueue`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import structlog
from celery import Celery, Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from pydantic import BaseModel

from schemas.job import DeadReason, Job, JobStatus, TraceStep, check_transition, utcnow
from sluice import instruments
from sluice.enqueue import submit
from sluice.errors import DeadLetter, JobNotFound, Retryable, UnstorableValue
from sluice.kinds import KindSpec, Queue, RetryPolicy, declare, retry_countdown
from sluice.settings import Settings, get_settings
from sluice.stores import JobStore, get_store
from sluice.visibility import check_countdown

log = structlog.get_logger(__name__)

__all__ = [
    "DeadLetter",
    "JobContext",
    "JobTask",
    "Queue",
    "RetryPolicy",
    "Retryable",
    "end_killed_job",
    "job_task",
    "retry_countdown",
]


@dataclass
class JobContext:
    # The version this delivery stored; read it, never change it in place: the kernel
    # writes the outcome over it (change the job through ``store`` instead).
    job: Job
    store: JobStore
    settings: Settings
    retries: int
    retry_limit: int
    celery: Celery
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    trace: list[TraceStep] = field(default_factory=list)

    @property
    def final_try(self) -> bool:
        """Whether a transient fault now would end the job: the kernel would give up."""
        return self.retry.gives_up(self.retries, self.job.waits, self.retry_limit)

    def enqueue(self, kind: str, input: dict[str, Any], **options: Any) -> tuple[Job, bool]:
        """Store and send a follow-up job through this task's own app; see
        :func:`sluice.enqueue.submit` for ``options``."""
        return submit(kind, input, store=self.store, celery=self.celery,
                      settings=self.settings, **options)

    @contextmanager
    def step(self, name: str, **attrs: Any) -> Iterator[dict[str, Any]]:
        """Time a step of the work; the yielded dict holds attributes to record with it."""
        started_at = utcnow()
        start = time.perf_counter()
        recorded = dict(attrs)
        try:
            yield recorded
        finally:
            duration_ms = (time.perf_counter() - start) * 1000
            self.trace.append(
                TraceStep(name=name, started_at=started_at, duration_ms=duration_ms, attrs=recorded)
            )


JobHandler = Callable[[JobContext], Any]
H = TypeVar("H", bound=JobHandler)


class JobTask(Task):  # type: ignore[misc]
    """Celery task base for job kinds; ``handler`` is the kind's code."""

    acks_late = True
    reject_on_worker_lost = True
    ignore_result = True
    # The bound is the kind's RetryPolicy, enforced in _retry_or_give_up; Celery's own
    # default (3) would otherwise raise MaxRetriesExceededError before ours is reached.
    max_retries = None
    handler: JobHandler
    spec: KindSpec

    def retry_limit(self, settings: Settings) -> int:
        return self.spec.retry.limit_for(settings)

    def run_job(self, job_id: str) -> None:
        settings = get_settings()
        store = get_store()
        bound = log.bind(
            job_id=job_id, kind=self.name, queue=self._queue(), task_id=self.request.id
        )
        try:
            decision = store.begin_delivery(job_id, self.request.id)
        except JobNotFound:
            bound.error("delivery for a job the store does not have; dropped")
            return
        except Exception as exc:  # the store is unreachable: keep the message alive
            countdown = retry_countdown(settings, self.request.retries)
            bound.warning("cannot count the delivery; retrying", error=str(exc))
            raise self.retry(countdown=countdown, exc=None) from exc
        if not decision.run:
            if decision.changed:  # the poison cap settled it
                self._ended(decision.job)
            bound.info("delivery dropped", why=decision.why, status=decision.job.status)
            return
        job = decision.job
        bound = bound.bind(delivery=job.deliveries, retries=self.request.retries)
        context = JobContext(job=job, store=store, settings=settings, retries=self.request.retries,
                             retry_limit=self.retry_limit(settings), celery=self.app,
                             retry=self.spec.retry)
        # Every line logged while the job runs (ours, the handler's, libraries') says which
        # job, kind, queue and attempt (the delivery number: a redelivery is a new attempt).
        structlog.contextvars.bind_contextvars(
            job_id=job_id, kind=self.name, queue=self._queue(), attempt=job.deliveries
        )
        try:
            result = type(self).handler(context)
        except (Retryable, SoftTimeLimitExceeded) as exc:
            self._retry_or_give_up(store, settings, job, context, exc, bound)
        except DeadLetter as exc:
            self._ended(store.transition(
                job_id, JobStatus.DEAD, reason=exc.reason, error=str(exc),
                trace=context.trace, known=job, **exc.fields,
            ))
            bound.warning("job dead-lettered", reason=exc.reason, error=str(exc))
        except Exception as exc:  # a bug or bad input: keep it for a person, never drop it
            if self.spec.retry.is_transient(exc):
                self._retry_or_give_up(store, settings, job, context, exc, bound)
                return
            self._ended(store.transition(
                job_id, JobStatus.DEAD, reason=DeadReason.NON_RETRYABLE,
                error=f"{type(exc).__name__}: {exc}", trace=context.trace, known=job,
            ))
            bound.exception("job failed", reason=DeadReason.NON_RETRYABLE)
        else:
            self._record_success(store, settings, job, result, context, bound)
        finally:
            structlog.contextvars.unbind_contextvars("job_id", "kind", "queue", "attempt")

    def _record_success(
        self, store: JobStore, settings: Settings, job: Job, result: Any,
        context: JobContext, bound: Any,
    ) -> None:
        """Store the result. Failing to store it says nothing about the work: a store that
        is unreachable (an election) gets the message back later, not a dead job; a result
        the store cannot hold is dead-lettered saying which value and why.

        ``job`` is the version the delivery wrote; a handler that wrote the job since moved
        its version, and the transition then reads it before writing."""
        job_id = job.id
        try:
            done = store.transition(
                job_id, JobStatus.SUCCEEDED, result=result, error=None, trace=context.trace,
                known=job,
            )
        except UnstorableValue as exc:
            store.transition(
                job_id, JobStatus.DEAD, reason=DeadReason.NON_RETRYABLE,
                error=f"the result cannot be stored: {exc.why}", trace=context.trace,
            )
            bound.error("job result refused by the store", reason=DeadReason.NON_RETRYABLE,
                        error=exc.why)
            return
        except Exception as exc:
            if not store.is_unavailable(exc):
                store.transition(
                    job_id, JobStatus.DEAD, reason=DeadReason.NON_RETRYABLE,
                    error=f"{type(exc).__name__}: {exc}", trace=context.trace,
                )
                bound.exception("job failed", reason=DeadReason.NON_RETRYABLE)
                return
            countdown = retry_countdown(settings, self.request.retries)
            bound.warning("cannot store the result; the message comes back", error=str(exc))
            raise self.retry(countdown=countdown, exc=None) from exc
        self._ended(done)
        bound.info("job succeeded", status=done.status)

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        # Celery calls this in the worker's main process when it kills a pool child at the
        # hard time limit: the child recorded nothing and the message is acknowledged, so
        # without this the job would sit in running until recovery re-sent it, to be killed
        # again on every delivery.
        if isinstance(exc, TimeLimitExceeded) and args:
            end_killed_job(get_store(), str(args[0]), task_id, self.name, exc)

    def _retry_or_give_up(
        self,
        store: JobStore,
        settings: Settings,
        job: Job,
        context: JobContext,
        exc: BaseException,
        bound: Any,
    ) -> None:
        error = str(exc) or type(exc).__name__
        waiting = bool(getattr(exc, "wait", False))
        policy = self.spec.retry
        if policy.gives_up(self.request.retries, job.waits, self.retry_limit(settings),
                           waiting=waiting):
            self._ended(store.transition(
                job.id, JobStatus.DEAD, reason=DeadReason.EXHAUSTED,
                error=f"gave up after {self.request.retries} retries: {error}",
                trace=context.trace, known=job,
            ))
            bound.warning("job dead-lettered", reason=DeadReason.EXHAUSTED, error=error)
            return
        countdown = getattr(exc, "countdown", None) or retry_countdown(
            settings, self.request.retries
        )
        check_countdown(settings, countdown)
        store.transition(
            job.id, JobStatus.RETRYING, retries=job.retries + 1, waits=job.waits + waiting,
            error=error, trace=context.trace, known=job,
        )
        bound.info("job retrying", countdown=round(countdown, 2), error=error)
        raise self.retry(countdown=countdown, exc=None)

    def _ended(self, job: Job) -> None:
        """Hand the version this run settled the job in to the instruments, which would
        otherwise read it back from the store after the task."""
        instruments.note_settled(self.request.id, self.request.retries, job)

    def _queue(self) -> str | None:
        info = self.request.delivery_info or {}
        return info.get("routing_key")


def end_killed_job(
    store: JobStore, job_id: str, task_id: str, kind: str, exc: TimeLimitExceeded
) -> None:
    """``dead/worker_lost`` for the job the killed run was delivering, if it still is."""
    error = (f"its worker process was killed at the hard time limit ({exc.args[0]} s) "
             "after ignoring the soft limit")

    def change(job: Job) -> Job | None:
        if job.status is not JobStatus.RUNNING or job.task_id != task_id:
            return None  # a newer delivery or a person has moved it on
        check_transition(job.id, job.status, JobStatus.DEAD)
        job.status, job.reason, job.error = JobStatus.DEAD, DeadReason.WORKER_LOST, error
        job.finished_at = utcnow()
        return job

    try:
        job = store.mutate(job_id, change)
    except JobNotFound:
        return
    if job.reason is DeadReason.WORKER_LOST and job.error == error:
        instruments.count_dead_letter(kind, DeadReason.WORKER_LOST)
        log.error("job dead-lettered", job_id=job_id, kind=kind,
                  reason=DeadReason.WORKER_LOST, error=error)


def job_task(
    kind: str,
    *,
    queue: Queue | str | None = None,
    input_model: type[BaseModel] | None = None,
    internal: bool = False,
    retry: RetryPolicy | None = None,
    **options: Any,
) -> Callable[[H], H]:
    """Declare job kind ``kind`` and register ``handler`` as its code (the Celery task name).

    ``queue`` routes it (default ``cpu``), ``input_model`` (from ``schemas/``) is its typed
    input, ``internal`` keeps clients from submitting it, ``retry`` bounds its transient
    faults (default: ``SLUICE_MAX_RETRIES``, waits not counted). ``options`` are Celery
    task options.
    """
    spec = KindSpec(kind, Queue(queue or Queue.CPU), module="", internal=internal,
                    retry=retry or RetryPolicy(), input_model=input_model)

    def register(handler: H) -> H:
        declared = declare(KindSpec(spec.name, spec.queue, module=handler.__module__,
                                    internal=spec.internal, retry=spec.retry,
                                    input_model=spec.input_model))

        def run(self: JobTask, job_id: str) -> None:
            self.run_job(job_id)

        shared_task(name=kind, base=JobTask, bind=True, handler=staticmethod(handler),
                    spec=declared, **options)(run)
        return handler

    return register
