"""Server-side sessions and their CSRF tokens.

The cookie holds a random token; the table holds only its SHA-256, so a copy of the
database signs nobody in. Each session has its own CSRF token, which every form carries
in a hidden field (and htmx in a header); a POST without the matching token is refused
before any handler runs.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from dlq_dashboard.database import DashboardDatabase
from dlq_dashboard.users import Role, User
from schemas.job import utcnow
from sluice.stores.base import format_time

SESSION_COOKIE = "sluice_session"
LOGIN_CSRF_COOKIE = "sluice_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: datetime


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(offered: str | None, expected: str) -> bool:
    return offered is not None and hmac.compare_digest(offered.encode(), expected.encode())


class SessionStore:
    def __init__(self, db: DashboardDatabase, lifetime: timedelta) -> None:
        self._db = db
        self._lifetime = lifetime

    def create(self, user: User) -> str:
        """Start a session; returns the cookie token (shown once, stored hashed)."""
        token = secrets.token_urlsafe(32)
        now = utcnow()
        connection = self._db.get()
        connection.execute("DELETE FROM sessions WHERE expires_at < ?", (format_time(now),))
        connection.execute(
            "INSERT INTO sessions (token_hash, user_name, csrf_token, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                _digest(token),
                user.name,
                secrets.token_urlsafe(32),
                format_time(now),
                format_time(now + self._lifetime),
            ),
        )
        return token

    def lookup(self, token: str) -> Session | None:
        row = (
            self._db.get()
            .execute(
                "SELECT s.csrf_token, s.expires_at, u.name, u.role FROM sessions s"
                " JOIN users u ON u.name = s.user_name WHERE s.token_hash = ?"
                " AND s.expires_at > ?",
                (_digest(token), format_time(utcnow())),
            )
            .fetchone()
        )
        if row is None:
            return None
        csrf_token, expires_at, name, role = row
        return Session(
            User(name, Role(role)),
            csrf_token,
            datetime.strptime(expires_at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
                tzinfo=utcnow().tzinfo
            ),
        )

    def delete(self, token: str) -> None:
        self._db.get().execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))
