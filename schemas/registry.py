"""Extraction schemas by name and version.

A job names the schema it extracts (``input.schema``, optionally ``input.schema_version``);
the worker, the API, the CLI and the review dashboard all find the pydantic model here, so
a resolution is validated by exactly the model the worker used. Built in: ``support_ticket``
version 1. Users add their own models three ways:

* call :func:`register` in a module that is imported (a plugin);
* the entry-point group ``sluice.schemas`` (``ticket = "mypkg.models:Ticket"``): the entry
  point's name is the schema name unless the model says otherwise;
* ``SLUICE_SCHEMAS=module:Model,other.module:Other``.

A model may declare ``__sluice_schema__ = ("name", version)``; without it the name is the
entry-point name (or the snake_case class name) and the version 1.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from dataclasses import dataclass
from importlib.metadata import entry_points

from pydantic import BaseModel

ENTRY_POINT_GROUP = "sluice.schemas"
SCHEMAS_ENV = "SLUICE_SCHEMAS"


@dataclass(frozen=True)
class SchemaEntry:
    name: str
    version: int
    model: type[BaseModel]

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


class UnknownSchema(KeyError):
    """No schema of that name (or version) is registered."""

    def __init__(self, name: str, version: int | None, known: list[str]) -> None:
        super().__init__(name)
        self.name = name
        self.version = version
        self.known = known

    def __str__(self) -> str:
        wanted = self.name if self.version is None else f"{self.name} version {self.version}"
        return f"unknown schema {wanted!r}; known schemas: {', '.join(self.known) or 'none'}"


class SchemaConflict(ValueError):
    """A name and version already belong to a different model."""


class SchemaLoadError(ImportError):
    """A user schema named in the environment or an entry point could not be loaded."""


_lock = threading.RLock()
_entries: dict[tuple[str, int], SchemaEntry] = {}
_loaded = False
_loaded_specs: set[str] = set()


def register(model: type[BaseModel], *, name: str, version: int = 1) -> SchemaEntry:
    """Register ``model`` as schema ``name`` at ``version``; registering it again is a no-op."""
    if not re.fullmatch(r"[a-z][a-z0-9_.\-]*", name):
        raise ValueError(f"schema name {name!r}: use lowercase letters, digits, _ . -")
    if version < 1:
        raise ValueError(f"schema {name}: version must be >= 1, not {version}")
    entry = SchemaEntry(name, version, model)
    with _lock:
        existing = _entries.get((name, version))
        if existing is not None and existing.model is not model:
            raise SchemaConflict(
                f"schema {name} version {version} is {existing.model.__qualname__} already; "
                f"register {model.__qualname__} under a new version"
            )
        _entries[(name, version)] = entry
    return entry


def get_schema(name: str, version: int | None = None) -> SchemaEntry:
    """The entry for ``name`` at ``version``, or its latest version when ``version`` is None."""
    load_schemas()
    with _lock:
        if version is not None:
            entry = _entries.get((name, version))
            if entry is None:
                raise UnknownSchema(name, version, _known())
            return entry
        versions = [entry for (entry_name, _), entry in _entries.items() if entry_name == name]
    if not versions:
        raise UnknownSchema(name, None, _known())
    return max(versions, key=lambda entry: entry.version)


def schema_names() -> list[str]:
    load_schemas()
    with _lock:
        return sorted({name for name, _ in _entries})


def schema_entries() -> list[SchemaEntry]:
    load_schemas()
    with _lock:
        return sorted(_entries.values(), key=lambda entry: (entry.name, entry.version))


def _known() -> list[str]:
    return sorted({name for name, _ in _entries})


def load_schemas(spec: str | None = None, *, reload: bool = False) -> None:
    """Register the built-ins, entry points and ``SLUICE_SCHEMAS`` (or ``spec``), once."""
    global _loaded
    with _lock:
        if _loaded and not reload and (spec is None or spec in _loaded_specs):
            return
        _register_builtins()
        for point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                loaded = point.load()
            except Exception as exc:
                raise SchemaLoadError(f"entry point {point.name} = {point.value}: {exc}") from exc
            _register_model(loaded, default_name=point.name, origin=f"entry point {point.name}")
        for item in _split(spec if spec is not None else os.environ.get(SCHEMAS_ENV, "")):
            _register_model(_import(item), default_name=None, origin=item)
        _loaded = True
        if spec is not None:
            _loaded_specs.add(spec)


def _register_builtins() -> None:
    from schemas.support_ticket import SupportTicket

    register(SupportTicket, name="support_ticket", version=1)


def _split(spec: str) -> list[str]:
    return [item.strip() for item in spec.split(",") if item.strip()]


def _import(reference: str) -> object:
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise SchemaLoadError(f"{SCHEMAS_ENV}: {reference!r} is not module:Model")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attribute)
    except (ImportError, AttributeError) as exc:
        raise SchemaLoadError(f"{SCHEMAS_ENV}: cannot load {reference}: {exc}") from exc


def _register_model(loaded: object, *, default_name: str | None, origin: str) -> None:
    if not (isinstance(loaded, type) and issubclass(loaded, BaseModel)):
        raise SchemaLoadError(f"{origin}: {loaded!r} is not a pydantic model class")
    declared = getattr(loaded, "__sluice_schema__", None)
    if declared is not None:
        name, version = declared
    else:
        name, version = default_name or _snake_case(loaded.__name__), 1
    register(loaded, name=str(name), version=int(version))


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
