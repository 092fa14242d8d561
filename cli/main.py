"""``sluice``: run the system, submit jobs, inspect them.

The CLI is the composition root: the one module that starts every other part by name. Each
command loads the kind table (:mod:`cli.kinds`) before it builds anything that submits or
routes jobs; ``sluice worker`` loads it through :mod:`cli.worker_app`, after pointing
prometheus-client at its multiprocess folder.
"""

from __future__ import annotations

import json
import os
from typing import Annotated, Any

import typer
from rich.console import Console

from sluice.private_files import restrict_new_files
from sluice.settings import SettingsError, get_settings, masked

app = typer.Typer(
    name="sluice",
    help="Event-driven workers for LLM document work: jobs on Celery, validated extraction, "
    "a dead-letter queue people can clear.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()


def _print_version(value: bool) -> None:
    if value:
        from sluice._version import __version__

        typer.echo(f"sluice {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.",
                           callback=_print_version, is_eager=True)
    ] = False,
) -> None:
    """Event-driven workers for LLM document work: jobs on Celery, validated extraction, a
    dead-letter queue people can clear."""


def _settings_or_exit(*, kinds: bool = True) -> Any:
    """The settings, with the kind table loaded into this process unless ``kinds`` is off."""
    try:
        settings = get_settings()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if kinds:
        from cli.kinds import load_kinds

        load_kinds(settings)
    return settings


@app.command()
def config() -> None:
    """Print the effective configuration, secrets masked."""
    settings = _settings_or_exit(kinds=False)
    for name, value in masked(settings).items():
        typer.echo(f"{name}={json.dumps(value) if not isinstance(value, str) else value}")


@app.command()
def up(
    demo: Annotated[
        bool, typer.Option(help="Submit a demo job once the system is ready, and show it.")
    ] = False,
) -> None:
    """Run everything on this machine: embedded Redis, a worker on all queues, the API,
    the DLQ dashboard, Flower, and the local LLM when no endpoint is configured.

    Ctrl-C (or SIGTERM) stops every process it started.
    """
    from cli.up import run_up

    raise typer.Exit(run_up(_settings_or_exit(kinds=False), demo=demo))


@app.command()
def worker(
    queues: Annotated[str, typer.Option("--queues", "-Q", help="Comma-separated.")] = "io,cpu,gpu",
    pool: Annotated[str, typer.Option(help="threads, prefork or solo.")] = "threads",
    concurrency: Annotated[
        int | None, typer.Option("--concurrency", "-c", help="Default: SLUICE_WORKER_CONCURRENCY.")
    ] = None,
    name: Annotated[str, typer.Option(help="Worker node name.")] = "sluice@%h",
    quiet: Annotated[bool, typer.Option(help="No start-up banner.")] = False,
) -> None:
    """Start a Celery worker; refuses to start with options that could lose work."""
    settings = _settings_or_exit(kinds=False)
    import socket

    from sluice.multiprocess_metrics import use_multiprocess_dir

    # Before prometheus-client is imported: prefork children then count into shared files.
    use_multiprocess_dir(settings, name.replace("%h", socket.gethostname()))
    from cli.worker_app import app as celery_app
    from sluice.logs import configure_logging

    configure_logging(settings)
    celery_app.worker_main(
        [
            *(["--quiet"] if quiet else []),  # Celery's own option, before the sub-command
            "worker",
            f"--queues={queues}",
            f"--pool={pool}",
            f"--concurrency={concurrency or settings.worker_concurrency}",
            f"--hostname={name}",
            f"--loglevel={settings.log_level}",
            "--without-gossip",
            "--without-mingle",
        ]
    )


@app.command()
def api() -> None:
    """Serve the HTTP API on SLUICE_API_HOST:SLUICE_API_PORT."""
    settings = _settings_or_exit()
    import uvicorn

    uvicorn.run(
        "cli.api_app:create_api",
        factory=True,
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,
    )


@app.command()
def submit(
    kind: Annotated[str, typer.Argument(help="Job kind, e.g. echo.")],
    input: Annotated[str, typer.Option("--input", "-i", help="The job input as JSON.")] = "{}",
    idempotency_key: Annotated[str | None, typer.Option(help="Submit at most once.")] = None,
    priority: Annotated[str, typer.Option(
        help="high, normal or low: which waiting jobs of a queue run first.")] = "normal",
    run_at: Annotated[str | None, typer.Option(
        help="Hold the job until this ISO 8601 time with a zone (2026-12-24T09:00:00Z).",
    )] = None,
    delay_seconds: Annotated[float | None, typer.Option(
        help="Hold the job this many seconds.")] = None,
    callback_url: Annotated[str | None, typer.Option(
        help="POST the job's signed summary here when it settles (an allowed host).",
    )] = None,
    wait: Annotated[bool, typer.Option(help="Follow the job until it ends.")] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 120.0,
) -> None:
    """Submit a job through the API and print it."""
    from datetime import datetime

    from cli.client import api_client, as_json, reported, wait_for_job

    try:
        payload = json.loads(input)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--input is not JSON: {exc}") from None
    if priority not in ("high", "normal", "low"):
        raise typer.BadParameter("--priority must be high, normal or low")
    when = None
    if run_at is not None:
        try:
            when = datetime.fromisoformat(run_at)
        except ValueError as exc:
            raise typer.BadParameter(f"--run-at is not an ISO 8601 time: {exc}") from None
        if when.tzinfo is None:
            raise typer.BadParameter("--run-at needs a zone (Z or +01:00)")
    settings = _settings_or_exit(kinds=False)
    with api_client(settings) as client, reported():
        job = as_json(client.submit(
            kind, payload, idempotency_key=idempotency_key, priority=priority, run_at=when,
            delay_seconds=delay_seconds, callback_url=callback_url,
        ))
        if wait:
            job = wait_for_job(client, job["id"], timeout)
    console.print_json(data=job)
    if wait and job["status"] not in {"succeeded", "resolved"}:
        raise typer.Exit(1)


@app.command()
def status(job_id: Annotated[str, typer.Argument(help="The job id.")]) -> None:
    """Print a job as the API has it."""
    from cli.client import api_client, as_json, reported

    with api_client(_settings_or_exit(kinds=False)) as client, reported():
        console.print_json(data=as_json(client.get(job_id)))


from cli import batch as batch_cli  # noqa: E402
from cli import cdc as cdc_cli  # noqa: E402
from cli import crawl as crawl_cli  # noqa: E402
from cli import email as email_cli  # noqa: E402

app.add_typer(email_cli.app, name="email")
app.command("crawl")(crawl_cli.crawl)
app.add_typer(batch_cli.app, name="batch")
app.command("beat")(batch_cli.beat)
app.add_typer(cdc_cli.app, name="cdc")


from cli import llm as llm_cli  # noqa: E402
from cli.flower import flower as flower_command  # noqa: E402

app.add_typer(llm_cli.app, name="llm")
app.command(name="flower")(flower_command)


from cli import dashboard as dashboard_cli  # noqa: E402

app.command(name="dashboard")(dashboard_cli.dashboard)
app.add_typer(dashboard_cli.users_app, name="users")
app.add_typer(dashboard_cli.dlq_app, name="dlq")

from cli import dlq as dlq_cli  # noqa: E402
from cli.erasure import erase as erase_command  # noqa: E402
from cli.info import info as info_command  # noqa: E402

dlq_cli.attach(dashboard_cli.dlq_app)
app.command(name="info")(info_command)
app.command(name="erase")(erase_command)


from cli import documents as documents_cli  # noqa: E402
from cli import keys as keys_cli  # noqa: E402
from cli import vectors as vectors_cli  # noqa: E402

app.add_typer(documents_cli.app, name="docs")
app.add_typer(keys_cli.app, name="keys")
app.add_typer(vectors_cli.app, name="vectors")
app.command(name="search")(documents_cli.search)
app.command(name="ask")(documents_cli.ask)

from cli.eval import evaluate as eval_command  # noqa: E402

app.command(name="eval")(eval_command)

from cli.eval_retrieval import eval_retrieval as eval_retrieval_command  # noqa: E402

app.command(name="eval-retrieval")(eval_retrieval_command)


def main() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    restrict_new_files()
    app(prog_name="sluice")


if __name__ == "__main__":
    main()
