#!/usr/bin/env bash
# Build .venv-brian2 for benchmarks/brian2_compare.py: pinned CPU torch first (so nothing pulls a CUDA build), then
# Brian2 with numpy<2.4 (Brian2 2.9 does not import with numpy >= 2.4), Cython and a compiler toolchain check for
# its cython target, then spikeforge editable without dependencies. Idempotent: does nothing once .ready exists.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
VENV=.venv-brian2
if [ ! -f "$VENV/.ready" ]; then
    "$PYTHON" -m venv "$VENV"
    echo '*' > "$VENV/.gitignore"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q torch==2.13.0
    "$VENV/bin/python" -m pip install -q "numpy<2.4" brian2 cython "torch==2.13.0"
    "$VENV/bin/python" -m pip install -q --no-deps -e .
    "$VENV/bin/python" -c "import torch, brian2, spikeforge; assert torch.__version__.startswith('2.13.0'); print('brian2', brian2.__version__)"
    touch "$VENV/.ready"
fi
