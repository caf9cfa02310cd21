r"""Fused adaptive LIF (``neurons/_alif.py``) on the CPU: one compiled call per sequence, both directions.

Per step: ``at = rho a``, ``A = theta + b at``, ``h = v_leak + x + (v - v_leak - x) beta_m``,
``z = H((h - A) / theta)``, ``v' = reset(h)``, ``a' = at + z``. The backward carries ``dL/dv`` and ``dL/da``
(the spike reaches ``a`` undetached, so the adaptation path always sees the surrogate); gradients reach ``x``,
the initial state, ``beta_m`` and ``rho`` (hence ``tau_mem`` and ``tau_adapt``), ``theta`` and ``b``. The forward
keeps ``h`` and ``a`` per step and the input: 12 bytes per neuron per step in float32.
"""

from __future__ import annotations

import ctypes
from typing import Any

import torch

from ._cpu_build import library
from ._cpu_lif import _RESETS, _common_ok, _per_neuron, _ptr, _scalar, _threads, surrogate_code

__all__ = ["alif_seq_cpu", "supports_alif"]


def supports_alif(x: Any = None, params: Any = None, surrogate: Any = None, **_: Any) -> bool:
    """ALIF calls the fused kernel runs: CPU, float32/64, scalar ``v_leak``/``v_reset``, built-in surrogate."""
    return (
        params is not None
        and _common_ok(x, surrogate)
        and _scalar(params.v_leak) is not None
        and _scalar(params.v_reset) is not None
        and params.reset in _RESETS
    )


class _FusedALIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, a0, bm, rho, thr, bb, cfg):  # type: ignore[override]
        steps, n = x.shape
        suffix = "f64" if x.dtype == torch.float64 else "f32"
        real = ctypes.c_double if x.dtype == torch.float64 else ctypes.c_float
        train = cfg["grad"] and any(ctx.needs_input_grad[:7])  # grad mode is off inside forward: decided by caller
        z = torch.empty_like(x)
        v = torch.empty_like(v0)
        a = torch.empty_like(a0)
        hs = torch.empty_like(x) if train else None
        as_ = torch.empty_like(x) if train else None
        getattr(library(), f"sf_alif_fwd_{suffix}")(
            x.data_ptr(),
            v0.data_ptr(),
            a0.data_ptr(),
            bm.data_ptr(),
            rho.data_ptr(),
            thr.data_ptr(),
            bb.data_ptr(),
            z.data_ptr(),
            _ptr(hs),
            _ptr(as_),
            v.data_ptr(),
            a.data_ptr(),
            steps,
            n,
            real(cfg["v_leak"]),
            real(cfg["v_reset"]),
            cfg["reset"],
            int(train),
            _threads(steps * n),
        )
        if train:
            ctx.save_for_backward(x, hs, as_, v0, a0, bm, rho, thr, bb)
            ctx.cfg = cfg
        return z, v, a

    @staticmethod
    def backward(ctx, dz, dv, da):  # type: ignore[override]
        x, hs, as_, v0, a0, bm, rho, thr, bb = ctx.saved_tensors
        cfg = ctx.cfg
        steps, n = x.shape
        suffix = "f64" if x.dtype == torch.float64 else "f32"
        real = ctypes.c_double if x.dtype == torch.float64 else ctypes.c_float
        need = ctx.needs_input_grad
        dz, dv, da = (None if t is None else t.contiguous() for t in (dz, dv, da))
        dx = torch.empty_like(x)
        dv0 = torch.empty_like(v0)
        da0 = torch.empty_like(a0)
        grads = [torch.empty_like(p) if need[k] else None for k, p in ((3, bm), (4, rho), (5, thr), (6, bb))]
        getattr(library(), f"sf_alif_bwd_{suffix}")(
            _ptr(dz),
            _ptr(dv),
            _ptr(da),
            x.data_ptr(),
            hs.data_ptr(),
            as_.data_ptr(),
            v0.data_ptr(),
            a0.data_ptr(),
            bm.data_ptr(),
            rho.data_ptr(),
            thr.data_ptr(),
            bb.data_ptr(),
            dx.data_ptr(),
            dv0.data_ptr(),
            da0.data_ptr(),
            *(_ptr(g) for g in grads),
            steps,
            n,
            real(cfg["v_leak"]),
            real(cfg["v_reset"]),
            cfg["reset"],
            int(cfg["detach"]),
            cfg["surrogate"][0],
            real(cfg["surrogate"][1]),
            _threads(steps * n),
        )
        return dx, dv0, da0, *grads, None


def alif_seq_cpu(x_seq, state, params, *, dt, surrogate):
    """Backend ``"cpu"`` of ``alif``."""
    from ..neurons._alif import ALIFState, _coefficients

    beta_m, rho = _coefficients(params, dt, x_seq)  # the reference's own coefficients, bit for bit
    shape = x_seq.shape
    step = shape[1:]
    cfg = {
        "grad": torch.is_grad_enabled(),
        "v_leak": _scalar(params.v_leak),
        "v_reset": _scalar(params.v_reset),
        "reset": _RESETS[params.reset],
        "detach": bool(params.detach_reset),
        "surrogate": surrogate_code(surrogate),
    }
    z, v, a = _FusedALIF.apply(
        x_seq.reshape(shape[0], -1).contiguous(),
        state.v.reshape(-1).contiguous(),
        state.a.reshape(-1).contiguous(),
        _per_neuron(beta_m, step, x_seq),
        _per_neuron(rho, step, x_seq),
        _per_neuron(params.threshold, step, x_seq),
        _per_neuron(params.beta, step, x_seq),
        cfg,
    )
    return z.view(shape), ALIFState(v.view(step), a.view(step))
