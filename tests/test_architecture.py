"""The layers hold: the import-linter contracts in pyproject pass on the tree, and they
catch a kernel module that reaches up into an edge, even through a lazy import, and the
client library reaching into the runtime."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("schemas", "sluice", "libs", "producers", "workers", "dlq_dashboard", "cli")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(
    not LINT_IMPORTS.exists(), reason="import-linter is not installed (pip install '.[dev]')"
)


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(root / "pyproject.toml")],
        cwd=root, env=env, capture_output=True, text=True, timeout=120,
    )


def copy_of_the_tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    root.mkdir()
    shutil.copy(REPO_ROOT / "pyproject.toml", root)
    for package in PACKAGES:
        shutil.copytree(REPO_ROOT / package, root / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return root


def test_the_tree_keeps_the_layers() -> None:
    result = lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_lazy_kernel_import_of_an_edge_breaks_the_contract(tmp_path: Path) -> None:
    root = copy_of_the_tree(tmp_path)
    assert lint_imports(root).returncode == 0
    (root / "sluice" / "reaches_up.py").write_text(
        '"""A deliberate violation: the kernel importing a worker, lazily."""\n\n\n'
        "def handler() -> object:\n"
        "    from workers import echo\n\n"
        "    return echo\n"
    )
    result = lint_imports(root)
    assert result.returncode != 0
    assert "sluice.reaches_up -> workers.echo" in result.stdout


def test_peers_may_not_import_each_other(tmp_path: Path) -> None:
    root = copy_of_the_tree(tmp_path)
    (root / "workers" / "reaches_across.py").write_text(
        '"""A deliberate violation: a worker importing a producer."""\n\n'
        "import producers.crawl.urls  # noqa: F401\n"
    )
    result = lint_imports(root)
    assert result.returncode != 0
    assert "workers.reaches_across -> producers.crawl.urls" in result.stdout


def test_the_client_library_may_not_import_the_runtime(tmp_path: Path) -> None:
    root = copy_of_the_tree(tmp_path)
    (root / "sluice" / "client" / "reaches_in.py").write_text(
        '"""A deliberate violation: the client reading the server\'s settings."""\n\n'
        "import sluice.settings  # noqa: F401\n"
    )
    result = lint_imports(root)
    assert result.returncode != 0
    assert "sluice.client stands alone" in result.stdout and "BROKEN" in result.stdout
    assert "sluice.client.reaches_in -> sluice.settings" in result.stdout
