"""Encoders: values in [0, 1] (or currents) -> spike trains ``[T, B, ...]``."""

from __future__ import annotations

import math
from typing import Literal

import torch

from ..units import check_dt

__all__ = ["direct", "latency", "poisson", "rate"]


def _check_steps(timesteps: int) -> int:
    if not isinstance(timesteps, int) or isinstance(timesteps, bool) or timesteps <= 0:
        raise ValueError(f"timesteps: expected a positive int, got {timesteps!r}")
    return timesteps


def _check_unit_interval(name: str, x: torch.Tensor) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(
            f"{name}: expected floating-point values in [0, 1], got dtype {x.dtype}; "
            "scale integers first, e.g. x.float() / 255"
        )
    if torch.isnan(x).any():
        raise ValueError(f"{name}: contains NaN")
    if x.numel() and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{name}: expected values in [0, 1], got range [{float(x.min()):.3g}, {float(x.max()):.3g}]")
    return x


def rate(
    x: torch.Tensor, timesteps: int, *, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Bernoulli rate code: at every step each input spikes with probability ``gain * x``.

    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> z = rate(torch.tensor([[0.0, 1.0]]), 4, generator=g)
    >>> z[:, 0].tolist()
    [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]]
    """
    _check_steps(timesteps)
    p = (_check_unit_interval("x", x) * gain).clamp(0.0, 1.0)
    u = torch.rand((timesteps, *x.shape), generator=generator, dtype=x.dtype, device=x.device)
    return (u < p).to(x.dtype)


def poisson(
    x: torch.Tensor,
    timesteps: int,
    *,
    max_rate: float = 100.0,
    dt: float = 1e-3,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Poisson process with rate ``x * max_rate`` (Hz); a step of length ``dt`` (s) holds a spike with probability
    ``1 - exp(-rate * dt)`` (at most one spike per bin).

    >>> import torch
    >>> z = poisson(torch.full((1, 1000), 1.0), 1000, max_rate=50.0, generator=torch.Generator().manual_seed(1))
    >>> 45 < z.mean().item() * 1000 < 55
    True
    """
    _check_steps(timesteps)
    dt = check_dt(dt)
    if not (isinstance(max_rate, int | float) and max_rate >= 0 and math.isfinite(max_rate)):
        raise ValueError(f"max_rate: expected a rate >= 0 in Hz, got {max_rate!r}")
    p = 1.0 - torch.exp(-_check_unit_interval("x", x) * max_rate * dt)
    u = torch.rand((timesteps, *x.shape), generator=generator, dtype=x.dtype, device=x.device)
    return (u < p).to(x.dtype)


def latency(
    x: torch.Tensor,
    timesteps: int,
    *,
    method: Literal["linear", "log"] = "linear",
    threshold: float = 0.01,
    tau: float = 5.0,
) -> torch.Tensor:
    """Time-to-first-spike code: one spike per input, earlier for larger values; values below ``threshold`` stay
    silent.

    ``linear``: spike step ``round((1 - x) * (T - 1))``. ``log``: the firing time of an RC neuron charged by
    ``x``, ``tau * ln(x / (x - threshold))`` steps, clipped to ``T - 1`` (small values crowd at the end).

    >>> import torch
    >>> latency(torch.tensor([[1.0, 0.5, 0.0]]), 5).argmax(0).tolist()
    [[0, 2, 0]]
    """
    _check_steps(timesteps)
    _check_unit_interval("x", x)
    if method == "linear":
        t = torch.round((1.0 - x) * (timesteps - 1))
    elif method == "log":
        safe = torch.clamp(x, min=threshold * (1 + 1e-6))
        t = torch.clamp(torch.round(tau * torch.log(safe / (safe - threshold))), 0, timesteps - 1)
    else:
        raise ValueError(f"method: expected 'linear' or 'log', got {method!r}")
    steps = torch.arange(timesteps, device=x.device, dtype=x.dtype).view(-1, *([1] * x.dim()))
    return ((steps == t.unsqueeze(0)) & (x >= threshold).unsqueeze(0)).to(x.dtype)


def direct(x: torch.Tensor, timesteps: int) -> torch.Tensor:
    """Direct (current) input: the same analog value at every step, ``[T, *x.shape]``; the first layer of the
    network turns it into spikes."""
    _check_steps(timesteps)
    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise TypeError(f"x: expected a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
    return x.unsqueeze(0).expand(timesteps, *x.shape)
