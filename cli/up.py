"""``sluice up``: the whole system on one machine, with embedded parts.

The console is for people: each child's lines behind its name (:mod:`cli.supervisor`), the
llama.cpp server's model dump and the HTTP access lines in files under ``DATA/logs``, and
at the end one block (:func:`cli.info.info_lines`) with the URLs, the API key and where the
logs are; after ``--demo``, that block comes once the demo has shown its result.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType

import httpx
import typer

from cli.demo import run_demo
from cli.embedded_redis import EmbeddedRedis, start_redis
from cli.info import ACCESS_LOG_NAME, FLOWER_PASSWORD_NAME, LLM_LOG_NAME, info_lines, logs_dir
from cli.local_llm import LOCAL_LLM_HOST
from cli.supervisor import Supervisor
from libs.llm import LOCAL_LLM_PORT
from sluice.private_files import private_directory
from sluice.settings import Settings

READY_TIMEOUT_SECONDS = 60.0
# A child that keeps dying is a configuration problem, not bad luck: stop restarting it.
MAX_RESTARTS = 5


def _sluice(*args: str) -> Sequence[str]:
    return [sys.executable, "-m", "cli", *args]


def services(settings: Settings) -> dict[str, Sequence[str]]:
    """The processes `sluice up` runs, by name."""
    commands: dict[str, Sequence[str]] = {
        "worker": _sluice("worker", "--queues", "io,cpu,gpu", "--pool", "threads", "--quiet"),
        "api": _sluice("api"),
        "dashboard": _sluice("dashboard"),
        "flower": _sluice("flower"),
    }
    from cli import local_llm

    if settings.llm_base_url is None and local_llm.available():
        commands["llm"] = local_llm.up_command()  # the local Gemma server (local-llm extra)
    retention = settings.keep_settled_jobs_days or settings.keep_email_bodies_days \
        or settings.keep_records_days
    if settings.email_mailboxes or settings.batch_schedule or retention:
        commands["beat"] = _sluice("beat")  # mailbox polls, batch runs, the retention sweep
    if settings.mongodb_url is not None and settings.warehouse_change_stream:
        commands["cdc"] = _sluice("cdc")  # document writes reach embedding through here
    return commands


def _flower_password(settings: Settings) -> str:
    """SLUICE_FLOWER_PASSWORD, or one generated once and kept (0600) under the data dir."""
    if settings.flower_password is not None and settings.flower_password.get_secret_value():
        return settings.flower_password.get_secret_value()
    path = settings.data_dir / FLOWER_PASSWORD_NAME
    if path.exists():
        return path.read_text().strip()
    password = secrets.token_urlsafe(18)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password


def _api_key(settings: Settings) -> str:
    keys = settings.api_key_values()
    if keys:
        return keys[0]
    key = secrets.token_urlsafe(24)
    settings.api_key_file.parent.mkdir(parents=True, exist_ok=True)
    settings.api_key_file.touch(mode=0o600)
    settings.api_key_file.write_text(key + "\n")
    return key


def _wait_ready(url: str, supervisor: Supervisor) -> bool:
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if supervisor.exited():
            return False
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


# Per child, what it adds to the environment: Flower logs only errors (its URL is in the
# final block; its start-up lines list every task, and it warns while the worker starts).
CHILD_ENV: dict[str, dict[str, str]] = {"flower": {"FLOWER_LOGGING": "error"}}
# Unless SLUICE_LOG_LEVEL says otherwise, the HTTP servers show warnings and errors only:
# their start-up lines repeat the final block, and the worker tells each job's story.
QUIET_SERVERS = ("api", "dashboard")


def child_env(name: str, environ: Mapping[str, str]) -> dict[str, str]:
    """What ``name`` adds to the environment `sluice up` passes on."""
    added = dict(CHILD_ENV.get(name, {}))
    if name in QUIET_SERVERS and "SLUICE_LOG_LEVEL" not in environ:
        added["SLUICE_LOG_LEVEL"] = "WARNING"
    return added
# Children whose output goes to a file under the logs dir, not the console.
CHILD_LOG_FILES = {"llm": LLM_LOG_NAME}


def _not_consumed(settings: Settings) -> str | None:
    """The worker's line about kinds it cannot run, worked out here for the final block."""
    from cli.kinds import load_kinds, not_consumed

    load_kinds(settings)
    return not_consumed()


def run_up(settings: Settings, *, demo: bool) -> int:
    data_dir = settings.data_dir.resolve()
    private_directory(data_dir)
    redis: EmbeddedRedis | None = None
    broker = settings.broker_url
    if broker is None:
        redis = start_redis(data_dir)
        broker = redis.url
    key = _api_key(settings)
    env = {
        **os.environ,
        "SLUICE_DATA_DIR": str(data_dir),
        "SLUICE_BROKER_URL": broker,
        "SLUICE_API_KEYS": ",".join(settings.api_key_values()) or key,
        "SLUICE_FLOWER_PASSWORD": _flower_password(settings),
        "SLUICE_ACCESS_LOG_FILE": str(logs_dir(settings) / ACCESS_LOG_NAME),
    }
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    supervisor = Supervisor(env)
    commands = services(settings)
    restarts = dict.fromkeys(commands, 0)
    code = 0

    def start(name: str) -> None:
        log_name = CHILD_LOG_FILES.get(name)
        supervisor.start(
            name, commands[name], env=child_env(name, os.environ),
            log_file=logs_dir(settings) / log_name if log_name else None,
        )

    try:
        for name in commands:
            start(name)
        url = settings.effective_api_url
        missing = _not_consumed(settings)
        if not _wait_ready(url, supervisor):
            typer.echo("error: the API did not become ready; see the lines above", err=True)
            return 1
        block = "\n".join(
            [*info_lines(settings, not_consumed=missing), "Ctrl-C stops everything."]
        )
        if demo:
            # In a thread: Ctrl-C must stop everything even while the demo still waits.
            llm_url = settings.llm_base_url or (
                f"http://{LOCAL_LLM_HOST}:{LOCAL_LLM_PORT}/v1" if "llm" in commands else None
            )

            def demo_then_block() -> None:
                try:
                    run_demo(settings, url, key, llm_url)
                finally:
                    typer.echo(block)

            threading.Thread(target=demo_then_block, daemon=True).start()
        else:
            typer.echo(block)
        while not stop.wait(0.5):
            for name, exit_code in supervisor.exited().items():
                if restarts[name] >= MAX_RESTARTS:
                    typer.echo(f"error: {name} keeps exiting ({exit_code}); stopping", err=True)
                    code = 1
                    stop.set()
                    break
                restarts[name] += 1
                typer.echo(f"{name} exited with {exit_code}; restarting", err=True)
                start(name)
    finally:
        supervisor.stop_all()
        if redis is not None:
            redis.stop()
    return code
