"""The Ask page in Chromium: upload a PDF, ask, watch the answer stream with citations that
open the cited chunk (file and page), across a connection the network drops mid-answer.

Real parts throughout: uvicorn serving the dashboard behind a TCP proxy that cuts the first
answer stream after a few tokens, a worker that embeds, retrieves and generates, and a
scripted OpenAI-protocol server streaming the answer token by token.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from cli.embedded_redis import EmbeddedRedis
from dlq_dashboard.app import create_app
from tests.dlq_dashboard.conftest import PASSWORD, with_users
from tests.dlq_dashboard.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port, output_dir
from tests.support import files
from tests.support.dropping_proxy import DroppingProxy
from tests.support.polling import wait_for
from tests.support.rag_env import RagEnv, rag_env
from tests.support.scripted_llm import Reply, ScriptedLLM

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed "
                       "(apt-get install chromium)"),
]
MANUAL = ["Kettle manual\nFill the kettle with fresh water only.",
          "Descaling\nRemove limescale with citric acid once a month.",
          "Warranty\nThe warranty lasts two years from the date of purchase."]
ANSWER = "Descale it with citric acid once a month [1]."


@dataclass
class Stack:
    rag: RagEnv
    llm: ScriptedLLM
    proxy: DroppingProxy
    browser: Any

    def page(self, user: str) -> Any:
        context = self.browser.new_context(viewport={"width": 1300, "height": 900})
        context.set_default_timeout(60_000)
        page = context.new_page()
        page.goto(f"{self.proxy.url}/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.proxy.url}/")
        return page


@pytest.fixture(scope="module")
def stack(redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory,
          users_db: Path) -> Iterator[Stack]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    with ScriptedLLM() as llm, rag_env(
        tmp_path_factory.mktemp("ask-page"), redis_server.url,
        llm_base_url=llm.url, llm_model="scripted-model", llm_timeout_seconds=10,
    ) as rag:
        with_users(rag.sluice.settings, users_db)
        port = free_port()
        server = uvicorn.Server(uvicorn.Config(
            create_app(rag.sluice.settings, store=rag.sluice.store), host="127.0.0.1",
            port=port, log_config=None, lifespan="off"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        wait_for(lambda: server.started, timeout=20, what="the dashboard server to start")
        playwright = playwright_api.sync_playwright().start()
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            with DroppingProxy(port, marker=b"event: token", after=3) as proxy:
                yield Stack(rag, llm, proxy, browser)
        finally:
            browser.close()
            playwright.stop()
            server.should_exit = True
            thread.join(10)


def test_upload_ask_and_the_answer_survives_a_dropped_connection(
    stack: Stack, tmp_path: Path
) -> None:
    manual = tmp_path / "manual.pdf"
    manual.write_bytes(files.pdf_with_text(MANUAL))
    stack.llm.enqueue(Reply(content=ANSWER, token_delay=0.15))
    page = stack.page("vera")  # a viewer may ask
    page.click("nav a[href='/ask']")
    page.wait_for_url(f"{stack.proxy.url}/ask")

    page.set_input_files("#ask-file", str(manual))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#upload-form[data-ready]", timeout=240_000)
    assert page.input_value("#ask-source").startswith("upload:")
    page.fill("#ask-question", "How do I remove limescale?")
    page.click("#ask-submit")
    page.wait_for_selector("#answer[data-state=done]", timeout=120_000)

    assert stack.proxy.dropped == 1, "the proxy cut the first answer stream"
    resumed = [head for head in stack.proxy.requests
               if "/stream" in head.split("\r\n")[0] and "last-event-id" in head.lower()]
    assert resumed, "the EventSource came back with Last-Event-ID"
    # Nothing missed, nothing twice: the page holds the answer exactly once.
    assert page.inner_text("#answer-text") == ANSWER
    assert page.inner_text("#answer-sources li:first-child") == "manual.pdf, page 2"
    page.click("#answer-text [data-cite='1']")
    assert page.inner_text("#chunk-title") == "[1] manual.pdf, page 2"
    assert "citric acid" in page.inner_text("#chunk-text")
    page.screenshot(path=str(output_dir() / "ask.png"), full_page=True)
    prompt = stack.llm.requests[-1]["messages"][0]["content"]
    assert "citric acid" in prompt


def test_the_ask_page_refuses_a_file_it_cannot_read(stack: Stack, tmp_path: Path) -> None:
    image = tmp_path / "photo.pdf"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 256)
    page = stack.page("vera")
    page.goto(f"{stack.proxy.url}/ask")

    page.set_input_files("#ask-file", str(image))
    page.click("#upload-form button[type=submit]")

    # Polled from here: a string predicate would be evaluated in the page, which its CSP
    # (no 'unsafe-eval') refuses.
    wait_for(lambda: "image/png" in (page.text_content("#upload-status") or ""),
             timeout=30, what="the upload's refusal")
    assert "Refused" in page.inner_text("#upload-status")
