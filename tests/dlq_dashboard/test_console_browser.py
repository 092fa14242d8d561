"""The jobs console in Chromium: a job followed live, the filters, actions by role.

Same server and browser set-up as the DLQ pages (``test_browser.py``'s ``live`` fixture: a
real uvicorn, Playwright on Debian's Chromium). Screenshots of the overview and of the job
page go under ``$SLUICE_TEST_OUTPUT/dlq_dashboard`` (default ``test-output/``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from schemas.job import Job, JobStatus, SinkDelivery, SinkDeliveryStatus, TraceStep, utcnow
from sluice.enqueue import submit
from tests.dlq_dashboard.conftest import dead_job
from tests.dlq_dashboard.test_browser import CHROMIUM, Live, live, output_dir
from tests.support.polling import wait_for

__all__ = ["live"]  # the fixture, shared with the DLQ pages' browser tests

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian's chromium is not installed (apt-get install chromium)"),
]


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def stored(live: Live, **fields: Any) -> Job:
    job = Job.model_validate({"kind": "echo", "task_id": uuid.uuid4().hex,
                              "input": {"message": "hi"}, **fields})
    created, _ = live.env.store.create(job)
    return created


def csp_violations(page: Any) -> list[str]:
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    return messages


def test_a_job_moves_live_from_queued_to_succeeded_on_its_page(live: Live, tmp_path: Path) -> None:
    release = tmp_path / "release"
    job, _ = submit("test.block", {"release": str(release),
                                   "completions": str(tmp_path / "completions")},
                    store=live.env.store, celery=live.env.celery, settings=live.env.settings)
    page = live.page("vera")
    console = csp_violations(page)
    page.goto(f"{live.url}/jobs/{job.id}")
    expect(page.locator("#job-status")).to_have_text("queued")
    # No reload from here on: each change arrives through the job's event stream.
    page.evaluate("window.__samePage = true")
    worker = live.env.worker(queues="cpu")
    expect(page.locator("#job-status")).to_have_text("running", timeout=60_000)
    release.touch()
    expect(page.locator("#job-status")).to_have_text("succeeded", timeout=30_000)
    assert page.evaluate("window.__samePage") is True
    assert live.env.store.get(job.id).status is JobStatus.SUCCEEDED
    expect(page.locator(".moments")).to_contain_text("finished")
    expect(page.locator("#job-result")).to_contain_text("completed_on_delivery")
    page.screenshot(path=str(output_dir() / "job.png"), full_page=True)
    assert not [text for text in console if "Content Security Policy" in text], console
    worker.stop()


def test_filters_narrow_the_list_and_the_counts(live: Live) -> None:
    source = f"crawl:{uuid.uuid4().hex[:8]}"
    done = [stored(live, status=JobStatus.SUCCEEDED, input={"source": source}) for _ in range(2)]
    waiting = stored(live, input={"source": source})
    stored(live, status=JobStatus.SUCCEEDED, input={"source": "elsewhere"})
    page = live.page("vera")
    page.goto(f"{live.url}/jobs")
    page.fill("#jobs-filters input[name=source]", source)
    page.press("#jobs-filters input[name=source]", "Enter")
    expect(page.locator("tr.job-row")).to_have_count(3)
    expect(page.locator("#count-succeeded")).to_have_text("2")
    expect(page.locator("#count-queued")).to_have_text("1")
    page.select_option("#jobs-filters select[name=status]", "succeeded")
    expect(page.locator("tr.job-row")).to_have_count(2)
    shown = {row.get_attribute("id") for row in page.locator("tr.job-row").all()}
    assert shown == {f"job-row-{job.id}" for job in done}
    # The counts keep following the store while the page stays open.
    stored(live, status=JobStatus.SUCCEEDED, input={"source": source})
    expect(page.locator("#count-succeeded")).to_have_text("3", timeout=15_000)
    page.fill("#jobs-filters input[name=q]", waiting.id)
    page.select_option("#jobs-filters select[name=status]", "")
    page.press("#jobs-filters input[name=q]", "Enter")
    expect(page.locator("tr.job-row")).to_have_count(1)
    page.click(f"#job-row-{waiting.id} a")
    page.wait_for_url(f"**/jobs/{waiting.id}")


def test_a_viewer_cannot_cancel_but_a_reviewer_and_an_admin_can(live: Live) -> None:
    first, second = stored(live), stored(live)
    viewer = live.page("vera")
    viewer.goto(f"{live.url}/jobs/{first.id}")
    expect(viewer.locator("#viewer-note")).to_be_visible()
    expect(viewer.locator("#cancel-job")).to_have_count(0)
    # A crafted post with the viewer's own session and token is refused on the server.
    status = viewer.evaluate(
        """async (id) => {
            const headers = JSON.parse(document.body.getAttribute("hx-headers"));
            const token = headers["X-CSRF-Token"];
            const body = new URLSearchParams({csrf_token: token});
            const response = await fetch(`/jobs/${id}/cancel`, {method: "POST", body});
            return response.status;
        }""",
        first.id,
    )
    assert status == 403
    assert live.env.store.get(first.id).status is JobStatus.QUEUED
    for user, job in (("alice", first), ("ada", second)):
        page = live.page(user)
        page.goto(f"{live.url}/jobs/{job.id}")
        page.click("#cancel-job")
        page.wait_for_url("**flash=cancelled**")
        expect(page.locator("#job-status")).to_have_text("cancelled")
        assert live.env.store.get(job.id).status is JobStatus.CANCELLED


def test_a_reviewer_reruns_an_ended_job_and_opens_a_dead_one_in_the_dlq_view(
    live: Live,
) -> None:
    done = stored(live, status=JobStatus.CANCELLED)
    dead = dead_job(live.env.store, age=timedelta(minutes=5))
    page = live.page("alice")
    page.goto(f"{live.url}/jobs/{done.id}")
    page.click("#rerun-job")
    page.wait_for_url("**flash=rerun**")
    new_id = wait_for(lambda: live.env.store.get(done.id).redriven_to, timeout=10,
                      what="the re-run's link")
    assert f"/jobs/{new_id}" in page.url
    expect(page.locator("#redriven-from")).to_contain_text(done.id)
    page.goto(f"{live.url}/jobs/{dead.id}")
    page.click("#open-in-dlq")
    page.wait_for_url(f"**/items/{dead.id}")


def test_the_overview_shows_queues_the_last_hour_and_dlq_inflow(live: Live) -> None:
    stored(live, status=JobStatus.SUCCEEDED)
    dead_job(live.env.store, age=timedelta(minutes=2))
    stored(live, status=JobStatus.SUCCEEDED, created_at=utcnow() - timedelta(minutes=20))
    page = live.page("vera")
    console = csp_violations(page)
    page.goto(f"{live.url}/overview")
    expect(page.locator("#queue-cpu")).to_be_visible()
    expect(page.locator("#dlq-inflow")).to_contain_text("exhausted")
    expect(page.locator("#failure-rate")).to_contain_text("%")
    page.screenshot(path=str(output_dir() / "overview.png"), full_page=True)
    assert not [text for text in console if "Content Security Policy" in text], console


def test_a_finished_jobs_page_draws_its_trace_and_sink_deliveries(live: Live) -> None:
    start = utcnow() - timedelta(seconds=3)
    steps = [("retrieval_semantic", 0, 35), ("retrieval_bm25", 5, 20), ("fusion_rrf", 40, 2),
             ("reranking", 45, 180), ("llm_generation", 230, 1400)]
    job = stored(
        live, kind="ask", status=JobStatus.SUCCEEDED,
        input={"question": "Where is my refund for order 55211?", "api_key": "sk-not-shown"},
        trace=[TraceStep(name=name, started_at=start + timedelta(milliseconds=at),
                         duration_ms=took) for name, at, took in steps],
        sink_deliveries={"jsonl": SinkDelivery(status=SinkDeliveryStatus.DELIVERED, attempts=1,
                                               delivered_at=utcnow(), in_place=True)},
        result={"answer": "Refunds take 5 working days.", "sources": ["faq#refunds"]},
        started_at=start, finished_at=start + timedelta(milliseconds=1700),
    )
    page = live.page("alice")
    page.goto(f"{live.url}/jobs/{job.id}")
    expect(page.locator("#timeline tbody tr")).to_have_count(len(steps))
    expect(page.locator("#sink-deliveries")).to_contain_text("delivered")
    expect(page.locator("#job-input")).not_to_contain_text("sk-not-shown")
    expect(page.locator("#rerun-job")).to_be_visible()
    page.screenshot(path=str(output_dir() / "job-trace.png"), full_page=True)
