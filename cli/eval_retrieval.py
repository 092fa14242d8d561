"""``sluice eval-retrieval FILE.jsonl``: recall@k, MRR and nDCG@k of every retrieval mode.

Each line of FILE is ``{"question": ..., "relevant": [doc_id, ...]}`` (an optional ``kind``
groups the figures); the corpus (``--corpus``, default ``corpus.jsonl`` beside FILE) is
``{"doc_id", "text"}`` lines, with ``source``, ``doc_type`` and ``date`` optional. The corpus
is chunked, embedded by the configured embedding model and indexed in a temporary local
Qdrant collection of the same shape as the live ones (dense + BM25 with IDF), and every
question is run through the retrieval code the ``search`` job runs
(:func:`workers.retrieval.pipeline.ranked`): dense, sparse and hybrid, each without and
with the cross-encoder (with it only where one is configured). Nothing of the live system
is touched; no worker, broker or LLM is needed. ``--fail-if-hybrid-worse`` makes it a gate.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.retrieval_metrics import (
    BadRetrievalSet,
    LabelledQuestion,
    Scores,
    documents_in_order,
    parse_questions,
    read_jsonl,
)

MODES = ("dense", "sparse", "hybrid")
EVAL_COLLECTION = "sluice_eval"


class StepLog:
    """Times steps like a job's trace does, keeping only durations by step name."""

    def __init__(self) -> None:
        self.durations: dict[str, list[float]] = defaultdict(list)

    @contextmanager
    def step(self, name: str, **attrs: Any) -> Iterator[dict[str, Any]]:
        start = time.perf_counter()
        recorded = dict(attrs)
        try:
            yield recorded
        finally:
            if "skipped" not in recorded:
                self.durations[name].append((time.perf_counter() - start) * 1000)


def _index_corpus(settings: Any, corpus: list[dict[str, Any]], folder: Path) -> tuple[Any, Any]:
    """The configured embedding model and a fresh local index holding the corpus."""
    from workers.embedding.chunking import chunk_budget, chunk_text
    from workers.embedding.model import get_model
    from workers.embedding.sparse import document_vector
    from workers.embedding.tasks import text_hash
    from workers.embedding.vectors import ChunkPoint, VectorIndex

    model = get_model()
    local = settings.model_copy(update={"data_dir": folder, "qdrant_url": None,
                                        "qdrant_collection": EVAL_COLLECTION})
    index = VectorIndex(local, model.dimension)
    budget = chunk_budget(model.max_tokens, settings.embedding_chunk_tokens)
    pending: list[tuple[dict[str, Any], int, str]] = []
    for number, row in enumerate(corpus, start=1):
        if not isinstance(row.get("doc_id"), str) or not isinstance(row.get("text"), str):
            raise BadRetrievalSet(f"corpus line {number} needs 'doc_id' and 'text' strings")
        chunks = chunk_text(row["text"], model.tokenizer, max_tokens=budget,
                            overlap=settings.embedding_chunk_overlap_tokens)
        pending += [(row, i, chunk) for i, chunk in enumerate(chunks)]
    vectors = model.encode([chunk for _, _, chunk in pending], settings.embedding_batch_size)
    points = [
        ChunkPoint(
            document_id=row["doc_id"], source=str(row.get("source") or "eval"),
            doc_id=row["doc_id"], chunk_index=i, text=chunk, content_hash=text_hash(chunk),
            model=model.name, vector=vector,
            sparse=document_vector(chunk, settings.retrieval_bm25_avg_length),
            doc_type=row.get("doc_type"), date=row.get("date"),
        )
        for (row, i, chunk), vector in zip(pending, vectors, strict=True)
    ]
    index.upsert(points)
    return model, index


def run_eval(settings: Any, questions: list[LabelledQuestion], corpus: list[dict[str, Any]],
             k: int) -> dict[str, Any]:
    """Scores per setting (``dense``, ``dense+rerank``, ...) overall and per question kind."""
    from workers.retrieval.pipeline import ranked
    from workers.retrieval.rerank import unconfigured_reason

    no_reranker = unconfigured_reason(settings)
    settings_tried = [(mode, False) for mode in MODES]
    settings_tried += [(mode, True) for mode in MODES] if no_reranker is None else []
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="sluice-eval-retrieval-") as folder:
        model, index = _index_corpus(settings, corpus, Path(folder))
        try:
            for mode, rerank in settings_tried:
                name = f"{mode}+rerank" if rerank else mode
                overall, log = Scores(), StepLog()
                by_kind: defaultdict[str, Scores] = defaultdict(Scores)
                for labelled in questions:
                    found = ranked(log, settings, index, model, [labelled.question], k,
                                   mode=mode, rerank=rerank, query_filter=None)
                    docs = documents_in_order([hit.doc_id for hit in found.hits])
                    overall.add(docs, labelled.relevant, k)
                    by_kind[labelled.kind or "-"].add(docs, labelled.relevant, k)
                kinds = {kind: scores.as_dict(k) for kind, scores in sorted(by_kind.items())}
                results[name] = {
                    **overall.as_dict(k), "served": found.served, "by_kind": kinds,
                    "step_ms_p50": {step: round(sorted(values)[len(values) // 2], 2)
                                    for step, values in sorted(log.durations.items())},
                }
        finally:
            index.close()
    return {"k": k, "questions": len(questions), "documents": len(corpus),
            "embedding_model": model.name, "reranker": no_reranker or "configured",
            "results": results}


def _report_text(report: dict[str, Any]) -> str:
    k = report["k"]
    lines = [f"{report['questions']} questions, {report['documents']} documents, "
             f"embedding model {report['embedding_model']}, k={k}",
             f"{'setting':16} {'recall@' + str(k):>9} {'MRR':>7} {'nDCG@' + str(k):>8}"]
    for name, row in report["results"].items():
        lines.append(f"{name:16} {row[f'recall@{k}']:9.4f} {row['mrr']:7.4f} "
                     f"{row[f'ndcg@{k}']:8.4f}")
        for kind, scores in row["by_kind"].items():
            lines.append(f"  {kind:14} {scores[f'recall@{k}']:9.4f} {scores['mrr']:7.4f} "
                         f"{scores[f'ndcg@{k}']:8.4f}  ({scores['questions']} questions)")
    if report["reranker"] != "configured":
        lines.append(f"with rerank: skipped, {report['reranker']}")
    return "\n".join(lines)


def eval_retrieval(
    file: Annotated[Path, typer.Argument(help="Questions with relevant document ids (JSONL).")],
    corpus: Annotated[Path | None, typer.Option(
        help="The documents (JSONL); default corpus.jsonl beside FILE.")] = None,
    k: Annotated[int, typer.Option(min=1, max=100, help="Cut-off of recall@k and nDCG@k.")] = 5,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON report.")] = False,
    fail_if_hybrid_worse: Annotated[bool, typer.Option(
        help="Exit 1 when hybrid scores below dense on nDCG@k or MRR.")] = False,
) -> None:
    """Recall@k, MRR and nDCG@k per retrieval mode on a labelled set (no worker needed)."""
    from cli.main import _settings_or_exit
    from sluice.logs import configure_logging

    settings = _settings_or_exit()
    configure_logging(settings)  # to stderr: stdout is the report
    corpus_path = corpus or file.with_name("corpus.jsonl")
    try:
        questions = parse_questions(file)
        documents = read_jsonl(corpus_path)
        report = run_eval(settings, questions, documents, k)
    except (BadRetrievalSet, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(report, indent=2) if as_json else _report_text(report))
    dense, hybrid = report["results"]["dense"], report["results"]["hybrid"]
    if fail_if_hybrid_worse and (hybrid[f"ndcg@{k}"] < dense[f"ndcg@{k}"]
                                 or hybrid["mrr"] < dense["mrr"]):
        typer.echo("hybrid scored below dense", err=True)
        raise typer.Exit(1)
