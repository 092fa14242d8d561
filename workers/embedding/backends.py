"""Which runtime encodes: torch, or sentence-transformers' own ONNX backend in float32 or int8.

``SLUICE_EMBEDDING_BACKEND`` picks it (``torch`` by default). The ONNX models are made here,
never downloaded: on first use the packaged all-MiniLM-L6-v2 is traced to ONNX, and for
``onnx-int8`` dynamically quantised by sentence-transformers for this CPU's instruction set,
into ``DATA_DIR/models/<model>-<backend>.r<EXPORT_REVISION>``; sentence-transformers' ONNX
backend runs it.
The folder is written under a temporary name and renamed into place, so a process that dies half-way
leaves nothing a later process would load, and two processes exporting at once both end
with a whole model. The ONNX packages are the ``embedding-onnx`` extra.

Each backend's vectors differ slightly from the others', so each has its own name
(:func:`model_label`): the embedding cache keys and the points' ``model`` payload carry it,
and a collection filled by one backend refuses another (``workers.embedding.vectors``).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import structlog

from sluice.private_files import private_directory

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = structlog.get_logger(__name__)

Backend = Literal["torch", "onnx", "onnx-int8"]
BACKENDS: tuple[Backend, ...] = ("torch", "onnx", "onnx-int8")
ONNX_EXTRA = "pip install 'sluice[embedding-onnx]'"
ONNX_FILE = "onnx/model.onnx"
# Bumped when the export changes, so a data dir holding an older export makes a new one.
# 2: traced with eager attention (an SDPA trace ran the int8 graph at 1.2x torch, eager 2.2x).
EXPORT_REVISION = 2


class BackendUnavailable(Exception):
    """The configured backend's packages are not installed."""


def model_label(model: str, backend: Backend) -> str:
    """The name vectors of ``model`` made by ``backend`` go by (torch keeps the bare name, so
    caches and collections made before backends existed stay valid)."""
    return model if backend == "torch" else f"{model}@{backend}"


def quantisation_target() -> Literal["avx512_vnni", "avx512", "avx2", "arm64"]:
    """The int8 kernel set this CPU runs best (Optimum's dynamic quantisation presets)."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        flags = set()
    if "avx512_vnni" in flags:
        return "avx512_vnni"
    if "avx512f" in flags:
        return "avx512"
    if os.uname().machine in ("aarch64", "arm64"):
        return "arm64"
    return "avx2"


def load(model: str, packaged: Path, backend: Backend, data_dir: Path) -> SentenceTransformer:
    """``model`` (at ``packaged``) on ``backend``; the ONNX files made on first use."""
    from sentence_transformers import SentenceTransformer

    if backend == "torch":
        return SentenceTransformer(str(packaged), device="cpu", local_files_only=True)
    if importlib.util.find_spec("onnxruntime") is None or (
        importlib.util.find_spec("optimum") is None
        or importlib.util.find_spec("optimum.onnxruntime") is None
    ):
        raise BackendUnavailable(
            f"SLUICE_EMBEDDING_BACKEND={backend} needs ONNX Runtime and Optimum: {ONNX_EXTRA}"
        )
    folder = data_dir / "models" / f"{model}-{backend}.r{EXPORT_REVISION}"
    file_name = _model_file(folder, backend)
    if file_name is None:
        _export(packaged, backend, folder)
        file_name = _model_file(folder, backend)
        if file_name is None:
            raise BackendUnavailable(f"the {backend} export left no model in {folder}")
    return SentenceTransformer(str(folder), device="cpu", backend="onnx", local_files_only=True,
                               model_kwargs={"file_name": file_name})


def _model_file(folder: Path, backend: Backend) -> str | None:
    """The ONNX file of ``backend`` in ``folder`` (relative), if it was made."""
    if backend == "onnx":
        found = [folder / ONNX_FILE] if (folder / ONNX_FILE).exists() else []
    else:  # Optimum names it by weight type: quint8 for avx2, qint8 for the others
        found = sorted(folder.glob(f"onnx/model_*int8_{quantisation_target()}.onnx"))
    return found[0].relative_to(folder).as_posix() if found else None


def _export(packaged: Path, backend: Backend, folder: Path) -> None:
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    private_directory(folder.parent)
    staging = folder.parent / f".{folder.name}.{uuid.uuid4().hex}"
    log.info("exporting the embedding model to ONNX (once)", backend=backend, folder=str(folder))
    try:
        _export_float(packaged, staging)
        if backend == "onnx-int8":
            exported = SentenceTransformer(str(staging), device="cpu", backend="onnx",
                                           local_files_only=True,
                                           model_kwargs={"file_name": ONNX_FILE})
            export_dynamic_quantized_onnx_model(exported, quantisation_target(), str(staging))
        if folder.exists():  # another process finished first; its model is as good
            return
        staging.rename(folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _export_float(packaged: Path, staging: Path) -> None:
    """The sentence-transformers folder of the packaged model plus ``onnx/model.onnx``.

    The graph is traced with ``torch.onnx.export`` rather than sentence-transformers'
    own export (Optimum's exporter), which fails on transformers 5.x ("sdpa_mask_without_vmap()
    missing ... cache_position"); its inputs and output are the names Optimum's
    ``ORTModelForFeatureExtraction`` loads, so sentence-transformers runs and quantises it.

    Attention is traced in its eager form: transformers' default (SDPA) traces into mask
    building and a decomposed attention that ONNX Runtime runs slowly, while the eager
    graph is the MatMul/Softmax pattern its kernels and the int8 quantiser are made for
    (measured on 256-token chunks, 2 cores: int8 1.2x torch from the SDPA trace, 2.2x from
    the eager one; float 0.8x and 1.1x).
    """
    import torch
    from sentence_transformers import SentenceTransformer

    class LastHiddenState(torch.nn.Module):
        """The transformer with positional inputs and one output, as ONNX wants it."""

        def __init__(self, transformer: torch.nn.Module) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            output = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids)
            return output.last_hidden_state  # type: ignore[no-any-return]

    original = SentenceTransformer(str(packaged), device="cpu", local_files_only=True)
    original.save(str(staging))
    (staging / "onnx").mkdir()
    transformer: Any = original[0].auto_model
    transformer.set_attn_implementation("eager")
    encoder = LastHiddenState(transformer.eval())
    sample = original.tokenizer(["an example", "a second example"], return_tensors="pt",
                                padding=True)
    axes = {"input_ids": {0: "batch_size", 1: "sequence_length"},
            "attention_mask": {0: "batch_size", 1: "sequence_length"},
            "token_type_ids": {0: "batch_size", 1: "sequence_length"},
            "last_hidden_state": {0: "batch_size", 1: "sequence_length"}}
    with torch.no_grad():
        torch.onnx.export(
            encoder, (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(staging / ONNX_FILE), input_names=list(axes)[:3],
            output_names=["last_hidden_state"], dynamic_axes=axes, opset_version=17,
            dynamo=False,
        )


__all__ = ["BACKENDS", "Backend", "BackendUnavailable", "load", "model_label"]
