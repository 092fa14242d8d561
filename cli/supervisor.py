"""Child processes of ``sluice up``: started in their own process groups, stopped together.

On SIGINT or SIGTERM every group gets SIGTERM, then SIGKILL after a grace period, so no
worker child or server survives the command that started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger(__name__)
GRACE_SECONDS = 10.0


@dataclass
class Supervisor:
    env: Mapping[str, str]
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str, command: Sequence[str]) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            list(command), env=dict(self.env), stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.children[name] = process
        log.info("started", process=name, pid=process.pid)
        return process

    def exited(self) -> dict[str, int]:
        return {
            name: code for name, process in self.children.items()
            if (code := process.poll()) is not None
        }

    def stop_all(self, grace: float = GRACE_SECONDS) -> None:
        for process in self.children.values():
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for name, process in self.children.items():
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("did not stop in time; killing", process=name, pid=process.pid)
            # SIGKILL the whole group: a worker's pool children must not outlive it.
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
