r"""Fused LIF / IF sequence kernel on the CPU: one compiled call per layer per sequence, forward and backward.

Forward, per neuron (``beta = exp(-dt/tau_mem)``, ``theta`` the threshold; IF is ``beta = 1``):

.. math::
    h_t = v_{leak} + \beta (v_{t-1} - v_{leak}) + x_t, \quad z_t = H(h_t - \vartheta), \quad
    v_t = \mathrm{reset}(h_t, z_t)

A training forward with a built-in surrogate keeps nothing new: it holds on to its input ``x`` and the backward
recomputes ``h`` block by block (a block of neurons over all steps into a per-thread scratch of about 64k values, the
forward's update operation for operation, so the gradients are bit-identical to those from a stored ``h``). That
spares the forward one ``[T, N]`` write and the process one ``[T, N]`` tensor whenever the input stays alive
anyway. With a custom surrogate the forward keeps ``h`` (``store="exact"``: the input dtype, gradients equal to the
reference up to rounding), over which the surrogate's derivative is evaluated; backend ``"cpu_lean"`` keeps
``h - threshold`` in IEEE half precision plus the spikes as bits (``store="half"``: 2.125 bytes per neuron per
step; spikes and forward values stay exact, the surrogate derivative is evaluated at ``h`` rounded to half
precision). Backward, with ``a_t = dL/dv_t`` carried from ``t = T`` down and ``g_t = \sigma'(h_t - \vartheta)``:

.. math::
    \frac{\partial L}{\partial h_t} = \frac{\partial L}{\partial z_t} g_t + a_t \frac{\partial v_t}{\partial h_t},
    \quad a_{t-1} = \beta \frac{\partial L}{\partial h_t}, \quad
    \frac{\partial L}{\partial \beta} \mathrel{+}= \frac{\partial L}{\partial h_t} (v_{t-1} - v_{leak})

with ``dv/dh = 1 - theta g`` (subtract), ``1 - z - (h - v_reset) g`` (zero), ``1`` (none), and the ``g`` terms
dropped with ``detach_reset``; the threshold gradient collects ``-dL/dz g`` plus the reset's own term.

**Uniform parameters.** Where every neuron shares one decay and one threshold (numbers or one-element tensors, the
default), the kernels read one value of each instead of the per-neuron arrays (``uniform``; the same bits, 15-25%
less time on a large layer).

**Any surrogate.** The six built-in surrogates are evaluated inside the backward kernel. For any other one
(``Settings.custom``) the backward first evaluates the surrogate's own ``derivative`` once over the whole
stored argument ``s = h - theta`` (``[T, N]``, vectorised torch ops over blocks of steps, so a user-defined
surrogate runs at the speed of its own torch code), then runs the same recursion reading ``g`` from that array.

**torch.compile.** Forward and backward are registered as PyTorch custom operators (``spikeforge::lif_fwd``,
``spikeforge::lif_bwd``) with fake implementations (shapes only) and the backward registered as the forward's
autograd formula, so ``torch.compile(..., fullgraph=True)`` traces a LIF layer as one opaque call per direction and
runs these kernels; the surrogate derivative of a custom surrogate is traced into the backward graph.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .._settings import SURROGATE_ARRAY, Settings
from ._common import derivative_handle, derivative_of, kernel, per_neuron, ptr, surrogate_array, threads, uniform_params

__all__ = ["lif"]

#: ``store`` codes of the C kernel: nothing (inference), ``h`` in the input dtype, ``h - theta`` in half + spike bits,
#: nothing but the input ``x`` itself (the backward recomputes ``h`` per block of neurons into a small scratch)
_NONE, _EXACT, _HALF, _RECOMPUTE = 0, 1, 2, 3
#: what a training forward keeps with a built-in surrogate (``half=False``)
TRAIN_STORE = _RECOMPUTE


def _stored_shape(store: int, steps: int, n: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Shapes of the stored ``h`` and of the spike bits for ``store``."""
    return ((steps, n) if store in (_EXACT, _HALF) else (0,)), (((steps * n + 7) // 8,) if store == _HALF else (0,))


@torch.library.custom_op("spikeforge::lif_fwd", mutates_args=(), device_types="cpu")
def _lif_fwd(
    x: Tensor,
    v0: Tensor,
    beta: Tensor,
    thr: Tensor,
    v_leak: float,
    v_reset: float,
    reset: int,
    detach: bool,
    store: int,
    surr: int,
    k: float,
    handle: int,
    uniform: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``(x[T, N], v0[N], beta[N], thr[N]) -> (z[T, N], v_T[N], stored h, spike bits)``; the surrogate's code,
    parameter and derivative handle are for the backward only; ``uniform``: every entry of ``beta`` is the same
    value and so is every entry of ``thr`` (the kernels then read one of each)."""
    x, v0, beta, thr = (t.contiguous() for t in (x, v0, beta, thr))
    steps, n = x.shape
    z, v = torch.empty_like(x), torch.empty_like(v0)
    hs_shape, bits_shape = _stored_shape(store, steps, n)
    hs = torch.empty(hs_shape, dtype=torch.int16 if store == _HALF else x.dtype)
    bits = torch.empty(bits_shape, dtype=torch.uint8)
    n_threads = threads(steps * n)
    kernel("lif_fwd", x.dtype)(
        x.data_ptr(),
        v0.data_ptr(),
        beta.data_ptr(),
        thr.data_ptr(),
        z.data_ptr(),
        hs.data_ptr() if store else None,
        v.data_ptr(),
        steps,
        n,
        v_leak,
        v_reset,
        reset,
        store if store != _RECOMPUTE else _NONE,
        int(uniform),
        n_threads,
    )
    if store == _HALF:
        kernel("pack_bits", x.dtype)(z.data_ptr(), bits.data_ptr(), steps * n, n_threads)
    return z, v, hs, bits


@_lif_fwd.register_fake
def _lif_fwd_fake(x, v0, beta, thr, v_leak, v_reset, reset, detach, store, surr, k, handle, uniform):
    hs_shape, bits_shape = _stored_shape(store, *x.shape)
    return (
        torch.empty_like(x),
        torch.empty_like(v0),
        x.new_empty(hs_shape, dtype=torch.int16 if store == _HALF else x.dtype),
        x.new_empty(bits_shape, dtype=torch.uint8),
    )


@torch.library.custom_op("spikeforge::lif_bwd", mutates_args=(), device_types="cpu")
def _lif_bwd(
    dz: Tensor | None,
    dv: Tensor | None,
    hs: Tensor,
    bits: Tensor,
    gs: Tensor,
    v0: Tensor,
    beta: Tensor,
    thr: Tensor,
    v_leak: float,
    v_reset: float,
    reset: int,
    detach: bool,
    store: int,
    surr: int,
    k: float,
    need_beta: bool,
    need_thr: bool,
    uniform: bool,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``-> (dL/dx[T, N], dL/dv0[N], dL/dbeta[N], dL/dthr[N])`` (the last two empty when not needed); ``gs`` holds
    the surrogate derivative per step with ``surr == SURROGATE_ARRAY`` and is empty otherwise; ``dz`` or ``dv``
    None: that output's gradient is zero; ``uniform`` as for the forward."""
    dz, dv = (None if t is None else t.contiguous() for t in (dz, dv))
    hs, bits, gs, v0, beta, thr = (t.contiguous() for t in (hs, bits, gs, v0, beta, thr))
    steps, n = hs.shape
    dtype = v0.dtype
    dx, dv0 = torch.empty((steps, n), dtype=dtype), torch.empty_like(v0)
    dbeta = torch.empty_like(beta) if need_beta else beta.new_empty(0)
    dthr = torch.empty_like(thr) if need_thr else thr.new_empty(0)
    n_threads = threads(steps * n)
    per_thread = kernel("scratch", dtype)(steps) if store == _RECOMPUTE else 0  # the kernel's own size
    scratch = torch.empty(n_threads * per_thread, dtype=dtype)
    kernel("lif_bwd", dtype)(
        ptr(dz),
        ptr(dv),
        hs.data_ptr(),
        bits.data_ptr() if store == _HALF else None,
        gs.data_ptr() if surr == SURROGATE_ARRAY else None,
        v0.data_ptr(),
        beta.data_ptr(),
        thr.data_ptr(),
        dx.data_ptr(),
        dv0.data_ptr(),
        dbeta.data_ptr() if need_beta else None,
        dthr.data_ptr() if need_thr else None,
        steps,
        n,
        v_leak,
        v_reset,
        reset,
        int(detach),
        store,
        surr,
        k,
        scratch.data_ptr() if store == _RECOMPUTE else None,
        int(uniform),
        n_threads,
    )
    return dx, dv0, dbeta, dthr


@_lif_bwd.register_fake
def _lif_bwd_fake(dz, dv, hs, bits, gs, v0, beta, thr, v_leak, v_reset, reset, detach, store, surr, k, nb, nt, uni):
    return (
        hs.new_empty(hs.shape, dtype=v0.dtype),
        torch.empty_like(v0),
        torch.empty_like(beta) if nb else beta.new_empty(0),
        torch.empty_like(thr) if nt else thr.new_empty(0),
    )


def _setup_context(ctx, inputs, output) -> None:
    x, v0, beta, thr, *settings = inputs
    _, _, hs, bits = output
    store = settings[4]
    ctx.save_for_backward(x if store == _RECOMPUTE else hs, bits, v0, beta, thr)
    ctx.mark_non_differentiable(hs, bits)  # storage, not results: no zero gradient [T, N] is made for them
    ctx.set_materialize_grads(False)  # and none for an unused z or v_T either (the kernel takes NULL)
    ctx.settings = settings


def _backward(ctx, dz, dv, _dhs, _dbits):
    hs, bits, v0, beta, thr = ctx.saved_tensors
    v_leak, v_reset, reset, detach, store, surr, k, handle, uniform = ctx.settings
    if store == _NONE:
        raise RuntimeError("lif: backward through a fused forward that ran without storing (grad was disabled)")
    gs = hs.new_empty(0, dtype=v0.dtype)
    if surr == SURROGATE_ARRAY:  # the surrogate's own derivative over the stored sequence

        def argument(lo: int, hi: int) -> Tensor:
            return hs[lo:hi] - thr if store == _EXACT else hs[lo:hi].view(torch.float16).to(v0.dtype)

        gs = surrogate_array(derivative_of(handle), argument, *hs.shape, v0.dtype)
    need_beta, need_thr = ctx.needs_input_grad[2], ctx.needs_input_grad[3]
    dx, dv0, dbeta, dthr = _lif_bwd(
        dz,
        dv,
        hs,
        bits,
        gs,
        v0,
        beta,
        thr,
        v_leak,
        v_reset,
        reset,
        detach,
        store,
        surr,
        k,
        need_beta,
        need_thr,
        uniform,
    )
    return dx, dv0, dbeta if need_beta else None, dthr if need_thr else None, *([None] * 9)


_lif_fwd.register_autograd(_backward, setup_context=_setup_context)


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
        settings: resting and reset potentials, reset mode, detach flag and surrogate code (and the derivative of
            a surrogate without a built-in code).
        half: keep ``h - threshold`` in half precision plus spike bits for the backward (2.125 bytes per neuron per
            step) instead of ``h`` in the input dtype.

    Returns:
        ``(z_seq[T, B, ...], v_T[B, ...])``.
    """
    shape = x_seq.shape
    step_shape = shape[1:]
    x = x_seq.reshape(shape[0], -1).contiguous()
    v0 = v0.reshape(-1).contiguous()
    uniform = uniform_params(beta, threshold)
    beta = per_neuron(beta, step_shape, x_seq)
    thr = per_neuron(threshold, step_shape, x_seq)
    train = torch.is_grad_enabled() and any(t.requires_grad for t in (x, v0, beta, thr))
    cfg = settings.codes(train)
    surr, k = cfg["surrogate"]
    handle = derivative_handle(cfg["custom"]) if surr == SURROGATE_ARRAY else -1
    if not train:
        store = _NONE
    elif half:
        store = _HALF
    else:  # a custom surrogate's derivative is evaluated over a stored h; the built-in ones inside the kernel
        store = _EXACT if surr == SURROGATE_ARRAY else TRAIN_STORE
    z, v, _, _ = _lif_fwd(
        x, v0, beta, thr, cfg["v_leak"], cfg["v_reset"], cfg["reset"], cfg["detach"], store, surr, k, handle, uniform
    )
    return z.view(shape), v.view(step_shape)
