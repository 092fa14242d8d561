"""Sinks: records collection, JSONL file and webhook, each delivered exactly once."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from libs.dead_letter import actions as dead_letter
from libs.sinks.jsonl import append_record
from libs.sinks.push import DELIVER_KIND
from libs.sinks.records import open_records
from schemas.job import JobStatus
from sluice.stores import JobQuery
from tests.conftest import SluiceEnv
from tests.support.extraction_cases import (
    VALID_TICKET,
    extraction_env,
    settled,
    submit_extract,
    valid_reply,
)
from tests.support.http_server import QuietHTTPServer
from tests.support.polling import wait_for
from tests.support.scripted_llm import ScriptedLLM


class Receiver:
    """A webhook endpoint that answers 503 while ``down`` and keeps what it accepted."""

    def __init__(self) -> None:
        self.down = True
        self.refused = 0
        self.accepted: list[tuple[str | None, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if receiver.down:
                    receiver.refused += 1
                    self.send_response(503)
                else:
                    key = self.headers.get("Idempotency-Key")
                    if all(known != key for known, _ in receiver.accepted):
                        receiver.accepted.append((key, body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()


@pytest.fixture
def llm() -> Iterator[ScriptedLLM]:
    with ScriptedLLM() as server:
        yield server


def test_a_webhook_that_is_down_then_up_gets_the_record_exactly_once(
    sluice_env: SluiceEnv, llm: ScriptedLLM, receiver: Receiver
) -> None:
    jsonl = sluice_env.tmp / "records.jsonl"
    with extraction_env(sluice_env, llm, sinks="records,jsonl,webhook",
                        sink_webhook_url=receiver.url, sink_jsonl_path=str(jsonl),
                        max_retries=1, sink_max_retries=20) as env:
        env.worker(queues="gpu,io", concurrency=2)
        llm.enqueue(valid_reply())
        job = settled(env, submit_extract(env).id)
        assert job.status is JobStatus.SUCCEEDED

        def retrying() -> bool:
            entry = env.store.get(job.id).sink_deliveries.get("webhook")
            return entry is not None and entry.status == "retrying" and entry.attempts >= 2

        wait_for(retrying, timeout=20, what="the webhook delivery to be retrying")
        assert "HTTP 503" in (env.store.get(job.id).sink_deliveries["webhook"].last_error or "")
        receiver.down = False

        def delivered() -> dict[str, Any] | None:
            entries = env.store.get(job.id).sink_deliveries
            done = all(s in entries and entries[s].status == "delivered"
                       for s in ("records", "jsonl", "webhook"))
            return entries if done else None

        entries = wait_for(delivered, timeout=30, what="all three sinks delivered")
        assert entries["webhook"].attempts >= 3
        assert receiver.refused >= 2
        [(key, body)] = receiver.accepted
        assert key == job.id
        assert body["record"] == VALID_TICKET and body["schema"] == "support_ticket"
        lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
        assert [(line["job_id"], line["record"]) for line in lines] == [(job.id, VALID_TICKET)]
        assert open_records(env.settings).get(job.id)["record"] == VALID_TICKET  # type: ignore[index]


def test_a_sink_down_past_the_retry_limit_leaves_the_record_in_the_dlq(
    sluice_env: SluiceEnv, llm: ScriptedLLM, receiver: Receiver
) -> None:
    # The sink's own limit applies, not the kernel's.
    with extraction_env(sluice_env, llm, sinks="webhook", sink_webhook_url=receiver.url,
                        max_retries=20, sink_max_retries=1) as env:
        env.worker(queues="gpu,io", concurrency=2)
        llm.enqueue(valid_reply())
        job = settled(env, submit_extract(env).id)

        def dead_delivery() -> Any:
            page = env.store.list_jobs(JobQuery(kind=DELIVER_KIND, statuses=(JobStatus.DEAD,)))
            return page.items[0] if page.items else None

        delivery = wait_for(dead_delivery, timeout=20, what="the delivery to give up")
        assert delivery.input["record"] == VALID_TICKET
        assert delivery.error_signature == "sink.webhook:unavailable"
        assert env.store.get(job.id).sink_deliveries["webhook"].status == "failed"
        receiver.down = False
        dead_letter.requeue(env.store, env.celery, env.settings, delivery.id, by="ops")
        wait_for(lambda: receiver.accepted, timeout=20, what="the requeued delivery")
        wait_for(lambda: env.store.get(job.id).sink_deliveries["webhook"].status
                 == "delivered", timeout=20, what="the source job to show it delivered")
        assert [key for key, _ in receiver.accepted] == [job.id]


def test_the_jsonl_sink_skips_a_line_written_by_an_earlier_delivery(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    assert append_record(path, "job-1", "support_ticket", 1, VALID_TICKET, check_existing=False)
    assert not append_record(path, "job-1", "support_ticket", 1, VALID_TICKET,
                             check_existing=True)
    assert append_record(path, "job-2", "support_ticket", 1, VALID_TICKET, check_existing=True)
    assert [json.loads(line)["job_id"] for line in path.read_text().splitlines()] == [
        "job-1", "job-2"]


def test_the_records_collection_keeps_one_record_per_job(sluice_env: SluiceEnv) -> None:
    records = open_records(sluice_env.settings)
    assert records.put("job-1", "support_ticket", 1, VALID_TICKET)
    assert not records.put("job-1", "support_ticket", 1, {**VALID_TICKET, "order_id": "00000"})
    assert records.get("job-1")["record"] == VALID_TICKET  # type: ignore[index]
    assert records.count() == 1
