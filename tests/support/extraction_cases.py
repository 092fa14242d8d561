"""Shared pieces of the extraction tests: documents, records, a Sluice wired to a ScriptedLLM."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from schemas.job import SETTLED, Job
from sluice.enqueue import submit
from tests.conftest import SluiceEnv, make_env
from tests.support.polling import wait_for
from tests.support.scripted_llm import Reply, ScriptedLLM

TICKET_TEXT = (
    "Hi, this is Maria Lopez (maria.lopez@example.com). My order 48213 placed on "
    "2025-03-02 arrived with a cracked screen. Please help."
)
VALID_TICKET = {
    "customer_email": "maria.lopez@example.com",
    "order_id": "48213",
    "issue_type": "product_defect",
    "order_date": "2025-03-02",
    "customer_name": "Maria Lopez",
}


def ticket(**changes: Any) -> str:
    return json.dumps({**VALID_TICKET, **changes})


def valid_reply() -> Reply:
    return Reply(content=ticket(), prompt_tokens=100, completion_tokens=40)


def extraction_settings(llm: ScriptedLLM, **overrides: Any) -> dict[str, Any]:
    """Schema-only acceptance unless overridden: these tests are about the correction loop,
    the ledger and the budgets; tests/workers/test_extraction_acceptance.py covers the gate."""
    return {
        "llm_base_url": llm.url,
        "llm_structured_mode": "json_object_schema",
        "llm_timeout_seconds": 2,
        "sinks": "records",
        "acceptance": "schema-only",
        **overrides,
    }


VALID_EVIDENCE = {
    "customer_email": "maria.lopez@example.com",
    "order_id": "My order 48213",
    "order_date": "placed on 2025-03-02",
    "customer_name": "this is Maria Lopez",
}


def envelope(record: dict[str, Any] | None = None, **quotes: str) -> str:
    """A verified-mode answer: the record and a verbatim quote per field."""
    return json.dumps({"record": record or VALID_TICKET, "evidence": {**VALID_EVIDENCE, **quotes}})


def verified_reply(record: dict[str, Any] | None = None, **quotes: str) -> Reply:
    return Reply(content=envelope(record, **quotes), prompt_tokens=100, completion_tokens=40)


@contextmanager
def extraction_env(
    base: SluiceEnv, llm: ScriptedLLM, **overrides: Any
) -> Iterator[SluiceEnv]:
    """``base``'s Redis, its own data dir, and the LLM settings pointing at ``llm``."""
    settings = extraction_settings(llm, **overrides)
    env = make_env(base.tmp / "x", base.settings.broker_url or "", **settings)
    try:
        yield env
    finally:
        for worker in env.workers:
            worker.stop()
        env.store.close()


def submit_extract(env: SluiceEnv, **input: Any) -> Job:
    body = {"schema": "support_ticket", "text": TICKET_TEXT, **input}
    job, _ = submit("extract", body, store=env.store, celery=env.celery, settings=env.settings)
    return job


def settled(env: SluiceEnv, job_id: str, timeout: float = 30.0) -> Job:
    def probe() -> Job | None:
        job = env.store.get(job_id)
        return job if job.status in SETTLED else None

    return wait_for(probe, timeout=timeout, what=f"job {job_id} to settle")
