r"""The autograd wrapper shared by the fused CPU kernels of two-variable neurons (CubaLIF: ``v`` and ``i``; ALIF:
``v`` and ``a``). Both C kernels take the same argument layout (see ``sf_kernels.h``):

- forward: ``x, v0, s0, c1..c4, z, hs, ss, v, s, steps, n, v_leak, v_reset, reset, store, threads``;
- backward: ``dz, dv, ds, x, hs, ss, gs, v0, s0, c1..c4, dx, dv0, ds0, dc1..dc4, steps, n, v_leak, v_reset, reset,
  detach, surrogate id, surrogate parameter, threads``,

where ``c1..c4`` are per-neuron coefficients, ``hs`` / ``ss`` the stored pre-reset membrane and second variable,
``gs`` the surrogate derivative per step for a surrogate without a built-in code (evaluated by the surrogate itself
over the stored sequence, NULL otherwise), and a NULL gradient pointer means "not needed". With a custom surrogate the
forward keeps ``x``, ``h`` and the second variable per step (12 bytes per neuron per step in float32); with a
built-in one only ``x`` (which its producer holds anyway), and the backward recomputes ``h`` and the second
variable block by block (a block of neurons over all steps, into a per-thread scratch) with the forward's own block
function, so the gradients are the same bit for bit.

**Current-based LIF** (the maths of ``spikeforge.neurons.CubaLIF``). With ``j = i - x`` and ``w = v - v_leak - x`` the exact update is ``h = v_leak + x + w beta + j c``,
``i' = x + j alpha`` (``c = kappa (alpha - beta)``), then spike and reset as LIF. The backward carries
``a_v = dL/dv`` and ``a_i = dL/di``:

.. math::
    \partial_h = \partial_z g + a_v \partial_h v, \quad \partial_x = \partial_h (1 - \beta - c) + a_i (1 - \alpha),
    \quad a_v \leftarrow \beta \partial_h, \quad a_i \leftarrow c \partial_h + \alpha a_i

and ``dL/dbeta = sum dh w``, ``dL/dc = sum dh j``, ``dL/dalpha = sum a_i j``; autograd carries these to
``tau_mem`` and ``tau_syn``.

**Adaptive LIF** (the maths of ``spikeforge.neurons.ALIF``). Per step: ``at = rho a``, ``A = theta + b at``, ``h = v_leak + x + (v - v_leak - x) beta_m``,
``z = H((h - A) / theta)``, ``v' = reset(h)``, ``a' = at + z``. The backward carries ``dL/dv`` and ``dL/da``
(the spike reaches ``a`` undetached, so the adaptation path always sees the surrogate); gradients reach ``x``,
the initial state, ``beta_m`` and ``rho`` (hence ``tau_mem`` and ``tau_adapt``), ``theta`` and ``b``.
"""

from __future__ import annotations

import torch

from .._settings import SURROGATE_ARRAY, Settings
from ._common import kernel, per_neuron, ptr, surrogate_array, threads

__all__ = ["alif", "cuba"]

#: training with a built-in surrogate keeps only the input; the backward recomputes h and the second variable
RECOMPUTE = True


class _FusedTwoState(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, v0, s0, c1, c2, c3, c4, cfg):  # type: ignore[override]
        steps, n = x.shape
        train = cfg["grad"] and any(ctx.needs_input_grad[:7])  # grad mode is off inside forward: decided by caller
        z, v, s = torch.empty_like(x), torch.empty_like(v0), torch.empty_like(s0)
        # a custom surrogate's derivative is evaluated over the stored sequences; with a built-in one the backward
        # recomputes them from x (kept anyway) per block of neurons
        store = train and (cfg["surrogate"][0] == SURROGATE_ARRAY or not RECOMPUTE)
        hs = torch.empty_like(x) if store else None
        ss = torch.empty_like(x) if store else None
        ptrs = (t.data_ptr() for t in (x, v0, s0, c1, c2, c3, c4, z))
        kernel(f"{cfg['kernel']}_fwd", x.dtype)(
            *ptrs,
            ptr(hs),
            ptr(ss),
            v.data_ptr(),
            s.data_ptr(),
            steps,
            n,
            float(cfg["v_leak"]),
            float(cfg["v_reset"]),
            cfg["reset"],
            int(store),
            threads(steps * n),
        )
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
        gs = None  # any other surrogate: its own derivative over the stored sequence
        if cfg["surrogate"][0] == SURROGATE_ARRAY:
            argument = _surrogate_argument(cfg["kernel"], saved)
            gs = surrogate_array(cfg["custom"], argument, steps, n, x.dtype)
        n_threads = threads(steps * n)
        recompute = saved[1] is None
        per_thread = 2 * kernel("scratch", x.dtype)(steps) if recompute else 0
        scratch = torch.empty(n_threads * per_thread, dtype=x.dtype) if recompute else None
        kernel(f"{cfg['kernel']}_bwd", x.dtype)(
            ptr(dz),
            ptr(dv),
            ptr(ds),
            *(ptr(t) for t in saved[:3]),
            ptr(gs),
            *(t.data_ptr() for t in saved[3:]),
            dx.data_ptr(),
            dv0.data_ptr(),
            ds0.data_ptr(),
            *(ptr(g) for g in grads),
            steps,
            n,
            float(cfg["v_leak"]),
            float(cfg["v_reset"]),
            cfg["reset"],
            int(cfg["detach"]),
            cfg["surrogate"][0],
            float(cfg["surrogate"][1]),
            ptr(scratch),
            n_threads,
        )
        return dx, dv0, ds0, *grads, None


def _surrogate_argument(kernel: str, saved: tuple[torch.Tensor, ...]):
    """``argument(lo, hi)``: the surrogate's argument over steps ``lo:hi`` from what the forward stored, with the
    kernel's own operations: ``h - theta`` (CubaLIF), ``(h - A) / theta`` with ``A = theta + b (rho a_{t-1})``
    (ALIF)."""
    _, hs, ss, _, s0, _, c2, c3, c4 = saved  # x, h, a (or i), v0, a0 (or i0), beta_m, rho, theta, b
    if kernel == "cuba":
        return lambda lo, hi: hs[lo:hi] - c4

    def alif(lo: int, hi: int) -> torch.Tensor:
        a_prev = ss[lo - 1 : hi - 1] if lo else torch.cat([s0.unsqueeze(0), ss[: hi - 1]])
        return (hs[lo:hi] - (c3 + c4 * (c2 * a_prev))) / c3

    return alif


def _run(kernel: str, x_seq: torch.Tensor, v0: torch.Tensor, s0: torch.Tensor, coefficients, settings: Settings):
    shape = x_seq.shape
    step = shape[1:]
    cfg = settings.codes(torch.is_grad_enabled()) | {"kernel": kernel}
    z, v, s = _FusedTwoState.apply(
        x_seq.reshape(shape[0], -1).contiguous(),
        v0.reshape(-1).contiguous(),
        s0.reshape(-1).contiguous(),
        *(per_neuron(c, step, x_seq) for c in coefficients),
        cfg,
    )
    return z.view(shape), v.view(step), s.view(step)


def cuba(x_seq, v0, i0, alpha, beta, cross, threshold, settings: Settings):
    """The fused current-based LIF over ``x_seq[T, B, ...]`` from ``(v0, i0)[B, ...]``.

    ``alpha = exp(-dt/tau_syn)``, ``beta = exp(-dt/tau_mem)`` and ``cross = kappa (alpha - beta)`` are the exact
    coefficients, numbers or tensors broadcasting to ``[B, ...]`` (gradients reach them). Returns
    ``(z_seq, v_T, i_T)``.
    """
    return _run("cuba", x_seq, v0, i0, (alpha, beta, cross, threshold), settings)


def alif(x_seq, v0, a0, beta_m, rho, threshold, strength, settings: Settings):
    """The fused adaptive LIF over ``x_seq[T, B, ...]`` from ``(v0, a0)[B, ...]``.

    ``beta_m = exp(-dt/tau_mem)``, ``rho = exp(-dt/tau_adapt)``; the adaptive threshold is
    ``threshold + strength * rho * a``. Returns ``(z_seq, v_T, a_T)``.
    """
    return _run("alif", x_seq, v0, a0, (beta_m, rho, threshold, strength), settings)
