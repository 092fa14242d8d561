"""What the LLM gateway costs and saves on the one call path.

1. The response cache: N temperature-0 ``chat`` calls answered by a model that takes
   ``--model-ms`` per answer (a scripted OpenAI-protocol server), against the same calls
   answered from the cache, in one run. Prints both latencies and the ratio; target: a hit
   at least 10x cheaper than a 50 ms model call.
2. Redaction: every email of ``tests/fixtures/eval/support_tickets.jsonl`` redacted with
   every entity type, against the plain string copy the call makes anyway; prints ms per
   email (the figure that matters next to a model call of seconds).

    python -m bench.llm_gateway [--calls 200] [--model-ms 50]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from cli.embedded_redis import start_redis
from libs.llm.chat import Endpoint, chat
from sluice.settings import load_settings
from tests.support.scripted_llm import Reply, ScriptedLLM

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = REPO_ROOT / "tests" / "fixtures" / "eval" / "support_tickets.jsonl"


def cache_figures(calls: int, model_ms: float) -> None:
    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp, ScriptedLLM(
        lambda body: Reply(content='{"order_id": "48213"}', delay=model_ms / 1000)
    ) as llm:
        server = start_redis(Path(tmp) / "redis", appendonly=False)
        try:
            settings = load_settings(data_dir=tmp, broker_url=server.url, llm_base_url=llm.url,
                                     llm_cache=True, log_level="WARNING")
            endpoint = Endpoint(llm.url, "scripted-model")

            def call(index: int) -> float:
                messages = [{"role": "user", "content": f"Extract from ticket {index}."}]
                started = time.perf_counter()
                chat(settings, endpoint, messages, max_tokens=64, cache=True)
                return (time.perf_counter() - started) * 1000

            asked = [call(i) for i in range(calls)]  # each a miss: the model answers
            cached = [call(i) for i in range(calls)]  # each a hit
        finally:
            server.stop()
    assert len(llm.requests) == calls, "every repeat must come from the cache"
    miss, hit = statistics.median(asked), statistics.median(cached)
    print(f"cache: {calls} calls; model call p50 {miss:.2f} ms (model {model_ms:g} ms), "
          f"cache hit p50 {hit:.2f} ms; ratio {miss / hit:.1f}x")


def redaction_figures() -> None:
    from libs.redaction.redactor import Redactor
    from schemas.redaction import PIIEntity

    texts = [str(row.get("email") or row.get("text"))
             for row in map(json.loads, FIXTURES.open())]
    Redactor(frozenset(PIIEntity)).redact(texts[0])  # Presidio's one-off set-up
    started = time.perf_counter()
    for text in texts:
        Redactor(frozenset(PIIEntity)).redact(text)
    redacting = (time.perf_counter() - started) * 1000 / len(texts)
    started = time.perf_counter()
    for text in texts:
        _ = [{"role": "user", "content": text}]
    copying = (time.perf_counter() - started) * 1000 / len(texts)
    print(f"redaction: {len(texts)} fixture emails, {redacting:.2f} ms per email "
          f"(every entity type) against {copying:.4f} ms to build the message")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--model-ms", type=float, default=50.0)
    args = parser.parse_args()
    cache_figures(args.calls, args.model_ms)
    redaction_figures()


if __name__ == "__main__":
    main()
