"""robots.txt, fetched once per origin and kept for ``SLUICE_CRAWL_ROBOTS_TTL_SECONDS``.

Read by Protego, which follows RFC 9309 as Google does: the group of the most specific
matching user agent, ``*`` and ``$`` wildcards, the longest matching rule wins and an
``Allow`` wins a tie. A 4xx means no rules (everything allowed); a 5xx or an unreachable
server means the crawler must assume everything is disallowed, and that answer is kept
only briefly so the site is asked again soon. ``Crawl-delay`` (not in the RFC, widely
used) becomes the domain's request rate; ``Sitemap:`` lines are kept for a sitemap start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import structlog
from protego import Protego

from libs.web.ssrf import RefusedAddress
from producers.crawl.urls import origin_of

log = structlog.get_logger(__name__)

UNAVAILABLE_TTL_SECONDS = 60.0
MAX_ROBOTS_BYTES = 512 * 1024
MAX_ORIGINS = 10_000


@dataclass(frozen=True)
class RobotsPolicy:
    parser: Protego | None  # None: nothing is allowed (robots.txt unavailable)
    crawl_delay: float | None
    fetched_at: float
    ttl: float

    def allows(self, url: str, user_agent: str) -> bool:
        return self.parser is not None and bool(self.parser.can_fetch(url, user_agent))

    @property
    def sitemaps(self) -> list[str]:
        """The ``Sitemap:`` URLs robots.txt names, in its order."""
        return [] if self.parser is None else list(self.parser.sitemaps)


class RobotsCache:
    def __init__(
        self, client: httpx.Client, user_agent: str, ttl: float,
        before_request: Callable[[str, float | None], None],
        on_crawl_delay: Callable[[str], None] = lambda url: None,
    ) -> None:
        self._client = client
        self._user_agent = user_agent
        self._ttl = ttl
        self._before_request = before_request
        self._on_crawl_delay = on_crawl_delay
        self._lock = threading.Lock()
        self._policies: dict[str, RobotsPolicy] = {}

    def policy(self, url: str) -> RobotsPolicy:
        origin = origin_of(url)
        with self._lock:
            cached = self._policies.get(origin)
        if cached is not None and time.monotonic() - cached.fetched_at < cached.ttl:
            return cached
        policy = self._fetch(origin)
        with self._lock:
            self._policies.pop(origin, None)
            self._policies[origin] = policy
            while len(self._policies) > MAX_ORIGINS:  # a crawl of many hosts stays bounded
                self._policies.pop(next(iter(self._policies)))
        return policy

    def _fetch(self, origin: str) -> RobotsPolicy:
        robots_url = f"{origin}/robots.txt"
        self._before_request(robots_url, None)
        now = time.monotonic()
        try:
            response = self._client.get(robots_url, follow_redirects=True)
        except RefusedAddress:
            raise  # the page is refused for its address, not for its robots.txt
        except httpx.HTTPError as exc:
            log.warning("robots.txt unreachable; disallowing the origin for now",
                        origin=origin, error=str(exc))
            return RobotsPolicy(None, None, now, UNAVAILABLE_TTL_SECONDS)
        if response.status_code >= 500:
            return RobotsPolicy(None, None, now, UNAVAILABLE_TTL_SECONDS)
        if response.status_code >= 400:
            parser = Protego.parse("")  # no rules: everything allowed
        else:
            parser = Protego.parse(
                response.content[:MAX_ROBOTS_BYTES].decode("utf-8", "replace"))
        delay = parser.crawl_delay(self._user_agent)
        if delay:
            self._on_crawl_delay(robots_url)
        return RobotsPolicy(parser, float(delay) if delay else None, now, self._ttl)
