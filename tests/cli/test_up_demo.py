"""`sluice up --demo` as a person sees it, with the local LLM replaced by a scripted one: a
short console of named lines, the result, then one block; access lines in a file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.test_cli import free_port
from tests.support.extraction_cases import VALID_TICKET
from tests.support.polling import wait_for
from tests.support.scripted_llm import Reply, ScriptedLLM

BLOCK_END = "Ctrl-C stops everything."
# Measured: 26 lines with the scripted LLM (five are Celery's warning about running as root);
# 1,745 before the console was made readable (with the local Gemma), 111 with this LLM.
MAX_CONSOLE_LINES = 40
CHILDREN = ("worker", "api", "dashboard", "flower", "beat")  # beat: the retention sweep
# The demo email's ticket with the verbatim quotes the acceptance gate checks.
DEMO_ANSWER = Reply(content=json.dumps({
    "record": {**VALID_TICKET, "issue_type": "refund_request"},
    "evidence": {"customer_email": "maria.lopez@example.com", "order_id": "(order 48213)",
                 "order_date": "I ordered a kettle on 2025-03-02",
                 "customer_name": "Maria Lopez"},
}), prompt_tokens=100, completion_tokens=40)


@pytest.mark.slow
def test_up_demo_prints_a_short_console_and_ends_with_one_block(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    output = tmp_path / "up.log"
    with ScriptedLLM(responder=lambda body: DEMO_ANSWER) as llm:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")} | {
            "SLUICE_DATA_DIR": str(data_dir),
            "SLUICE_API_PORT": str(free_port()),
            "SLUICE_DASHBOARD_PORT": str(free_port()),
            "SLUICE_FLOWER_PORT": str(free_port()),
            "SLUICE_LLM_BASE_URL": llm.url,
            "SLUICE_LLM_STRUCTURED_MODE": "json_object_schema",
        }
        with output.open("wb") as sink:
            up = subprocess.Popen(
                [sys.executable, "-m", "cli", "up", "--demo"], env=env, stdout=sink,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
        try:
            wait_for(lambda: BLOCK_END in output.read_text() or up.poll() is not None,
                     timeout=240, what="the demo's result and the closing block")
            lines = output.read_text().splitlines()
        finally:
            up.send_signal(signal.SIGTERM)
            code = up.wait(60)
    text = "\n".join(lines)
    assert code == 0, text[-3000:]
    assert lines[-1] == BLOCK_END, text
    result = next(i for i, line in enumerate(lines) if line.startswith("extracted after 1"))
    block = lines[result + 1:]
    assert [line.split()[0] for line in block] == [
        "API", "API", "dashboard", "Flower", "logs", "data", "Ctrl-C",
    ]
    assert sum("API key" in line for line in lines) == 1
    assert len(lines) <= MAX_CONSOLE_LINES, text

    # What the children say is labelled; the noise went to files or away.
    for line in lines:
        if "[uvicorn.error]" in line or "[celery." in line:
            assert line.split("|")[0].strip() in CHILDREN, line
    assert "uvicorn.access" not in text
    assert "Registered tasks" not in text  # Flower's start-up list
    assert " -------------- " not in text  # Celery's banner

    # The demo follows its jobs on their event streams: no polling in the access log.
    access = (data_dir / "logs" / "access.log").read_text()
    assert access.count("POST /v1/jobs ") == 2
    assert access.count("GET /v1/jobs/") == 2
    assert all("/events" in line for line in access.splitlines() if "GET /v1/jobs/" in line)
