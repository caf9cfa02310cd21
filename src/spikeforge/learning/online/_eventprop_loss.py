r"""Losses for EventProp networks (Wunderlich & Pehle 2021): time to first spike and max-over-time membrane.

Both are plain differentiable functions of what :func:`event_lif` / :func:`event_lif_max` return, so autograd hands
:math:`\partial L/\partial t_k` (or :math:`\partial L / \partial V_o(t^*)`) to the adjoint passes.
"""

from __future__ import annotations

import math

import torch

from ._eventprop_lif import SpikeList

__all__ = ["first_spike_times", "max_membrane_loss", "ttfs_loss"]


def first_spike_times(spikes: SpikeList, t_max: float) -> torch.Tensor:
    """First spike time of each neuron ``[B, N]`` (s); ``t_max`` (a constant, no gradient) where a neuron is silent.

    Differentiable: the gradient flows to the spike that came first.
    """
    b, m = spikes.times.shape
    if m == 0:  # no spike at all: constant, but still part of the graph (so backward runs, with zero gradients)
        return spikes.times.sum(1, keepdim=True) * 0 + float(t_max) + spikes.times.new_zeros(b, spikes.n)
    onehot = spikes.index[:, :, None] == torch.arange(spikes.n, device=spikes.index.device)  # [B, M, N]
    has = onehot.any(1)
    first = onehot.to(torch.int8).argmax(1)  # rows are time-sorted: the first True is the first spike
    t = spikes.times.gather(1, first)
    return torch.where(has, t, torch.full_like(t, float(t_max)))


def _check_labels(labels: torch.Tensor, n: int) -> None:
    if labels.dtype not in (torch.int64, torch.int32) or labels.dim() != 1:
        raise ValueError(f"labels: expected a 1-D integer tensor, got {labels.dtype} of shape {list(labels.shape)}")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= n):
        raise ValueError(f"labels: expected classes in [0, {n - 1}], got {int(labels.min())}..{int(labels.max())}")


def ttfs_loss(
    first_times: torch.Tensor,
    labels: torch.Tensor,
    *,
    tau0: float = 0.5e-3,
    tau1: float = 6.4e-3,
    alpha: float = 3e-3,
) -> torch.Tensor:
    r"""Time-to-first-spike loss with a regulariser (Wunderlich & Pehle 2021, Yin-Yang), averaged over the batch:

    .. math::
        L = -\log \frac{e^{-t_{y}/\tau_0}}{\sum_k e^{-t_k/\tau_0}} + \alpha\,(e^{t_{y}/\tau_1} - 1)

    ``first_times`` ``[B, K]`` first spike times (s) of the ``K`` output neurons; ``labels`` ``[B]``. The first
    term is a softmax cross-entropy on ``-t / tau0`` (the correct neuron should fire first); the second pulls the
    correct neuron's spike earlier (``tau1``, s; ``alpha`` dimensionless).
    """
    if first_times.dim() != 2:
        raise ValueError(f"first_times: expected [B, K], got shape {list(first_times.shape)}")
    if not torch.isfinite(first_times).all():
        raise ValueError("first_times: expected finite times (silent neurons at t_max), got NaN or Inf")
    _check_labels(labels, first_times.shape[1])
    for name, value in (("tau0", tau0), ("tau1", tau1)):
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name}: expected a positive time in seconds, got {value!r}")
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha: expected a number >= 0, got {alpha!r}")
    ce = torch.nn.functional.cross_entropy(-first_times / tau0, labels)
    t_y = first_times.gather(1, labels[:, None])[:, 0]
    return ce + alpha * torch.expm1(t_y / tau1).mean()


def max_membrane_loss(v_max: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    r"""Cross-entropy of the max-over-time membrane potentials ``v_max`` ``[B, K]`` (from :func:`event_lif_max`):
    :math:`L = -\log \mathrm{softmax}(\max_t V(t))_y`, averaged over the batch."""
    if v_max.dim() != 2:
        raise ValueError(f"v_max: expected [B, K], got shape {list(v_max.shape)}")
    if not torch.isfinite(v_max).all():
        raise ValueError("v_max: expected finite potentials, got NaN or Inf")
    _check_labels(labels, v_max.shape[1])
    return torch.nn.functional.cross_entropy(v_max, labels)
