r"""Fused leaky-integrator sequence kernel on the CPU (``v_t = beta v_{t-1} + x_t``), forward and backward.

Backward: ``a_t = dL/dv_t + beta a_{t+1}``, ``dL/dx_t = a_t``, ``dL/dbeta = sum_t a_t v_{t-1}``. The output is
the whole membrane sequence, so it is what the backward keeps (no extra storage).

Registered as PyTorch custom operators (``spikeforge::li_fwd``, ``spikeforge::li_bwd``, with fake implementations
and an autograd formula), so ``torch.compile`` keeps this kernel as one call per direction, as for LIF.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._common import kernel, per_neuron, ptr, threads

__all__ = ["li"]


@torch.library.custom_op("spikeforge::li_fwd", mutates_args=(), device_types="cpu")
def _li_fwd(x: Tensor, v0: Tensor, beta: Tensor) -> Tensor:
    """``(x[T, N], v0[N], beta[N]) -> v[T, N]``."""
    x, v0, beta = (t.contiguous() for t in (x, v0, beta))
    steps, n = x.shape
    vs = torch.empty_like(x)
    kernel("li_fwd", x.dtype)(x.data_ptr(), v0.data_ptr(), beta.data_ptr(), vs.data_ptr(), steps, n, threads(steps * n))
    return vs


@_li_fwd.register_fake
def _li_fwd_fake(x, v0, beta):
    return torch.empty_like(x)


@torch.library.custom_op("spikeforge::li_bwd", mutates_args=(), device_types="cpu")
def _li_bwd(dvs: Tensor, vs: Tensor, v0: Tensor, beta: Tensor, need_beta: bool) -> tuple[Tensor, Tensor, Tensor]:
    """``-> (dL/dx[T, N], dL/dv0[N], dL/dbeta[N])`` (the last empty when not needed)."""
    dvs, vs, v0, beta = (t.contiguous() for t in (dvs, vs, v0, beta))
    steps, n = vs.shape
    dx, dv0 = torch.empty_like(vs), torch.empty_like(v0)
    dbeta = torch.empty_like(beta) if need_beta else beta.new_empty(0)
    kernel("li_bwd", vs.dtype)(
        dvs.data_ptr(),
        None,
        vs.data_ptr(),
        v0.data_ptr(),
        beta.data_ptr(),
        dx.data_ptr(),
        dv0.data_ptr(),
        ptr(dbeta) if need_beta else None,
        steps,
        n,
        threads(steps * n),
    )
    return dx, dv0, dbeta


@_li_bwd.register_fake
def _li_bwd_fake(dvs, vs, v0, beta, need_beta):
    return torch.empty_like(vs), torch.empty_like(v0), torch.empty_like(beta) if need_beta else beta.new_empty(0)


def _setup_context(ctx, inputs, output) -> None:
    _, v0, beta = inputs
    ctx.save_for_backward(output, v0, beta)


def _backward(ctx, dvs):
    vs, v0, beta = ctx.saved_tensors
    need_beta = ctx.needs_input_grad[2]
    dx, dv0, dbeta = _li_bwd(dvs, vs, v0, beta, need_beta)
    return dx, dv0, dbeta if need_beta else None


_li_fwd.register_autograd(_backward, setup_context=_setup_context)


def li(x_seq: torch.Tensor, v0: torch.Tensor, beta: torch.Tensor | float) -> torch.Tensor:
    """The fused leaky integrator ``v_t = beta v_{t-1} + x_t`` over ``x_seq[T, B, ...]`` (float32/64, CPU) from
    ``v0[B, ...]``; ``beta`` a number or a tensor broadcasting to ``[B, ...]``. Returns ``v_seq[T, B, ...]``."""
    shape = x_seq.shape
    vs = _li_fwd(
        x_seq.reshape(shape[0], -1).contiguous(), v0.reshape(-1).contiguous(), per_neuron(beta, shape[1:], x_seq)
    )
    return vs.view(shape)
