r"""A stride-1 2-D convolution fused with a LIF / IF layer on the CPU: the convolution's output is never held.

For input frames ``x_t[B, C_in, H, W]``, weight ``W[C_out, C_in, k_h, k_w]``, bias ``b`` and zero padding
``(p_h, p_w)``, per output neuron ``(b, o, y, x)`` (see :mod:`._lif` for ``beta``, ``theta`` and the resets):

.. math::
    c_t = b_o + \sum_{i, k_y, k_x} W_{o, i, k_y, k_x}\, \tilde x_{t, i, y + k_y, x + k_x}, \quad
    h_t = v_{leak} + \beta (v_{t-1} - v_{leak}) + c_t, \quad z_t = H(h_t - \vartheta), \quad
    v_t = \mathrm{reset}(h_t, z_t)

with :math:`\tilde x` the zero-padded input. The kernel computes the current step after step into a per-thread
scratch, so neither the ``[T, B, C_out, H_o, W_o]`` current nor its gradient exists: a training step holds two
tensors of that size fewer than the unfused pair. Its task is one output plane (sample, channel), or, where the
output channels are a multiple of a vector's lanes and the library has AVX-512 (:func:`blocked`), a group of 16
(float32) / 8 (float64) channels of one sample over a band of rows with the channels in vectors
(``sf_conv_blocked.c``; the same operations per output, so the same bits). A training forward keeps only the input
(its padded copy or its events); the backward recomputes the current and membrane over all steps, runs the LIF
recursion of :mod:`._lif` over them and adds the weight gradient

.. math:: \frac{\partial L}{\partial W_{o, i, k_y, k_x}} = \sum_{t, b, y, x} \frac{\partial L}{\partial c_{t,b,o,y,x}}
          \tilde x_{t, b, i, y + k_y, x + k_x}

per task into its own partial sums (added here), so the result does not depend on the thread count. For binary input
at most :data:`EVENT_DENSITY` (per plane) or :data:`EVENT_DENSITY_BLOCKED` dense, the current and that sum come from
the input's spikes (events) instead of the padded frames, which are then never made (:func:`plan` decides, and
whether the fused kernel is worth timing against the pair at all). Where the input needs a gradient (a hidden
layer), the backward also writes ``dL/dc`` and hands it to torch's convolution input gradient.

From frames, the convolution is the sum over taps ``(i, k_y, k_x)``, in that order, of fused multiply-adds (on
contiguous runs of the padded rows, or, blocked, a weight vector times one input value); from events, the bias plus
one add per spike in the order of the events. It differs from torch's convolution by rounding only, and a spike that
the rounding decides may differ. The forward and the backward's recomputation round alike, so the gradients belong to
the spikes returned. Built-in surrogates only.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import torch
from torch import Tensor

from .._settings import Settings
from ._common import kernel, per_neuron, ptr, reset_args, spike_index, threads, uniform_params

__all__ = ["conv_lif"]


#: weights per output (``C_in * k_h * k_w``) up to which the direct convolution is used for any input
#: (``SequentialState`` fuses a ``Conv2d`` with the LIF layer after it). Measured with the per-plane kernel against
#: torch's convolution followed by the LIF kernel, a training step (3x3 on 34 x 34, 16 output channels, T = 20,
#: B = 16, 1 thread, 2026-12-03 UTC), the fused pair's time over the unfused pair's: input uniform in [0, 0.3), 9 taps
#: 0.80, 18 taps 0.94, 36 taps 0.97; binary input at 5% density, 18 taps 0.90, 36 taps 0.98, 72 taps 1.34
MAX_TAPS = 36

#: ... and up to which the blocked kernel (:func:`blocked`) reads sparse binary input as events (at most
#: :data:`EVENT_DENSITY_WIDE` dense): the pair runs otherwise. A training step with the input's gradient, fused
#: over the pair run apart (``python benchmarks/conv_hidden.py``, 3x3, T = 20, B = 16, 2 threads, 2026-12-03 13:11
#: UTC): 144 taps (16 -> 32 on 17 x 17) 0.93-0.94 at 5% density and 0.97-1.02 at 10%; 288 taps (32 -> 64 on 8 x 8)
#: 0.79 at 5%; 576 taps (64 -> 64 on 8 x 8) 0.87 at 10%. Forward + backward alone at 144 taps, events against
#: frames (``conv_lif_paths.py --in-channels 16 --out-channels 32 --size 17``, 1 thread): 15.4 / 33.5 ms at 5%,
#: 23.1 / 34.7 at 15%, 36.2 / 35.3 at 30%; from frames the pair was faster (1.3-1.5x) beyond 36 taps
MAX_TAPS_EVENTS = 576

#: values the kernel may read past the padded input's end (its last plane's rows are computed in whole vectors)
_SLACK = 16


def _padded(x: Tensor, ph: int, pw: int) -> Tensor:
    """``x[T, B, C, H, W]`` zero-padded by ``ph`` rows and ``pw`` columns on each side, contiguous, in a buffer with
    :data:`_SLACK` zeros after its end."""
    steps, batch, chans, height, width = x.shape
    shape = (steps, batch, chans, height + 2 * ph, width + 2 * pw)
    flat = x.new_zeros(shape[0] * shape[1] * shape[2] * shape[3] * shape[4] + _SLACK)
    xp = flat[: flat.numel() - _SLACK].view(shape)
    xp[..., ph : ph + height, pw : pw + width] = x
    return xp


#: binary input at most this dense is read as events by the per-plane kernel: the current adds, per spike, its
#: weights at the outputs it reaches, and the weight gradient sums per spike and kernel row one vector of dL/dc,
#: instead of a multiply-add per tap and output over the zero-padded frames. Conv2d 2 -> 16, 3x3 on 34 x 34, T = 20,
#: B = 16, 1 thread, caches flushed before each call (``python benchmarks/conv_lif_paths.py``, 2026-12-03 11:25 UTC),
#: forward + backward: 11.4 against 19.6 ms at 1% density, 12.7 against 20.4 at 2%, 15.8 against 21.0 at 5%, 18.4
#: against 21.7 at 8%, 22.5 against 22.0 at 12%
EVENT_DENSITY = 0.09

#: the same for the blocked kernel, where a spike costs one vector add per tap for all of a group's channels: the
#: same workload (13:10 UTC) 13.4 against 19.1 ms at 1%, 15.4 / 19.3 at 5%, 15.7 / 21.4 at 10%, 17.2 / 19.4 at 15%,
#: 18.5 / 19.1 at 20%, 21.3 / 19.6 at 30%
EVENT_DENSITY_BLOCKED = 0.15

#: the blocked kernel's limit with more than :data:`MAX_TAPS` taps (see :data:`MAX_TAPS_EVENTS`)
EVENT_DENSITY_WIDE = 0.1


@functools.lru_cache(maxsize=32)
def _where(chans: int, height: int, width: int, ph: int, pw: int) -> tuple[Tensor, Tensor]:
    """For every input index ``(c, y, x)`` of a frame (flat): its position in the padded rows of its channel and its
    channel (int32 lookup tables, so that converting the events is two gathers)."""
    idx = torch.arange(chans * height * width, dtype=torch.int32)
    rest = idx % (height * width)
    return ((rest // width + ph) * (width + 2 * pw) + rest % width + pw), idx // (height * width)


Events = tuple[Tensor, Tensor, Tensor]


def _events(x: Tensor, ph: int, pw: int, kw: int, limit: float) -> Events | None:
    """The spikes of binary ``x[T, B, C, H, W]`` as events: offsets (int64 ``[T * B + 1]``), positions in the padded
    rows of their channel (int32) and channels (int32); None where ``x`` is not binary, denser than ``limit``, or the
    kernel is wider than one vector."""
    steps, batch, chans, height, width = x.shape
    if kw > 64 // x.element_size() or x.numel() == 0:
        return None
    first = x[0]  # a cheap look at one step first: a dense input is not indexed at all
    if int(torch.count_nonzero(first)) > 2 * limit * first.numel():
        return None
    total, binary, cols, offsets = spike_index(x.contiguous().view(steps * batch, -1))
    if not binary or total > limit * x.numel():
        return None
    pos, chan = _where(chans, height, width, ph, pw)
    return offsets, pos[cols], chan[cols]


#: forward and backward may keep the output channels in vectors (``sf_conv_blocked.c``, :func:`blocked`); tests set
#: it False to compare with the per-plane kernel, whose forward gives the same bits
BLOCKED = True

#: calls by direction and layout ("forward blocked", "backward planes", ...): which kernel ran, for tests
RUNS: Counter[str] = Counter()


@functools.cache
def _lanes(dtype: torch.dtype) -> int:
    """The blocked kernel's channels per group in ``dtype``, 0 where the library was built without it (asked once)."""
    return int(kernel("clif_lanes", dtype)())


def blocked(dtype: torch.dtype, c_out: int) -> bool:
    """Whether the kernel keeps ``c_out`` output channels in vectors here (``sf_conv_blocked.c``): ``c_out`` a
    multiple of the vector's lanes (16 in float32, 8 in float64) and a library built with AVX-512."""
    lanes = _lanes(dtype)
    return BLOCKED and lanes > 0 and c_out % lanes == 0


@dataclass(frozen=True)
class Plan:
    """How :func:`conv_lif` reads an input: ``events`` (:func:`_events`) or None (the frames); ``candidate``:
    whether the fused kernel may beat the convolution and the LIF kernel run apart (at most :data:`MAX_TAPS` taps for
    any input, :data:`MAX_TAPS_EVENTS` for the blocked kernel from events; ``SequentialState`` then times the two)."""

    events: Events | None
    candidate: bool

    def density(self, x_seq: Tensor) -> float | None:
        """The fraction of ``x_seq``'s values that are spikes, where it is read as events (else None)."""
        return None if self.events is None else int(self.events[0][-1]) / max(1, x_seq.numel())


def plan(x_seq: Tensor, weight: Tensor, padding: tuple[int, int]) -> Plan:
    """The :class:`Plan` for input ``x_seq [T, B, C_in, H, W]`` and ``weight [C_out, C_in, k_h, k_w]``: it indexes
    sparse binary input once, for the decision and the kernel."""
    taps = weight[0].numel()
    block = blocked(weight.dtype, weight.shape[0])
    if taps > (MAX_TAPS_EVENTS if block else MAX_TAPS):
        return Plan(None, False)
    limit = EVENT_DENSITY if not block else EVENT_DENSITY_BLOCKED if taps <= MAX_TAPS else EVENT_DENSITY_WIDE
    events = _events(x_seq.detach(), *padding, weight.shape[3], limit)
    return Plan(events, candidate=taps <= MAX_TAPS or events is not None)


def _scratch(dtype: torch.dtype, shape: tuple[int, ...], n_threads: int) -> Tensor:
    """Per-thread scratch for ``shape = (T, H_o, W_o, W_p, C_in, k_h, k_w)``."""
    return torch.empty(n_threads * kernel("clif_scratch", dtype)(*shape), dtype=dtype)


class _ConvLIF(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, v0, beta, thr, padding, cfg, uniform, events):  # type: ignore[override]
        ph, pw = padding
        c_out, _, kh, kw = weight.shape
        xp = _padded(x.detach(), ph, pw) if events is None else None
        evo, evp, evc = (None, None, None) if events is None else events
        steps, batch, c_in, height, width = x.shape
        hp, wp = height + 2 * ph, width + 2 * pw
        ho, wo = hp - kh + 1, wp - kw + 1
        w = weight.detach().contiguous()
        b = None if bias is None else bias.detach().contiguous()
        n = batch * c_out * ho * wo
        z = torch.empty((steps, n), dtype=w.dtype)
        v, last = torch.empty(n, dtype=w.dtype), torch.empty(n, dtype=w.dtype)
        v_leak, v_reset, reset, _ = reset_args(cfg)
        n_threads = threads(steps * n)
        scratch = _scratch(w.dtype, (steps, ho, wo, wp, c_in, kh, kw), n_threads)
        geometry = (steps, batch, c_in, hp, wp, c_out, kh, kw)  # the kernels' size arguments, in their order
        block = blocked(w.dtype, c_out)
        RUNS["forward blocked" if block else "forward planes"] += 1
        kernel("clif_fwd", w.dtype)(
            *(ptr(t) for t in (xp, evo, evp, evc, w, b, v0, beta, thr, z, v, last, scratch)),
            *geometry,
            v_leak,
            v_reset,
            reset,
            int(uniform),
            int(block),
            n_threads,
        )
        ctx.save_for_backward(xp, evo, evp, evc, w, b, v0, beta, thr)
        ctx.cfg, ctx.padding, ctx.uniform, ctx.x_shape, ctx.geometry = cfg, padding, uniform, x.shape, geometry
        ctx.set_materialize_grads(False)  # an unused output gives NULL to the kernel, not a zero tensor
        return z, v, last

    @staticmethod
    def backward(ctx, dz, dv, dlast):  # type: ignore[override]
        xp, evo, evp, evc, w, b, v0, beta, thr = ctx.saved_tensors
        need_x, need_w, need_b, need_v0, need_beta, need_thr = ctx.needs_input_grad[:6]
        steps, batch, c_in, hp, wp, c_out, kh, kw = ctx.geometry
        ho, wo = hp - kh + 1, wp - kw + 1
        n, taps, dtype = batch * c_out * ho * wo, c_in * kh * kw, w.dtype
        dz = None if dz is None else dz.contiguous()
        dv = None if dv is None else dv.contiguous()
        dlast = None if dlast is None else dlast.contiguous()
        # the blocked backward (bands of output rows) leaves partial sums per sample and band, the other per sample
        block = blocked(dtype, c_out)
        parts = batch * (kernel("clif_parts", dtype)(steps, ho, wo) if block else 1)
        RUNS["backward blocked" if block else "backward planes"] += 1
        dwp = torch.empty((parts, c_out, taps), dtype=dtype)
        dbp = torch.empty((parts, c_out), dtype=dtype) if b is not None else None
        dxc = torch.empty((steps, n), dtype=dtype) if need_x else None
        dv0 = torch.empty_like(v0)
        dbeta = torch.empty_like(beta) if need_beta else None
        dthr = torch.empty_like(thr) if need_thr else None
        v_leak, v_reset, reset, detach = reset_args(ctx.cfg)
        surr, k = ctx.cfg["surrogate"]
        n_threads = threads(steps * n)
        scratch = _scratch(dtype, (steps, ho, wo, wp, c_in, kh, kw), n_threads)
        kernel("clif_bwd", dtype)(
            *(ptr(t) for t in (xp, evo, evp, evc, w, b, v0, beta, thr, dz, dv, dlast, dwp, dbp, dxc, dv0, dbeta, dthr)),
            scratch.data_ptr(),
            *ctx.geometry,
            v_leak,
            v_reset,
            reset,
            detach,
            surr,
            k,
            int(ctx.uniform),
            int(block),
            n_threads,
        )
        dx = None
        if need_x:
            t_, b_, *frame = ctx.x_shape
            dx = torch.nn.grad.conv2d_input(
                (t_ * b_, *frame), w, dxc.view(t_ * b_, c_out, ho, wo), padding=ctx.padding
            ).view(ctx.x_shape)
        return (
            dx,
            dwp.sum(0).view(w.shape) if need_w else None,
            dbp.sum(0) if need_b else None,
            dv0 if need_v0 else None,
            dbeta,
            dthr,
            *([None] * 4),
        )


def conv_lif(
    x_seq: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    padding: tuple[int, int],
    v0: Tensor,
    beta: Tensor | float,
    threshold: Tensor | float,
    settings: Settings,
    how: Plan | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """A stride-1 ``Conv2d`` (no dilation, one group, zero padding) and the LIF / IF layer after it (IF: ``beta =
    1``, ``v_leak = 0``) over a sequence, forward and backward, in one kernel.

    Args:
        x_seq: input frames ``[T, B, C_in, H, W]``, float32 or float64 on the CPU.
        weight: ``[C_out, C_in, k_h, k_w]``, the input's dtype; bias: ``[C_out]`` or None.
        padding: zeros added on each side, ``(p_h, p_w)``.
        v0: membrane before the first step, ``[B, C_out, H_o, W_o]`` with ``H_o = H + 2 p_h - k_h + 1`` (as ``W_o``).
        beta, threshold: per-step decay and firing threshold, numbers or tensors broadcasting to ``v0``'s shape.
        settings: as for :func:`.lif`, with a built-in surrogate (``settings.custom`` None).
        how: the input's :func:`plan` where the caller made it already (to decide whether to call this).

    Returns:
        ``(z[T, B, C_out, H_o, W_o], v_T[B, C_out, H_o, W_o], c_T)``: spikes, final membrane and the last step's
        current ``c_T[B, C_out, H_o, W_o]`` (the convolution's output at the last step, with its gradient).
    """
    if settings.custom is not None:
        raise ValueError("conv_lif: needs a surrogate with a kernel id; a custom one runs the unfused layers")
    if x_seq.dim() != 5 or weight.dim() != 4 or x_seq.shape[2] != weight.shape[1]:
        raise ValueError(
            f"conv_lif: expected x_seq [T, B, C_in, H, W] and weight [C_out, C_in, k_h, k_w] with the same C_in, "
            f"got {tuple(x_seq.shape)} and {tuple(weight.shape)}"
        )
    steps, batch, _, height, width = x_seq.shape
    c_out, _, kh, kw = weight.shape
    step_shape = torch.Size((batch, c_out, height + 2 * padding[0] - kh + 1, width + 2 * padding[1] - kw + 1))
    if min(step_shape) < 1:
        raise ValueError(f"conv_lif: the kernel {kh}x{kw} is larger than the padded frame, input {tuple(x_seq.shape)}")
    like = weight.new_empty(0)
    uniform = uniform_params(beta, threshold)
    v0 = v0.reshape(-1).contiguous()
    if uniform and not any(isinstance(p, Tensor) and p.requires_grad for p in (beta, threshold)):
        # one value each (the kernels read only the first entry of a uniform parameter)
        beta_n, thr_n = (torch.as_tensor(p, dtype=like.dtype).reshape(1) for p in (beta, threshold))
    else:  # one per neuron, through which autograd reduces a gradient to the parameter's own shape
        beta_n, thr_n = per_neuron(beta, step_shape, like), per_neuron(threshold, step_shape, like)
    cfg = settings.codes(True)
    events = (how or plan(x_seq, weight, padding)).events
    z, v, last = _ConvLIF.apply(x_seq, weight, bias, v0, beta_n, thr_n, tuple(padding), cfg, uniform, events)
    return z.view(steps, *step_shape), v.view(step_shape), last.view(step_shape)
