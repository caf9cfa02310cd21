"""Cross-library NIR checks against snnTorch; skipped unless snntorch is importable (run with .venv-bench)."""

import contextlib
import importlib.util
import io
import logging
import warnings
from pathlib import Path

import pytest
import torch

pytest.importorskip("snntorch")
pytest.importorskip("nirtorch")
pytest.importorskip("norse")


def _benchmark_run():
    """benchmarks/nir_interop.py is the single source of the comparison; load it by path."""
    path = Path(__file__).resolve().parents[2] / "benchmarks" / "nir_interop.py"
    spec = importlib.util.spec_from_file_location("nir_interop", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.run


@pytest.fixture(scope="module")
def rows():
    torch.set_num_threads(1)
    logging.disable(logging.WARNING)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return {(r["direction"], r["case"]): r for r in _benchmark_run()(steps=120, batch=4, seed=0)}


@pytest.mark.parametrize(
    "case",
    [
        ("spikeforge -> snnTorch", "LIF zero reset (euler)"),
        ("spikeforge -> snnTorch", "LIF(tau_syn) zero reset (euler)"),
        ("snnTorch -> spikeforge", "Leaky zero reset, reset_delay=False"),
        ("snnTorch -> spikeforge", "Synaptic zero reset, reset_delay=False"),
        ("spikeforge -> snnTorch", "Conv2d+LIF+AvgPool2d+Flatten+Linear+LIF (euler)"),
        ("NIR (r=1) -> Norse & us", "Affine+LIF+Affine+LIF, dt=1 ms (euler)"),
    ],
)
def test_matching_neurons_give_identical_spikes_both_ways(rows, case):
    r = rows[case]
    assert r["identical"], r
    assert all(s > 0 for s in r["spikes_spikeforge"])
