"""Data files are private: every directory under the data dir is 0700, every file 0600."""

from __future__ import annotations

import stat
from pathlib import Path

from libs.sinks.jsonl import append_record, jsonl_path
from schemas.job import JobStatus
from sluice.enqueue import submit
from sluice.private_files import private_directory
from sluice.stores.sqlite_db import SQLiteConnections
from tests.conftest import SluiceEnv
from tests.support.polling import wait_for


def _loose(root: Path) -> list[str]:
    found = []
    for path in [root, *root.rglob("*")]:
        try:
            mode = path.lstat().st_mode
        except FileNotFoundError:  # a WAL or journal file its connection just removed
            continue
        open_dir = stat.S_ISDIR(mode) and stat.S_IMODE(mode) != 0o700
        open_file = stat.S_ISREG(mode) and stat.S_IMODE(mode) & 0o077
        if open_dir or open_file:
            found.append(f"{path} {oct(stat.S_IMODE(mode))}")
    return found


def test_private_directory_makes_missing_parents_private_and_leaves_others(
    tmp_path: Path,
) -> None:
    tmp_path.chmod(0o755)
    private_directory(tmp_path / "a" / "b")
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o700
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755  # existed before: not ours to close


def test_what_a_worker_the_store_the_dashboard_and_a_sink_write_is_private(
    sluice_env: SluiceEnv,
) -> None:
    settings = sluice_env.settings
    sluice_env.worker()
    job, _ = submit("echo", {"hello": "world"}, store=sluice_env.store,
                    celery=sluice_env.celery, settings=settings)
    wait_for(lambda: sluice_env.store.get(job.id).status is JobStatus.SUCCEEDED,
             timeout=30, what="the echo job to succeed")
    dashboard = SQLiteConnections(settings.data_dir / "dashboard.db",
                                  "CREATE TABLE IF NOT EXISTS t (x);")
    append_record(jsonl_path(settings), job.id, None, None, {"a": 1}, check_existing=False)

    files = [path for path in settings.data_dir.rglob("*") if path.is_file()]
    assert {"sluice.db", "dashboard.db", "records.jsonl"} <= {path.name for path in files}
    assert _loose(settings.data_dir) == []
    dashboard.close()
