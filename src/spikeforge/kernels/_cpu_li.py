r"""Fused leaky-integrator sequence kernel on the CPU (``v_t = beta v_{t-1} + x_t``), forward and backward.

Backward: ``a_t = dL/dv_t + beta a_{t+1}``, ``dL/dx_t = a_t``, ``dL/dbeta = sum_t a_t v_{t-1}``. The output is
the whole membrane sequence, so it is what the backward keeps (no extra storage).
"""

from __future__ import annotations

from typing import Any

import torch

from ..units import decay
from ._cpu_build import library
from ._cpu_lif import _common_ok, _per_neuron, _ptr, _threads

__all__ = ["li_seq_cpu", "supports_li"]


def supports_li(x: Any = None, params: Any = None, **_: Any) -> bool:
    """LI calls the fused kernel runs: CPU, float32/64, no ``tau_syn``."""
    from ..surrogate import FastSigmoid

    return params is not None and params.tau_syn is None and _common_ok(x, FastSigmoid())


class _FusedLI(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, beta):  # type: ignore[override]
        steps, n = x.shape
        suffix = "f64" if x.dtype == torch.float64 else "f32"
        vs = torch.empty_like(x)
        getattr(library(), f"sf_li_fwd_{suffix}")(
            x.data_ptr(), v0.data_ptr(), beta.data_ptr(), vs.data_ptr(), steps, n, _threads(steps * n)
        )
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(vs, v0, beta)
        return vs

    @staticmethod
    def backward(ctx, dvs):  # type: ignore[override]
        vs, v0, beta = ctx.saved_tensors
        steps, n = vs.shape
        suffix = "f64" if vs.dtype == torch.float64 else "f32"
        dvs = dvs.contiguous()
        dx = torch.empty_like(vs)
        dv0 = torch.empty_like(v0)
        dbeta = torch.empty_like(beta) if ctx.needs_input_grad[2] else None
        getattr(library(), f"sf_li_bwd_{suffix}")(
            dvs.data_ptr(),
            None,
            vs.data_ptr(),
            v0.data_ptr(),
            beta.data_ptr(),
            dx.data_ptr(),
            dv0.data_ptr(),
            _ptr(dbeta),
            steps,
            n,
            _threads(steps * n),
        )
        return dx, dv0, dbeta


def li_seq_cpu(x_seq, state, params, *, dt):
    """Backend ``"cpu"`` of ``li``."""
    from ..neurons._li import LIState

    shape = x_seq.shape
    step_shape = shape[1:]
    beta = decay(params.tau_mem, dt, like=x_seq)
    vs = _FusedLI.apply(
        x_seq.reshape(shape[0], -1).contiguous(), state.v.reshape(-1).contiguous(), _per_neuron(beta, step_shape, x_seq)
    )
    vs = vs.view(shape)
    return vs, LIState(vs[-1], x_seq[-1])
