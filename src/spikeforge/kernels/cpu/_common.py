"""Helpers every CPU kernel wrapper shares: what a call must look like, thread count, per-neuron coefficients."""

from __future__ import annotations

from typing import Any

import torch

from ._build import library

__all__ = ["accepts", "available", "per_neuron", "ptr", "scalar", "threads"]

_SMALL = 1 << 15  # below this many neuron-steps one thread is faster than waking the others


def available() -> bool:
    """The compiled library built and loaded here."""
    return library() is not None


def accepts(x: Any, device: str = "cpu") -> bool:
    """Tensors a fused kernel runs on: ``device`` (``"cuda"`` for Triton), float32/64, ``[T, ...]`` with at least
    two dims and some elements, outside ``torch.compile`` tracing and ``torch.func`` transforms."""
    return (
        isinstance(x, torch.Tensor)
        and x.device.type == device
        and x.dtype in (torch.float32, torch.float64)
        and x.dim() >= 2
        and x.numel() > 0
        and not torch.compiler.is_compiling()
        and not torch._C._are_functorch_transforms_active()
    )


def scalar(value: Any) -> float | None:
    """``value`` as a float when it is one number the kernels can take as a constant (not a learned tensor)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, torch.Tensor) and value.numel() == 1 and not value.requires_grad:
        return float(value)
    return None


def ptr(t: torch.Tensor | None) -> int | None:
    """The address of ``t``'s data, None (a NULL pointer: "not needed") for None."""
    return None if t is None else t.data_ptr()


def threads(work: int) -> int:
    """OpenMP threads for ``work`` neuron-steps."""
    return 1 if work < _SMALL else max(1, torch.get_num_threads())


def per_neuron(value: Any, step_shape: torch.Size, like: torch.Tensor) -> torch.Tensor:
    """A number or a tensor broadcast to one value per neuron of a step, flat and contiguous, in ``like``'s dtype."""
    t = torch.as_tensor(value, dtype=like.dtype, device=like.device)
    return t.expand(step_shape).reshape(-1).contiguous()
