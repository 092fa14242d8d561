"""Claims on dead-lettered jobs: a reviewer's lease, so two people never fix one item twice.

A claim is the ``dead -> claimed`` transition plus who holds it (``claimed_by``), since when
(``claimed_at``) and until when (``claim_expires_at``). The holder renews the lease while
working; once it lapses anyone may take the item, and an admin may take it over at any
time. Every change is compare-and-set through :meth:`JobStore.mutate`, so of two reviewers
racing for one item exactly one wins and the other gets :class:`ClaimRefused` with the
winner's name. Actions on a claimed item check :func:`check_holder` first and pass the
version the reviewer edited, so a save made on a stale page is refused, never merged.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from schemas.job import IllegalTransition, Job, JobStatus, check_transition, utcnow
from sluice.stores.base import ConcurrentUpdate, JobStore


class ClaimRefused(ConcurrentUpdate):
    """Someone else holds a live claim on the job; nothing was changed."""

    def __init__(self, job: Job) -> None:
        self.job_id = job.id
        self.holder = job.claimed_by or "someone"
        self.since = job.claimed_at
        self.expires_at = job.claim_expires_at
        since = f" since {self.since:%H:%M:%S} UTC" if self.since else ""
        until = f" (lease until {self.expires_at:%H:%M:%S} UTC)" if self.expires_at else ""
        super().__init__(f"{self.holder} has claimed this item{since}{until}")


class NotClaimHolder(Exception):
    """An action on a job the actor does not hold a claim on (never had it, or lost it)."""

    def __init__(self, job: Job, user: str) -> None:
        self.job_id = job.id
        self.user = user
        self.holder = job.claimed_by
        if job.status is not JobStatus.CLAIMED:
            message = f"you do not hold a claim on this item (it is {job.status})"
        else:
            message = f"{job.claimed_by} holds the claim on this item now, not you"
        super().__init__(message)


class StaleVersion(Exception):
    """The job changed after the reviewer loaded it; their save would overwrite that."""

    def __init__(self, job: Job, edited_version: int) -> None:
        self.job_id = job.id
        self.current_version = job.version
        self.edited_version = edited_version
        super().__init__(
            f"this item changed since you opened it (version {edited_version}, now "
            f"{job.version}); reload to see the change before saving"
        )


def lease_live(job: Job, now: datetime | None = None) -> bool:
    expires = job.claim_expires_at
    return expires is not None and expires > (now or utcnow())


def claim(
    store: JobStore,
    job_id: str,
    user: str,
    *,
    lease: timedelta,
    takeover: bool = False,
) -> Job:
    """Claim a dead job for ``user``, renew an own claim, or take a lapsed (or, with
    ``takeover``, any) claim; :class:`ClaimRefused` while another holder's lease is live."""

    def change(job: Job) -> Job:
        now = utcnow()
        if job.status is JobStatus.CLAIMED and job.claimed_by == user:
            job.claim_expires_at = now + lease
            return job
        if job.status is JobStatus.CLAIMED:
            if lease_live(job, now) and not takeover:
                raise ClaimRefused(job)
        else:
            check_transition(job.id, job.status, JobStatus.CLAIMED)
        job.status = JobStatus.CLAIMED
        job.claimed_by = user
        job.claimed_at = now
        job.claim_expires_at = now + lease
        return job

    return store.mutate(job_id, change)


def renew(store: JobStore, job_id: str, user: str, *, lease: timedelta) -> Job:
    """Extend the holder's lease; :class:`NotClaimHolder` if the claim went to someone else."""

    def change(job: Job) -> Job:
        if job.status is not JobStatus.CLAIMED or job.claimed_by != user:
            raise NotClaimHolder(job, user)
        job.claim_expires_at = utcnow() + lease
        return job

    return store.mutate(job_id, change)


def release(store: JobStore, job_id: str, user: str) -> Job:
    """Give the item back to the queue (``claimed -> dead``) without acting on it."""

    def change(job: Job) -> Job:
        if job.status is not JobStatus.CLAIMED or job.claimed_by != user:
            raise NotClaimHolder(job, user)
        check_transition(job.id, job.status, JobStatus.DEAD)
        job.status = JobStatus.DEAD
        job.claimed_by = None
        job.claimed_at = None
        job.claim_expires_at = None
        return job

    return store.mutate(job_id, change)


def refuse_if_held_by_another(job: Job, actor: str | None) -> None:
    """:class:`ClaimRefused` while someone other than ``actor`` holds a live claim: an API
    client or a bulk action never overwrites a reviewer at work."""
    if job.status is JobStatus.CLAIMED and job.claimed_by != actor and lease_live(job):
        raise ClaimRefused(job)


def check_holder(job: Job, user: str, edited_version: int | None) -> None:
    """Refuse an action by someone without the claim, or made on a stale page.

    A holder whose lease lapsed but whom nobody replaced still holds the item.
    """
    if job.status is not JobStatus.CLAIMED or job.claimed_by != user:
        raise NotClaimHolder(job, user)
    if edited_version is not None and edited_version != job.version:
        raise StaleVersion(job, edited_version)


__all__ = [
    "ClaimRefused",
    "IllegalTransition",
    "NotClaimHolder",
    "StaleVersion",
    "check_holder",
    "claim",
    "lease_live",
    "refuse_if_held_by_another",
    "release",
    "renew",
]
