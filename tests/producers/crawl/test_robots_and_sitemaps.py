"""robots.txt as Protego reads it (wildcards, longest match, allow-overrides, the group of
the most specific agent) and sitemaps as crawl seeds, against the local fixture site."""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from libs.token_bucket import TokenBucket
from libs.web.ssrf import guarded_client
from producers.crawl.fetch import DOMAIN_BUCKETS, Fetcher, FetchLimits, PageStatus
from producers.crawl.frontier import crawl_summary
from producers.crawl.sitemaps import NotASitemap, parse_sitemap, sitemap_reader
from sluice.broker_redis import broker_redis
from tests.conftest import SluiceEnv
from tests.producers.crawl.site import FixtureSite
from tests.producers.crawl.test_crawl import finish
from tests.support.polling import wait_for

ROBOTS = """\
User-agent: *
Disallow: /private/
Allow: /private/open.html
Disallow: /*.pdf$
Disallow: /*?print=

User-agent: SluiceBot
Disallow: /b.html
Allow: /
"""


@pytest.fixture
def strict_site() -> Iterator[FixtureSite]:
    with FixtureSite(robots_txt=ROBOTS) as server:
        yield server


def fetcher(env: SluiceEnv, user_agent: str) -> Fetcher:
    client = guarded_client(["127.0.0.1/32"], timeout=5, user_agent=user_agent)
    limits = FetchLimits(max_bytes=10**6, max_redirects=3, content_types=frozenset({"text/html"}),
                         rate=500, burst=50, max_token_wait=1, user_agent=user_agent)
    return Fetcher(client, TokenBucket(broker_redis(env.settings), DOMAIN_BUCKETS), limits,
                   robots_ttl=60)


def test_wildcards_longest_match_and_allow_overrides(
    crawler: SluiceEnv, strict_site: FixtureSite
) -> None:
    other = fetcher(crawler, "OtherBot/1.0")

    def outcome(path: str) -> PageStatus:
        return other.fetch(f"{strict_site.url}{path}", None, lambda url: True).status

    assert outcome("/private/secret.html") is PageStatus.ROBOTS_DISALLOWED
    # The longer Allow wins over the shorter Disallow (urllib's first match refused it).
    assert outcome("/private/open.html") is PageStatus.STORED
    # `$` anchors the end: the PDF is refused, the same path with a query is not.
    assert outcome("/doc.pdf") is PageStatus.ROBOTS_DISALLOWED
    assert outcome("/doc.pdf?v=2") is PageStatus.SKIPPED_CONTENT_TYPE
    # `*` matches inside the path and query.
    assert outcome("/a.html?print=1") is PageStatus.ROBOTS_DISALLOWED
    assert outcome("/a.html") is PageStatus.STORED
    # The site logs a request as it finishes answering: wait for the last one to land.
    wanted = {"/private/open.html", "/doc.pdf?v=2", "/a.html"}
    requested = wait_for(lambda: (paths := strict_site.paths()) >= wanted and paths,
                         timeout=10, what="the site to log the fetched paths")
    assert {"/private/secret.html", "/doc.pdf", "/a.html?print=1"}.isdisjoint(requested)
    assert wanted <= requested


def test_the_most_specific_agent_group_alone_applies(
    crawler: SluiceEnv, strict_site: FixtureSite
) -> None:
    ours = fetcher(crawler, "SluiceBot/0.1 (+https://example.com/bot)")

    def outcome(path: str) -> PageStatus:
        return ours.fetch(f"{strict_site.url}{path}", None, lambda url: True).status

    assert outcome("/b.html") is PageStatus.ROBOTS_DISALLOWED
    assert outcome("/private/secret.html") is PageStatus.STORED  # the * group is not ours
    assert ours.robots(f"{strict_site.url}/").sitemaps == []


def test_sitemaps_index_gzip_and_robots_give_the_seeds_on_their_host(
    crawler: SluiceEnv, site: FixtureSite
) -> None:
    with sitemap_reader(crawler.settings) as reader:
        from_index = reader.seeds([f"{site.url}/sitemap-index.xml"], limit=10)
        from_robots = reader.seeds([f"{site.url}/robots.txt"], limit=10)
        capped = reader.seeds([f"{site.url}/sitemap.xml"], limit=1)
        missing = reader.seeds([f"{site.url}/no-sitemap.xml"], limit=10)

    pages = [f"{site.url}/{page}" for page in ("a.html", "b.html", "index.html")]
    assert from_index.urls == pages and from_index.files_read == 3  # elsewhere.example: skipped
    assert from_robots.urls == pages
    assert capped.urls == pages[:1]
    assert missing.urls == [] and "http_error HTTP 404" in missing.problems[0]


def test_a_sitemap_is_parsed_as_xml_gzip_or_text_and_a_doctype_is_refused() -> None:
    urlset = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
              b"<url><loc> https://a.example/x </loc><lastmod>2025-01-01</lastmod></url>"
              b"</urlset>")
    assert parse_sitemap(urlset, 10**6).pages == ["https://a.example/x"]
    assert parse_sitemap(gzip.compress(urlset), 10**6).pages == ["https://a.example/x"]
    text = b"https://a.example/1\n# comment\nhttps://a.example/2\n"
    assert parse_sitemap(text, 10**6).pages == ["https://a.example/1", "https://a.example/2"]
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset>&a;</urlset>'
    with pytest.raises(NotASitemap):
        parse_sitemap(bomb, 10**6)
    with pytest.raises(NotASitemap):
        parse_sitemap(gzip.compress(b"x" * 2000), 1000)  # unzips past the limit


@pytest.mark.slow
def test_the_cli_crawls_from_a_sitemap(crawler: SluiceEnv, site: FixtureSite) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "crawl", "--sitemap", f"{site.url}/sitemap-index.xml",
         "--depth", "0", "--timeout", "60"],
        env=crawler.env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "3 URL(s) from 3 sitemap file(s)" in done.stdout
    crawl_id = re.search(r"crawl (\w+) started", done.stdout).group(1)  # type: ignore[union-attr]
    pages = finish(crawler, crawl_id)
    assert sorted(pages) == ["a.html", "b.html", "index.html"]
    assert all(page["status"] == "stored" for page in pages.values())
    assert crawl_summary(crawler.store, crawl_id)["jobs"] == 3  # depth 0: no links followed
