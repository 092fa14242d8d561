"""The one table of transient HTTP faults: what is retried, what is refused for good."""

from __future__ import annotations

import httpx
import pytest

from libs.http_faults import HttpFault, classify, is_transient_status


@pytest.mark.parametrize("code", [408, 425, 429, 500, 502, 503, 504, None])
def test_busy_or_down_servers_and_no_answer_are_transient(code: int | None) -> None:
    assert is_transient_status(code)


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 413, 422, 501, 505])
def test_a_refused_request_is_not_transient(code: int) -> None:
    assert not is_transient_status(code)


def test_a_response_is_sorted_by_its_status_and_success_is_no_fault() -> None:
    request = httpx.Request("POST", "http://sink.test/records")
    assert classify(httpx.Response(503, request=request)) is HttpFault.TRANSIENT
    assert classify(httpx.Response(422, request=request)) is HttpFault.PERMANENT
    assert classify(httpx.Response(201, request=request)) is None
    assert classify(httpx.Response(304, request=request)) is None


def test_exceptions_are_sorted_by_status_or_as_transport_failures() -> None:
    request = httpx.Request("GET", "http://site.test/")
    status_error = httpx.HTTPStatusError(
        "busy", request=request, response=httpx.Response(429, request=request)
    )
    assert classify(status_error) is HttpFault.TRANSIENT
    assert classify(httpx.ConnectTimeout("slow", request=request)) is HttpFault.TRANSIENT
    assert classify(ConnectionRefusedError()) is HttpFault.TRANSIENT

    class SdkError(Exception):  # the shape of openai.APIStatusError
        status_code = 400

    assert classify(SdkError()) is HttpFault.PERMANENT


def test_an_exception_that_is_no_http_fault_is_a_bug_not_a_retry() -> None:
    with pytest.raises(TypeError):
        classify(KeyError("status"))
