"""Real Sluice processes for tests: workers started as `sluice worker` subprocesses."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import redis
from celery import Celery
from kombu.exceptions import OperationalError

from tests.support.polling import wait_for


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    name: str
    log_path: Path

    def kill(self) -> None:
        """SIGKILL the worker and its pool children, as an OOM killer or a node loss would."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_worker(
    env: Mapping[str, str],
    celery: Celery,
    log_dir: Path,
    *,
    queues: str = "io,cpu,gpu",
    pool: str = "threads",
    concurrency: int = 2,
) -> WorkerProcess:
    name = f"test-{uuid.uuid4().hex[:8]}@localhost"
    log_path = log_dir / f"{name.split('@')[0]}.log"
    command = [
        sys.executable, "-m", "cli", "worker",
        "--queues", queues, "--pool", pool, "--concurrency", str(concurrency), "--name", name,
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=dict(env), stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    worker = WorkerProcess(process, name, log_path)

    def answers() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"worker exited with {process.returncode}:\n{worker.log()}")
        try:
            return bool(celery.control.ping(destination=[name], timeout=0.3))
        except (OSError, OperationalError, redis.ConnectionError):
            return False  # the broker is restarting: ask again

    wait_for(answers, timeout=60, what=f"worker {name} to answer a ping")
    return worker
