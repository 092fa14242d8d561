"""A real HTTP server for the crawl tests: the fixture site plus its hostile corners.

Static pages come from ``tests/fixtures/site`` with ETags (and a Last-Modified for
``b.html``) and honour conditional requests. Dynamic routes: ``/robots.txt`` (disallows
``/private/``, optional Crawl-delay, names the sitemap index; or the text a test gives),
``/sitemap-index.xml`` -> ``/sitemap.xml`` and ``/sitemap-more.xml.gz`` (gzipped),
``/error.html`` (always 500), ``/loop/one`` <->
``/loop/two`` (a redirect loop), ``/big.html`` (declares and streams 50 MB) and
``/big-chunked.html`` (streams 50 MB with no length). Every request is logged with the
body bytes the server managed to send, so a test can prove what was not downloaded.
"""

from __future__ import annotations

import gzip
import hashlib
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.support.http_server import QuietHTTPServer

SITE = Path(__file__).resolve().parents[2] / "fixtures" / "site"
BIG_BYTES = 50 * 1024 * 1024
CHUNK = 64 * 1024
B_LAST_MODIFIED = "Wed, 01 Oct 2025 08:00:00 GMT"
TYPES = {".html": "text/html; charset=utf-8", ".pdf": "application/pdf"}


@dataclass
class Hit:
    at: float
    path: str
    status: int
    body_bytes: int
    headers: dict[str, str]


class FixtureSite:
    def __init__(self, crawl_delay: int | None = None, robots_txt: str | None = None) -> None:
        self.crawl_delay = crawl_delay
        self.robots_txt = robots_txt
        self.hits: list[Hit] = []
        self._lock = threading.Lock()
        self._server = QuietHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> FixtureSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def record(self, hit: Hit) -> None:
        with self._lock:
            self.hits.append(hit)

    def requests_for(self, path: str) -> list[Hit]:
        with self._lock:
            return [hit for hit in self.hits if hit.path == path]

    def paths(self) -> set[str]:
        with self._lock:
            return {hit.path for hit in self.hits}

    def robots(self) -> bytes:
        if self.robots_txt is not None:
            return self.robots_txt.encode()
        lines = ["User-agent: *", "Disallow: /private/"]
        if self.crawl_delay is not None:
            lines.append(f"Crawl-delay: {self.crawl_delay}")
        lines.append(f"Sitemap: {self.url}/sitemap-index.xml")
        return ("\n".join(lines) + "\n").encode()

    def sitemap(self, name: str) -> bytes:
        """The index names two sitemaps; one lists a page of another host (skipped)."""
        namespace = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'
        if name == "index":
            children = "".join(f"<sitemap><loc>{self.url}/{child}</loc></sitemap>"
                               for child in ("sitemap.xml", "sitemap-more.xml.gz"))
            index = f'<?xml version="1.0"?><sitemapindex {namespace}>{children}</sitemapindex>'
            return index.encode()
        pages = ["a.html", "b.html"] if name == "pages" else ["index.html"]
        urls = "".join(f"<url><loc>{self.url}/{page}</loc></url>" for page in pages)
        if name == "pages":
            urls += "<url><loc>http://elsewhere.example/page.html</loc></url>"
        xml = f'<?xml version="1.0"?><urlset {namespace}>{urls}</urlset>'.encode()
        return gzip.compress(xml) if name == "more" else xml

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
                      ) -> None:
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                sent = 0
                if body and self.command != "HEAD":
                    self.wfile.write(body)
                    sent = len(body)
                site.record(Hit(time.monotonic(), self.path, status, sent, dict(self.headers)))

            def _stream_big(self, declare_length: bool) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                if declare_length:
                    self.send_header("Content-Length", str(BIG_BYTES))
                else:
                    self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                sent = 0
                block = b"<p>" + b"x" * (CHUNK - 7) + b"</p>"
                try:
                    while sent < BIG_BYTES:
                        if declare_length:
                            self.wfile.write(block)
                        else:
                            self.wfile.write(f"{len(block):x}\r\n".encode() + block + b"\r\n")
                        sent += len(block)
                    if not declare_length:
                        self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    site.record(Hit(time.monotonic(), self.path, 200, sent, dict(self.headers)))
                    self.close_connection = True

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/robots.txt":
                    self._send(200, site.robots(), {"Content-Type": "text/plain"})
                elif path == "/sitemap-index.xml":
                    self._send(200, site.sitemap("index"), {"Content-Type": "application/xml"})
                elif path == "/sitemap.xml":
                    self._send(200, site.sitemap("pages"), {"Content-Type": "application/xml"})
                elif path == "/sitemap-more.xml.gz":
                    self._send(200, site.sitemap("more"), {"Content-Type": "application/x-gzip"})
                elif path == "/error.html":
                    self._send(500, b"oops", {"Content-Type": "text/plain"})
                elif path == "/loop/one":
                    self._send(302, headers={"Location": "/loop/two"})
                elif path == "/loop/two":
                    self._send(301, headers={"Location": f"{site.url}/loop/one"})
                elif path == "/":
                    self._send(301, headers={"Location": "/index.html"})
                elif path == "/big.html":
                    self._stream_big(declare_length=True)
                elif path == "/big-chunked.html":
                    self._stream_big(declare_length=False)
                else:
                    self._static(path)

            def _static(self, path: str) -> None:
                file = (SITE / path.lstrip("/")).resolve()
                if not file.is_file() or SITE not in file.parents:
                    self._send(404, b"not found", {"Content-Type": "text/plain"})
                    return
                body = file.read_bytes()
                etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
                headers = {"Content-Type": TYPES.get(file.suffix, "application/octet-stream")}
                if file.name == "b.html":  # validated by date only
                    headers["Last-Modified"] = B_LAST_MODIFIED
                    if self.headers.get("If-Modified-Since") == B_LAST_MODIFIED:
                        self._send(304, headers=headers)
                        return
                else:
                    headers["ETag"] = etag
                    if self.headers.get("If-None-Match") == etag:
                        self._send(304, headers=headers)
                        return
                self._send(200, body, headers)

        return Handler
