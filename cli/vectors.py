"""``sluice vectors switch``: point the live Qdrant alias at another collection by hand.

A re-embed switches the alias itself; this is for rolling one back to the collection it
left (kept unless ``drop_old``). The switch runs as a ``vectors.switch_alias`` job on the
cpu queue because the worker is the process that holds Qdrant (in local mode, the only one
allowed to open it), so a worker must be running.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(help="The Qdrant alias that searches read through.", no_args_is_help=True)
console = Console()
POLL_SECONDS = 0.2


@app.command()
def switch(
    collection: Annotated[str, typer.Argument(help="The collection to make live.")],
    drop_old: Annotated[
        bool, typer.Option(help="Drop the collection the alias pointed at before.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for a worker.")] = 60.0,
) -> None:
    """Point SLUICE_QDRANT_COLLECTION at COLLECTION in one atomic alias update."""
    from cli.client import SETTLED_STATUSES
    from cli.main import _settings_or_exit
    from cli.worker_app import app as celery_app
    from producers.batch.transforms import SWITCH_ALIAS_KIND
    from schemas.job import Job, JobStatus
    from sluice.enqueue import send
    from sluice.stores import open_store

    settings = _settings_or_exit()
    store = open_store(settings)
    job, _ = store.create(Job(
        kind=SWITCH_ALIAS_KIND,
        input={"alias": settings.qdrant_collection, "collection": collection,
               "drop_old": drop_old},
        max_deliveries=settings.max_deliveries, task_id=uuid.uuid4().hex,
    ))
    job = send(job, store=store, celery=celery_app, settings=settings)
    deadline = time.monotonic() + timeout
    while job.status.value not in SETTLED_STATUSES and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        job = store.get(job.id)
    console.print_json(data={"job": job.id, "status": job.status.value,
                             "result": job.result, "error": job.error})
    if job.status is not JobStatus.SUCCEEDED:
        if job.status.value not in SETTLED_STATUSES:
            typer.echo(f"no worker took job {job.id} within {timeout:g}s: is one consuming "
                       "the cpu queue? The job stays queued and runs when one does.", err=True)
        raise typer.Exit(1)
