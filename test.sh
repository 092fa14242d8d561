#!/usr/bin/env bash
# Sets up everything the tests need on a fresh machine and runs them: lint, types, layers,
# pytest.
# Usage: ./test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")"

scripts/system-packages.sh test
scripts/postgres-up.sh  # the stores' contract suites run against it too
scripts/python-env.sh embedding,postgres,redaction,dev
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

ruff check .
mypy
lint-imports  # the layers contract in pyproject.toml: imports point down only
python -m pytest -p no:cacheprovider "$@"
