r"""The Yin-Yang data set (Kriener, Göltz, Petrovici et al. 2022), generated procedurally from a seed.

Points ``(x, y)`` are drawn uniformly in the unit square and kept inside the disc of radius ``R = 0.5`` around
``(0.5, 0.5)``. With the dots' centres ``c_l = (0.25, 0.5)``, ``c_r = (0.75, 0.5)``, their radius ``r = 0.1`` and
``d_l``, ``d_r`` the distances to them, a point is

- a **dot** (class 2) when ``d_l < r`` or ``d_r < r``;
- **yin** (class 1) when ``d_r <= r``, or ``r < d_l <= R/2``, or (``y > 0.5`` and ``d_r > R/2``);
- **yang** (class 0) otherwise.

Each sample's class is drawn first (uniformly) and points are drawn until one of that class comes up, so the
classes are balanced. The features are ``(x, 1 - x, y, 1 - y)``: a linear classifier reaches only about 64% (the
paper's shallow baseline), so a network that does much better uses its hidden layer.

As spikes (:func:`yinyang_spike_times`): each feature ``u`` in ``[0, 1]`` becomes one spike at
``t = t_early + u (t_late - t_early)``, and a fifth input, the bias, spikes at ``t_bias``. :func:`load_yinyang`
also lays these spikes on a time grid (``[T, N, 5]``, one 1 per input in the step that holds its spike) so that the
data set trains through the ordinary pipeline like any other series.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._timeseries import SeriesSplit

__all__ = ["YINYANG_SIZES", "YinYangSplit", "load_yinyang", "yinyang_points", "yinyang_spike_times"]

R_BIG, R_SMALL = 0.5, 0.1
#: samples per part, as in the paper's published split
YINYANG_SIZES = {"train": 5000, "val": 1000, "test": 1000}
#: default spike-latency encoding (seconds) and time grid of the series form
T_EARLY, T_LATE, T_BIAS, T_END, DT = 0.0, 30e-3, 0.0, 60e-3, 1e-3


def yinyang_class(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The class (0 yang, 1 yin, 2 dot) of points inside the big disc."""
    d_l = np.hypot(x - 0.5 * R_BIG, y - R_BIG)
    d_r = np.hypot(x - 1.5 * R_BIG, y - R_BIG)
    dot = (d_l < R_SMALL) | (d_r < R_SMALL)
    yin = (d_r <= R_SMALL) | ((d_l > R_SMALL) & (d_l <= 0.5 * R_BIG)) | ((y > R_BIG) & (d_r > 0.5 * R_BIG))
    return np.where(dot, 2, yin.astype(np.int64))


def yinyang_points(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points ``[n, 2]`` (float64) and their balanced classes ``[n]``, reproducible from ``seed``."""
    if not isinstance(n, int) or n <= 0:
        raise ValueError(f"n: expected a positive number of samples, got {n!r}")
    rng = np.random.default_rng(seed)
    want = rng.integers(0, 3, n)
    pools: dict[int, list[np.ndarray]] = {0: [], 1: [], 2: []}
    need = np.bincount(want, minlength=3)
    while any(sum(len(p) for p in pools[c]) < need[c] for c in range(3)):
        xy = rng.random((4 * n + 64, 2))
        xy = xy[np.hypot(xy[:, 0] - R_BIG, xy[:, 1] - R_BIG) <= R_BIG]
        cls = yinyang_class(xy[:, 0], xy[:, 1])
        for c in range(3):
            pools[c].append(xy[cls == c])
    points = np.empty((n, 2))
    for c in range(3):
        points[want == c] = np.concatenate(pools[c])[: need[c]]
    return points, want.astype(np.int64)


def yinyang_features(points: torch.Tensor) -> torch.Tensor:
    """``(x, 1 - x, y, 1 - y)`` ``[N, 4]``."""
    x, y = points[:, 0], points[:, 1]
    return torch.stack([x, 1 - x, y, 1 - y], 1)


def yinyang_spike_times(
    points: torch.Tensor, *, t_early: float = T_EARLY, t_late: float = T_LATE, t_bias: float = T_BIAS
) -> torch.Tensor:
    """Input spike times ``[N, 5]`` (s): the four features as latencies, then the bias spike."""
    if not t_late > t_early >= 0 or t_bias < 0:
        raise ValueError(
            f"t_early, t_late, t_bias: expected 0 <= t_early < t_late and t_bias >= 0, got "
            f"{t_early!r}, {t_late!r}, {t_bias!r}"
        )
    lat = t_early + yinyang_features(points) * (t_late - t_early)
    return torch.cat([lat, torch.full_like(lat[:, :1], t_bias)], 1)


class YinYangSplit(SeriesSplit):
    """A :class:`SeriesSplit` of the Yin-Yang spikes on a grid, which also keeps the points ``points_*``
    ``[N, 2]`` (float64) and the encoding (``t_early``, ``t_late``, ``t_bias``, ``t_end``, ``dt``; seconds), so
    that an event-driven method can use the exact spike times."""

    points_train: torch.Tensor
    points_val: torch.Tensor
    points_test: torch.Tensor
    encoding: dict

    def spike_times(self, which: str) -> torch.Tensor:
        """Exact input spike times ``[N, 5]`` of one part (``train``, ``val`` or ``test``)."""
        enc = {k: v for k, v in self.encoding.items() if k in ("t_early", "t_late", "t_bias")}
        return yinyang_spike_times(getattr(self, f"points_{which}"), **enc)


def load_yinyang(
    arg: str = "", *, split_seed: int = 0, missing: str = "error", dt: float = DT, t_end: float = T_END
) -> YinYangSplit:
    """The Yin-Yang data set: 5000 / 1000 / 1000 points (train / validation / test), each part from its own seed
    derived from ``split_seed``, as spikes on a grid of step ``dt`` up to ``t_end`` (``[T, N, 5]``)."""
    del arg, missing  # a bare name: nothing to read, no missing values
    if not (dt > 0 and t_end > T_LATE and math.isfinite(t_end)):
        raise ValueError(f"dt, t_end: expected dt > 0 and a finite t_end > {T_LATE}, got {dt!r}, {t_end!r}")
    steps = round(t_end / dt)
    parts = {}
    for k, (part, n) in enumerate(YINYANG_SIZES.items()):
        points, labels = yinyang_points(n, seed=int(split_seed) * 3 + k + 1)
        pts = torch.from_numpy(points)
        times = yinyang_spike_times(pts)
        x = torch.zeros(steps, n, 5)
        step = torch.ceil(times / dt).long().clamp(max=steps - 1)
        x[step, torch.arange(n)[:, None].expand(-1, 5), torch.arange(5)] = 1.0
        parts[part] = (x, torch.from_numpy(labels), torch.full((n,), steps, dtype=torch.int64), pts)
    split = YinYangSplit(
        "yinyang",
        *parts["train"][:3],
        *parts["val"][:3],
        *parts["test"][:3],
        3,
        ["yang", "yin", "dot"],
        torch.zeros(5),
        torch.ones(5),
    )
    split.points_train, split.points_val, split.points_test = (parts[p][3] for p in ("train", "val", "test"))
    split.encoding = {"t_early": T_EARLY, "t_late": T_LATE, "t_bias": T_BIAS, "t_end": t_end, "dt": dt}
    return split
