"""A job event: what one new version of a job changed, small enough for the broker.

The store publishes one per version it writes (``sluice.job_events``); the API relays them
as server-sent events. It names the fields that changed, never their values: a reader
that needs the job reads it from the store, and an input of megabytes is never copied to
the broker at every write.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from schemas.job import DeadReason, Job, JobStatus

# Fields every version changes: naming them in `changed` would say nothing.
_ALWAYS_CHANGED = frozenset({"version", "updated_at"})


class JobEvent(BaseModel):
    id: str
    version: int
    status: JobStatus
    reason: DeadReason | None = None
    updated_at: datetime
    changed: list[str]

    @classmethod
    def between(cls, previous: Job | None, job: Job) -> JobEvent:
        """The event for ``job`` written over ``previous`` (None: the job was created)."""
        if previous is None:
            changed = ["created"]
        else:
            # The field values themselves (a model keeps them in __dict__): one comparison
            # per field, without an attribute lookup through the model for each side.
            before = previous.__dict__
            changed = [name for name, value in job.__dict__.items()
                       if name not in _ALWAYS_CHANGED and value != before.get(name)]
        return cls(id=job.id, version=job.version, status=job.status, reason=job.reason,
                   updated_at=job.updated_at, changed=changed)
