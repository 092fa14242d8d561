"""Sign-in is throttled per name and per address; forms are size-limited."""

from __future__ import annotations

from dlq_dashboard.app import MAX_FORM_BYTES
from dlq_dashboard.sign_in_throttle import (
    MAX_FAILURES_PER_ADDRESS,
    MAX_FAILURES_PER_USER,
    WINDOW_SECONDS,
    SignInThrottle,
)
from tests.dlq_dashboard.conftest import PASSWORD, Dashboard, csrf_of


def _try(dashboard: Dashboard, name: str, password: str) -> int:
    client = dashboard.client()
    page = client.get("/login")
    response = client.post("/login", data={"username": name, "password": password,
                                           "csrf_token": csrf_of(page.text), "next": "/"})
    return response.status_code


def test_wrong_passwords_past_the_limit_are_refused_unhashed_and_audited_once(
    dashboard: Dashboard,
) -> None:
    for _ in range(MAX_FAILURES_PER_USER):
        assert _try(dashboard, "alice", "wrong") == 303
    audited = len(dashboard.services.audit.recent(1000))

    # Now even the right password is refused until the window passes, and a flood of
    # tries adds one audit row, not one per try.
    assert _try(dashboard, "alice", PASSWORD) == 429
    for _ in range(10):
        assert _try(dashboard, "alice", "wrong") == 429
    actions = [entry.action for entry in dashboard.services.audit.recent(1000)]
    assert len(actions) == audited + 1 and actions[0] == "sign_in_throttled"
    # Another name is not locked out by it (the shared address is under its own limit).
    assert _try(dashboard, "vera", PASSWORD) == 303


def test_the_window_and_the_address_limit() -> None:
    now = [1000.0]
    throttle = SignInThrottle(now=lambda: now[0])
    for _ in range(MAX_FAILURES_PER_USER):
        assert throttle.check("ann", "10.0.0.1").allowed
        throttle.failed("ann", "10.0.0.1")
    refused = throttle.check("ann", "10.0.0.2")
    assert not refused.allowed and refused.first_refusal and refused.retry_after > 0
    assert not throttle.check("ann", "10.0.0.2").first_refusal
    now[0] += WINDOW_SECONDS + 1
    assert throttle.check("ann", "10.0.0.1").allowed

    # One address guessing many names is throttled too, and a success does not clear it.
    for i in range(MAX_FAILURES_PER_ADDRESS):
        throttle.failed(f"name{i}", "10.0.0.9")
    throttle.succeeded("name0")
    assert not throttle.check("someone-else", "10.0.0.9").allowed


def test_a_form_body_over_the_limit_is_refused_with_413(dashboard: Dashboard) -> None:
    client = dashboard.client()
    page = client.get("/login")
    response = client.post("/login", data={"username": "x" * (MAX_FORM_BYTES + 1),
                                           "password": "p", "csrf_token": csrf_of(page.text)})
    assert response.status_code == 413
