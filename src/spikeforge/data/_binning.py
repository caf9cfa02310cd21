"""Binning spike times to time-first count tensors, and batching variable-length samples ``[T, B, ...]``.

A spike at time ``t`` lands in step ``k`` with ``k * dt <= t < (k + 1) * dt``, counted once per spike; the edges
are the float64 values ``k * dt`` (as in ``numpy.histogram(t, bins=arange(T + 1) * dt)``), so a spike at 0.29 s
with ``dt = 10 ms`` opens step 29 although ``0.29 / 0.01`` rounds to 28.999999999999996.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import torch

from ..units import check_dt

__all__ = ["SpikeBatch", "bin_spikes", "collate_spikes"]

OnInvalid = Literal["raise", "drop"]


def steps_for(dt: float, duration: float | None, n_steps: int | None) -> int | None:
    """Number of steps a fixed window holds (``ceil(duration / dt)``, ``n_steps``) or ``None`` for no window."""
    if duration is not None and n_steps is not None:
        raise ValueError(f"give duration or n_steps, not both (got duration={duration!r}, n_steps={n_steps!r})")
    if n_steps is not None:
        if not isinstance(n_steps, int) or isinstance(n_steps, bool) or n_steps <= 0:
            raise ValueError(f"n_steps: expected a positive int, got {n_steps!r}")
        return n_steps
    if duration is not None:
        if not isinstance(duration, int | float) or not math.isfinite(duration) or duration <= 0:
            raise ValueError(f"duration: expected a positive number of seconds, got {duration!r}")
        ratio = duration / dt
        return max(1, round(ratio) if abs(ratio - round(ratio)) < 1e-9 * max(1.0, ratio) else math.ceil(ratio))
    return None


def time_bins(t: np.ndarray, dt: float) -> np.ndarray:
    """Step index ``k`` with ``k * dt <= t < (k + 1) * dt`` for times ``t`` (s, float64), exact at the bin edges."""
    k = np.floor(t / dt)
    k += (k + 1) * dt <= t  # t / dt rounded down across an edge
    k -= k * dt > t  # ... or up
    return k.astype(np.int64)


def check_on_invalid(on_invalid: str) -> None:
    if on_invalid not in ("raise", "drop"):
        raise ValueError(f"on_invalid: expected 'raise' or 'drop', got {on_invalid!r}")


def bin_spikes(
    times: Any,
    units: Any,
    *,
    dt: float,
    n_channels: int,
    duration: float | None = None,
    n_steps: int | None = None,
    pool: int = 1,
    binary: bool = False,
    on_invalid: OnInvalid = "raise",
    dtype: torch.dtype = torch.float32,
    where: str = "",
) -> torch.Tensor:
    """Bin spike times (s) and channel indices into a time-first count tensor ``[T, n_channels // pool]``.

    Args:
        times: spike times in seconds, shape ``[N]`` (any float dtype; float16 is widened to float64 first).
        units: channel of each spike, integers in ``[0, n_channels)``, shape ``[N]``.
        dt: step length in seconds.
        n_channels: number of input channels (700 for SHD/SSC).
        duration: window length in seconds (``ceil(duration / dt)`` steps); spikes after it are cropped.
        n_steps: window length in steps (instead of ``duration``). With neither, ``T`` ends at the last spike.
        pool: sum groups of ``pool`` neighbouring channels (700 -> 140 with ``pool=5``); must divide ``n_channels``.
        binary: clip counts to 1 (a step holds "spike" or "no spike").
        on_invalid: ``"raise"`` a ``ValueError`` for NaN/infinite/negative times or channels out of range, or
            ``"drop"`` those spikes silently.
        dtype: floating dtype of the result.
        where: prefix for error messages (file and sample).

    Returns:
        ``[T, n_channels // pool]`` tensor of spike counts (or 0/1 with ``binary``).

    >>> bin_spikes([0.0, 0.0004, 0.0025], [1, 1, 3], dt=1e-3, n_channels=4).tolist()
    [[0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]
    """
    dt = check_dt(dt)
    check_on_invalid(on_invalid)
    if not isinstance(pool, int) or pool <= 0 or n_channels % pool:
        raise ValueError(f"pool: expected a positive int that divides n_channels={n_channels}, got {pool!r}")
    window = steps_for(dt, duration, n_steps)
    t = np.asarray(times, dtype=np.float64).reshape(-1)
    c = np.asarray(units).reshape(-1)
    if len(t) != len(c):
        raise ValueError(f"{where}times and units: expected one unit per spike, got {len(t)} times and {len(c)} units")
    if c.dtype.kind not in "iub":
        raise TypeError(f"{where}units: expected integer channel indices, got dtype {c.dtype}")
    c = c.astype(np.int64)
    bad_t = ~np.isfinite(t) | (t < 0)
    bad_c = (c < 0) | (c >= n_channels)
    if bad_t.any() or bad_c.any():
        if on_invalid == "raise":
            if bad_t.any():
                i = int(np.flatnonzero(bad_t)[0])
                raise ValueError(
                    f"{where}times: expected finite times >= 0 s, got {float(t[i])!r} at spike {i} "
                    f"({int(bad_t.sum())} bad); pass on_invalid='drop' to skip such spikes"
                )
            i = int(np.flatnonzero(bad_c)[0])
            raise ValueError(
                f"{where}units: expected channels in [0, {n_channels}), got {int(c[i])} at spike {i} "
                f"({int(bad_c.sum())} bad); pass on_invalid='drop' to skip such spikes"
            )
        keep = ~(bad_t | bad_c)
        t, c = t[keep], c[keep]
    k = time_bins(t, dt)
    n_t = window if window is not None else max(1, int(k.max()) + 1 if len(k) else 1)
    inside = k < n_t
    width = n_channels // pool
    flat = k[inside] * width + c[inside] // pool
    counts = np.bincount(flat, minlength=n_t * width).reshape(n_t, width)
    if binary:
        counts = np.minimum(counts, 1)
    return torch.from_numpy(counts).to(dtype)


class SpikeBatch(NamedTuple):
    """A padded batch: ``x`` ``[T, B, *features]``, labels ``y`` ``[B]``, ``lengths`` ``[B]``, ``mask`` ``[T, B]``."""

    x: torch.Tensor
    y: torch.Tensor
    lengths: torch.Tensor
    mask: torch.Tensor


def collate_spikes(batch: Sequence[tuple[torch.Tensor, int]]) -> SpikeBatch:
    """Stack ``(x [T_i, *features], label)`` samples time-first, padding with zeros after each sample's end.

    ``lengths[b]`` is ``T_b`` and ``mask[t, b]`` is ``t < T_b``. Use it as
    ``DataLoader(..., collate_fn=collate_spikes)``.

    >>> import torch
    >>> b = collate_spikes([(torch.ones(2, 3), 0), (torch.ones(4, 3), 5)])
    >>> tuple(b.x.shape), b.y.tolist(), b.lengths.tolist(), b.mask[:, 0].tolist()
    ((4, 2, 3), [0, 5], [2, 4], [True, True, False, False])
    """
    if len(batch) == 0:
        raise ValueError("batch: expected at least one (x, label) sample, got an empty batch")
    xs = [x for x, _ in batch]
    features = xs[0].shape[1:]
    for i, x in enumerate(xs):
        if x.dim() < 1 or x.shape[1:] != features:
            raise ValueError(
                f"batch: sample {i} has shape {tuple(x.shape)}, expected [T, {', '.join(map(str, features))}]"
                " like sample 0 (time first, same features)"
            )
    lengths = torch.tensor([x.shape[0] for x in xs], dtype=torch.int64)
    out = xs[0].new_zeros((int(lengths.max()), len(xs), *features))
    for b, x in enumerate(xs):
        out[: x.shape[0], b] = x
    y = torch.tensor([int(label) for _, label in batch], dtype=torch.int64)
    mask = torch.arange(out.shape[0])[:, None] < lengths[None, :]
    return SpikeBatch(out, y, lengths, mask)
