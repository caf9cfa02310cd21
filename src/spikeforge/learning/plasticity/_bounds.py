r"""Weight bounds: how a potentiation :math:`P \ge 0` and a depression :math:`D \ge 0` become a weight change.

- ``"hard"`` (additive): :math:`w \leftarrow \mathrm{clip}(w + \eta (P - D),\ w_\min,\ w_\max)`; the change does
  not depend on :math:`w` until it hits a bound.
- ``"soft"`` (multiplicative, weight-dependent; van Rossum, Bi & Turrigiano 2000, Guetig et al. 2003 with exponent
  :math:`\mu`): :math:`\Delta w = \eta \left[P\,(w_\max - w)^\mu - D\,(w - w_\min)^\mu\right]`, so potentiation fades
  near :math:`w_\max` and depression near :math:`w_\min`; the result is clipped as well, which matters only for steps
  so large that they would overshoot a bound.

Under uncorrelated pre- and post-synaptic Poisson firing at rates :math:`\rho_\text{pre}, \rho_\text{post}`, pair
STDP with soft bounds (:math:`\mu = 1`) drifts as :math:`\dot w = \rho_\text{pre}\rho_\text{post}\,[A_+\tau_+ (w_\max -
w) - A_-\tau_- (w - w_\min)]`, whose fixed point is
:math:`w^* = (A_+\tau_+ w_\max + A_-\tau_- w_\min) / (A_+\tau_+ + A_-\tau_-)` (tested).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._checks import check_bounds, check_positive

__all__ = ["BOUND_KINDS", "Bounds"]

#: the kinds of bounds (names read from here)
BOUND_KINDS: tuple[str, ...] = ("hard", "soft")


@dataclass(frozen=True)
class Bounds:
    """``w_min < w_max`` (weight units), ``kind`` in :data:`BOUND_KINDS`, soft-bound exponent ``mu`` (> 0)."""

    w_min: float = 0.0
    w_max: float = 1.0
    kind: str = "hard"
    mu: float = 1.0

    def __post_init__(self) -> None:
        check_bounds(self.w_min, self.w_max)
        if self.kind not in BOUND_KINDS:
            raise ValueError(f"kind: expected one of {list(BOUND_KINDS)}, got {self.kind!r}")
        check_positive("mu", self.mu)

    def delta(self, w: torch.Tensor, potentiation: torch.Tensor, depression: torch.Tensor, lr: float) -> torch.Tensor:
        """:math:`\\Delta w` (shape of ``w``) before clipping."""
        if self.kind == "hard":
            return lr * (potentiation - depression)
        up = (self.w_max - w).clamp_min(0)
        down = (w - self.w_min).clamp_min(0)
        if self.mu != 1.0:
            up, down = up.pow(self.mu), down.pow(self.mu)
        return lr * (potentiation * up - depression * down)

    @torch.no_grad()
    def apply_(self, w: torch.Tensor, potentiation: torch.Tensor, depression: torch.Tensor, lr: float) -> torch.Tensor:
        """Add the bounded change to ``w`` in place and return ``w``."""
        w.add_(self.delta(w, potentiation, depression, lr)).clamp_(self.w_min, self.w_max)
        return w

    @torch.no_grad()
    def clip_(self, w: torch.Tensor) -> torch.Tensor:
        return w.clamp_(self.w_min, self.w_max)
