"""The command line: every command documents itself; `sluice up` runs and stops cleanly."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from cli.main import app
from tests.support.polling import wait_for

runner = CliRunner()


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):  # a group of subcommands
            yield from command_paths(command, (*prefix, name))


def all_commands() -> list[tuple[str, ...]]:
    return list(command_paths(typer.main.get_command(app)))


def test_the_kernel_commands_exist() -> None:
    names = {path[0] for path in all_commands()}
    assert {"config", "up", "worker", "api", "submit", "status"} <= names


@pytest.mark.parametrize("path", all_commands(), ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_config_prints_the_effective_configuration_masked() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "config"],
        env={**os.environ, "SLUICE_API_KEYS": "k-secret", "SLUICE_API_PORT": "9001"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "SLUICE_API_PORT=9001" in result.stdout
    assert "SLUICE_API_KEYS=[\"***\"]" in result.stdout
    assert "k-secret" not in result.stdout


def test_a_bad_setting_stops_the_cli_with_the_variable_name() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cli", "config"],
        env={**os.environ, "SLUICE_MAX_DELIVERIES": "zero"},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "SLUICE_MAX_DELIVERIES" in result.stderr
    assert "Traceback" not in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def processes_mentioning(text: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            environ = (entry / "environ").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if text in command or text in environ:
            found.append(f"{entry.name}: {command}")
    return found


@pytest.mark.slow
def test_up_runs_the_system_and_sigterm_leaves_no_process_behind(tmp_path: Path) -> None:
    data_dir = tmp_path / "sluice-up-data"
    port = free_port()
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("SLUICE_")
    } | {"SLUICE_DATA_DIR": str(data_dir), "SLUICE_API_PORT": str(port)}
    log = (tmp_path / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "cli", "up"], env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for(lambda: "API key" in (tmp_path / "up.log").read_text(), timeout=90,
                 what="sluice up to print its API key")
        submitted = subprocess.run(
            [sys.executable, "-m", "cli", "submit", "echo", "--input", '{"hello": "world"}',
             "--wait"],
            env=env, capture_output=True, text=True, timeout=120,
        )
        assert submitted.returncode == 0, submitted.stderr
        job = json.loads(submitted.stdout)
        assert (job["status"], job["result"]) == ("succeeded", {"hello": "world"})

        shown = subprocess.run(
            [sys.executable, "-m", "cli", "status", job["id"]],
            env=env, capture_output=True, text=True, timeout=60,
        )
        assert json.loads(shown.stdout)["id"] == job["id"]
        assert processes_mentioning(str(data_dir))
    finally:
        up.send_signal(signal.SIGTERM)
        code = up.wait(60)
        log.close()
    assert code == 0, (tmp_path / "up.log").read_text()[-3000:]
    leftovers = wait_for(
        lambda: not processes_mentioning(str(data_dir)) or None, timeout=15,
        what="every process of sluice up to exit",
    )
    assert leftovers
