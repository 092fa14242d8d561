"""Ranking metrics of ``sluice eval-retrieval``: recall@k, MRR and nDCG@k with binary
relevance, on document ids (a document's chunks count once, at its best rank)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class BadRetrievalSet(ValueError):
    """A question or corpus line that cannot be used; the message names the line."""


@dataclass(frozen=True)
class LabelledQuestion:
    question: str
    relevant: frozenset[str]
    kind: str | None = None


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            raise BadRetrievalSet(f"{path}:{number}: not JSON: {exc}") from None
        if not isinstance(row, dict):
            raise BadRetrievalSet(f"{path}:{number}: not a JSON object")
        rows.append(row)
    return rows


def parse_questions(path: Path) -> list[LabelledQuestion]:
    questions = []
    for number, row in enumerate(read_jsonl(path), start=1):
        question, relevant = row.get("question"), row.get("relevant")
        if not isinstance(question, str) or not question.strip():
            raise BadRetrievalSet(f"{path}: question {number} has no question text")
        if (not isinstance(relevant, list) or not relevant
                or not all(isinstance(doc, str) for doc in relevant)):
            raise BadRetrievalSet(
                f"{path}: question {number} needs 'relevant': a list of document ids")
        kind = row.get("kind")
        questions.append(LabelledQuestion(question, frozenset(relevant),
                                          kind if isinstance(kind, str) else None))
    if not questions:
        raise BadRetrievalSet(f"{path}: no questions")
    return questions


def documents_in_order(doc_ids: list[str]) -> list[str]:
    """Chunk hits' document ids, each once, in the rank of its best chunk."""
    return list(dict.fromkeys(doc_ids))


def recall_at(ranked: list[str], relevant: frozenset[str], k: int) -> float:
    return len(relevant.intersection(ranked[:k])) / len(relevant)


def reciprocal_rank(ranked: list[str], relevant: frozenset[str], k: int) -> float:
    for rank, doc in enumerate(ranked[:k], start=1):
        if doc in relevant:
            return 1.0 / rank
    return 0.0


def ndcg_at(ranked: list[str], relevant: frozenset[str], k: int) -> float:
    gain = sum(1.0 / math.log2(rank + 1)
               for rank, doc in enumerate(ranked[:k], start=1) if doc in relevant)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    return gain / ideal


@dataclass
class Scores:
    """Running means over the questions of one retrieval setting."""

    recall: float = 0.0
    mrr: float = 0.0
    ndcg: float = 0.0
    questions: int = 0

    def add(self, ranked: list[str], relevant: frozenset[str], k: int) -> None:
        self.recall += recall_at(ranked, relevant, k)
        self.mrr += reciprocal_rank(ranked, relevant, k)
        self.ndcg += ndcg_at(ranked, relevant, k)
        self.questions += 1

    def as_dict(self, k: int) -> dict[str, float | int]:
        count = self.questions or 1
        return {f"recall@{k}": round(self.recall / count, 4), "mrr": round(self.mrr / count, 4),
                f"ndcg@{k}": round(self.ndcg / count, 4), "questions": self.questions}
