"""The Celery app factory: queue topology, delivery baseline, and the worker's start-up checks.

No app is built at import time. The composition root builds one from the settings and the
kind table (``cli.worker_app``: ``celery -A cli.worker_app worker`` or ``sluice worker``;
the same checks run either way, as a bootstep). Task code reaches the app it runs in
through :attr:`sluice.job_task.JobContext.celery`.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, bootsteps
from kombu import Exchange  # type: ignore[attr-defined]
from kombu import Queue as KombuQueue  # type: ignore[attr-defined]

from sluice.broker_redis import broker_url
from sluice.due import sweep_due
from sluice.errors import UnsafeWorkerConfiguration as UnsafeWorkerConfiguration
from sluice.kinds import KindTable, Queue
from sluice.priorities import DEFAULT_BROKER_PRIORITY
from sluice.recovery import recover
from sluice.settings import Settings, get_settings
from sluice.visibility import check_time_limits
from sluice.worker_metrics import WorkerMetricsExporter

# Queues whose tasks run long: one message prefetched per process, never more.
LONG_TASK_QUEUES = frozenset({Queue.CPU.value, Queue.GPU.value})
MAX_RECOVERY_INTERVAL_SECONDS = 10.0


def _kombu_queue(name: str) -> Any:
    return KombuQueue(name, Exchange(name, type="direct"), routing_key=name)  # type: ignore[no-untyped-call]


def broker_transport_options(settings: Settings) -> dict[str, float]:
    """Redis restores a dead worker's unacknowledged messages only when a live worker sweeps
    for ones older than the visibility timeout. Kombu's default sweep runs every ~100 s;
    sweeping every tenth of the timeout (at most 10 s) bounds how late a redelivery comes."""
    return {
        "visibility_timeout": settings.visibility_timeout,
        "unacked_restore_interval": max(1.0, min(10.0, settings.visibility_timeout / 10)),
        "unacked_restore_throttle": 1,
    }


def create_celery_app(settings: Settings, kinds: KindTable | None = None) -> Celery:
    """An app that runs and routes the kinds of ``kinds``; without a table, an app that only
    sends (:func:`sluice.enqueue.send` names each message's queue itself)."""
    modules = list(kinds.modules) if kinds is not None else []
    routes = kinds.task_routes() if kinds is not None else {}
    app = Celery("sluice", broker=broker_url(settings), include=modules)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # A task that fails or hits its hard time limit outside our handling is acked (left
        # unacked it would hold a prefetch slot until the worker restarts); the job it was
        # running is found by sluice.recovery, from the store, and its message re-sent.
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        task_time_limit=settings.task_time_limit,
        task_soft_time_limit=settings.task_soft_time_limit,
        broker_transport_options=broker_transport_options(settings),
        broker_connection_retry_on_startup=True,
        task_queues=[_kombu_queue(queue.value) for queue in Queue],
        task_default_queue=Queue.CPU.value,
        # Job messages carry their job's priority (sluice.priorities); others are normal.
        task_default_priority=DEFAULT_BROKER_PRIORITY,
        task_routes=routes,
        worker_send_task_events=True,
        task_send_sent_event=True,
        worker_hijack_root_logger=False,
    )
    app.steps["worker"].add(DeliveryBaseline)
    app.steps["worker"].add(StrandedJobRecovery)
    app.steps["worker"].add(DueSweep)
    app.steps["worker"].add(WorkerMetricsExporter)
    return app


def check_worker_options(worker: Any, settings: Settings) -> None:
    """Refuse to start a worker that could lose or duplicate work."""
    consumed = set(worker.app.amqp.queues.consume_from or worker.app.amqp.queues)
    conf = worker.app.conf
    problems = []
    if not conf.task_acks_late:
        problems.append("task_acks_late must be on: a crash mid-task would lose the message")
    if not conf.task_reject_on_worker_lost:
        problems.append("task_reject_on_worker_lost must be on: a killed child loses its task")
    if consumed & LONG_TASK_QUEUES and worker.prefetch_multiplier != 1:
        problems.append(
            f"prefetch multiplier is {worker.prefetch_multiplier}; workers consuming "
            f"{sorted(consumed & LONG_TASK_QUEUES)} must prefetch 1"
        )
    if problems:
        raise UnsafeWorkerConfiguration("; ".join(problems))
    check_time_limits(
        settings, (getattr(task, "time_limit", None) for task in worker.app.tasks.values())
    )


class DeliveryBaseline(bootsteps.StartStopStep):  # type: ignore[misc]
    """Runs the start-up checks of :func:`check_worker_options` as the worker is built."""

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        check_worker_options(worker, get_settings())


class StrandedJobRecovery(bootsteps.StartStopStep):  # type: ignore[misc]
    """Re-sends jobs that were stored but whose message never reached the broker."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self._timer_entry: Any = None

    def start(self, worker: Any) -> None:
        interval = min(MAX_RECOVERY_INTERVAL_SECONDS, get_settings().stranded_after_seconds)
        self._timer_entry = worker.timer.call_repeatedly(
            interval, recover, (None, worker.app), priority=10
        )

    def stop(self, worker: Any) -> None:
        if self._timer_entry is not None:
            self._timer_entry.cancel()



class DueSweep(bootsteps.StartStopStep):  # type: ignore[misc]
    """Releases due scheduled jobs and sends due callbacks (:mod:`sluice.due`)."""

    requires = ("celery.worker.components:Timer",)

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self._timer_entry: Any = None

    def start(self, worker: Any) -> None:
        self._timer_entry = worker.timer.call_repeatedly(
            get_settings().due_sweep_seconds, sweep_due, (None, worker.app), priority=10
        )

    def stop(self, worker: Any) -> None:
        if self._timer_entry is not None:
            self._timer_entry.cancel()
