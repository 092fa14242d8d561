"""The client's pure parts: error bodies into named exceptions, and the stream readers
that remember where to resume."""

from __future__ import annotations

import httpx
import pytest
from httpx_sse import ServerSentEvent

from schemas.job import Job, JobStatus
from sluice.client import (
    AnswerFailed,
    Conflict,
    InvalidRequest,
    JobNotFound,
    NotFound,
    RateLimited,
    ServerError,
    SluiceClient,
    Unauthorized,
)
from sluice.client.calls import AnswerWatch, JobWatch, reconnect_delays
from sluice.client.errors import error_for


def test_problem_details_give_status_title_detail_and_field_errors() -> None:
    response = httpx.Response(422, json={
        "type": "about:blank", "title": "Unprocessable Content", "status": 422,
        "detail": "the record is invalid",
        "errors": [{"loc": ["body", "record", "order_id"], "msg": "bad", "type": "x"}],
    })
    error = error_for(response)
    assert isinstance(error, InvalidRequest)
    assert (error.status, error.title, error.detail) == (422, "Unprocessable Content",
                                                         "the record is invalid")
    assert error.errors[0]["loc"] == ["body", "record", "order_id"]
    assert error.extra == {"type": "about:blank"}


def test_fastapi_bodies_are_read_too() -> None:
    fields = error_for(httpx.Response(422, json={"detail": [{"loc": ["body", "kind"],
                                                              "msg": "unknown kind"}]}))
    assert fields.errors == [{"loc": ["body", "kind"], "msg": "unknown kind"}]
    assert fields.detail == "unknown kind"
    missing = error_for(httpx.Response(404, json={"detail": "job x not found"}), JobNotFound)
    assert isinstance(missing, JobNotFound) and isinstance(missing, NotFound)
    assert missing.detail == "job x not found"
    failed = error_for(httpx.Response(502, json={"detail": {"job_id": "j", "error": "boom"}}))
    assert isinstance(failed, ServerError) and failed.extra["job_id"] == "j"
    assert failed.detail == "boom"
    assert isinstance(error_for(httpx.Response(401, text="no")), Unauthorized)
    assert isinstance(error_for(httpx.Response(409, json={"detail": "x"})), Conflict)


def test_a_rate_limit_says_when_to_come_back() -> None:
    error = error_for(httpx.Response(429, headers={"Retry-After": "7"},
                                     json={"detail": "slow down"}))
    assert isinstance(error, RateLimited) and error.retry_after == 7.0


def test_a_job_watch_resumes_after_the_last_version_and_keeps_the_end() -> None:
    watch = JobWatch("j1")
    assert watch.headers() == {}
    event = watch.read(ServerSentEvent("job", (
        '{"id": "j1", "version": 3, "status": "succeeded", "reason": null, '
        '"updated_at": "2026-01-01T00:00:00Z", "changed": ["status"]}'), "3"))
    assert event is not None and event.status is JobStatus.SUCCEEDED
    assert watch.headers() == {"Last-Event-ID": "3"} and watch.settled_without_end()
    assert watch.read(ServerSentEvent("end", Job(id="j1", kind="echo").model_dump_json())) is None
    assert watch.final is not None and watch.final.id == "j1"


def test_an_answer_watch_posts_once_then_resumes_by_job() -> None:
    watch = AnswerWatch({"question": "q", "idempotency_key": "k"})
    assert watch.request() == ("POST", "/v1/ask/stream", {"question": "q",
                                                          "idempotency_key": "k"})
    assert watch.read(ServerSentEvent("job", '{"job_id": "a1"}')) is None
    token = watch.read(ServerSentEvent("token", '{"text": " hi"}', "5-0"))
    assert token is not None and token.text == " hi"
    assert watch.request() == ("GET", "/v1/ask/a1/stream", None)
    assert watch.headers() == {"Last-Event-ID": "5-0"}
    with pytest.raises(AnswerFailed) as failed:
        watch.read(ServerSentEvent("error", '{"status": "dead", "error": "refused"}', "6-0"))
    assert failed.value.extra["job_id"] == "a1" and watch.done


def test_reconnects_back_off_and_stop() -> None:
    delays = list(reconnect_delays(8))
    assert len(delays) == 8 and delays[0] < delays[1] and max(delays) <= 5.0


def test_wait_reconnects_through_a_503_and_reads_the_end() -> None:
    """A load balancer's 503 while the API restarts is a reason to reconnect, not to fail."""
    final = Job(id="j1", kind="echo", status=JobStatus.SUCCEEDED, version=2)
    event = ('{"id": "j1", "version": 2, "status": "succeeded", "reason": null, '
             '"updated_at": "2026-01-01T00:00:00Z", "changed": ["status"]}')
    answers = [
        httpx.Response(503, text="upstream restarting"),
        httpx.Response(200, headers={"Content-Type": "text/event-stream"},
                       text=f"id: 2\nevent: job\ndata: {event}\n\n"
                            f"event: end\ndata: {final.model_dump_json()}\n\n"),
    ]
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        return answers.pop(0)

    with SluiceClient("http://sluice.test", "key",
                      transport=httpx.MockTransport(answer)) as client:
        assert client.wait("j1", timeout=10) == final
    assert [request.url.path for request in asked] == ["/v1/jobs/j1/events"] * 2
    assert asked[0].headers["Authorization"] == "Bearer key"
