r"""Statistics of network activity from spike lists: firing rate, irregularity and synchrony.

With spike counts :math:`s_i(b)` of neuron :math:`i` in time bin :math:`b` (width :math:`w`) and the population mean
:math:`S(b) = \frac1N \sum_i s_i(b)`:

.. math::
    \mathrm{CV}_i = \frac{\operatorname{std}(\mathrm{ISI}_i)}{\operatorname{mean}(\mathrm{ISI}_i)}, \qquad
    \chi^2 = \frac{\operatorname{Var}_b S(b)}{\frac1N \sum_i \operatorname{Var}_b s_i(b)}, \qquad
    F = \frac{\operatorname{Var}_b \sum_i s_i(b)}{\operatorname{E}_b \sum_i s_i(b)}.

:math:`\chi^2` (Golomb 2007, applied to binned spike counts) is about :math:`1/N` for independent neurons and 1 when
all neurons fire in the same bins; the Fano factor :math:`F` of the population count is 1 for independent Poisson
neurons and grows with synchrony (and with :math:`N`).
"""

from __future__ import annotations

import torch

__all__ = ["binned_counts", "cv_isi", "fano_factor", "synchrony_chi2"]


def cv_isi(steps: torch.Tensor, ids: torch.Tensor, n_neurons: int, *, min_intervals: int = 2) -> torch.Tensor:
    """Per-neuron CV of inter-spike intervals, ``[n_neurons]`` float64 (NaN where fewer than ``min_intervals``).

    ``steps``: spike step (or time) of each spike; ``ids``: neuron of each spike.

    >>> cv_isi(torch.tensor([0, 10, 20, 30, 0, 5, 20]), torch.tensor([0, 0, 0, 0, 1, 1, 1]), 2).tolist()
    [0.0, 0.5]
    """
    if steps.numel() < 2:
        return torch.full((n_neurons,), float("nan"), dtype=torch.float64)
    t = steps.to(torch.float64)
    order = torch.argsort(t, stable=True)
    order = order[torch.argsort(ids[order], stable=True)]
    t, who = t[order], ids[order]
    same = who[1:] == who[:-1]
    isi = (t[1:] - t[:-1])[same]
    owner = who[1:][same]
    count = torch.bincount(owner, minlength=n_neurons).to(torch.float64)
    total = torch.zeros(n_neurons, dtype=torch.float64).index_add_(0, owner, isi)
    squares = torch.zeros(n_neurons, dtype=torch.float64).index_add_(0, owner, isi * isi)
    mean = total / count
    var = (squares / count - mean * mean).clamp(min=0)
    cv = var.sqrt() / mean
    return torch.where(count >= min_intervals, cv, torch.full_like(cv, float("nan")))


def binned_counts(
    steps: torch.Tensor, ids: torch.Tensor, n_neurons: int, *, bin_steps: int, n_steps: int
) -> torch.Tensor:
    """Spike counts ``[n_bins, n_neurons]`` (float64) in bins of ``bin_steps`` steps over ``[0, n_steps)``."""
    n_bins = max(1, n_steps // bin_steps)
    keep = steps < n_bins * bin_steps
    flat = (steps[keep] // bin_steps) * n_neurons + ids[keep]
    return torch.bincount(flat, minlength=n_bins * n_neurons).reshape(n_bins, n_neurons).to(torch.float64)


def synchrony_chi2(counts: torch.Tensor) -> float:
    """Golomb's :math:`\\chi^2` from binned counts ``[n_bins, N]``: population-mean variance / mean single variance."""
    single = counts.var(dim=0, unbiased=False).mean()
    if counts.shape[0] < 2 or float(single) == 0.0:
        return float("nan")
    return float(counts.mean(dim=1).var(unbiased=False) / single)


def fano_factor(counts: torch.Tensor) -> float:
    """Fano factor of the population spike count per bin, from binned counts ``[n_bins, N]``."""
    population = counts.sum(dim=1)
    mean = float(population.mean())
    if counts.shape[0] < 2 or mean == 0.0:
        return float("nan")
    return float(population.var(unbiased=False)) / mean
