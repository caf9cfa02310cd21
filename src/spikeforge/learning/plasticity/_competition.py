r"""Competition between neurons of a layer: lateral inhibition and winner-take-all.

- :func:`lateral_inhibition`: each spike inhibits every *other* neuron of the layer by ``strength`` (the model's
  input units), :math:`I_i = -g \sum_{j \ne i} s_j`, the effect of Diehl & Cook's inhibitory population (one
  inhibitory neuron per excitatory one, projecting to all others) without simulating it.
- :func:`winner_take_all`: of the neurons whose potential ``v`` crosses ``threshold`` in a step, only the ``k`` with
  the highest :math:`v - \text{threshold}` spike (ties broken by index), the limit of strong, fast inhibition.

Shapes: ``[B, n]`` (batch first); competition is within a sample, never across the batch.
"""

from __future__ import annotations

import torch

from ._checks import check_positive

__all__ = ["lateral_inhibition", "winner_take_all"]


def lateral_inhibition(spikes: torch.Tensor, strength: float) -> torch.Tensor:
    """The inhibitory input ``[B, n]`` that spikes ``[B, n]`` send to the other neurons of their layer."""
    check_positive("strength", strength, allow_zero=True)
    if spikes.dim() != 2:
        raise ValueError(f"spikes: expected [B, n] (batch, neurons), got shape {list(spikes.shape)}")
    return -strength * (spikes.sum(1, keepdim=True) - spikes)


def winner_take_all(v: torch.Tensor, threshold: torch.Tensor | float, k: int = 1) -> torch.Tensor:
    """Spikes ``[B, n]``: at most ``k`` per sample, the largest margins above ``threshold`` (broadcast to ``v``)."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k: expected a positive number of winners, got {k!r}")
    if v.dim() != 2:
        raise ValueError(f"v: expected [B, n] (batch, neurons), got shape {list(v.shape)}")
    margin = v - threshold
    above = margin >= 0
    if k >= v.shape[1]:
        return above.to(v.dtype)
    top = margin.topk(k, dim=1).indices
    keep = torch.zeros_like(above).scatter_(1, top, True)
    return (above & keep).to(v.dtype)
