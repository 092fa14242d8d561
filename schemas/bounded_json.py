"""Client-supplied JSON objects, bounded in depth.

A job's input, a requeue's replacement input, a resolution's record and a document's
metadata are stored and read back by every listing, sweep and dashboard page. Nesting is
capped at :data:`MAX_DEPTH` levels where a client hands them in (a 422 names the field):
no real input needs more, and every parser on the way (pydantic's stops at 200 levels,
SQLite's at 1000, a browser's JSON viewer sooner) then reads what was stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator

MAX_DEPTH = 32


def json_depth(value: Any) -> int:
    """Levels of nested objects and arrays in ``value`` (a scalar is 0); no recursion."""
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        pending.extend((child, depth + 1) for child in children)
    return deepest


def _within_depth(value: dict[str, Any]) -> dict[str, Any]:
    if json_depth(value) > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    return value


# MongoDB (BSON) holds signed 64-bit integers; a larger one is refused here, with a 422 that
# names it, rather than as a 500 at the store or a dead-lettered result later.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1


def integer_out_of_range(value: Any) -> str | None:
    """The dotted path of the first integer outside 64 bits in ``value``, or None."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        node, path = pending.pop()
        if isinstance(node, dict):
            pending.extend((child, f"{path}.{key}" if path else str(key))
                           for key, child in node.items())
        elif isinstance(node, list | tuple):
            pending.extend((child, f"{path}.{index}" if path else str(index))
                           for index, child in enumerate(node))
        elif isinstance(node, int) and not INT64_MIN <= node <= INT64_MAX:
            return path or "(the value)"
    return None


def _integers_within_64_bits(value: dict[str, Any]) -> dict[str, Any]:
    path = integer_out_of_range(value)
    if path is not None:
        raise ValueError(f"the integer at {path} does not fit in 64 bits (the store's limit)")
    return value


BoundedObject = Annotated[
    dict[str, Any], AfterValidator(_within_depth), AfterValidator(_integers_within_64_bits)
]
"""A JSON object nested at most :data:`MAX_DEPTH` levels, its integers within 64 bits."""
