"""The autograd wrapper shared by the fused CPU kernels of two-variable neurons (CubaLIF: ``v`` and ``i``; ALIF:
``v`` and ``a``). Both C kernels take the same argument layout (see ``_cpu_source.py``):

- forward: ``x, v0, s0, c1..c4, z, hs, ss, v, s, steps, n, v_leak, v_reset, reset, store, threads``;
- backward: ``dz, dv, ds, x, hs, ss, v0, s0, c1..c4, dx, dv0, ds0, dc1..dc4, steps, n, v_leak, v_reset, reset,
  detach, surrogate id, surrogate parameter, threads``,

where ``c1..c4`` are per-neuron coefficients, ``hs`` / ``ss`` the stored pre-reset membrane and second variable,
and a NULL gradient pointer means "not needed". The forward keeps ``x``, ``h`` and the second variable per step.
"""

from __future__ import annotations

from typing import Any

import torch

from ._cpu_build import library
from ._cpu_lif import _RESETS, _common_ok, _per_neuron, _ptr, _scalar, _threads, params_config

__all__ = ["run_two_state", "supports_two_state"]


def supports_two_state(x: Any, params: Any, surrogate: Any) -> bool:
    """CPU, float32/64, scalar ``v_leak``/``v_reset``, a known reset, a built-in surrogate."""
    return (
        params is not None
        and _common_ok(x, surrogate)
        and _scalar(params.v_leak) is not None
        and _scalar(params.v_reset) is not None
        and params.reset in _RESETS
    )


def _call(name: str, dtype: torch.dtype, *args: Any) -> None:
    """``sf_<name>_f32`` or ``_f64`` by ``dtype`` (their ctypes signatures convert the scalars)."""
    getattr(library(), f"sf_{name}_{'f64' if dtype == torch.float64 else 'f32'}")(*args)


class _FusedTwoState(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, s0, c1, c2, c3, c4, cfg):  # type: ignore[override]
        steps, n = x.shape
        train = cfg["grad"] and any(ctx.needs_input_grad[:7])  # grad mode is off inside forward: decided by caller
        z, v, s = torch.empty_like(x), torch.empty_like(v0), torch.empty_like(s0)
        hs = torch.empty_like(x) if train else None
        ss = torch.empty_like(x) if train else None
        ptrs = (t.data_ptr() for t in (x, v0, s0, c1, c2, c3, c4, z))
        _call(f"{cfg['kernel']}_fwd", x.dtype, *ptrs, _ptr(hs), _ptr(ss), v.data_ptr(), s.data_ptr(), steps, n,
              float(cfg["v_leak"]), float(cfg["v_reset"]), cfg["reset"], int(train), _threads(steps * n))
        if train:
            ctx.save_for_backward(x, hs, ss, v0, s0, c1, c2, c3, c4)
            ctx.cfg = cfg
        return z, v, s

    @staticmethod
    def backward(ctx, dz, dv, ds):  # type: ignore[override]
        saved = ctx.saved_tensors
        x, cfg = saved[0], ctx.cfg
        steps, n = x.shape
        dz, dv, ds = (None if t is None else t.contiguous() for t in (dz, dv, ds))
        dx, dv0, ds0 = torch.empty_like(x), torch.empty_like(saved[3]), torch.empty_like(saved[4])
        grads = [torch.empty_like(c) if ctx.needs_input_grad[k] else None for k, c in zip(range(3, 7), saved[5:])]
        _call(f"{cfg['kernel']}_bwd", x.dtype, _ptr(dz), _ptr(dv), _ptr(ds), *(t.data_ptr() for t in saved),
              dx.data_ptr(), dv0.data_ptr(), ds0.data_ptr(), *(_ptr(g) for g in grads), steps, n,
              float(cfg["v_leak"]), float(cfg["v_reset"]), cfg["reset"], int(cfg["detach"]), cfg["surrogate"][0],
              float(cfg["surrogate"][1]), _threads(steps * n))
        return dx, dv0, ds0, *grads, None


def run_two_state(kernel: str, x_seq: torch.Tensor, v0: torch.Tensor, s0: torch.Tensor, coefficients, params: Any,
                  surrogate: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Run ``sf_<kernel>_fwd`` over ``x_seq[T, B, ...]`` with the four per-neuron ``coefficients``; returns
    ``(z_seq, v_T, s_T)`` shaped like the input and one step."""
    shape = x_seq.shape
    step = shape[1:]
    cfg = params_config(params, surrogate) | {"kernel": kernel}
    z, v, s = _FusedTwoState.apply(
        x_seq.reshape(shape[0], -1).contiguous(),
        v0.reshape(-1).contiguous(),
        s0.reshape(-1).contiguous(),
        *(_per_neuron(c, step, x_seq) for c in coefficients),
        cfg,
    )
    return z.view(shape), v.view(step), s.view(step)
