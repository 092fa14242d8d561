"""``sluice batch``: run, resume and inspect batch transforms; ``sluice beat`` schedules them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

app = typer.Typer(help="Batch transforms over stored work (re-extract, re-embed).",
                  no_args_is_help=True)
console = Console()


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{option}: not an ISO date or time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _pairs(values: list[str] | None, option: str) -> list[tuple[str, str]]:
    pairs = []
    for value in values or []:
        key, sep, rest = value.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"{option} wants KEY=VALUE, got {value!r}")
        pairs.append((key.strip(), rest.strip()))
    return pairs


def _option_value(text: str) -> Any:
    """Numbers and booleans as such (schema_version=2), anything else as text."""
    import json

    try:
        return json.loads(text)
    except ValueError:
        return text


def _drive(runner: Any, run_id: str, timeout: float | None) -> Any:
    run = runner.runs.get(run_id)
    columns = (TextColumn(f"[bold]{run.transform}[/] {run.id}"), BarColumn(),
               MofNCompleteColumn(), TextColumn("{task.fields[detail]}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("run", total=None, detail="")

        def show(progress: Any) -> None:
            bar.update(task, total=progress.total or None, completed=progress.done,
                       detail=f"{progress.succeeded} ok, {progress.dead} dead, "
                              f"{progress.in_flight} in flight")

        return runner.run_until_done(run_id, on_progress=show, timeout=timeout)


def _summary(run: Any) -> None:
    table = Table("run", "transform", "status", *(run.summary or {}).keys())
    table.add_row(run.id, run.transform, run.status.value,
                  *(str(value) for value in (run.summary or {}).values()))
    console.print(table)


@app.command()
def run(
    transform: Annotated[str, typer.Argument(help="re-extract, re-embed, or a plugin's.")],
    since: Annotated[str | None, typer.Option(help="Only work created at or after (ISO).")] = None,
    until: Annotated[str | None, typer.Option(help="Only work created before (ISO).")] = None,
    filter: Annotated[
        list[str] | None, typer.Option("--filter", help="KEY=VALUE on the selection.")
    ] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", "-o", help="KEY=VALUE for the transform (schema_version=2)."),
    ] = None,
    wait: Annotated[bool, typer.Option(help="Drive the run here with a progress bar.")] = True,
    timeout: Annotated[float | None, typer.Option(help="Stop driving after this many s.")] = None,
) -> None:
    """Start a batch run. Interrupted, it is continued with `sluice batch resume RUN_ID`."""
    from cli.main import _settings_or_exit
    from producers.batch.runner import open_batch_runner
    from producers.batch.transforms import UnknownTransform

    runner = open_batch_runner(_settings_or_exit())
    options = {key: _option_value(value) for key, value in _pairs(option, "--option")}
    try:
        started = runner.start(transform, since=_when(since, "--since"),
                               until=_when(until, "--until"),
                               filters=[(key, _option_value(value))
                                        for key, value in _pairs(filter, "--filter")],
                               options=options)
    except UnknownTransform as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"batch run {started.id} started: {started.selected} items selected")
    if wait:
        _summary(_drive(runner, started.id, timeout))


@app.command("re-embed")
def re_embed(
    drop_old: Annotated[bool, typer.Option(
        help="Drop the collection the alias pointed at before.")] = False,
    wait: Annotated[bool, typer.Option(help="Drive the run here with a progress bar.")] = True,
    timeout: Annotated[float | None, typer.Option(help="Stop driving after this many s.")] = None,
) -> None:
    """Every document into a new collection of the current shape (dense + BM25), then the
    alias switched to it: how a collection made before hybrid retrieval gets its BM25
    vectors. The same as `sluice batch run re-embed`."""
    run("re-embed", since=None, until=None, filter=None,
        option=["drop_old=true"] if drop_old else None, wait=wait, timeout=timeout)


@app.command()
def resume(
    run_id: Annotated[str, typer.Argument(help="The run to continue.")],
    timeout: Annotated[float | None, typer.Option(help="Stop driving after this many s.")] = None,
) -> None:
    """Continue a run whose driver stopped; finished items are not redone."""
    from cli.main import _settings_or_exit
    from producers.batch.runner import open_batch_runner
    from producers.batch.runs import BatchRunNotFound

    runner = open_batch_runner(_settings_or_exit())
    try:
        _summary(_drive(runner, run_id, timeout))
    except BatchRunNotFound as exc:
        raise typer.BadParameter(str(exc)) from None


@app.command()
def status(run_id: Annotated[str, typer.Argument(help="The run.")]) -> None:
    """A run's record and its progress, counted from the job store."""
    from cli.main import _settings_or_exit
    from producers.batch.runner import open_batch_runner

    runner = open_batch_runner(_settings_or_exit())
    found = runner.runs.get(run_id)
    console.print_json(data={"run": found.model_dump(mode="json"),
                             "progress": runner.progress(found).as_dict()})


@app.command("list")
def list_runs(limit: Annotated[int, typer.Option(help="How many.")] = 20) -> None:
    """Recent runs."""
    from cli.main import _settings_or_exit
    from producers.batch.runner import open_batch_runner

    runner = open_batch_runner(_settings_or_exit())
    table = Table("run", "transform", "status", "selected", "done", "created")
    for found in runner.runs.list(limit):
        progress = runner.progress(found)
        table.add_row(found.id, found.transform, found.status.value, str(found.selected),
                      str(progress.done), found.created_at.isoformat(timespec="seconds"))
    console.print(table)


@app.command()
def cancel(run_id: Annotated[str, typer.Argument(help="The run.")]) -> None:
    """Stop submitting items; those already queued still run."""
    from cli.main import _settings_or_exit
    from producers.batch.runner import open_batch_runner

    found = open_batch_runner(_settings_or_exit()).cancel(run_id)
    typer.echo(f"batch run {found.id}: {found.status.value}")


@app.command()
def transforms() -> None:
    """The transforms this installation knows."""
    from cli.main import _settings_or_exit
    from producers.batch.transforms import transforms as known

    for name, transform in sorted(known(_settings_or_exit()).items()):
        typer.echo(f"{name:14} {transform.description}")


def beat() -> None:
    """Run Celery beat: mailbox polls, the batch schedule (SLUICE_BATCH_SCHEDULE) and the
    retention sweep (SLUICE_RETENTION_CRON)."""
    from cli.main import _settings_or_exit
    from cli.worker_app import app as celery_app
    from producers.batch.schedule import BadCron, beat_schedule
    from sluice.logs import configure_logging
    from workers.retention import retention_schedule

    settings = _settings_or_exit()
    configure_logging(settings)
    try:
        celery_app.conf.beat_schedule = beat_schedule(settings) | retention_schedule(settings)
    except BadCron as exc:
        typer.echo(f"error: SLUICE_BATCH_SCHEDULE: {exc}", err=True)
        raise typer.Exit(2) from None
    schedule_file = settings.data_dir / "celerybeat-schedule"
    schedule_file.parent.mkdir(parents=True, exist_ok=True)
    celery_app.Beat(schedule=str(schedule_file), loglevel=settings.log_level).run()
