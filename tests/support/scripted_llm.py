"""A real HTTP server speaking the OpenAI chat-completions protocol, replying from a script.

Tests queue :class:`Reply` objects (or install a ``responder`` function); every request body
is kept in ``requests`` so a test can assert what the model was sent. Streaming replies go
out as server-sent events one token at a time, with ``token_delay`` between tokens.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.http_server import QuietHTTPServer


@dataclass
class Reply:
    content: str = ""
    status: int = 200
    finish_reason: str = "stop"
    # Seconds before answering: longer than the client's timeout simulates a timeout.
    delay: float = 0.0
    token_delay: float = 0.0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    error_body: dict[str, Any] | None = None
    # Streaming only: drop the connection after this many tokens, mid-answer.
    break_after: int | None = None


Responder = Callable[[dict[str, Any]], Reply]


def _count_tokens(text: str) -> int:
    return max(1, len(text.split()))


def _tokens(text: str) -> list[str]:
    """Split into word pieces that concatenate back to ``text`` exactly."""
    pieces: list[str] = []
    for index, word in enumerate(text.split(" ")):
        pieces.append(word if index == 0 else " " + word)
    return [piece for piece in pieces if piece]


class ScriptedLLM:
    def __init__(
        self, responder: Responder | None = None, model: str = "scripted-model", port: int = 0
    ) -> None:
        self.model = model
        self.responder = responder
        self.script: deque[Reply] = deque()
        self.requests: list[dict[str, Any]] = []
        # (time.monotonic(), token) as each streamed token was written to the socket.
        self.streamed: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._server = QuietHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ScriptedLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def enqueue(self, *replies: Reply) -> None:
        with self._lock:
            self.script.extend(replies)

    def _next_reply(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            self.requests.append(body)
            if self.script:
                return self.script.popleft()
        if self.responder is not None:
            return self.responder(body)
        return Reply(status=500, error_body={"error": {"message": "script exhausted"}})

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        llm = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    models = [{"id": llm.model, "object": "model"}]
                    self._json(200, {"object": "list", "data": models})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                reply = llm._next_reply(body)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.status != 200:
                    self._json(reply.status, reply.error_body or {"error": {"message": "scripted"}})
                elif body.get("stream"):
                    self._stream(body, reply)
                else:
                    self._json(200, self._completion(body, reply))

            def _usage(self, body: dict[str, Any], reply: Reply) -> dict[str, int]:
                prompt = reply.prompt_tokens
                if prompt is None:
                    messages = body.get("messages", [])
                    prompt = sum(_count_tokens(str(m.get("content", ""))) for m in messages)
                completion = reply.completion_tokens or _count_tokens(reply.content)
                return {"prompt_tokens": prompt, "completion_tokens": completion,
                        "total_tokens": prompt + completion}

            def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
                return {
                    "id": f"chatcmpl-{uuid.uuid4().hex}",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": llm.model,
                    "choices": [{
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": reply.finish_reason,
                    }],
                    "usage": self._usage(body, reply),
                }

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _event(self, payload: dict[str, Any] | str) -> None:
                text = payload if isinstance(payload, str) else json.dumps(payload)
                data = f"data: {text}\n\n".encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def _stream(self, body: dict[str, Any], reply: Reply) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk_id = f"chatcmpl-{uuid.uuid4().hex}"

                def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
                    return {
                        "id": chunk_id, "object": "chat.completion.chunk",
                        "created": int(time.time()), "model": llm.model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    }

                self._event(chunk({"role": "assistant", "content": ""}))
                for index, token in enumerate(_tokens(reply.content)):
                    if reply.break_after is not None and index >= reply.break_after:
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    if reply.token_delay:
                        time.sleep(reply.token_delay)
                    self._event(chunk({"content": token}))
                    llm.streamed.append((time.monotonic(), token))
                self._event(chunk({}, reply.finish_reason))
                if (body.get("stream_options") or {}).get("include_usage"):
                    usage = {"id": chunk_id, "object": "chat.completion.chunk",
                             "created": int(time.time()), "model": llm.model, "choices": [],
                             "usage": self._usage(body, reply)}
                    self._event(usage)
                self._event("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        return Handler
