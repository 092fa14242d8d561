#!/usr/bin/env bash
# Regenerates requirements/lock.txt, the exact versions Sluice is tested with, from
# pyproject.toml (every extra). Run it after changing a dependency and commit the result.
# uv resolves in seconds; --find-links /opt/wheels is where these machines keep the CPU
# torch wheel (harmless elsewhere), and the override keeps torch on the CPU build.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null 2>&1 || python -m pip install -q uv
uv pip compile pyproject.toml --all-extras --python-version 3.11 \
  --find-links /opt/wheels --override requirements/torch-cpu.txt \
  --no-header --annotation-style line -o requirements/lock.txt
