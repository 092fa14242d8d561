"""The optional cross-encoder that re-scores the fused candidates (the ``reranking`` step).

A sentence-transformers ``CrossEncoder`` read from a folder on disk: ``SLUICE_RERANKER_PATH``,
or the ``get_model_path()`` of the installed package ``SLUICE_RERANKER_PACKAGE`` (the way the
embedding model ships). Never a hub: loading runs with the hub switched off and
``local_files_only``, so a name that is not a folder fails at once instead of downloading.
With neither set there is no reranker and the step says so in the trace.

Loaded once per process and used by one thread at a time, like the embedding model: torch
already spreads one forward pass over every core.
"""

from __future__ import annotations

import importlib
import os
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from sluice.settings import Settings

if TYPE_CHECKING:
    from workers.embedding.points import Hit

log = structlog.get_logger(__name__)


class RerankerUnavailable(Exception):
    """The configured reranker folder or package cannot be loaded (its message says why)."""


@dataclass
class Reranker:
    name: str
    model: Any  # sentence_transformers.CrossEncoder
    load_seconds: float
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def scores(self, query: str, texts: list[str]) -> list[float]:
        if not texts:
            return []
        with self._lock:
            raw = self.model.predict([(query, text) for text in texts], show_progress_bar=False,
                                     convert_to_numpy=True)
        return [float(value) for value in raw.reshape(len(texts), -1)[:, -1]]

    def rerank(self, query: str, hits: list[Hit]) -> list[Hit]:
        """``hits`` best first by the cross-encoder; each hit's score becomes its score."""
        scored = zip(self.scores(query, [hit.text for hit in hits]), hits, strict=True)
        ordered = sorted(scored, key=lambda pair: pair[0], reverse=True)
        return [replace(hit, score=score) for score, hit in ordered]


def reranker_folder(settings: Settings) -> Path | None:
    """The configured folder, or None when no reranker is configured."""
    if settings.reranker_path is not None:
        return settings.reranker_path
    if settings.reranker_package:
        try:
            package = importlib.import_module(settings.reranker_package)
        except ImportError as exc:
            raise RerankerUnavailable(
                f"SLUICE_RERANKER_PACKAGE={settings.reranker_package!r} is not installed"
            ) from exc
        locate = getattr(package, "get_model_path", None)
        if locate is None:
            raise RerankerUnavailable(
                f"package {settings.reranker_package!r} has no get_model_path()")
        return Path(locate())
    return None


def unconfigured_reason(settings: Settings) -> str | None:
    """Why reranking cannot run, or None when a reranker is configured."""
    if settings.reranker_path is None and not settings.reranker_package:
        return "no reranker configured (SLUICE_RERANKER_PATH or SLUICE_RERANKER_PACKAGE)"
    return None


def load_reranker(folder: Path) -> Reranker:
    if not (folder / "config.json").is_file():
        raise RerankerUnavailable(f"{folder} holds no saved CrossEncoder (no config.json)")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    start = time.perf_counter()
    from sentence_transformers import CrossEncoder

    model = CrossEncoder(str(folder), device="cpu", local_files_only=True)
    seconds = time.perf_counter() - start
    log.info("reranker loaded", folder=str(folder), seconds=round(seconds, 2))
    return Reranker(name=folder.name, model=model, load_seconds=seconds)


_loaded: dict[Path, Reranker] = {}
_load_lock = threading.Lock()


def get_reranker(settings: Settings) -> Reranker | None:
    """The process's reranker for the configured folder (None: none configured)."""
    folder = reranker_folder(settings)
    if folder is None:
        return None
    folder = folder.resolve()
    with _load_lock:
        if folder not in _loaded:
            _loaded[folder] = load_reranker(folder)
        return _loaded[folder]
