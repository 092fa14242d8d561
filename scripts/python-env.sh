#!/usr/bin/env bash
# Creates .venv and installs Sluice with the embedding stack and the local LLM.
# Usage: scripts/python-env.sh [extra,...]   (sourced by run.sh and test.sh)
set -euo pipefail
extras="${1:-embedding}"

[ -x .venv/bin/python ] || python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# The CPU build of torch first: otherwise sentence-transformers pulls the CUDA one.
python -c "import torch" 2>/dev/null || python -m pip install -q torch==2.13.0
# llama-cpp-python must not target the build machine's CPU: its native build dies with a
# general-protection fault on the first inference here. --no-cache-dir keeps pip from
# reusing a native wheel built earlier.
if ! python -c "import llama_cpp.server" 2>/dev/null; then
  echo "building llama-cpp-python (a few minutes, once)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF" python -m pip install -q --no-cache-dir \
    "llama-cpp-python[server]>=0.3.16,<0.4"
fi
python -m pip install -q -e ".[${extras},local-llm]"
