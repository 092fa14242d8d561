"""The README stays true: its settings table is the Settings model's, its commands exist."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _settings_table_module():  # type: ignore[no-untyped-def]
    path = ROOT / "scripts" / "settings_table.py"
    spec = importlib.util.spec_from_file_location("settings_table", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_documents_every_setting_as_the_model_does() -> None:
    readme = (ROOT / "README.md").read_text()
    module = _settings_table_module()
    assert module.readme_with_table(readme) == readme, (
        "README settings table is stale: run `python scripts/settings_table.py --write`"
    )


def test_readme_gives_the_two_setup_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "./run.sh" in readme and "./test.sh" in readme
    assert (ROOT / "run.sh").stat().st_mode & 0o111
    assert (ROOT / "test.sh").stat().st_mode & 0o111
    assert "./test.sh" in (ROOT / ".ci/run").read_text()
