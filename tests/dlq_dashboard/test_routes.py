"""The dashboard over HTTP (FastAPI's TestClient): sign-in, roles, CSRF, claims, actions."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import timedelta

import pytest

from dlq_dashboard.security_headers import CONTENT_SECURITY_POLICY
from schemas.job import DeadReason, JobStatus, utcnow
from sluice.stores import JobQuery
from tests.dlq_dashboard.conftest import SOURCE_EMAIL, Dashboard, attempt, csrf_of, dead_job
from tests.dlq_dashboard.verdicts import GATE_VERDICT, gate_unavailable


def claim(dashboard: Dashboard, name: str, job_id: str, **data: str) -> object:
    return dashboard.post(name, f"/items/{job_id}/claim", data)


def resolve_form(job_version: int, **changes: str) -> dict[str, str]:
    record = {
        "customer_email": "jane@example.com",
        "order_id": "55211",
        "issue_type": "refund_request",
        "order_date": "2025-02-03",
        "customer_name": "Jane Doe",
    }
    return {**record, "version": str(job_version), **changes}


# ---- sign-in, sessions, headers -------------------------------------------------------------


def test_pages_send_strangers_to_sign_in_and_actions_answer_401(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store)
    client = dashboard.client()
    page = client.get(f"/items/{job.id}")
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login?next=%2Fitems%2F")
    assert client.post(f"/items/{job.id}/claim", data={}).status_code == 401
    assert dashboard.store.get(job.id).status is JobStatus.DEAD


def test_wrong_password_is_refused_and_audited(dashboard: Dashboard) -> None:
    client = dashboard.client()
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "alice", "password": "wrong password", "csrf_token": token}
    )
    assert response.status_code == 303 and "error=wrong" in response.headers["location"]
    assert "sluice_session" not in client.cookies
    actions = [entry.action for entry in dashboard.services.audit.recent()]
    assert "sign_in_failed" in actions


def test_session_cookie_is_httponly_and_samesite_and_pages_carry_a_csp(
    dashboard: Dashboard,
) -> None:
    client = dashboard.client()
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "alice", "password": "correct horse battery",
                        "csrf_token": token},
    )
    cookie = next(v for k, v in response.headers.multi_items()
                  if k == "set-cookie" and v.startswith("sluice_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = client.get("/")
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY.split("style-src")[0]
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script anywhere


def test_a_post_without_the_sessions_csrf_token_changes_nothing(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store)
    client = dashboard.signed_in("alice")
    for token in ("", "forged-token"):
        response = client.post(f"/items/{job.id}/claim", data={"csrf_token": token})
        assert response.status_code == 403
    assert dashboard.store.get(job.id).status is JobStatus.DEAD


# ---- roles ----------------------------------------------------------------------------------


def test_a_viewer_cannot_post_any_action_even_by_crafting_the_request(
    dashboard: Dashboard,
) -> None:
    job = dead_job(dashboard.store)
    claimed = dead_job(dashboard.store)
    claim(dashboard, "alice", claimed.id)
    held = dashboard.store.get(claimed.id)
    viewer_page = dashboard.signed_in("vera").get(f"/items/{job.id}")
    assert viewer_page.status_code == 200
    assert 'id="claim-form"' not in viewer_page.text  # not offered...
    token = dashboard.csrf("vera")  # ...and refused when crafted with a valid token
    crafted = {
        f"/items/{job.id}/claim": {},
        f"/items/{claimed.id}/claim": {"takeover": "1"},
        f"/items/{claimed.id}/resolve": resolve_form(held.version),
        f"/items/{claimed.id}/requeue": {"version": str(held.version), "hint": "x"},
        f"/items/{claimed.id}/discard": {"version": str(held.version), "discard_reason": "other",
                                         "note": "x"},
        f"/items/{claimed.id}/release": {},
        f"/items/{job.id}/skip": {},
        f"/items/{job.id}/training": {"do_not_train": "1"},
        "/bulk/discard": {"discard_reason": "other", "note": "x", "confirm": "yes",
                          "expected_count": "2"},
        "/bulk/requeue": {"confirm": "yes", "expected_count": "2"},
    }
    client = dashboard.signed_in("vera")
    for path, data in crafted.items():
        response = client.post(path, data={"csrf_token": token, **data})
        assert response.status_code == 403, path
        assert "needs the" in response.text
    assert dashboard.store.get(job.id).model_dump() == job.model_dump()
    assert dashboard.store.get(claimed.id).version == held.version
    assert not dashboard.services.exclusions.excluded(job.id)
    assert client.get("/export/training.jsonl").status_code == 403


def test_a_reviewer_cannot_run_bulk_actions_or_take_over_a_live_claim(
    dashboard: Dashboard,
) -> None:
    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    response = dashboard.post("bob", "/bulk/discard", {"discard_reason": "spam or marketing"})
    assert response.status_code == 403
    refused = claim(dashboard, "bob", job.id, takeover="1")
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert dashboard.store.get(job.id).claimed_by == "alice"


# ---- claims ---------------------------------------------------------------------------------


def test_claim_takes_a_lease_and_a_second_reviewer_is_refused_by_name(
    dashboard: Dashboard,
) -> None:
    job = dead_job(dashboard.store)
    first = claim(dashboard, "alice", job.id)
    assert first.status_code == 303  # type: ignore[attr-defined]
    held = dashboard.store.get(job.id)
    assert held.status is JobStatus.CLAIMED and held.claimed_by == "alice"
    assert held.claim_expires_at is not None
    lease = (held.claim_expires_at - utcnow()).total_seconds()
    assert 800 < lease <= 900  # the default 15 minutes
    second = claim(dashboard, "bob", job.id)
    assert second.status_code == 409  # type: ignore[attr-defined]
    assert "alice has claimed this item since" in second.text  # type: ignore[attr-defined]
    assert dashboard.store.get(job.id).claimed_by == "alice"
    page = dashboard.signed_in("bob").get(f"/items/{job.id}")
    assert re.search(r"Claimed by <strong>alice</strong> since \d\d:\d\d:\d\d UTC", page.text)


def test_an_expired_lease_can_be_taken_by_another_reviewer(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    dashboard.store.update_fields(job.id, claim_expires_at=utcnow() - timedelta(seconds=1))
    taken = claim(dashboard, "bob", job.id)
    assert taken.status_code == 303  # type: ignore[attr-defined]
    assert dashboard.store.get(job.id).claimed_by == "bob"
    entry = dashboard.services.audit.last_action(job.id, "claim_expired_lease")
    assert entry is not None and entry.detail["previous_holder"] == "alice"
    # alice's page is stale now: her save is refused with a clear message
    stale = dashboard.post("alice", f"/items/{job.id}/resolve", resolve_form(job.version + 1))
    assert stale.status_code == 409
    assert "bob holds the claim on this item now, not you" in stale.text


def test_an_admin_can_take_over_a_live_claim(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    taken = claim(dashboard, "ada", job.id, takeover="1")
    assert taken.status_code == 303  # type: ignore[attr-defined]
    assert dashboard.store.get(job.id).claimed_by == "ada"
    assert dashboard.services.audit.last_action(job.id, "takeover") is not None


def test_renewal_extends_the_lease_and_refreshes_the_version_the_forms_carry(
    dashboard: Dashboard,
) -> None:
    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    before = dashboard.store.get(job.id)
    renewed = dashboard.post("alice", f"/items/{job.id}/renew")
    after = dashboard.store.get(job.id)
    assert renewed.status_code == 200
    assert after.claim_expires_at and before.claim_expires_at
    assert after.claim_expires_at >= before.claim_expires_at
    assert f'id="v-resolve" value="{after.version}" hx-swap-oob="true"' in renewed.text
    lost = dashboard.post("bob", f"/items/{job.id}/renew")
    assert "Your claim is gone" in lost.text


def test_a_save_from_a_stale_page_is_refused_with_a_clear_message(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    loaded = dashboard.store.get(job.id)
    dashboard.store.update_fields(job.id, error="edited elsewhere")  # someone else's change
    response = dashboard.post("alice", f"/items/{job.id}/resolve", resolve_form(loaded.version))
    assert response.status_code == 409
    assert "this item changed since you opened it" in response.text
    assert dashboard.store.get(job.id).status is JobStatus.CLAIMED


# ---- item view ------------------------------------------------------------------------------


def test_item_view_shows_attempts_with_errors_and_a_form_prefilled_from_the_best(
    dashboard: Dashboard,
) -> None:
    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    page = dashboard.signed_in("alice").get(f"/items/{job.id}").text
    assert "Attempts (2)" in page and "not_in_source" in page and "string_pattern_mismatch" in page
    assert "410 + 52 tokens" in page
    assert "<code>order_id</code>: <del>5521</del> → <ins>55210</ins>" in page  # what changed
    assert re.search(r'<select id="f-issue_type" name="issue_type"', page)
    assert '<option value="refund_request" selected>' in page
    assert re.search(r'name="order_date" type="date" value="2025-02-03"', page)
    assert re.search(r'name="customer_email" type="email" value="jane@example.com"', page)
    failing = re.search(r'<input id="f-order_id" name="order_id" type="text" value="55210"[^>]*>',
                        page)
    assert failing and 'aria-invalid="true"' in failing.group(0)
    assert "autofocus" in failing.group(0)  # the failing field gets the focus
    assert "order number 55210 does not occur in the source message" in page


def test_the_source_is_sanitized_into_a_sandboxed_srcdoc_iframe(dashboard: Dashboard) -> None:
    html_email = (
        "From: Mallory <m@evil.example>\nSubject: hi\nContent-Type: text/html\n\n"
        "<p>Order <b>55211</b></p><script>alert('x')</script>"
        "<img src=x onerror=\"alert('y')\"><a href=\"javascript:alert(1)\">click</a>"
        "<iframe src=\"https://evil.example\"></iframe>\"><svg onload=alert(2)>"
    )
    job = dead_job(dashboard.store, input={"schema": "support_ticket", "email": html_email})
    page = dashboard.signed_in("alice").get(f"/items/{job.id}").text
    frame = re.search(r'<iframe id="source-frame"[^>]*>', page)
    assert frame is not None
    tag = frame.group(0)
    assert 'sandbox=""' in tag
    srcdoc = re.search(r'srcdoc="([^"]*)"', tag)
    assert srcdoc is not None  # every quote inside is escaped, so the attribute is whole
    document = srcdoc.group(1)
    assert "&lt;b&gt;55211&lt;/b&gt;" in document
    for payload in ("script", "onerror", "onload", "javascript:", "iframe", "svg"):
        assert payload not in document.lower(), payload
    assert "default-src &#39;none&#39;" in document  # the frame's own CSP


def test_a_form_is_generated_for_nested_models_lists_and_optional_fields() -> None:
    from datetime import date
    from enum import StrEnum

    from pydantic import BaseModel, EmailStr

    from dlq_dashboard.record_form import build_form, read_record

    class Size(StrEnum):
        S = "s"
        L = "l"

    class Line(BaseModel):
        sku: str
        quantity: int
        size: Size | None = None

    class Customer(BaseModel):
        email: EmailStr
        vip: bool = False

    class Order(BaseModel):
        customer: Customer
        lines: list[Line]
        placed: date
        note: str | None = None

    fields = build_form(Order, {"customer": {"email": "a@b.example"}, "lines": [
        {"sku": "K-1", "quantity": 2}]}, {"lines.0.quantity": "too many"})
    by_path = {f.path: f for f in fields}
    assert by_path["customer"].widget == "group"
    assert [c.widget for c in by_path["customer"].children] == ["email", "select"]
    lines = by_path["lines"]
    assert lines.widget == "list" and lines.item_template is not None
    row = {c.path: c for c in lines.children[0].children}
    assert row["lines.0.quantity"].widget == "number" and row["lines.0.quantity"].error
    assert row["lines.0.size"].options == ["s", "l"] and not row["lines.0.size"].required
    assert by_path["placed"].widget == "date" and not by_path["note"].required
    record = read_record(Order, {
        "customer.email": "a@b.example", "customer.vip": "true", "lines.0.sku": "K-1",
        "lines.0.quantity": "2", "lines.0.size": "", "lines.3.sku": "K-9",
        "lines.3.quantity": "1", "lines.3.size": "l", "placed": "2025-01-02", "note": "",
    })
    assert Order.model_validate(record).lines[1].size is Size.L
    assert record["note"] is None and record["customer"]["vip"] is True


# ---- actions --------------------------------------------------------------------------------


def test_an_invalid_record_is_refused_with_errors_at_the_fields(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    version = dashboard.store.get(job.id).version
    response = dashboard.post(
        "alice", f"/items/{job.id}/resolve",
        resolve_form(version, order_id="5521", customer_email="not-an-email"),
    )
    assert response.status_code == 422
    assert "2 field(s) need fixing" in response.text
    assert re.search(r'id="f-order_id"[^>]*value="5521"[^>]*aria-invalid="true"', response.text)
    assert "String should match pattern" in response.text
    assert re.search(r'id="f-customer_email"[^>]*aria-invalid="true"', response.text)
    assert dashboard.store.get(job.id).status is JobStatus.CLAIMED


def test_resolving_queues_each_sink_once_audits_the_changes_and_refuses_a_second_save(
    dashboard: Dashboard,
) -> None:
    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    version = dashboard.store.get(job.id).version
    done = dashboard.post("alice", f"/items/{job.id}/resolve", resolve_form(version))
    assert done.status_code == 303
    resolved = dashboard.store.get(job.id)
    assert resolved.status is JobStatus.RESOLVED
    assert resolved.result["order_id"] == "55211"
    deliveries = dashboard.store.count(JobQuery(kind="sink.deliver"))
    assert deliveries == len(resolved.sink_deliveries) == 1
    again = dashboard.post("alice", f"/items/{job.id}/resolve", resolve_form(version))
    assert again.status_code == 409
    assert dashboard.store.count(JobQuery(kind="sink.deliver")) == deliveries
    entry = dashboard.services.audit.last_action(job.id, "resolve")
    assert entry is not None and entry.actor == "alice" and entry.seconds_spent is not None
    assert entry.changes == [{"field": "order_id", "from": "55210", "to": "55211"}]


def test_rerun_starts_a_new_job_with_the_reviewers_hint(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    version = dashboard.store.get(job.id).version
    response = dashboard.post("alice", f"/items/{job.id}/requeue",
                              {"version": str(version), "hint": "the order number is 55211"})
    assert response.status_code == 303
    old = dashboard.store.get(job.id)
    assert old.status is JobStatus.REQUEUED and old.redriven_to
    new = dashboard.store.get(old.redriven_to)
    assert new.input["reviewer_hint"] == "the order number is 55211"
    assert new.redriven_from == job.id


def test_discard_needs_a_reason_from_the_list(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    version = str(dashboard.store.get(job.id).version)
    refused = dashboard.post("alice", f"/items/{job.id}/discard",
                             {"version": version, "discard_reason": "because"})
    assert refused.status_code == 400 and "choose a discard reason" in refused.text
    other = dashboard.post("alice", f"/items/{job.id}/discard",
                           {"version": version, "discard_reason": "other"})
    assert other.status_code == 400
    done = dashboard.post("alice", f"/items/{job.id}/discard",
                          {"version": version, "discard_reason": "spam or marketing"})
    assert done.status_code == 303
    assert dashboard.store.get(job.id).status is JobStatus.DISCARDED
    entry = dashboard.services.audit.last_action(job.id, "discard")
    assert entry is not None and entry.detail["reason"] == "spam or marketing"


def test_skip_releases_an_own_claim_and_moves_to_the_next_item(dashboard: Dashboard) -> None:
    first = dead_job(dashboard.store, age=timedelta(hours=3))
    second = dead_job(dashboard.store, age=timedelta(hours=2))
    claim(dashboard, "alice", first.id)
    response = dashboard.post("alice", f"/items/{first.id}/skip")
    assert response.headers["location"].startswith(f"/items/{second.id}")
    assert dashboard.store.get(first.id).status is JobStatus.DEAD


def test_bulk_discard_asks_to_confirm_and_asks_again_when_the_count_moved(
    dashboard: Dashboard,
) -> None:
    jobs = [dead_job(dashboard.store, reason="non_retryable") for _ in range(3)]
    dead_job(dashboard.store)
    form = {"reason": "non_retryable", "discard_reason": "spam or marketing"}
    ask = dashboard.post("ada", "/bulk/discard", form)
    assert ask.status_code == 200 and "Discard 3 items?" in ask.text
    assert 'name="expected_count" value="3"' in ask.text
    assert all(dashboard.store.get(j.id).status is JobStatus.DEAD for j in jobs)
    dead_job(dashboard.store, reason="non_retryable")  # one more arrives meanwhile
    moved = dashboard.post("ada", "/bulk/discard", {**form, "confirm": "yes",
                                                    "expected_count": "3"})
    assert moved.status_code == 200 and "The number of matching items changed" in moved.text
    assert "Discard 4 items?" in moved.text
    assert all(dashboard.store.get(j.id).status is JobStatus.DEAD for j in jobs)
    refused = dashboard.post("ada", "/bulk/discard", {"reason": "non_retryable",
                                                      "discard_reason": "because"})
    assert refused.status_code == 400


def test_bulk_discard_over_a_filter_discards_unclaimed_matches_after_confirmation(
    dashboard: Dashboard,
) -> None:
    spam = [dead_job(dashboard.store, input={"schema": "support_ticket", "text": "buy now",
                                             "source": "crawl"}) for _ in range(3)]
    keep = dead_job(dashboard.store)
    held = dead_job(dashboard.store, input={"schema": "support_ticket", "text": "x",
                                            "source": "crawl"})
    claim(dashboard, "alice", held.id)
    form = {"source": "crawl", "discard_reason": "spam or marketing"}
    ask = dashboard.post("ada", "/bulk/discard", form)
    assert "Discard 4 items?" in ask.text and "source = <code>crawl</code>" in ask.text
    done = dashboard.post("ada", "/bulk/discard", {**form, "confirm": "yes",
                                                   "expected_count": "4"})
    assert done.status_code == 303
    assert all(dashboard.store.get(j.id).status is JobStatus.DISCARDED for j in spam)
    assert dashboard.store.get(keep.id).status is JobStatus.DEAD
    assert dashboard.store.get(held.id).status is JobStatus.CLAIMED
    entry = dashboard.services.audit.recent(1)[0]
    assert entry.action == "bulk_discard" and entry.detail["count"] == 3
    assert entry.detail["skipped"] == 1


# ---- queue ----------------------------------------------------------------------------------


def test_queue_groups_by_signature_filters_and_pages_oldest_first(dashboard: Dashboard) -> None:
    parse = attempt(1, "not json", [], outcome="parse_error", parse_error="Expecting value")
    old = [dead_job(dashboard.store, age=timedelta(hours=30 + i)) for i in range(3)]
    new = [dead_job(dashboard.store, attempts=[parse], reason="non_retryable",
                    age=timedelta(minutes=5 + i)) for i in range(2)]
    client = dashboard.signed_in("vera")
    page = client.get("/").text
    assert '<code class="signature">order_id:not_in_source</code> <span class="count">3</span>' \
        in page
    assert '<code class="signature">(none)</code> <span class="count">2</span>' in page
    order = re.findall(r'id="row-([0-9a-f]+)"', page)
    assert order == [j.id for j in reversed(old)] + [j.id for j in reversed(new)]
    assert page.count("age age-over") == 3  # past the 24 h SLA
    filtered = client.get("/?reason=non_retryable").text
    assert re.findall(r'id="row-([0-9a-f]+)"', filtered) == [j.id for j in reversed(new)]
    aged = client.get("/?min_age_hours=24&signature=order_id:not_in_source").text
    assert len(re.findall(r'id="row-', aged)) == 3
    assert client.get("/?sender=jane@example.com").text.count('id="row-') == 5
    assert client.get("/?source=nowhere").text.count('id="row-') == 0
    claim(dashboard, "alice", old[0].id)
    assert re.findall(r'id="row-([0-9a-f]+)"', client.get("/?claimant=alice").text) == [old[0].id]
    assert client.get("/?reason=bogus").status_code == 400


def test_cursor_paging_walks_every_item_once(dashboard: Dashboard) -> None:
    from dlq_dashboard import queue

    jobs = [dead_job(dashboard.store, age=timedelta(minutes=200 - i)) for i in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        page = queue.page(dashboard.store, queue.QueueFilter(), cursor, limit=3)
        seen.extend(job.id for job in page.items)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [job.id for job in jobs]


# ---- audit and training data ----------------------------------------------------------------


def test_the_audit_log_refuses_updates_and_deletes(dashboard: Dashboard) -> None:
    dashboard.services.audit.append("alice", "claim", "j1")
    connection = dashboard.services.db.get()
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("UPDATE audit SET actor = 'mallory'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        connection.execute("DELETE FROM audit")
    assert dashboard.signed_in("vera").get("/audit").status_code == 200


def test_training_export_has_source_attempts_record_and_diff_but_no_do_not_train(
    dashboard: Dashboard,
) -> None:
    kept = dead_job(dashboard.store)
    private = dead_job(dashboard.store)
    for job, extra in ((kept, {}), (private, {"do_not_train": "1"})):
        claim(dashboard, "alice", job.id)
        version = dashboard.store.get(job.id).version
        dashboard.post("alice", f"/items/{job.id}/resolve", {**resolve_form(version), **extra})
    response = dashboard.signed_in("alice").get("/export/training.jsonl")
    assert response.status_code == 200
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert [line["job_id"] for line in lines] == [kept.id]
    example = lines[0]
    assert example["source"] == SOURCE_EMAIL
    assert [a["number"] for a in example["failed_attempts"]] == [1, 2]
    assert example["failed_attempts"][1]["errors"][0]["type"] == "not_in_source"
    assert example["record"]["order_id"] == "55211"
    assert example["diff_from_best"] == [{"field": "order_id", "from": "55210", "to": "55211"}]
    assert example["reviewer"] == "alice"
    assert (example["schema_name"], example["schema_version"]) == ("support_ticket", 1)


def test_users_cli_adds_users_with_argon2_hashes(dashboard: Dashboard) -> None:
    from typer.testing import CliRunner

    from cli.main import app

    runner = CliRunner()
    env = {k: v for k, v in dashboard.env.env.items() if k.startswith("SLUICE_")}
    from sluice.settings import get_settings

    get_settings.cache_clear()
    try:
        result = runner.invoke(app, ["users", "add", "rita", "--role", "viewer",
                                     "--password-stdin"], input="long enough pw\n", env=env)
        assert result.exit_code == 0, result.output
        bad = runner.invoke(app, ["users", "add", "rob", "--role", "king", "--password-stdin"],
                            input="long enough pw\n", env=env)
        assert bad.exit_code != 0
    finally:
        get_settings.cache_clear()
    row = dashboard.services.db.get().execute(
        "SELECT role, password_hash FROM users WHERE name = 'rita'").fetchone()
    assert row[0] == "viewer" and row[1].startswith("$argon2id$")
    assert dashboard.services.users.authenticate("rita", "long enough pw") is not None


def test_dlq_export_cli_writes_the_same_lines_as_the_http_export(
    dashboard: Dashboard, tmp_path: object
) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from cli.main import app
    from sluice.settings import get_settings

    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    version = dashboard.store.get(job.id).version
    dashboard.post("alice", f"/items/{job.id}/resolve", resolve_form(version))
    output = Path(str(tmp_path)) / "training.jsonl"
    env = {k: v for k, v in dashboard.env.env.items() if k.startswith("SLUICE_")}
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["dlq", "export", "--output", str(output)], env=env)
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    http = dashboard.signed_in("alice").get("/export/training.jsonl").text
    assert output.read_text() == http and json.loads(http)["job_id"] == job.id


def test_sluice_up_runs_the_dashboard(dashboard: Dashboard) -> None:
    from cli.up import services

    assert list(services(dashboard.env.settings)["dashboard"])[-1] == "dashboard"


def test_an_admin_page_offers_takeover_but_not_on_the_claim_key(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store)
    claim(dashboard, "alice", job.id)
    page = dashboard.signed_in("ada").get(f"/items/{job.id}").text
    assert 'id="takeover-form"' in page and "Take over from alice" in page
    assert 'id="claim-form"' not in page


def test_grouped_counts_match_the_generic_implementation(dashboard: Dashboard) -> None:
    from sluice.stores import JobStore

    parse = attempt(1, "nope", [], outcome="parse_error")
    for _ in range(2):
        dead_job(dashboard.store)
    dead_job(dashboard.store, attempts=[parse])
    query = JobQuery(statuses=(JobStatus.DEAD,))
    native = dashboard.store.count_by(query, "error_signature")
    assert native == JobStore.count_by(dashboard.store, query, "error_signature")
    assert native == {"order_id:not_in_source": 2, None: 1}


def test_an_email_with_an_unknown_charset_is_listed_and_opened_with_replacements(
    dashboard: Dashboard,
) -> None:
    # It used to raise LookupError in the queue row: the whole queue page answered 500.
    raw = SOURCE_EMAIL.replace("charset=utf-8", "charset=x-no-such-charset").replace(
        "Subject: Broken kettle", "Subject: =?x-bogus?q?Broken?= kettle"
    )
    job = dead_job(dashboard.store, input={"schema": "support_ticket", "email": raw})
    client = dashboard.signed_in("vera")
    queue_page = client.get("/")
    assert queue_page.status_code == 200 and f'id="row-{job.id}"' in queue_page.text
    item = client.get(f"/items/{job.id}")
    assert item.status_code == 200 and "kettle from order 55211" in item.text


# ---- the acceptance gate's verdict (issue 11) ------------------------------------------------

def test_an_unverified_item_shows_failed_checks_and_highlighted_evidence(
    dashboard: Dashboard,
) -> None:
    if gate_unavailable():
        pytest.skip(gate_unavailable())
    job = dead_job(dashboard.store, reason=DeadReason("unverified"), acceptance=GATE_VERDICT,
                   attempts=[attempt(1, json.dumps({"record": GATE_VERDICT["record"]}), [])])
    claim(dashboard, "alice", job.id)
    response = dashboard.signed_in("alice").get(f"/items/{job.id}")
    page = response.text
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    # The failed checks, per field, in a table and at the form's fields.
    table = re.search(r'<table class="errors" id="failed-checks">.*?</table>', page, re.S)
    assert table is not None
    for name, check in (("customer_email", "region_not_allowed"),
                        ("order_id", "region_not_allowed"), ("issue_type", "disagreement")):
        assert re.search(rf"<code>{name}</code></td><td>{check}</td>", table.group(0))
    assert "order_date" not in table.group(0)
    assert "region_not_allowed: the quote is in a quoted reply" in page
    # The source the gate read, regions marked, quotes highlighted, nothing unescaped.
    view = re.search(r'<div class="source-view" id="gate-source"[^>]*>(.*?)</div>', page, re.S)
    assert view is not None
    source = view.group(1)
    assert re.search(r'<mark class="src src-quoted evidence evidence-failed" '
                     r'title="evidence for order_id[^"]*">order 55210</mark>', source)
    assert re.search(r'<mark class="src src-author evidence" title="evidence for order_date'
                     r'[^"]*">ordered 2025-02-03</mark>', source)
    assert '<span class="src src-suspect" title="suspect: text addressed to a model">' in source
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in source
    assert "<script>alert(1)" not in page
    # The form starts from the candidate; the address the headers ground replaces the
    # injected one, the name the candidate lacked comes from the From header.
    assert re.search(r'name="customer_email" type="email" value="jane@example.com"', page)
    assert re.search(r'name="customer_name" type="text" value="Jane Doe"', page)
    assert re.search(r'name="order_id" type="text" value="55210"', page)
    assert re.search(r'id="from-headers">Filled from the headers: <code>customer_email</code>, '
                     r'<code>customer_name</code>', page)


def test_an_item_without_a_verdict_shows_no_gate_panel(dashboard: Dashboard) -> None:
    job = dead_job(dashboard.store)
    page = dashboard.signed_in("vera").get(f"/items/{job.id}").text
    assert 'id="gate-source"' not in page and 'id="failed-checks"' not in page
    assert re.search(r'name="customer_email" type="email" value="jane@example.com"', page)


def test_a_verified_extractions_envelope_is_diffed_as_its_record(dashboard: Dashboard) -> None:
    """Attempts of a verified extraction answer {"record", "evidence"}: the audit and the
    training export diff the reviewer's record against the record, not the envelope."""
    record = {k: v for k, v in resolve_form(0, order_id="55210").items() if k != "version"}
    envelope = json.dumps({"record": record, "evidence": {"order_id": "order 55210"}})
    job = dead_job(dashboard.store, attempts=[attempt(1, envelope, [])])
    claim(dashboard, "alice", job.id)
    version = dashboard.store.get(job.id).version
    assert dashboard.post("alice", f"/items/{job.id}/resolve",
                          resolve_form(version)).status_code == 303
    change = [{"field": "order_id", "from": "55210", "to": "55211"}]
    entry = dashboard.services.audit.last_action(job.id, "resolve")
    assert entry is not None and entry.changes == change
    lines = dashboard.signed_in("alice").get("/export/training.jsonl").text.splitlines()
    example = next(json.loads(line) for line in lines if job.id in line)
    assert example["diff_from_best"] == change
