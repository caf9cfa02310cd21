# The two set-up commands (README): `make demo` and `make test`. Both create .venv on first use,
# install the CPU build of PyTorch first (pinned), then spikeforge; later runs reuse the install.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip
TORCH  := torch==2.13.0

.PHONY: demo test lint format bench peer-tests triton-tests clean

$(VENV)/.torch:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	touch $@

$(VENV)/.installed: $(VENV)/.torch pyproject.toml
	$(PIP) install -q -e ".[dev]" "$(TORCH)"
	$(PY) -c "import torch; assert torch.__version__.startswith('2.13.0'), torch.__version__"
	touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/spikeforge train --dataset digits --out runs/demo --overwrite

test: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples
	SPIKEFORGE_FULL_LENGTH=1 $(PY) -m pytest -q -n 2 --dist loadfile --doctest-modules tests src/spikeforge \
		--ignore=src/spikeforge/kernels/_triton_lif.py

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check src tests benchmarks examples
	$(VENV)/bin/ruff format --check src tests benchmarks examples

format: $(VENV)/.installed
	$(VENV)/bin/ruff format src tests benchmarks examples
	$(VENV)/bin/ruff check --fix src tests benchmarks examples

# Side-by-side benchmark against snnTorch, Norse and SpikingJelly in .venv-bench (its own venv, pinned CPU torch).
# `make bench BENCH_ARGS=--quick` for a short run.
bench:
	bash benchmarks/bench.sh $(BENCH_ARGS)

# Cross-library checks that need the peers (snnTorch, Norse, NeuroBench) in .venv-bench: NIR files exchanged with
# snnTorch/Norse give the same spikes; synaptic operations and sparsity agree with NeuroBench's own metrics.
peer-tests:
	bash benchmarks/setup_bench_venv.sh
	.venv-bench/bin/python -m pytest -q -p no:xdist tests/interop/test_nir_peers.py tests/metrics/test_neurobench.py

# The Triton GPU kernels run by Triton's interpreter on CPU tensors (no GPU needed), against the torch reference.
# .venv-triton: the same pinned CPU torch plus Triton (Triton does not depend on torch, so torch stays 2.13.0).
triton-tests:
	[ -x .venv-triton/bin/python ] || $(PYTHON) -m venv .venv-triton
	.venv-triton/bin/python -m pip install -q $(TORCH)
	.venv-triton/bin/python -m pip install -q triton numpy scipy pytest "$(TORCH)"
	.venv-triton/bin/python -m pip install -q --no-deps -e .
	TRITON_INTERPRET=1 .venv-triton/bin/python -m pytest -q -p no:xdist tests/kernels/test_triton_interpreter.py

clean:
	rm -rf $(VENV) runs build *.egg-info src/*.egg-info
