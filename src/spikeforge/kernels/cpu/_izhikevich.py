r"""The fused CPU kernel of the Izhikevich (2003) neuron (the maths of ``spikeforge.neurons.Izhikevich``).

Per step, time in ms, per neuron:

.. math::
    h = v + \Delta t\,(v (0.04 v + 5) + (140 + x) - u), \quad \tilde u = b v + (u - b v)\,\delta_u, \quad
    z = H(h - v_{peak}), \quad v' = h - z (h - c), \quad u' = \tilde u + d z

with ``delta_u = exp(-a dt)``. The surrogate sees ``s = (h - v_peak) / (v_peak - c)`` (the caller checks
``v_peak > c``, so ``z = H(s)``). The backward carries ``a_v = dL/dv`` and ``a_u = dL/du`` from the last step to the
first (``g`` the surrogate derivative at ``s``, ``z`` detached from the reset terms when ``detach``):

.. math::
    \partial_z L = \partial_z^{out} + a_u d - a_v (h - c), \quad
    \partial_h = g\,\partial_z L / (v_{peak} - c) + a_v (1 - z), \quad \partial_x = \Delta t\,\partial_h,

    a_v \leftarrow \partial_h (1 + \Delta t (0.08 v + 5)) + a_u b (1 - \delta_u), \quad
    a_u \leftarrow a_u \delta_u - \Delta t\,\partial_h

and ``dL/d delta_u = sum a_u (u - b v)``, ``dL/db = sum a_u v (1 - delta_u)``,
``dL/dc = sum g dL/dz (h - v_peak) / (v_peak - c)^2 + a_v z``, ``dL/dd = sum a_u z``; autograd carries
``delta_u`` to ``a``. The forward keeps ``h`` and ``u'`` per step (8 bytes per neuron and step in float32); ``v``
at the start of a step is rebuilt from the previous ``h``. Inference stores nothing, and an input that is constant
over time (a stride-0 ``expand`` over the time axis) is read from its one row.
"""

from __future__ import annotations

import torch

from .._settings import SURROGATE_ARRAY, Settings
from ._common import kernel, per_neuron, ptr, step_rows, surrogate_array, threads, torch_threads

__all__ = ["izhikevich"]


class _FusedIzhikevich(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, u0, du, b, c, d, cfg):  # type: ignore[override]
        steps, n = x.shape
        x, row_stride = step_rows(x)
        train = cfg["grad"] and any(ctx.needs_input_grad[:7])
        z, v, u = torch.empty((steps, n), dtype=x.dtype), torch.empty_like(v0), torch.empty_like(u0)
        hs = torch.empty((steps, n), dtype=x.dtype) if train else None
        us = torch.empty((steps, n), dtype=x.dtype) if train else None
        kernel("izh_fwd", x.dtype)(
            x.data_ptr(),
            row_stride,
            *(t.data_ptr() for t in (v0, u0, du, b, c, d, z)),
            ptr(hs),
            ptr(us),
            v.data_ptr(),
            u.data_ptr(),
            steps,
            n,
            cfg["dt"],
            cfg["v_peak"],
            int(train),
            threads(steps * n),
        )
        if train:
            ctx.save_for_backward(hs, us, v0, u0, du, b, c, d)
            ctx.cfg = cfg
        return z, v, u

    @staticmethod
    def backward(ctx, dz, dv, du_t):  # type: ignore[override]
        saved = ctx.saved_tensors
        hs, cfg = saved[0], ctx.cfg
        steps, n = hs.shape
        dz, dv, du_t = (None if t is None else t.contiguous() for t in (dz, dv, du_t))
        dx, dv0, du0 = torch.empty_like(hs), torch.empty_like(saved[2]), torch.empty_like(saved[3])
        grads = [torch.empty_like(p) if ctx.needs_input_grad[k] else None for k, p in zip(range(3, 7), saved[4:])]
        gs = None
        if cfg["surrogate"][0] == SURROGATE_ARRAY:  # any other surrogate: its own derivative over the stored h
            c, vp = saved[6], cfg["v_peak"]
            gs = surrogate_array(cfg["custom"], lambda lo, hi: (hs[lo:hi] - vp) / (vp - c), steps, n, hs.dtype)
        kernel("izh_bwd", hs.dtype)(
            ptr(dz),
            ptr(dv),
            ptr(du_t),
            hs.data_ptr(),
            saved[1].data_ptr(),
            ptr(gs),
            *(t.data_ptr() for t in saved[2:]),
            dx.data_ptr(),
            dv0.data_ptr(),
            du0.data_ptr(),
            *(ptr(g) for g in grads),
            steps,
            n,
            cfg["dt"],
            cfg["v_peak"],
            int(cfg["detach"]),
            cfg["surrogate"][0],
            float(cfg["surrogate"][1]),
            threads(steps * n),
        )
        return dx, dv0, du0, *grads, None


def izhikevich(x_seq, v0, u0, decay_u, b, c, d, *, dt_ms: float, v_peak: float, settings: Settings):
    """Fused Izhikevich neurons over ``x_seq[T, B, ...]`` from ``(v0, u0)[B, ...]``; ``dt_ms`` the step in ms.

    ``decay_u = exp(-a dt)``, ``b``, ``c`` and ``d`` are numbers or tensors broadcasting to ``[B, ...]`` (gradients
    reach them); ``v_peak`` one number above every ``c``. ``settings`` gives ``detach`` and the surrogate. Returns
    ``(z_seq, v_T, u_T)``.
    """
    shape = x_seq.shape
    step = shape[1:]
    cfg = settings.codes(torch.is_grad_enabled()) | {"dt": float(dt_ms), "v_peak": float(v_peak)}
    with torch_threads(threads(x_seq.numel())):  # fewer threads on a busy machine: torch's ops here too
        z, v, u = _FusedIzhikevich.apply(
            x_seq.reshape(shape[0], -1),
            per_neuron(v0, step, x_seq),
            per_neuron(u0, step, x_seq),
            *(per_neuron(p, step, x_seq) for p in (decay_u, b, c, d)),
            cfg,
        )
    return z.view(shape), v.view(step), u.view(step)
