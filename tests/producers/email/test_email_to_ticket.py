"""An email all the way to a validated ticket: intake, a real extraction worker, a scripted
OpenAI-protocol server. Shows the job input the email producer writes is the one the
extraction worker reads, and that the quoted thread never reaches the model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from libs.documents.warehouse import open_documents
from producers.email.intake import EmailIntake, IntakeStatus
from schemas.job import JobStatus
from tests.conftest import SluiceEnv
from tests.support.extraction_cases import (
    VALID_TICKET,
    extraction_env,
    settled,
    valid_reply,
    verified_reply,
)
from tests.support.scripted_llm import ScriptedLLM

MAIL = b"""From: Maria Lopez <maria.lopez@example.com>
To: support@shop.example
Subject: Cracked screen, order 48213
Date: Mon, 10 Mar 2025 09:00:00 +0000
Message-ID: <maria-48213@example.com>
Content-Type: text/plain; charset=utf-8

Hi, this is Maria Lopez (maria.lopez@example.com). My order 48213 placed on
2025-03-02 arrived with a cracked screen. Please help.

--
Maria

On Sun, 9 Mar 2025 at 12:00, Shop <support@shop.example> wrote:
> Your earlier order 99999 was refunded.
"""


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


@pytest.mark.slow
def test_an_ingested_email_becomes_a_validated_ticket_without_its_quoted_thread(
    sluice_env: SluiceEnv, llm: ScriptedLLM
) -> None:
    with extraction_env(sluice_env, llm) as env:
        env.worker(queues="gpu,io", concurrency=2)
        intake = EmailIntake(settings=env.settings, store=env.store, celery=env.celery,
                             documents=open_documents(env.settings))
        llm.enqueue(valid_reply())
        outcome = intake.ingest(MAIL, schema="support_ticket")
        assert outcome.status is IntakeStatus.QUEUED
        job = settled(env, outcome.job_id)
        assert job.status is JobStatus.SUCCEEDED, (job.error, job.attempts)
        assert job.result == VALID_TICKET
        prompt = "\n".join(str(m.get("content")) for m in llm.requests[0]["messages"])
        assert "48213" in prompt and "99999" not in prompt


@pytest.mark.slow
def test_an_ingested_email_is_verified_against_its_headers_and_own_words(
    sluice_env: SluiceEnv, llm: ScriptedLLM
) -> None:
    with extraction_env(sluice_env, llm, acceptance="verified") as env:
        env.worker(queues="gpu,io", concurrency=2)
        intake = EmailIntake(settings=env.settings, store=env.store, celery=env.celery,
                             documents=open_documents(env.settings))
        answer = verified_reply(customer_email="From: maria.lopez@example.com")
        llm.enqueue(answer, answer, answer)
        outcome = intake.ingest(MAIL, schema="support_ticket")
        job = settled(env, outcome.job_id)
        assert job.status is JobStatus.SUCCEEDED, (job.error, job.acceptance)
        assert job.result == VALID_TICKET
        document = llm.requests[0]["messages"][-1]["content"]
        assert document.startswith("<document>\nFrom: maria.lopez@example.com\n"
                                   "Subject: Cracked screen, order 48213\nDate: 2025-03-10\n")
        assert "99999" not in document
