r"""Fused LIF / IF sequence kernel on the CPU: one compiled call per layer per sequence, forward and backward.

Forward, per neuron (``beta = exp(-dt/tau_mem)``, ``theta`` the threshold; IF is ``beta = 1``):

.. math::
    h_t = v_{leak} + \beta (v_{t-1} - v_{leak}) + x_t, \quad z_t = H(h_t - \vartheta), \quad
    v_t = \mathrm{reset}(h_t, z_t)

The forward keeps only ``h`` (``store="exact"``: the input dtype, gradients equal to the reference up to rounding)
or ``h - threshold`` in IEEE half precision plus the spikes as bits (``store="half"``, backend ``"cpu_lean"``: 2.125 bytes per
neuron per step; spikes and forward values stay exact, the surrogate derivative is evaluated at ``h`` rounded to
half precision). Backward, with ``a_t = dL/dv_t`` carried from ``t = T`` down and ``g_t = \sigma'(h_t - \vartheta)``:

.. math::
    \frac{\partial L}{\partial h_t} = \frac{\partial L}{\partial z_t} g_t + a_t \frac{\partial v_t}{\partial h_t},
    \quad a_{t-1} = \beta \frac{\partial L}{\partial h_t}, \quad
    \frac{\partial L}{\partial \beta} \mathrel{+}= \frac{\partial L}{\partial h_t} (v_{t-1} - v_{leak})

with ``dv/dh = 1 - theta g`` (subtract), ``1 - z - (h - v_reset) g`` (zero), ``1`` (none), and the ``g`` terms
dropped with ``detach_reset``; the threshold gradient collects ``-dL/dz g`` plus the reset's own term.
"""

from __future__ import annotations

import ctypes

import torch

from .._settings import Settings
from ._build import library
from ._common import per_neuron, ptr, threads

__all__ = ["lif"]


class _FusedLIF(torch.autograd.Function):
    """``(x[T, N], v0[N], beta[N], threshold[N]) -> (z[T, N], v_T[N])`` with a hand-written BPTT backward."""

    @staticmethod
    def forward(ctx, x, v0, beta, thr, cfg):  # type: ignore[override]
        lib = library()
        steps, n = x.shape
        suffix = "f64" if x.dtype == torch.float64 else "f32"
        real = ctypes.c_double if x.dtype == torch.float64 else ctypes.c_float
        z = torch.empty_like(x)
        v = torch.empty_like(v0)
        train = cfg["grad"] and any(ctx.needs_input_grad[:4])  # grad mode is off inside forward: decided by caller
        store = 0 if not train else (2 if cfg["half"] else 1)
        if store == 1:
            hs = torch.empty_like(x)
        elif store == 2:
            hs = torch.empty((steps, n), dtype=torch.int16)
        else:
            hs = None
        n_threads = threads(steps * n)
        getattr(lib, f"sf_lif_fwd_{suffix}")(
            x.data_ptr(),
            v0.data_ptr(),
            beta.data_ptr(),
            thr.data_ptr(),
            z.data_ptr(),
            ptr(hs),
            v.data_ptr(),
            steps,
            n,
            real(cfg["v_leak"]),
            real(cfg["v_reset"]),
            cfg["reset"],
            store,
            n_threads,
        )
        bits = None
        if store == 2:
            bits = torch.empty((steps * n + 7) // 8, dtype=torch.uint8)
            getattr(lib, f"sf_pack_bits_{suffix}")(z.data_ptr(), bits.data_ptr(), steps * n, n_threads)
        if train:
            ctx.save_for_backward(hs, bits, v0, beta, thr)
            ctx.cfg = cfg
            ctx.store = store
        return z, v

    @staticmethod
    def backward(ctx, dz, dv):  # type: ignore[override]
        lib = library()
        hs, bits, v0, beta, thr = ctx.saved_tensors
        cfg = ctx.cfg
        steps, n = hs.shape
        dtype = v0.dtype
        suffix = "f64" if dtype == torch.float64 else "f32"
        real = ctypes.c_double if dtype == torch.float64 else ctypes.c_float
        dz = None if dz is None else dz.contiguous()
        dv = None if dv is None else dv.contiguous()
        dx = torch.empty((steps, n), dtype=dtype)
        dv0 = torch.empty_like(v0)
        dbeta = torch.empty_like(beta) if ctx.needs_input_grad[2] else None
        dthr = torch.empty_like(thr) if ctx.needs_input_grad[3] else None
        getattr(lib, f"sf_lif_bwd_{suffix}")(
            ptr(dz),
            ptr(dv),
            hs.data_ptr(),
            ptr(bits),
            v0.data_ptr(),
            beta.data_ptr(),
            thr.data_ptr(),
            dx.data_ptr(),
            dv0.data_ptr(),
            ptr(dbeta),
            ptr(dthr),
            steps,
            n,
            real(cfg["v_leak"]),
            real(cfg["v_reset"]),
            cfg["reset"],
            int(cfg["detach"]),
            ctx.store,
            cfg["surrogate"][0],
            real(cfg["surrogate"][1]),
            threads(steps * n),
        )
        return dx, dv0, dbeta, dthr, None


def lif(
    x_seq: torch.Tensor,
    v0: torch.Tensor,
    beta: torch.Tensor | float,
    threshold: torch.Tensor | float,
    settings: Settings,
    *,
    half: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The fused LIF / IF sequence (IF: ``beta = 1``, ``v_leak = 0``), forward and backward.

    Args:
        x_seq: input charge per step, ``[T, B, ...]``, float32 or float64 on the CPU.
        v0: membrane before the first step, ``[B, ...]``.
        beta: per-step membrane decay ``exp(-dt / tau_mem)``, a number or a tensor broadcasting to ``[B, ...]``;
            gradients reach it when it requires them.
        threshold: firing threshold, as ``beta``.
        settings: resting and reset potentials, reset mode, detach flag and surrogate code.
        half: keep ``h - threshold`` in half precision plus spike bits for the backward (2.125 bytes per neuron per
            step) instead of ``h`` in the input dtype.

    Returns:
        ``(z_seq[T, B, ...], v_T[B, ...])``.
    """
    shape = x_seq.shape
    step_shape = shape[1:]
    cfg = settings.codes(torch.is_grad_enabled()) | {"half": half}
    z, v = _FusedLIF.apply(
        x_seq.reshape(shape[0], -1).contiguous(),
        v0.reshape(-1).contiguous(),
        per_neuron(beta, step_shape, x_seq),
        per_neuron(threshold, step_shape, x_seq),
        cfg,
    )
    return z.view(shape), v.view(step_shape)
