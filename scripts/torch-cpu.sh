#!/usr/bin/env bash
# Installs the torch build the lock names, the CPU one, unless torch is already there.
# PyPI's plain `torch` wheel is the CUDA build (several GB of nvidia packages): it is taken
# only when SLUICE_TORCH=cuda is set, on a machine with an NVIDIA GPU. Otherwise the CPU
# wheel comes from pip's configured find-links/indexes or from PyTorch's CPU index; if none
# of them has it, this stops and says so rather than download the CUDA build.
# Usage: scripts/torch-cpu.sh LOCKFILE   (inside the venv)
set -euo pipefail
lock="$1"
python -c "import torch" 2>/dev/null && exit 0
pin=$(grep -E '^torch==' "$lock" | cut -d' ' -f1)          # e.g. torch==2.13.0+cpu
if [ "${SLUICE_TORCH:-cpu}" = cuda ]; then
  exec python -m pip install -q "${pin%%+*}"
fi
python -m pip install -q "$pin" 2>/dev/null && exit 0
python -m pip install -q --timeout 20 --retries 1 "$pin" \
  --extra-index-url https://download.pytorch.org/whl/cpu && exit 0
cat >&2 <<MSG
No CPU build of torch ($pin) is reachable from this machine: neither pip's configured
indexes nor https://download.pytorch.org/whl/cpu have it. Sluice will not download the
CUDA build (several GB) unasked. Either put the wheel where pip finds it
(pip install /path/to/torch-*+cpu-*.whl), or, on a machine with an NVIDIA GPU, run again
with SLUICE_TORCH=cuda.
MSG
exit 1
