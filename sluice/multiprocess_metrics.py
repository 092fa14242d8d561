"""Where a worker's processes keep their Prometheus values, so one exporter can sum them.

A prefork worker's children each count in their own memory; prometheus-client's
multiprocess mode writes every process's values to files in ``PROMETHEUS_MULTIPROC_DIR``
instead, and the exporter in the parent reads them all. The variable must be set before
``prometheus_client`` is first imported, which is why this module imports nothing of it.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from sluice.settings import Settings

ENV_VAR = "PROMETHEUS_MULTIPROC_DIR"


def use_multiprocess_dir(settings: Settings, node_name: str) -> Path:
    """Give this worker node a fresh folder under the data dir (a previous run's files
    would add dead processes' counts) and point prometheus-client at it."""
    if os.environ.get(ENV_VAR):
        folder = Path(os.environ[ENV_VAR])
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", node_name)
    folder = (settings.data_dir / "metrics" / safe).resolve()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    os.environ[ENV_VAR] = str(folder)
    return folder
