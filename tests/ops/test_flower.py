"""`sluice flower`: basic auth always on, even when FLOWER_UNAUTHENTICATED_API is set."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import SluiceEnv
from tests.ops.test_metrics import free_port
from tests.support.polling import wait_for


def test_flower_refuses_to_start_without_a_password(sluice_env: SluiceEnv) -> None:
    env = {**sluice_env.env, "SLUICE_FLOWER_PASSWORD": ""}
    done = subprocess.run(
        [sys.executable, "-m", "cli", "flower"], env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "SLUICE_FLOWER_PASSWORD" in done.stderr


def test_flower_refuses_an_unauthenticated_request(sluice_env: SluiceEnv) -> None:
    port = free_port()
    env = {
        **sluice_env.env,
        "SLUICE_FLOWER_PASSWORD": "s3cret-flower",
        "SLUICE_FLOWER_PORT": str(port),
        # Must not open the API: sluice flower drops it.
        "FLOWER_UNAUTHENTICATED_API": "true",
    }
    log = (sluice_env.tmp / "flower.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "flower"], env=env, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        def answering() -> httpx.Response | None:
            assert process.poll() is None, (sluice_env.tmp / "flower.log").read_text()
            try:
                return httpx.get(f"{url}/", timeout=2)
            except httpx.TransportError:
                return None

        first = wait_for(answering, timeout=60, what="flower to listen")
        assert first.status_code == 401
        assert httpx.get(f"{url}/api/workers", timeout=5).status_code == 401
        wrong = httpx.get(f"{url}/", auth=("admin", "wrong"), timeout=5)
        assert wrong.status_code == 401
        right = httpx.get(f"{url}/", auth=("admin", "s3cret-flower"), timeout=5)
        assert right.status_code == 200
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def test_sluice_up_runs_flower_with_a_password_it_keeps(tmp_path: Path) -> None:
    from cli.up import _flower_password, services
    from sluice.settings import load_settings

    settings = load_settings(data_dir=str(tmp_path))
    assert services(settings)["flower"][-1] == "flower"
    password = _flower_password(settings)
    assert len(password) >= 20
    assert _flower_password(settings) == password
    assert (tmp_path / "flower_password").stat().st_mode & 0o777 == 0o600
    assert _flower_password(load_settings(data_dir=str(tmp_path), flower_password="set")) == "set"
