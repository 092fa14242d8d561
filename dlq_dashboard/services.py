"""What every dashboard request works with, built once per app from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from celery import Celery

from dlq_dashboard.audit import AuditLog
from dlq_dashboard.database import DashboardDatabase, open_dashboard_db
from dlq_dashboard.overview import OverviewCache
from dlq_dashboard.queue import GroupCounts
from dlq_dashboard.sessions import SessionStore
from dlq_dashboard.sign_in_throttle import SignInThrottle
from dlq_dashboard.training import TrainingExclusions
from dlq_dashboard.users import UserDirectory
from sluice.settings import Settings
from sluice.stores import JobStore, open_store


@dataclass
class Services:
    settings: Settings
    store: JobStore
    # Only to publish the message of a re-run job or a sink delivery (dead_letter does).
    celery: Celery
    db: DashboardDatabase
    users: UserDirectory
    sessions: SessionStore
    audit: AuditLog
    exclusions: TrainingExclusions
    group_counts: GroupCounts
    sign_in_throttle: SignInThrottle = field(default_factory=SignInThrottle)
    overview: OverviewCache = field(default_factory=OverviewCache)

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.dashboard_lease_seconds)

    def close(self) -> None:
        self.store.close()
        self.db.close()


def open_services(settings: Settings, store: JobStore | None = None) -> Services:
    from sluice.celery_app import create_celery_app

    db = open_dashboard_db(settings)
    return Services(
        settings=settings,
        store=store or open_store(settings),
        celery=create_celery_app(settings),
        db=db,
        users=UserDirectory(db),
        sessions=SessionStore(db, timedelta(hours=settings.dashboard_session_hours)),
        audit=AuditLog(db),
        exclusions=TrainingExclusions(db),
        group_counts=GroupCounts(),
    )
