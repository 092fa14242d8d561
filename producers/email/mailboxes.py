"""Polling every configured mailbox, and ingesting files, with the process's own parts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog
from celery import Celery

from libs.documents.warehouse import DocumentStore
from producers.email.files import iter_messages
from producers.email.imap import PollReport, poll_mailbox
from producers.email.intake import EmailIntake, IntakeOutcome
from producers.state_store import StateStore
from sluice.settings import Settings
from sluice.stores import JobStore

log = structlog.get_logger(__name__)


@dataclass
class EmailProducer:
    settings: Settings
    store: JobStore
    celery: Celery
    documents: DocumentStore
    state: StateStore

    @property
    def intake(self) -> EmailIntake:
        return EmailIntake(
            settings=self.settings, store=self.store, celery=self.celery,
            documents=self.documents,
        )

    def poll(self, names: list[str] | None = None) -> list[PollReport]:
        """Poll the configured mailboxes (all, or those named); one failing mailbox does
        not stop the others, and is logged with its name."""
        reports: list[PollReport] = []
        for mailbox in self.settings.email_mailboxes:
            if names and mailbox.name not in names:
                continue
            try:
                reports.append(
                    poll_mailbox(
                        mailbox, self.intake, self.state,
                        batch=self.settings.email_poll_batch,
                        max_bytes=self.settings.email_max_message_bytes,
                    )
                )
            except Exception:
                log.exception("mailbox poll failed", mailbox=mailbox.name)
                if names:
                    raise
        return reports

    def ingest_path(self, path: Path, *, schema: str) -> list[tuple[str, IntakeOutcome]]:
        intake = self.intake
        return [
            (where, intake.ingest(raw, schema=schema, origin={"path": where}))
            for where, raw in iter_messages(path)
        ]


def open_email_producer(settings: Settings) -> EmailProducer:
    from libs.documents.warehouse import open_documents
    from producers.state_store import open_state_store
    from sluice.celery_app import create_celery_app
    from sluice.stores import open_store

    return EmailProducer(
        settings=settings,
        store=open_store(settings),
        celery=create_celery_app(settings),
        documents=open_documents(settings),
        state=open_state_store(settings),
    )
