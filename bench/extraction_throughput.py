"""What the extraction machinery costs on top of the LLM calls themselves.

N ``extract`` jobs through real workers (job record, delivery counting, schema derivation,
prompt, validation with grounding, the attempt ledger, the records sink on ``io``) against
the same N chat calls made directly with the ``openai`` client at the same concurrency,
both against the scripted OpenAI-protocol server with a fixed per-call latency, in one
run. Prints both rates and their ratio; target: ratio >= 0.9.

    python -m bench.extraction_throughput [--jobs 200] [--concurrency 8] [--latency 0.25]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from openai import OpenAI

from cli.embedded_redis import start_redis
from cli.kinds import load_kinds
from libs.sinks.records import records_for
from schemas.job import JobStatus
from sluice.celery_app import create_celery_app
from sluice.enqueue import submit
from sluice.logs import configure_logging
from sluice.settings import load_settings
from sluice.stores import JobQuery, open_store
from tests.support.extraction_cases import TICKET_TEXT, ticket
from tests.support.scripted_llm import Reply, ScriptedLLM

REPO_ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.02


def wait_until(done: Any, timeout: float = 600.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the workers did not finish in time")
        time.sleep(POLL_SECONDS)


def direct_rate(url: str, jobs: int, concurrency: int) -> float:
    """N chat calls with the openai client, ``concurrency`` at a time."""
    client = OpenAI(base_url=url, api_key="bench", max_retries=0, timeout=60)
    messages = [{"role": "user", "content": TICKET_TEXT}]

    def call(_: int) -> str:
        completion = client.chat.completions.create(
            model="bench", messages=messages,  # type: ignore[arg-type]
            response_format={"type": "json_object"}, max_tokens=512,
        )
        return completion.choices[0].message.content or ""

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(call, range(jobs)))
    return jobs / (time.perf_counter() - started)


def start_worker(env: dict[str, str], queues: str, concurrency: int, log: Path) -> Any:
    command = [sys.executable, "-m", "cli", "worker", "--queues", queues, "--pool",
               "threads", "--concurrency", str(concurrency), "--name", f"bench-{queues}@%h"]
    with log.open("wb") as out:
        return subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def _stop_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: stop the workers and Redis


def main() -> None:
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency", type=float, default=0.25, help="Seconds per LLM call.")
    parser.add_argument("--sinks", default="records", help="SLUICE_SINKS of the workers.")
    args = parser.parse_args()

    reply = Reply(content=ticket(), delay=args.latency, prompt_tokens=300, completion_tokens=60)
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp, \
            ScriptedLLM(responder=lambda body: reply) as llm:
        data_dir = Path(tmp)
        server = start_redis(data_dir / "redis", appendonly=False)
        values = {"data_dir": str(data_dir), "broker_url": server.url, "log_level": "WARNING",
                  "llm_base_url": llm.url, "llm_structured_mode": "json_object_schema",
                  "sinks": args.sinks}
        settings = load_settings(**values)
        configure_logging(settings)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT),
               **{f"SLUICE_{k.upper()}": str(v) for k, v in values.items()}}
        celery = create_celery_app(settings, load_kinds(settings))
        store = open_store(settings)
        workers = [
            start_worker(env, "gpu", args.concurrency, data_dir / "gpu.log"),
            start_worker(env, "io", 2, data_dir / "io.log"),
        ]
        try:
            wait_until(lambda: len(celery.control.ping(timeout=0.5)) >= 2, timeout=60)
            # Warm both paths once (imports, connections) outside the timings.
            submit("extract", {"schema": "support_ticket", "text": TICKET_TEXT}, store=store,
                   celery=celery, settings=settings)
            succeeded = JobQuery(kind="extract", statuses=(JobStatus.SUCCEEDED,))
            wait_until(lambda: store.count(succeeded) == 1)
            direct_rate(llm.url, args.concurrency, args.concurrency)

            direct = direct_rate(llm.url, args.jobs, args.concurrency)
            started = time.perf_counter()
            for _ in range(args.jobs):
                submit("extract", {"schema": "support_ticket", "text": TICKET_TEXT},
                       store=store, celery=celery, settings=settings)
            wait_until(lambda: store.count(succeeded) == args.jobs + 1)
            through_workers = args.jobs / (time.perf_counter() - started)
            if "records" in args.sinks:  # every record is in the sink (not timed)
                records = records_for(settings)
                wait_until(lambda: records.count() == args.jobs + 1, timeout=60)
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait(30)
            store.close()
            server.stop()

    print(f"jobs={args.jobs} concurrency={args.concurrency} latency={args.latency}s")
    print(f"direct openai calls : {direct:8.2f} calls/s")
    print(f"extract via workers : {through_workers:8.2f} jobs/s")
    print(f"ratio               : {through_workers / direct:8.3f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
