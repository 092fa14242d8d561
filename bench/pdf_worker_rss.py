"""A real ``sluice worker`` embedding a generated 100-page PDF: its peak RSS, and how long
the file's reading (the ``cleaning`` step, in the bounded child) and the whole job took.

The worker (threads pool, cpu and gpu queues, the embedding model loaded by a warm-up
document first) runs as a subprocess with embedded Redis, SQLite and local Qdrant, as in
the tests. Peak RSS is the worker process's ``VmHWM`` before and after the PDF; the parsing
child is a separate process whose memory is capped by ``SLUICE_FILES_PARSE_MEMORY_MB``.

    python -m bench.pdf_worker_rss [--pages 100]
"""

from __future__ import annotations

import argparse
import base64
import tempfile
import time
from pathlib import Path

from bench.pdf_extraction import generated_pdf
from cli.embedded_redis import start_redis
from libs.documents.warehouse import ContentType
from tests.support.rag_env import rag_env


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = start_redis(Path(tmp) / "redis", appendonly=False)
        try:
            with rag_env(Path(tmp) / "sluice", redis_server.url) as rag:
                pid = rag.sluice.workers[0].process.pid
                warm, _ = rag.put("bench", "warm-up.txt", "The model loads on this one.")
                assert warm.embed_job_id is not None
                rag.finished(warm.embed_job_id)
                before = peak_rss_mib(pid)
                pdf = base64.b64encode(generated_pdf(args.pages)).decode()
                start = time.perf_counter()
                document, _ = rag.put("bench", "manual.pdf", pdf, ContentType.PDF)
                assert document.embed_job_id is not None
                job = rag.finished(document.embed_job_id, timeout=900)
                seconds = time.perf_counter() - start
                after = peak_rss_mib(pid)
        finally:
            redis_server.stop()
    steps = {step.name: step for step in job.trace}
    cleaning = steps["cleaning"]
    reading = cleaning.duration_ms / 1000
    print(f"{args.pages}-page PDF: {job.result['chunks']} chunks, whole embed job {seconds:.1f} s")
    print(f"reading (cleaning step, bounded child): {reading:.2f} s = "
          f"{cleaning.attrs['pages'] / reading:.0f} pages/s")
    print(f"worker peak RSS: {before:.0f} MiB after the model loaded, {after:.0f} MiB after "
          f"the PDF (+{after - before:.0f} MiB)")


if __name__ == "__main__":
    main()
