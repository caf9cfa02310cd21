"""Where a model lives: the device and floating-point precision its inputs must be given in."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["placement"]


def placement(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    """``(device, dtype)`` of the model's first floating-point parameter; ``(cpu, float32)`` without any.

    >>> import torch
    >>> placement(torch.nn.Linear(2, 2).double())
    (device(type='cpu'), torch.float64)
    """
    first = next((p for p in model.parameters() if p.is_floating_point()), None)
    return (first.device, first.dtype) if first is not None else (torch.device("cpu"), torch.float32)
