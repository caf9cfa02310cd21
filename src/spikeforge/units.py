"""Physical units (SI) and conversions between time constants and per-step decay factors.

All times in spikeforge are in seconds and all rates in hertz. Write ``tau_mem=20 * ms``.

>>> from spikeforge.units import ms, decay
>>> round(float(decay(20 * ms, 1 * ms)), 6)
0.951229
"""

from __future__ import annotations

import math

import torch

s: float = 1.0
ms: float = 1e-3
us: float = 1e-6
Hz: float = 1.0
kHz: float = 1e3

__all__ = ["Hz", "check_dt", "check_positive", "decay", "kHz", "ms", "s", "tau_from_decay", "us"]


def check_dt(dt: float) -> float:
    """Validate a simulation step ``dt`` (seconds) and return it as a float."""
    if isinstance(dt, torch.Tensor):
        if dt.numel() != 1:
            raise ValueError(
                f"dt: expected a positive scalar time step in seconds, got a tensor of shape {tuple(dt.shape)}"
            )
        dt = float(dt)
    if not isinstance(dt, int | float) or isinstance(dt, bool):
        raise TypeError(f"dt: expected a positive number of seconds (e.g. 1 * ms), got {type(dt).__name__}")
    if not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt: expected a positive, finite time step in seconds (e.g. 1 * ms), got {dt!r}")
    if dt > 10.0:
        raise ValueError(f"dt: {dt!r} s is implausibly large; time is in seconds (write 1 * ms, i.e. 0.001)")
    return float(dt)


def check_positive(name: str, value: float | torch.Tensor) -> None:
    """Raise ``ValueError`` unless every element of ``value`` is strictly positive and finite (inf allowed)."""
    t = torch.as_tensor(value)
    if t.is_floating_point() and torch.isnan(t).any():
        raise ValueError(f"{name}: expected positive values, got NaN")
    if (t <= 0).any():
        bad = t[t <= 0].flatten()[0].item()
        raise ValueError(f"{name}: expected values > 0 (seconds), got {bad!r}")


def decay(tau: float | torch.Tensor, dt: float, *, like: torch.Tensor | None = None) -> torch.Tensor:
    """Exact per-step decay factor ``exp(-dt / tau)`` of a linear leak with time constant ``tau`` (s).

    With ``like``, the result takes that tensor's dtype and device (what a neuron step needs).
    """
    if like is not None:
        tau_t = torch.as_tensor(tau, dtype=like.dtype, device=like.device)
    elif isinstance(tau, torch.Tensor):
        tau_t = tau
    else:
        tau_t = torch.as_tensor(tau, dtype=torch.get_default_dtype())
    return torch.exp(-dt / tau_t)


def tau_from_decay(beta: float | torch.Tensor, dt: float) -> torch.Tensor:
    """Inverse of :func:`decay`: the time constant (s) whose per-step decay over ``dt`` is ``beta``."""
    beta_t = beta if isinstance(beta, torch.Tensor) else torch.as_tensor(beta, dtype=torch.get_default_dtype())
    if ((beta_t <= 0) | (beta_t >= 1)).any():
        raise ValueError(f"beta: expected decay factors in (0, 1), got {beta_t}")
    return -dt / torch.log(beta_t)
