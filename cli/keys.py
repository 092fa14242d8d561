"""``sluice keys``: make API keys with a tenant and scopes; only their hashes are kept.

``sluice keys add --tenant acme --scope jobs:submit --scope jobs:read`` prints the new key
once and appends its sha256 to SLUICE_API_KEYS_FILE (or ``--file``); the API picks it up
without a restart. Lost keys cannot be shown again: add a new one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from libs.access.keys import InvalidKeysFile, add_key, read_keys_file
from schemas.principal import Scope

app = typer.Typer(name="keys", help="Make and list API keys (tenant and scopes).",
                  no_args_is_help=True)

FileOption = Annotated[
    Path | None,
    typer.Option("--file", help="The keys file. Default: SLUICE_API_KEYS_FILE."),
]


def _keys_file(file: Path | None) -> Path:
    from cli.main import _settings_or_exit

    path = file or _settings_or_exit().api_keys_file
    if path is None:
        typer.echo("error: set SLUICE_API_KEYS_FILE (the API reads its keys there) or pass "
                   "--file", err=True)
        raise typer.Exit(2)
    return Path(path)


@app.command("add")
def add(
    tenant: Annotated[str, typer.Option(help="The tenant the key acts for.")],
    scope: Annotated[
        list[Scope], typer.Option(help="A scope to grant; repeat for more.")
    ],
    key_id: Annotated[
        str | None, typer.Option("--id", help="A name for the key. Default: a random one.")
    ] = None,
    file: FileOption = None,
) -> None:
    """Make a key; print it once, store only its sha256."""
    path = _keys_file(file)
    try:
        key, entry = add_key(path, tenant=tenant, scopes=scope, key_id=key_id)
    except (InvalidKeysFile, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{entry.id}: tenant {entry.tenant}, scopes {', '.join(entry.scopes)}", err=True)
    typer.echo("the key (shown this once; only its hash is stored):", err=True)
    typer.echo(key)


@app.command("list")
def list_(file: FileOption = None) -> None:
    """The keys in the file: id, tenant and scopes (never a key or its hash)."""
    for entry in read_keys_file(_keys_file(file)):
        typer.echo(f"{entry.id}\t{entry.tenant}\t{','.join(entry.scopes)}")
