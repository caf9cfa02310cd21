r"""The fused CPU kernel of the AdEx neuron (the maths of ``spikeforge.neurons.AdEx``), forward and backward in C.

**Forward** (``sf_adex_fwd``): per step and neuron the exponential Rosenbrock-Euler step of the membrane, the cap at
``V_peak``, the exact ``w`` update and, where the neuron fired, the restart from ``V_r`` over the rest of the step;
the coefficients ``rate = dt g_L / C``, ``cap = (V_peak - V_T) / Delta_T`` and ``rho = exp(-dt / tau_w)`` are the
reference's own (computed by the caller with the reference's code). Inference stores nothing; training keeps the state
after every step (8 bytes per neuron and step in float32).

**Backward** (``sf_adex_bwd``), the exact BPTT recursion of that step, written out by hand. With ``e = (v - V_T) /
Delta_T``, ``G = exp(min(e, cap))``, slope ``s = (G - 1) rate``, drive ``D = (Delta_T G - (v - E_L) + (x - w) / g_L)
rate`` and ``phi1(s) = (e^s - 1) / s``, one step from ``(v, w)`` is

.. math::
    h = \min(v + \varphi_1(s) D,\ V_{peak}), \quad u = \frac{h - V_{peak}}{V_{peak} - V_T}, \quad z = H(u), \quad
    w' = a(v - E_L)(1 - \rho) + w \rho + b z, \quad v' = h - z (h - V_r'),

    V_r' = V_r + \varphi_1(s_r) D_r, \quad s_r = (G_r - 1)\,rate\,r, \quad
    D_r = (\Delta_T G_r - (V_r - E_L) + (x - w') / g_L)\,rate\,r

where ``r`` (the part of the step left after the linearised crossing) carries no gradient, the cap at ``V_peak``
passes the gradient straight through (as in the reference), and ``z`` is replaced by the surrogate ``g(u)`` in the
derivatives. The local partial derivatives, per step and neuron (``G_v = G / Delta_T`` below the cap, else 0;
``phi1'(s) = e^s / s - (e^s - 1) / s^2``):

.. math::
    h_v = 1 + \varphi_1'(s)\,rate\,G_v D + \varphi_1(s)\,rate\,(\Delta_T G_v - 1), \quad
    h_w = -\varphi_1(s)\,rate / g_L = -h_x,

    z_\bullet = \frac{g(u)}{V_{peak} - V_T} h_\bullet, \quad
    w'_v = a (1 - \rho) + b z_v, \quad w'_w = \rho + b z_w, \quad w'_x = b z_x,

    v'_\bullet = (1 - z) h_\bullet + z\,\partial_{w'} V_r'\,w'_\bullet + (V_r' - h) z_\bullet
    \;(+\, z\,\varphi_1(s_r)\,rate\,r / g_L \text{ for } x), \quad \partial_{w'} V_r' = -\varphi_1(s_r)\,rate\,r / g_L

(``z_bullet`` in the reset terms is 0 with ``detach_reset``). The adjoints ``a_v = dL/dv``, ``a_w = dL/dw`` run from
the last step to the first, ``a_v \leftarrow \partial_z L\,z_v + a_v v'_v + a_w w'_v`` (likewise ``a_w``), and
``dL/dx_t = \partial_z L\,z_x + a_v v'_x + a_w w'_x``. The step's intermediate values are rebuilt from the stored
state before it. The gradients of the ten coefficients (``rate, cap, rho, E_L, V_T, Delta_T, g_L, a, b, V_r``) are
the step's tangent along each coefficient (forward mode, the state held), contracted with the same adjoints and
summed over steps; autograd carries them on to the parameters (``C`` and ``tau_w`` through ``rate`` and ``rho``).

A built-in surrogate's derivative is computed in the kernel. Any other surrogate's is evaluated by the surrogate
itself over every step's ``u`` (a first pass of the same kernel writes ``u``) and read back from that array.
"""

from __future__ import annotations

from typing import Any

import torch

from .._settings import SURROGATE_ARRAY, Settings
from ._common import kernel, per_neuron, ptr, step_rows, surrogate_array, threads, torch_threads

__all__ = ["adex"]

#: the rows of the coefficient block of ``sf_adex_fwd``, in order
COEFFICIENTS = ("rate", "cap", "rho", "E_L", "V_T", "Delta_T", "g_L", "a", "b", "V_r")


class _FusedAdEx(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, w0, cf, cfg):  # type: ignore[override]
        steps, n = x.shape
        x, row_stride = step_rows(x)
        train = cfg["grad"] and any(ctx.needs_input_grad[:4])
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
            ctx.save_for_backward(x, v0, w0, vs, ws, cf)
            ctx.cfg, ctx.row_stride = cfg, row_stride
        return z, v, w

    @staticmethod
    def backward(ctx, dz, dv, dw):  # type: ignore[override]
        x, v0, w0, vs, ws, cf = ctx.saved_tensors
        cfg, steps, n = ctx.cfg, *vs.shape
        dz, dv, dw = (None if t is None else t.contiguous() for t in (dz, dv, dw))  # alive during the calls
        dx, dv0, dw0 = torch.empty_like(vs), torch.empty_like(v0), torch.empty_like(w0)
        dcf = torch.empty_like(cf) if ctx.needs_input_grad[3] else None
        run = kernel("adex_bwd", vs.dtype)

        def call(gs, uo):
            run(
                ptr(dz),
                ptr(dv),
                ptr(dw),
                x.data_ptr(),
                ctx.row_stride,
                *(t.data_ptr() for t in (vs, ws, v0, w0, cf)),
                ptr(gs),
                *(t.data_ptr() for t in (dx, dv0, dw0)),
                ptr(dcf),
                ptr(uo),
                steps,
                n,
                cfg["V_peak"],
                int(cfg["detach"]),
                cfg["surrogate"][0],
                float(cfg["surrogate"][1]),
                threads(steps * n),
            )

        gs = None
        if cfg["surrogate"][0] == SURROGATE_ARRAY:  # any other surrogate: its own derivative over every step's u
            u = torch.empty_like(vs)
            call(None, u)
            gs = surrogate_array(cfg["custom"], lambda lo, hi: u[lo:hi], steps, n, vs.dtype)
            del u
        call(gs, None)
        return dx, dv0, dw0, dcf, None


def adex(x_seq, v0, w0, coefficients: dict[str, Any], *, v_peak: float, settings: Settings):
    """Fused AdEx neurons over ``x_seq[T, B, ...]`` from ``(v0, w0)[B, ...]``.

    ``coefficients``: the values of :data:`COEFFICIENTS` (numbers or tensors broadcasting to ``[B, ...]``; gradients
    reach them, and through them the neuron's parameters); ``v_peak`` one number; ``settings`` gives ``detach`` and
    the surrogate. Returns ``(z_seq, v_T, w_T)``.
    """
    shape = x_seq.shape
    step = shape[1:]
    with torch_threads(threads(x_seq.numel())):
        cf = torch.stack([per_neuron(coefficients[k], step, x_seq) for k in COEFFICIENTS])
        cfg = settings.codes(torch.is_grad_enabled()) | {"V_peak": float(v_peak)}
        z, v, w = _FusedAdEx.apply(
            x_seq.reshape(shape[0], -1), per_neuron(v0, step, x_seq), per_neuron(w0, step, x_seq), cf, cfg
        )
    return z.view(shape), v.view(step), w.view(step)
