"""A fresh virtualenv installs from the lock alone, and what it installs works together.

This is what a new machine meets: the lock (``requirements/lock.txt``) must hold every
package at a version that resolves, installs and imports, including the extras that an
older pip drops (``justext`` -> ``lxml_html_clean``, without which trafilatura fails to
import). llama-cpp-python is left out: it builds from source for minutes, and the
development venv that runs this suite was built from the same pin.
"""

from __future__ import annotations

import re
import subprocess
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements" / "lock.txt"
BUILT_FROM_SOURCE = {"llama-cpp-python"}


def _pins(lock: Path) -> list[str]:
    pins = []
    for line in lock.read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement:
            pins.append(requirement)
    return pins


def test_the_lock_pins_every_dependency_exactly_and_torch_on_the_cpu_build() -> None:
    pins = _pins(LOCK)
    assert pins and all(re.fullmatch(r"[A-Za-z0-9._\[\],-]+==\S+", pin) for pin in pins), [
        pin for pin in pins if "==" not in pin
    ]
    names = {pin.split("==")[0].lower() for pin in pins}
    assert {"celery", "fastapi", "openai", "ruff", "mypy", "lxml-html-clean"} <= names
    assert any(pin.startswith("torch==") and pin.endswith("+cpu") for pin in pins)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_fresh_venv_installs_from_the_lock_and_imports(tmp_path: Path) -> None:
    pins = [pin for pin in _pins(LOCK) if pin.split("==")[0].lower() not in BUILT_FROM_SOURCE]
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(pins) + "\n")
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")

    def run(*args: str) -> None:
        done = subprocess.run([python, *args], capture_output=True, text=True, timeout=800)
        assert done.returncode == 0, f"{args}: {done.stdout[-2000:]}{done.stderr[-4000:]}"

    run("-m", "pip", "install", "-q", "--upgrade", "pip")
    run("-m", "pip", "install", "-q", "--no-deps", "-r", str(requirements))
    run("-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT))
    run("-m", "pip", "check")
    run("-c", "import trafilatura, celery, fastapi, openai, qdrant_client, "
              "sentence_transformers, cli.main, workers.extraction.tasks")
