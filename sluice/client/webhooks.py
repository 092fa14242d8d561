"""Verifying a Sluice callback: the HMAC scheme of Stripe's and GitHub's webhooks.

Each callback POST carries ``Sluice-Signature: t=<unix seconds>,v1=<hex>``, where ``v1`` is
HMAC-SHA256 under the shared secret (``SLUICE_CALLBACK_SECRET``) of ``f"{t}.{body}"``,
the raw request body as bytes. A receiver checks it before it parses the JSON::

    from sluice.client.webhooks import verify_callback, CallbackRejected

    try:
        event = verify_callback(request_body, request.headers["Sluice-Signature"], secret)
    except CallbackRejected:
        return 400
    if seen(event["delivery_id"]):   # delivered at least once: drop a repeat
        return 200
    handle(event)                     # event["job_id"], event["event"], event["result"]

The timestamp bounds a replay (``tolerance_seconds``, 5 minutes by default); the
comparison is constant-time. Sluice signs with :func:`sign_callback` from this module, so
sender and receiver share one definition of the scheme.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

SIGNATURE_HEADER = "Sluice-Signature"
DELIVERY_HEADER = "Sluice-Delivery"
DEFAULT_TOLERANCE_SECONDS = 300


class CallbackRejected(ValueError):
    """The signature is missing, malformed, wrong, or too old; do not act on the body."""


def _digest(secret: str | bytes, timestamp: int, body: bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign_callback(secret: str | bytes, body: bytes, timestamp: int | None = None) -> str:
    """The ``Sluice-Signature`` header value for ``body`` at ``timestamp`` (now)."""
    moment = int(time.time()) if timestamp is None else timestamp
    return f"t={moment},v1={_digest(secret, moment, body)}"


def verify_callback(
    body: bytes,
    header: str | None,
    secret: str | bytes,
    *,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """The callback's JSON when ``header`` signs ``body`` under ``secret`` within the
    tolerance; :class:`CallbackRejected` otherwise. Several ``v1`` values (a secret being
    rotated) pass when any one matches."""
    if not header:
        raise CallbackRejected(f"no {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1" and value:
            signatures.append(value)
    if timestamp is None or not signatures:
        raise CallbackRejected(f"malformed {SIGNATURE_HEADER} header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise CallbackRejected(f"signature timestamp is {current - timestamp:.0f} s off")
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in signatures):
        raise CallbackRejected("signature does not match")
    parsed: dict[str, Any] = json.loads(body)
    return parsed


__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "CallbackRejected",
    "sign_callback",
    "verify_callback",
]
