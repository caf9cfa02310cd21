"""``spikeforge simulate izhikevich`` and ``simulate adex`` run the fused CPU kernels (inference, a current constant
over time read from its one row), with the spike trains of the torch reference."""

from __future__ import annotations

import argparse
import json

import pytest
import torch

from spikeforge import kernels
from spikeforge.cli._simulate import add_parser, run

pytestmark = pytest.mark.skipif(not kernels.cpu.available(), reason="no C compiler: compiled CPU kernels unavailable")


def _simulate(argv, capsys):
    parser = argparse.ArgumentParser(prog="spikeforge")
    add_parser(parser.add_subparsers(dest="command", required=True))
    assert run(parser.parse_args(["simulate", *argv, "--json"])) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    ("model", "argv"),
    [
        ("izhikevich", ["--preset", "chattering", "--current", "5,10", "--duration", "200ms", "--dt", "0.1ms"]),
        ("adex", ["--preset", "adapting", "--current", "300,500", "--duration", "200ms", "--dt", "0.1ms"]),
    ],
)
def test_simulate_runs_the_fused_kernel_with_the_reference_spikes(model, argv, capsys, monkeypatch):
    with kernels.trace() as ran:
        fused = _simulate([model, *argv], capsys)
    assert (model, "cpu") in ran
    reference = kernels._REGISTRY[model]["torch"]
    monkeypatch.setitem(kernels._REGISTRY[model], "cpu", kernels.Backend("cpu", reference.fn))  # the reference
    with kernels.trace():
        plain = _simulate([model, *argv], capsys)
    assert sum(len(t) for t in plain["spike_times_ms"]) > 5
    for a, b in zip(fused["spike_times_ms"], plain["spike_times_ms"]):
        assert len(a) == len(b)
        torch.testing.assert_close(torch.tensor(a), torch.tensor(b), rtol=0, atol=1e-9)
