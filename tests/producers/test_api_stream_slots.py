"""Server-sent-event streams are capped per key: one over the cap is 429, and a slot comes
back when its stream ends."""

from __future__ import annotations

from contextlib import ExitStack

import httpx

from producers.api.app import create_app
from schemas.job import Job
from tests.conftest import SluiceEnv, make_env
from tests.support.live_api import LiveAPI
from tests.support.polling import wait_for


def _reopens(client: httpx.Client, job_id: str) -> bool:
    with client.stream("GET", f"/v1/jobs/{job_id}/events") as response:
        return response.status_code == 200


def test_a_key_holds_at_most_its_cap_of_open_streams(sluice_env: SluiceEnv) -> None:
    env = make_env(sluice_env.tmp / "capped", sluice_env.settings.broker_url or "",
                   max_streams_per_key=2)
    # Queued, and no worker runs: its event stream stays open until the client leaves.
    job, _ = env.store.create(Job(kind="echo", input={}))
    with LiveAPI(create_app(env.settings)) as api, httpx.Client(
        base_url=api.url, headers=env.auth(), timeout=30
    ) as client:
        def open_stream(stack: ExitStack) -> int:
            response = stack.enter_context(client.stream("GET", f"/v1/jobs/{job.id}/events"))
            return response.status_code

        with ExitStack() as first:
            assert open_stream(first) == 200
            with ExitStack() as second:
                assert open_stream(second) == 200
                refused = client.get(f"/v1/jobs/{job.id}/events")
                assert refused.status_code == 429 and refused.headers["retry-after"]
                ask = client.post("/v1/ask/stream", json={"question": "anything?"})
                assert ask.status_code == 429
        # Both closed: their slots come back as the server sees the clients leave.
        reopened = wait_for(lambda: _reopens(client, job.id), timeout=10,
                            what="a slot to come back")
        assert reopened
    env.store.close()
