"""Reading a dead job's attempt ledger: each attempt's output, what changed, the best one.

The best attempt is the one a reviewer should start from: it parsed, and it has the
fewest field errors (the later one on a tie, since corrections usually help). Its output
pre-fills the form, and the training export diffs the final record against it.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from libs.extraction.output import parse_output
from schemas.attempt import Attempt


def loc_path(loc: Any) -> str:
    if isinstance(loc, list | tuple):
        return ".".join(str(part) for part in loc)
    return str(loc or "")


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted paths to leaf values: ``{"customer.email": ..., "items.0.sku": ...}``."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return out if value else {prefix: []}
    return {prefix: value}


def field_changes(
    before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """Field-level ``{"field", "from", "to"}`` changes between two records."""
    old, new = flatten(before or {}), flatten(after or {})
    return [
        {"field": path, "from": old.get(path), "to": new.get(path)}
        for path in sorted(set(old) | set(new))
        if old.get(path) != new.get(path)
    ]


@dataclass
class AttemptView:
    number: int
    model: str
    mode: str
    endpoint: str
    outcome: str
    raw_text: str
    finish_reason: str | None
    parse_error: str | None
    errors: list[dict[str, Any]]
    prompt_tokens: int
    completion_tokens: int
    latency_ms: float
    parsed: dict[str, Any] | None
    changes: list[dict[str, Any]] = field(default_factory=list)
    raw_diff: str | None = None
    best: bool = False


def attempt_views(attempts: list[Attempt]) -> list[AttemptView]:
    """Older ledgers' key names are mapped by :class:`Attempt` itself when the job loads."""
    views: list[AttemptView] = []
    for attempt in attempts:
        raw = attempt.raw_text
        errors = [
            {**error.model_dump(mode="json"), "path": loc_path(error.loc)}
            for error in attempt.errors
        ]
        view = AttemptView(
            number=attempt.number,
            model=attempt.model or "?",
            mode=attempt.mode or "?",
            endpoint=attempt.endpoint,
            outcome=attempt.outcome.value,
            raw_text=raw,
            finish_reason=attempt.finish_reason,
            parse_error=attempt.parse_error,
            errors=errors,
            prompt_tokens=attempt.prompt_tokens,
            completion_tokens=attempt.completion_tokens,
            latency_ms=attempt.latency_ms,
            parsed=parse_output(raw),
        )
        if views:
            previous = views[-1]
            if previous.parsed is not None and view.parsed is not None:
                view.changes = field_changes(previous.parsed, view.parsed)
            else:
                diff = difflib.unified_diff(
                    previous.raw_text.splitlines(), raw.splitlines(),
                    f"attempt {previous.number}", f"attempt {view.number}", lineterm="", n=1,
                )
                view.raw_diff = "\n".join(diff) or None
        views.append(view)
    best = best_attempt(views)
    if best is not None:
        best.best = True
    return views


def best_attempt(views: list[AttemptView]) -> AttemptView | None:
    parsed = [view for view in views if view.parsed is not None]
    if not parsed:
        return None
    return min(parsed, key=lambda view: (len(view.errors), -view.number))
