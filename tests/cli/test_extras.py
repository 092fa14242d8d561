"""A core install runs what it can: kind modules whose optional extra is missing are skipped,
and the worker says in one line which kinds it leaves and how to add them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli.extras import (
    UnavailableModule,
    declared_kinds,
    missing_optional_package,
    not_consumed_line,
)
from cli.kinds import load_kinds, unavailable_modules
from schemas.job import JobStatus
from sluice.enqueue import submit
from sluice.settings import load_settings
from tests.conftest import REPO_ROOT, SluiceEnv
from tests.support.polling import wait_for
from tests.support.processes import start_worker

WITHOUT_EXTRAS = REPO_ROOT / "tests" / "support" / "without_extras"
EMBEDDING_KINDS = {"embed", "delete", "search", "ask", "vectors.switch_alias"}
LINE_START = "kinds not consumed here"


def core_install_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` as on a machine without the embedding extra."""
    return {**env, "PYTHONPATH": f"{WITHOUT_EXTRAS}{os.pathsep}{REPO_ROOT}"}


def test_kind_names_are_read_from_the_source_of_a_module_that_cannot_be_imported() -> None:
    assert declared_kinds("workers.embedding.tasks") == ("embed", "delete")
    # A module-level constant names the kind.
    assert declared_kinds("workers.embedding.aliases") == ("vectors.switch_alias",)
    assert declared_kinds("workers.retrieval") == ("search",)
    assert declared_kinds("no.such.module") == ()


def test_only_an_optional_package_counts_as_a_missing_extra() -> None:
    assert missing_optional_package(ModuleNotFoundError("x", name="numpy.linalg")) == "numpy"
    assert missing_optional_package(ModuleNotFoundError("x", name="qdrant_client")) == (
        "qdrant_client"
    )
    assert missing_optional_package(ModuleNotFoundError("x", name="yaml")) is None
    assert missing_optional_package(ImportError("cannot import name 'x'", name="numpy")) is None


def test_the_line_names_every_kind_once_and_the_pip_command_per_extra() -> None:
    skipped = [
        UnavailableModule("workers.embedding.tasks", "numpy", "embedding", ("embed", "delete")),
        UnavailableModule("workers.retrieval", "numpy", "embedding", ("search",)),
        UnavailableModule("plugin.llm", "llama_cpp", "local-llm", ()),
    ]
    assert not_consumed_line(skipped) == (
        "kinds not consumed here, their extra is not installed: delete, embed, search "
        "(pip install 'sluice[embedding]'); plugin.llm (pip install 'sluice[local-llm]')"
    )
    assert not_consumed_line([]) is None


def test_with_every_extra_installed_nothing_is_skipped(tmp_path: Path) -> None:
    table = load_kinds(load_settings(data_dir=tmp_path))
    assert set(table) >= EMBEDDING_KINDS
    assert unavailable_modules() == []


def test_any_other_import_error_still_stops_the_process(tmp_path: Path) -> None:
    plugin = tmp_path / "broken_plugin.py"
    plugin.write_text("import definitely_not_a_sluice_dependency\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ModuleNotFoundError, match="definitely_not_a_sluice_dependency"):
            load_kinds(load_settings(data_dir=tmp_path, plugins="broken_plugin"))
    finally:
        sys.path.remove(str(tmp_path))
        load_kinds(load_settings(data_dir=tmp_path))


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args], env=env, capture_output=True, text=True,
        timeout=120,
    )


def test_the_cli_and_flower_need_only_the_core(tmp_path: Path) -> None:
    env = core_install_env({**os.environ, "SLUICE_DATA_DIR": str(tmp_path)})
    probe = subprocess.run(
        [sys.executable, "-c", "import numpy"], env=env, capture_output=True, text=True,
    )
    assert "No module named 'numpy'" in probe.stderr  # the simulation holds
    for args in (["--help"], ["flower", "--help"], ["--version"]):
        result = run_cli(*args, env=env)
        assert result.returncode == 0, result.stderr
    # What `sluice flower` and `sluice beat` load before they start: the app, without numpy.
    app = subprocess.run(
        [sys.executable, "-c", "from cli.worker_app import app, kinds; print(sorted(kinds))"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert app.returncode == 0, app.stderr
    assert "'echo'" in app.stdout and "'embed'" not in app.stdout
    info = run_cli("info", env=env)
    assert info.returncode == 0, info.stderr
    missing = [line for line in info.stdout.splitlines() if LINE_START in line]
    assert len(missing) == 1
    assert all(kind in missing[0] for kind in EMBEDDING_KINDS)
    assert "pip install 'sluice[embedding]'" in missing[0]


@pytest.mark.slow
def test_a_worker_without_the_embedding_extra_runs_the_rest_and_says_so(
    sluice_env: SluiceEnv, tmp_path: Path,
) -> None:
    worker = start_worker(core_install_env(sluice_env.env), sluice_env.celery, tmp_path)
    try:
        registered = sluice_env.celery.control.inspect([worker.name], timeout=5).registered()
        assert registered, "the worker did not answer"
        tasks = {task.split()[0] for task in registered[worker.name]}
        assert "echo" in tasks and "extract" in tasks
        assert not EMBEDDING_KINDS & tasks

        job, _ = submit("echo", {"hello": "core"}, store=sluice_env.store,
                        celery=sluice_env.celery, settings=sluice_env.settings)
        done = wait_for(
            lambda: (found := sluice_env.store.get(job.id)).status == JobStatus.SUCCEEDED
            and found,
            timeout=60, what="the echo job on the core-only worker",
        )
        assert done.result == {"hello": "core"}
        said = wait_for(
            lambda: [line for line in worker.log().splitlines() if LINE_START in line],
            timeout=30, what="the worker's line about kinds it leaves",
        )
        assert len(said) == 1
        assert all(kind in said[0] for kind in EMBEDDING_KINDS)
        assert "pip install 'sluice[embedding]'" in said[0]
        assert "Traceback" not in worker.log()
    finally:
        worker.stop()
