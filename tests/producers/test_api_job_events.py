"""GET /v1/jobs/{id}/events over real HTTP with a real worker: every version the store
writes arrives, in order, and a reconnect resumes after the version it names."""

from __future__ import annotations

import httpx
import pytest

from producers.api.app import create_app
from schemas.job import Job
from sluice.broker_redis import broker_redis
from sluice.enqueue import submit
from sluice.job_events import events_key
from tests.conftest import SluiceEnv
from tests.support.live_api import LiveAPI
from tests.support.sse import Event, events


def watch(url: str, env: SluiceEnv, job_id: str, last_event_id: str | None = None) -> list[Event]:
    headers = env.auth() | ({"Last-Event-ID": last_event_id} if last_event_id else {})
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client, client.stream(
        "GET", f"/v1/jobs/{job_id}/events"
    ) as response:
        assert response.status_code == 200
        return list(events(response))


def submit_flaky(env: SluiceEnv) -> Job:
    job, _ = submit("test.flaky", {"failures": 2}, store=env.store, celery=env.celery,
                    settings=env.settings)
    return job


def test_every_version_of_a_retried_job_arrives_in_order(sluice_env: SluiceEnv) -> None:
    with LiveAPI(create_app(sluice_env.settings)) as api:
        job = submit_flaky(sluice_env)
        sluice_env.worker()
        received = watch(api.url, sluice_env, job.id)
        final = sluice_env.store.get(job.id)

        versions = [int(e.id) for e in received if e.event == "job" and e.id]
        statuses = [e.data["status"] for e in received if e.event == "job"]
        # Nothing folded: each version from the first seen to the last, once.
        assert versions == list(range(versions[0], final.version + 1))
        # Two faults, each seen between two runs, none lost to a slow look.
        assert statuses.count("retrying") == 2
        assert statuses.count("running") == 3
        assert statuses[-1] == "succeeded" and received[-1].event == "end"

        # A reconnect after the first event replays the rest from the stream.
        resumed = watch(api.url, sluice_env, job.id, last_event_id=str(versions[0]))
        assert [int(e.id) for e in resumed if e.id] == versions[1:]


def test_without_the_stream_the_store_still_brings_the_final_state(
    sluice_env: SluiceEnv,
) -> None:
    with LiveAPI(create_app(sluice_env.settings)) as api:
        job = submit_flaky(sluice_env)
        sluice_env.worker()
        first = watch(api.url, sluice_env, job.id)
        assert first[-1].event == "end"
        # The stream is gone (expired, or its broker lost it): the store answers alone.
        assert broker_redis(sluice_env.settings).delete(events_key(job.id)) == 1
        again = watch(api.url, sluice_env, job.id)
        assert [e.data["status"] for e in again if e.event == "job"] == ["succeeded"]
        assert again[-1].event == "end"


def test_a_version_written_before_its_event_is_published_arrives_whole_not_folded(
    sluice_env: SluiceEnv, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from libs.web import job_event_stream
    from schemas.job import JobStatus
    from schemas.job_event import JobEvent
    from sluice.job_events import JobEventPublisher
    from sluice.stores.sqlite import SQLiteJobStore

    # Long enough that only the stream, never the clock, can end the wait below.
    monkeypatch.setattr(job_event_stream, "PUBLISH_LAG_SECONDS", 120.0)
    # A store of its own whose events this test publishes, late, in place of the publisher.
    store = SQLiteJobStore(sluice_env.settings.sqlite_path)
    written: list[tuple[str, int, str]] = []
    store.observe(lambda job, previous: written.append(
        (job.id, job.version, JobEvent.between(previous, job).model_dump_json())))
    job, _ = store.create(Job(kind="echo", input={}))
    store.transition(job.id, JobStatus.RUNNING)
    store.transition(job.id, JobStatus.SUCCEEDED, result={})
    publisher = JobEventPublisher(broker_redis(sluice_env.settings), ttl_seconds=120)
    publisher._send(written[:2])

    received: list[Event] = []
    with LiveAPI(create_app(sluice_env.settings)) as api, httpx.Client(
        base_url=api.url, headers=sluice_env.auth(), timeout=60
    ) as client, client.stream("GET", f"/v1/jobs/{job.id}/events") as response:
        for event in events(response):
            received.append(event)
            if event.id == "1":  # the store is already at 2: its event comes only now
                publisher._send(written[2:])

    job_events = [e.data for e in received if e.event == "job"]
    assert [e["version"] for e in job_events] == [0, 1, 2]
    assert "result" in job_events[-1]["changed"], "the last version was read folded"
    assert received[-1].event == "end"


def test_the_broker_holds_small_events_and_the_end_event_the_whole_job(
    sluice_env: SluiceEnv,
) -> None:
    big = "x" * 200_000
    with LiveAPI(create_app(sluice_env.settings)) as api:
        job, _ = submit("echo", {"payload": big}, store=sluice_env.store,
                        celery=sluice_env.celery, settings=sluice_env.settings)
        sluice_env.worker()
        received = watch(api.url, sluice_env, job.id)

    entries = broker_redis(sluice_env.settings).xrange(events_key(job.id))
    assert entries and all(len(b"".join(fields.values())) < 1000 for _, fields in entries)
    changes = [e.data for e in received if e.event == "job"]
    assert changes[-1]["status"] == "succeeded" and "result" in changes[-1]["changed"]
    assert received[-1].event == "end" and received[-1].data["result"] == {"payload": big}


def test_the_publisher_sends_each_event_with_its_lifetime_and_cap(sluice_env: SluiceEnv) -> None:
    from schemas.job_event import JobEvent
    from sluice.job_events import EVENTS_PER_CALL, MAX_ENTRIES, JobEventPublisher

    client = broker_redis(sluice_env.settings)
    publisher = JobEventPublisher(client, ttl_seconds=120)
    busy, quiet = Job(kind="echo", input={}), Job(kind="echo", input={})
    # Several calls' worth, and for one job twice what its stream keeps: Redis trims
    # whole nodes of at most 100 entries, so a trim is due well before the last.
    versions = 2 * MAX_ENTRIES + 3
    assert versions > 3 * EVENTS_PER_CALL
    batch = [(busy.id, version, JobEvent.between(None, busy).model_dump_json())
             for version in range(1, versions + 1)]
    batch.append((quiet.id, 1, JobEvent.between(None, quiet).model_dump_json()))
    publisher._send(batch)

    busy_entries = client.xrange(events_key(busy.id))
    # Trimmed from its start, approximately: never below the cap, always ending last.
    assert MAX_ENTRIES <= len(busy_entries) < versions
    assert busy_entries[-1][1][b"version"] == str(versions).encode()
    assert [fields[b"version"] for _, fields in client.xrange(events_key(quiet.id))] == [b"1"]
    for key in (events_key(busy.id), events_key(quiet.id)):
        assert 0 < client.ttl(key) <= 120
