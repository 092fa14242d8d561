"""What BSON cannot hold, said in words before (or instead of) PyMongo's bare exception.

SQLite keeps JSON text and accepts any integer and any size; MongoDB refuses integers
outside 64 bits (``OverflowError``) and documents over 16 MiB (``DocumentTooLarge``).
:func:`refusals_as_unstorable` turns those into :class:`~sluice.errors.UnstorableValue`
naming the value, so the API answers 422 and a producer dead-letters the item instead of
retrying it forever.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import bson
from bson.errors import InvalidDocument
from pymongo.errors import DocumentTooLarge

from schemas.bounded_json import INT64_MAX, INT64_MIN, integer_out_of_range
from sluice.errors import UnstorableValue

# MongoDB's maxBsonObjectSize.
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024


out_of_range_integer = integer_out_of_range


def unstorable_reason(document: Mapping[str, Any], what: str) -> str | None:
    """Why MongoDB would refuse ``document`` (described as ``what``), or None."""
    path = out_of_range_integer(document)
    if path is not None:
        return f"{what}: the integer at {path} does not fit MongoDB's 64-bit integers"
    try:
        size = len(bson.encode(document))
    except InvalidDocument as exc:
        return f"{what}: MongoDB cannot encode it ({exc})"
    if size > MAX_DOCUMENT_BYTES:
        return (f"{what} is {size} bytes as BSON, above MongoDB's limit of "
                f"{MAX_DOCUMENT_BYTES} bytes (16 MiB)")
    return None


@contextmanager
def refusals_as_unstorable(document: Mapping[str, Any], what: str) -> Iterator[None]:
    """Around one write of ``document``: BSON's refusals become :class:`UnstorableValue`."""
    try:
        yield
    except (OverflowError, DocumentTooLarge, InvalidDocument) as exc:
        why = unstorable_reason(document, what) or f"{what}: {type(exc).__name__}: {exc}"
        raise UnstorableValue(why) from exc


__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "MAX_DOCUMENT_BYTES",
    "out_of_range_integer",
    "refusals_as_unstorable",
    "unstorable_reason",
]
