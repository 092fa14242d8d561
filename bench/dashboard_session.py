"""A dashboard app over a given store, with a viewer signed in: what the benches time."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from sluice.settings import Settings
from sluice.stores import JobStore


def signed_in_viewer(settings: Settings, store: JobStore) -> tuple[TestClient, Any]:
    """A client signed in as a viewer, and the app's services."""
    from dlq_dashboard.app import create_app
    from dlq_dashboard.sessions import CSRF_FIELD
    from dlq_dashboard.users import Role

    app = create_app(settings, store=store)
    app.state.services.users.add("bench", Role.VIEWER, "bench-password")
    client = TestClient(app)
    login = client.get("/login").text
    token = login.split(f'name="{CSRF_FIELD}" value="', 1)[1].split('"', 1)[0]
    client.post("/login", data={"username": "bench", "password": "bench-password",
                                CSRF_FIELD: token})
    return client, app.state.services
