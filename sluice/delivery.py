"""Delivery counting and the poison cap: what happens when a message reaches a worker.

Every delivery is counted in the store before the task body runs. A message delivered more
than ``max_deliveries`` times (its worker died each time) sends the job to ``dead/poison``
without running it again. A message that no longer speaks for its job (the job finished,
was cancelled, or a newer message replaced it) is acknowledged and dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas.job import DELIVERABLE, DeadReason, Job, JobStatus, utcnow


@dataclass(frozen=True)
class DeliveryDecision:
    job: Job
    run: bool
    changed: bool
    why: str


def decide_delivery(job: Job, task_id: str) -> DeliveryDecision:
    """Pure: given the stored job and the delivered message id, what to do and store."""
    if job.status not in DELIVERABLE:
        return DeliveryDecision(job, run=False, changed=False, why=f"job is {job.status}")
    if job.task_id is not None and job.task_id != task_id:
        return DeliveryDecision(
            job, run=False, changed=False, why=f"stale message {task_id}, job awaits {job.task_id}"
        )
    job.deliveries += 1
    if job.current_message_deliveries > job.max_deliveries:
        job.status = JobStatus.DEAD
        job.reason = DeadReason.POISON
        job.error = (
            f"delivered {job.current_message_deliveries} times without finishing "
            f"(max_deliveries={job.max_deliveries}): its worker died on every run"
        )
        job.finished_at = utcnow()
        return DeliveryDecision(job, run=False, changed=True, why="poison")
    job.status = JobStatus.RUNNING
    job.started_at = job.started_at or utcnow()
    why = "redelivery" if job.current_message_deliveries > 1 else "first delivery"
    return DeliveryDecision(job, run=True, changed=True, why=why)
