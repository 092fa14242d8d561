"""Two dashboard replicas on one PostgreSQL database: one set of users, sessions valid on
either, one audit trail. Each replica has its own data dir, so nothing is shared but the
database (a SQLite dashboard file would be per replica)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from cli.embedded_redis import EmbeddedRedis
from dlq_dashboard.app import create_app
from dlq_dashboard.database import open_dashboard_db
from dlq_dashboard.services import Services
from dlq_dashboard.sessions import SESSION_COOKIE
from dlq_dashboard.users import Role, UserDirectory
from schemas.job import JobStatus
from tests.conftest import SluiceEnv, make_env
from tests.dlq_dashboard.conftest import PASSWORD, csrf_of, dead_job


@pytest.fixture
def replicas(
    redis_server: EmbeddedRedis, postgres_url: str, tmp_path: Path
) -> Iterator[tuple[SluiceEnv, SluiceEnv]]:
    redis.Redis(unix_socket_path=str(redis_server.socket_path)).flushall()
    first = make_env(tmp_path / "replica-a", redis_server.url, database_url=postgres_url)
    second = make_env(tmp_path / "replica-b", redis_server.url, database_url=postgres_url)
    database = open_dashboard_db(first.settings)
    UserDirectory(database).add("alice", Role.REVIEWER, PASSWORD)
    database.close()
    yield first, second
    first.store.close()
    second.store.close()


def sign_in(client: TestClient, name: str) -> None:
    page = client.get("/login")
    response = client.post("/login", data={
        "username": name, "password": PASSWORD, "csrf_token": csrf_of(page.text), "next": "/",
    })
    assert response.status_code == 303 and response.headers["location"] == "/"


def test_a_session_started_on_one_replica_works_on_the_other(
    replicas: tuple[SluiceEnv, SluiceEnv],
) -> None:
    first_env, second_env = replicas
    first_app = create_app(first_env.settings, store=first_env.store)
    second_app = create_app(second_env.settings, store=second_env.store)
    on_first = TestClient(first_app, follow_redirects=False)
    on_second = TestClient(second_app, follow_redirects=False)
    job = dead_job(first_env.store)

    assert on_second.get("/").status_code == 303  # a stranger to both
    sign_in(on_first, "alice")
    on_second.cookies.set(SESSION_COOKIE, on_first.cookies[SESSION_COOKIE])

    # The second replica knows the session and its CSRF token: it claims for alice.
    page = on_second.get("/")
    assert page.status_code == 200 and "alice" in page.text
    claimed = on_second.post(f"/items/{job.id}/claim", data={"csrf_token": csrf_of(page.text)})
    assert claimed.status_code == 303
    assert first_env.store.get(job.id).status is JobStatus.CLAIMED

    # One audit trail: the first replica reads what the second wrote.
    first_services: Services = first_app.state.services
    actions = [(entry.actor, entry.action) for entry in first_services.audit.for_job(job.id)]
    assert actions == [("alice", "claim")]

    # Signing out on the first replica ends the session on the second.
    signed_out = on_first.post("/logout", data={"csrf_token": csrf_of(on_first.get("/").text)})
    assert signed_out.status_code == 303
    assert on_second.get("/").status_code == 303
    first_services.close()
    second_app.state.services.close()


def test_the_audit_log_refuses_changes_in_postgresql(
    replicas: tuple[SluiceEnv, SluiceEnv],
) -> None:
    import psycopg

    first_env, _ = replicas
    database = open_dashboard_db(first_env.settings)
    database.get().execute("INSERT INTO audit (at, actor, action, changes, detail)"
                           " VALUES (?, ?, ?, ?, ?)", ("now", "alice", "claim", "[]", "{}"))
    for statement in ("UPDATE audit SET actor = 'mallory'", "DELETE FROM audit",
                      "TRUNCATE audit"):
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            database.get().execute(statement)
    rows = database.get().execute("SELECT actor FROM audit").fetchall()
    assert [row[0] for row in rows] == ["alice"]

    # A permit lets one kind of change through, only inside its own transaction.
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"), \
            database.transaction() as connection:
        connection.execute("INSERT INTO audit_permits (purpose) VALUES ('retention')")
        connection.execute("UPDATE audit SET actor = 'mallory'")  # an erasure's change
    with database.transaction() as connection:
        connection.execute("INSERT INTO audit_permits (purpose) VALUES ('erasure')")
        assert connection.execute("UPDATE audit SET detail = ? WHERE instr(actor, ?) > 0",
                                  ('{"erased": true}', "lic")).rowcount == 1
        connection.execute("DELETE FROM audit_permits")
    with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
        database.get().execute("UPDATE audit SET detail = '{}'")
    assert database.get().execute("SELECT detail FROM audit").fetchone()[0] == '{"erased": true}'
    database.close()
