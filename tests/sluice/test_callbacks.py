"""Job callbacks: owed when a job settles, sent by the due sweep, signed, retried, and
verified by a real HTTP receiver with the client library's own verify function."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import pytest
import redis

from schemas.job import CallbackStatus, Job, JobStatus, utcnow
from sluice.callbacks import check_callback_url
from sluice.client.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    CallbackRejected,
    verify_callback,
)
from sluice.due import sweep_due
from sluice.enqueue import submit
from sluice.errors import CallbackNotAllowed
from sluice.settings import load_settings
from tests.conftest import SluiceEnv, make_env
from tests.support.http_server import QuietHTTPServer
from tests.support.polling import wait_for

SECRET = "callback-test-secret"
CALLBACK_PLUGINS = "tests.support.kernel_tasks,workers.callbacks"


def callback_settings(**overrides: Any) -> dict[str, Any]:
    return {
        "callback_secret": SECRET,
        "callback_allowed_hosts": "127.0.0.1",
        "callback_allowed_networks": "127.0.0.1/32",
        "callback_allow_http": True,
        "plugins": CALLBACK_PLUGINS,
        **overrides,
    }


@pytest.fixture
def env_with(sluice_env: SluiceEnv) -> Iterator[Callable[..., SluiceEnv]]:
    """Another env on the same Redis with callback settings; its workers stopped after."""
    made: list[SluiceEnv] = []

    def make(name: str, **overrides: Any) -> SluiceEnv:
        env = make_env(sluice_env.tmp / name, sluice_env.settings.broker_url or "",
                       **callback_settings(**overrides))
        made.append(env)
        return env

    yield make
    for env in made:
        for worker in env.workers:
            worker.stop()
        env.store.close()


@dataclass
class Receiver:
    """A service that receives callbacks: verifies each, answers the scripted statuses."""

    statuses: list[int]
    received: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver(statuses=[])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            try:
                event = verify_callback(body, self.headers.get(SIGNATURE_HEADER), SECRET)
            except CallbackRejected as exc:
                state.rejected.append(str(exc))
                self.send_response(400)
                self.end_headers()
                return
            event["_delivery_header"] = self.headers.get(DELIVERY_HEADER)
            state.received.append(event)
            code = state.statuses.pop(0) if state.statuses else 200
            self.send_response(code)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = QuietHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/sluice?token=abc"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def test_the_signature_verifies_and_a_changed_body_or_old_stamp_does_not() -> None:
    from sluice.client.webhooks import sign_callback

    body = b'{"job_id": "j1", "event": "succeeded"}'
    header = sign_callback(SECRET, body)
    assert verify_callback(body, header, SECRET)["job_id"] == "j1"
    with pytest.raises(CallbackRejected, match="does not match"):
        verify_callback(body.replace(b"j1", b"j2"), header, SECRET)
    with pytest.raises(CallbackRejected, match="does not match"):
        verify_callback(body, header, "another-secret")
    old = sign_callback(SECRET, body, timestamp=1_000_000)
    with pytest.raises(CallbackRejected, match="off"):
        verify_callback(body, old, SECRET)
    with pytest.raises(CallbackRejected, match="malformed"):
        verify_callback(body, "v1=abc", SECRET)


def test_only_allowed_hosts_over_https_with_a_secret_may_be_called_back() -> None:
    settings = load_settings(callback_secret=SECRET, callback_allowed_hosts="hooks.example.com,"
                             "*.partner.example")
    check_callback_url(settings, "https://hooks.example.com/sluice")
    check_callback_url(settings, "https://eu.partner.example/x")
    for refused in ("https://evil.example/x", "http://hooks.example.com/x",
                    "https://user:pw@hooks.example.com/", "https://partner.example.evil/x",
                    "ftp://hooks.example.com/", "not a url"):
        with pytest.raises(CallbackNotAllowed):
            check_callback_url(settings, refused)
    with pytest.raises(CallbackNotAllowed, match="SECRET"):
        check_callback_url(load_settings(callback_allowed_hosts="hooks.example.com"),
                           "https://hooks.example.com/")


def test_settling_owes_one_callback_per_settlement_and_a_claim_owes_none(
    env_with: Callable[..., SluiceEnv],
) -> None:
    env = env_with("owed")
    job, _ = submit("echo", {"a": 1}, store=env.store, celery=env.celery, settings=env.settings,
                    callback_url="http://127.0.0.1:9/hook")
    assert job.callbacks == [] and job.wake_at is None
    env.store.transition(job.id, JobStatus.RUNNING)
    dead = env.store.transition(job.id, JobStatus.DEAD, error="boom")
    assert [c.event for c in dead.callbacks] == [JobStatus.DEAD]
    assert dead.wake_at is not None and dead.wake_at <= utcnow()
    assert [found.id for found in env.store.due(utcnow())] == [job.id]
    claimed = env.store.transition(job.id, JobStatus.CLAIMED)
    released = env.store.transition(job.id, JobStatus.DEAD)
    assert len(claimed.callbacks) == len(released.callbacks) == 1
    discarded = env.store.transition(job.id, JobStatus.DISCARDED)
    assert [c.event for c in discarded.callbacks] == [JobStatus.DEAD, JobStatus.DISCARDED]
    assert len({c.delivery_id for c in discarded.callbacks}) == 2


def wait_callbacks_settled(env: SluiceEnv, job_id: str, timeout: float = 60) -> Job:
    def settled() -> Job | None:
        job = env.store.get(job_id)
        done = job.callbacks and all(
            c.status in (CallbackStatus.DELIVERED, CallbackStatus.FAILED) for c in job.callbacks
        )
        return job if done else None

    return wait_for(settled, timeout=timeout, what=f"job {job_id}'s callbacks to settle")


@pytest.mark.slow
def test_a_signed_callback_is_verified_by_the_receiver_after_a_retry(
    env_with: Callable[..., SluiceEnv], receiver: Receiver,
) -> None:
    env = env_with("live")
    env.worker(pool="threads")
    receiver.statuses = [503]  # the receiver is busy once: the callback must come again
    job, _ = submit("echo", {"order": 42}, store=env.store, celery=env.celery,
                    settings=env.settings, idempotency_key="t:default:order-42",
                    callback_url=receiver.url)

    done = wait_callbacks_settled(env, job.id)

    assert done.status is JobStatus.SUCCEEDED
    [callback] = done.callbacks
    assert callback.status is CallbackStatus.DELIVERED
    assert callback.attempts == 2 and callback.last_http_status == 200
    assert receiver.rejected == []
    first, second = receiver.received
    assert first["delivery_id"] == second["delivery_id"] == callback.delivery_id
    assert second["_delivery_header"] == callback.delivery_id
    assert second["job_id"] == job.id and second["event"] == "succeeded"
    assert second["result"] == {"order": 42}
    assert second["idempotency_key"] == "order-42"  # the client's key, not the stored one


@pytest.mark.slow
def test_a_callback_to_a_private_address_is_refused_by_the_ssrf_guard(
    env_with: Callable[..., SluiceEnv], receiver: Receiver,
) -> None:
    env = env_with("guarded", callback_allowed_networks="")
    env.worker(pool="threads")
    job, _ = submit("echo", {}, store=env.store, celery=env.celery, settings=env.settings,
                    callback_url=receiver.url)

    done = wait_callbacks_settled(env, job.id)

    [callback] = done.callbacks
    assert callback.status is CallbackStatus.FAILED and callback.attempts == 1
    assert "SSRF guard" in (callback.last_error or "")
    assert "token" not in (callback.last_error or "")  # the URL's secret stays out
    assert receiver.received == []


def test_the_callback_body_is_json_the_receiver_can_read() -> None:
    from schemas.job import CallbackDelivery
    from sluice.callbacks import summary

    job = Job(kind="echo", status=JobStatus.SUCCEEDED, result={"x": 1}, tenant="acme",
              idempotency_key="t:acme:k1")
    payload = summary(job, CallbackDelivery(event=JobStatus.SUCCEEDED))
    assert json.loads(json.dumps(payload, default=str))["idempotency_key"] == "k1"


@pytest.mark.slow
def test_a_callback_whose_message_is_lost_is_sent_again_when_its_lease_ends(
    env_with: Callable[..., SluiceEnv],
) -> None:
    env = env_with("lease")
    io = redis.Redis(unix_socket_path=(env.settings.broker_url or "").removeprefix(
        "redis+socket://"))
    job, _ = submit("echo", {}, store=env.store, celery=env.celery, settings=env.settings,
                    callback_url="http://127.0.0.1:9/hook")
    env.store.transition(job.id, JobStatus.RUNNING)
    env.store.transition(job.id, JobStatus.SUCCEEDED)
    io.delete("io")

    assert sweep_due(env.store, env.celery, env.settings) == 1
    assert io.llen("io") == 1
    assert sweep_due(env.store, env.celery, env.settings) == 0  # leased: not sent twice
    io.delete("io")  # the broker loses it (a Redis restart without persistence)

    leased_until = env.store.get(job.id).callbacks[0].due_at
    assert leased_until is not None
    wait_for(lambda: sweep_due(env.store, env.celery, env.settings),
             timeout=(leased_until - utcnow()).total_seconds() + 5,
             what="the sweep to send the callback again")
    assert io.llen("io") == 1
    assert utcnow() >= leased_until
