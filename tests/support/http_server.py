"""A threading HTTP server for test peers that takes a client hanging up in stride.

Timeout tests make the client give up mid-reply; the standard server then prints a stack
trace for the broken pipe, which is noise, not a failure. Anything else still prints.
"""

from __future__ import annotations

from http.server import ThreadingHTTPServer
from typing import Any


class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)
