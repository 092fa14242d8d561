"""The one place that talks to the LLM: OpenAI-compatible endpoints through ``openai``.

:mod:`libs.llm.call` holds what every call shares (endpoints and their order, the hooks
and budget check before a call, the sorting of faults); :mod:`libs.llm.chat` is the
plain call, :mod:`libs.llm.stream` the streamed one.
"""

from __future__ import annotations

import os
import threading

from openai import OpenAI

from sluice.settings import Settings

# Where `sluice up` serves the embedded local model when no endpoint is configured.
LOCAL_LLM_PORT = 8766


def llm_base_url(settings: Settings) -> str:
    return settings.llm_base_url or f"http://127.0.0.1:{LOCAL_LLM_PORT}/v1"


_clients: dict[tuple[str, str, float], OpenAI] = {}
_clients_lock = threading.Lock()
# A forked pool child must not share its parent's sockets: it builds its own clients.
os.register_at_fork(after_in_child=_clients.clear)


def openai_client(settings: Settings, base_url: str | None = None) -> OpenAI:
    """The client for ``base_url`` (default: the configured endpoint), one per process.

    Retries are off: transient faults go back to Celery's backoff, where they are visible
    on the job and never counted as attempts. Clients are kept, so calls reuse the
    connection pool; an ``httpx`` client is safe to share between threads.
    """
    url = (base_url or llm_base_url(settings)).rstrip("/")
    key = (url, settings.llm_api_key.get_secret_value(), settings.llm_timeout_seconds)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = OpenAI(
                base_url=url, api_key=key[1], timeout=settings.llm_timeout_seconds, max_retries=0
            )
            _clients[key] = client
    return client
