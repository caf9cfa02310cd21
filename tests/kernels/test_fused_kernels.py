"""Fused CPU kernels against the torch reference scan: forward values, spikes and gradients."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import spikeforge as sf
from spikeforge import kernels, surrogate
from spikeforge.neurons import (
    IFParams,
    IFState,
    LIFParams,
    LIFState,
    LIParams,
    LIState,
    if_seq,
    li_seq,
    lif_seq,
)

pytestmark = pytest.mark.skipif(not kernels.cpu.available(), reason="no C compiler: compiled CPU kernels unavailable")

# per-dtype tolerances, relative to the largest reference magnitude (different summation order only)
TOL = {torch.float32: 2e-5, torch.float64: 1e-11}
#: the lean backend evaluates the surrogate at h - threshold rounded to IEEE half precision
LEAN_TOL = 3e-3
SURROGATES = [
    surrogate.FastSigmoid(),
    surrogate.Sigmoid(),
    surrogate.ATan(),
    surrogate.Triangle(),
    surrogate.Boxcar(),
    surrogate.StraightThrough(),
    surrogate.FastSigmoid(slope=5.0),
]


def _close(a: torch.Tensor, b: torch.Tensor, tol: float, what: str) -> None:
    scale = b.abs().max().clamp(min=1.0)
    err = (a - b).abs().max() / scale
    assert err <= tol, f"{what}: max relative error {float(err):.3g} > {tol:g}"


def _lif_case(dtype, reset, detach, surr, backend, steps=40, batch=3, n=17, v_leak=0.0):
    g = torch.Generator().manual_seed(7)
    x = (torch.rand(steps, batch, n, generator=g, dtype=dtype) * 0.7 - 0.05).requires_grad_()
    tau = (torch.rand(n, generator=g, dtype=dtype) * 0.02 + 0.005).requires_grad_()
    thr = (torch.rand(n, generator=g, dtype=dtype) * 0.5 + 0.75).requires_grad_()
    v0 = (torch.rand(batch, n, generator=g, dtype=dtype) * 0.5).requires_grad_()
    params = LIFParams(tau_mem=tau, threshold=thr, reset=reset, detach_reset=detach, v_reset=0.1, v_leak=v_leak)
    state = LIFState(v0, torch.zeros_like(v0), torch.zeros_like(v0))
    z, s = lif_seq(x, state, params, surrogate=surr, backend=backend)
    w = torch.randn(steps, batch, n, generator=g, dtype=dtype)
    loss = (z * w).sum() + (s.v**2).sum() + s.i.sum()
    grads = torch.autograd.grad(loss, (x, tau, thr, v0))
    return z.detach(), s.v.detach(), grads


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surr", SURROGATES, ids=repr)
def test_lif_fused_matches_reference(dtype, reset, detach, surr):
    z_ref, v_ref, g_ref = _lif_case(dtype, reset, detach, surr, "torch")
    z, v, g = _lif_case(dtype, reset, detach, surr, "cpu")
    assert torch.equal(z, z_ref), "spikes differ"
    assert z_ref.sum() > 0, "the case must spike"
    assert torch.equal(v, v_ref), "forward membrane is bit-identical (same operation order)"
    for name, a, b in zip(("x", "tau_mem", "threshold", "v0"), g, g_ref):
        _close(a, b, TOL[dtype], f"grad {name}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_lif_lean_storage_within_stated_tolerance(dtype, reset):
    z_ref, v_ref, g_ref = _lif_case(dtype, reset, False, surrogate.FastSigmoid(), "torch")
    z, v, g = _lif_case(dtype, reset, False, surrogate.FastSigmoid(), "cpu_lean")
    assert torch.equal(z, z_ref)
    assert torch.equal(v, v_ref)
    for name, a, b in zip(("x", "tau_mem", "threshold", "v0"), g, g_ref):
        _close(a, b, LEAN_TOL, f"grad {name}")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [301, 4099])  # rows whose length is not a multiple of the 8-wide conversion
def test_lean_store_holds_h_minus_threshold_rounded_to_half_and_the_spike_bits(dtype, n):
    """The lean forward's stored values are ``h - threshold`` rounded to IEEE half precision as torch rounds it
    (through float32), bit for bit, beside the bits of the spikes; ``h`` from the forward that stores it whole."""
    from spikeforge.kernels.cpu import _lif

    torch.set_num_threads(2)
    g = torch.Generator().manual_seed(11)
    x = torch.rand(7, n, generator=g, dtype=dtype) * 0.8
    v0, thr = torch.zeros(n, dtype=dtype), torch.rand(n, generator=g, dtype=dtype) * 0.5 + 0.5
    beta = torch.full((n,), 0.9, dtype=dtype)
    out = {}
    for store in (_lif._EXACT, _lif._HALF):
        out[store] = _lif._lif_fwd(x, v0, beta, thr, 0.0, 0.0, 0, False, store, 0, 25.0, -1, False)
    z, _, h, _ = out[_lif._EXACT]
    z_lean, _, halves, bits = out[_lif._HALF]
    assert torch.equal(z, z_lean) and z.sum() > 0
    assert torch.equal(halves.view(torch.float16), (h - thr).to(torch.float32).to(torch.float16))
    unpacked = (bits.unsqueeze(1) >> torch.arange(8, dtype=torch.uint8)) & 1
    assert torch.equal(unpacked.reshape(-1)[: z.numel()].to(dtype), z.reshape(-1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surr", SURROGATES[:6], ids=repr)
@pytest.mark.parametrize("store", ["recompute", "exact"])
def test_uniform_parameters_read_once_with_the_same_bits(monkeypatch, dtype, reset, detach, surr, store):
    """A number for tau_mem and the threshold reaches the kernels as uniform (one value of each read, not the
    per-neuron arrays); spikes, membrane and the input's gradient are bit for bit those of the same values given
    per neuron, which take the array path, and the gradient is the reference's."""
    from spikeforge.kernels.cpu import _lif

    monkeypatch.setattr(_lif, "TRAIN_STORE", _lif._RECOMPUTE if store == "recompute" else _lif._EXACT)
    passed: list[tuple[str, int]] = []
    real = _lif.kernel

    def recording(name, dt):
        fn = real(name, dt)
        if name not in ("lif_fwd", "lif_bwd"):
            return fn
        return lambda *args: passed.append((name, args[-2])) or fn(*args)  # (..., uni, threads)

    monkeypatch.setattr(_lif, "kernel", recording)
    torch.set_num_threads(2)
    n = 300  # two blocks per thread and a partial one
    out = {}
    for uniform in (True, False):
        g = torch.Generator().manual_seed(5)
        x = (torch.rand(25, 3, n, generator=g, dtype=dtype) * 0.7 - 0.05).requires_grad_()
        tau, thr = (
            (0.012, 0.9) if uniform else (torch.full((n,), 0.012, dtype=dtype), torch.full((n,), 0.9, dtype=dtype))
        )
        params = LIFParams(tau_mem=tau, threshold=thr, reset=reset, detach_reset=detach, v_reset=0.1, v_leak=0.05)
        z, s = lif_seq(x, None, params, surrogate=surr, backend="cpu")
        w = torch.randn(z.shape, generator=g, dtype=dtype)
        out[uniform] = z, s.v, torch.autograd.grad((z * w).sum() + (s.v**2).sum(), x)[0]
        flags = dict(passed)
        assert flags == {"lif_fwd": int(uniform), "lif_bwd": int(uniform)}, flags
        passed.clear()
    assert out[True][0].sum() > 0, "the case must spike"
    for a, b in zip(out[True], out[False]):
        assert torch.equal(a, b)
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(25, 3, n, generator=g, dtype=dtype) * 0.7 - 0.05).requires_grad_()
    params = LIFParams(tau_mem=0.012, threshold=0.9, reset=reset, detach_reset=detach, v_reset=0.1, v_leak=0.05)
    z, s = lif_seq(x, None, params, surrogate=surr, backend="torch")
    w = torch.randn(z.shape, generator=g, dtype=dtype)
    ref = torch.autograd.grad((z * w).sum() + (s.v**2).sum(), x)[0]
    assert torch.equal(z.detach(), out[True][0])
    _close(out[True][2], ref, TOL[dtype], "grad x")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("learned", [False, True], ids=["fixed", "learned"])
def test_recomputing_backward_equals_the_stored_one_bit_for_bit(monkeypatch, dtype, reset, detach, learned):
    """The default training forward keeps only its input; the backward recomputes h per block of 256 neurons.
    Its gradients equal, bit for bit, those of the forward that stores h (several blocks and a partial one, two
    threads, fixed or learned tau and threshold)."""
    from spikeforge.kernels.cpu import _lif

    torch.set_num_threads(2)
    out = {}
    for store in (_lif._EXACT, _lif._RECOMPUTE):
        monkeypatch.setattr(_lif, "TRAIN_STORE", store)
        g = torch.Generator().manual_seed(3)
        x = (torch.rand(30, 3, 300, generator=g, dtype=dtype) * 0.7 - 0.05).requires_grad_()
        tau = torch.rand(300, generator=g, dtype=dtype) * 0.02 + 0.005
        thr = torch.rand(300, generator=g, dtype=dtype) * 0.5 + 0.75
        leaves = [x, tau.requires_grad_(), thr.requires_grad_()] if learned else [x]
        params = LIFParams(tau_mem=tau, threshold=thr, reset=reset, detach_reset=detach, v_reset=0.1, v_leak=0.05)
        saved: list[int] = []

        def keep(t, saved=saved):
            saved.append(t.data_ptr())
            return t

        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            z, s = lif_seq(x, None, params, backend="cpu")
        assert (x.data_ptr() in saved) == (store == _lif._RECOMPUTE)  # which of the two ran: x kept, or h
        w = torch.randn(z.shape, generator=g, dtype=dtype)
        out[store] = z, torch.autograd.grad((z * w).sum() + (s.v**2).sum(), leaves)
    (z_exact, g_exact), (z_redo, g_redo) = out[_lif._EXACT], out[_lif._RECOMPUTE]
    assert z_exact.sum() > 0 and torch.equal(z_exact, z_redo)
    for a, b in zip(g_exact, g_redo):
        assert torch.equal(a, b)


def test_lif_v_leak_and_two_threads_on_a_larger_layer():
    torch.set_num_threads(2)  # blocks of neurons handed out to two threads
    z_ref, _, g_ref = _lif_case(
        torch.float64, "subtract", False, surrogate.ATan(), "torch", steps=30, batch=8, n=700, v_leak=-0.2
    )
    z, _, g = _lif_case(
        torch.float64, "subtract", False, surrogate.ATan(), "cpu", steps=30, batch=8, n=700, v_leak=-0.2
    )
    assert torch.equal(z, z_ref)
    for a, b in zip(g, g_ref):
        _close(a, b, TOL[torch.float64], "grad")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("detach", [False, True])
def test_if_fused_matches_reference(dtype, reset, detach):
    out = []
    for backend in ("torch", "cpu"):
        g = torch.Generator().manual_seed(3)
        x = (torch.rand(30, 2, 9, generator=g, dtype=dtype) * 0.6).requires_grad_()
        thr = torch.full((9,), 1.0, dtype=dtype, requires_grad=True)
        z, s = if_seq(
            x,
            IFState(torch.zeros(2, 9, dtype=dtype)),
            IFParams(threshold=thr, reset=reset, detach_reset=detach, v_reset=0.05),
            surrogate=surrogate.Sigmoid(),
            backend=backend,
        )
        loss = (z * torch.arange(30, dtype=dtype)[:, None, None]).sum() + s.v.sum()
        out.append((z.detach(), s.v.detach(), torch.autograd.grad(loss, (x, thr))))
    (z_ref, v_ref, g_ref), (z, v, g) = out
    assert torch.equal(z, z_ref) and torch.equal(v, v_ref)
    for a, b in zip(g, g_ref):
        _close(a, b, TOL[dtype], "grad")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_li_fused_matches_reference(dtype):
    out = []
    for backend in ("torch", "cpu"):
        g = torch.Generator().manual_seed(5)
        x = torch.randn(25, 4, 6, generator=g, dtype=dtype, requires_grad=True)
        tau = torch.full((6,), 0.01, dtype=dtype, requires_grad=True)
        v0 = torch.randn(4, 6, generator=g, dtype=dtype, requires_grad=True)
        v, s = li_seq(x, LIState(v0, torch.zeros_like(v0)), LIParams(tau_mem=tau), backend=backend)
        loss = (v**2).sum() + 3 * s.v.sum()
        out.append((v.detach(), torch.autograd.grad(loss, (x, tau, v0))))
    assert torch.equal(out[0][0], out[1][0])
    for a, b in zip(out[1][1], out[0][1]):
        _close(a, b, TOL[dtype], "grad")


def test_modules_with_learned_parameters_use_the_fused_kernel_and_agree():
    torch.manual_seed(0)
    ref = sf.LIF(12, learn=("tau_mem", "threshold"), backend="torch")
    fused = sf.LIF(12, learn=("tau_mem", "threshold"), backend="auto")
    fused.load_state_dict(ref.state_dict())
    x = torch.rand(20, 3, 12) * 0.4
    for m in (ref, fused):
        with kernels.trace() as ran:
            z, _ = m(x)
        assert ran == [("lif", "torch" if m is ref else "cpu")]  # the fused kernel actually ran
        z.sum().backward()
    _close(fused.log_tau_mem.grad, ref.log_tau_mem.grad, TOL[torch.float32], "grad log tau")
    _close(fused.threshold.grad, ref.threshold.grad, TOL[torch.float32], "grad threshold")


def test_auto_resolution_and_fallbacks():
    x = torch.rand(5, 2, 3)

    class Gaussian(surrogate.Surrogate):
        def primitive(self, u):
            return 0.5 * (1 + torch.erf(u))

    ctx = {"x": x, "surrogate": surrogate.FastSigmoid(), "requires_grad": True}
    fused = kernels.resolve("lif", "cpu", params=LIFParams(), **ctx)
    assert kernels.resolve("lif", "auto", params=LIFParams(), **ctx) is fused
    ref = kernels.resolve("lif", "torch", params=LIFParams(), **ctx)
    # a user-defined surrogate runs the fused kernel (tests/kernels/test_custom_surrogate.py checks its gradients);
    # tau_syn and refractoriness fall back to the reference
    assert kernels.resolve("lif", "auto", params=LIFParams(), x=x, surrogate=Gaussian()) is fused
    assert kernels.resolve("lif", "auto", params=LIFParams(tau_syn=0.005), **ctx) is ref
    assert kernels.resolve("lif", "auto", params=LIFParams(t_ref=0.002), **ctx) is ref
    with pytest.raises(ValueError, match="does not support"):
        kernels.resolve("lif", "cpu", params=LIFParams(t_ref=0.002), **ctx)
    z, _ = sf.LIF(3, surrogate=Gaussian())(x)
    assert z.shape == x.shape


def test_torch_compile_of_a_whole_model_still_works():
    torch.manual_seed(0)
    model = sf.SequentialState(torch.nn.Linear(6, 8), sf.LIF(8), torch.nn.Linear(8, 3), sf.LI(3))
    x = (torch.rand(12, 2, 6) < 0.3).float()
    eager, _ = model(x)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=False)
    out, _ = compiled(x)
    assert torch.allclose(out, eager, atol=1e-6)
    out.sum().backward()
    assert model[0].weight.grad is not None


def test_without_a_compiler_auto_falls_back_and_explicit_request_raises():
    code = (
        "import torch, spikeforge as sf\n"
        "from spikeforge.kernels import cpu\n"
        "z, _ = sf.LIF(3)(torch.rand(4, 2, 3))\n"
        "assert cpu.library() is None and 'SPIKEFORGE_NO_COMPILE' in cpu.build_error()\n"
        "try:\n"
        "    sf.LIF(3, backend='cpu')(torch.rand(4, 2, 3))\n"
        "except RuntimeError as err:\n"
        "    assert 'not available' in str(err)\n"
        "else:\n"
        "    raise SystemExit('no error')\n"
    )
    env = {**os.environ, "SPIKEFORGE_NO_COMPILE": "1"}
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def _saved_bytes(fn) -> int:
    total = 0

    def pack(t):
        nonlocal total
        total += t.numel() * t.element_size()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return total


def test_activation_bytes_per_neuron_per_step():
    """What the backward keeps for one LIF layer with learned tau and threshold (measured on the saved tensors):
    the reference scan about 12 bytes per neuron per step, the fused kernel 4 (a reference to its input x, from
    which the backward recomputes h: no new tensor), lean 2.125."""
    steps, batch, n = 200, 8, 64
    x = (torch.rand(steps, batch, n) * 0.4).requires_grad_()
    tau = torch.full((n,), 0.02, requires_grad=True)
    thr = torch.full((n,), 1.0, requires_grad=True)
    per = {}
    for backend in ("torch", "cpu", "cpu_lean"):
        params = LIFParams(tau_mem=tau, threshold=thr)
        total = _saved_bytes(lambda b=backend, p=params: lif_seq(x, None, p, backend=b))
        per[backend] = total / (steps * batch * n)
    assert per["cpu"] <= 4.1, per  # h in float32 (+ per-neuron parameters)
    assert per["cpu_lean"] <= 2.2, per  # h - threshold in float16 + 1 bit per spike
    assert per["torch"] >= 2.5 * per["cpu"], per


def _run_two_state(seq_fn, params_cls, state_cls, make_params, dtype, reset, detach, surr, scale):
    out = []
    for backend in ("torch", "cpu"):
        g = torch.Generator().manual_seed(11)
        x = (torch.rand(50, 3, 7, generator=g, dtype=dtype) * scale).requires_grad_()
        learned = make_params(dtype)
        v0 = torch.rand(3, 7, generator=g, dtype=dtype).requires_grad_()
        s0 = torch.rand(3, 7, generator=g, dtype=dtype).requires_grad_()
        params = params_cls(**learned, reset=reset, detach_reset=detach, v_reset=0.1)
        z, s = seq_fn(x, state_cls(v0, s0), params, surrogate=surr, backend=backend)
        loss = (z * torch.arange(50, dtype=dtype)[:, None, None]).sum() + (s[0] ** 2).sum() + (s[1] ** 2).sum()
        out.append((z.detach(), s[0].detach(), torch.autograd.grad(loss, (x, *learned.values(), v0, s0))))
    (z_ref, v_ref, g_ref), (z, v, g) = out
    assert z_ref.sum() > 5, "the case must spike"
    assert torch.equal(z, z_ref) and torch.equal(v, v_ref)
    for a, b in zip(g, g_ref):
        _close(a, b, TOL[dtype] * 5, "grad")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surr", [surrogate.ATan(), surrogate.Triangle()], ids=repr)
def test_cubalif_fused_matches_reference(dtype, reset, detach, surr):
    from spikeforge.neurons._cubalif import CubaLIFParams, CubaLIFState, cubalif_seq

    def make(dt):
        return {
            "tau_mem": torch.full((7,), 0.01, dtype=dt, requires_grad=True),
            "tau_syn": torch.linspace(0.002, 0.01, 7, dtype=dt).requires_grad_(),  # includes tau_syn == tau_mem
            "threshold": torch.full((7,), 1.0, dtype=dt, requires_grad=True),
        }

    if reset == "zero":
        # the reference restarts from v_reset at the interpolated crossing; the kernel declines that case
        params = CubaLIFParams(reset="zero")
        x = torch.rand(4, 2, 7, dtype=dtype)
        assert kernels.resolve("cubalif", "auto", x=x, params=params, surrogate=surr) is kernels.resolve(
            "cubalif", "torch"
        )
        with pytest.raises(ValueError, match="does not support"):
            cubalif_seq(x, None, params, surrogate=surr, backend="cpu")
        return
    _run_two_state(cubalif_seq, CubaLIFParams, CubaLIFState, make, dtype, reset, detach, surr, 3.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surr", [surrogate.FastSigmoid(), surrogate.Sigmoid()], ids=repr)
def test_alif_fused_matches_reference(dtype, reset, detach, surr):
    from spikeforge.neurons._alif import ALIFParams, ALIFState, alif_seq

    def make(dt):
        return {
            "tau_mem": torch.full((7,), 0.02, dtype=dt, requires_grad=True),
            "tau_adapt": torch.full((7,), 0.05, dtype=dt, requires_grad=True),
            "threshold": torch.full((7,), 0.6, dtype=dt, requires_grad=True),
            "beta": torch.full((7,), 0.3, dtype=dt, requires_grad=True),
        }

    _run_two_state(alif_seq, ALIFParams, ALIFState, make, dtype, reset, detach, surr, 1.5)


def test_alif_and_cubalif_modules_resolve_to_the_fused_kernel():
    from spikeforge.neurons._alif import ALIFParams
    from spikeforge.neurons._cubalif import CubaLIFParams

    x = torch.rand(4, 2, 3)
    ctx = {"x": x, "surrogate": surrogate.FastSigmoid()}
    assert kernels.resolve("alif", "auto", params=ALIFParams(), **ctx) is kernels.resolve(
        "alif", "cpu", params=ALIFParams(), **ctx
    )
    cuba = kernels.resolve("cubalif", "cpu", params=CubaLIFParams(), **ctx)
    assert kernels.resolve("cubalif", "auto", params=CubaLIFParams(), **ctx) is cuba
    # and the modules, run with backend="auto", actually call it
    with kernels.trace() as ran:
        sf.ALIF(3)(x)
        sf.CubaLIF(3)(x)
    assert ran == [("alif", "cpu"), ("cubalif", "cpu")]


def _has_triton_gpu() -> bool:
    import importlib.util

    return torch.cuda.is_available() and importlib.util.find_spec("triton") is not None


@pytest.mark.skipif(not _has_triton_gpu(), reason="needs a CUDA GPU and Triton")
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surr", SURROGATES, ids=repr)
def test_lif_triton_matches_reference(dtype, reset, detach, surr):
    out = []
    for backend in ("torch", "triton"):
        g = torch.Generator().manual_seed(7)
        x = (torch.rand(40, 3, 300, generator=g, dtype=dtype) * 0.7).cuda().requires_grad_()
        tau = torch.full((300,), 0.01, dtype=dtype, device="cuda", requires_grad=True)
        thr = torch.full((300,), 1.0, dtype=dtype, device="cuda", requires_grad=True)
        params = LIFParams(tau_mem=tau, threshold=thr, reset=reset, detach_reset=detach, v_reset=0.1)
        z, s = lif_seq(x, None, params, surrogate=surr, backend=backend)
        loss = (z * torch.arange(40, dtype=dtype, device="cuda")[:, None, None]).sum() + (s.v**2).sum()
        out.append((z.detach(), torch.autograd.grad(loss, (x, tau, thr))))
    assert torch.equal(out[0][0], out[1][0])
    for a, b in zip(out[1][1], out[0][1]):
        _close(a, b, TOL[dtype] * 10, "grad")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("detach", [False, True])
def test_rlif_fused_matches_reference(dtype, reset, detach):
    from spikeforge.neurons import RLIFState, rlif_seq

    out = []
    for backend in ("torch", "cpu"):
        g = torch.Generator().manual_seed(1)
        x = (torch.rand(30, 4, 9, generator=g, dtype=dtype) * 0.5).requires_grad_()
        weight = (torch.randn(9, 9, generator=g, dtype=dtype) * 0.3).requires_grad_()
        tau = torch.full((9,), 0.02, dtype=dtype, requires_grad=True)
        thr = torch.full((9,), 1.0, dtype=dtype, requires_grad=True)
        v0 = torch.rand(4, 9, generator=g, dtype=dtype).requires_grad_()
        z0 = (torch.rand(4, 9, generator=g, dtype=dtype) < 0.3).to(dtype).requires_grad_()
        state = RLIFState(v0, torch.zeros_like(v0), torch.zeros_like(v0), z0)
        params = LIFParams(tau_mem=tau, threshold=thr, reset=reset, detach_reset=detach, v_reset=0.1)
        z, s = rlif_seq(x, state, weight, params, surrogate=surrogate.ATan(), backend=backend)
        loss = (z * torch.arange(30, dtype=dtype)[:, None, None]).sum() + (s.v**2).sum() + (s.i**2).sum() + s.z.sum()
        out.append((z.detach(), s.v.detach(), torch.autograd.grad(loss, (x, weight, tau, thr, v0, z0))))
    (z_ref, v_ref, g_ref), (z, v, g) = out
    assert 0 < z_ref.mean() < 1
    assert torch.equal(z, z_ref) and torch.equal(v, v_ref)
    for a, b in zip(g, g_ref):
        _close(a, b, TOL[dtype] * 5, "grad")


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("detach", [False, True])
def test_ralif_fused_matches_reference(dtype, reset, detach):
    """The recurrent ALIF through the one-step ALIF kernel: the reference's spikes and states exactly, and its
    gradients (input, recurrent weight, every ALIF parameter, the initial membrane, adaptation and spikes)."""
    from spikeforge.neurons import ALIFParams, RALIFState, ralif_seq

    out = []
    for backend in ("torch", "cpu"):
        g = torch.Generator().manual_seed(1)
        x = (torch.rand(30, 4, 9, generator=g, dtype=dtype) * 3.0).requires_grad_()
        weight = (torch.randn(9, 9, generator=g, dtype=dtype) * 0.3).requires_grad_()
        leaves = {
            "tau_mem": torch.full((9,), 0.02, dtype=dtype),
            "tau_adapt": torch.full((9,), 0.2, dtype=dtype),
            "threshold": torch.full((9,), 1.0, dtype=dtype),
            "beta": torch.full((9,), 0.5, dtype=dtype),
        }
        leaves = {k: v.requires_grad_() for k, v in leaves.items()}
        v0, a0 = (torch.rand(4, 9, generator=g, dtype=dtype).requires_grad_() for _ in range(2))
        z0 = (torch.rand(4, 9, generator=g, dtype=dtype) < 0.3).to(dtype).requires_grad_()
        params = ALIFParams(**leaves, reset=reset, detach_reset=detach, v_reset=0.1)
        with kernels.trace() as ran:
            z, s = ralif_seq(x, RALIFState(v0, a0, z0), weight, params, surrogate=surrogate.ATan(), backend=backend)
        loss = (z * torch.arange(30, dtype=dtype)[:, None, None]).sum() + (s.v**2).sum() + (s.a**2).sum() + s.z.sum()
        out.append((ran, z.detach(), s, torch.autograd.grad(loss, (x, weight, *leaves.values(), v0, a0, z0))))
    (_, z_ref, s_ref, g_ref), (ran, z, s, g) = out
    assert ran == [("ralif", "cpu")]
    assert 0 < z_ref.mean() < 1
    assert torch.equal(z, z_ref) and torch.equal(s.v, s_ref.v) and torch.equal(s.a, s_ref.a)
    for a, b in zip(g, g_ref):
        _close(a, b, TOL[dtype] * 5, "grad")


@pytest.mark.parametrize("model", ["cubalif", "alif"])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_two_state_recomputing_backward_equals_the_stored_one_bit_for_bit(monkeypatch, model, reset, dtype):
    """CubaLIF and ALIF training keeps only the input with a built-in surrogate; the backward recomputes h and the
    second variable per block of 256 neurons. Gradients (input, initial state, every learned parameter) equal bit
    for bit those of the forward that stores both (300 neurons: a full block and a partial one, two threads)."""
    from spikeforge.kernels.cpu import _two_state
    from spikeforge.neurons._alif import ALIFParams, ALIFState, alif_seq
    from spikeforge.neurons._cubalif import CubaLIFParams, CubaLIFState, cubalif_seq

    if model == "cubalif" and reset == "zero":
        pytest.skip("the CubaLIF kernel declines the zero reset (test_cubalif_fused_matches_reference)")
    torch.set_num_threads(2)
    n = 300
    out = {}
    for recompute in (False, True):
        monkeypatch.setattr(_two_state, "RECOMPUTE", recompute)
        g = torch.Generator().manual_seed(5)
        x = (torch.rand(40, 3, n, generator=g, dtype=dtype) * (3.0 if model == "cubalif" else 0.7)).requires_grad_()
        v0, s0 = (torch.rand(3, n, generator=g, dtype=dtype).requires_grad_() for _ in range(2))
        tau = (torch.rand(n, generator=g, dtype=dtype) * 0.02 + 0.005).requires_grad_()
        thr = (torch.rand(n, generator=g, dtype=dtype) * 0.4 + 0.6).requires_grad_()
        sequences = []  # saved [T, B * n] tensors: x alone when recomputing, x, h and i (or a) otherwise

        def keep(t, sequences=sequences, size=x.numel()):
            sequences.extend([t.numel()] if t.numel() == size else [])
            return t

        with torch.autograd.graph.saved_tensors_hooks(keep, lambda t: t):
            if model == "cubalif":
                tau_syn = (torch.rand(n, generator=g, dtype=dtype) * 0.008 + 0.002).requires_grad_()
                learned = [tau, tau_syn, thr]
                params = CubaLIFParams(tau_mem=tau, tau_syn=tau_syn, threshold=thr, reset=reset, v_reset=0.1)
                z, s = cubalif_seq(x, CubaLIFState(v0, s0), params, backend="cpu")
            else:
                tau_a = (torch.rand(n, generator=g, dtype=dtype) * 0.1 + 0.05).requires_grad_()
                b = (torch.rand(n, generator=g, dtype=dtype) * 0.3).requires_grad_()
                learned = [tau, tau_a, thr, b]
                params = ALIFParams(tau_mem=tau, tau_adapt=tau_a, threshold=thr, beta=b, reset=reset, v_reset=0.1)
                z, s = alif_seq(x, ALIFState(v0, s0), params, backend="cpu")
        assert len(sequences) == (1 if recompute else 3), sequences
        w = torch.randn(z.shape, generator=g, dtype=dtype)
        loss = (z * w).sum() + (s[0] ** 2).sum() + (s[1] ** 2).sum()
        out[recompute] = z.detach(), torch.autograd.grad(loss, [x, v0, s0, *learned])
    (z_stored, g_stored), (z_redo, g_redo) = out[False], out[True]
    assert z_stored.sum() > 0 and torch.equal(z_stored, z_redo)
    for a, b in zip(g_stored, g_redo):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("n", [1, 15, 16, 1003, 4096])
def test_pack_bits_puts_element_k_of_each_byte_at_bit_k(dtype, n):
    """The lean storage's spike bits: element 8 b + k at bit k of byte b, a NaN counting as a spike, as numpy's
    little-endian packbits (float32 on an AVX-512 build runs the vector path, 16 values per compare, and the scalar
    loop for the tail; elsewhere the scalar loop alone)."""
    import numpy as np

    from spikeforge.kernels.cpu import kernel

    g = torch.Generator().manual_seed(n)
    z = (torch.rand(n, generator=g) < 0.3).to(dtype)
    z[n // 2] = float("nan")
    bits = torch.full(((n + 7) // 8,), 0xAA, dtype=torch.uint8)
    kernel("pack_bits", dtype)(z.data_ptr(), bits.data_ptr(), n, 2)
    expected = np.packbits((z != 0).numpy(), bitorder="little")
    assert bits.numpy().tolist() == expected.tolist()
