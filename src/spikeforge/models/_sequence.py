"""Layers for sequence models: a GRU baseline with the neurons' interface, and a wrapper that hands a layer the
whole sequence.

``GRU`` wraps :class:`torch.nn.GRU` (time first) so that it is called like a neuron layer,
``(x_seq, state) -> (out_seq, state)``, and can sit in a :class:`~spikeforge.nn.SequentialState`; it is the
non-spiking baseline the time-series benchmarks train with the same pipeline. The recurrent adaptive LIF layer
(``RALIF``) is a neuron model: :class:`spikeforge.neurons.RALIF`.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GRU", "WholeSequence"]


class GRU(nn.Module):
    """A time-first :class:`torch.nn.GRU` called like a neuron layer: ``(x_seq[T, B, C], h) -> (y_seq, h)``.

    >>> import torch
    >>> y, h = GRU(3, 8)(torch.rand(5, 2, 3))
    >>> tuple(y.shape), tuple(h.shape)
    ((5, 2, 8), (1, 2, 8))
    """

    stateful = True  # SequentialState passes it the whole sequence and keeps its hidden state

    def __init__(self, in_features: int, hidden: int, *, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.gru = nn.GRU(in_features, hidden, num_layers=num_layers, dropout=dropout if num_layers > 1 else 0.0)

    def forward(self, x_seq: torch.Tensor, state: torch.Tensor | None = None):
        if x_seq.dim() != 3:
            raise ValueError(f"input: expected [T, B, C], got shape {tuple(x_seq.shape)}")
        return self.gru(x_seq, state)


class WholeSequence(nn.Module):
    """Give a layer that needs the whole sequence ``[T, B, ...]`` (a delay line, a temporal convolution) its
    sequence inside :class:`~spikeforge.nn.SequentialState`, which would otherwise fold time into the batch.

    >>> import torch
    >>> from spikeforge.synapses import LearnableDelayLinear
    >>> y, state = WholeSequence(LearnableDelayLinear(3, 2, max_delay=4))(torch.rand(6, 5, 3))
    >>> tuple(y.shape), state
    ((6, 5, 2), None)
    """

    stateful = True  # called as (x_seq, state) -> (y_seq, None): it keeps no state across calls

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x_seq: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        return self.module(x_seq), None
