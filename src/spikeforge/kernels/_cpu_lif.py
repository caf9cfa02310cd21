r"""Fused LIF / IF sequence kernels on the CPU: one compiled call per layer per sequence, forward and backward.

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
from typing import Any

import torch

from .. import surrogate as _surrogate
from ..units import decay
from ._cpu_build import library

__all__ = ["if_seq_cpu", "lif_seq_cpu", "lif_seq_cpu_lean", "supports_if", "supports_lif"]

_SURROGATES: dict[type, tuple[int, str | None]] = {
    _surrogate.FastSigmoid: (0, "slope"),
    _surrogate.Sigmoid: (1, "slope"),
    _surrogate.ATan: (2, "alpha"),
    _surrogate.Triangle: (3, "width"),
    _surrogate.Boxcar: (4, "width"),
    _surrogate.StraightThrough: (5, None),
}
_RESETS = {"subtract": 0, "zero": 1, "none": 2}
_SMALL = 1 << 15  # below this many neuron-steps one thread is faster than waking the others


def surrogate_code(surrogate: Any) -> tuple[int, float] | None:
    """``(id, parameter)`` of a built-in surrogate, None for anything else (user-defined: use the reference)."""
    entry = _SURROGATES.get(type(surrogate))
    if entry is None:
        return None
    kind, attr = entry
    return kind, float(getattr(surrogate, attr)) if attr else 0.0


def _scalar(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.requires_grad:
        return float(value)
    return None


def _common_ok(x: Any, surrogate: Any, device: str = "cpu") -> bool:
    return (
        isinstance(x, torch.Tensor)
        and x.device.type == device
        and x.dtype in (torch.float32, torch.float64)
        and x.dim() >= 2
        and x.numel() > 0
        and surrogate_code(surrogate) is not None
        and not torch.compiler.is_compiling()
        and not torch._C._are_functorch_transforms_active()
    )


def supports_lif(x: Any = None, params: Any = None, surrogate: Any = None, device: str = "cpu", **_: Any) -> bool:
    """LIF calls the fused kernel runs: CPU, float32/64, no ``tau_syn``, no refractoriness, scalar ``v_leak`` and
    ``v_reset``, a built-in surrogate, not while ``torch.compile`` traces or a ``torch.func`` transform is active."""
    return (
        params is not None
        and _common_ok(x, surrogate, device)
        and params.tau_syn is None
        and not params.t_ref
        and _scalar(params.v_leak) is not None
        and _scalar(params.v_reset) is not None
        and params.reset in _RESETS
    )


def supports_if(x: Any = None, params: Any = None, surrogate: Any = None, device: str = "cpu", **_: Any) -> bool:
    """IF calls the fused kernel runs (as :func:`supports_lif`, without time constants)."""
    return (
        params is not None
        and _common_ok(x, surrogate, device)
        and _scalar(params.v_reset) is not None
        and params.reset in _RESETS
    )


def available() -> bool:
    return library() is not None


def _ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def _threads(work: int) -> int:
    return 1 if work < _SMALL else max(1, torch.get_num_threads())


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
        threads = _threads(steps * n)
        getattr(lib, f"sf_lif_fwd_{suffix}")(
            x.data_ptr(),
            v0.data_ptr(),
            beta.data_ptr(),
            thr.data_ptr(),
            z.data_ptr(),
            _ptr(hs),
            v.data_ptr(),
            steps,
            n,
            real(cfg["v_leak"]),
            real(cfg["v_reset"]),
            cfg["reset"],
            store,
            threads,
        )
        bits = None
        if store == 2:
            bits = torch.empty((steps * n + 7) // 8, dtype=torch.uint8)
            getattr(lib, f"sf_pack_bits_{suffix}")(z.data_ptr(), bits.data_ptr(), steps * n, threads)
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
            _ptr(dz),
            _ptr(dv),
            hs.data_ptr(),
            _ptr(bits),
            v0.data_ptr(),
            beta.data_ptr(),
            thr.data_ptr(),
            dx.data_ptr(),
            dv0.data_ptr(),
            _ptr(dbeta),
            _ptr(dthr),
            steps,
            n,
            real(cfg["v_leak"]),
            real(cfg["v_reset"]),
            cfg["reset"],
            int(cfg["detach"]),
            ctx.store,
            cfg["surrogate"][0],
            real(cfg["surrogate"][1]),
            _threads(steps * n),
        )
        return dx, dv0, dbeta, dthr, None


def kernel_config(*, v_leak: float, v_reset: float, reset: str, detach: bool, surrogate: Any) -> dict[str, Any]:
    """The scalar settings every fused neuron kernel (CPU and Triton) takes, in their C / Triton encodings."""
    return {
        "grad": torch.is_grad_enabled(),
        "v_leak": float(v_leak),
        "v_reset": float(v_reset),
        "reset": _RESETS[reset],
        "detach": bool(detach),
        "surrogate": surrogate_code(surrogate),
    }


def params_config(params: Any, surrogate: Any) -> dict[str, Any]:
    """:func:`kernel_config` from a neuron's ``XParams`` (``v_leak``, ``v_reset``, ``reset``, ``detach_reset``)."""
    return kernel_config(
        v_leak=_scalar(params.v_leak),
        v_reset=_scalar(params.v_reset),
        reset=params.reset,
        detach=params.detach_reset,
        surrogate=surrogate,
    )


def _per_neuron(value: Any, step_shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return t.expand(step_shape).reshape(-1).contiguous()


def run_fused(
    x_seq: torch.Tensor,
    v0: torch.Tensor,
    beta: torch.Tensor,
    thr: torch.Tensor,
    *,
    v_leak: float,
    v_reset: float,
    reset: str,
    detach: bool,
    surrogate: Any,
    half: bool = False,
):
    """Run the fused kernel on ``x_seq[T, B, ...]``; returns ``(z_seq, v_T)`` shaped like the input and one step."""
    code = surrogate_code(surrogate)
    if code is None:
        raise ValueError(
            f"surrogate: the fused kernel supports {[c.__name__ for c in _SURROGATES]}, "
            f"got {type(surrogate).__name__}; use backend='torch'"
        )
    shape = x_seq.shape
    step_shape = shape[1:]
    x2 = x_seq.reshape(shape[0], -1).contiguous()
    cfg = kernel_config(v_leak=v_leak, v_reset=v_reset, reset=reset, detach=detach, surrogate=surrogate)
    cfg["half"] = half
    z, v = _FusedLIF.apply(
        x2, v0.reshape(-1).contiguous(), _per_neuron(beta, step_shape, x_seq), _per_neuron(thr, step_shape, x_seq), cfg
    )
    return z.view(shape), v.view(step_shape)


def lif_via(run, x_seq, state, params, *, dt, surrogate, **options):
    """LIF over a sequence through a fused runner ``run`` (:func:`run_fused` here, the Triton one on a GPU)."""
    from ..neurons._lif import LIFState  # here, not at import: neurons import kernels

    z, v = run(
        x_seq,
        state.v,
        decay(params.tau_mem, dt, like=x_seq),
        params.threshold,
        v_leak=_scalar(params.v_leak),
        v_reset=_scalar(params.v_reset),
        reset=params.reset,
        detach=params.detach_reset,
        surrogate=surrogate,
        **options,
    )
    return z, LIFState(v, x_seq[-1], state.ref)


def if_via(run, x_seq, state, params, *, surrogate):
    """IF (LIF with ``beta = 1``, no leak) over a sequence through a fused runner ``run``."""
    from ..neurons._if import IFState

    ones = torch.ones((), dtype=x_seq.dtype, device=x_seq.device)
    z, v = run(
        x_seq,
        state.v,
        ones,
        params.threshold,
        v_leak=0.0,
        v_reset=_scalar(params.v_reset),
        reset=params.reset,
        detach=params.detach_reset,
        surrogate=surrogate,
    )
    return z, IFState(v)


def lif_seq_cpu(x_seq, state, params, *, dt, surrogate):
    """Backend ``"cpu"`` of ``lif``: exact storage (``h`` in the input dtype)."""
    return lif_via(run_fused, x_seq, state, params, dt=dt, surrogate=surrogate, half=False)


def lif_seq_cpu_lean(x_seq, state, params, *, dt, surrogate):
    """Backend ``"cpu_lean"`` of ``lif``: ``h`` stored in half precision plus spike bits (2.125 B/neuron/step)."""
    return lif_via(run_fused, x_seq, state, params, dt=dt, surrogate=surrogate, half=True)


def if_seq_cpu(x_seq, state, params, *, dt, surrogate):
    """Backend ``"cpu"`` of ``if``."""
    return if_via(run_fused, x_seq, state, params, surrogate=surrogate)
