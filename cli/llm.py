"""``sluice llm pause|resume|status``: the fleet-wide LLM kill switch, and budget windows.

These talk to the broker's Redis directly, so they work while the API is down; the next
LLM call anywhere in the fleet sees the switch.
"""

from __future__ import annotations

import getpass
import socket
from typing import Annotated, Any

import typer

app = typer.Typer(help="The LLM kill switch and budgets.", no_args_is_help=True)


def _settings() -> Any:
    """The settings, after checking that the broker's Redis answers."""
    import redis

    from cli.main import _settings_or_exit
    from sluice.broker_redis import broker_redis
    from sluice.settings import mask_url

    settings = _settings_or_exit()
    try:
        broker_redis(settings).ping()
    except redis.RedisError as exc:
        from sluice.broker_redis import broker_url

        typer.echo(f"error: the broker's Redis ({mask_url(broker_url(settings))}) does not "
                   f"answer: {exc}", err=True)
        raise typer.Exit(1) from None
    return settings


def _who() -> str:
    return f"cli:{getpass.getuser()}@{socket.gethostname()}"


@app.command()
def pause(
    reason: Annotated[str, typer.Option(help="Shown on every waiting job.")] = "",
) -> None:
    """Stop new LLM calls fleet-wide; jobs that need one wait until `sluice llm resume`."""
    from libs.llm import budget as llm_budget

    state = llm_budget.pause(_settings(), by=_who(), reason=reason)
    typer.echo(f"LLM calls paused at {state.at} by {state.by}")


@app.command()
def resume() -> None:
    """Let LLM calls start again; waiting jobs pick up at their next check."""
    from libs.llm import budget as llm_budget

    lifted = llm_budget.resume(_settings(), by=_who())
    typer.echo("LLM calls resumed" if lifted else "LLM calls were not paused")


@app.command()
def status() -> None:
    """Show the kill switch and every current budget window."""
    from libs.llm import budget as llm_budget

    settings = _settings()
    state = llm_budget.pause_state(settings)
    if state is None:
        typer.echo("LLM calls: running")
    else:
        typer.echo(f"LLM calls: PAUSED by {state.by} at {state.at} {state.reason}".rstrip())
    if not settings.llm_budgets:
        typer.echo("budgets: none (SLUICE_LLM_BUDGETS unset)")
    for window in llm_budget.usage(settings):
        typer.echo(
            f"{window.rule.name:<24} {window.scope_id:<14} {window.used:>14g} / "
            f"{window.limit:<14g} resets {window.resets_at:%Y-%m-%dT%H:%M:%SZ}"
        )
