"""Refuse request bodies over ``SLUICE_MAX_REQUEST_BYTES`` with 413 before the app sees them.

A declared Content-Length over the limit is refused at once. Otherwise the body (chunked
or not) is read here, never more than the limit plus one chunk, and replayed to the app:
an oversized body is refused while it streams, and the app never parses half of one.

``uploads`` names paths whose ``multipart/form-data`` bodies may be larger (a file upload
has its own limit, checked again by the route, which says which file was too big).
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    def __init__(
        self, app: ASGIApp, max_bytes: int, uploads: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads or {}

    def _limit(self, scope: Scope) -> int:
        headers = dict(scope["headers"])
        multipart = headers.get(b"content-type", b"").startswith(b"multipart/form-data")
        if multipart and scope["path"] in self.uploads:
            return max(self.max_bytes, self.uploads[scope["path"]])
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(send, limit)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                await self._refuse(send, limit)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, send: Send, limit: int) -> None:
        # RFC 9457 problem details, the shape of every error the API answers.
        body = json.dumps({
            "type": "about:blank", "title": "Content Too Large", "status": 413,
            "detail": f"request body is larger than {limit} bytes",
        }).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
