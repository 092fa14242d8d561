"""The periodic poll: Celery beat sends ``email.poll`` every SLUICE_EMAIL_POLL_INTERVAL_SECONDS.

Not a job kind: a poll leaves no job record of its own, only the jobs of the messages it
took. A poll that dies half way is harmless; the next one starts from the checkpoint. A
poll that outlasts the interval keeps a lock in Redis, so beat's next tick skips instead of
polling the same mailboxes twice at once (which would be harmless, only wasteful).
"""

from __future__ import annotations

from typing import Any

from celery import Task

from schemas.inputs.system import EmailPollInput
from sluice.kinds import Queue, internal_task
from sluice.settings import get_settings

POLL_TASK = "email.poll"
LOCK_KEY = "sluice:email:poll"


@internal_task(POLL_TASK, queue=Queue.IO, input_model=EmailPollInput, bind=True)
def poll_all_mailboxes(self: Task) -> dict[str, Any]:
    from libs.documents.warehouse import get_documents
    from producers.email.mailboxes import EmailProducer
    from producers.state_store import shared_state_store
    from sluice.broker_redis import broker_redis
    from sluice.stores import get_store

    settings = get_settings()
    lock = broker_redis(settings).lock(LOCK_KEY, timeout=settings.task_time_limit)
    if not lock.acquire(blocking=False):
        return {"skipped": "a poll is still running"}
    try:
        producer = EmailProducer(
            settings=settings, store=get_store(), celery=self.app, documents=get_documents(),
            state=shared_state_store(settings),
        )
        return {report.mailbox: report.outcomes for report in producer.poll()}
    finally:
        lock.release()
