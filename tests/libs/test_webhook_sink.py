"""Webhook errors name the receiver's origin, never the URL's path, query or credentials."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from libs.sinks import SinkRefused, SinkUnavailable
from libs.sinks.webhook import origin, post_record
from sluice.settings import load_settings
from tests.support.http_server import QuietHTTPServer

SECRET = "tok_3f9a1c"


class Answer(BaseHTTPRequestHandler):
    status = 503

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(type(self).status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = QuietHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("status, error", [(503, SinkUnavailable), (404, SinkRefused)])
def test_an_answer_that_is_not_success_names_only_the_origin(
    receiver: str, tmp_path: Path, status: int, error: type[Exception]
) -> None:
    Answer.status = status
    url = f"{receiver}/hooks/{SECRET}?token={SECRET}"
    settings = load_settings(data_dir=str(tmp_path), sink_webhook_url=url)
    with pytest.raises(error) as raised:
        post_record(settings, "job-1", "support_ticket", 1, {"a": 1})
    assert SECRET not in str(raised.value) and receiver in str(raised.value)


def test_an_unreachable_receiver_names_only_the_origin(tmp_path: Path) -> None:
    url = f"http://user:{SECRET}@127.0.0.1:{_closed_port()}/hooks/{SECRET}"
    settings = load_settings(data_dir=str(tmp_path), sink_webhook_url=url,
                             sink_webhook_timeout_seconds=2)
    with pytest.raises(SinkUnavailable) as raised:
        post_record(settings, "job-1", "support_ticket", 1, {"a": 1})
    assert SECRET not in str(raised.value) and raised.value.__cause__ is None


def test_origin() -> None:
    assert origin(f"https://u:{SECRET}@hooks.example.com:8443/x/{SECRET}?k={SECRET}") == (
        "https://hooks.example.com:8443"
    )
    assert origin("not a url at all") == "(an invalid URL)"
