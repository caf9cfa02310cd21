r"""Recurrent LIF (``spikeforge.neurons.RLIF``) with the fused CPU step: a few calls per step instead of an autograd graph.

The recurrence ``x'_t = x_t + z_{t-1} W^T`` needs one small matrix product per step, so this backend is not one
call per sequence: the forward makes two calls per step (``addmm`` and the compiled LIF step) and records nothing
for autograd; the backward walks back with the compiled LIF step backward and one ``[B, N] @ [N, N]`` product per
step (``dL/dz_{t-1} = dL/dx'_t W``), and computes the recurrent weight gradient at the end as one product over all
steps (``dL/dW = sum_t dL/dx'_t^T z_{t-1}``). It keeps ``h`` per step (4 bytes per neuron per step in float32)
besides the spikes it returns; the membrane after each step, which only the gradient of a learned ``tau_mem``
needs, is recomputed from ``h`` and the spikes with the kernel's own reset arithmetic (bit for bit).
"""

from __future__ import annotations

import torch

from .._settings import SURROGATE_ARRAY, Settings
from ._common import kernel, per_neuron, ptr, reset_args, surrogate_array, threads

__all__ = ["rlif"]


class _FusedRLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, z0, weight, beta, thr, cfg):  # type: ignore[override]
        steps, batch, n = x.shape
        m = batch * n
        train = cfg["grad"] and any(ctx.needs_input_grad[:6])  # grad mode is off inside forward: decided by caller
        zs = torch.empty_like(x)
        hs = torch.empty((steps, m), dtype=x.dtype) if train else torch.empty((1, m), dtype=x.dtype)
        vs = torch.empty((2, m), dtype=x.dtype)  # the membrane before and after the current step, in turn
        vs[0] = v0.reshape(-1)
        wt = weight.t()
        fwd = kernel("lif_fwd", x.dtype)
        z_prev = z0
        xp = x[0]
        n_threads = threads(m)
        for t in range(steps):
            xp = torch.addmm(x[t], z_prev, wt)
            h_t = hs[t] if train else hs[0]
            fwd(
                xp.data_ptr(),
                vs[t % 2].data_ptr(),
                beta.data_ptr(),
                thr.data_ptr(),
                zs[t].data_ptr(),
                h_t.data_ptr(),
                vs[(t + 1) % 2].data_ptr(),
                1,
                m,
                cfg["v_leak"],
                cfg["v_reset"],
                cfg["reset"],
                1,
                0,  # per-neuron beta and threshold read as arrays
                n_threads,
            )
            z_prev = zs[t]
        if train:
            ctx.save_for_backward(hs, v0.reshape(-1), zs, z0, weight, beta, thr)
            ctx.cfg = cfg
        return zs, vs[steps % 2].reshape(batch, n).clone(), xp, zs[steps - 1].clone()

    @staticmethod
    def backward(ctx, dzs, dv, di, dz_last):  # type: ignore[override]
        hs, v_start, zs, z0, weight, beta, thr = ctx.saved_tensors
        cfg = ctx.cfg
        steps, batch, n = zs.shape
        m = batch * n
        bwd = kernel("lif_bwd", zs.dtype)
        need_beta, need_thr = ctx.needs_input_grad[4], ctx.needs_input_grad[5]
        dzs = torch.zeros_like(zs) if dzs is None else dzs.contiguous()
        a = torch.zeros(m, dtype=zs.dtype) if dv is None else dv.reshape(-1).contiguous().clone()
        dx = torch.empty_like(zs)
        carry = torch.zeros((batch, n), dtype=zs.dtype)
        dbeta_t = torch.empty_like(beta) if need_beta else None
        dthr_t = torch.empty_like(thr) if need_thr else None
        dbeta = torch.zeros_like(beta) if need_beta else None
        dthr = torch.zeros_like(thr) if need_thr else None
        a_prev = torch.empty_like(a)
        n_threads = threads(m)
        gs = None  # any other surrogate: its own derivative over the stored sequence
        if cfg["surrogate"][0] == SURROGATE_ARRAY:
            gs = surrogate_array(cfg["custom"], lambda lo, hi: hs[lo:hi] - thr, steps, m, zs.dtype)
        for t in range(steps - 1, -1, -1):
            gz = dzs[t] + carry
            if t == steps - 1 and dz_last is not None:
                gz = gz + dz_last
            v_prev = _membrane_after(hs[t - 1], zs[t - 1].reshape(-1), thr, cfg) if need_beta and t else v_start
            bwd(
                gz.data_ptr(),
                a.data_ptr(),
                hs[t].data_ptr(),
                None,
                None if gs is None else gs[t].data_ptr(),
                v_prev.data_ptr(),  # the name keeps the tensor alive until the call returns
                beta.data_ptr(),
                thr.data_ptr(),
                dx[t].data_ptr(),
                a_prev.data_ptr(),
                ptr(dbeta_t),
                ptr(dthr_t),
                1,
                m,
                *reset_args(cfg),
                1,
                cfg["surrogate"][0],
                cfg["surrogate"][1],
                None,  # h is stored: no scratch
                0,  # per-neuron beta and threshold read as arrays
                n_threads,
            )
            if t == steps - 1 and di is not None:
                dx[t] += di
            if need_beta:
                dbeta += dbeta_t
            if need_thr:
                dthr += dthr_t
            carry = dx[t] @ weight
            a, a_prev = a_prev, a
        dweight = recurrent_weight_grad(dx, zs, z0) if ctx.needs_input_grad[3] else None
        return dx, a.reshape(batch, n), carry, dweight, dbeta, dthr, None


def recurrent_weight_grad(dx: torch.Tensor, zs: torch.Tensor, z0: torch.Tensor) -> torch.Tensor:
    """``dL/dW = sum_t dL/dx'_t^T z_{t-1}`` of ``x'_t = x_t + z_{t-1} W^T`` as one product over all steps
    (``dx``, ``zs``: ``[T, B, N]``; ``z0``: the spikes before the first step, ``[B, N]``)."""
    steps, batch, n = zs.shape
    z_prev = torch.cat([z0.unsqueeze(0), zs[:-1]]).reshape(steps * batch, n)
    return dx.reshape(steps * batch, n).t() @ z_prev


def _membrane_after(h: torch.Tensor, z: torch.Tensor, thr: torch.Tensor, cfg: dict) -> torch.Tensor:
    """The membrane after a step from its pre-reset value ``h`` and spikes ``z``, with the kernel's arithmetic:
    subtract ``h - z theta``, zero ``h - z (h - v_reset)``, none ``h``."""
    if cfg["reset"] == 0:
        return h - z * thr
    if cfg["reset"] == 1:
        return h - z * (h - cfg["v_reset"])
    return h


def rlif(x_seq, v0, z0, weight, beta, threshold, settings: Settings):
    """The recurrent LIF ``x'_t = x_t + z_{t-1} W^T`` over ``x_seq[T, B, N]`` (float32/64, CPU) from the membrane
    ``v0[B, N]`` and the previous spikes ``z0[B, N]``; ``weight[N, N]``, ``beta`` and ``threshold`` numbers or
    tensors broadcasting to ``[B, N]``. Returns ``(z_seq, v_T, x'_T, z_T)``."""
    step = x_seq.shape[1:]
    return _FusedRLIF.apply(
        x_seq.contiguous(),
        v0.contiguous(),
        z0.contiguous(),
        weight,
        per_neuron(beta, step, x_seq),
        per_neuron(threshold, step, x_seq),
        settings.codes(torch.is_grad_enabled()),
    )
