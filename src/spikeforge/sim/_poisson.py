r"""Poisson background input: independent Poisson spike counts per neuron and time step.

A neuron that receives :math:`C` independent Poisson trains of rate :math:`\nu` each sees, in a step of length
:math:`\Delta t`, a count

.. math::
    n_t \sim \mathrm{Poisson}(\lambda), \qquad \lambda = C \nu \Delta t,

and its input channel receives :math:`w\, n_t`. Counts are drawn by inverting the Poisson distribution function
(one uniform number per neuron and step), which is exact up to float32 rounding of the tail probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["PoissonInput", "poisson_counts"]


def _poisson_cdf(lam: float) -> torch.Tensor:
    k_max = int(lam + 12 * math.sqrt(lam) + 20)
    k = torch.arange(k_max + 1, dtype=torch.float64)
    log_pmf = k * math.log(lam) - lam - torch.lgamma(k + 1) if lam > 0 else torch.where(k == 0, 0.0, -math.inf)
    cdf = torch.cumsum(torch.exp(log_pmf), 0).to(torch.float32)
    # entries past the first that rounds to 1 are never reached by u < 1: a shorter table searches faster
    full = torch.nonzero(cdf >= 1.0)
    return cdf[: int(full[0]) + 1] if full.numel() else cdf


def poisson_counts(
    lam: float, shape: tuple[int, ...], *, generator: torch.Generator | None = None, cdf: torch.Tensor | None = None
) -> torch.Tensor:
    """Independent Poisson(``lam``) counts of the given shape (float32).

    >>> g = torch.Generator().manual_seed(0)
    >>> round(float(poisson_counts(3.0, (100000,), generator=g).mean()), 1)
    3.0
    """
    if not isinstance(lam, int | float) or isinstance(lam, bool) or not math.isfinite(lam) or lam < 0:
        raise ValueError(f"lam: expected a finite mean count >= 0, got {lam!r}")
    if lam == 0:
        return torch.zeros(shape)
    if lam > 200:
        return torch.poisson(torch.full(shape, float(lam)), generator=generator)
    cdf = _poisson_cdf(lam) if cdf is None else cdf
    u = torch.rand(shape, generator=generator)
    return torch.bucketize(u, cdf).to(torch.float32)


@dataclass(frozen=True)
class PoissonInput:
    """Poisson background to the neurons ``neurons`` (a range of global indices) on one channel.

    Args:
        neurons: ``range`` of target neurons.
        rate: total rate per neuron (Hz): the number of independent sources times the rate of each.
        weight: jump per event in the channel's units (mV or conductance / leak conductance).
        channel: receptor channel index. Default 0.
        start, stop: active time window in seconds (stop None = to the end).
    """

    neurons: range
    rate: float
    weight: float
    channel: int = 0
    start: float = 0.0
    stop: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.neurons, range) or self.neurons.step != 1:
            raise TypeError(f"neurons: expected a contiguous range of neuron indices, got {self.neurons!r}")
        if not isinstance(self.rate, int | float) or not math.isfinite(self.rate) or self.rate < 0:
            raise ValueError(f"rate: expected a rate >= 0 in Hz, got {self.rate!r}")
        if not isinstance(self.weight, int | float) or not math.isfinite(self.weight):
            raise ValueError(f"weight: expected a finite jump per event, got {self.weight!r}")

    def active_steps(self, dt: float, n_steps: int) -> range:
        first = max(0, round(self.start / dt))
        last = n_steps if self.stop is None else min(n_steps, round(self.stop / dt))
        return range(first, max(first, last))
