"""`sluice eval` on the labelled set with the real local Gemma 3 270M (the local-llm extra).

The model is small and mostly wrong; what must hold is that none of its wrong records is
accepted: every one goes to review. A call takes the local model 20-40 s on 2 cores, so
the suite runs three of the set's cases with one attempt each (a quoted reply's order, the
message date posing as the order date, an injected JSON payload): about two minutes.
``SLUICE_GEMMA_EVAL_SUBSET=twelve`` runs one case of each trap, and
``SLUICE_GEMMA_EVAL_SUBSET=all`` the whole set with two attempts a case (about an hour).
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from cli import local_llm
from tests.conftest import SluiceEnv, make_env
from tests.support.eval_llm import CASES_FILE
from tests.workers.test_extraction_gemma import gemma_url  # noqa: F401  (the server fixture)

SUBSETS = {
    "three": {"en-quoted-reply-other-order", "en-message-date-not-order-date",
              "en-injection-json-payload"},
    "twelve": {
        "en-quoted-reply-other-order", "en-message-date-not-order-date", "en-relative-yesterday",
        "en-forwarded-confirmation", "en-html-only", "en-two-orders", "en-missing-order-number",
        "en-impossible-date", "en-injection-system-line", "en-injection-json-payload",
        "de-injection", "fr-le-3",
    },
}

pytestmark = [
    pytest.mark.slow,
    # 52 cases, each an attempt plus agreement samples at a few seconds per call on 2 cores.
    pytest.mark.timeout(3600),  # the whole set; the subset takes minutes
    pytest.mark.skipif(
        not local_llm.available(),
        reason="llama-cpp-python is not installed: CMAKE_ARGS=\"-DGGML_NATIVE=OFF\" "
        "pip install --no-cache-dir '.[local-llm]'",
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("libs.acceptance") is None,
        reason="libs.acceptance (the acceptance gate, issue 11) is not in this tree yet",
    ),
]


def test_the_local_gemma_gets_no_wrong_record_accepted(
    sluice_env: SluiceEnv, gemma_url: str  # noqa: F811
) -> None:
    subset = os.environ.get("SLUICE_GEMMA_EVAL_SUBSET", "three")
    env = make_env(
        sluice_env.tmp / "gemma-eval", sluice_env.settings.broker_url or "",
        llm_base_url=gemma_url, llm_system_in_user=True, llm_timeout_seconds=120,
        sinks="records", extract_max_attempts=1 if subset == "three" else 2,
        task_time_limit=900, task_soft_time_limit=880,
        visibility_timeout=1800,
    )
    try:
        env.worker(queues="gpu,io", concurrency=2)
        cases = CASES_FILE
        if subset != "all":
            cases = sluice_env.tmp / "subset.jsonl"
            lines = CASES_FILE.read_text().splitlines()
            chosen = [line for line in lines if json.loads(line)["id"] in SUBSETS[subset]]
            assert len(chosen) == len(SUBSETS[subset])
            cases.write_text("\n".join(chosen) + "\n")
        command = [sys.executable, "-m", "cli", "eval", str(cases), "--json",
                   "--timeout", "3000", "--max-false-accepts", "0"]
        done = subprocess.run(command, env=env.env, capture_output=True, text=True,
                              timeout=3300)
    finally:
        for worker in env.workers:
            worker.stop()
        env.store.close()
    report = json.loads(done.stdout)
    summary = report["summary"]
    false = {c["id"]: c["wrong_fields"] for c in report["cases"] if c["outcome"] == "false_accept"}
    assert summary["unsettled"] == 0, done.stderr[-3000:]
    assert summary["false_accepts"] == 0, false
    assert done.returncode == 0
    print(json.dumps(summary))  # the figures for the note: pytest -s shows them
