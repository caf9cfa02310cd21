r"""The fused CPU kernel of the AdEx neuron (the maths of ``spikeforge.neurons.AdEx``), forward in C, backward by
local derivatives and an adjoint recursion in C.

**Forward** (``sf_adex_fwd``): per step and neuron the exponential Rosenbrock-Euler step of the membrane, the cap at
``V_peak``, the exact ``w`` update and, where the neuron fired, the restart from ``V_r`` over the rest of the step;
the coefficients ``rate = dt g_L / C``, ``cap = (V_peak - V_T) / Delta_T`` and ``rho = exp(-dt / tau_w)`` are the
reference's own (computed by the caller with the reference's code). Inference stores nothing; training keeps the state
after every step (8 bytes per neuron and step in float32).

**Backward.** One step is an elementwise map ``(x_t, v_t, w_t) -> (z_t, v_{t+1}, w_{t+1})``. The caller passes the
neuron's own torch update (``update(x, v, w, *params) -> (z, v', w')``); the backward evaluates it once over all the
stored steps at once (a ``[T, N]`` batch, no loop over time) and takes its local partial derivatives
``dz/dv, dz/dw, dv'/dv, dv'/dw, dw'/dv, dw'/dw`` (elementwise, so each is the gradient of a sum). The adjoint
recursion ``c_{t-1} = dL/dz_t \cdot \partial z_t/\partial s_t + J_t^\top c_t`` over the two state variables then runs
in C (``sf_adjoint2``), and one more vector-Jacobian product of the same batched update with the cotangents
``(dL/dz_t, c_t)`` gives ``dL/dx`` and every parameter's gradient. These are the reference's gradients (autograd through
its per-step update) up to rounding, for any surrogate (the update calls the surrogate itself).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ._common import kernel, per_neuron, ptr, step_rows, threads, torch_threads

__all__ = ["adex"]

#: the rows of the coefficient block of ``sf_adex_fwd``, in order
COEFFICIENTS = ("rate", "cap", "rho", "E_L", "V_T", "Delta_T", "g_L", "a", "b", "V_r")


class _FusedAdEx(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, w0, cf, cfg, *params):  # type: ignore[override]
        steps, n = x.shape
        x, row_stride = step_rows(x)
        train = cfg["grad"] and (any(ctx.needs_input_grad[:3]) or any(ctx.needs_input_grad[5:]))
        z = torch.empty((steps, n), dtype=x.dtype)
        v, w = torch.empty_like(v0), torch.empty_like(w0)
        vs = torch.empty((steps, n), dtype=x.dtype) if train else None
        ws = torch.empty((steps, n), dtype=x.dtype) if train else None
        kernel("adex_fwd", x.dtype)(
            x.data_ptr(),
            row_stride,
            *(t.data_ptr() for t in (v0, w0, cf, z)),
            ptr(vs),
            ptr(ws),
            v.data_ptr(),
            w.data_ptr(),
            steps,
            n,
            cfg["V_peak"],
            int(train),
            threads(steps * n),
        )
        if train:
            ctx.save_for_backward(x, v0, w0, vs, ws, *params)
            ctx.cfg = cfg
        return z, v, w

    @staticmethod
    def backward(ctx, dz, dv, dw):  # type: ignore[override]
        x, v0, w0, vs, ws, *params = ctx.saved_tensors
        steps, n = vs.shape
        update: Callable[..., Any] = ctx.cfg["update"]
        with torch.enable_grad():
            xl = x.detach().expand(steps, n).clone().requires_grad_()
            vl = torch.cat([v0.detach().unsqueeze(0), vs[:-1]]).requires_grad_()
            wl = torch.cat([w0.detach().unsqueeze(0), ws[:-1]]).requires_grad_()
            pl = [p.detach().requires_grad_() for p in params]
            z, vn, wn = update(xl, vl, wl, *pl)
            local = []
            for out in (z, vn, wn):  # elementwise in (t, neuron): the gradient of the sum is the local derivative
                local += torch.autograd.grad(out.sum(), (vl, wl), retain_graph=True, allow_unused=True)
            local = [torch.zeros_like(vl) if g is None else g.contiguous() for g in local]
            dz, dv, dw = (None if t is None else t.contiguous() for t in (dz, dv, dw))  # alive during the call
            cv, cw = torch.empty_like(vl), torch.empty_like(wl)
            dv0, dw0 = torch.empty_like(v0), torch.empty_like(w0)
            kernel("adjoint2", vs.dtype)(
                ptr(dz),
                ptr(dv),
                ptr(dw),
                *(t.data_ptr() for t in local),
                cv.data_ptr(),
                cw.data_ptr(),
                dv0.data_ptr(),
                dw0.data_ptr(),
                steps,
                n,
                threads(steps * n),
            )
            grads = torch.autograd.grad(
                (z, vn, wn),
                (xl, *pl),
                grad_outputs=(torch.zeros_like(z) if dz is None else dz, cv, cw),
                allow_unused=True,
            )
        dx, dparams = grads[0], grads[1:]
        return dx, dv0, dw0, None, None, *dparams


def adex(x_seq, v0, w0, coefficients: dict[str, Any], params, update, *, v_peak: float, grad: bool):
    """Fused AdEx neurons over ``x_seq[T, B, ...]`` from ``(v0, w0)[B, ...]``.

    ``coefficients``: the values of :data:`COEFFICIENTS` (numbers or tensors broadcasting to ``[B, ...]``; the
    forward's constants, no gradient through them); ``params``: tensors the gradient should reach (each
    broadcasting to ``[B, ...]``), passed to ``update(x, v, w, *params) -> (z, v', w')``, the neuron's own one-step
    update over ``[T, N]`` batches, which the backward differentiates; ``v_peak`` one number; ``grad``: whether a
    backward will be asked for. Returns ``(z_seq, v_T, w_T)``.
    """
    shape = x_seq.shape
    step = shape[1:]
    with torch_threads(threads(x_seq.numel())):
        cf = torch.stack([per_neuron(coefficients[k], step, x_seq).detach() for k in COEFFICIENTS])
        flat = [per_neuron(p, step, x_seq) for p in params]
        cfg = {"grad": bool(grad), "V_peak": float(v_peak), "update": update}
        z, v, w = _FusedAdEx.apply(
            x_seq.reshape(shape[0], -1), per_neuron(v0, step, x_seq), per_neuron(w0, step, x_seq), cf, cfg, *flat
        )
    return z.view(shape), v.view(step), w.view(step)
