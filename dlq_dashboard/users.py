"""Dashboard users: a name, a role, an argon2id password hash.

Roles are ordered: a viewer reads; a reviewer also claims, corrects, re-runs and discards;
an admin also runs bulk actions and takes over other people's claims. Every route checks
the role on the server (:mod:`dlq_dashboard.auth`); hiding a button is only a courtesy.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from dlq_dashboard.database import DashboardDatabase
from schemas.job import utcnow
from sluice.stores.base import format_time

MIN_PASSWORD_LENGTH = 8
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong name costs as long as a
# wrong password and response times do not list the accounts.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class Role(StrEnum):
    VIEWER = "viewer"
    REVIEWER = "reviewer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class UserExists(ValueError):
    pass


class UnknownUser(KeyError):
    def __str__(self) -> str:
        return f"no user {self.args[0]!r}"


class WeakPassword(ValueError):
    pass


@dataclass(frozen=True)
class User:
    name: str
    role: Role

    def can(self, needed: Role) -> bool:
        return self.role.allows(needed)


class UserDirectory:
    def __init__(self, db: DashboardDatabase) -> None:
        self._db = db

    def add(self, name: str, role: Role, password: str) -> User:
        if not re.fullmatch(r"[A-Za-z0-9_.@-]{1,64}", name):
            raise ValueError(f"user name {name!r}: use letters, digits, _ . @ - (max 64)")
        if len(password) < MIN_PASSWORD_LENGTH:
            raise WeakPassword(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
        connection = self._db.get()
        try:
            connection.execute(
                "INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                (name, role.value, _hasher.hash(password), format_time(utcnow())),
            )
        except connection.IntegrityError:
            raise UserExists(f"user {name!r} exists already") from None
        return User(name, role)

    def get(self, name: str) -> User | None:
        row = self._db.get().execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
        return User(name, Role(row[0])) if row else None

    def all(self) -> list[User]:
        rows = self._db.get().execute("SELECT name, role FROM users ORDER BY name")
        return [User(name, Role(role)) for name, role in rows]

    def set_role(self, name: str, role: Role) -> None:
        cursor = self._db.get().execute(
            "UPDATE users SET role = ? WHERE name = ?", (role.value, name)
        )
        if cursor.rowcount == 0:
            raise UnknownUser(name)

    def set_password(self, name: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise WeakPassword(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
        connection = self._db.get()
        cursor = connection.execute(
            "UPDATE users SET password_hash = ? WHERE name = ?", (_hasher.hash(password), name)
        )
        if cursor.rowcount == 0:
            raise UnknownUser(name)
        connection.execute("DELETE FROM sessions WHERE user_name = ?", (name,))

    def remove(self, name: str) -> None:
        if self._db.get().execute("DELETE FROM users WHERE name = ?", (name,)).rowcount == 0:
            raise UnknownUser(name)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if the password is right; None otherwise, in about the same time."""
        row = (
            self._db.get()
            .execute("SELECT role, password_hash FROM users WHERE name = ?", (name,))
            .fetchone()
        )
        stored = row[1] if row else _DUMMY_HASH
        try:
            _hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if _hasher.check_needs_rehash(stored):
            self._db.get().execute(
                "UPDATE users SET password_hash = ? WHERE name = ?", (_hasher.hash(password), name)
            )
        return User(name, Role(row[0]))
