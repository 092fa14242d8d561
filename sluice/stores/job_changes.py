"""What a compare-and-set change works on: a private copy of the job, and validated fields.

Every write of a job (three or more per job: stored, sent, delivered, settled) copies the
version it replaces and sets a few fields on the copy. Doing that with a generic deep copy
and a whole-model round trip (dump, then validate every field again) cost more CPU than
the SQLite write itself; here only what can change in place is copied, and only the fields
being set are validated.
"""

from __future__ import annotations

import copy
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import TypeAdapter

from schemas.job import Job

# Values that cannot change in place: a copy may share them with the original.
_IMMUTABLE = (str, int, float, bool, bytes, Decimal, datetime, date, timedelta, Enum,
              type(None))
# type -> whether its values are immutable, learnt per type: a job has ~40 fields, and one
# dict lookup each costs less than an isinstance check against a tuple of eleven types.
_SHARED: dict[type, bool] = {}
_ANY = TypeAdapter(Any)
# Fields typed ``Any`` hold what a handler returned; a write stores its plain form (models
# and dataclasses as dicts), as the whole-model round trip did.
_PLAIN_FIELDS = frozenset(
    name for name, field in Job.model_fields.items() if field.annotation is Any
)


def working_copy(job: Job) -> Job:
    """A copy of ``job`` that a change may modify freely, however deep, without touching
    ``job``: its lists, dicts and nested models are copied, its immutable values shared."""
    duplicate = job.model_copy()  # a new __dict__ and fields set; values shared
    values = duplicate.__dict__
    for name, value in values.items():
        value_type = type(value)
        shared = _SHARED.get(value_type)
        if shared is None:
            shared = _SHARED[value_type] = issubclass(value_type, _IMMUTABLE)
        if shared:
            continue
        if value_type in (list, dict) and not value:
            values[name] = value_type()  # most are empty: no attempts, no sinks yet
        else:
            values[name] = copy.deepcopy(value)
    return duplicate


def assign(job: Job, fields: dict[str, Any]) -> Job:
    """Set ``fields`` on ``job`` (a working copy), each validated as its field validates
    input; an unknown name or a value the field refuses raises ``ValidationError``."""
    validator = Job.__pydantic_validator__
    for name, value in fields.items():
        if name in _PLAIN_FIELDS:
            value = _ANY.dump_python(value)
        validator.validate_assignment(job, name, value)
    return job


__all__ = ["assign", "working_copy"]
