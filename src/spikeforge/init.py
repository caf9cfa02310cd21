"""Initialisation distributions for heterogeneous (per-neuron) parameters.

Pass one wherever a neuron takes a time constant or threshold, together with the layer's ``shape``::

    LIF(256, tau_mem=LogNormal(20 * ms, 0.5))      # per-neuron tau, median 20 ms
    LIF(256, tau_mem=Uniform(5 * ms, 50 * ms), learn=("tau_mem",))
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Constant", "Distribution", "LogNormal", "LogUniform", "Normal", "Uniform"]


class Distribution:
    """A recipe for per-neuron values; :meth:`sample` draws a tensor of the given shape."""

    def sample(
        self,
        shape: tuple[int, ...],
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> torch.Tensor:
        raise NotImplementedError


def _uniform(shape, generator, dtype, device) -> torch.Tensor:
    return torch.rand(shape, generator=generator, dtype=dtype or torch.get_default_dtype(), device=device)


def _normal(shape, generator, dtype, device) -> torch.Tensor:
    return torch.randn(shape, generator=generator, dtype=dtype or torch.get_default_dtype(), device=device)


@dataclass(frozen=True)
class Constant(Distribution):
    value: float

    def sample(self, shape, *, generator=None, dtype=None, device=None):
        return torch.full(shape, float(self.value), dtype=dtype or torch.get_default_dtype(), device=device)


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform on ``[low, high)``."""

    low: float
    high: float

    def __post_init__(self):
        if not self.high > self.low:
            raise ValueError(f"Uniform: expected high > low, got low={self.low}, high={self.high}")

    def sample(self, shape, *, generator=None, dtype=None, device=None):
        return self.low + (self.high - self.low) * _uniform(shape, generator, dtype, device)


@dataclass(frozen=True)
class LogUniform(Distribution):
    """Log-uniform on ``[low, high)`` (both > 0): equal mass per decade."""

    low: float
    high: float

    def __post_init__(self):
        if not (self.low > 0 and self.high > self.low):
            raise ValueError(f"LogUniform: expected 0 < low < high, got low={self.low}, high={self.high}")

    def sample(self, shape, *, generator=None, dtype=None, device=None):
        u = _uniform(shape, generator, dtype, device)
        return torch.exp(math.log(self.low) + (math.log(self.high) - math.log(self.low)) * u)


@dataclass(frozen=True)
class LogNormal(Distribution):
    """Log-normal with the given ``median`` and log-space standard deviation ``sigma``."""

    median: float
    sigma: float

    def __post_init__(self):
        if not (self.median > 0 and self.sigma >= 0):
            raise ValueError(f"LogNormal: expected median > 0 and sigma >= 0, got {self.median}, {self.sigma}")

    def sample(self, shape, *, generator=None, dtype=None, device=None):
        return self.median * torch.exp(self.sigma * _normal(shape, generator, dtype, device))


@dataclass(frozen=True)
class Normal(Distribution):
    mean: float
    std: float

    def sample(self, shape, *, generator=None, dtype=None, device=None):
        return self.mean + self.std * _normal(shape, generator, dtype, device)
