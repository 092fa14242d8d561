"""The optional cross-encoder: loaded from a folder or an installed package, never a hub;
the ``reranking`` step re-scores the top N, or says in the trace why it did not run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sluice.settings import load_settings
from tests.support.tiny_cross_encoder import build_tiny_cross_encoder
from workers.embedding.points import Hit
from workers.retrieval.pipeline import rerank_step
from workers.retrieval.rerank import RerankerUnavailable, get_reranker, load_reranker

pytestmark = pytest.mark.slow

HITS = [Hit(score=1.0 - i / 10, doc_id=f"d{i}", source="kb", chunk_index=0, text=text)
        for i, text in enumerate([
            "Error E-4012: the firmware signature check failed.",
            "Returns are accepted within thirty days.",
            "Hold the reset button for ten seconds to wipe the box.",
        ])]


class Steps:
    def __init__(self) -> None:
        self.recorded: dict[str, dict[str, Any]] = {}

    @contextmanager
    def step(self, name: str, **attrs: Any) -> Iterator[dict[str, Any]]:
        recorded = dict(attrs)
        yield recorded
        self.recorded[name] = recorded


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_cross_encoder(tmp_path_factory.mktemp("reranker") / "tiny-cross-encoder")


def test_the_top_n_are_reordered_by_the_cross_encoder_and_the_trace_names_it(
    folder: Path,
) -> None:
    settings = load_settings(reranker_path=str(folder), reranker_top_n=2)
    steps = Steps()

    kept = rerank_step(steps, settings, "what is E-4012", HITS, k=3, requested=None)

    reranker = get_reranker(settings)
    assert reranker is not None
    expected = reranker.scores("what is E-4012", [hit.text for hit in HITS[:2]])
    assert [hit.score for hit in kept] == sorted(expected, reverse=True)
    assert {hit.doc_id for hit in kept} == {"d0", "d1"}  # only the top 2 were candidates
    attrs = steps.recorded["reranking"]
    assert attrs["model"] == "tiny-cross-encoder" and attrs["reranked"] == 2
    assert attrs["candidates"] == 3 and attrs["results"] == 2


def test_a_package_that_ships_the_folder_is_loaded_too(
    folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "tiny_reranker_package"
    package.mkdir()
    (package / "__init__.py").write_text(
        f"def get_model_path():\n    return {str(folder)!r}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = load_settings(reranker_package="tiny_reranker_package")

    reranker = get_reranker(settings)

    assert reranker is not None and reranker.name == "tiny-cross-encoder"
    monkeypatch.delitem(sys.modules, "tiny_reranker_package")


def test_without_a_reranker_the_step_is_skipped_with_the_reason() -> None:
    steps = Steps()
    kept = rerank_step(steps, load_settings(reranker_path=None, reranker_package=None),
                       "q", HITS, k=2, requested=None)
    declined = Steps()
    rerank_step(declined, load_settings(), "q", HITS, k=2, requested=False)

    assert kept == HITS[:2]
    assert steps.recorded["reranking"]["skipped"].startswith("no reranker configured")
    assert declined.recorded["reranking"]["skipped"] == "not requested"


def test_a_folder_without_a_saved_model_is_refused_and_never_downloaded(tmp_path: Path) -> None:
    with pytest.raises(RerankerUnavailable, match="no saved CrossEncoder"):
        load_reranker(tmp_path / "cross-encoder-ms-marco")  # a hub name would be downloaded

    steps = Steps()
    kept = rerank_step(steps, load_settings(reranker_path=str(tmp_path)), "q", HITS, k=1,
                       requested=True)
    assert kept == HITS[:1]
    assert steps.recorded["reranking"]["skipped"].startswith("reranker unavailable")
