"""Seeds from sitemaps: ``sluice crawl --sitemap URL``.

A sitemap (``<urlset>``), a sitemap index (``<sitemapindex>``, read recursively), a gzipped
one, a plain-text list of URLs, or a site's ``/robots.txt`` (its ``Sitemap:`` lines, read
by Protego). Every file is fetched by the crawler's own :class:`Fetcher`: the SSRF guard,
robots.txt, the domain's rate, the redirect checks and the byte limit all apply. A
sitemap's entries must be on its own host (or a subdomain), as the protocol says; others
are skipped. XML with a DOCTYPE is refused unread: sitemaps have none, and entity
expansion is the classic XML bomb.
"""

from __future__ import annotations

import gzip
import io
import time
import xml.etree.ElementTree as ElementTree
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from libs.token_bucket import TokenBucket
from libs.web.ssrf import guarded_client
from producers.crawl.fetch import DOMAIN_BUCKETS, Fetcher, PageStatus, TokenWait
from producers.crawl.tasks import fetch_limits
from producers.crawl.urls import UnsupportedUrl, canonical_url, host_of, in_scope
from sluice.broker_redis import broker_redis
from sluice.settings import Settings

SITEMAP_CONTENT_TYPES = frozenset({
    "application/xml", "text/xml", "application/gzip", "application/x-gzip",
    "application/octet-stream", "text/plain",
})
MAX_SITEMAP_FILES = 200  # files read per start, index entries included
MAX_TOKEN_WAITS = 20
GZIP_MAGIC = b"\x1f\x8b"


class NotASitemap(ValueError):
    """The body is neither sitemap XML nor a list of URLs."""


@dataclass
class SitemapEntries:
    pages: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)  # an index's children


@dataclass
class SitemapSeeds:
    urls: list[str] = field(default_factory=list)
    files_read: int = 0
    problems: list[str] = field(default_factory=list)  # "URL: why" for each file not read


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _unzipped(body: bytes, max_bytes: int) -> bytes:
    if not body.startswith(GZIP_MAGIC):
        return body
    with gzip.GzipFile(fileobj=io.BytesIO(body)) as unzipped:
        data = unzipped.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise NotASitemap(f"unzipped past {max_bytes} bytes")
    return data


def parse_sitemap(body: bytes, max_bytes: int) -> SitemapEntries:
    """The ``<loc>``s of a sitemap or sitemap index, or the URL lines of a text sitemap."""
    data = _unzipped(body, max_bytes)
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not text.startswith(b"<"):
        lines = data.decode("utf-8", "replace").splitlines()
        return SitemapEntries(pages=[line.strip() for line in lines
                                     if line.strip().startswith(("http://", "https://"))])
    if b"<!doctype" in text[:4096].lower() or b"<!entity" in text.lower():
        raise NotASitemap("XML with a DOCTYPE or entities")
    try:
        root = ElementTree.fromstring(text)
    except ElementTree.ParseError as exc:
        raise NotASitemap(f"not XML: {exc}") from exc
    entries = SitemapEntries()
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise NotASitemap(f"root element <{kind}>")
    target = entries.pages if kind == "urlset" else entries.sitemaps
    for item in root:
        for child in item:
            if _local(child.tag) == "loc" and child.text and child.text.strip():
                target.append(child.text.strip())
    return entries


@contextmanager
def sitemap_reader(settings: Settings) -> Iterator[SitemapReader]:
    """A reader with the crawl's guard, limits and rate buckets, accepting XML and text."""
    with guarded_client(settings.crawl_allowed_networks,
                        timeout=settings.crawl_timeout_seconds,
                        user_agent=settings.crawl_user_agent) as client:
        fetcher = Fetcher(client, TokenBucket(broker_redis(settings), DOMAIN_BUCKETS),
                          fetch_limits(settings, SITEMAP_CONTENT_TYPES),
                          robots_ttl=settings.crawl_robots_ttl_seconds)
        yield SitemapReader(fetcher, settings.crawl_max_page_bytes)


class SitemapReader:
    """Reads sitemaps through a crawler's fetcher (built with the sitemap content types)."""

    def __init__(self, fetcher: Fetcher, max_bytes: int) -> None:
        self._fetcher = fetcher
        self._max_bytes = max_bytes

    def _body(self, url: str) -> bytes:
        for _ in range(MAX_TOKEN_WAITS):
            try:
                fetched = self._fetcher.fetch(
                    url, None, lambda target: in_scope(target, [host_of(url)], "site"))
            except TokenWait as exc:  # a command may wait for the domain's rate
                time.sleep(exc.seconds)
                continue
            if fetched.status is not PageStatus.STORED or fetched.body is None:
                detail = f" ({fetched.detail})" if fetched.detail else ""
                http = f" HTTP {fetched.http_status}" if fetched.http_status else ""
                raise NotASitemap(f"{fetched.status.value}{http}{detail}")
            return fetched.body
        raise NotASitemap("the domain's rate kept it waiting")

    def seeds(self, starts: list[str], limit: int) -> SitemapSeeds:
        """Up to ``limit`` page URLs from the sitemaps at ``starts``, breadth first."""
        found = SitemapSeeds()
        queue = deque(self._expanded(starts, found))
        seen = set(queue)
        while queue and len(found.urls) < limit and found.files_read < MAX_SITEMAP_FILES:
            url = queue.popleft()
            try:
                entries = parse_sitemap(self._body(url), self._max_bytes)
            except NotASitemap as exc:
                found.problems.append(f"{url}: {exc}")
                continue
            found.files_read += 1
            for page in entries.pages:
                accepted = self._on_host(page, url)
                if accepted and accepted not in found.urls and len(found.urls) < limit:
                    found.urls.append(accepted)
            for child in entries.sitemaps:
                accepted = self._on_host(child, url)
                if accepted and accepted not in seen:
                    seen.add(accepted)
                    queue.append(accepted)
        return found

    def _expanded(self, starts: list[str], found: SitemapSeeds) -> list[str]:
        """The starts, a ``/robots.txt`` replaced by the sitemaps it names."""
        urls: list[str] = []
        for start in starts:
            url = canonical_url(start)
            if not url.endswith("/robots.txt"):
                urls.append(url)
                continue
            named = self._fetcher.robots(url).sitemaps
            if not named:
                found.problems.append(f"{url}: names no sitemap")
            urls.extend(u for u in (self._on_host(n, url) for n in named) if u)
        return list(dict.fromkeys(urls))

    @staticmethod
    def _on_host(url: str, sitemap: str) -> str | None:
        try:
            canonical = canonical_url(url, sitemap)
        except UnsupportedUrl:
            return None
        return canonical if in_scope(canonical, [host_of(sitemap)], "site") else None
