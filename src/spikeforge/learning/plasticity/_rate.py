r"""Rate-based rules on a dense weight ``W`` ``[n_post, n_pre]``: inputs ``x`` ``[B, n_pre]`` and outputs
``y`` ``[B, n_post]`` are rates (or any real activities); :math:`\langle\cdot\rangle` is the batch mean.

- :class:`Hebbian`: :math:`\Delta W = \eta \langle y x^\top \rangle` (Hebb 1949); unbounded without bounds or
  normalisation.
- :class:`Oja`: :math:`\Delta W_i = \eta \langle y_i (x - y_i W_i) \rangle` (Oja 1982, J. Math. Biol. 15:267), per
  output row :math:`i`; for :math:`y = W x` and zero-mean input, each row converges to a unit vector along the first
  principal component of :math:`x` (tested against the eigenvector).
- :class:`BCM`: :math:`\Delta W = \eta \langle (y (y - \theta)) x^\top \rangle` with a sliding threshold
  :math:`\theta = \bar y^2 / y_0`, where :math:`\bar y` low-passes the batch-mean rate with time constant
  :math:`\tau_\theta` (s): :math:`\bar y \leftarrow \bar y + (dt/\tau_\theta)(\langle y\rangle - \bar y)`
  (Bienenstock, Cooper & Munro 1982; the threshold follows the square of the mean rate, tested). ``y0`` (rate
  units) sets the rate at which :math:`\theta = \bar y`.

All three are batched exactly as stated (batch mean of the per-sample change); :class:`BCM`'s threshold is
sequential in time.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._checks import check_positive

__all__ = ["BCM", "Hebbian", "Oja"]


def _check(w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> None:
    if w.dim() != 2:
        raise ValueError(f"w: expected a dense weight [n_post, n_pre], got shape {list(w.shape)}")
    if x.dim() != 2 or x.shape[1] != w.shape[1]:
        raise ValueError(f"x: expected [B, {w.shape[1]}] (batch, n_pre), got shape {list(x.shape)}")
    if y.dim() != 2 or y.shape != (x.shape[0], w.shape[0]):
        raise ValueError(f"y: expected [{x.shape[0]}, {w.shape[0]}] (batch, n_post), got shape {list(y.shape)}")
    for name, t in (("x", x), ("y", y)):
        if not bool(torch.isfinite(t).all()):
            raise ValueError(f"{name}: expected finite values, got " + ("NaN" if bool(t.isnan().any()) else "Inf"))


@dataclass(frozen=True)
class Hebbian:
    lr: float = 1e-3

    def __post_init__(self) -> None:
        check_positive("lr", self.lr)

    def delta(self, w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _check(w, x, y)
        return self.lr * y.T @ x / x.shape[0]


@dataclass(frozen=True)
class Oja:
    lr: float = 1e-3

    def __post_init__(self) -> None:
        check_positive("lr", self.lr)

    def delta(self, w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _check(w, x, y)
        n = x.shape[0]
        return self.lr * (y.T @ x - (y * y).sum(0)[:, None] * w) / n


class BCM:
    """BCM with a sliding threshold; ``state`` is :math:`\\bar y` ``[n_post]`` (starts at ``y_init``)."""

    def __init__(
        self, lr: float = 1e-3, *, tau_theta: float = 1.0, dt: float = 1e-3, y0: float = 1.0, y_init: float = 0.0
    ):
        self.lr = check_positive("lr", lr)
        self.tau_theta = check_positive("tau_theta", tau_theta, unit="s")
        self.dt = check_positive("dt", dt, unit="s")
        self.y0 = check_positive("y0", y0)
        if self.dt > self.tau_theta:
            raise ValueError(f"dt: expected at most tau_theta={self.tau_theta:g} s (a stable average), got {self.dt:g}")
        self.y_init = float(y_init)
        self.y_bar: torch.Tensor | None = None

    @property
    def theta(self) -> torch.Tensor:
        if self.y_bar is None:
            raise RuntimeError("theta: no step yet; call delta() first")
        return self.y_bar**2 / self.y0

    def delta(self, w: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        _check(w, x, y)
        if self.y_bar is None:
            self.y_bar = torch.full((w.shape[0],), self.y_init, dtype=y.dtype)
        self.y_bar = self.y_bar + (self.dt / self.tau_theta) * (y.mean(0) - self.y_bar)
        phi = y * (y - self.theta)
        return self.lr * phi.T @ x / x.shape[0]
