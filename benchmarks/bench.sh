#!/usr/bin/env bash
# `make bench`: build .venv-bench (pinned CPU torch first, then the peers' small dependencies, then snnTorch, Norse
# and SpikingJelly with --no-deps so none of them pulls a newer torch, then spikeforge editable without deps) and run
# the side-by-side benchmark. Extra arguments go to benchmarks/run.py (e.g. --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.11}"
VENV=.venv-bench
if [ ! -f "$VENV/.ready" ]; then
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q torch==2.13.0
    "$VENV/bin/python" -m pip install -q numpy h5py nir nirtorch loguru tqdm packaging scipy "torch==2.13.0"
    "$VENV/bin/python" -m pip install -q --no-deps snntorch==1.0.0 norse==1.1.0 spikingjelly==2.0.0
    "$VENV/bin/python" -m pip install -q --no-deps -e .
    "$VENV/bin/python" -c "import torch, snntorch, norse, spikingjelly; assert torch.__version__.startswith('2.13.0')"
    touch "$VENV/.ready"
fi
exec "$VENV/bin/python" benchmarks/run.py "$@"
