"""Job priorities on Redis: which message a worker takes first from one queue.

Kombu's Redis transport keeps a queue as sibling lists, one per priority step (``cpu``,
``cpu\\x06\\x163``, ``cpu\\x06\\x166``, ``cpu\\x06\\x169``; lower is sooner), and a
worker's BRPOP names them in that order, for all its queues at once: it takes a message of
a sooner step whenever one waits. A job's priority maps onto a step here, in one place;
Celery keeps it on retries (``Task.retry`` re-sends with the delivery's priority) and
recovery re-sends through :func:`sluice.enqueue.send`, which maps it again.

A worker holds at most one unacknowledged message per process (prefetch 1, acks late),
so a ``high`` job waits for at most the task each process is running now, however many
``low`` jobs wait before it. Starvation is bounded by aging (:mod:`sluice.due`): a job
that has waited ``SLUICE_PRIORITY_AGING_SECONDS`` in the queue is re-sent one step sooner.
"""

from __future__ import annotations

from schemas.job import Job, JobPriority

BROKER_PRIORITY: dict[JobPriority, int] = {
    JobPriority.HIGH: 0,
    JobPriority.NORMAL: 3,
    JobPriority.LOW: 6,
}
"""Kombu's Redis priority steps are 0, 3, 6, 9; 9 is left unused."""

# A message sent without a priority (Celery's own, a schedule's) counts as normal.
DEFAULT_BROKER_PRIORITY = BROKER_PRIORITY[JobPriority.NORMAL]


# Sooner first: aging moves a job one place left per boost.
_ORDER = (JobPriority.HIGH, JobPriority.NORMAL, JobPriority.LOW)


def broker_priority(priority: JobPriority) -> int:
    return BROKER_PRIORITY[priority]


def effective_priority(job: Job) -> JobPriority:
    """The job's priority after aging: ``priority`` moved ``priority_boosts`` steps sooner."""
    return _ORDER[max(0, _ORDER.index(job.priority) - job.priority_boosts)]
