"""``sluice dlq``: the dead-letter queue from a terminal, through the API."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from sluice.client import SluiceClient

app = typer.Typer(name="dlq", help="List and act on dead-lettered jobs.", no_args_is_help=True)
console = Console()
# The API records the caller's key as the actor; --by stays so old scripts still run.
BY_HELP = "Ignored: the audit trail names the API key that acts."


def _client() -> SluiceClient:
    from cli.client import api_client
    from cli.main import _settings_or_exit

    return api_client(_settings_or_exit(kinds=False))


def _json_option(value: str | None, name: str) -> Any:
    """JSON text, or ``@path`` to read it from a file."""
    if value is None:
        return None
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"{name} is not JSON: {exc}") from None


@app.command("list")
def list_(
    reason: Annotated[str | None, typer.Option(help="exhausted, budget, poison, ...")] = None,
    schema: Annotated[str | None, typer.Option(help="Schema name, e.g. support_ticket.")] = None,
    signature: Annotated[str | None, typer.Option(help="Exact error signature.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the raw page.")] = False,
) -> None:
    """Dead-lettered jobs, newest first."""
    from cli.client import reported

    with _client() as client, reported():
        page = client.list_dlq(reason=reason, schema=schema, signature=signature, limit=limit,
                               cursor=cursor)
    if as_json:
        console.print_json(data=page.model_dump(mode="json"))
        return
    table = Table("id", "kind", "status", "reason", "schema", "attempts", "signature")
    for job in page.items:
        table.add_row(
            job.id, job.kind, job.status.value, job.reason or "", job.schema_name or "",
            str(len(job.attempts)), job.error_signature or "",
        )
    console.print(table)
    if page.next_cursor:
        typer.echo(f"next page: --cursor {page.next_cursor}")


@app.command()
def show(job_id: Annotated[str, typer.Argument(help="The job id.")]) -> None:
    """A dead-lettered job with every attempt."""
    from cli.client import as_json, reported

    with _client() as client, reported():
        console.print_json(data=as_json(client.dead_letter(job_id)))


@app.command()
def requeue(
    job_id: Annotated[str, typer.Argument(help="The job id.")],
    input: Annotated[str | None, typer.Option(help="A new input as JSON, or @file.")] = None,
    hint: Annotated[str | None, typer.Option(help="A note the model reads.")] = None,
    by: Annotated[str | None, typer.Option(help=BY_HELP)] = None,
) -> None:
    """Run the job again as a new job; prints the new job."""
    from cli.client import as_json, reported

    new_input = _json_option(input, "--input")
    with _client() as client, reported():
        job = client.requeue(job_id, job_input=new_input, hint=hint, by=by)
        console.print_json(data=as_json(job))


@app.command()
def discard(
    job_id: Annotated[str, typer.Argument(help="The job id.")],
    reason: Annotated[str, typer.Option(help="Why (required; kept in the audit trail).")],
    by: Annotated[str | None, typer.Option(help=BY_HELP)] = None,
) -> None:
    """Close the job for good."""
    from cli.client import reported

    with _client() as client, reported():
        job = client.discard(job_id, reason, by=by)
    typer.echo(f"{job.id}: {job.status.value}")


@app.command()
def resolve(
    job_id: Annotated[str, typer.Argument(help="The job id.")],
    record: Annotated[str, typer.Option(help="The corrected record as JSON, or @file.")],
    by: Annotated[str | None, typer.Option(help=BY_HELP)] = None,
) -> None:
    """Accept a corrected record; it is validated by the job's schema and sent to the sinks."""
    from cli.client import as_json, reported

    corrected = _json_option(record, "--record")
    with _client() as client, reported():
        console.print_json(data=as_json(client.resolve(job_id, corrected, by=by)))


def attach(target: typer.Typer) -> None:
    """Add these commands to another ``dlq`` group (the dashboard's, with its ``export``)."""
    known = {info.name for info in target.registered_commands}
    target.registered_commands.extend(
        info for info in app.registered_commands if info.name not in known
    )
