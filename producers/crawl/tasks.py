"""The ``crawl.fetch`` job kind (io queue): fetch one page, store its text, queue its links.

A page's outcome is the job's result (``status``, ``http_status``, ...), so a crawl's report
is a query over its jobs. Pages that cannot be had (robots.txt, the SSRF guard, 404, too
large, not HTML) succeed with that outcome recorded: nothing a person must act on. A
transient status (:mod:`libs.http_faults`: 408, 425, 429, 500, 502-504) or a network fault
is retried with backoff, then recorded as an error. An empty token bucket
puts the job back with a countdown instead of holding a worker thread.
"""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from libs.documents.warehouse import ContentType, get_documents, put_document
from libs.files.sniffing import UnsupportedFile, sniff
from libs.http_faults import is_transient_status
from libs.text.html_text import html_to_text
from libs.token_bucket import TokenBucket
from libs.web.ssrf import guarded_client
from producers.crawl.fetch import (
    DOMAIN_BUCKETS,
    Fetched,
    Fetcher,
    FetchLimits,
    PageStatus,
    TokenWait,
    Validators,
)
from producers.crawl.frontier import FETCH_KIND, CrawlSpec, Frontier
from producers.crawl.links import page_links
from producers.crawl.urls import host_of, in_scope
from producers.state_store import StateStore, shared_state_store
from schemas.inputs.crawl import CrawlFetchInput
from sluice.broker_redis import broker_redis
from sluice.job_task import JobContext, Queue, Retryable, job_task
from sluice.settings import Settings

log = structlog.get_logger(__name__)

SOURCE = "web"
PAGES_NAMESPACE = "crawl.pages"
SERVER_ERROR_RETRIES = 2


@dataclass
class CrawlParts:
    """Per-process crawl machinery: one connection pool, one robots cache."""

    fetcher: Fetcher
    client: httpx.Client
    pid: int


PDF = ContentType.PDF.value
_parts: CrawlParts | None = None
_parts_lock = threading.Lock()


def fetch_limits(settings: Settings, content_types: frozenset[str] | None = None) -> FetchLimits:
    """The crawl settings as fetch limits; ``content_types`` replaces the pages' types (a
    sitemap is XML)."""
    return FetchLimits(
        max_bytes=settings.crawl_max_page_bytes,
        max_redirects=settings.crawl_max_redirects,
        content_types=content_types or frozenset(
            [*settings.crawl_content_types, *([PDF] if settings.crawl_pdf else [])]),
        rate=settings.crawl_requests_per_second,
        burst=settings.crawl_burst,
        max_token_wait=settings.crawl_max_token_wait_seconds,
        user_agent=settings.crawl_user_agent,
        max_file_bytes=settings.files_max_bytes,
    )


def crawl_parts(settings: Settings) -> CrawlParts:
    global _parts
    with _parts_lock:
        if _parts is None or _parts.pid != os.getpid():
            client = guarded_client(settings.crawl_allowed_networks,
                                    timeout=settings.crawl_timeout_seconds,
                                    user_agent=settings.crawl_user_agent)
            fetcher = Fetcher(client, TokenBucket(broker_redis(settings), DOMAIN_BUCKETS),
                              fetch_limits(settings),
                              robots_ttl=settings.crawl_robots_ttl_seconds)
            _parts = CrawlParts(fetcher, client, os.getpid())
        return _parts


def load_validators(state: StateStore, url: str) -> tuple[Validators | None, dict[str, Any]]:
    record = state.get(PAGES_NAMESPACE, url)
    if record is None:
        return None, {}
    doc = record.doc
    return Validators(url, doc.get("etag"), doc.get("last_modified")), doc


@job_task(FETCH_KIND, queue=Queue.IO, input_model=CrawlFetchInput)
def fetch_page(context: JobContext) -> dict[str, Any]:
    settings = context.settings
    spec = CrawlSpec.from_job_input(context.job.input)
    url: str = context.job.input["url"]
    depth = int(context.job.input["depth"])
    state = shared_state_store(settings)
    parts = crawl_parts(settings)

    def scope(candidate: str) -> bool:
        return in_scope(candidate, spec.seed_hosts, spec.scope)

    validators, known = load_validators(state, url)
    with context.step("fetch", url=url) as step:
        try:
            fetched = parts.fetcher.fetch(url, validators, scope)
        except TokenWait as exc:
            raise Retryable(str(exc), countdown=exc.seconds, wait=True) from exc
        except httpx.TransportError as exc:
            if context.retries < SERVER_ERROR_RETRIES:
                raise Retryable(f"{type(exc).__name__}: {exc}") from exc
            fetched = Fetched(url, PageStatus.FETCH_ERROR, detail=f"{type(exc).__name__}: {exc}")
        step.update(status=fetched.status.value, http_status=fetched.http_status,
                    bytes=fetched.bytes_read, redirects=len(fetched.redirects))
    if (fetched.status is PageStatus.HTTP_ERROR and fetched.http_status is not None
            and is_transient_status(fetched.http_status)
            and context.retries < SERVER_ERROR_RETRIES):
        raise Retryable(f"HTTP {fetched.http_status} from {fetched.url}")

    links: list[str] = []
    result: dict[str, Any] = {
        "url": url, "final_url": fetched.url, "status": fetched.status.value,
        "http_status": fetched.http_status, "redirects": fetched.redirects,
        "bytes": fetched.bytes_read, "detail": fetched.detail,
    }
    if fetched.status is PageStatus.NOT_MODIFIED:
        links = list(known.get("links", []))
        result["document_id"] = known.get("document_id")
    elif fetched.status is PageStatus.STORED and fetched.body is not None:
        links = store_page(context, fetched, state, result)
    frontier = Frontier(store=context.store, celery=context.celery, settings=settings,
                        redis_client=broker_redis(settings))
    queued = 0
    if depth < spec.max_depth:
        for link in links:
            if scope(link) and frontier.add(spec, link, depth + 1):
                queued += 1
    result["links"] = len(links)
    result["links_queued"] = queued
    return result


def store_page(
    context: JobContext, fetched: Fetched, state: StateStore, result: dict[str, Any]
) -> list[str]:
    """Text to the warehouse (which queues embedding when it changed); returns the links."""
    assert fetched.body is not None
    if fetched.content_type == PDF:
        store_pdf(context, fetched, result)
        return []
    html = fetched.body.decode(fetched.charset or "utf-8", errors="replace")
    page = page_links(html, fetched.url)
    doc_id = fetched.url
    # A page's own <link rel=canonical> names it, but only within its host.
    if page.canonical and host_of(page.canonical) == host_of(fetched.url):
        doc_id = page.canonical
    document_id = None
    if page.noindex:
        result["status"] = PageStatus.NOINDEX.value
    else:
        with context.step("extract_text"):
            text = html_to_text(html)
        if not text.strip():
            result["status"] = PageStatus.EMPTY.value
        else:
            document, changed = put_document(
                get_documents(), store=context.store, celery=context.celery,
                settings=context.settings, source=SOURCE, doc_id=doc_id, content=text,
                content_type=ContentType.TEXT,
                metadata={"url": fetched.url, "title": page.title, "canonical": page.canonical,
                          "etag": fetched.etag, "last_modified": fetched.last_modified},
            )
            document_id = document.id
            result["status"] = (PageStatus.STORED if changed else PageStatus.UNCHANGED).value
            result["document_id"] = document_id
    if fetched.etag or fetched.last_modified:
        # Validators go to the URL that answered, with its links, so that a 304 next time
        # can still lead the crawl on without the body.
        state.put(PAGES_NAMESPACE, fetched.url, {
            "etag": fetched.etag, "last_modified": fetched.last_modified,
            "links": page.links, "document_id": document_id,
        })
        if fetched.url != result["url"]:
            state.delete(PAGES_NAMESPACE, result["url"])
    return page.links


def store_pdf(context: JobContext, fetched: Fetched, result: dict[str, Any]) -> None:
    """A crawled PDF to the warehouse as a file (its embed job reads it page by page); a
    body that only claims to be a PDF is recorded as skipped."""
    assert fetched.body is not None
    try:
        kind = sniff(fetched.body, fetched.url)
    except UnsupportedFile as exc:
        kind, result["detail"] = None, str(exc)
    if kind is not ContentType.PDF:
        result["status"] = PageStatus.SKIPPED_CONTENT_TYPE.value
        return
    name = urlsplit(fetched.url).path.rsplit("/", 1)[-1] or fetched.url
    document, changed = put_document(
        get_documents(), store=context.store, celery=context.celery,
        settings=context.settings, source=SOURCE, doc_id=fetched.url,
        content=base64.b64encode(fetched.body).decode(), content_type=ContentType.PDF,
        metadata={"url": fetched.url, "filename": name, "size": len(fetched.body),
                  "etag": fetched.etag, "last_modified": fetched.last_modified},
    )
    result["status"] = (PageStatus.STORED if changed else PageStatus.UNCHANGED).value
    result["document_id"] = document.id
