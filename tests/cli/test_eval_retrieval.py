"""``sluice eval-retrieval``: the shipped labelled set, its metrics per mode, and bad input."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.retrieval_metrics import (
    BadRetrievalSet,
    documents_in_order,
    ndcg_at,
    parse_questions,
    read_jsonl,
    recall_at,
    reciprocal_rank,
)

SET = Path(__file__).resolve().parent.parent / "fixtures" / "retrieval"


def test_the_shipped_set_is_what_its_script_writes_and_big_enough() -> None:
    spec = importlib.util.spec_from_file_location("make_set", SET / "make_set.py")
    assert spec is not None and spec.loader is not None
    make_set = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(make_set)

    documents, questions = make_set.build()

    assert read_jsonl(SET / "corpus.jsonl") == documents
    assert read_jsonl(SET / "questions.jsonl") == questions
    assert len(documents) >= 200 and len(questions) >= 50
    ids = {document["doc_id"] for document in documents}
    assert all(set(question["relevant"]) <= ids for question in questions)
    kinds = {question["kind"] for question in questions}
    assert kinds == {"error_code", "part_number", "paraphrase"}


def test_the_metrics_on_a_known_ranking() -> None:
    ranked = documents_in_order(["a", "x", "a", "b", "y"])  # a's second chunk counts once
    relevant = frozenset({"b", "c"})

    assert ranked == ["a", "x", "b", "y"]
    assert recall_at(ranked, relevant, 3) == 0.5
    assert reciprocal_rank(ranked, relevant, 3) == pytest.approx(1 / 3)
    assert reciprocal_rank(ranked, relevant, 2) == 0.0
    # DCG 1/log2(4) = 0.5; ideal for two relevant: 1 + 1/log2(3).
    assert ndcg_at(ranked, relevant, 3) == pytest.approx(0.5 / (1 + 1 / 1.5849625), rel=1e-6)


def test_a_question_without_relevant_ids_is_refused_with_its_line(tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text('{"question": "q1", "relevant": ["a"]}\n{"question": "q2"}\n')

    with pytest.raises(BadRetrievalSet, match="question 2 needs 'relevant'"):
        parse_questions(questions)
    result = subprocess.run([sys.executable, "-m", "cli", "eval-retrieval", str(questions)],
                            capture_output=True, text=True, timeout=120, env=os.environ)
    assert result.returncode == 2
    assert "question 2 needs 'relevant'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_hybrid_is_not_worse_than_dense_on_the_shipped_set(tmp_path: Path) -> None:
    env = {**os.environ, "SLUICE_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    env.pop("SLUICE_RERANKER_PATH", None)
    env.pop("SLUICE_RERANKER_PACKAGE", None)
    result = subprocess.run(
        [sys.executable, "-m", "cli", "eval-retrieval", str(SET / "questions.jsonl"), "--json",
         "--fail-if-hybrid-worse"],
        capture_output=True, text=True, timeout=840, env=env,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    results = report["results"]
    assert set(results) == {"dense", "sparse", "hybrid"}  # no reranker configured here
    assert report["reranker"].startswith("no reranker configured")
    for metric in ("recall@5", "mrr", "ndcg@5"):
        assert results["hybrid"][metric] >= results["dense"][metric]
    # The exact codes are what BM25 adds: dense alone misses some of them.
    codes = {mode: results[mode]["by_kind"]["error_code"]["mrr"] for mode in results}
    assert codes["sparse"] > codes["dense"] and codes["hybrid"] > codes["dense"]
    assert report["questions"] >= 50 and report["documents"] >= 200
