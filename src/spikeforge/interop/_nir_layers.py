"""Two small layers that NIR graphs need and torch lacks: an elementwise gain and a fixed per-neuron delay."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..units import check_dt

__all__ = ["Delay", "Scale"]


class Scale(nn.Module):
    """Multiply by a fixed per-feature gain (NIR ``Scale``); stateless, so it runs over all steps at once.

    >>> import torch
    >>> Scale(torch.tensor([1.0, 2.0]))(torch.ones(3, 2)).tolist()
    [[1.0, 2.0], [1.0, 2.0], [1.0, 2.0]]
    """

    def __init__(self, scale: torch.Tensor | float) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.get_default_dtype()).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class Delay(nn.Module):
    """Fixed per-feature delay of whole steps over ``x_seq[T, B, *shape]``: ``out[t] = x[t - d]`` (zeros before).

    The state is the last ``max(d)`` input steps, so a sequence cut in chunks gives the same output.

    Args:
        steps: delay in steps per feature (int tensor broadcasting to ``shape``), or one int.
        dt: time step (s), used only to export the delay to NIR in seconds. Default 1 ms.

    >>> import torch
    >>> out, _ = Delay(torch.tensor([0, 2]))(torch.ones(3, 1, 2))
    >>> out[:, 0].tolist()
    [[1.0, 0.0], [1.0, 0.0], [1.0, 1.0]]
    """

    stateful = True

    def __init__(self, steps: torch.Tensor | int | Sequence[int], *, dt: float = 1e-3) -> None:
        super().__init__()
        steps = torch.as_tensor(steps)
        if steps.is_floating_point() or (steps < 0).any():
            raise ValueError(f"steps: expected non-negative whole numbers of steps, got {steps.tolist()}")
        self.register_buffer("steps", steps.to(torch.long))
        self.dt = check_dt(dt)

    def forward(self, x_seq: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        depth = int(self.steps.max()) if self.steps.numel() else 0
        if state is None:
            state = x_seq.new_zeros(depth, *x_seq.shape[1:])
        history = torch.cat([state, x_seq], dim=0)  # [depth + T, B, ...]
        t = x_seq.shape[0]
        steps = self.steps.expand(x_seq.shape[2:])
        index = depth + torch.arange(t, device=x_seq.device).view(-1, *([1] * steps.dim())) - steps
        index = index.unsqueeze(1).expand(t, *x_seq.shape[1:])
        return history.gather(0, index), history[history.shape[0] - depth :]

    def extra_repr(self) -> str:
        return f"max_steps={int(self.steps.max()) if self.steps.numel() else 0}, dt={self.dt * 1e3:g} ms"
