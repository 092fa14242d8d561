"""``sluice docs put FILE...`` against a live API: several files under a progress bar, a
line per file, and a failing exit when one was refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from libs.documents.warehouse import open_documents
from producers.api.app import create_app
from tests.conftest import SluiceEnv
from tests.support import files
from tests.support.live_api import LiveAPI


def test_many_files_are_uploaded_and_a_refused_one_fails_the_command(
    sluice_env: SluiceEnv, tmp_path: Path
) -> None:
    (tmp_path / "manual.pdf").write_bytes(files.pdf_with_text(["Page one", "Page two"]))
    (tmp_path / "terms.docx").write_bytes(files.docx_with(["Terms of sale"]))
    (tmp_path / "photo.pdf").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 128)
    paths = [str(tmp_path / name) for name in ("manual.pdf", "terms.docx", "photo.pdf")]

    with LiveAPI(create_app(sluice_env.settings)) as api:
        done = subprocess.run(
            [sys.executable, "-m", "cli", "docs", "put", *paths, "--source", "cli-files"],
            env={**sluice_env.env, "SLUICE_API_URL": api.url, "COLUMNS": "200"},
            capture_output=True, text=True, timeout=120, check=False,
        )

    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "stored" in output and "manual.pdf" in output and "terms.docx" in output
    assert "refused" in output and "image/png" in output
    assert "2 of 3 files stored, 1 refused" in output
    documents = open_documents(sluice_env.settings)
    assert documents.count("cli-files") == 2
    documents.close()
