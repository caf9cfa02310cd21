"""Signal encoders: time-first signals ``[T, ...]`` -> spikes with an added polarity or population dimension.

Every encoder here is deterministic and has a decoder with a stated reconstruction bound:

- :func:`delta`: delta modulation / threshold crossing with separate up and down channels.
- :func:`step_forward`: step-forward encoding (Petro et al., 2020).
- :func:`level_crossing`: events when the signal crosses one of a fixed grid of levels.
- :func:`population`: Gaussian receptive-field population coding (Bohte et al., 2002), one neuron per centre.

Polarity encoders return ``[T, *S, 2]`` with ``[..., 0]`` the up (ON) and ``[..., 1]`` the down (OFF) channel;
``z.flatten(-2)`` interleaves them into one channel axis when a layer needs ``[T, B, C]``.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import torch

from ..neurons._base import check_finite

__all__ = [
    "delta",
    "delta_decode",
    "level_crossing",
    "level_crossing_decode",
    "population",
    "population_decode",
    "receptive_fields",
    "step_forward",
    "step_forward_decode",
]


def _check_signal(x: torch.Tensor, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor signal [T, ...], got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point signal, got dtype {x.dtype}; convert with x.float()")
    if x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"{name}: expected a time-first signal [T, ...] with T >= 1, got shape {tuple(x.shape)}")
    check_finite(name, x)
    return x


def _check_positive(name: str, value: float | torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    if torch.isnan(t).any() or (t <= 0).any() or torch.isinf(t).any():
        raise ValueError(f"{name}: expected positive, finite values in the signal's units, got {value!r}")
    try:
        torch.broadcast_shapes(t.shape, like.shape)
    except RuntimeError:
        raise ValueError(
            f"{name}: expected a scalar or a tensor broadcastable to one time step {tuple(like.shape)}, "
            f"got shape {tuple(t.shape)}"
        ) from None
    return t


def _start(initial: float | torch.Tensor | None, x0: torch.Tensor) -> torch.Tensor:
    if initial is None:
        return x0.clone()
    start = torch.as_tensor(initial, dtype=x0.dtype, device=x0.device)
    check_finite("initial", start)
    try:
        return start.expand_as(x0).clone()
    except RuntimeError:
        raise ValueError(
            f"initial: expected a scalar or a tensor broadcastable to one time step {tuple(x0.shape)}, "
            f"got shape {tuple(start.shape)}"
        ) from None


# The time loops run in numpy on the CPU: a step is a few operations on small arrays, where numpy's per-call cost
# is several times below torch's. Encoding is preprocessing (no gradient), so nothing is lost.
def _numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy()


def _spikes(moves: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    """Signed moves ``[T, ...]`` -> up/down spikes ``[T, ..., 2]`` with ``like``'s dtype and device."""
    z = torch.from_numpy(np.stack([moves > 0, moves < 0], axis=-1))
    return z.to(device=like.device, dtype=like.dtype)


def _track(x: torch.Tensor, h: torch.Tensor, start: torch.Tensor, *, strict: bool, first: int) -> torch.Tensor:
    """Shared loop of delta modulation and step-forward: a reference ``start + h * k`` follows the signal one
    threshold step per spike. Written as ``start + h * k`` (integer ``k``) so decoders reproduce it bit for bit."""
    xs, hs, s0 = _numpy(x), _numpy(h), _numpy(start)
    moves = np.zeros(xs.shape, dtype=xs.dtype)
    k = np.zeros(s0.shape, dtype=xs.dtype)
    for t in range(first, xs.shape[0]):
        diff = xs[t] - (s0 + hs * k)
        if strict:
            moves[t] = np.subtract(diff > hs, diff < -hs, dtype=xs.dtype)
        else:
            moves[t] = np.subtract(diff >= hs, diff <= -hs, dtype=xs.dtype)
        k += moves[t]
    return _spikes(moves, x)


def _check_polarity(z: torch.Tensor) -> torch.Tensor:
    if not isinstance(z, torch.Tensor) or z.dim() < 2 or z.shape[-1] != 2:
        raise ValueError(
            f"z: expected up/down spikes [T, ..., 2] from the matching encoder, got {getattr(z, 'shape', type(z).__name__)}"
        )
    return z if z.is_floating_point() else z.float()


def _steps(z: torch.Tensor) -> torch.Tensor:
    return torch.cumsum(z[..., 0] - z[..., 1], dim=0)


def delta(
    x: torch.Tensor,
    threshold: float | torch.Tensor,
    *,
    reset: Literal["step", "sample"] = "step",
    initial: float | torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Delta modulation (threshold crossing) with separate up and down channels.

    A reference :math:`r` starts at ``initial`` (default: the first sample). At every step

    .. math::
        z^{up}_t = [x_t - r_{t-1} \ge h], \qquad z^{down}_t = [r_{t-1} - x_t \ge h]

    and after a spike the reference moves: with ``reset="step"`` by exactly one threshold,
    :math:`r_t = r_{t-1} + h (z^{up}_t - z^{down}_t)` (delta modulation with a dead zone; decodable by
    :func:`delta_decode`), with ``reset="sample"`` to the sample that fired, :math:`r_t = x_t` (send-on-delta, as
    an event-camera pixel does; the size of each jump is lost, so there is no bounded decoder).

    At most one spike per channel per step. Reconstruction bound (``reset="step"``, ``initial=None``): if the
    signal moves by at most ``h`` per step, :math:`|x_t - \hat x_t| < h` at every step. (Induction: the error
    before a step is in :math:`(-h, h)`, the move adds at most ``h``, and a spike takes ``h`` back off whenever the
    sum reaches ``h``.) Faster signals overload the slope: the error then shrinks by ``h`` per step once the
    signal slows down again.

    Args:
        x: signal ``[T, ...]`` (any trailing dims, batch included), floating point.
        threshold: step ``h`` > 0 in the signal's units; a scalar or a tensor broadcastable to ``x.shape[1:]``
            (per-channel thresholds).
        reset: ``"step"`` (reference moves by ``h``) or ``"sample"`` (reference jumps to the sample).
        initial: starting reference, scalar or broadcastable to ``x.shape[1:]``; ``None`` uses ``x[0]``.

    Shape:
        ``x``: ``[T, *S]`` -> spikes ``[T, *S, 2]`` (``[..., 0]`` up, ``[..., 1]`` down), dtype of ``x``.

    >>> import torch
    >>> x = torch.tensor([0.0, 0.3, 0.6, 0.6, 0.2])
    >>> z = delta(x, 0.25)
    >>> z[..., 0].tolist(), z[..., 1].tolist()
    ([0.0, 1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0, 1.0])
    >>> delta_decode(z, 0.25, initial=x[0]).tolist()
    [0.0, 0.25, 0.5, 0.5, 0.25]
    """
    x = _check_signal(x)
    h = _check_positive("threshold", threshold, x[0])
    start = _start(initial, x[0])
    if reset == "step":
        return _track(x, h, start, strict=False, first=0)
    if reset != "sample":
        raise ValueError(f"reset: expected 'step' or 'sample', got {reset!r}")
    xs, hs, ref = _numpy(x), _numpy(h), _numpy(start).copy()
    moves = np.zeros(xs.shape, dtype=xs.dtype)
    for t in range(xs.shape[0]):
        up, down = xs[t] - ref >= hs, ref - xs[t] >= hs
        moves[t] = np.subtract(up, down, dtype=xs.dtype)
        ref = np.where(up | down, xs[t], ref)
    return _spikes(moves, x)


def delta_decode(z: torch.Tensor, threshold: float | torch.Tensor, *, initial: float | torch.Tensor) -> torch.Tensor:
    r"""Reconstruct a signal from :func:`delta` spikes (``reset="step"``): :math:`\hat x_t = r_0 + h \sum_{s \le t}
    (z^{up}_s - z^{down}_s)`, the encoder's reference after step ``t``.

    Args:
        z: up/down spikes ``[T, *S, 2]``.
        threshold: the encoder's ``h``.
        initial: the encoder's starting reference (``x[0]`` when the encoder used ``initial=None``).

    Shape:
        ``z``: ``[T, *S, 2]`` -> ``[T, *S]``.
    """
    z = _check_polarity(z)
    h = _check_positive("threshold", threshold, z[0, ..., 0])
    start = _start(initial, z[0, ..., 0])
    return start + h * _steps(z)


def step_forward(x: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
    r"""Step-forward (SF) encoding, as defined by Petro et al. (2020, IEEE TNNLS 31(5)).

    The base starts at the first sample, :math:`b_0 = x_0`; for :math:`t \ge 1` an up spike fires when
    :math:`x_t > b_{t-1} + h` (then :math:`b_t = b_{t-1} + h`), a down spike when :math:`x_t < b_{t-1} - h`
    (then :math:`b_t = b_{t-1} - h`). The paper's signed output (+1/-1) is split here into up and down channels.
    SF is :func:`delta` with ``reset="step"`` and ``initial=x[0]`` except for the tie rule (strict comparisons,
    so a move of exactly ``h`` does not fire).

    Reconstruction bound: if the signal moves by at most ``h`` per step, :func:`step_forward_decode` is within
    ``h`` of the signal at every step, :math:`|x_t - b_t| \le h`.

    Args:
        x: signal ``[T, ...]``, floating point.
        threshold: ``h`` > 0 in the signal's units; scalar or broadcastable to ``x.shape[1:]``.

    Shape:
        ``x``: ``[T, *S]`` -> spikes ``[T, *S, 2]`` (``[..., 0]`` up, ``[..., 1]`` down).

    >>> import torch
    >>> x = torch.tensor([1.0, 1.5, 2.2, 2.0, 0.9])
    >>> z = step_forward(x, 0.5)
    >>> (z[..., 0] - z[..., 1]).tolist()
    [0.0, 0.0, 1.0, 0.0, -1.0]
    >>> step_forward_decode(z, 0.5, initial=x[0]).tolist()
    [1.0, 1.0, 1.5, 1.5, 1.0]
    """
    x = _check_signal(x)
    h = _check_positive("threshold", threshold, x[0])
    return _track(x, h, x[0].clone(), strict=True, first=1)


def step_forward_decode(
    z: torch.Tensor, threshold: float | torch.Tensor, *, initial: float | torch.Tensor
) -> torch.Tensor:
    r"""Reconstruct a signal from :func:`step_forward` spikes: the base :math:`b_t = x_0 + h \sum_{s \le t}
    (z^{up}_s - z^{down}_s)`.

    Args:
        z: up/down spikes ``[T, *S, 2]``.
        threshold: the encoder's ``h``.
        initial: the first sample of the encoded signal, ``x[0]``.

    Shape:
        ``z``: ``[T, *S, 2]`` -> ``[T, *S]``.
    """
    return delta_decode(z, threshold, initial=initial)


def level_crossing(
    x: torch.Tensor,
    spacing: float | torch.Tensor,
    *,
    offset: float | torch.Tensor = 0.0,
    initial: float | torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Level-crossing encoding on a fixed grid of levels :math:`L_k = \text{offset} + k\,\Delta`.

    The quantised level of a sample is :math:`q_t = \lfloor (x_t - \text{offset}) / \Delta \rfloor`. A counter
    :math:`k` starts at the level of ``initial`` (default ``x[0]``); at each step an up spike fires when
    :math:`q_t > k_{t-1}`, a down spike when :math:`q_t < k_{t-1}`, and :math:`k` moves one level towards
    :math:`q_t`. Unlike :func:`delta`, the levels are absolute: a signal that hovers on a level fires alternately
    up and down (no hysteresis).

    Reconstruction bound: if the signal moves by less than one level per step (:math:`|x_t - x_{t-1}| < \Delta`),
    every crossing is reported, :math:`k_t = q_t`, and :func:`level_crossing_decode` (the mid-point of the current
    level) is within half a level, :math:`|x_t - \hat x_t| \le \Delta / 2`. Faster signals are followed one level
    per step.

    Args:
        x: signal ``[T, ...]``, floating point.
        spacing: level spacing :math:`\Delta` > 0; scalar or broadcastable to ``x.shape[1:]``.
        offset: position of level 0.
        initial: value whose level the counter starts at; ``None`` uses ``x[0]`` (no spike at step 0).

    Shape:
        ``x``: ``[T, *S]`` -> spikes ``[T, *S, 2]`` (``[..., 0]`` up, ``[..., 1]`` down).

    >>> import torch
    >>> x = torch.tensor([0.1, 0.4, 0.9, 1.3, 0.7])
    >>> z = level_crossing(x, 0.5)
    >>> (z[..., 0] - z[..., 1]).tolist()
    [0.0, 0.0, 1.0, 1.0, -1.0]
    >>> level_crossing_decode(z, 0.5, initial=x[0]).tolist()
    [0.25, 0.25, 0.75, 1.25, 0.75]
    """
    x = _check_signal(x)
    step = _check_positive("spacing", spacing, x[0])
    off = torch.as_tensor(offset, dtype=x.dtype, device=x.device)
    k = _numpy(torch.floor((_start(initial, x[0]) - off) / step)).copy()
    q = _numpy(torch.floor((x - off) / step))
    moves = np.zeros(q.shape, dtype=q.dtype)
    for t in range(q.shape[0]):
        moves[t] = np.subtract(q[t] > k, q[t] < k, dtype=q.dtype)
        k += moves[t]
    return _spikes(moves, x)


def level_crossing_decode(
    z: torch.Tensor,
    spacing: float | torch.Tensor,
    *,
    initial: float | torch.Tensor,
    offset: float | torch.Tensor = 0.0,
) -> torch.Tensor:
    r"""Reconstruct a signal from :func:`level_crossing` spikes: the mid-point
    :math:`\text{offset} + (k_t + \tfrac12)\Delta` of the level the counter is on.

    Args:
        z: up/down spikes ``[T, *S, 2]``.
        spacing: the encoder's :math:`\Delta`.
        initial: the encoder's starting value (``x[0]`` when it used ``initial=None``).
        offset: the encoder's ``offset``.

    Shape:
        ``z``: ``[T, *S, 2]`` -> ``[T, *S]``.
    """
    z = _check_polarity(z)
    step = _check_positive("spacing", spacing, z[0, ..., 0])
    off = torch.as_tensor(offset, dtype=z.dtype, device=z.device)
    k0 = torch.floor((_start(initial, z[0, ..., 0]) - off) / step)
    return off + (k0 + _steps(z) + 0.5) * step


def _centres(n_neurons: int, low: float, high: float, like: torch.Tensor) -> tuple[torch.Tensor, float]:
    if not isinstance(n_neurons, int) or isinstance(n_neurons, bool) or n_neurons < 3:
        raise ValueError(f"n_neurons: expected an int >= 3 (two centres lie outside [low, high]), got {n_neurons!r}")
    if not (math.isfinite(low) and math.isfinite(high) and high > low):
        raise ValueError(f"low, high: expected finite bounds with high > low, got low={low!r}, high={high!r}")
    spacing = (high - low) / (n_neurons - 2)
    i = torch.arange(1, n_neurons + 1, dtype=like.dtype, device=like.device)
    return low + (2 * i - 3) / 2 * spacing, spacing


def receptive_fields(x: torch.Tensor, n_neurons: int, *, low: float, high: float, beta: float = 1.5) -> torch.Tensor:
    r"""Gaussian receptive-field responses in [0, 1] (Bohte, Kok & La Poutré, 2002).

    ``n`` neurons cover ``[low, high]`` with centres :math:`\mu_i = \text{low} + \frac{2i - 3}{2} d`,
    :math:`i = 1..n`, :math:`d = (\text{high} - \text{low}) / (n - 2)` (the first and last centres lie half a
    spacing outside the range) and width :math:`\sigma = d / \beta`; the response is
    :math:`\exp(-(x - \mu_i)^2 / 2\sigma^2)`. Feed it to :func:`population` (deterministic), or to
    :func:`~spikeforge.encoding.latency` / :func:`~spikeforge.encoding.rate` for Bohte's latency code or a rate code.

    Shape:
        ``x``: ``[*S]`` -> ``[*S, n_neurons]``.

    >>> import torch
    >>> receptive_fields(torch.tensor([0.5]), 4, low=0.0, high=1.0).argmax(-1).tolist()
    [1]
    """
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x: expected a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    if not (isinstance(beta, int | float) and beta > 0 and math.isfinite(beta)):
        raise ValueError(f"beta: expected a positive width factor, got {beta!r}")
    if torch.isnan(x).any():  # an infinite value is far from every centre (no response); NaN has no place
        check_finite("x", x)
    centres, spacing = _centres(n_neurons, float(low), float(high), x)
    sigma = spacing / beta
    return torch.exp(-((x.unsqueeze(-1) - centres) ** 2) / (2 * sigma**2))


def population(
    x: torch.Tensor, n_neurons: int, *, low: float, high: float, beta: float = 1.5, threshold: float = 0.5
) -> torch.Tensor:
    r"""Gaussian receptive-field population code, one step at a time: neuron ``i`` spikes at step ``t`` when its
    response :func:`receptive_fields` to :math:`x_t` is at least ``threshold``, i.e. when
    :math:`|x_t - \mu_i| \le r = \sigma\sqrt{2\ln(1/\text{threshold})}`.

    Reconstruction bound: :func:`population_decode` (centre of mass of the spiking centres) is within
    :math:`|x_t - \hat x_t| \le \tfrac{d}{2}\max(c, 1 - c) < d/2`, :math:`c = \operatorname{frac}(2r/d)`, for every
    :math:`x_t` in ``[low, high]`` when :math:`d/2 \le r < 3d/2` (defaults: :math:`r \approx 0.785\,d`, bound
    :math:`0.285\,d`). The spiking centres are the contiguous grid points within ``r`` of ``x``, so their mean is
    the mid-point of the first and last; writing the window ends in grid units gives the bound. At the edges the
    outer centres keep it while ``r < 3d/2`` (wider windows bias edge values towards the middle).
    Values outside ``[low - d/2 - r, high + d/2 + r]`` fire no neuron.

    Args:
        x: signal ``[T, ...]`` (or any tensor of values), floating point.
        n_neurons: number of neurons ``n`` >= 3.
        low, high: range covered.
        beta: width factor, :math:`\sigma = d/\beta` (Bohte et al. use 1.5).
        threshold: response in (0, 1) at which a neuron fires; it must leave no gap, :math:`r \ge d/2`.

    Shape:
        ``x``: ``[T, *S]`` -> spikes ``[T, *S, n_neurons]``.

    >>> import torch
    >>> z = population(torch.tensor([0.0, 0.37, 1.0]), 12, low=0.0, high=1.0)
    >>> [round(v, 4) for v in population_decode(z, low=0.0, high=1.0).tolist()]
    [0.0, 0.35, 1.0]
    """
    if not (isinstance(threshold, int | float) and 0 < threshold < 1):
        raise ValueError(f"threshold: expected a response level in (0, 1), got {threshold!r}")
    a = receptive_fields(x, n_neurons, low=low, high=high, beta=beta)
    spacing = (high - low) / (n_neurons - 2)
    radius = spacing / beta * math.sqrt(2 * math.log(1 / threshold))
    if radius < spacing / 2:
        raise ValueError(
            f"threshold: {threshold!r} with beta={beta!r} leaves gaps where no neuron fires (firing radius "
            f"{radius / spacing:.3g} spacings, need >= 0.5); lower the threshold or the beta"
        )
    return (a >= threshold).to(x.dtype)


def population_decode(z: torch.Tensor, *, low: float, high: float) -> torch.Tensor:
    r"""Centre of mass :math:`\hat x = \sum_i w_i \mu_i / \sum_i w_i` of the receptive-field centres, weighted by
    spikes, spike counts or responses along the last dimension (``NaN`` where all weights are zero).

    With Poisson spike counts and a dense, uniform grid of Gaussian tuning curves (whose sum is then flat),
    this centre of mass is also the maximum-likelihood estimate. Weighted by the graded
    :func:`receptive_fields` responses, the error away from the edges is below :math:`0.001\,d` for
    ``beta = 1.5`` (Poisson summation over the uniform grid).

    Shape:
        ``z``: ``[*S, n_neurons]`` -> ``[*S]``.
    """
    if not isinstance(z, torch.Tensor) or z.dim() < 1:
        raise ValueError(f"z: expected weights [..., n_neurons], got {getattr(z, 'shape', type(z).__name__)}")
    w = z if z.is_floating_point() else z.float()
    if (w < 0).any():
        raise ValueError("z: expected non-negative spikes, counts or responses")
    centres, _ = _centres(w.shape[-1], float(low), float(high), w)
    total = w.sum(-1)
    return torch.where(total > 0, (w * centres).sum(-1) / total.clamp_min(torch.finfo(w.dtype).tiny), torch.nan)
