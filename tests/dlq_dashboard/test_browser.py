"""The dashboard in a real browser: Playwright driving Debian's Chromium against uvicorn.

One browser and one server for the module; every test opens its own contexts (separate
cookie jars, like separate people). Screenshots of the queue and item views go under
``$SLUICE_TEST_OUTPUT/dlq_dashboard`` (default ``test-output/`` in the repository root).
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from pydantic import BaseModel, EmailStr, Field

from cli.embedded_redis import EmbeddedRedis
from dlq_dashboard.app import create_app
from libs.dead_letter import claims
from schemas.job import JobStatus, utcnow
from schemas.registry import register
from tests.conftest import REPO_ROOT, SluiceEnv, make_env
from tests.dlq_dashboard.conftest import PASSWORD, attempt, dead_job, with_users
from tests.support.polling import wait_for

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="Debian's chromium is not installed (apt-get install chromium)",
)


def output_dir() -> Path:
    base = Path(os.environ.get("SLUICE_TEST_OUTPUT") or REPO_ROOT / "test-output")
    path = base / "dlq_dashboard"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Live:
    env: SluiceEnv
    url: str
    browser: Any

    def page(self, user: str) -> Any:
        """A new context (its own cookies) signed in as ``user``, on the queue page."""
        context = self.browser.new_context(viewport={"width": 1500, "height": 950})
        context.set_default_timeout(15_000)
        page = context.new_page()
        page.goto(f"{self.url}/login")
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.url}/")
        return page


@pytest.fixture(scope="module")
def live(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory, users_db: Path
) -> Iterator[Live]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    tmp = tmp_path_factory.mktemp("dashboard-browser")
    env = make_env(tmp, redis_server.url, sinks="jsonl", sink_jsonl_path=str(tmp / "sink.jsonl"),
                   dashboard_renew_seconds=2)
    with_users(env.settings, users_db)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(env.settings, store=env.store), host="127.0.0.1", port=port,
                       log_config=None, lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20, what="the dashboard server to start")
    playwright = playwright_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield Live(env, f"http://127.0.0.1:{port}", browser)
    finally:
        browser.close()
        playwright.stop()
        server.should_exit = True
        thread.join(10)
        for worker in env.workers:
            worker.stop()
        env.store.close()


def tagged(live: Live, **kwargs: Any) -> tuple[str, Any]:
    """A dead job whose sender is unique, so a test can filter the queue down to its own."""
    sender = f"{uuid.uuid4().hex[:8]}@example.com"
    job_input = {"schema": "support_ticket", "email": kwargs.pop("email", None) or
                 _email(sender), "source": kwargs.pop("source", "email:support"),
                 "sender": sender}
    return sender, dead_job(live.env.store, input=job_input, **kwargs)


def _email(sender: str) -> str:
    from tests.dlq_dashboard.conftest import SOURCE_EMAIL

    return SOURCE_EMAIL.replace("jane@example.com", sender)


def sink_lines(live: Live, job_id: str) -> list[str]:
    path = live.env.settings.sink_jsonl_path
    assert path is not None
    if not path.exists():
        return []
    return [line for line in path.read_text().splitlines() if f'"job_id":"{job_id}"' in line]


def test_sign_in_claim_fix_a_field_and_resolve_reaches_the_sink_once(live: Live) -> None:
    worker = live.env.worker(queues="io")
    sender, job = tagged(live)
    dead_job(live.env.store, age=timedelta(hours=30))  # an old one, for the screenshot
    page = live.page("alice")
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    page.screenshot(path=str(output_dir() / "queue.png"), full_page=True)
    page.goto(f"{live.url}/?sender={sender}")
    page.click(f"#row-{job.id} a")
    page.click("#claim-button")
    page.wait_for_selector("text=You hold this item")
    # the failing field is marked and has the focus
    assert page.evaluate("document.activeElement.id") == "f-order_id"
    assert page.get_attribute("#f-order_id", "aria-invalid") == "true"
    page.screenshot(path=str(output_dir() / "item.png"), full_page=True)
    page.fill("#f-order_id", "55211")
    page.click("#resolve-button")
    page.wait_for_url("**flash=resolved**")
    assert live.env.store.get(job.id).status is JobStatus.RESOLVED
    wait_for(lambda: sink_lines(live, job.id), timeout=30, what="the record in the JSONL sink")
    delivery_id = live.env.store.get(job.id).sink_deliveries["jsonl"].delivery_job
    wait_for(lambda: live.env.store.get(delivery_id).status is JobStatus.SUCCEEDED,
             timeout=30, what="the sink delivery to finish")
    # saving the same page again is refused and sends nothing more
    page.go_back()
    page.wait_for_load_state()
    assert len(sink_lines(live, job.id)) == 1
    assert '"order_id":"55211"' in sink_lines(live, job.id)[0]
    # nothing of ours trips the Content-Security-Policy (no inline script or style)
    assert not [text for text in console if "Content Security Policy" in text], console
    worker.stop()


def test_two_reviewers_race_for_one_item_and_one_gets_a_clear_refusal(live: Live) -> None:
    _, job = tagged(live)
    alice, bob = live.page("alice"), live.page("bob")
    for page in (alice, bob):
        page.goto(f"{live.url}/items/{job.id}")
    alice.click("#claim-button", no_wait_after=True)
    bob.click("#claim-button", no_wait_after=True)
    for page in (alice, bob):
        page.wait_for_selector("#claim-holder, .claim.mine")
    winner = live.env.store.get(job.id).claimed_by
    assert winner in ("alice", "bob")
    loser = bob if winner == "alice" else alice
    refusal = loser.inner_text("#action-message")
    assert f"Not claimed: {winner} has claimed this item since" in refusal
    assert loser.inner_text("#claim-holder").startswith(f"Claimed by {winner} since")
    (alice if winner == "alice" else bob).wait_for_selector("text=You hold this item")


def test_an_expired_lease_can_be_taken_in_the_browser(live: Live) -> None:
    _, job = tagged(live)
    claims.claim(live.env.store, job.id, "alice", lease=timedelta(minutes=15))
    live.env.store.update_fields(job.id, claim_expires_at=utcnow() - timedelta(seconds=5))
    page = live.page("bob")
    page.goto(f"{live.url}/items/{job.id}")
    assert "lease expired" in page.inner_text("#claim-holder")
    page.click("#claim-button")
    page.wait_for_selector("text=You hold this item")
    taken = live.env.store.get(job.id)
    assert taken.claimed_by == "bob" and taken.claim_expires_at is not None
    # the open page renews the lease, and keeps the version its forms carry current
    renewed = wait_for(
        lambda: (job_now := live.env.store.get(job.id)).claim_expires_at > taken.claim_expires_at
        and job_now, timeout=15, what="the open page to renew the lease")
    wait_for(lambda: page.input_value("#v-resolve") == str(renewed.version)
             or int(page.input_value("#v-resolve")) > renewed.version, timeout=5,
             what="the form's version to follow the renewal")


def test_keyboard_only_resolve(live: Live) -> None:
    sender, job = tagged(live)
    page = live.page("alice")
    page.goto(f"{live.url}/?sender={sender}")
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/items/{job.id}**")
    page.keyboard.press("c")
    page.wait_for_selector("text=You hold this item")
    assert page.evaluate("document.activeElement.id") == "f-order_id"
    page.keyboard.press("j")  # typing into a field: shortcuts stay quiet
    assert page.input_value("#f-order_id") == "j"  # the failing value was selected
    assert f"/items/{job.id}" in page.url
    page.keyboard.press("Control+a")
    page.keyboard.type("55211")
    page.keyboard.press("Control+Enter")
    page.wait_for_url("**flash=resolved**")
    resolved = live.env.store.get(job.id)
    assert resolved.status is JobStatus.RESOLVED and resolved.result["order_id"] == "55211"


def test_script_and_onerror_payloads_in_an_email_execute_nothing(live: Live) -> None:
    hostile = (
        "From: Mallory <mallory@evil.example>\nSubject: Order 55211\n"
        "Content-Type: text/html; charset=utf-8\n\n"
        "<p>Please refund order 55211</p>"
        "<script>alert('script ran'); window.top.document.title='pwned';"
        " fetch('/beacon-script')</script>"
        "<img src=\"/beacon-img\" onerror=\"alert('onerror ran'); window.top.pwned = 1\">"
        "<svg onload=\"alert('svg ran')\"></svg>"
        "<a href=\"javascript:alert('link ran')\" id=evil>click me</a>"
        "<iframe src=\"/beacon-frame\"></iframe>"
    )
    _, job = tagged(live, email=hostile)
    page = live.page("alice")
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live.url}/items/{job.id}")
    frame = page.frame_locator("#source-frame")
    assert frame.locator("p").first.inner_text() == "Please refund order 55211"
    frame.locator("text=click me").click()
    page.wait_for_load_state("networkidle")
    assert dialogs == []
    assert page.title() != "pwned"
    assert page.evaluate("window.pwned === undefined")
    assert not [url for url in requests if "beacon" in url]
    source_frame = page.frame_locator("#source-frame").locator("body")
    assert "script" not in source_frame.inner_html().lower()


class Line(BaseModel):
    sku: str = Field(min_length=1)
    quantity: int = Field(ge=1)


class Customer(BaseModel):
    email: EmailStr


class Order(BaseModel):
    """A schema with a nested model and a list, registered only for these tests."""

    customer: Customer
    lines: list[Line]
    placed: date


def test_a_generated_form_edits_nested_fields_and_adds_and_removes_list_rows(
    live: Live,
) -> None:
    register(Order, name="test_order", version=1)
    raw = ('{"customer": {"email": "a@b.example"}, "lines": [{"sku": "K-1", "quantity": "two"},'
           ' {"sku": "", "quantity": 1}], "placed": "2025-01-02"}')
    errors = [
        {"loc": ["lines", 0, "quantity"], "type": "int_parsing", "msg": "Input should be a "
         "valid integer", "input": "two"},
        {"loc": ["lines", 1, "sku"], "type": "string_too_short", "msg": "too short",
         "input": ""},
    ]
    job = dead_job(live.env.store, attempts=[attempt(1, raw, errors)], schema_name="test_order",
                   input={"schema": "test_order", "text": "two kettles K-1, please"})
    page = live.page("alice")
    page.goto(f"{live.url}/items/{job.id}")
    page.click("#claim-button")
    page.wait_for_selector("text=You hold this item")
    assert page.evaluate("document.activeElement.name") == "lines.0.quantity"
    assert page.input_value("[name='customer.email']") == "a@b.example"
    page.keyboard.type("2")
    page.locator("fieldset.list .list-row").nth(1).locator("[data-remove-row]").click()
    page.click("fieldset.list [data-add-row]")
    assert page.evaluate("document.activeElement.name") == "lines.1.sku"
    page.keyboard.type("K-7")
    page.fill("[name='lines.1.quantity']", "3")
    page.click("#resolve-button")
    page.wait_for_url("**flash=resolved**")
    result = live.env.store.get(job.id).result
    assert result["lines"] == [{"sku": "K-1", "quantity": 2}, {"sku": "K-7", "quantity": 3}]
    assert result["customer"] == {"email": "a@b.example"}


def test_bulk_discard_asks_for_confirmation_first(live: Live) -> None:
    source = f"crawl-{uuid.uuid4().hex[:6]}"
    jobs = [tagged(live, source=source)[1] for _ in range(3)]
    page = live.page("ada")
    # the filter form narrows the queue through htmx and keeps the URL in step
    page.evaluate("window.samePage = true")
    page.fill(".filters input[name=source]", source)
    page.press(".filters input[name=source]", "Enter")
    page.wait_for_url(f"**source={source}**")
    wait_for(lambda: page.inner_text("#total") == "3", timeout=10, what="the filtered count")
    assert page.evaluate("window.samePage === true")  # swapped in place, not reloaded
    page.reload()
    page.select_option("#bulk-reason", "spam or marketing")
    page.click("#bulk-discard")
    page.wait_for_selector("#bulk-confirm")
    assert page.inner_text("h1") == "Discard 3 items?"
    assert all(live.env.store.get(j.id).status is JobStatus.DEAD for j in jobs)
    page.click("#confirm-bulk")
    page.wait_for_url("**flash=bulk**")
    assert all(live.env.store.get(j.id).status is JobStatus.DISCARDED for j in jobs)
    assert page.inner_text("#total") == "0"


def test_the_gates_evidence_is_highlighted_and_its_source_runs_nothing(live: Live) -> None:
    from schemas.job import DeadReason
    from tests.dlq_dashboard.verdicts import GATE_VERDICT, gate_unavailable

    if gate_unavailable():
        pytest.skip(gate_unavailable())
    _, job = tagged(live, reason=DeadReason("unverified"), acceptance=GATE_VERDICT,
                    attempts=[attempt(1, '{"record": {}}', [])])
    page = live.page("alice")
    dialogs: list[str] = []
    console: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.on("console", lambda message: console.append(message.text))
    page.goto(f"{live.url}/items/{job.id}")
    rejected = page.locator("#gate-source mark.src-quoted.evidence-failed")
    assert rejected.inner_text() == "order 55210"
    assert "quoted reply" in (rejected.get_attribute("title") or "")
    # The stylesheet (not inline style, which the CSP forbids) colours the marks and regions.
    colour = "(element) => getComputedStyle(element).backgroundColor"
    assert rejected.evaluate(colour) not in ("rgba(0, 0, 0, 0)", "transparent")
    suspect = page.locator("#gate-source .src-suspect").first
    assert suspect.evaluate(colour) not in ("rgba(0, 0, 0, 0)", "transparent")
    # The quoted reply's <script> is text on the page, never an element.
    assert "<script>alert(1)</script>" in page.inner_text("#gate-source")
    assert page.locator("#gate-source script").count() == 0
    assert dialogs == []
    assert page.locator("#failed-checks tr").count() == 4  # a header row and three checks
    page.screenshot(path=str(output_dir() / "item-unverified.png"), full_page=True)
    assert not [text for text in console if "Content Security Policy" in text], console
