"""What an endpoint really enforces, found once per endpoint and model with a canary schema.

Servers accept ``response_format`` options they ignore, reject ones they do not know, or
crash on them (llama.cpp answers ``json_schema`` with HTTP 500). So each endpoint/model is
asked for a JSON object under a schema whose only valid value (an enum) is never mentioned
in the prompt: only a decoder that enforces the schema can produce it. Modes are tried
strongest first; the answer is cached in the process and in ``DATA_DIR/llm_modes.json``.
``SLUICE_LLM_STRUCTURED_MODE`` skips probing when the endpoint is known.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import structlog

from libs.http_faults import is_transient_status
from libs.llm.chat import Endpoint, LLMRejected, LLMUnavailable, chat
from sluice.settings import Settings
from sluice.settings.llm import StructuredMode as StructuredMode  # its home is the settings
from workers.extraction.decoding_schema import strict_schema

log = structlog.get_logger(__name__)

CANARY_VALUE = "sluice-canary-7f3a"
CANARY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"canary": {"type": "string", "enum": [CANARY_VALUE]}},
    "required": ["canary"],
    "additionalProperties": False,
}
CANARY_PROMPT = "Reply with a JSON object."
CACHE_TTL_SECONDS = 24 * 3600
# A 500 during the probe says "not this option" (llama.cpp's answer to json_schema), not
# "not now": the probe tries the next mode instead of backing off.
_MODE_UNSUPPORTED = 500


def response_format(
    mode: StructuredMode, name: str, schema: dict[str, Any]
) -> dict[str, Any] | None:
    """The ``response_format`` request option for ``mode`` (None: send none)."""
    if mode is StructuredMode.JSON_SCHEMA:
        strict = {"name": name, "schema": strict_schema(schema), "strict": True}
        return {"type": "json_schema", "json_schema": strict}
    if mode is StructuredMode.JSON_OBJECT_SCHEMA:
        return {"type": "json_object", "schema": schema}
    if mode is StructuredMode.JSON_OBJECT:
        return {"type": "json_object"}
    return None


class ProbeFailed(Exception):
    """The endpoint answered no probe at all, not even a plain prompt."""


_lock = threading.Lock()
_memory: dict[tuple[str, str], StructuredMode] = {}


def endpoint_mode(settings: Settings, endpoint: Endpoint) -> StructuredMode:
    """The strongest mode ``endpoint`` enforces (configured, cached, or probed now).

    Raises :class:`LLMUnavailable` when the endpoint cannot be reached: nothing is cached.
    """
    if settings.llm_structured_mode != "auto":
        return StructuredMode(settings.llm_structured_mode)
    key = (endpoint.base_url, endpoint.model)
    with _lock:
        known = _memory.get(key) or _read_cache(settings, endpoint)
        if known is not None:
            _memory[key] = known
            return known
    mode = probe(settings, endpoint)
    with _lock:
        _memory[key] = mode
        _write_cache(settings, endpoint, mode)
    log.info("endpoint probed", endpoint=endpoint.base_url, model=endpoint.model, mode=mode)
    return mode


def probe(settings: Settings, endpoint: Endpoint) -> StructuredMode:
    """Ask with each mode, strongest first; the first whose answer proves enforcement wins."""
    messages = [{"role": "user", "content": CANARY_PROMPT}]
    for mode in StructuredMode:
        fmt = response_format(mode, "sluice_canary", CANARY_SCHEMA)
        try:
            result = chat(
                settings, endpoint, messages, max_tokens=32, temperature=0.0,
                response_format=fmt, purpose="probe",
            )
        except LLMUnavailable as exc:
            not_now = is_transient_status(exc.status) and exc.status != _MODE_UNSUPPORTED
            if not_now or mode is StructuredMode.PROMPT:
                raise
            continue  # e.g. llama.cpp's HTTP 500 for json_schema: this mode is not there
        except LLMRejected:
            if mode is StructuredMode.PROMPT:
                raise
            continue
        if _proves(mode, result.text):
            return mode
    return StructuredMode.PROMPT


def _proves(mode: StructuredMode, text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return mode is StructuredMode.PROMPT
    if mode is StructuredMode.PROMPT:
        return True
    if mode is StructuredMode.JSON_OBJECT:
        return isinstance(value, dict)
    return isinstance(value, dict) and value.get("canary") == CANARY_VALUE


def forget(endpoint: Endpoint | None = None) -> None:
    """Drop cached answers in this process (tests; an endpoint that was upgraded)."""
    with _lock:
        if endpoint is None:
            _memory.clear()
        else:
            _memory.pop((endpoint.base_url, endpoint.model), None)


def _cache_path(settings: Settings) -> Path:
    return settings.data_dir / "llm_modes.json"


def _read_cache(settings: Settings, endpoint: Endpoint) -> StructuredMode | None:
    try:
        entries = json.loads(_cache_path(settings).read_text())
        entry = entries[f"{endpoint.base_url} {endpoint.model}"]
        if time.time() - float(entry["at"]) > CACHE_TTL_SECONDS:
            return None
        return StructuredMode(entry["mode"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_cache(settings: Settings, endpoint: Endpoint, mode: StructuredMode) -> None:
    path = _cache_path(settings)
    try:
        entries = json.loads(path.read_text()) if path.exists() else {}
    except (OSError, ValueError):
        entries = {}
    entries[f"{endpoint.base_url} {endpoint.model}"] = {"mode": mode.value, "at": time.time()}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(entries, indent=1))
        temporary.replace(path)
    except OSError as exc:
        log.warning("cannot cache the endpoint mode", path=str(path), error=str(exc))
