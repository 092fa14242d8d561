"""Per-job overrides a client may ask for, held to the operator's settings.

An input may carry ``budget`` (``attempts``, ``tokens``, ``seconds``), ``max_tokens`` and
``model``. They let a caller spend less, never more: above the configured
``SLUICE_EXTRACT_MAX_*`` budgets or completion size, or naming another model than
``SLUICE_LLM_MODEL``, the request is refused with 422 naming the field, unless the
principal is an admin (a reviewer's re-run on a bigger model goes through the dashboard,
whose users are the operator's own).
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, status

from schemas.principal import Principal, Scope
from sluice.settings import Settings


def refuse_overrides_above_settings(
    input: dict[str, Any], settings: Settings, caller: Principal, *, at: str = "input"
) -> None:
    if caller.has(Scope.ADMIN):
        return
    problems: list[dict[str, Any]] = []

    def over(loc: list[str | int], value: Any, cap: Any, message: str) -> None:
        problems.append({"loc": ["body", at, *loc], "msg": message, "type": "override_capped",
                         "input": value, "ctx": {"cap": cap}})

    budget = input.get("budget")
    if isinstance(budget, dict):
        caps = {"attempts": settings.extract_max_attempts, "tokens": settings.extract_max_tokens,
                "seconds": settings.extract_max_seconds}
        for name, cap in caps.items():
            value = budget.get(name)
            if isinstance(value, int | float) and value > cap:
                over(["budget", name], value, cap, f"at most {cap:g} without the admin scope")
    max_tokens = input.get("max_tokens")
    cap_tokens = settings.extract_completion_tokens * 2  # the worker doubles it on truncation
    if isinstance(max_tokens, int) and max_tokens > cap_tokens:
        over(["max_tokens"], max_tokens, cap_tokens,
             f"at most {cap_tokens} without the admin scope")
    model = input.get("model")
    if model is not None and model != settings.llm_model:
        over(["model"], model, settings.llm_model,
             f"only {settings.llm_model!r} without the admin scope")
    if problems:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=problems)
