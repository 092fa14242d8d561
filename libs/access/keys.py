"""The API key ring: which bearer keys exist, and the principal each one stands for.

Keys come from three places, all read into one ring:

- ``SLUICE_API_KEYS_FILE``: one JSON object per line, ``{"id", "sha256", "tenant",
  "scopes"}``, written by ``sluice keys add``. Only the sha256 of each key is stored. A key
  is a random token of 32 bytes from :func:`secrets.token_urlsafe`, so nobody can guess it
  from its hash: a slow password hash (argon2, bcrypt) protects LOW-entropy secrets against
  guessing and would only cost every request its time here. A leaked file grants nothing.
- ``SLUICE_API_KEYS``: plain keys as before, each a full-access key of the ``default``
  tenant (every scope but ``admin``), named by :func:`sluice.settings.api_key_id`.
- ``SLUICE_ADMIN_API_KEYS``: plain keys with the ``admin`` scope.

:meth:`KeyRing.authenticate` hashes the offered key once and compares it with EVERY known
hash in constant time, so neither the answer's timing nor an early exit says which key
matched or how much of one did. The file is re-read when it changes, so a key added by
``sluice keys add`` works without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from schemas.principal import DEFAULT_TENANT, FULL_ACCESS, TENANT_PATTERN, Principal, Scope
from sluice.settings import Settings, api_key_id

KEY_BYTES = 32


class InvalidKeysFile(ValueError):
    """A line of the keys file is not a key entry; names the file and line."""


class KeyEntry(BaseModel):
    """One line of the keys file: a key's public id, its hash, tenant and scopes."""

    id: str = Field(min_length=1, max_length=200)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    tenant: str = Field(default=DEFAULT_TENANT, pattern=TENANT_PATTERN)
    scopes: list[Scope] = Field(min_length=1)

    def principal(self) -> Principal:
        return Principal(key_id=self.id, tenant=self.tenant, scopes=frozenset(self.scopes))


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "sk_" + secrets.token_urlsafe(KEY_BYTES)


def read_keys_file(path: Path) -> list[KeyEntry]:
    entries: list[KeyEntry] = []
    if not path.exists():
        return entries
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            entries.append(KeyEntry.model_validate_json(line))
        except ValidationError as exc:
            raise InvalidKeysFile(f"{path}:{number}: not a key entry: {exc}") from None
    return entries


def add_key(path: Path, *, tenant: str, scopes: Iterable[Scope], key_id: str | None = None
            ) -> tuple[str, KeyEntry]:
    """Create a key, append its hash to ``path`` (0600) and return (key, entry): the key
    itself is returned once and stored nowhere."""
    key = new_key()
    entry = KeyEntry(id=key_id or f"key-{secrets.token_hex(4)}", sha256=key_hash(key),
                     tenant=tenant, scopes=sorted(set(scopes)))
    if any(known.id == entry.id for known in read_keys_file(path)):
        raise InvalidKeysFile(f"{path}: a key named {entry.id!r} exists already")
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as file:
        file.write(json.dumps(entry.model_dump(mode="json")) + "\n")
    return key, entry


@dataclass(frozen=True)
class _Known:
    digest: bytes
    principal: Principal


class KeyRing:
    """Every known key as (sha256, principal), re-read when the keys file changes."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = None
        self._known = self._load()

    def _file_stamp(self) -> tuple[float, int] | None:
        path = self._settings.api_keys_file
        if path is None:
            return None
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        return info.st_mtime, info.st_size

    def _load(self) -> list[_Known]:
        known: list[_Known] = []
        for key in self._settings.api_key_values():
            principal = Principal(key_id=api_key_id(key), scopes=FULL_ACCESS)
            known.append(_Known(bytes.fromhex(key_hash(key)), principal))
        for key in self._settings.admin_key_values():
            principal = Principal(key_id=api_key_id(key), scopes=frozenset({Scope.ADMIN}))
            known.append(_Known(bytes.fromhex(key_hash(key)), principal))
        self._stamp = self._file_stamp()
        if self._settings.api_keys_file is not None:
            for entry in read_keys_file(self._settings.api_keys_file):
                known.append(_Known(bytes.fromhex(entry.sha256), entry.principal()))
        return known

    def _current(self) -> list[_Known]:
        with self._lock:
            if self._file_stamp() != self._stamp:
                self._known = self._load()
            return self._known

    def authenticate(self, offered: str) -> Principal | None:
        """The principal of ``offered``, or None; compares against every key (a key in
        both plain lists gets the wider of its two principals: admin)."""
        digest = bytes.fromhex(key_hash(offered))
        found: Principal | None = None
        for known in self._current():
            # Every comparison runs, matched or not: no early exit to time.
            matched = hmac.compare_digest(digest, known.digest)
            if matched and (found is None or known.principal.has(Scope.ADMIN)):
                found = known.principal
        return found
