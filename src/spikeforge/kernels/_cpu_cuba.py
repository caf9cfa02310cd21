r"""Fused current-based LIF (``neurons/_cubalif.py``) on the CPU: one compiled call per sequence, both directions.

With ``j = i - x`` and ``w = v - v_leak - x`` the exact update is ``h = v_leak + x + w beta + j c``,
``i' = x + j alpha`` (``c = kappa (alpha - beta)``), then spike and reset as LIF. The backward carries
``a_v = dL/dv`` and ``a_i = dL/di``:

.. math::
    \partial_h = \partial_z g + a_v \partial_h v, \quad \partial_x = \partial_h (1 - \beta - c) + a_i (1 - \alpha),
    \quad a_v \leftarrow \beta \partial_h, \quad a_i \leftarrow c \partial_h + \alpha a_i

and ``dL/dbeta = sum dh w``, ``dL/dc = sum dh j``, ``dL/dalpha = sum a_i j``; autograd carries these to
``tau_mem`` and ``tau_syn``. The forward keeps ``h``, ``i`` and the input: 12 bytes per neuron per step in float32.
"""

from __future__ import annotations

import ctypes
from typing import Any

import torch

from ._cpu_build import library
from ._cpu_lif import _RESETS, _common_ok, _per_neuron, _ptr, _scalar, _threads, surrogate_code

__all__ = ["cubalif_seq_cpu", "supports_cubalif"]


def supports_cubalif(x: Any = None, params: Any = None, surrogate: Any = None, **_: Any) -> bool:
    """CubaLIF calls the fused kernel runs: CPU, float32/64, scalar ``v_leak``/``v_reset``, built-in surrogate,
    ``"subtract"`` or ``"none"`` reset. The zero reset is declined: the reference restarts the membrane from
    ``v_reset`` at the interpolated crossing (``neurons/_cubalif.py``), which the compiled kernel does not do."""
    return (
        params is not None
        and _common_ok(x, surrogate)
        and _scalar(params.v_leak) is not None
        and _scalar(params.v_reset) is not None
        and params.reset in _RESETS
        and params.reset != "zero"
    )


class _FusedCuba(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, i0, alpha, beta, cc, thr, cfg):  # type: ignore[override]
        steps, n = x.shape
        suffix = "f64" if x.dtype == torch.float64 else "f32"
        real = ctypes.c_double if x.dtype == torch.float64 else ctypes.c_float
        train = cfg["grad"] and any(ctx.needs_input_grad[:7])  # grad mode is off inside forward: decided by caller
        z = torch.empty_like(x)
        v = torch.empty_like(v0)
        i = torch.empty_like(i0)
        hs = torch.empty_like(x) if train else None
        is_ = torch.empty_like(x) if train else None
        getattr(library(), f"sf_cuba_fwd_{suffix}")(
            x.data_ptr(),
            v0.data_ptr(),
            i0.data_ptr(),
            alpha.data_ptr(),
            beta.data_ptr(),
            cc.data_ptr(),
            thr.data_ptr(),
            z.data_ptr(),
            _ptr(hs),
            _ptr(is_),
            v.data_ptr(),
            i.data_ptr(),
            steps,
            n,
            real(cfg["v_leak"]),
            real(cfg["v_reset"]),
            cfg["reset"],
            int(train),
            _threads(steps * n),
        )
        if train:
            ctx.save_for_backward(x, hs, is_, v0, i0, alpha, beta, cc, thr)
            ctx.cfg = cfg
        return z, v, i

    @staticmethod
    def backward(ctx, dz, dv, di):  # type: ignore[override]
        x, hs, is_, v0, i0, alpha, beta, cc, thr = ctx.saved_tensors
        cfg = ctx.cfg
        steps, n = x.shape
        suffix = "f64" if x.dtype == torch.float64 else "f32"
        real = ctypes.c_double if x.dtype == torch.float64 else ctypes.c_float
        need = ctx.needs_input_grad
        dz, dv, di = (None if t is None else t.contiguous() for t in (dz, dv, di))
        dx = torch.empty_like(x)
        dv0 = torch.empty_like(v0)
        di0 = torch.empty_like(i0)
        grads = [torch.empty_like(p) if need[k] else None for k, p in ((3, alpha), (4, beta), (5, cc), (6, thr))]
        getattr(library(), f"sf_cuba_bwd_{suffix}")(
            _ptr(dz),
            _ptr(dv),
            _ptr(di),
            x.data_ptr(),
            hs.data_ptr(),
            is_.data_ptr(),
            v0.data_ptr(),
            i0.data_ptr(),
            alpha.data_ptr(),
            beta.data_ptr(),
            cc.data_ptr(),
            thr.data_ptr(),
            dx.data_ptr(),
            dv0.data_ptr(),
            di0.data_ptr(),
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
        return dx, dv0, di0, *grads, None


def cubalif_seq_cpu(x_seq, state, params, *, dt, surrogate):
    """Backend ``"cpu"`` of ``cubalif``."""
    from ..neurons._cubalif import CubaLIFState, _coefficients

    alpha, beta, cross = _coefficients(params, dt, x_seq)  # the reference's own coefficients, bit for bit
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
    z, v, i = _FusedCuba.apply(
        x_seq.reshape(shape[0], -1).contiguous(),
        state.v.reshape(-1).contiguous(),
        state.i.reshape(-1).contiguous(),
        _per_neuron(alpha, step, x_seq),
        _per_neuron(beta, step, x_seq),
        _per_neuron(cross, step, x_seq),
        _per_neuron(params.threshold, step, x_seq),
        cfg,
    )
    return z.view(shape), CubaLIFState(v.view(step), i.view(step))
