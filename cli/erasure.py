"""`sluice erase --email ADDRESS`: remove a person's data everywhere Sluice keeps it.

Only the composition root reaches every store: the jobs, the warehouse and its vectors,
the records and JSONL sinks (:mod:`libs.erasure`), and the dashboard's audit trail
(:mod:`dlq_dashboard.erasure`). The admin API route runs the same function, handed to the
API by :mod:`cli.api_app`.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sluice.settings import Settings


def erase_everywhere(address: str, settings: Settings) -> dict[str, int]:
    """Erase ``address`` from every store; counts per store (see ``Erased.summary``)."""
    from dlq_dashboard.database import open_dashboard_db
    from dlq_dashboard.erasure import erase_from_audit
    from libs.documents.warehouse import open_documents
    from libs.erasure import erase_person
    from libs.sinks.records import open_records
    from sluice.celery_app import create_celery_app
    from sluice.kinds import loaded_kinds
    from sluice.stores import open_store

    store, documents, records = open_store(settings), open_documents(settings), \
        open_records(settings)
    dashboard = open_dashboard_db(settings)
    try:
        erased = erase_person(address, store=store, documents=documents, records=records,
                              celery=create_celery_app(settings, loaded_kinds()),
                              settings=settings)
        erased.audit_entries = erase_from_audit(dashboard, address, erased.jobs)
    finally:
        for opened in (store, documents, records, dashboard):
            opened.close()
    return erased.summary()


def erase(
    email: Annotated[str, typer.Option("--email", help="The address whose data goes.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a person's data: jobs, documents and vectors, records, audit details."""
    from cli.main import _settings_or_exit
    from libs.erasure import NotAnAddress, checked_address

    settings = _settings_or_exit()
    try:
        address = checked_address(email)
    except NotAnAddress as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not yes:
        typer.confirm(f"Erase every job, document, record and audit detail that mentions "
                      f"{address}? This cannot be undone", abort=True)
    typer.echo(json.dumps(erase_everywhere(address, settings), indent=2))
