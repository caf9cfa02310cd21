"""Leaving the fast path is said once per layer and reason, and every layer records the backend it ran."""

from __future__ import annotations

import warnings

import pytest
import torch

import spikeforge as sf
from spikeforge import kernels
from spikeforge.metrics import profile_model

pytestmark = pytest.mark.skipif(not kernels.cpu.available(), reason="no C compiler: compiled CPU kernels unavailable")


def _fallbacks(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, kernels.FallbackWarning)]


def test_one_warning_per_layer_and_reason_not_per_call():
    x = torch.rand(6, 2, 4)
    synaptic, plain = sf.LIF(4, tau_syn=0.005), sf.LIF(4)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")  # no deduplication by the warnings module: the count is spikeforge's
        for _ in range(3):
            synaptic(x)
            plain(x)
    messages = _fallbacks(record)
    assert len(messages) == 1, messages
    assert "tau_syn is set" in messages[0] and "LIF((4,))" in messages[0]
    assert kernels.backend_of(synaptic) == "torch" and kernels.backend_of(plain) == "cpu"

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        synaptic(x.double())  # the same reason again: silent
        sf.LIF(4, tau_syn=0.005)(x)  # another layer: its own warning
        synaptic(x.half())  # a new reason for the first layer: one more
        synaptic(x.half())
    messages = _fallbacks(record)
    assert len(messages) == 2, messages
    assert "tau_syn is set" in messages[0] and "float16" in messages[1]


def test_explicit_backend_names_the_reason_and_auto_fused_layers_stay_silent():
    with pytest.raises(ValueError, match="t_ref > 0"):
        sf.LIF(3, t_ref=0.002, backend="cpu")(torch.rand(5, 2, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error", kernels.FallbackWarning)
        sf.ALIF(3)(torch.rand(5, 2, 3))
        sf.CubaLIF(3)(torch.rand(5, 2, 3))


def test_profile_shows_the_backend_of_every_neuron_layer():
    net = sf.SequentialState(
        torch.nn.Linear(5, 4), sf.LIF(4), torch.nn.Linear(4, 4), sf.LIF(4, t_ref=0.002), torch.nn.Linear(4, 2), sf.LI(2)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", kernels.FallbackWarning)
        report = profile_model(net, torch.rand(8, 3, 5))
    layers = report.to_dict()["neuron_layers"]
    assert [layers[name]["backend"] for name in ("1", "3", "5")] == ["cpu", "torch", "cpu"]
    table = report.table()
    assert "backend" in table.splitlines()[0]
    assert [line.split()[-1] for line in table.splitlines() if ": LIF(" in line] == ["cpu", "torch"]
