r"""Event-driven pair STDP: traces and weights are touched only at spikes (work per spike, not per step).

For one stream of spikes (no batch) on a dense weight ``W`` ``[n_post, n_pre]`` (``nn.Linear``,
``synapses.EventLinear``): at time ``t`` (s), with the pre-synaptic spikes at indices ``pre`` and the post-synaptic
ones at ``post``,

1. both :class:`~._traces.EventTrace` s take this step's spikes (so, as in the clock-driven rule, spikes of the same
   step pair both ways);
2. potentiation, rows of the neurons that spiked: :math:`W_{i\cdot} \mathrel{+}= \eta A_+ x_\text{pre}(t)`;
3. depression, columns of the inputs that spiked: :math:`W_{\cdot j} \mathrel{-}= \eta A_- y_\text{post}(t)`;

each through the :class:`~._bounds.Bounds` (soft bounds scale by the weight before the step), both computed from
the weights before the step and clipped once after, as the clock-driven rule does. Silent steps cost nothing: call
:meth:`EventPlastic.step` only when something spiked. The result equals :class:`~._connections.Plastic` with the
same rule step by step (tested). Indices must be distinct within a step (one spike per neuron per step).
"""

from __future__ import annotations

import torch
from torch import nn

from ._bounds import Bounds
from ._checks import check_positive
from ._connections import check_layer
from ._stdp import PairSTDP
from ._traces import EventTrace

__all__ = ["EventPlastic"]


class EventPlastic:
    """Pair STDP on a dense ``layer``, updated at spikes only; ``rule`` gives the amplitudes, time constants, pairing."""

    def __init__(self, layer: nn.Module, rule: PairSTDP, *, lr: float = 1.0, bounds: Bounds | None = None) -> None:
        check_layer(layer)
        if isinstance(layer, nn.Conv2d):
            raise TypeError("layer: event-driven STDP serves dense layers (Linear, EventLinear); got Conv2d")
        if not isinstance(rule, PairSTDP):
            raise TypeError(f"rule: event-driven updates implement PairSTDP, got {type(rule).__name__}")
        self.layer, self.rule = layer, rule
        self.lr = check_positive("lr", lr)
        self.bounds = bounds if bounds is not None else Bounds()
        n_post, n_pre = layer.weight.shape
        self.pre_trace = EventTrace((n_pre,), rule.tau_plus, pairing=rule.pairing)
        self.post_trace = EventTrace((n_post,), rule.tau_minus, pairing=rule.pairing)
        self._last = -float("inf")

    @torch.no_grad()
    def step(self, t: float, pre: torch.Tensor, post: torch.Tensor) -> None:
        """Spikes at time ``t`` (s, non-decreasing): ``pre`` and ``post`` are index tensors (possibly empty)."""
        if t < self._last:
            raise ValueError(f"t: expected non-decreasing times, got {t:g} s after {self._last:g} s")
        self._last = t
        pre, post = torch.as_tensor(pre, dtype=torch.long), torch.as_tensor(post, dtype=torch.long)
        w = self.layer.weight.data
        for name, idx, size in (("pre", pre, w.shape[1]), ("post", post, w.shape[0])):
            if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= size):
                raise ValueError(f"{name}: expected indices in [0, {size - 1}], got {idx.tolist()}")
        if pre.numel():
            self.pre_trace.spike(t, pre)
        if post.numel():
            self.post_trace.spike(t, post)
        # both changes from the weights before this step, then one clip: as the clock-driven rule does
        d_rows = d_cols = None
        if post.numel():
            rows = w[post]
            pot = (self.rule.a_plus * self.pre_trace.read(t)).expand_as(rows)
            d_rows = self.bounds.delta(rows, pot, torch.zeros_like(rows), self.lr)
        if pre.numel():
            cols = w[:, pre]
            dep = (self.rule.a_minus * self.post_trace.read(t))[:, None].expand_as(cols)
            d_cols = self.bounds.delta(cols, torch.zeros_like(cols), dep, self.lr)
        if d_rows is not None:
            w[post] += d_rows
        if d_cols is not None:
            w[:, pre] += d_cols
        if d_rows is not None:
            w[post] = w[post].clamp(self.bounds.w_min, self.bounds.w_max)
        if d_cols is not None:
            w[:, pre] = w[:, pre].clamp(self.bounds.w_min, self.bounds.w_max)
