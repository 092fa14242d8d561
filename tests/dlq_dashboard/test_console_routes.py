"""The jobs console over HTTP: filters, paging, counts, the job page, actions by role, tenants."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from dlq_dashboard.jobs_filter import JobsFilter, jobs_page, search, status_counts
from schemas.job import Job, JobStatus, SinkDelivery, SinkDeliveryStatus, TraceStep, utcnow
from schemas.principal import Principal, Scope
from sluice.stores import JobStore
from tests.dlq_dashboard.conftest import Dashboard, dead_job


def stored(store: JobStore, **fields: Any) -> Job:
    job = Job.model_validate({"kind": "echo", "task_id": uuid.uuid4().hex,
                              "input": {"message": "hi"}, **fields})
    created, _ = store.create(job)
    return created


def row_ids(html: str) -> list[str]:
    return re.findall(r'id="job-row-([0-9a-f]+)"', html)


# ---- the list -------------------------------------------------------------------------------


def test_the_list_shows_jobs_of_every_status_newest_first(dashboard: Dashboard) -> None:
    old = stored(dashboard.store, status=JobStatus.SUCCEEDED,
                 created_at=utcnow() - timedelta(hours=2))
    new = stored(dashboard.store, status=JobStatus.QUEUED)
    dead = dead_job(dashboard.store, age=timedelta(minutes=30))
    page = dashboard.signed_in("vera").get("/jobs")
    assert page.status_code == 200
    assert row_ids(page.text) == [new.id, dead.id, old.id]


def test_filters_by_status_kind_tenant_source_and_age(dashboard: Dashboard) -> None:
    store = dashboard.store
    match = stored(store, kind="echo", tenant="acme", input={"source": "crawl:docs"},
                   status=JobStatus.SUCCEEDED, created_at=utcnow() - timedelta(minutes=5))
    stored(store, kind="echo", tenant="acme", input={"source": "crawl:docs"},
           status=JobStatus.QUEUED)  # other status
    stored(store, kind="embed", tenant="acme", input={"source": "crawl:docs"},
           status=JobStatus.SUCCEEDED)  # other kind
    stored(store, kind="echo", tenant="globex", input={"source": "crawl:docs"},
           status=JobStatus.SUCCEEDED)  # other tenant
    stored(store, kind="echo", tenant="acme", input={"source": "email:support"},
           status=JobStatus.SUCCEEDED)  # other source
    stored(store, kind="echo", tenant="acme", input={"source": "crawl:docs"},
           status=JobStatus.SUCCEEDED, created_at=utcnow() - timedelta(hours=3))  # too old
    client = dashboard.signed_in("vera")
    page = client.get("/jobs", params={"status": "succeeded", "kind": "echo", "tenant": "acme",
                                       "source": "crawl:docs", "age": "lt1h"})
    assert row_ids(page.text) == [match.id]
    older = client.get("/jobs", params={"tenant": "acme", "age": "gt1h"})
    assert len(row_ids(older.text)) == 1 and match.id not in older.text


def test_a_source_is_looked_for_within_the_last_seven_days_only(dashboard: Dashboard) -> None:
    recent = stored(dashboard.store, input={"source": "crawl:docs"},
                    created_at=utcnow() - timedelta(days=6))
    stored(dashboard.store, input={"source": "crawl:docs"},
           created_at=utcnow() - timedelta(days=8))
    page = dashboard.signed_in("vera").get("/jobs", params={"source": "crawl:docs"}).text
    assert row_ids(page) == [recent.id]
    assert 'id="source-window"' in page


def test_a_bad_filter_is_a_400_that_says_why(dashboard: Dashboard) -> None:
    client = dashboard.signed_in("vera")
    assert "unknown status" in client.get("/jobs?status=exploded").text
    assert client.get("/jobs?age=forever").status_code == 400
    assert client.get("/jobs?tenant=Not%20A%20Tenant").status_code == 400
    assert client.get("/jobs?cursor=nonsense").status_code == 400


def test_search_finds_a_job_by_id_or_by_the_clients_idempotency_key(
    dashboard: Dashboard,
) -> None:
    store = dashboard.store
    keyed = stored(store, idempotency_key="t:default:order-55211")
    other_tenant = stored(store, tenant="acme", idempotency_key="t:acme:order-55211")
    stored(store)
    client = dashboard.signed_in("vera")
    assert row_ids(client.get("/jobs", params={"q": keyed.id}).text) == [keyed.id]
    assert row_ids(client.get("/jobs", params={"q": "order-55211"}).text) == [keyed.id]
    in_acme = client.get("/jobs", params={"q": "order-55211", "tenant": "acme"})
    assert row_ids(in_acme.text) == [other_tenant.id]
    assert row_ids(client.get("/jobs", params={"q": "t:acme:order-55211"}).text) == [
        other_tenant.id]
    assert row_ids(client.get("/jobs", params={"q": "no-such-key"}).text) == []


def test_cursor_paging_walks_every_job_once(dashboard: Dashboard) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    made = [stored(dashboard.store, created_at=start + timedelta(seconds=i)).id
            for i in range(57)]
    client = dashboard.signed_in("vera")
    first = client.get("/jobs").text
    cursor = re.search(r'id="next-page" href="/jobs\?cursor=([^"&]+)"', first)
    assert cursor
    second = client.get("/jobs", params={"cursor": cursor.group(1)}).text
    seen = row_ids(first) + row_ids(second)
    assert seen == list(reversed(made))
    assert 'id="next-page"' not in second


def test_counts_per_status_follow_the_other_filters_and_stop_at_the_cap(
    dashboard: Dashboard,
) -> None:
    for _ in range(3):
        stored(dashboard.store, status=JobStatus.SUCCEEDED, tenant="acme")
    stored(dashboard.store, status=JobStatus.SUCCEEDED, tenant="globex")
    stored(dashboard.store, status=JobStatus.QUEUED, tenant="acme")
    operator = Principal(key_id="user:vera", scopes=frozenset({Scope.OPS_READ}))
    counts = status_counts(dashboard.store, JobsFilter(tenant="acme", status="queued"), operator)
    assert counts["succeeded"] == 3 and counts["queued"] == 1 and counts["dead"] == 0
    capped = status_counts(dashboard.store, JobsFilter(), operator, cap=2)
    assert capped["succeeded"] == 2
    fragment = dashboard.signed_in("vera").get("/jobs/counts", params={"tenant": "acme"}).text
    assert re.search(r'id="count-succeeded">3<', fragment)
    assert 'hx-trigger="every 3s"' in fragment


# ---- tenants --------------------------------------------------------------------------------


def test_a_principal_bound_to_a_tenant_sees_only_its_tenants_jobs(dashboard: Dashboard) -> None:
    store = dashboard.store
    mine = stored(store, tenant="acme", idempotency_key="t:acme:k1")
    theirs = stored(store, tenant="globex", idempotency_key="t:globex:k1")
    acme = Principal(key_id="k-acme", tenant="acme", scopes=frozenset({Scope.JOBS_READ}))
    # Asking for another tenant in the filter does not widen what it sees.
    listed = jobs_page(store, JobsFilter(tenant="globex"), acme, None).items
    assert [job.id for job in listed] == [mine.id]
    assert search(store, JobsFilter(q=theirs.id), acme) == []
    assert search(store, JobsFilter(q="t:globex:k1"), acme) == []
    assert [job.id for job in search(store, JobsFilter(q="k1"), acme)] == [mine.id]
    counts = status_counts(store, JobsFilter(tenant="globex"), acme)
    assert counts["queued"] == 1


def test_dashboard_users_are_operators_who_see_every_tenant(dashboard: Dashboard) -> None:
    acme = stored(dashboard.store, tenant="acme")
    globex = stored(dashboard.store, tenant="globex")
    page = dashboard.signed_in("vera").get("/jobs").text
    assert {acme.id, globex.id} <= set(row_ids(page))


# ---- the job page ---------------------------------------------------------------------------


def test_the_job_page_escapes_the_input_and_masks_credentials(dashboard: Dashboard) -> None:
    job = stored(dashboard.store, input={
        "message": "<script>alert(1)</script>", "api_key": "sk-live-123",
        "headers": {"Authorization": "Bearer abc"}, "body": "x" * 10_000,
    })
    page = dashboard.signed_in("vera").get(f"/jobs/{job.id}").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "sk-live-123" not in page and "Bearer abc" not in page
    assert "x" * 5_000 not in page and "more characters" in page


def test_the_job_page_shows_trace_deliveries_attempts_and_redrive_links(
    dashboard: Dashboard,
) -> None:
    start = utcnow()
    origin = stored(dashboard.store, status=JobStatus.REQUEUED)
    job = stored(
        dashboard.store, status=JobStatus.SUCCEEDED, redriven_from=origin.id,
        trace=[TraceStep(name="retrieval_semantic", started_at=start, duration_ms=40),
               TraceStep(name="llm_generation", started_at=start + timedelta(milliseconds=50),
                         duration_ms=150)],
        sink_deliveries={"jsonl": SinkDelivery(status=SinkDeliveryStatus.DELIVERED, attempts=1,
                                               delivered_at=start)},
        result={"answer": 42},
    )
    page = dashboard.signed_in("vera").get(f"/jobs/{job.id}").text
    assert "retrieval_semantic" in page and "llm_generation" in page
    # The second step starts a quarter of the way along the 200 ms span and fills the rest.
    assert '<rect x="25.0" y="0" width="75.0"' in page
    assert 'id="sink-deliveries"' in page and "delivered" in page
    assert f'id="redriven-from"><code>{origin.id}' in page
    assert "&#34;answer&#34;: 42" in page or '"answer": 42' in page
    assert 'data-job-events' not in page  # settled: nothing to follow


def test_an_open_job_page_follows_the_jobs_event_stream(dashboard: Dashboard) -> None:
    job = stored(dashboard.store)
    page = dashboard.signed_in("vera").get(f"/jobs/{job.id}").text
    assert f'data-job-events="/jobs/{job.id}/events"' in page
    assert 'hx-trigger="job-changed from:body"' in page


def test_the_event_stream_sends_the_version_then_end_without_the_input(
    dashboard: Dashboard,
) -> None:
    job = stored(dashboard.store, input={"message": "private words"})
    dashboard.store.transition(job.id, JobStatus.CANCELLED)
    with dashboard.signed_in("vera").stream("GET", f"/jobs/{job.id}/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    assert "event: job" in body and '"status":"cancelled"' in body
    assert "event: end" in body
    assert "private words" not in body


def test_an_unknown_job_is_a_404_page_and_stream(dashboard: Dashboard) -> None:
    client = dashboard.signed_in("vera")
    assert client.get("/jobs/nope").status_code == 404
    assert client.get("/jobs/nope/events").status_code == 404


# ---- actions by role ------------------------------------------------------------------------


def test_a_viewer_cannot_cancel_or_rerun_even_by_crafting_the_request(
    dashboard: Dashboard,
) -> None:
    queued = stored(dashboard.store)
    done = stored(dashboard.store, status=JobStatus.SUCCEEDED)
    page = dashboard.signed_in("vera").get(f"/jobs/{queued.id}").text
    assert 'id="cancel-job"' not in page and 'id="viewer-note"' in page
    assert dashboard.post("vera", f"/jobs/{queued.id}/cancel").status_code == 403
    assert dashboard.post("vera", f"/jobs/{done.id}/rerun").status_code == 403
    assert dashboard.store.get(queued.id).status is JobStatus.QUEUED
    assert dashboard.store.get(done.id).redriven_to is None


def test_a_post_without_the_csrf_token_is_refused(dashboard: Dashboard) -> None:
    queued = stored(dashboard.store)
    response = dashboard.signed_in("alice").post(f"/jobs/{queued.id}/cancel", data={})
    assert response.status_code == 403
    assert dashboard.store.get(queued.id).status is JobStatus.QUEUED


def test_a_reviewer_cancels_a_queued_job_and_it_is_audited(dashboard: Dashboard) -> None:
    queued = stored(dashboard.store)
    assert 'id="cancel-job"' in dashboard.signed_in("alice").get(f"/jobs/{queued.id}").text
    response = dashboard.post("alice", f"/jobs/{queued.id}/cancel")
    assert response.status_code == 303
    assert dashboard.store.get(queued.id).status is JobStatus.CANCELLED
    assert [entry.action for entry in dashboard.services.audit.for_job(queued.id)] == ["cancel"]


def test_a_running_job_cannot_be_cancelled_and_the_page_says_so(dashboard: Dashboard) -> None:
    running = stored(dashboard.store, status=JobStatus.RUNNING)
    response = dashboard.post("alice", f"/jobs/{running.id}/cancel")
    assert response.status_code == 409
    assert "Not cancelled: the job is running" in response.text
    assert dashboard.store.get(running.id).status is JobStatus.RUNNING


def test_rerun_of_a_succeeded_job_makes_one_new_job_however_often_it_is_posted(
    dashboard: Dashboard,
) -> None:
    done = stored(dashboard.store, status=JobStatus.SUCCEEDED, tenant="acme",
                  input={"message": "again"})
    form = {"version": str(done.version)}
    first = dashboard.post("ada", f"/jobs/{done.id}/rerun", form)
    assert first.status_code == 303
    new_id = first.headers["location"].split("/jobs/")[1].split("?")[0]
    new = dashboard.store.get(new_id)
    assert (new.kind, new.input, new.tenant, new.redriven_from) == (
        "echo", {"message": "again"}, "acme", done.id)
    assert new.sent_at is not None
    assert dashboard.store.get(done.id).redriven_to == new.id
    again = dashboard.post("ada", f"/jobs/{done.id}/rerun", form)  # the same, stale page
    assert again.status_code == 409
    assert dashboard.store.get(done.id).redriven_to == new.id


def test_rerun_of_a_dead_job_is_the_dlq_redrive(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store)
    page = dashboard.signed_in("alice").get(f"/jobs/{job.id}").text
    assert f'href="/items/{job.id}" id="open-in-dlq"' in page
    response = dashboard.post("alice", f"/jobs/{job.id}/rerun", {"version": str(job.version)})
    assert response.status_code == 303
    old = dashboard.store.get(job.id)
    assert old.status is JobStatus.REQUEUED and old.redriven_to
    assert dashboard.store.get(old.redriven_to).redriven_from == job.id


def test_an_internal_kind_is_not_rerun(dashboard: Dashboard) -> None:
    done = stored(dashboard.store, kind="sink.deliver", status=JobStatus.SUCCEEDED)
    response = dashboard.post("ada", f"/jobs/{done.id}/rerun", {"version": str(done.version)})
    assert response.status_code == 409 and "internal kind" in response.text


# ---- the overview ---------------------------------------------------------------------------


def test_the_overview_counts_the_last_hour_and_dlq_inflow_by_reason(
    dashboard: Dashboard,
) -> None:
    for _ in range(3):
        stored(dashboard.store, status=JobStatus.SUCCEEDED)
    stored(dashboard.store, status=JobStatus.SUCCEEDED, created_at=utcnow() - timedelta(hours=3))
    dead_job(dashboard.store, age=timedelta(minutes=10))
    dead_job(dashboard.store, age=timedelta(hours=5))
    page = dashboard.signed_in("vera").get("/overview").text
    assert re.search(r'id="throughput"><a [^>]*>3<', page)
    assert re.search(r'id="dead-lettered">1<', page)
    assert "25.0 %" in page
    assert re.search(r"exhausted</a></td><td>1</td><td>2</td>", page)
    for queue in ("io", "cpu", "gpu"):
        assert f'id="queue-{queue}"' in page
