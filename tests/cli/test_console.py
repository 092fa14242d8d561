"""What `sluice up` shows a person: children's lines behind their names, access lines in a
file, one closing block that `sluice info` repeats, and `sluice --version`."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from cli.info import info_lines
from cli.supervisor import Supervisor, prefixed
from cli.up import child_env
from sluice._version import __version__
from sluice.settings import load_settings
from tests.support.polling import wait_for

PRINT_TWO_LINES = [sys.executable, "-c", "print('first'); print(); print('second')"]


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True,
        timeout=60,
    )


def test_a_line_is_prefixed_with_its_process_name_in_one_column() -> None:
    assert prefixed("api", "ready", "cyan").plain == "api      | ready"
    assert prefixed("dashboard", "ready", "cyan").plain == "dashboard| ready"


def test_children_lines_reach_the_console_behind_their_names() -> None:
    out = io.StringIO()
    supervisor = Supervisor(dict(os.environ), console=Console(file=out, force_terminal=False))
    supervisor.start("worker", PRINT_TWO_LINES)
    wait_for(lambda: "second" in out.getvalue(), timeout=30, what="the child's lines")
    assert out.getvalue().splitlines() == ["worker   | first", "worker   | second"]
    assert "\x1b[" not in out.getvalue()  # no colour codes when not on a terminal
    supervisor.stop_all(grace=5)


def test_on_a_terminal_each_name_has_a_colour() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, color_system="standard")
    supervisor = Supervisor(dict(os.environ), console=console)
    supervisor.start("api", PRINT_TWO_LINES)
    wait_for(lambda: "second" in out.getvalue(), timeout=30, what="the child's lines")
    assert "\x1b[36m" in out.getvalue()  # cyan, the first colour
    supervisor.stop_all(grace=5)


def test_a_child_with_a_log_file_writes_there_not_to_the_console(tmp_path: Path) -> None:
    out = io.StringIO()
    supervisor = Supervisor(dict(os.environ), console=Console(file=out))
    log = tmp_path / "logs" / "llm.log"
    process = supervisor.start("llm", PRINT_TWO_LINES, log_file=log, env={"EXTRA": "1"})
    process.wait(30)
    assert log.read_text().split() == ["first", "second"]
    assert out.getvalue() == ""
    supervisor.stop_all(grace=5)


def test_the_block_names_urls_key_user_hint_and_logs(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, api_keys="k-1", api_port=9001)
    lines = info_lines(settings, not_consumed="kinds not consumed here: embed")
    text = "\n".join(lines)
    assert "http://127.0.0.1:9001/docs" in text
    assert "API key    k-1" in lines
    assert "sluice users add NAME --role admin" in text
    assert f"logs       {tmp_path.resolve() / 'logs'}" in text
    assert "Flower     http://127.0.0.1:5555" in text
    assert lines[-1] == "missing    kinds not consumed here: embed"


def test_sluice_info_reads_the_key_sluice_up_left_in_the_data_dir(tmp_path: Path) -> None:
    (tmp_path / "api_key").write_text("generated-key\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    result = run_cli("info", env=env | {"SLUICE_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert "API key    generated-key" in result.stdout.splitlines()
    assert str(tmp_path.resolve() / "logs") in result.stdout


def test_version_comes_from_the_one_version_source(tmp_path: Path) -> None:
    result = run_cli("--version", env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"sluice {__version__}"
    from cli.kinds import load_kinds
    from producers.api.app import create_app

    settings = load_settings(data_dir=tmp_path, api_keys="k")
    assert create_app(settings, load_kinds(settings)).openapi()["info"]["version"] == __version__


def test_access_lines_go_to_the_access_log_file_and_nothing_else(tmp_path: Path) -> None:
    access_log = tmp_path / "logs" / "access.log"
    script = (
        "import logging\n"
        "from sluice.logs import configure_logging\n"
        "from sluice.settings import load_settings\n"
        f"configure_logging(load_settings(access_log_file={str(access_log)!r}))\n"
        "logging.getLogger('uvicorn.access').info('GET /v1/jobs/1 200')\n"
        "logging.getLogger('sluice.test').info('something else')\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert "GET /v1/jobs/1" in access_log.read_text()
    assert "something else" not in access_log.read_text()
    assert "GET /v1/jobs/1" not in result.stderr
    assert "something else" in result.stderr


def test_the_http_servers_log_warnings_only_unless_the_operator_chose_a_level() -> None:
    assert child_env("api", {}) == {"SLUICE_LOG_LEVEL": "WARNING"}
    assert child_env("dashboard", {"SLUICE_LOG_LEVEL": "DEBUG"}) == {}
    assert child_env("worker", {}) == {}
    assert child_env("flower", {}) == {"FLOWER_LOGGING": "error"}
