"""A small layer that NIR graphs need and torch lacks: an elementwise gain. (NIR ``Delay`` nodes import as
:class:`~spikeforge.synapses.ChannelDelay`.)"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Scale"]


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
