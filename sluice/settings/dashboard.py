"""Settings of the operators' web UIs: the DLQ dashboard and Flower."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class DashboardSettings(BaseModel):
    dashboard_host: str = Field("127.0.0.1", description="Address the DLQ dashboard binds to.")

    dashboard_port: int = Field(
        8001, ge=1, le=65535, description="Port the DLQ dashboard listens on."
    )

    dashboard_db_path: Path | None = Field(
        None, description="SQLite file of dashboard users, sessions, audit log. Unset: "
        "DATA_DIR/dashboard.db.",
    )

    dashboard_lease_seconds: float = Field(
        900.0, gt=0, description="How long a reviewer's claim on a dead job lasts unrenewed."
    )

    dashboard_renew_seconds: float = Field(
        60.0, gt=0, description="How often an open item page renews its claim's lease."
    )

    dashboard_sla_hours: float = Field(
        24.0, gt=0, description="Dead items older than this get a red age badge."
    )

    dashboard_session_hours: float = Field(
        12.0, gt=0, description="A dashboard sign-in lasts this long."
    )

    dashboard_secure_cookies: bool = Field(
        False, description="Mark dashboard cookies Secure (set when served over HTTPS)."
    )

    flower_user: str = Field("admin", description="Flower basic-auth user.")

    flower_password: SecretStr | None = Field(
        None, description="Flower basic-auth password; `sluice flower` refuses to start without it."
    )

    flower_host: str = Field("127.0.0.1", description="Address Flower binds to.")

    flower_port: int = Field(5555, ge=1, le=65535, description="Port Flower listens on.")
