"""``sluice dashboard``, ``sluice users ...`` and ``sluice dlq export``: the review UI's CLI.

Imports of the dashboard package stay inside the commands, so ``sluice --help`` and the
worker never load it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

users_app = typer.Typer(help="Dashboard users: who may review dead letters.", no_args_is_help=True)
dlq_app = typer.Typer(help="The dead-letter queue.", no_args_is_help=True)


def _settings() -> Any:
    from cli.main import _settings_or_exit

    return _settings_or_exit()


def dashboard() -> None:
    """Serve the DLQ review dashboard on SLUICE_DASHBOARD_HOST:SLUICE_DASHBOARD_PORT."""
    from dlq_dashboard.app import serve

    serve(_settings())


def _directory() -> Any:
    from dlq_dashboard.database import open_dashboard_db
    from dlq_dashboard.users import UserDirectory

    return UserDirectory(open_dashboard_db(_settings()))


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Sign-in name.")],
    role: Annotated[str, typer.Option(help="viewer, reviewer or admin.")] = "reviewer",
    password_stdin: Annotated[
        bool, typer.Option(help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Add a user; the password is asked twice (or read from stdin) and stored as argon2id."""
    from dlq_dashboard.users import Role, UserExists, WeakPassword

    try:
        chosen = Role(role)
    except ValueError:
        raise typer.BadParameter("--role must be viewer, reviewer or admin") from None
    try:
        user = _directory().add(name, chosen, _read_password(password_stdin))
    except (UserExists, WeakPassword, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"added {user.name} ({user.role})")


@users_app.command("list")
def users_list() -> None:
    """List users and their roles."""
    for user in _directory().all():
        typer.echo(f"{user.name}\t{user.role}")


@users_app.command("set-role")
def users_set_role(
    name: Annotated[str, typer.Argument()],
    role: Annotated[str, typer.Argument(help="viewer, reviewer or admin.")],
) -> None:
    """Change a user's role (takes effect on their next request)."""
    from dlq_dashboard.users import Role, UnknownUser

    try:
        _directory().set_role(name, Role(role))
    except (UnknownUser, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{name} is now {role}")


@users_app.command("passwd")
def users_passwd(
    name: Annotated[str, typer.Argument()],
    password_stdin: Annotated[bool, typer.Option(help="Read it from stdin.")] = False,
) -> None:
    """Set a new password; the user's open sessions end."""
    from dlq_dashboard.users import UnknownUser, WeakPassword

    try:
        _directory().set_password(name, _read_password(password_stdin))
    except (UnknownUser, WeakPassword) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"password of {name} changed")


@users_app.command("remove")
def users_remove(name: Annotated[str, typer.Argument()]) -> None:
    """Remove a user and end their sessions (their audit entries stay)."""
    from dlq_dashboard.users import UnknownUser

    try:
        _directory().remove(name)
    except UnknownUser as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"removed {name}")


@dlq_app.command("export")
def dlq_export(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default stdout.")
    ] = None,
) -> None:
    """Write resolved items as training examples (JSON lines), "do not train" ones left out."""
    from dlq_dashboard.audit import AuditLog
    from dlq_dashboard.database import open_dashboard_db
    from dlq_dashboard.training import TrainingExclusions, training_lines
    from sluice.stores import open_store

    settings = _settings()
    db = open_dashboard_db(settings)
    store = open_store(settings)
    lines = training_lines(store, AuditLog(db), TrainingExclusions(db))
    count = 0
    if output is None:
        for line in lines:
            sys.stdout.write(line)
            count += 1
    else:
        with output.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line)
                count += 1
    typer.echo(f"{count} training example(s)", err=True)
    store.close()
    db.close()
