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


BoundedObject = Annotated[dict[str, Any], AfterValidator(_within_depth)]
"""A JSON object nested at most :data:`MAX_DEPTH` levels."""
