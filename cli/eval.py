"""``sluice eval FILE.jsonl``: run a labelled set through the real pipeline and score it.

Each case becomes an ``extract`` job in the configured store, sent on the configured broker
to whatever workers are running (``sluice up``, or ``sluice worker``): the configured model
endpoint, the correction loop and the acceptance gate all take part, exactly as for real
work. Once every job has settled (or ``--timeout`` passed) the results are compared with the
gold records (:mod:`cli.eval_scoring`). ``--max-false-accepts N`` makes it a CI gate for a
model or prompt change. ``--from-export`` turns ``sluice dlq export`` output into cases.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.eval_scoring import (
    BadCaseFile,
    CaseResult,
    EvalCase,
    cases_from_export,
    parse_cases,
    report_json,
    report_text,
    score_case,
    summarise,
)

POLL_SECONDS = 0.25
KIND = "extract"


def evaluate(
    file: Annotated[Path, typer.Argument(help="The labelled set (JSON lines), or an export.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON report.")] = False,
    max_false_accepts: Annotated[
        int | None,
        typer.Option(help="Exit 1 when more records than this are accepted wrongly.", min=0),
    ] = None,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for every job to settle.", min=1)
    ] = 900.0,
    from_export: Annotated[
        bool,
        typer.Option("--from-export", help="Read FILE as `sluice dlq export` output and print "
                     "it as eval cases (JSON lines) instead of running anything."),
    ] = False,
) -> None:
    """Run a labelled set through the workers and the acceptance gate, and score it:
    auto-accepted correct, false accepts, sent to review, automation rate, tokens per
    auto-accepted record."""
    if from_export:
        with file.open(encoding="utf-8") as handle:
            for case in cases_from_export(handle):
                sys.stdout.write(json.dumps(case, ensure_ascii=False) + "\n")
        return
    try:
        cases = parse_cases(file.read_text(encoding="utf-8").splitlines())
    except BadCaseFile as exc:
        typer.echo(f"error: {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    if not cases:
        typer.echo(f"error: {file} holds no cases", err=True)
        raise typer.Exit(2)

    from cli.main import _settings_or_exit
    from sluice.logs import configure_logging

    settings = _settings_or_exit()
    configure_logging(settings)  # to stderr: stdout is the report
    results = run_cases(settings, cases, timeout=timeout)
    summary = summarise(results, golds=sum(1 for case in cases if case.gold is not None))
    if as_json:
        about = {"file": str(file), "acceptance": getattr(settings, "acceptance", None),
                 "endpoint": settings.llm_base_url}
        typer.echo(json.dumps(report_json(results, summary, **about), indent=2))
    else:
        typer.echo(report_text(results, summary), nl=False)
    if summary.unsettled:
        typer.echo(f"error: {summary.unsettled} job(s) had not settled after {timeout:g}s: "
                   "are workers running?", err=True)
        raise typer.Exit(1)
    if max_false_accepts is not None and summary.false_accepts > max_false_accepts:
        typer.echo(f"error: {summary.false_accepts} false accept(s), more than "
                   f"--max-false-accepts {max_false_accepts}", err=True)
        raise typer.Exit(1)


def run_cases(settings: Any, cases: list[EvalCase], *, timeout: float) -> list[CaseResult]:
    """Submit every case as an ``extract`` job, wait for all to settle, score each."""
    from schemas.job import TERMINAL, JobStatus
    from sluice.celery_app import create_celery_app
    from sluice.enqueue import submit
    from sluice.stores import open_store

    settled_statuses = TERMINAL | {JobStatus.DEAD}
    store = open_store(settings)
    celery = create_celery_app(settings)
    try:
        job_ids: dict[str, str] = {}
        for case in cases:
            job, _ = submit(KIND, case.job_input(), store=store, celery=celery, settings=settings)
            job_ids[case.id] = job.id
        deadline = time.monotonic() + timeout
        jobs = {case_id: store.get(job_id) for case_id, job_id in job_ids.items()}
        while time.monotonic() < deadline:
            pending = [cid for cid, job in jobs.items() if job.status not in settled_statuses]
            if not pending:
                break
            time.sleep(POLL_SECONDS)
            for case_id in pending:
                jobs[case_id] = store.get(job_ids[case_id])
        results = []
        for case in cases:
            job = jobs[case.id]
            results.append(score_case(
                case,
                job_id=job.id,
                status=job.status.value,
                settled=job.status in settled_statuses,
                result=job.result,
                reason=job.reason.value if job.reason else None,
                attempts=[_plain(attempt) for attempt in job.attempts],
                acceptance=_plain(getattr(job, "acceptance", None)),
            ))
        return results
    finally:
        store.close()
        celery.close()


def _plain(value: Any) -> Any:
    """A typed model (an attempt, a verdict) as its JSON dict; anything else as it is."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value
