"""sluice.client against a live API (uvicorn on a loopback port, real workers): submit
with an idempotency key, named errors, cursor pages, DLQ actions, and ``wait`` following
a job's events through a connection a proxy drops after the first event."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from producers.api.app import create_app
from schemas.job import DeadReason, Job, JobStatus
from sluice.client import (
    AsyncSluiceClient,
    Conflict,
    Forbidden,
    InvalidRequest,
    JobNotFound,
    RateLimited,
    SluiceClient,
    Unauthorized,
    WaitTimedOut,
)
from tests.conftest import API_KEY, SluiceEnv
from tests.support.dropping_proxy import DroppingProxy
from tests.support.live_api import LiveAPI


def test_submit_get_cancel_and_named_errors(sluice_env: SluiceEnv) -> None:
    with LiveAPI(create_app(sluice_env.settings)) as api, SluiceClient(api.url, API_KEY) as client:
        job = client.submit("echo", {"hello": "client"}, idempotency_key="order-1")
        again = client.submit("echo", {"hello": "client"}, idempotency_key="order-1")
        assert again.id == job.id and again.status is JobStatus.QUEUED
        assert client.get(job.id).input == {"hello": "client"}
        with pytest.raises(Conflict) as conflict:
            client.submit("echo", {"hello": "other"}, idempotency_key="order-1")
        assert conflict.value.status == 409 and "order-1" in conflict.value.detail

        assert client.cancel(job.id).status is JobStatus.CANCELLED
        with pytest.raises(Conflict):
            client.cancel(job.id)
        with pytest.raises(JobNotFound) as missing:
            client.get("no-such-job")
        assert missing.value.status == 404
        with pytest.raises(InvalidRequest) as invalid:
            client.submit("no.such.kind")
        assert invalid.value.status == 422
        assert invalid.value.errors[0]["loc"] == ["body", "kind"]

        with SluiceClient(api.url) as anonymous, pytest.raises(Unauthorized):
            anonymous.get(job.id)
        with SluiceClient(api.url, "not-a-key") as stranger, pytest.raises(Forbidden):
            stranger.get(job.id)


def test_a_rate_limit_says_when_and_a_wait_gives_up_at_its_timeout(
    sluice_env: SluiceEnv,
) -> None:
    settings = sluice_env.settings.model_copy(
        update={"submit_rate_per_minute": 1, "submit_burst": 1})
    with LiveAPI(create_app(settings)) as api, SluiceClient(api.url, API_KEY) as client:
        job = client.submit("echo", {"n": 1})
        with pytest.raises(RateLimited) as limited:
            client.submit("echo", {"n": 2})
        assert limited.value.status == 429 and (limited.value.retry_after or 0) > 0
        with pytest.raises(WaitTimedOut) as late:
            client.wait(job.id, timeout=1)  # no worker: it stays queued
        assert late.value.job_id == job.id and late.value.last_status == "queued"


def test_wait_follows_the_events_through_a_dropped_connection(
    sluice_env: SluiceEnv, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    block_input = {"release": str(release), "completions": str(tmp_path / "completions")}
    with LiveAPI(create_app(sluice_env.settings)) as api, DroppingProxy(
        api.port, marker=b"event: job"
    ) as proxy, SluiceClient(proxy.url, API_KEY) as client:
        job = client.submit("test.block", block_input)
        sluice_env.worker()
        seen = []

        def on_event(event: object) -> None:
            seen.append(event)
            if proxy.dropped:  # the job finishes only after the cut, on the new connection
                release.touch()

        final = client.wait(job.id, on_event=on_event, timeout=120)

    assert proxy.dropped == 1
    assert final.status is JobStatus.SUCCEEDED and final.result == {"completed_on_delivery": 1}
    versions = [event.version for event in seen]
    # Every version once, in order, across the two connections: nothing lost, nothing twice.
    assert versions == list(range(versions[0], final.version + 1))
    watches = [head for head in proxy.requests if f"/v1/jobs/{job.id}/events" in head]
    assert len(watches) == 2
    assert "last-event-id" not in watches[0].lower()
    assert f"last-event-id: {versions[0]}" in watches[1].lower()


def test_pages_of_jobs_and_dead_letters_and_the_dlq_actions(sluice_env: SluiceEnv) -> None:
    dead = [sluice_env.store.create(Job(
        kind="echo", input={"n": n}, status=JobStatus.DEAD, reason=DeadReason.EXHAUSTED,
    ))[0] for n in range(5)]
    with LiveAPI(create_app(sluice_env.settings)) as api, SluiceClient(api.url, API_KEY) as client:
        submitted = [client.submit("echo", {"n": n}) for n in range(7)]
        listed = [job.id for job in client.iter_jobs(status="queued", page_size=3)]
        assert listed == [job.id for job in reversed(submitted)]
        first = client.list_jobs(kind="echo", limit=4)
        assert len(first.items) == 4 and first.next_cursor
        with pytest.raises(InvalidRequest):
            client.list_jobs(cursor="not-a-cursor")

        assert [job.id for job in client.iter_dlq(page_size=2)] == [
            job.id for job in reversed(dead)]
        new = client.requeue(dead[0].id, hint="try again", by="ana")
        assert new.redriven_from == dead[0].id and new.status is JobStatus.QUEUED
        assert client.dead_letter(dead[0].id).status is JobStatus.REQUEUED
        assert client.discard(dead[1].id, "duplicate").status is JobStatus.DISCARDED
        with pytest.raises(Conflict):
            client.discard(dead[1].id, "twice")
        with pytest.raises(JobNotFound):
            client.dead_letter(submitted[0].id)  # never dead
        assert len(list(client.iter_dlq())) == 3


def test_the_async_client_waits_through_a_drop_and_pages(sluice_env: SluiceEnv) -> None:
    async def scenario(url: str) -> tuple[Job, list[str]]:
        async with AsyncSluiceClient(url, API_KEY) as client:
            job = await client.submit("test.flaky", {"failures": 1})
            sluice_env.worker()
            final = await client.wait(job.id, timeout=120)
            ids = [listed.id async for listed in client.iter_jobs(page_size=1)]
            return final, ids

    with LiveAPI(create_app(sluice_env.settings)) as api, DroppingProxy(
        api.port, marker=b"event: job"
    ) as proxy:
        final, ids = asyncio.run(scenario(proxy.url))

    assert proxy.dropped == 1
    assert final.status is JobStatus.SUCCEEDED and final.result == {"retries": 1}
    assert ids == [final.id]

