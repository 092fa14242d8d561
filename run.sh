#!/usr/bin/env bash
# Installs Sluice and runs the whole system on this machine with embedded parts: Redis,
# SQLite, local Qdrant, the local Gemma model. Submits a demo job and keeps running until
# Ctrl-C. Usage: ./run.sh [sluice up options]
set -euo pipefail
cd "$(dirname "$0")"

scripts/system-packages.sh run
scripts/python-env.sh embedding
. .venv/bin/activate
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
exec sluice up --demo "$@"
