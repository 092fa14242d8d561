"""`sluice eval` end to end: the labelled set through a real worker, a real broker and store,
and scripted OpenAI-protocol models over real HTTP (issue 11, "What the tests must show")."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SluiceEnv, make_env
from tests.support.eval_llm import CASES_FILE, EvalLLM, load_cases

ENGINE = importlib.util.find_spec("libs.acceptance") is not None
needs_engine = pytest.mark.skipif(
    not ENGINE,
    reason="libs.acceptance (the acceptance gate, issue 11) is not in this tree yet: "
    "without it every plausible record is accepted",
)


@contextmanager
def eval_env(base: SluiceEnv, llm: EvalLLM, **overrides: Any) -> Iterator[SluiceEnv]:
    env = make_env(
        base.tmp / llm.behaviour, base.settings.broker_url or "",
        llm_base_url=llm.url, llm_structured_mode="json_object_schema",
        llm_timeout_seconds=5, sinks="records", task_time_limit=60, task_soft_time_limit=55,
        visibility_timeout=120, **overrides,
    )
    try:
        env.worker(queues="gpu,io", concurrency=4)
        yield env
    finally:
        for worker in env.workers:
            worker.stop()
        env.store.close()


def sluice_eval(env: SluiceEnv, cases: Path, *options: str) -> tuple[int, dict[str, Any]]:
    command = [sys.executable, "-m", "cli", "eval", str(cases), "--json", "--timeout", "300",
               *options]
    done = subprocess.run(command, env=env.env, capture_output=True, text=True, timeout=400)
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}") from None
    return done.returncode, report


def subset(tmp: Path, ids: list[str]) -> Path:
    path = tmp / "subset.jsonl"
    lines = [json.dumps(case) for case in load_cases() if case["id"] in ids]
    path.write_text("\n".join(lines) + "\n")
    return path


def outcomes(report: dict[str, Any]) -> dict[str, str]:
    return {case["id"]: case["outcome"] for case in report["cases"]}


def test_schema_only_lets_plausible_errors_through_and_the_gate_says_so(
    sluice_env: SluiceEnv,
) -> None:
    """Today's behaviour, kept by SLUICE_ACCEPTANCE=schema-only: valid-looking wrong records
    are delivered, and `--max-false-accepts 0` turns that into a failing exit status."""
    cases = subset(sluice_env.tmp, [
        "en-quoted-reply-other-order", "en-injection-json-payload", "de-gestern",
        "en-two-orders", "en-plain-absolute-date",
    ])
    with EvalLLM("plausible_wrong") as llm, eval_env(sluice_env, llm, acceptance="schema-only") \
            as env:
        code, report = sluice_eval(env, cases, "--max-false-accepts", "0")
    summary = report["summary"]
    assert code == 1, report
    assert summary["cases"] == 5 and summary["unsettled"] == 0
    assert summary["false_accepts"] >= 4, outcomes(report)
    wrong = {case["id"]: case["wrong_fields"] for case in report["cases"]}
    assert wrong["en-quoted-reply-other-order"] == ["order_id"]
    assert set(wrong["en-injection-json-payload"]) >= {"customer_email", "order_id"}
    assert summary["tokens"] > 0 and summary["tokens_per_accepted"] > 0


@needs_engine
def test_plausible_but_wrong_model_gets_no_record_accepted(sluice_env: SluiceEnv) -> None:
    with EvalLLM("plausible_wrong") as llm, eval_env(sluice_env, llm) as env:
        code, report = sluice_eval(env, CASES_FILE, "--max-false-accepts", "0")
    summary = report["summary"]
    false = {c["id"]: c["wrong_fields"] for c in report["cases"] if c["outcome"] == "false_accept"}
    assert summary["false_accepts"] == 0, (false, summary)
    assert summary["unsettled"] == 0
    assert code == 0, report
    reviewed = [c for c in report["cases"] if c["outcome"] == "review"]
    assert all(c["status"] == "dead" for c in reviewed)


@needs_engine
def test_competent_model_gets_nine_in_ten_accepted(sluice_env: SluiceEnv) -> None:
    with EvalLLM("competent") as llm, eval_env(sluice_env, llm) as env:
        code, report = sluice_eval(env, CASES_FILE, "--max-false-accepts", "0")
    summary = report["summary"]
    not_accepted = {c["id"]: c["failed_checks"] or c["reason"] for c in report["cases"]
                    if c["outcome"] == "review" and c["id"] in _gold_ids()}
    false = {c["id"]: c["wrong_fields"] for c in report["cases"] if c["outcome"] == "false_accept"}
    assert summary["false_accepts"] == 0, (false, summary)
    assert summary["automation_rate"] >= 0.9, (not_accepted, summary)
    assert code == 0
    # Agreement samples are on the ledger: an accepted record cost more than one call.
    accepted = [c for c in report["cases"] if c["outcome"] == "correct"]
    assert all(c["attempts"] >= 2 for c in accepted), accepted[:3]


@needs_engine
def test_samples_that_disagree_on_the_label_go_to_review(sluice_env: SluiceEnv) -> None:
    ids = ["en-plain-absolute-date", "de-quoted-reply", "fr-html-only", "es-absolute-date",
           "en-long-body"]
    with EvalLLM("disagreeing") as llm, eval_env(sluice_env, llm) as env:
        code, report = sluice_eval(env, subset(sluice_env.tmp, ids), "--max-false-accepts", "0")
    assert outcomes(report) == {case_id: "review" for case_id in ids}, report["cases"]
    assert code == 0
    for case in report["cases"]:
        assert case["reason"] == "unverified"
        assert any(check.startswith("issue_type:") for check in case["failed_checks"]), case


def _gold_ids() -> set[str]:
    return {case["id"] for case in load_cases() if case["gold"] is not None}


def test_from_export_prints_cases_that_eval_reads(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    record = {"customer_email": "ana@example.com", "order_id": "55210",
              "issue_type": "product_defect", "order_date": "2025-10-02",
              "customer_name": "Ana Lima"}
    export = tmp_path / "resolved.jsonl"
    export.write_text(json.dumps({
        "job_id": "j1", "schema_name": "support_ticket", "record": record, "reviewer": "rita",
        "source": "From: Ana <ana@example.com>\nSubject: broken\n\nOrder 55210 is broken.",
        "diff_from_best": [{"field": "order_id", "from": "5521", "to": "55210"}],
    }) + "\n")
    result = CliRunner().invoke(app, ["eval", "--from-export", str(export)])
    assert result.exit_code == 0, result.output
    cases = [json.loads(line) for line in result.stdout.splitlines()]
    assert [case["id"] for case in cases] == ["export-j1"]
    assert cases[0]["gold"] == record and cases[0]["email"].startswith("From: Ana")


def test_a_malformed_case_file_is_refused_before_anything_is_submitted(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "schema": "support_ticket", "gold": null}\n')
    result = CliRunner().invoke(app, ["eval", str(bad)])
    assert result.exit_code == 2
    assert "line 1" in result.output and "exactly one of" in result.output
