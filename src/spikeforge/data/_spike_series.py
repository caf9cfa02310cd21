"""SHD / SSC as in-memory, time-first series splits for the training pipeline (``spikeforge train --dataset shd:DIR``).

Each sample is binned to ``dt`` over a fixed window, so every series has the same number of steps; spike counts are
fed as they are (no normalisation: ``mean`` 0, ``std`` 1). The dense tensors take ``T x N x C x 4`` bytes: SHD at
10 ms over 1 s with 700 channels pooled to 140 is about 0.6 GB in all.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ._spikes import HeidelbergSpikes, collate_spikes, load_shd, load_ssc
from ._timeseries import SeriesSplit

__all__ = ["SPIKE_CORPORA", "is_spike_corpus", "load_spike_series"]

#: spec prefix -> loader; both read the Zenke lab's HDF5 files from a folder
SPIKE_CORPORA = {"shd": load_shd, "ssc": load_ssc}


def is_spike_corpus(spec: str) -> bool:
    """True for ``shd:FOLDER`` and ``ssc:FOLDER``."""
    return spec.split(":", 1)[0] in SPIKE_CORPORA and ":" in spec


def _dense(part: HeidelbergSpikes, batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    loader = torch.utils.data.DataLoader(part, batch_size=batch_size, collate_fn=collate_spikes)
    xs, ys, lengths = [], [], []
    for batch in loader:
        xs.append(batch.x)
        ys.append(batch.y)
        lengths.append(batch.lengths)
    return torch.cat(xs, dim=1), torch.cat(ys).long(), torch.cat(lengths).long()


def load_spike_series(
    spec: str, *, dt: float = 0.01, duration: float = 1.0, pool: int = 5, split_seed: int = 0, val_fraction: float = 0.1
) -> SeriesSplit:
    """Load ``shd:FOLDER`` or ``ssc:FOLDER`` as a :class:`SeriesSplit` of binned spike counts.

    Args:
        spec: ``"shd:FOLDER"`` (``shd_train.h5``, ``shd_test.h5``) or ``"ssc:FOLDER"`` (``ssc_{train,valid,test}.h5``).
        dt: bin width (s), the network's time step. Default 10 ms.
        duration: window (s) from the start of each recording; later spikes are dropped. Default 1 s.
        pool: sum groups of ``pool`` neighbouring channels (700 -> 140 at the default 5).
        split_seed: seed of SHD's stratified validation split (SSC has an official one).
        val_fraction: share of each SHD training class held out for validation.

    Returns:
        A :class:`SeriesSplit` with ``x_*`` ``[T, N, 700 // pool]`` float32 counts and all lengths ``T``.
    """
    prefix, _, folder = spec.partition(":")
    if prefix not in SPIKE_CORPORA or not folder:
        raise ValueError(f"dataset: expected 'shd:FOLDER' or 'ssc:FOLDER', got {spec!r}")
    kwargs = dict(dt=dt, duration=duration, pool=pool)
    if prefix == "shd":
        corpus = load_shd(Path(folder), val_fraction=val_fraction, split_seed=split_seed, **kwargs)
    else:
        corpus = load_ssc(Path(folder), **kwargs)
    if corpus.val is None:
        raise ValueError(f"val_fraction: a validation part is needed for model selection, got {val_fraction}")
    x_tr, y_tr, l_tr = _dense(corpus.train)
    x_va, y_va, l_va = _dense(corpus.val)
    x_te, y_te, l_te = _dense(corpus.test)
    names = corpus.train.class_names or [str(c) for c in range(corpus.n_classes)]
    channels = x_tr.shape[-1]
    return SeriesSplit(
        spec,
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
