"""Operation counts of a trained classifier on its test split (what ``spikeforge profile`` and the train summary show)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..encoding import encode_batch
from ..nn import placement
from ._efficiency import EfficiencyCounter, EfficiencyReport
from ._energy import EnergyModel

__all__ = ["profile_split"]


def profile_split(
    model: nn.Module, split: Any, cfg: Any, *, batches: int | None = None, energy: EnergyModel | None = None
) -> EfficiencyReport:
    """Count operations of ``model`` on the test split, batch by batch, encoded as `spikeforge evaluate` does.

    Args:
        model: the trained network (time-first).
        split: a :class:`~spikeforge.data.Split` (images, encoded with ``cfg``) or a split of padded time-first
            series ``x_test[T, N, C]`` with ``len_test`` (fed as they are; padded steps are counted too).
        cfg: the run's :class:`~spikeforge.learning.TrainConfig` (encoding, timesteps, batch size, eval seed).
        batches: only the first ``batches`` batches of ``cfg.batch_size`` samples (default: all).
        energy: the :class:`~spikeforge.metrics.EnergyModel` (default: Horowitz 2014, 32-bit float).

    Returns:
        An :class:`~spikeforge.metrics.EfficiencyReport`; the train summary and ``spikeforge profile`` call this
        same function, so their figures agree.
    """
    if batches is not None and batches <= 0:
        raise ValueError(f"batches: expected a positive number of batches, got {batches}")
    series = getattr(split, "len_test", None) is not None
    starts = range(0, len(split.y_test), cfg.batch_size)
    if batches is not None:
        starts = starts[:batches]
    generator = torch.Generator().manual_seed(cfg.eval_seed)  # the same draws as `evaluate` for rate/poisson
    device, dtype = placement(model)
    was_training = model.training
    model.eval()
    try:
        # a series is a sequence: its ANN counterpart runs every step; an image is run once whatever its encoding
        with torch.no_grad(), EfficiencyCounter(model, ann="per_step" if series else "once") as counter:
            for lo in starts:
                if series:
                    x_seq = split.x_test[:, lo : lo + cfg.batch_size]
                else:
                    x_seq = encode_batch(split.x_test[lo : lo + cfg.batch_size], cfg, generator)
                model(x_seq.to(device, dtype))  # batches go where the model is, in its precision
    finally:
        model.train(was_training)
    return counter.report(energy)
