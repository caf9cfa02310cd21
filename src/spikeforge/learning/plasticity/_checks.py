"""Argument checks shared by the plasticity pieces: each error names the argument, the expectation and what
arrived (NaN and Inf by name)."""

from __future__ import annotations

import math

import torch

__all__ = ["check_bounds", "check_positive", "check_shape", "check_spikes", "describe_number"]


def describe_number(value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, float) and math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    return repr(value)


def check_positive(name: str, value: float, *, unit: str = "", allow_zero: bool = False) -> float:
    """A finite real number > 0 (>= 0 with ``allow_zero``); ``unit`` goes into the message."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number{unit and ' in ' + unit}, got {type(value).__name__}")
    value = float(value)
    bad = not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero)
    if bad:
        need = ">= 0" if allow_zero else "> 0"
        raise ValueError(
            f"{name}: expected a finite number {need}{unit and ' (' + unit + ')'}, got {describe_number(value)}"
        )
    return value


def check_finite(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a number, got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {describe_number(value)}")
    return value


def check_bounds(w_min: float, w_max: float) -> tuple[float, float]:
    """Finite bounds with ``w_min < w_max``."""
    lo, hi = check_finite("w_min", w_min), check_finite("w_max", w_max)
    if lo >= hi:
        raise ValueError(f"w_min, w_max: expected w_min < w_max, got w_min={lo:g} >= w_max={hi:g}")
    return lo, hi


def check_spikes(name: str, x: torch.Tensor) -> torch.Tensor:
    """A tensor of spikes: every value 0 or 1 (a trace rule cannot pair real-valued input)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a tensor of spikes (0/1), got {type(x).__name__}")
    if not x.is_floating_point() and x.dtype != torch.bool:
        x = x.to(torch.float32)
    x = x.to(torch.get_default_dtype()) if x.dtype == torch.bool else x
    if x.numel() and not bool(((x == 0) | (x == 1)).all()):
        finite = torch.isfinite(x)
        if not bool(finite.all()):
            what = "NaN" if bool(torch.isnan(x).any()) else "Inf"
            raise ValueError(f"{name}: expected spikes (every value 0 or 1), got {what}")
        raise ValueError(
            f"{name}: expected spikes (every value 0 or 1), got values in [{float(x.min()):g}, {float(x.max()):g}]; "
            "a trace rule pairs spikes, so attach it to a spiking layer (or use a rate rule: Hebbian, Oja, BCM)"
        )
    return x


def check_shape(name: str, got: torch.Tensor, expected: tuple[int, ...]) -> None:
    if tuple(got.shape) != tuple(expected):
        raise ValueError(f"{name}: expected shape {list(expected)}, got {list(got.shape)}")
