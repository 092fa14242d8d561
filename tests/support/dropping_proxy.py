"""A TCP proxy in front of a live API that drops a connection mid-stream, as a flaky
network or a restarted load balancer does.

It relays bytes both ways. The first ``drops`` responses that carry ``marker`` (an SSE
``event:`` line) ``after`` times are cut just after that event: the client has the event,
then the socket dies with the chunked body unfinished. Every request head is kept, so a
test can see what the reconnect asked for (its ``Last-Event-ID``).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

CHUNK = 65536


class DroppingProxy:
    def __init__(self, upstream_port: int, *, marker: bytes, after: int = 1,
                 drops: int = 1) -> None:
        self.upstream_port = upstream_port
        self.marker = marker
        self.after = after
        self.drops = drops
        self.dropped = 0
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._closed = False
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> DroppingProxy:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._closed = True
        self._listener.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                downstream, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            pair = (downstream, upstream)
            threading.Thread(target=self._requests, args=pair, daemon=True).start()
            threading.Thread(target=self._responses, args=pair, daemon=True).start()

    def _requests(self, downstream: socket.socket, upstream: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := downstream.recv(CHUNK):
                with self._lock:
                    self.requests.append(data.decode("latin-1"))
                upstream.sendall(data)
        _close(downstream, upstream)

    def _cut_at(self, seen: bytes) -> int | None:
        """Where to cut the bytes of this connection's responses, once ``marker`` has come
        ``after`` times with the end of that event; None: not yet (or no more drops)."""
        with self._lock:
            if self.dropped >= self.drops:
                return None
        position = -1
        for _ in range(self.after):
            position = seen.find(self.marker, position + 1)
            if position < 0:
                return None
        end = seen.find(b"\n\n", position)
        if end < 0:
            return None
        cut = end + 2
        if seen[cut:cut + 2] == b"\r\n":  # the end of the chunk that held the event
            cut += 2
        return cut

    def _responses(self, downstream: socket.socket, upstream: socket.socket) -> None:
        seen = b""
        with contextlib.suppress(OSError):
            while data := upstream.recv(CHUNK):
                sent = len(seen)
                seen += data
                cut = self._cut_at(seen)
                if cut is None:
                    downstream.sendall(data)
                    continue
                downstream.sendall(seen[sent:cut])
                with self._lock:
                    self.dropped += 1
                break
        _close(downstream, upstream)


def _close(*sockets: socket.socket) -> None:
    for sock in sockets:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
