#!/usr/bin/env bash
# Build .venv-bench, the peers' venv: pinned CPU torch first, then the peers' small dependencies, then snnTorch,
# Norse, SpikingJelly and NeuroBench with --no-deps (so none of them pulls a newer torch or torchaudio), then
# spikeforge editable without deps. Used by `make bench` and `make peer-tests`.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
VENV=.venv-bench
STAMP="$VENV/.ready-2"
if [ ! -f "$STAMP" ]; then
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q torch==2.13.0
    "$VENV/bin/python" -m pip install -q numpy h5py nir nirtorch loguru tqdm packaging scipy pyyaml safetensors \
        scikit-learn pytest "torch==2.13.0"
    "$VENV/bin/python" -m pip install -q --no-deps snntorch==1.0.0 norse==1.1.0 spikingjelly==2.0.0 neurobench==2.3.0
    "$VENV/bin/python" -m pip install -q --no-deps -e .
    "$VENV/bin/python" -c "import torch, snntorch, norse, spikingjelly, neurobench; assert torch.__version__.startswith('2.13.0')"
    touch "$STAMP"
fi
