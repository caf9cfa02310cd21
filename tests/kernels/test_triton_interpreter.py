"""The Triton LIF/IF kernels run by Triton's interpreter (``TRITON_INTERPRET=1``) on CPU tensors, against the torch
reference: the same kernel source as on a GPU, so a machine without one still checks its logic (spikes, state and
the hand-written BPTT backward). Runs where Triton is importable (``make triton-tests`` builds ``.venv-triton``);
skipped otherwise. GPU-specific behaviour (memory, speed, compilation) needs the CUDA tests in
``test_fused_kernels.py``.
"""

import os

import pytest
import torch

from spikeforge import surrogate
from spikeforge.neurons._if import IFParams, _if_seq_fused, if_init, if_seq
from spikeforge.neurons._lif import LIFParams, _lif_seq_fused, lif_init, lif_seq

os.environ.setdefault("TRITON_INTERPRET", "1")  # read when the kernels are decorated, i.e. at their import
pytest.importorskip("triton")
if os.environ.get("TRITON_INTERPRET") != "1":  # pragma: no cover
    pytest.skip("TRITON_INTERPRET is set to something else", allow_module_level=True)

from spikeforge.kernels import _triton_lif

SURROGATES = [
    surrogate.FastSigmoid(),
    surrogate.Sigmoid(),
    surrogate.ATan(),
    surrogate.Triangle(),
    surrogate.Boxcar(),
    surrogate.StraightThrough(),
]
TOL = {torch.float32: 2e-5, torch.float64: 1e-11}


def _close(a, b, tol, what):
    scale = b.abs().max().clamp(min=1.0)
    err = float((a - b).abs().max() / scale)
    assert err <= tol, f"{what}: max relative error {err:.3g} > {tol:g}"


def _case(kind, dtype, reset, detach, surr, use_triton):
    g = torch.Generator().manual_seed(7)
    x = (torch.rand(30, 3, 20, generator=g, dtype=dtype) * 0.7 - 0.05).requires_grad_()
    thr = torch.full((20,), 1.0, dtype=dtype).add_(torch.rand(20, generator=g, dtype=dtype) * 0.2).requires_grad_()
    if kind == "lif":
        tau = (torch.rand(20, generator=g, dtype=dtype) * 0.02 + 0.005).requires_grad_()
        params = LIFParams(tau_mem=tau, threshold=thr, reset=reset, detach_reset=detach, v_reset=0.1)
        leaves = (x, tau, thr)
        if use_triton:
            z, s = _lif_seq_fused(_triton_lif.lif, x, lif_init(x[0], params), params, dt=1e-3, surrogate=surr)
        else:
            z, s = lif_seq(x, None, params, surrogate=surr, backend="torch")
    else:
        params = IFParams(threshold=thr, reset=reset, detach_reset=detach, v_reset=0.1)
        leaves = (x, thr)
        if use_triton:
            z, s = _if_seq_fused(_triton_lif.lif, x, if_init(x[0], params), params, dt=1e-3, surrogate=surr)
        else:
            z, s = if_seq(x, None, params, surrogate=surr, backend="torch")
    loss = (z * torch.arange(30, dtype=dtype)[:, None, None]).sum() + (s.v**2).sum()
    return z.detach(), s.v.detach(), torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reset", ["subtract", "zero", "none"])
@pytest.mark.parametrize("detach", [False, True])
@pytest.mark.parametrize("surr", SURROGATES, ids=repr)
@pytest.mark.parametrize("kind", ["lif", "if"])
def test_triton_kernel_matches_the_reference_in_the_interpreter(kind, dtype, reset, detach, surr):
    z_ref, v_ref, g_ref = _case(kind, dtype, reset, detach, surr, use_triton=False)
    z, v, grads = _case(kind, dtype, reset, detach, surr, use_triton=True)
    assert z_ref.sum() > 0
    assert torch.equal(z, z_ref)
    _close(v, v_ref, TOL[dtype], "final membrane")
    for name, a, b in zip(("x", "tau/threshold", "threshold"), grads, g_ref):
        _close(a, b, TOL[dtype] * 10, f"grad {name}")


def test_inference_path_stores_nothing_and_matches():
    x = torch.rand(25, 2, 7) * 0.8
    params = LIFParams(tau_mem=torch.full((7,), 0.01))
    with torch.no_grad():
        z, s = _lif_seq_fused(_triton_lif.lif, x, lif_init(x[0], params), params, dt=1e-3, surrogate=surrogate.ATan())
        z_ref, s_ref = lif_seq(x, None, params, surrogate=surrogate.ATan(), backend="torch")
    assert torch.equal(z, z_ref) and torch.allclose(s.v, s_ref.v, atol=1e-6)
