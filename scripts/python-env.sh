#!/usr/bin/env bash
# Creates .venv and installs Sluice from the lock (requirements/lock.txt), with the local LLM.
# Usage: scripts/python-env.sh [extra,...]   (called by run.sh and test.sh)
# Refresh the lock after changing dependencies: scripts/lock.sh
set -euo pipefail
extras="${1:-embedding}"
lock=requirements/lock.txt

[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
# The pip bundled with Python 3.11 drops extras whose names need normalising
# (justext -> lxml[html_clean]), and trafilatura then fails to import.
python -m pip install -q --upgrade pip
scripts/torch-cpu.sh "$lock"
# llama-cpp-python must not target the build machine's CPU: its native build dies with a
# general-protection fault on the first inference here. --no-cache-dir keeps pip from
# reusing a native wheel built earlier.
if ! python -c "import llama_cpp.server" 2>/dev/null; then
  echo "building llama-cpp-python (a few minutes, once)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF" python -m pip install -q --no-cache-dir -c "$lock" \
    "llama-cpp-python[server]"
fi
python -m pip install -q -c "$lock" -e ".[${extras},local-llm]"
