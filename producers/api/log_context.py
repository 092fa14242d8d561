"""Request-scoped log context: every line logged while serving a request about a job
carries its ``job_id`` (and a ``request_id`` to tie a request's lines together)."""

from __future__ import annotations

import re
import uuid

import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

JOB_PATH = re.compile(r"^/v1/(?:jobs|dlq|traces)/(?P<job_id>[0-9a-f]{32})(?:/|$)")


class LogContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        request_id = headers.get(b"x-request-id", b"").decode("latin-1")[:64]
        context: dict[str, str] = {"request_id": request_id or uuid.uuid4().hex[:16]}
        match = JOB_PATH.match(scope.get("path", ""))
        if match:
            context["job_id"] = match["job_id"]
        # Each request runs in its own context copy: these bindings end with it.
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**context)
        await self.app(scope, receive, send)
