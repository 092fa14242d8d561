"""With ``SLUICE_CRAWL_PDF`` the crawler stores a PDF as a file (read later by its embed
job, page by page); without it the PDF stays skipped (tests/producers/crawl/test_crawl.py)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from cli.embedded_redis import EmbeddedRedis
from libs.documents.warehouse import ContentType, open_documents
from tests.producers.crawl.conftest import crawl_env
from tests.producers.crawl.site import SITE, FixtureSite
from tests.producers.crawl.test_crawl import finish, start

pytestmark = pytest.mark.slow


def test_a_crawled_pdf_is_stored_as_a_file_when_the_setting_allows(
    redis_server: EmbeddedRedis, tmp_path: Path, site: FixtureSite
) -> None:
    env = crawl_env(redis_server, tmp_path, crawl_pdf=True, files_max_bytes=64 * 1024)
    env.worker(queues="io", concurrency=2)
    try:
        pages = finish(env, start(env, [f"{site.url}/a.html", f"{site.url}/doc.pdf"],
                                  depth=0))
        documents = open_documents(env.settings)
        stored = documents.get_by_key("web", f"{site.url}/doc.pdf")
        documents.close()
    finally:
        for worker in env.workers:
            worker.stop()
        env.store.close()

    assert pages["doc.pdf"]["status"] == "stored", pages["doc.pdf"]
    assert stored.content_type is ContentType.PDF
    assert base64.b64decode(stored.content) == (SITE / "doc.pdf").read_bytes()
    assert stored.metadata["filename"] == "doc.pdf"
    assert stored.embed_job_id is not None  # its embed job reads it (and says why it cannot)
