"""Dashboard fixtures: users of every role, dead extraction jobs written through the store."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from dlq_dashboard.app import create_app
from dlq_dashboard.database import SCHEMA, dashboard_db_path
from dlq_dashboard.services import Services
from dlq_dashboard.users import Role, UserDirectory
from libs.dead_letter.actions import error_signature
from schemas.job import DeadReason, Job, JobStatus, utcnow
from sluice.settings import Settings
from sluice.stores import JobStore
from sluice.stores.sqlite_db import SQLiteConnections
from tests.conftest import SluiceEnv

PASSWORD = "correct horse battery"
ROLES = {"alice": Role.REVIEWER, "bob": Role.REVIEWER, "vera": Role.VIEWER, "ada": Role.ADMIN}
SOURCE_EMAIL = """From: Jane Doe <jane@example.com>
To: support@shop.example
Subject: Broken kettle, order 55211
Date: Mon, 03 Mar 2025 09:12:00 +0000
Content-Type: text/plain; charset=utf-8

Hello, the kettle from order 55211 (ordered 2025-02-03) arrived cracked.
I would like a refund please. Jane Doe
"""


def attempt(number: int, raw: str, errors: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "number": number,
        "endpoint": "http://llm.test/v1",
        "model": "gemma-3-270m",
        "mode": "json_object_schema",
        "raw_text": raw,
        "finish_reason": "stop",
        "outcome": "invalid" if errors else "valid",
        "parse_error": None,
        "errors": errors,
        "prompt_tokens": 410,
        "completion_tokens": 52,
        "latency_ms": 812.0,
        **extra,
    }


FIRST = attempt(
    1,
    '{"customer_email": "jane@example.com", "order_id": "5521", "issue_type": "refund",'
    ' "order_date": "2025-02-03", "customer_name": "Jane Doe"}',
    [
        {"loc": ["order_id"], "type": "string_pattern_mismatch",
         "msg": "String should match pattern '^[0-9]{5}$'", "input": "5521"},
        {"loc": ["issue_type"], "type": "enum", "msg": "Input should be 'refund_request', "
         "'delivery_issue', 'product_defect' or 'general_inquiry'", "input": "refund"},
    ],
)
BEST = attempt(
    2,
    '{"customer_email": "jane@example.com", "order_id": "55210", "issue_type": '
    '"refund_request", "order_date": "2025-02-03", "customer_name": "Jane Doe"}',
    [{"loc": ["order_id"], "type": "not_in_source",
      "msg": "order number 55210 does not occur in the source message", "input": "55210"}],
)


def dead_job(
    store: JobStore,
    *,
    attempts: list[dict[str, Any]] | None = None,
    input: dict[str, Any] | None = None,
    reason: DeadReason = DeadReason.EXHAUSTED,
    age: timedelta = timedelta(hours=1),
    schema_name: str = "support_ticket",
    **fields: Any,
) -> Job:
    """A dead extraction job as the worker leaves it, written straight into the store."""
    attempts = [FIRST, BEST] if attempts is None else attempts
    last_errors = attempts[-1]["errors"] if attempts else []
    job = Job(
        kind="extract",
        input=input or {"schema": "support_ticket", "email": SOURCE_EMAIL,
                        "source": "email:support", "sender": "jane@example.com"},
        status=JobStatus.DEAD,
        reason=reason,
        error="3 attempts, still invalid",
        attempts=attempts,
        schema_name=schema_name,
        schema_version=1,
        error_signature=error_signature(last_errors) if last_errors else None,
        created_at=utcnow() - age,
        finished_at=utcnow(),
        **fields,
    )
    created, _ = store.create(job)
    return created


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@dataclass
class Dashboard:
    env: SluiceEnv
    app: FastAPI
    clients: dict[str, TestClient] = field(default_factory=dict)

    @property
    def services(self) -> Services:
        services: Services = self.app.state.services
        return services

    @property
    def store(self) -> JobStore:
        return self.env.store

    def client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def signed_in(self, name: str) -> TestClient:
        if name not in self.clients:
            client = self.client()
            page = client.get("/login")
            response = client.post(
                "/login",
                data={"username": name, "password": PASSWORD, "csrf_token": csrf_of(page.text),
                      "next": "/"},
            )
            assert response.status_code == 303 and response.headers["location"] == "/"
            self.clients[name] = client
        return self.clients[name]

    def csrf(self, name: str) -> str:
        return csrf_of(self.signed_in(name).get("/").text)

    def post(self, name: str, path: str, data: dict[str, Any] | None = None) -> Any:
        body = {"csrf_token": self.csrf(name), **(data or {})}
        return self.signed_in(name).post(path, data=body)


@pytest.fixture(scope="session")
def users_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dashboard database holding the users; hashing argon2 once per session, not per test."""
    path = tmp_path_factory.mktemp("dashboard-users") / "dashboard.db"
    db = SQLiteConnections(path, SCHEMA)
    users = UserDirectory(db)
    for name, role in ROLES.items():
        users.add(name, role, PASSWORD)
    db.close()
    return path


def with_users(settings: Settings, users_db: Path) -> None:
    target = dashboard_db_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(users_db, target)


@pytest.fixture
def dashboard(sluice_env: SluiceEnv, users_db: Path) -> Dashboard:
    with_users(sluice_env.settings, users_db)
    app = create_app(sluice_env.settings, store=sluice_env.store)
    return Dashboard(sluice_env, app)
