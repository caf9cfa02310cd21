r"""Deciding early: accuracy against the number of input steps seen, and an early-exit rule on the read-out's margin.

A trained network is causal, so its output after ``t`` steps of a sample is what it would output if it had only
been shown those ``t`` steps: one pass over the whole test set gives every prefix. With the class scores
:math:`s_t = \mathrm{readout}(o_{1..t})` of the prefix (the run's own read-out over the valid steps seen so far),

- **accuracy against steps**: :math:`\mathrm{acc}(t) = \frac{1}{N}\sum_n [\arg\max s_{t}^{(n)} = y_n]`, with
  :math:`t` clipped to each sample's length (a finished sample keeps its final decision);
- **early exit**: the softmax probabilities :math:`p_t = \mathrm{softmax}(s_t)` give the margin
  :math:`m_t = p_{t,(1)} - p_{t,(2)}` (largest minus second largest, in [0, 1]); the network decides at the first
  step :math:`\tau = \min\{t : m_t \ge \theta\}` (the sample's last valid step if the margin never gets there)
  and answers :math:`\arg\max s_\tau`. Reported: accuracy, mean :math:`\tau` in steps, and the share of samples
  that exited before their end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ._scoring import scores

__all__ = ["EarlyExit", "accuracy_by_steps", "early_exit", "prefix_scores"]


def prefix_scores(out_seq: torch.Tensor, readout: str, lengths: torch.Tensor | None = None) -> torch.Tensor:
    """Class scores of every prefix, ``[T, B, C]``: entry ``t`` is the read-out of steps ``0..t`` (clipped to each
    sample's length), computed with :func:`scores` as training and evaluation compute them.

    Shape:
        ``out_seq``: ``[T, B, C]``; ``lengths``: ``[B]`` valid steps (default all ``T``) -> ``[T, B, C]``.
    """
    t_max, b = out_seq.shape[:2]
    lengths = torch.full((b,), t_max, dtype=torch.long) if lengths is None else torch.as_tensor(lengths).long().cpu()
    rows = []
    for t in range(1, t_max + 1):
        seen = lengths.clamp(max=t)
        rows.append(scores(out_seq[:t], readout, seen.to(out_seq.device)))
    return torch.stack(rows)


def accuracy_by_steps(prefix: torch.Tensor, y: torch.Tensor, steps: list[int]) -> list[float]:
    """Accuracy after each number of steps in ``steps`` (1-based counts, at most ``T``) from :func:`prefix_scores`."""
    t_max = prefix.shape[0]
    bad = [s for s in steps if not (isinstance(s, int) and 1 <= s <= t_max)]
    if bad:
        raise ValueError(f"steps: expected step counts in [1, {t_max}], got {bad}")
    y = y.to(prefix.device)
    return [int((prefix[s - 1].argmax(1) == y).sum()) / len(y) for s in steps]


@dataclass
class EarlyExit:
    """The early-exit rule at one margin threshold."""

    threshold: float
    accuracy: float
    mean_steps: float  # mean decision step count (1-based)
    mean_fraction: float  # mean of decision step / the sample's length
    exited_early: float  # share of samples that decided before their last valid step


def early_exit(
    prefix: torch.Tensor, y: torch.Tensor, thresholds: list[float], lengths: torch.Tensor | None = None
) -> list[EarlyExit]:
    """Apply the margin rule (module docstring) at each threshold in ``thresholds`` (in [0, 1])."""
    for th in thresholds:
        if not (isinstance(th, int | float) and math.isfinite(th) and 0 <= th <= 1):
            raise ValueError(f"thresholds: expected softmax margins in [0, 1], got {th!r}")
    t_max, b = prefix.shape[:2]
    lengths = torch.full((b,), t_max, dtype=torch.long) if lengths is None else torch.as_tensor(lengths).long().cpu()
    p = torch.softmax(prefix.double().cpu(), dim=-1)
    top2 = p.topk(2, dim=-1).values if p.shape[-1] > 1 else torch.cat([p, torch.zeros_like(p)], -1)
    margin = top2[..., 0] - top2[..., 1]  # [T, B]
    steps = torch.arange(1, t_max + 1)[:, None]
    within = steps <= lengths[None, :]
    pred_all = prefix.argmax(-1).cpu()  # [T, B]
    y = y.cpu()
    out = []
    for th in thresholds:
        hit = (margin >= th) & within
        # first step that reaches the threshold, else the last valid step
        first = torch.where(hit.any(0), hit.float().argmax(0), lengths - 1)
        pred = pred_all.gather(0, first[None])[0]
        out.append(
            EarlyExit(
                float(th),
                int((pred == y).sum()) / len(y),
                float((first + 1).double().mean()),
                float(((first + 1).double() / lengths.double()).mean()),
                float((first + 1 < lengths).double().mean()),
            )
        )
    return out
