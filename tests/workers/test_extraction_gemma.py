"""End to end against the real local Gemma 3 270M server (the local-llm extra)."""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cli import local_llm
from schemas.job import JobStatus
from sluice.settings import load_settings
from tests.conftest import SluiceEnv
from tests.support.extraction_cases import TICKET_TEXT, settled, submit_extract
from tests.support.polling import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not local_llm.available(),
        reason="llama-cpp-python is not installed: CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" "
        "pip install --no-cache-dir '.[local-llm]'",
    ),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def gemma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    directory = tmp_path_factory.mktemp("gemma")
    settings = load_settings(data_dir=str(directory))
    port = free_port()
    command = local_llm.server_command(settings, local_llm.ensure_model(settings), port=port)
    log = (directory / "server.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"

    def answers() -> bool:
        if server.poll() is not None:
            raise AssertionError(Path(directory / "server.log").read_text()[-3000:])
        try:
            return httpx.get(f"{url}/models", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(answers, timeout=120, interval=0.5, what="the Gemma server")
        yield url
    finally:
        server.terminate()
        server.wait(30)
        log.close()


def test_a_support_email_through_the_real_local_model(
    sluice_env: SluiceEnv, gemma_url: str
) -> None:
    from tests.conftest import make_env

    env = make_env(sluice_env.tmp / "gemma", sluice_env.settings.broker_url or "",
                   llm_base_url=gemma_url, llm_system_in_user=True, llm_timeout_seconds=120,
                   sinks="records")
    try:
        env.worker(queues="gpu,io", concurrency=1)
        job = settled(env, submit_extract(env, text=TICKET_TEXT).id, timeout=240)
    finally:
        for worker in env.workers:
            worker.stop()
        env.store.close()
    # The model is often wrong; that is what the loop and the DLQ are for. What must hold:
    # the probe found the grammar mode, every output is JSON, and nothing ungrounded passed.
    assert job.status in (JobStatus.SUCCEEDED, JobStatus.DEAD), job.error
    assert job.attempts, job.error
    for attempt in job.attempts:
        assert attempt.mode == "json_object_schema"
        assert attempt.prompt_tokens > 0 and attempt.completion_tokens > 0
        if attempt.outcome != "truncated":
            assert isinstance(json.loads(attempt.raw_text), dict)
    if job.status is JobStatus.SUCCEEDED:
        assert job.result["customer_email"].lower() in TICKET_TEXT.lower()
        assert job.result["order_id"] in TICKET_TEXT
    else:
        assert job.error_signature
    modes = json.loads((env.settings.data_dir / "llm_modes.json").read_text())
    assert [entry["mode"] for entry in modes.values()] == ["json_object_schema"]
