r"""Quantisation-clip-floor-shift activation (Bu et al., "Optimal ANN-SNN conversion for high-accuracy and
ultra-low-latency spiking neural networks", ICLR 2022), a drop-in ReLU replacement for ANNs meant for conversion.

.. math::
    h(x) = \lambda \cdot \operatorname{clip}\Big(\frac{1}{L}\Big\lfloor \frac{x L}{\lambda} + \varphi \Big\rfloor,
    0, 1\Big), \qquad \varphi = \tfrac12

with ``L`` quantisation levels and a trainable upper bound :math:`\lambda` (the ``threshold``). The floor is trained
with the straight-through estimator (its gradient taken as 1), as in the authors' code: where the output is not
clipped, :math:`\partial h / \partial x = 1` and :math:`\partial h / \partial \lambda = h/\lambda - x/\lambda`
(the rounding remainder, :math:`\varphi / L` on average); where it is clipped at the top,
:math:`\partial h / \partial x = 0` and :math:`\partial h / \partial \lambda = 1`; below, both are 0.

Why it converts well: an IF neuron with threshold :math:`\vartheta = \lambda`, reset by subtraction and started at
:math:`v_0 = \vartheta / 2`, fed a constant current :math:`x`, emits :math:`\lfloor x T / \lambda + 1/2 \rfloor`
spikes (clipped to [0, T]) in T steps, so its rate times :math:`\lambda` is exactly :math:`h(x)` with :math:`L = T`;
for :math:`T \ne L` the expected conversion error is still zero for uniformly spread inputs (the paper's Theorem 2).
:func:`~spikeforge.learning.conversion.convert` uses :math:`\lambda` as the layer's scale instead of a percentile.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["QCFS"]


class _FloorSTE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return torch.floor(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


class QCFS(nn.Module):
    r"""QCFS activation: ``QCFS(levels=8, threshold=8.0)(x) -> h(x)``, same shape as ``x`` (any shape).

    Args:
        levels: quantisation steps :math:`L` (Bu et al. train with 4 to 16; fewer converts at fewer time steps).
        threshold: initial :math:`\lambda` (trained unless ``learn_threshold=False``); one value per layer.
        shift: :math:`\varphi` (0.5 in the paper: the IF neuron then starts at half its threshold).

    >>> import torch
    >>> act = QCFS(levels=4, threshold=2.0)
    >>> act(torch.tensor([-1.0, 0.2, 0.3, 1.0, 5.0])).tolist()
    [0.0, 0.0, 0.5, 1.0, 2.0]
    """

    def __init__(
        self, levels: int = 8, threshold: float = 8.0, *, shift: float = 0.5, learn_threshold: bool = True
    ) -> None:
        super().__init__()
        if not isinstance(levels, int) or isinstance(levels, bool) or levels <= 0:
            raise ValueError(f"levels: expected a positive number of quantisation steps, got {levels!r}")
        if not (isinstance(threshold, int | float) and threshold > 0 and threshold < float("inf")):
            raise ValueError(f"threshold: expected a positive finite upper bound lambda, got {threshold!r}")
        if not (isinstance(shift, int | float) and 0.0 <= shift <= 1.0):
            raise ValueError(f"shift: expected a number in [0, 1] (0.5 in Bu et al.), got {shift!r}")
        self.levels = levels
        self.shift = float(shift)
        value = torch.tensor(float(threshold))
        if learn_threshold:
            self.threshold = nn.Parameter(value)
        else:
            self.register_buffer("threshold", value)

    def extra_repr(self) -> str:
        return f"levels={self.levels}, threshold={float(self.threshold):.4g}, shift={self.shift:g}"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lam = self.threshold
        q = _FloorSTE.apply(x * (self.levels / lam) + self.shift) / self.levels
        return torch.clamp(q, 0.0, 1.0) * lam
