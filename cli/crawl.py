"""``sluice crawl URL...`` (or ``--sitemap URL``): start a polite crawl; pages land in the
warehouse and get embedded."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from sluice.settings import Settings

console = Console()
POLL_SECONDS = 0.5


def _sitemap_seeds(settings: Settings, sitemaps: list[str], limit: int) -> list[str]:
    """The page URLs the sitemaps list (at most ``limit``); exit 1 when they give none."""
    from producers.crawl.sitemaps import sitemap_reader
    from producers.crawl.urls import UnsupportedUrl

    try:
        with sitemap_reader(settings) as reader:
            found = reader.seeds(sitemaps, limit)
    except UnsupportedUrl as exc:
        raise typer.BadParameter(str(exc)) from None
    for problem in found.problems:
        typer.echo(f"sitemap skipped: {problem}", err=True)
    typer.echo(f"{len(found.urls)} URL(s) from {found.files_read} sitemap file(s)")
    if not found.urls:
        typer.echo("error: the sitemaps gave no URL to crawl", err=True)
        raise typer.Exit(1)
    return found.urls


def crawl(
    urls: Annotated[list[str] | None, typer.Argument(help="Seed URLs.")] = None,
    sitemap: Annotated[list[str] | None, typer.Option(
        metavar="URL", help="Seed from a sitemap, a sitemap index or a site's /robots.txt "
                            "(its Sitemap: lines); repeatable.")] = None,
    depth: Annotated[int, typer.Option(min=0, help="Links followed from a seed.")] = 2,
    max_pages: Annotated[int, typer.Option(min=1, help="Pages fetched at most.")] = 100,
    scope: Annotated[
        str, typer.Option(help="site: the seeds' hosts and subdomains; any: every host.")
    ] = "site",
    wait: Annotated[bool, typer.Option(help="Wait for the crawl to finish and summarise.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait with --wait.")] = 3600.0,
) -> None:
    """Queue fetches of the seed URLs on the io queue (a worker must be running)."""
    from cli.main import _settings_or_exit
    from producers.crawl.frontier import Frontier, crawl_summary
    from producers.crawl.urls import UnsupportedUrl
    from producers.state_store import open_state_store
    from sluice.broker_redis import broker_redis
    from sluice.celery_app import create_celery_app
    from sluice.kinds import loaded_kinds
    from sluice.stores import open_store

    if scope not in ("site", "any"):
        raise typer.BadParameter("--scope must be site or any")
    if not urls and not sitemap:
        raise typer.BadParameter("give seed URLs, --sitemap URL, or both")
    settings = _settings_or_exit()
    seeds = list(urls or [])
    if sitemap:
        seeds += _sitemap_seeds(settings, sitemap, max_pages)
    store = open_store(settings)
    celery = create_celery_app(settings, loaded_kinds())
    frontier = Frontier(store=store, celery=celery, settings=settings,
                        redis_client=broker_redis(settings))
    try:
        spec = frontier.start(open_state_store(settings), seeds, max_depth=depth,
                              max_pages=max_pages, scope="any" if scope == "any" else "site")
    except UnsupportedUrl as exc:
        raise typer.BadParameter(str(exc)) from None
    typer.echo(f"crawl {spec.crawl_id} started: {len(seeds)} seed(s), depth {depth}, "
               f"at most {max_pages} pages, scope {scope}")
    if not wait:
        return
    deadline = time.monotonic() + timeout
    with console.status("crawling") as status:
        while True:
            summary = crawl_summary(store, spec.crawl_id)
            status.update(f"crawling: {summary['jobs']} pages, {summary['statuses']}")
            if summary["finished"] or time.monotonic() > deadline:
                break
            time.sleep(POLL_SECONDS)
    table = Table("page outcome", "pages")
    for outcome, count in sorted(summary["pages"].items()):
        table.add_row(outcome, str(count))
    for job_status, count in sorted(summary["statuses"].items()):
        if job_status != "succeeded":
            table.add_row(f"(job {job_status})", str(count))
    console.print(table)
    if not summary["finished"]:
        typer.echo("timed out before the crawl finished; it goes on in the workers", err=True)
        raise typer.Exit(1)
