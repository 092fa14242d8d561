"""Sluice's Python client: sync and async, on httpx, answering with the models of
:mod:`schemas`. It imports only httpx, httpx-sse and ``schemas``, so a service that submits
jobs installs Sluice without running any of it. See docs/client.md.
"""

from sluice.client.asynchronous import AsyncSluiceClient
from sluice.client.calls import AnswerEvent
from sluice.client.errors import (
    AnswerFailed,
    Conflict,
    DocumentNotFound,
    Forbidden,
    InvalidRequest,
    JobNotFound,
    NotFound,
    RateLimited,
    ServerError,
    SluiceError,
    StreamBroken,
    Unauthorized,
    WaitTimedOut,
)
from sluice.client.sync import SluiceClient
from sluice.client.webhooks import CallbackRejected, verify_callback

__all__ = [
    "AnswerEvent",
    "AnswerFailed",
    "AsyncSluiceClient",
    "CallbackRejected",
    "Conflict",
    "DocumentNotFound",
    "Forbidden",
    "InvalidRequest",
    "JobNotFound",
    "NotFound",
    "RateLimited",
    "ServerError",
    "SluiceClient",
    "SluiceError",
    "StreamBroken",
    "Unauthorized",
    "WaitTimedOut",
    "verify_callback",
]
