#!/usr/bin/env bash
# `make bench`: build .venv-bench if needed (benchmarks/setup_bench_venv.sh) and run the side-by-side benchmark.
# Extra arguments go to benchmarks/run.py (e.g. --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
bash benchmarks/setup_bench_venv.sh
exec .venv-bench/bin/python benchmarks/run.py "$@"
