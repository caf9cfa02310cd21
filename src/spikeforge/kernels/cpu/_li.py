r"""Fused leaky-integrator sequence kernel on the CPU (``v_t = beta v_{t-1} + x_t``), forward and backward.

Backward: ``a_t = dL/dv_t + beta a_{t+1}``, ``dL/dx_t = a_t``, ``dL/dbeta = sum_t a_t v_{t-1}``. The output is
the whole membrane sequence, so it is what the backward keeps (no extra storage).
"""

from __future__ import annotations

import torch

from ._build import library
from ._common import per_neuron, ptr, threads

__all__ = ["li"]


class _FusedLI(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, beta):  # type: ignore[override]
        steps, n = x.shape
        suffix = "f64" if x.dtype == torch.float64 else "f32"
        vs = torch.empty_like(x)
        getattr(library(), f"sf_li_fwd_{suffix}")(
            x.data_ptr(), v0.data_ptr(), beta.data_ptr(), vs.data_ptr(), steps, n, threads(steps * n)
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
            ptr(dbeta),
            steps,
            n,
            threads(steps * n),
        )
        return dx, dv0, dbeta


def li(x_seq: torch.Tensor, v0: torch.Tensor, beta: torch.Tensor | float) -> torch.Tensor:
    """The fused leaky integrator ``v_t = beta v_{t-1} + x_t`` over ``x_seq[T, B, ...]`` (float32/64, CPU) from
    ``v0[B, ...]``; ``beta`` a number or a tensor broadcasting to ``[B, ...]``. Returns ``v_seq[T, B, ...]``."""
    shape = x_seq.shape
    vs = _FusedLI.apply(
        x_seq.reshape(shape[0], -1).contiguous(), v0.reshape(-1).contiguous(), per_neuron(beta, shape[1:], x_seq)
    )
    return vs.view(shape)
