"""``sluice up``: the whole system on one machine, with embedded parts."""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
import time
from collections.abc import Sequence
from types import FrameType

import httpx
import typer

from cli.demo import run_demo
from cli.embedded_redis import EmbeddedRedis, start_redis
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
        "worker": _sluice("worker", "--queues", "io,cpu,gpu", "--pool", "threads"),
        "api": _sluice("api"),
        "dashboard": _sluice("dashboard"),
        "flower": _sluice("flower"),
    }
    from cli import local_llm

    if settings.llm_base_url is None and local_llm.available():
        commands["llm"] = local_llm.up_command()  # the local Gemma server (local-llm extra)
    if settings.email_mailboxes or settings.batch_schedule:
        commands["beat"] = _sluice("beat")  # mailbox polls and nightly batch runs
    if settings.mongodb_url is not None and settings.warehouse_change_stream:
        commands["cdc"] = _sluice("cdc")  # document writes reach embedding through here
    return commands


def _flower_password(settings: Settings) -> str:
    """SLUICE_FLOWER_PASSWORD, or one generated once and kept (0600) under the data dir."""
    if settings.flower_password is not None and settings.flower_password.get_secret_value():
        return settings.flower_password.get_secret_value()
    path = settings.data_dir / "flower_password"
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
    try:
        for name, command in commands.items():
            supervisor.start(name, command)
        url = settings.effective_api_url
        if not _wait_ready(url, supervisor):
            typer.echo("error: the API did not become ready; see the logs above", err=True)
            return 1
        typer.echo(f"API      {url}   (docs: {url}/docs)")
        typer.echo(f"API key  {key}")
        typer.echo(f"Flower   http://{settings.flower_host}:{settings.flower_port}   (user "
                   f"{settings.flower_user}, password in {data_dir / 'flower_password'} "
                   "unless SLUICE_FLOWER_PASSWORD is set)")
        typer.echo(f"DLQ UI   http://{settings.dashboard_host}:{settings.dashboard_port}"
                   "   (add a user: sluice users add NAME --role admin)")
        typer.echo(f"broker   {broker}")
        typer.echo(f"data     {data_dir}")
        typer.echo("Ctrl-C stops everything.")
        if demo:
            # In a thread: Ctrl-C must stop everything even while the demo still waits.
            llm_url = settings.llm_base_url or (
                f"http://{LOCAL_LLM_HOST}:{LOCAL_LLM_PORT}/v1" if "llm" in commands else None
            )
            threading.Thread(
                target=run_demo, args=(settings, url, key, llm_url), daemon=True
            ).start()
        while not stop.wait(0.5):
            for name, exit_code in supervisor.exited().items():
                if restarts[name] >= MAX_RESTARTS:
                    typer.echo(f"error: {name} keeps exiting ({exit_code}); stopping", err=True)
                    code = 1
                    stop.set()
                    break
                restarts[name] += 1
                typer.echo(f"{name} exited with {exit_code}; restarting", err=True)
                supervisor.start(name, commands[name])
    finally:
        supervisor.stop_all()
        if redis is not None:
            redis.stop()
    return code
