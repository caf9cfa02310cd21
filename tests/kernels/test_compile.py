"""torch.compile keeps the fused LIF kernels: they are registered custom operators (``spikeforge::lif_fwd``,
``spikeforge::lif_bwd``) with fake implementations and an autograd formula, so a whole network compiles as one
graph with the default inductor backend and the compiled code calls the kernels."""

from __future__ import annotations

import collections
import subprocess
import sys

import pytest
import torch
from torch._dynamo.utils import counters

import spikeforge as sf
from spikeforge import kernels

pytestmark = pytest.mark.skipif(not kernels.cpu.available(), reason="no C compiler: compiled CPU kernels unavailable")


def _mlp(surrogate=None, readout: bool = False) -> sf.SequentialState:
    torch.manual_seed(0)
    layers = [torch.nn.Linear(12, 16), sf.LIF(16, surrogate=surrogate), torch.nn.Linear(16, 4)]
    layers += [sf.LI(4)] if readout else [sf.LIF(4, surrogate=surrogate)]
    return sf.SequentialState(*layers)


class _Recorder:
    """Stands for the loaded C library and counts which of its functions are called."""

    def __init__(self, lib, calls):
        self._lib, self._calls = lib, calls

    def __getattr__(self, name):
        self._calls[name.rsplit("_", 1)[0]] += 1  # sf_lif_fwd_f32 -> sf_lif_fwd
        return getattr(self._lib, name)


def _kernels_run(fn, monkeypatch) -> collections.Counter:
    """The C kernels that ``fn`` calls (the custom operators fetch them through ``_common.kernel`` at every call)."""
    from spikeforge.kernels.cpu import _common

    calls: collections.Counter = collections.Counter()
    real = kernels.cpu.library()
    monkeypatch.setattr(_common, "library", lambda required=False: _Recorder(real, calls))
    monkeypatch.setenv("SPIKEFORGE_THREAD_PROBE", "0")  # the thread probe's own kernel calls are not counted
    fn()
    monkeypatch.undo()
    return calls


def _train_step(model, x):
    out, _ = model(x)
    (out * torch.arange(20.0)[:, None, None]).sum().backward()
    return out.detach()


def test_inductor_fullgraph_compiles_a_two_layer_lif_mlp_and_runs_the_fused_kernels(monkeypatch):
    """The default backend (inductor: needs a C compiler, as the kernels do) with fullgraph=True, which raises at
    the first graph break; the compiled forward and backward call the custom operators, once per layer each."""
    eager, model = _mlp(), _mlp()
    x = torch.rand(20, 3, 12)
    compiled = torch.compile(model, fullgraph=True)
    counters.clear()
    out = _train_step(compiled, x)
    assert not counters["graph_break"], dict(counters["graph_break"])
    ref = _train_step(eager, x)
    assert torch.equal(out, ref) and ref.sum() > 0
    for p, q in zip(model.parameters(), eager.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-6)
    model.zero_grad()
    ran = _kernels_run(lambda: _train_step(compiled, x), monkeypatch)  # compiled already: the generated code runs
    # the recomputing backward asks the library for its scratch size (sf_scratch) before each call
    assert ran == {"sf_lif_fwd": 2, "sf_lif_bwd": 2, "sf_scratch": 2}, ran


class Gaussian(sf.surrogate.Surrogate):
    def __init__(self, sigma: float = 0.3):
        self.sigma = sigma

    def primitive(self, x):
        return 0.5 * (1 + torch.erf(x / (self.sigma * 2**0.5)))

    def derivative(self, x):
        return torch.exp(-0.5 * (x / self.sigma) ** 2) / (self.sigma * (2 * torch.pi) ** 0.5)


def test_a_user_surrogate_and_the_li_readout_compile_too(monkeypatch):
    """The user surrogate's derivative is traced into the backward graph; the LI kernel is a custom operator too."""
    eager, model = _mlp(Gaussian(), readout=True), _mlp(Gaussian(), readout=True)
    x = torch.rand(20, 3, 12)
    compiled = torch.compile(model, fullgraph=True, backend="aot_eager")  # same graphs, no code generation
    out = _train_step(compiled, x)
    ref = _train_step(eager, x)
    assert torch.equal(out, ref)
    for p, q in zip(model.parameters(), eager.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-5, atol=1e-6)
    model.zero_grad()
    ran = _kernels_run(lambda: _train_step(compiled, x), monkeypatch)
    assert ran == {"sf_lif_fwd": 1, "sf_lif_bwd": 1, "sf_li_fwd": 1, "sf_li_bwd": 1}, ran


@pytest.mark.parametrize("uniform", [True, False])
def test_fake_implementations_give_the_shapes_of_the_real_ones(uniform):
    beta = torch.full((6,), 0.9) if uniform else torch.linspace(0.8, 0.95, 6)
    torch.library.opcheck(
        torch.ops.spikeforge.lif_fwd.default,
        (torch.rand(5, 6), torch.zeros(6), beta, torch.ones(6), 0.0, 0.0, 0, False, 2, 0, 25.0, -1, uniform),
    )


def test_compiling_before_any_eager_call_builds_the_kernels_when_they_first_run():
    """In a fresh process the library is not loaded when torch.compile first traces a layer: the trace must not
    fall back to the reference nor break the graph (the build takes a lock); the operators load it at run time."""
    code = (
        "import torch, spikeforge as sf\n"
        "from spikeforge.kernels.cpu import _build, _lif\n"
        "m = sf.SequentialState(torch.nn.Linear(6, 8), sf.LIF(8))\n"
        "assert not _build.loaded_or_tried()\n"
        "out, _ = torch.compile(m, fullgraph=True, backend='aot_eager')(torch.rand(5, 2, 6))\n"
        "out.sum().backward()\n"
        "assert _build.library() is not None and m[0].weight.grad is not None\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
