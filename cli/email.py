"""``sluice email``: poll IMAP mailboxes, ingest .eml files and maildirs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(help="Email in: IMAP mailboxes and .eml files become extract jobs.",
                  no_args_is_help=True)
console = Console()


@app.command()
def poll(
    mailbox: Annotated[
        list[str] | None, typer.Option("--mailbox", "-m", help="Only this mailbox (repeatable).")
    ] = None,
) -> None:
    """Take the new messages of every configured mailbox (SLUICE_EMAIL_MAILBOXES)."""
    from cli.main import _settings_or_exit
    from producers.email.mailboxes import open_email_producer

    settings = _settings_or_exit()
    if not settings.email_mailboxes:
        typer.echo("error: no mailboxes configured (SLUICE_EMAIL_MAILBOXES)", err=True)
        raise typer.Exit(2)
    producer = open_email_producer(settings)
    table = Table("mailbox", "uidvalidity", "seen", "queued", "duplicate", "dead")
    for report in producer.poll(mailbox or None):
        outcomes = report.outcomes
        uidvalidity = f"{report.uidvalidity}{' (changed)' if report.reconciled else ''}"
        table.add_row(report.mailbox, uidvalidity, str(report.seen),
                      *(str(outcomes.get(name, 0)) for name in ("queued", "duplicate", "dead")))
    console.print(table)


@app.command()
def ingest(
    path: Annotated[Path, typer.Argument(help="An .eml file, a folder of them, or a maildir.")],
    schema: Annotated[str, typer.Option(help="Extraction schema for these messages.")] = (
        "support_ticket"
    ),
) -> None:
    """Ingest messages from disk; a message ingested before is reported as a duplicate."""
    from cli.main import _settings_or_exit
    from producers.email.files import NotAMailSource
    from producers.email.mailboxes import open_email_producer

    producer = open_email_producer(_settings_or_exit())
    try:
        results = producer.ingest_path(path, schema=schema)
    except NotAMailSource as exc:
        raise typer.BadParameter(str(exc)) from None
    counts: dict[str, int] = {}
    for where, outcome in results:
        counts[outcome.status.value] = counts.get(outcome.status.value, 0) + 1
        console.print(f"{outcome.status.value:9} {outcome.job_id}  {where}", highlight=False)
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    console.print(f"{len(results)} messages: {summary or 'none'}")
