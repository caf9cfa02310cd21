"""A user-defined surrogate runs the fused CPU kernels: forward in the kernel, the surrogate's own derivative
evaluated once over the stored sequence, the recursion back in the kernel. Checked against the torch reference
scan (autograd through the per-step update, which calls the same ``derivative``), and that the kernel ran."""

from __future__ import annotations

import pytest
import torch

import spikeforge as sf
from spikeforge import kernels, surrogate
from spikeforge.neurons import LIFParams, LIFState, lif_seq

pytestmark = pytest.mark.skipif(not kernels.cpu.available(), reason="no C compiler: compiled CPU kernels unavailable")

TOL = {torch.float32: 2e-5, torch.float64: 1e-11}
CALLS: list[tuple[int, ...]] = []  # shapes Gaussian.derivative was called with (equal surrogates share one handle)


class Gaussian(surrogate.Surrogate):
    """Written as the README and the Surrogate docstring show: primitive and a hand-written derivative."""

    def __init__(self, sigma: float = 0.3):
        self.sigma = sigma

    def primitive(self, x):
        return 0.5 * (1 + torch.erf(x / (self.sigma * 2**0.5)))

    def derivative(self, x):
        CALLS.append(tuple(x.shape))
        return torch.exp(-0.5 * (x / self.sigma) ** 2) / (self.sigma * (2 * torch.pi) ** 0.5)


class PrimitiveOnly(surrogate.Surrogate):
    """Only the primitive: the base class differentiates it with autograd."""

    def primitive(self, x):
        return torch.sigmoid(3.0 * x)


def _close(a, b, tol, what):
    err = (a - b).abs().max() / b.abs().max().clamp(min=1.0)
    assert err <= tol, f"{what}: max relative error {float(err):.3g} > {tol:g}"


def _lif(dtype, surr, backend, reset="subtract", detach=False):
    g = torch.Generator().manual_seed(4)
    x = (torch.rand(40, 3, 11, generator=g, dtype=dtype) * 0.7).requires_grad_()
    tau = torch.full((11,), 0.01, dtype=dtype, requires_grad=True)
    thr = (torch.rand(11, generator=g, dtype=dtype) * 0.4 + 0.8).requires_grad_()
    v0 = torch.rand(3, 11, generator=g, dtype=dtype).requires_grad_()
    params = LIFParams(tau_mem=tau, threshold=thr, reset=reset, detach_reset=detach, v_reset=0.1, v_leak=-0.1)
    with kernels.trace() as ran:
        z, s = lif_seq(x, LIFState(v0, v0 * 0, v0 * 0), params, surrogate=surr, backend=backend)
    loss = (z * torch.arange(40, dtype=dtype)[:, None, None]).sum() + (s.v**2).sum()
    return ran, z.detach(), torch.autograd.grad(loss, (x, tau, thr, v0))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("make", [Gaussian, PrimitiveOnly])
def test_lif_with_a_user_surrogate_runs_fused_with_the_reference_gradients(dtype, reset, make):
    _, z_ref, g_ref = _lif(dtype, make(), "torch", reset)
    surr = make()
    CALLS.clear()
    ran, z, g = _lif(dtype, surr, "auto", reset)
    assert ran == [("lif", "cpu")], "the fused kernel ran"
    assert torch.equal(z, z_ref) and z_ref.sum() > 0
    for name, a, b in zip(("x", "tau", "threshold", "v0"), g, g_ref):
        _close(a, b, TOL[dtype], f"grad {name}")
    if isinstance(surr, Gaussian):
        assert CALLS == [(40, 33)], "the derivative is evaluated once, over the whole stored sequence"


def test_lif_lean_storage_and_detached_reset_with_a_user_surrogate(monkeypatch):
    monkeypatch.setattr("spikeforge.kernels.cpu._common._BLOCK_VALUES", 100)  # blocks of 3 steps of 33 neurons
    _, z_ref, g_ref = _lif(torch.float32, Gaussian(), "torch", "subtract", detach=True)
    _, z, g = _lif(torch.float32, Gaussian(), "cpu", "subtract", detach=True)
    for a, b in zip(g, g_ref):
        _close(a, b, TOL[torch.float32], "grad (detached reset)")
    _, z_ref, g_ref = _lif(torch.float32, Gaussian(), "torch")
    _, z, g = _lif(torch.float32, Gaussian(), "cpu_lean")
    assert torch.equal(z, z_ref)
    cos = torch.nn.functional.cosine_similarity(g[0].flatten(), g_ref[0].flatten(), dim=0)
    assert cos >= 0.9999, f"lean storage (argument in half precision): cosine {float(cos):.6f}"


@pytest.mark.parametrize("name", ["if", "cubalif", "alif", "rlif", "ralif"])
@pytest.mark.parametrize("block", [None, 20], ids=["one-call", "blocks-of-steps"])
def test_other_fused_neurons_with_a_user_surrogate(name, block, monkeypatch):
    if block is not None:  # the derivative evaluated over blocks of 20 // 12 = 1 step (or 20 // 6 = 3 steps)
        monkeypatch.setattr("spikeforge.kernels.cpu._common._BLOCK_VALUES", block)
    torch.manual_seed(0)
    layers = {
        "if": lambda b: sf.IF(6, learn=("threshold",), surrogate=Gaussian(), backend=b),
        "cubalif": lambda b: sf.CubaLIF(6, learn=("tau_mem", "threshold"), surrogate=Gaussian(), backend=b),
        "alif": lambda b: sf.ALIF(6, learn=("tau_adapt", "beta"), surrogate=Gaussian(), backend=b),
        "rlif": lambda b: sf.RLIF(6, learn=("tau_mem",), surrogate=Gaussian(), backend=b),
        "ralif": lambda b: sf.RALIF(6, learn=("tau_adapt", "beta"), surrogate=Gaussian(), backend=b),
    }
    ref, fused = layers[name]("torch"), layers[name]("auto")
    fused.load_state_dict(ref.state_dict())
    x = torch.rand(30, 2, 6, dtype=torch.float64) * (3.0 if name in ("cubalif", "alif", "ralif") else 0.8)
    out = []
    for layer in (ref.double(), fused.double()):
        xg = x.clone().requires_grad_()
        with kernels.trace() as ran:
            z, state = layer(xg)
        loss = (z * torch.arange(30.0, dtype=torch.float64)[:, None, None]).sum() + (state.v**2).sum()
        params = [p for p in layer.parameters() if p.requires_grad]
        out.append((ran, z.detach(), torch.autograd.grad(loss, (xg, *params))))
    (_, z_ref, g_ref), (ran, z, g) = out
    assert ran == [(name, "cpu")]
    assert torch.equal(z, z_ref) and z_ref.sum() > 0
    for a, b in zip(g, g_ref):
        _close(a, b, 1e-10, f"{name} grad")


@pytest.mark.parametrize("backend", ["cpu", "cpu_lean"])
def test_gradient_through_one_output_only(backend):
    """Only the spikes, or only the final membrane, reach the loss: the other output's gradient is absent (the
    kernel takes NULL, no zero tensor is made) and the result still equals the reference."""
    x0 = torch.rand(30, 2, 5, dtype=torch.float64) * 0.6
    for use in ("z", "v"):
        grads = []
        for b in ("torch", backend):
            x = x0.clone().requires_grad_()
            z, s = lif_seq(x, None, LIFParams(), surrogate=Gaussian(), backend=b)
            loss = (z * torch.arange(30.0, dtype=torch.float64)[:, None, None]).sum() if use == "z" else s.v.sum()
            grads.append(torch.autograd.grad(loss, x)[0])
        _close(grads[1], grads[0], 3e-3 if backend == "cpu_lean" else TOL[torch.float64], f"grad via {use}")
