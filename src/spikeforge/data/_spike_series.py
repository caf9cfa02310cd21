"""SHD / SSC as in-memory, time-first series splits for the training pipeline (``spikeforge train --dataset shd:DIR``).

Each sample is binned to ``dt`` over a fixed window, so every series has the same number of steps; spike counts are
fed as they are (no normalisation: ``mean`` 0, ``std`` 1). The dense tensors take ``T x N x C x 4`` bytes: SHD at
10 ms over 1 s with 700 channels pooled to 140 is about 0.6 GB in all.
"""

from __future__ import annotations

import torch

from ._spikes import HeidelbergSpikes, SpikeSplit, collate_spikes
from ._timeseries import SeriesSplit

__all__ = ["spike_series"]


def _dense(part: HeidelbergSpikes, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    loader = torch.utils.data.DataLoader(part, batch_size=batch_size, collate_fn=collate_spikes)
    xs, ys, lengths = [], [], []
    for batch in loader:
        xs.append(batch.x)
        ys.append(batch.y)
        lengths.append(batch.lengths)
    return torch.cat(xs, dim=1), torch.cat(ys).long(), torch.cat(lengths).long()


def spike_series(name: str, corpus: SpikeSplit, *, val_fraction: float) -> SeriesSplit:
    """A loaded SHD/SSC corpus (already binned) as a :class:`SeriesSplit` named ``name`` (the data set spec).

    ``val_fraction`` is only named in the error raised when the corpus has no validation part.
    """
    if corpus.val is None:
        raise ValueError(f"val_fraction: a validation part is needed for model selection, got {val_fraction}")
    x_tr, y_tr, l_tr = _dense(corpus.train)
    x_va, y_va, l_va = _dense(corpus.val)
    x_te, y_te, l_te = _dense(corpus.test)
    names = corpus.train.class_names or [str(c) for c in range(corpus.n_classes)]
    channels = x_tr.shape[-1]
    return SeriesSplit(
        name,
        x_tr,
        y_tr,
        l_tr.clamp(min=1),
        x_va,
        y_va,
        l_va.clamp(min=1),
        x_te,
        y_te,
        l_te.clamp(min=1),
        corpus.n_classes,
        list(names),
        torch.zeros(channels),
        torch.ones(channels),
    )
