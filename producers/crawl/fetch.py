"""Fetching one page politely and defensively.

Every request (each redirect hop and robots.txt included) first takes a token from its
domain's bucket. A page is fetched conditionally when validators from an earlier crawl are
known (``If-None-Match`` / ``If-Modified-Since``): a 304 costs no body. Redirects are
followed by hand, each hop checked for scope and robots.txt; a hop back to a URL already in
the chain is a loop and stops the page. The body is streamed: a declared
``Content-Length`` above the limit, or a stream that passes it, is refused without reading
the rest, and a content type outside ``SLUICE_CRAWL_CONTENT_TYPES`` is skipped unread.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

import httpx

from libs.token_bucket import TokenBucket
from libs.web.ssrf import RefusedAddress
from producers.crawl.robots import RobotsCache, RobotsPolicy
from producers.crawl.urls import UnsupportedUrl, canonical_url, host_of

# Per-domain token buckets in the broker's Redis, shared by every crawler thread and process;
# a robots.txt ``Crawl-delay`` lowers a domain's rate to one request per delay.
DOMAIN_BUCKETS = "sluice:crawl:bucket:"


class PageStatus(StrEnum):
    STORED = "stored"
    UNCHANGED = "unchanged"  # fetched, same content as stored
    NOT_MODIFIED = "not_modified"  # 304: no body transferred
    NOINDEX = "noindex"
    EMPTY = "empty"  # no text in it
    SKIPPED_CONTENT_TYPE = "skipped_content_type"
    TOO_LARGE = "too_large"
    ROBOTS_DISALLOWED = "robots_disallowed"
    REFUSED_ADDRESS = "refused_address"
    OUT_OF_SCOPE = "out_of_scope"
    REDIRECT_LOOP = "redirect_loop"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    HTTP_ERROR = "http_error"
    FETCH_ERROR = "fetch_error"


class TokenWait(Exception):
    """The domain's bucket is empty for longer than a worker thread should sleep."""

    def __init__(self, domain: str, seconds: float) -> None:
        super().__init__(f"rate limit for {domain}: next token in {seconds:.1f}s")
        self.seconds = seconds


@dataclass(frozen=True)
class Validators:
    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class Fetched:
    url: str  # the last URL requested (after redirects), canonical
    status: PageStatus
    http_status: int | None = None
    body: bytes | None = None
    content_type: str | None = None
    charset: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    redirects: list[str] = field(default_factory=list)
    detail: str | None = None
    bytes_read: int = 0


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    max_redirects: int
    content_types: frozenset[str]
    rate: float
    burst: int
    max_token_wait: float
    user_agent: str
    # Files (PDF) may be larger than pages: SLUICE_FILES_MAX_BYTES. 0: as pages.
    max_file_bytes: int = 0


class Fetcher:
    """Fetches pages through ``client`` (build it with :func:`guarded_client`); robots.txt
    requests take their tokens from the same buckets as pages."""

    def __init__(
        self,
        client: httpx.Client,
        limiter: TokenBucket,
        limits: FetchLimits,
        *,
        robots_ttl: float,
    ) -> None:
        self._client = client
        self._limiter = limiter
        self._limits = limits
        self._robots = RobotsCache(
            client, limits.user_agent, robots_ttl, before_request=self.take_token,
            on_crawl_delay=lambda url: limiter.drain(host_of(url)),
        )

    def robots(self, url: str) -> RobotsPolicy:
        """The robots.txt policy of ``url``'s origin (cached; fetched through the guard)."""
        return self._robots.policy(url)

    def take_token(self, url: str, crawl_delay: float | None) -> None:
        """Block until the domain's bucket gives a token, or raise :class:`TokenWait`."""
        domain = host_of(url)
        rate, capacity = self._limits.rate, self._limits.burst
        if crawl_delay:
            rate, capacity = min(rate, 1.0 / crawl_delay), 1
        waited = 0.0
        while True:
            wait = self._limiter.take(domain, rate=rate, capacity=capacity)
            if wait <= 0:
                return
            if waited + wait > self._limits.max_token_wait:
                raise TokenWait(domain, wait)
            time.sleep(wait)
            waited += wait

    def fetch(
        self, url: str, validators: Validators | None, in_scope: Callable[[str], bool]
    ) -> Fetched:
        chain = [url]
        current = url
        while True:
            headers: dict[str, str] = {}
            if validators is not None and validators.url == current:
                if validators.etag:
                    headers["If-None-Match"] = validators.etag
                if validators.last_modified:
                    headers["If-Modified-Since"] = validators.last_modified
            try:
                robots = self._robots.policy(current)
                if not robots.allows(current, self._limits.user_agent):
                    return Fetched(current, PageStatus.ROBOTS_DISALLOWED, redirects=chain[1:])
                self.take_token(current, robots.crawl_delay)
                fetched, location = self._request(current, headers)
            except RefusedAddress as exc:
                return Fetched(current, PageStatus.REFUSED_ADDRESS, redirects=chain[1:],
                               detail=str(exc))
            fetched.redirects = chain[1:]
            if location is None:
                return fetched
            try:
                target = canonical_url(location, current)
            except UnsupportedUrl as exc:
                fetched.status, fetched.detail = PageStatus.HTTP_ERROR, str(exc)
                return fetched
            if target in chain:
                return Fetched(current, PageStatus.REDIRECT_LOOP, fetched.http_status,
                               redirects=[*chain[1:], target], detail=" -> ".join(chain))
            if len(chain) > self._limits.max_redirects:
                return Fetched(current, PageStatus.TOO_MANY_REDIRECTS, fetched.http_status,
                               redirects=chain[1:])
            if not in_scope(target):
                return Fetched(target, PageStatus.OUT_OF_SCOPE, fetched.http_status,
                               redirects=[*chain[1:], target])
            chain.append(target)
            current = target

    def _request(self, url: str, headers: dict[str, str]) -> tuple[Fetched, str | None]:
        """One GET; returns the outcome and, for a redirect, its Location."""
        with self._client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            etag = response.headers.get("ETag")
            last_modified = response.headers.get("Last-Modified")
            base = Fetched(url, PageStatus.STORED, status, etag=etag, last_modified=last_modified)
            if status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                return base, response.headers["Location"]
            if status == 304:
                base.status = PageStatus.NOT_MODIFIED
                return base, None
            if not 200 <= status < 300:
                base.status = PageStatus.HTTP_ERROR
                return base, None
            content_type = response.headers.get("Content-Type", "")
            base.content_type = content_type.split(";")[0].strip().lower()
            base.charset = response.charset_encoding
            if base.content_type not in self._limits.content_types:
                base.status = PageStatus.SKIPPED_CONTENT_TYPE
                return base, None
            declared = response.headers.get("Content-Length")
            limit = self._limits.max_bytes
            if base.content_type == "application/pdf" and self._limits.max_file_bytes:
                limit = self._limits.max_file_bytes
            if declared is not None and declared.isdigit() and int(declared) > limit:
                base.status = PageStatus.TOO_LARGE
                base.detail = f"Content-Length {declared} above {limit}"
                return base, None
            body = bytearray()
            for chunk in response.iter_bytes():  # decoded: a gzip bomb hits the limit too
                body.extend(chunk)
                if len(body) > limit:
                    base.status = PageStatus.TOO_LARGE
                    base.detail = f"body passed {limit} bytes; stopped reading"
                    base.bytes_read = len(body)
                    return base, None
            base.body = bytes(body)
            base.bytes_read = len(body)
            return base, None
