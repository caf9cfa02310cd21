r"""Attach a spike rule to a connection: :class:`Plastic` pairs the rule's factors through the layer's geometry.

A rule returns its change as correlations of a post-synaptic and a pre-synaptic factor (:class:`~._stdp.Update`).
The connection turns them into a weight-shaped change:

- dense (``torch.nn.Linear``, ``synapses.EventLinear``; weight ``[n_post, n_pre]``):
  :math:`\Delta W_{ij} = \sum_b q_{bi}\, p_{bj}` (an outer product per sample);
- convolution (``torch.nn.Conv2d``, weight ``[C_out, C_in, k_h, k_w]``, shared over positions): each output
  position pairs with the input patch it sees, :math:`\Delta W_{o,c,u,v} = \sum_{b,l} q_{b,o,l}\,
  p_{b,(c,u,v),l}` (``unfold`` of the pre-synaptic factor with the layer's stride, padding and dilation).

``reduce="mean"`` divides the batch sum by the batch size (the change of an average sample), ``"sum"`` keeps it
(the change of presenting them one after another, to first order in the learning rate). Weights change in place,
without autograd.
"""

from __future__ import annotations

import torch
from torch import nn

from ._bounds import Bounds
from ._checks import check_positive, check_spikes

__all__ = ["REDUCTIONS", "Plastic", "check_layer", "correlate"]

#: how per-sample changes combine over a batch
REDUCTIONS: tuple[str, ...] = ("mean", "sum")


def _dense_types() -> tuple[type, ...]:
    from ...synapses import EventLinear

    return (nn.Linear, EventLinear)


def correlate(layer: nn.Module, post: torch.Tensor, pre: torch.Tensor, *, per_sample: bool = False) -> torch.Tensor:
    """The weight-shaped correlation of ``post`` ``[B, ...]`` and ``pre`` ``[B, ...]`` through ``layer``.

    Summed over the batch, or ``[B, *weight.shape]`` with ``per_sample``.
    """
    if isinstance(layer, _dense_types()):
        return torch.einsum("bi,bj->bij" if per_sample else "bi,bj->ij", post, pre)
    if isinstance(layer, nn.Conv2d):
        w = layer.weight
        patches = nn.functional.unfold(
            pre, w.shape[2:], dilation=layer.dilation, padding=layer.padding, stride=layer.stride
        )  # [B, C_in*kh*kw, L]
        q = post.flatten(2)  # [B, C_out, L]
        if q.shape[-1] != patches.shape[-1]:
            raise ValueError(
                f"post: expected {patches.shape[-1]} output positions for this Conv2d and input, got {q.shape[-1]}"
            )
        out = torch.einsum("bol,bpl->bop" if per_sample else "bol,bpl->op", q, patches)
        return out.reshape(((q.shape[0],) if per_sample else ()) + tuple(w.shape))
    check_layer(layer)
    raise AssertionError("unreachable")


def check_layer(layer: nn.Module) -> None:
    """Refuse a layer without a weight that a rule can pair through (named, with the supported kinds)."""
    if not isinstance(layer, (*_dense_types(), nn.Conv2d)):
        supported = ", ".join(t.__name__ for t in (*_dense_types(), nn.Conv2d))
        raise TypeError(f"layer: a plasticity rule attaches to {supported}; got {type(layer).__name__}")


class Plastic:
    """A spike rule attached to ``layer`` (its ``weight`` changes in place at every :meth:`step`).

    ``rule``: :class:`~.PairSTDP`, :class:`~.TripletSTDP` or anything with ``init_state`` / ``step``;
    ``lr``: :math:`\\eta` (> 0); ``bounds``: :class:`~.Bounds` (default hard [0, 1]); ``reduce``: ``"mean"`` or
    ``"sum"`` over the batch; ``check``: validate that both sides are spikes (0/1) and that the state fits.
    """

    def __init__(
        self,
        layer: nn.Module,
        rule,
        *,
        lr: float = 1.0,
        bounds: Bounds | None = None,
        reduce: str = "mean",
        check: bool = True,
    ) -> None:
        check_layer(layer)
        if not hasattr(rule, "step") or not hasattr(rule, "init_state"):
            raise TypeError(f"rule: expected a spike rule (PairSTDP, TripletSTDP, ...), got {type(rule).__name__}")
        if reduce not in REDUCTIONS:
            raise ValueError(f"reduce: expected one of {list(REDUCTIONS)}, got {reduce!r}")
        self.layer, self.rule = layer, rule
        self.lr = check_positive("lr", lr)
        self.bounds = bounds if bounds is not None else Bounds()
        if not isinstance(self.bounds, Bounds):
            raise TypeError(f"bounds: expected a Bounds, got {type(self.bounds).__name__}")
        self.reduce, self.check = reduce, check
        self.state = None

    def reset(self, pre: torch.Tensor, post: torch.Tensor) -> None:
        """Zero traces shaped like one step's ``pre`` and ``post`` (e.g. between samples)."""
        self.state = self.rule.init_state(pre, post)

    def step(self, pre: torch.Tensor, post: torch.Tensor) -> None:
        """One time step: update the traces with spikes ``pre``, ``post`` (batch first) and the weights."""
        if self.check:
            pre, post = check_spikes("pre", pre), check_spikes("post", post)
        if self.state is None:
            self.reset(pre, post)
        elif self.check:
            for i, t in enumerate(self.state):
                if t.shape not in (pre.shape, post.shape):
                    raise ValueError(
                        f"state[{i}] (trace): expected the shape of pre {list(pre.shape)} or of post "
                        f"{list(post.shape)}, got {list(t.shape)}; call reset() when the batch size changes"
                    )
        self.state, u = self.rule.step(self.state, pre, post)
        pot = correlate(self.layer, u.post_p, u.pre_p)
        dep = correlate(self.layer, u.post_d, u.pre_d)
        scale = 1.0 / pre.shape[0] if self.reduce == "mean" else 1.0
        self.bounds.apply_(self.layer.weight.data, pot, dep, self.lr * scale)

    def run(self, pre_seq: torch.Tensor, post_seq: torch.Tensor) -> None:
        """:meth:`step` over sequences ``[T, B, ...]`` (time first), continuing from the present traces."""
        if pre_seq.shape[0] != post_seq.shape[0]:
            raise ValueError(f"post_seq: expected {pre_seq.shape[0]} steps like pre_seq, got {post_seq.shape[0]}")
        for pre, post in zip(pre_seq.unbind(0), post_seq.unbind(0), strict=True):
            self.step(pre, post)
