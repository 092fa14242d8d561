"""Crawling the fixture site with a real worker: politeness, limits, outcomes recorded."""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
from typing import Any

import pytest

from libs.documents.warehouse import open_documents
from producers.crawl.frontier import FETCH_KIND, Frontier, crawl_summary
from producers.state_store import open_state_store
from sluice.broker_redis import broker_redis
from sluice.stores import JobQuery
from tests.conftest import SluiceEnv
from tests.producers.crawl.site import BIG_BYTES, FixtureSite
from tests.support.polling import wait_for


def start(env: SluiceEnv, seeds: list[str], **options: Any) -> str:
    frontier = Frontier(store=env.store, celery=env.celery, settings=env.settings,
                        redis_client=broker_redis(env.settings))
    state = open_state_store(env.settings)
    spec = frontier.start(state, seeds, max_depth=options.get("depth", 2),
                          max_pages=options.get("max_pages", 100),
                          scope=options.get("scope", "site"))
    state.close()
    return spec.crawl_id


def finish(env: SluiceEnv, crawl_id: str, timeout: float = 60) -> dict[str, dict[str, Any]]:
    def done() -> bool:
        summary = crawl_summary(env.store, crawl_id)
        return bool(summary["finished"] and summary["jobs"])

    wait_for(done, timeout=timeout, interval=0.2, what=f"crawl {crawl_id} to finish")
    jobs = env.store.iter_jobs(JobQuery(kind=FETCH_KIND, fields=(("input.crawl_id", crawl_id),)))
    return {job.input["url"].split("/", 3)[3]: {"status": job.status.value, **(job.result or {})}
            for job in jobs}


def test_a_crawl_honours_robots_stops_loops_and_records_every_outcome(
    crawler: SluiceEnv, site: FixtureSite
) -> None:
    embeds = crawler.store.count(JobQuery(kind="embed"))
    pages = finish(crawler, start(crawler, [f"{site.url}/"]))
    outcome = {path: page["status"] if page["status"] != "succeeded" else page.get("status")
               for path, page in pages.items()}
    assert pages["index.html"]["status"] == "stored" or pages[""]["status"] == "stored"
    assert pages["a.html"]["status"] == "stored" and pages["b.html"]["status"] == "stored"
    # robots.txt: the disallowed page is recorded and never requested.
    assert pages["private/secret.html"]["status"] == "robots_disallowed"
    assert site.requests_for("/private/secret.html") == []
    assert (pages["missing.html"]["status"], pages["missing.html"]["http_status"]) == (
        "http_error", 404)
    # A 500 is retried (twice), then recorded.
    assert (pages["error.html"]["status"], pages["error.html"]["http_status"]) == (
        "http_error", 500)
    assert len(site.requests_for("/error.html")) == 3
    assert pages["loop/one"]["status"] == "redirect_loop"
    assert len(site.requests_for("/loop/one")) == 1
    # The 50 MB pages are refused without being read whole.
    assert pages["big.html"]["status"] == "too_large"
    assert pages["big-chunked.html"]["status"] == "too_large"
    for path in ("/big.html", "/big-chunked.html"):
        wait_for(lambda p=path: site.requests_for(p), timeout=10, what=f"{path} to be logged")
        assert site.requests_for(path)[0].body_bytes < BIG_BYTES / 5
    assert pages["doc.pdf"]["status"] == "skipped_content_type"
    # The tracking-parameter copy of the home page is the same URL; off-site links stay out.
    assert not any("utm_source" in path for path in pages)
    assert not any("10.1.2.3" in path for path in pages)
    documents = open_documents(crawler.settings)
    page = documents.get_by_key("web", f"{site.url}/a.html")
    assert "thirty days" in page.content and "<p>" not in page.content
    assert crawler.store.count(JobQuery(kind="embed")) - embeds == 3
    documents.close()
    assert outcome  # every page has an outcome


def test_a_second_crawl_with_unchanged_validators_fetches_no_bodies(
    crawler: SluiceEnv, site: FixtureSite
) -> None:
    finish(crawler, start(crawler, [f"{site.url}/index.html"], depth=1))
    before = len(site.hits)
    embeds = crawler.store.count(JobQuery(kind="embed"))
    pages = finish(crawler, start(crawler, [f"{site.url}/index.html"], depth=1))
    second = site.hits[before:]
    html_pages = [hit for hit in second if hit.path in ("/index.html", "/a.html", "/b.html")]
    assert {hit.path for hit in html_pages} == {"/index.html", "/a.html", "/b.html"}
    assert all(hit.status == 304 and hit.body_bytes == 0 for hit in html_pages)
    assert {pages[p]["status"] for p in ("index.html", "a.html", "b.html")} == {"not_modified"}
    assert crawler.store.count(JobQuery(kind="embed")) == embeds  # nothing re-embedded


def test_crawl_delay_is_observed_between_requests(crawler: SluiceEnv) -> None:
    with FixtureSite(crawl_delay=1) as site:
        finish(crawler, start(crawler, [f"{site.url}/index.html"], depth=1, max_pages=4))
        moments = sorted(hit.at for hit in site.hits)
    assert len(moments) >= 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(moments)]
    assert min(gaps) >= 0.9, gaps


def test_a_link_to_a_private_address_is_refused_when_not_allow_listed(
    crawler: SluiceEnv, site: FixtureSite
) -> None:
    # Scope "any" follows the link to 10.1.2.3; only the loopback fixture is allow-listed.
    pages = finish(crawler, start(crawler, [f"{site.url}/index.html"], depth=1, scope="any"))
    [intranet] = [page for url, page in pages.items() if "internal.html" in url]
    assert intranet["status"] == "refused_address"
    assert "10.1.2.3" in intranet["detail"] and "private" in intranet["detail"]


def test_without_the_allow_list_the_loopback_site_is_refused_before_any_request(
    crawler: SluiceEnv, site: FixtureSite
) -> None:
    from libs.token_bucket import TokenBucket
    from libs.web.ssrf import guarded_client
    from producers.crawl.fetch import DOMAIN_BUCKETS, Fetcher, FetchLimits, PageStatus

    settings = crawler.settings
    client = guarded_client([], timeout=5, user_agent="test")
    limiter = TokenBucket(broker_redis(settings), DOMAIN_BUCKETS)
    limits = FetchLimits(max_bytes=10**6, max_redirects=3, content_types=frozenset({"text/html"}),
                         rate=100, burst=10, max_token_wait=1, user_agent="test")
    fetcher = Fetcher(client, limiter, limits, robots_ttl=60)
    fetched = fetcher.fetch(f"{site.url}/index.html", None, lambda url: True)
    assert fetched.status is PageStatus.REFUSED_ADDRESS
    assert "loopback" in (fetched.detail or "")
    assert site.hits == []
    client.close()


@pytest.mark.slow
def test_the_cli_crawls_and_summarises(crawler: SluiceEnv, site: FixtureSite) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "cli", "crawl", f"{site.url}/index.html", "--depth", "1",
         "--max-pages", "5", "--timeout", "60"],
        env=crawler.env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "stored" in done.stdout
    crawl_id = re.search(r"crawl (\w+) started", done.stdout).group(1)  # type: ignore[union-attr]
    assert crawl_summary(crawler.store, crawl_id)["jobs"] == 5  # --max-pages
