"""Child processes of ``sluice up``: started in their own process groups, stopped together.

Each child's output reaches the console one line at a time behind its name (``worker |``),
in a colour of its own when the console is a terminal, so lines of several processes stay
readable side by side; a child whose output nobody reads live (the llama.cpp server) writes
to a file instead. On SIGINT or SIGTERM every group gets SIGTERM, then SIGKILL after a grace
period, so no worker child or server survives the command that started it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from rich.console import Console
from rich.text import Text

GRACE_SECONDS = 10.0
COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")
NAME_WIDTH = 9


def prefixed(name: str, line: str, colour: str) -> Text:
    """``name | line``: the name padded so the lines of every child start in one column."""
    return Text.assemble((f"{name:<{NAME_WIDTH}}| ", colour), line)


@dataclass
class Supervisor:
    env: Mapping[str, str]
    console: Console = field(default_factory=lambda: Console(highlight=False))
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    colours: dict[str, str] = field(default_factory=dict)

    def start(
        self,
        name: str,
        command: Sequence[str],
        *,
        log_file: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start ``command``; its output goes to the console behind ``name``, or appends
        to ``log_file``. ``env`` adds to the supervisor's environment for this child."""
        child_env = {**self.env, **(env or {})}
        if log_file is not None:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            with log_file.open("ab") as sink:
                process = subprocess.Popen(
                    list(command), env=child_env, stdin=subprocess.DEVNULL,
                    stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                )
        else:
            process = subprocess.Popen(
                list(command), env=child_env, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
            )
            colour = self.colours.setdefault(name, COLOURS[len(self.colours) % len(COLOURS)])
            assert process.stdout is not None
            threading.Thread(
                target=self._relay, args=(name, process.stdout, colour), daemon=True,
                name=f"relay-{name}",
            ).start()
        self.children[name] = process
        return process

    def _relay(self, name: str, stream: IO[bytes], colour: str) -> None:
        """Copy the child's lines to the console until it closes its output."""
        with stream:
            for raw in iter(stream.readline, b""):
                line = raw.decode(errors="replace").rstrip()
                if line.strip():
                    self.console.print(prefixed(name, line, colour), soft_wrap=True)

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
                self.console.print(f"{name} did not stop in time; killing it", style="red")
            # SIGKILL the whole group: a worker's pool children must not outlive it.
            _signal_group(process, signal.SIGKILL)
            process.wait()


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
