r"""Recurrent adaptive LIF (``spikeforge.neurons.RALIF``) with the fused CPU ALIF step: a few calls per step instead
of an autograd graph, as :mod:`._rlif` does for LIF.

Per step ``x'_t = x_t + z_{t-1} W^T`` (one ``addmm``), then the compiled ALIF kernel of ``_two_state.py`` over one
step. The forward records nothing for autograd and keeps ``x'``, the membrane and the adaptation before every step
(12 bytes per neuron and step in float32; with a surrogate that has no kernel code also ``h``, over which the
surrogate's own derivative is evaluated, and ``a'``, which the kernel writes beside it). The backward walks back with
the kernel's one-step backward, which recomputes ``h`` from the kept state (bit for bit the forward's), carrying
``dL/dz_{t-1} = dL/dx'_t W`` into the step before, and computes the recurrent weight gradient at the end as one
product over all steps (:func:`._rlif.recurrent_weight_grad`). The maths of the ALIF step and its backward are in
``_two_state.py``.
"""

from __future__ import annotations

import torch

from .._settings import SURROGATE_ARRAY, Settings
from ._common import kernel, per_neuron, ptr, reset_args, surrogate_array, threads
from ._rlif import recurrent_weight_grad
from ._two_state import _surrogate_argument

__all__ = ["ralif"]


class _FusedRALIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, a0, z0, weight, beta_m, rho, thr, strength, cfg):  # type: ignore[override]
        steps, batch, n = x.shape
        m = batch * n
        train = cfg["grad"] and any(ctx.needs_input_grad[:9])  # grad mode is off inside forward: decided by caller
        custom = train and cfg["surrogate"][0] == SURROGATE_ARRAY
        zs = torch.empty_like(x)
        kept = steps + 1 if train else 2  # the state before every step (training), else the last two in turn
        vs, as_ = torch.empty((kept, m), dtype=x.dtype), torch.empty((kept, m), dtype=x.dtype)
        vs[0], as_[0] = v0.reshape(-1), a0.reshape(-1)
        xs = torch.empty((steps, batch, n), dtype=x.dtype) if train else None
        hs = torch.empty((steps, m), dtype=x.dtype) if custom else None
        ss = torch.empty((steps, m), dtype=x.dtype) if custom else None
        wt = weight.t()
        fwd = kernel("alif_fwd", x.dtype)
        coefficients = [t.data_ptr() for t in (beta_m, rho, thr, strength)]
        n_threads = threads(m)
        z_prev = z0
        for t in range(steps):
            xp = torch.addmm(x[t], z_prev, wt, out=xs[t]) if train else torch.addmm(x[t], z_prev, wt)
            now, nxt = (t, t + 1) if train else (t % 2, (t + 1) % 2)
            fwd(
                xp.data_ptr(),
                vs[now].data_ptr(),
                as_[now].data_ptr(),
                *coefficients,
                zs[t].data_ptr(),
                ptr(None if hs is None else hs[t]),
                ptr(None if ss is None else ss[t]),
                vs[nxt].data_ptr(),
                as_[nxt].data_ptr(),
                1,
                m,
                cfg["v_leak"],
                cfg["v_reset"],
                cfg["reset"],
                int(custom),
                n_threads,
            )
            z_prev = zs[t]
        last = steps if train else steps % 2
        if train:
            ctx.save_for_backward(xs, vs, as_, hs, ss, zs, z0, weight, beta_m, rho, thr, strength)
            ctx.cfg = cfg
        return zs, vs[last].reshape(batch, n).clone(), as_[last].reshape(batch, n).clone(), zs[steps - 1].clone()

    @staticmethod
    def backward(ctx, dzs, dv, da, dz_last):  # type: ignore[override]
        xs, vs, as_, hs, ss, zs, z0, weight, *coefficients = ctx.saved_tensors
        cfg = ctx.cfg
        steps, batch, n = zs.shape
        m = batch * n
        bwd = kernel("alif_bwd", zs.dtype)
        wanted = ctx.needs_input_grad[5:9]
        totals = [torch.zeros_like(c) if w else None for c, w in zip(coefficients, wanted)]
        per_step = [torch.empty_like(c) if w else None for c, w in zip(coefficients, wanted)]
        dzs = torch.zeros_like(zs) if dzs is None else dzs.contiguous()
        av = torch.zeros(m, dtype=zs.dtype) if dv is None else dv.reshape(-1).contiguous().clone()
        aa = torch.zeros(m, dtype=zs.dtype) if da is None else da.reshape(-1).contiguous().clone()
        av_prev, aa_prev = torch.empty_like(av), torch.empty_like(aa)
        dx = torch.empty_like(zs)
        carry = torch.zeros((batch, n), dtype=zs.dtype)
        n_threads = threads(m)
        gs = None  # any other surrogate: its own derivative over the stored h and a', as ALIF's
        if hs is not None:
            argument = _surrogate_argument("alif", (xs, hs, ss, vs[0], as_[0], *coefficients))
            gs = surrogate_array(cfg["custom"], argument, steps, m, zs.dtype)
        scratch = (
            None if hs is not None else torch.empty(2 * n_threads * kernel("scratch", zs.dtype)(1), dtype=zs.dtype)
        )
        for t in range(steps - 1, -1, -1):
            gz = dzs[t] + carry
            if t == steps - 1 and dz_last is not None:
                gz = gz + dz_last
            bwd(
                gz.data_ptr(),
                av.data_ptr(),
                aa.data_ptr(),
                xs[t].data_ptr(),
                ptr(None if hs is None else hs[t]),
                ptr(None if ss is None else ss[t]),
                ptr(None if gs is None else gs[t]),
                vs[t].data_ptr(),
                as_[t].data_ptr(),
                *(c.data_ptr() for c in coefficients),
                dx[t].data_ptr(),
                av_prev.data_ptr(),
                aa_prev.data_ptr(),
                *(ptr(g) for g in per_step),
                1,
                m,
                *reset_args(cfg),
                cfg["surrogate"][0],
                cfg["surrogate"][1],
                ptr(scratch),
                n_threads,
            )
            for total, g in zip(totals, per_step):
                if total is not None:
                    total += g
            carry = dx[t] @ weight
            av, av_prev = av_prev, av
            aa, aa_prev = aa_prev, aa
        dweight = recurrent_weight_grad(dx, zs, z0) if ctx.needs_input_grad[4] else None
        return dx, av.reshape(batch, n), aa.reshape(batch, n), carry, dweight, *totals, None


def ralif(x_seq, v0, a0, z0, weight, beta_m, rho, threshold, strength, settings: Settings):
    """The recurrent adaptive LIF ``x'_t = x_t + z_{t-1} W^T`` over ``x_seq[T, B, N]`` (float32/64, CPU) from the
    membrane ``v0[B, N]``, the adaptation ``a0[B, N]`` and the previous spikes ``z0[B, N]``; ``weight[N, N]``;
    ``beta_m = exp(-dt/tau_mem)``, ``rho = exp(-dt/tau_adapt)``, ``threshold`` and ``strength`` (the adaptive
    threshold is ``threshold + strength * rho * a``) numbers or tensors broadcasting to ``[B, N]``. Returns
    ``(z_seq, v_T, a_T, z_T)``."""
    step = x_seq.shape[1:]
    return _FusedRALIF.apply(
        x_seq.contiguous(),
        v0.contiguous(),
        a0.contiguous(),
        z0.contiguous(),
        weight,
        *(per_neuron(c, step, x_seq) for c in (beta_m, rho, threshold, strength)),
        settings.codes(torch.is_grad_enabled()),
    )
