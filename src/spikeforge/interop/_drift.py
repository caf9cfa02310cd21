r"""Drift check: does a network read back from a NIR file (by spikeforge, or by a peer library) still give the
same spikes and the same accuracy?

For each batch both networks run the same input; for each pair of spiking layers (in order) the spike agreement is
the fraction of equal entries of ``z[T, B, N]``, pooled over the split:

.. math::
    \mathrm{agreement} = \frac{\sum_{batches} \#\{(t, b, n): z^{a}_{tbn} = z^{b}_{tbn}\}}{\sum_{batches} T B N}

and the accuracy is that of each network's own class scores. The caller supplies the batches and the scoring (the
training pipeline's encoder and read-out), so this module depends on no training code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..metrics import SpikeRecorder

__all__ = ["DriftReport", "compare_models", "compare_spikes", "retime_graph"]

Batch = tuple[torch.Tensor, torch.Tensor, "torch.Tensor | None"]


@dataclass
class DriftReport:
    """What :func:`compare_models` measured: accuracies (fractions), per-layer spike agreement, the fraction of
    samples whose predicted class agrees, and the number of samples."""

    accuracy_before: float
    accuracy_after: float
    agreement: list[float] = field(default_factory=list)
    prediction_agreement: float = 1.0
    samples: int = 0
    spikes_before: list[int] = field(default_factory=list)
    spikes_after: list[int] = field(default_factory=list)

    @property
    def min_agreement(self) -> float:
        """The lowest per-layer spike agreement (1.0 for a network without spiking layers)."""
        return min(self.agreement, default=1.0)

    @property
    def identical(self) -> bool:
        return self.min_agreement == 1.0 and self.prediction_agreement == 1.0


def _spikes(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    with SpikeRecorder(model) as rec, torch.no_grad():
        out, _ = model(x)
    return out, [torch.cat(v, 0) if len(v) > 1 else v[0] for v in rec.spikes.values()]


def compare_spikes(ours: list[torch.Tensor], theirs: list[torch.Tensor]) -> tuple[list[int], list[int]]:
    """``(equal entries per layer, entries per layer)`` of two lists of spike tensors ``[T, B, ...]``, paired in
    order (a layer count that differs is an error naming both counts)."""
    if len(ours) != len(theirs):
        raise ValueError(f"spiking layers: {len(ours)} before, {len(theirs)} after; the networks do not correspond")
    equal, total = [], []
    for a, b in zip(ours, theirs, strict=True):
        a, b = a.reshape(*a.shape[:2], -1), b.reshape(*b.shape[:2], -1).to(a.dtype)
        if a.shape != b.shape:
            raise ValueError(f"spikes: shapes {list(a.shape)} and {list(b.shape)} differ; the layers do not correspond")
        equal.append(int((a == b).sum()))
        total.append(a.numel())
    return equal, total


def compare_models(
    before: nn.Module,
    after: nn.Module,
    batches: Iterable[Batch],
    score: Callable[[torch.Tensor, torch.Tensor | None], torch.Tensor],
    on_batch: Callable[[torch.Tensor, list[torch.Tensor], list[torch.Tensor]], None] | None = None,
) -> DriftReport:
    """Run both networks on every ``(inputs [T, B, ...], labels [B], lengths [B] or None)`` batch.

    ``score(out_seq, lengths)`` gives class scores ``[B, C]``. ``on_batch(inputs, spikes_before, spikes_after)`` sees
    each batch
    (to hand the same inputs to a peer library).
    """
    before.eval()
    after.eval()
    correct_a = correct_b = same = n = 0
    equal: list[int] = []
    total: list[int] = []
    count_a: list[int] = []
    count_b: list[int] = []
    for x, y, lengths in batches:
        out_a, z_a = _spikes(before, x)
        out_b, z_b = _spikes(after, x)
        eq, tot = compare_spikes(z_a, z_b)
        equal = [a + b for a, b in zip(equal, eq, strict=True)] if equal else eq
        total = [a + b for a, b in zip(total, tot, strict=True)] if total else tot
        count_a = [c + int(z.sum()) for c, z in zip(count_a or [0] * len(z_a), z_a, strict=True)]
        count_b = [c + int(z.sum()) for c, z in zip(count_b or [0] * len(z_b), z_b, strict=True)]
        pred_a, pred_b = score(out_a, lengths).argmax(1), score(out_b, lengths).argmax(1)
        correct_a += int((pred_a == y).sum())
        correct_b += int((pred_b == y).sum())
        same += int((pred_a == pred_b).sum())
        n += len(y)
        if on_batch is not None:
            on_batch(x, z_a, z_b)
    if n == 0:
        raise ValueError("batches: no samples to compare")
    return DriftReport(
        accuracy_before=correct_a / n,
        accuracy_after=correct_b / n,
        agreement=[e / t for e, t in zip(equal, total, strict=True)],
        prediction_agreement=same / n,
        samples=n,
        spikes_before=count_a,
        spikes_after=count_b,
    )


def retime_graph(graph: Any, dt_from: float, dt_to: float) -> Any:
    r"""The same discrete network described at another time step: every time constant and delay scaled by
    ``k = dt_to / dt_from`` (in place; returns ``graph``).

    A forward-Euler reader steps ``v' = v + dt/tau ((v_leak - v) + r I)``: the update depends on ``dt/tau`` and
    ``r`` only, so scaling ``tau`` with ``dt`` gives the same steps. snnTorch reads graphs at ``dt = 1e-4`` s, so a
    model trained at 1 ms is handed to it with its time constants scaled by 0.1 (export it with
    ``integrator="euler"``). Delays (in seconds) scale the same way and stay the same number of steps.
    """
    import nir

    k = dt_to / dt_from
    for node in graph.nodes.values():
        for name in ("tau", "tau_mem", "tau_syn"):
            if hasattr(node, name):
                setattr(node, name, getattr(node, name) * k)
        if isinstance(node, nir.IF):  # v' = v + dt r I: dt r stays 1
            node.r = node.r / k
        if isinstance(node, nir.Delay):
            node.delay = node.delay * k
        if isinstance(node, nir.NIRGraph):
            retime_graph(node, dt_from, dt_to)
    return graph
