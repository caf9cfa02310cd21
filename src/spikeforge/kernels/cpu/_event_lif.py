r"""An event-driven linear synapse fused with a LIF / IF layer on the CPU, for binary spike input.

For spikes ``x_t[B, I] \in \{0, 1\}`` the layer computes, per neuron (``W[O, I]``, bias ``b``; see :mod:`._lif` for
``beta``, ``theta`` and the resets):

.. math::
    c_t = b + \sum_{i:\, x_{t,i} = 1} W_{:, i}, \quad h_t = v_{leak} + \beta (v_{t-1} - v_{leak}) + c_t, \quad
    z_t = H(h_t - \vartheta), \quad v_t = \mathrm{reset}(h_t, z_t)

without ever holding the current ``c`` ``[T, B, O]``: the forward sums it per slice of neurons in registers and
feeds it to the LIF update (the same additions in the same order as ``EventLinear`` followed by ``LIF``, so the same
spikes and membranes bit for bit). A training forward keeps only the spike indices, the weight and the initial
state. The backward recomputes ``c`` and ``h`` per slice of 64 neurons (float32; 32 in float64) and sample into a
scratch of ``T x 64`` values, runs the LIF recursion of :mod:`._lif` over it into a second such scratch
``dL/dh``, and adds that into ``dL/dW[:, i]`` at the events (and into ``dL/db``): the events are first regrouped by
(sample, input) with their steps increasing, so each input's sum over its events stays in registers. So the memory
a layer adds to training is the spikes it outputs (plus the events: about 8 bytes per input spike in the backward),
against its current, its spikes and two ``[T, B, O]`` gradients for the unfused pair. Threads split the slices of
neurons (so at most ``ceil(O / 64)`` threads work in the backward).

Gradients reach the weight, the bias, the initial membrane, ``beta`` and the threshold; not the input (spikes from
data; a layer whose input needs a gradient runs unfused). Built-in surrogates only (a custom surrogate's derivative
is evaluated over a stored ``h``, which this path does not keep). The result of the weight gradient does not depend
on the thread count.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._settings import Settings
from ._common import kernel, per_neuron, ptr, reset_args, threads

__all__ = ["event_lif"]


class _EventLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, weight, bias, v0, beta, thr, cols, offsets, steps, batch, cfg):  # type: ignore[override]
        wt = weight.detach().t().contiguous()
        b = None if bias is None else bias.detach().contiguous()
        out = weight.shape[0]
        z = torch.empty((steps, batch * out), dtype=wt.dtype)
        v = torch.empty(batch * out, dtype=wt.dtype)
        v_leak, v_reset, reset, _ = reset_args(cfg)
        kernel("elif_fwd", wt.dtype)(
            *(ptr(t) for t in (cols, offsets, wt, b, v0, beta, thr)),  # the layer: the backward's first arguments too
            z.data_ptr(),
            v.data_ptr(),
            steps,
            batch,
            out,
            v_leak,
            v_reset,
            reset,
            threads(steps * batch * out),
        )
        ctx.save_for_backward(cols, offsets, wt, b, v0, beta, thr)
        ctx.cfg, ctx.steps, ctx.batch = cfg, steps, batch
        ctx.set_materialize_grads(False)  # an unused z or v_T gives NULL to the kernel, not a zero tensor
        return z, v

    @staticmethod
    def backward(ctx, dz, dv):  # type: ignore[override]
        cols, offsets, wt, b, v0, beta, thr = ctx.saved_tensors
        steps, batch, cfg = ctx.steps, ctx.batch, ctx.cfg
        need_w, need_b, need_v0, need_beta, need_thr = ctx.needs_input_grad[:5]
        dz = None if dz is None else dz.contiguous()
        dv = None if dv is None else dv.contiguous()
        dtype = wt.dtype
        dwt = torch.zeros_like(wt)
        dbias = torch.zeros(wt.shape[1], dtype=dtype) if b is not None else None
        dv0 = torch.empty_like(v0)
        dbeta = torch.empty_like(beta) if need_beta else None
        dthr = torch.empty_like(thr) if need_thr else None
        v_leak, v_reset, reset, detach = reset_args(cfg)
        surr, k = cfg["surrogate"]
        n_threads = threads(steps * batch * wt.shape[1])
        scratch = torch.empty(n_threads * kernel("elif_scratch", dtype)(steps), dtype=dtype)
        kernel("elif_bwd", dtype)(
            *(ptr(t) for t in (cols, offsets, wt, b, v0, beta, thr)),
            ptr(dz),
            ptr(dv),
            dwt.data_ptr(),
            ptr(dbias),
            dv0.data_ptr(),
            ptr(dbeta),
            ptr(dthr),
            steps,
            batch,
            wt.shape[0],
            wt.shape[1],
            v_leak,
            v_reset,
            reset,
            detach,
            surr,
            k,
            scratch.data_ptr(),
            n_threads,
        )
        return (
            dwt.t() if need_w else None,
            dbias if need_b else None,
            dv0 if need_v0 else None,
            dbeta,
            dthr,
            *([None] * 5),
        )


def event_lif(
    cols: Tensor,
    offsets: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    v0: Tensor,
    beta: Tensor | float,
    threshold: Tensor | float,
    settings: Settings,
    steps: int,
    batch: int,
) -> tuple[Tensor, Tensor]:
    """The fused synapse and LIF / IF layer (IF: ``beta = 1``, ``v_leak = 0``) over a sequence, forward and backward.

    Args:
        cols, offsets: the input spikes as events: rows ``r = t * batch + b`` of ``x[T, B, I]``, the active inputs of
            row ``r`` are ``cols[offsets[r]:offsets[r + 1]]`` (int32, increasing), ``offsets`` int64 ``[T * B + 1]``
            (what ``EventLinear``'s index pass makes).
        weight: ``[O, I]``, float32 or float64 on the CPU; bias: ``[O]`` or None.
        v0: membrane before the first step, ``[B, O]``.
        beta, threshold: per-step decay and firing threshold, numbers or tensors broadcasting to ``[B, O]``.
        settings: as for :func:`.lif`, with a built-in surrogate (``settings.custom`` None).
        steps, batch: ``T`` and ``B``.

    Returns:
        ``(z[T, B, O], v_T[B, O])``.
    """
    if settings.custom is not None:
        raise ValueError("event_lif: needs a surrogate with a kernel id; a custom one runs the unfused layers")
    out = weight.shape[0]
    like = weight.new_empty(0)
    step_shape = torch.Size((batch, out))
    v0 = v0.reshape(-1).contiguous()
    beta_n = per_neuron(beta, step_shape, like)
    thr_n = per_neuron(threshold, step_shape, like)
    cfg = settings.codes(True)
    z, v = _EventLIF.apply(weight, bias, v0, beta_n, thr_n, cols, offsets, steps, batch, cfg)
    return z.view(steps, batch, out), v.view(batch, out)
