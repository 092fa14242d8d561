"""``sluice cdc``: follow the warehouse's MongoDB change stream; ``sluice cdc reset``."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="MongoDB change streams -> embed/delete jobs.",
                  invoke_without_command=True)


@app.callback()
def cdc(ctx: typer.Context) -> None:
    """Watch SLUICE_CDC_COLLECTIONS until Ctrl-C; resumes from the saved position (a first
    start scans the collection first)."""
    if ctx.invoked_subcommand is not None:
        return
    import asyncio
    import signal

    from cli.main import _settings_or_exit
    from producers.cdc.consumer import ChangeConsumer, ResumeTokens
    from producers.cdc.watcher import watch
    from producers.state_store import open_state_store
    from sluice.celery_app import create_celery_app
    from sluice.kinds import loaded_kinds
    from sluice.logs import configure_logging
    from sluice.stores import open_store

    settings = _settings_or_exit()
    if settings.mongodb_url is None:
        typer.echo("error: sluice cdc needs SLUICE_MONGODB_URL (a replica set)", err=True)
        raise typer.Exit(2)
    configure_logging(settings)
    if settings.cdc_metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(settings.cdc_metrics_port, addr=settings.cdc_metrics_host)
    celery = create_celery_app(settings, loaded_kinds())
    consumer = ChangeConsumer(store=open_store(settings), celery=celery,
                              settings=settings, tokens=ResumeTokens(open_state_store(settings)))

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        assert settings.mongodb_url is not None
        await watch(settings.mongodb_url.get_secret_value(), settings.mongodb_database,
                    settings.cdc_collections, consumer, stop)

    asyncio.run(main())


@app.command()
def reset(
    collection: Annotated[
        list[str] | None, typer.Option("--collection", "-c", help="Default: all watched.")
    ] = None,
) -> None:
    """Forget the saved position: the next `sluice cdc` scans the collection, queues an
    embed per document, and follows the stream from the scan's start."""
    from cli.main import _settings_or_exit
    from producers.cdc.consumer import ResumeTokens
    from producers.state_store import open_state_store

    settings = _settings_or_exit()
    tokens = ResumeTokens(open_state_store(settings))
    for name in collection or settings.cdc_collections:
        cleared = tokens.clear(name)
        typer.echo(f"{name}: {'token cleared' if cleared else 'no token saved'}")
