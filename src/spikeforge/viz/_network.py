"""Raster and population rate of a network run (matplotlib imported inside the function)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ._plots import save_figure

__all__ = ["plot_network"]


def plot_network(
    result: Any,
    path: str | Path,
    *,
    max_neurons: int = 500,
    bin: float = 1e-3,
    title: str | None = None,
    dpi: int = 120,
) -> Path:
    """Draw a spike raster (top) and the population rate (bottom) of a network run, and write it to ``path``.

    Args:
        result: a :class:`~spikeforge.sim.NetworkResult` (needs ``spike_times``, ``spike_ids``,
            ``n_neurons``, ``duration``, ``populations`` and ``binned_rate``).
        path: output image file; written to a temporary file first and renamed into place.
        max_neurons: neurons shown in the raster, spread evenly over every population. Default 500.
        bin: bin width (s) of the population rate. Default 1 ms.
        title: figure title. Default: the network name, regime and summary figures.
        dpi: resolution.

    Returns:
        the path written.
    """
    for attr in ("spike_times", "spike_ids", "n_neurons", "duration", "binned_rate"):
        if not hasattr(result, attr):
            raise TypeError(f"result: expected a NetworkResult (with .{attr}), got {type(result).__name__}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    populations = dict(getattr(result, "populations", {}) or {"all": range(result.n_neurons)})
    # choose up to max_neurons ids, proportionally from each population, and give them consecutive rows
    shown, row = [], {}
    palette = {"exc": "tab:red", "inh": "tab:blue"}
    for name, rng in populations.items():
        k = max(1, round(max_neurons * len(rng) / result.n_neurons))
        ids = torch.linspace(rng.start, rng.stop - 1, min(k, len(rng))).round().to(torch.int64).unique()
        shown.append((name, ids))
    lookup = torch.full((result.n_neurons,), -1, dtype=torch.int64)
    next_row = 0
    for name, ids in shown:
        lookup[ids] = torch.arange(next_row, next_row + ids.numel())
        row[name] = (next_row, next_row + ids.numel())
        next_row += ids.numel()
    rows = lookup[result.spike_ids] if result.spike_ids.numel() else result.spike_ids
    keep = rows >= 0
    fig, (ax_raster, ax_rate) = plt.subplots(2, 1, figsize=(9, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    times_ms = result.spike_times[keep].numpy() * 1e3
    rows = rows[keep].numpy()
    for name, (lo, hi) in row.items():
        sel = (rows >= lo) & (rows < hi)
        ax_raster.scatter(
            times_ms[sel], rows[sel], s=1.5, marker="|", linewidths=0.6, color=palette.get(name, "black"), label=name
        )
    ax_raster.set_ylabel("neuron (subset)")
    ax_raster.set_ylim(-0.5, max(next_row, 1) - 0.5)
    if len(row) > 1:
        ax_raster.legend(loc="upper right", markerscale=6, fontsize=8)
    t, rate = result.binned_rate(bin)
    ax_rate.plot(t.numpy() * 1e3, rate.numpy(), color="black", linewidth=0.7)
    ax_rate.set_xlabel("time (ms)")
    ax_rate.set_ylabel(f"rate (Hz, {bin * 1e3:g} ms bins)")
    ax_rate.set_xlim(0, result.duration * 1e3)
    if title is None:
        name = getattr(result, "name", "network")
        regime = getattr(result, "regime", None)
        title = f"{name}" + (f" ({regime})" if regime else "")
        if hasattr(result, "summary") and result.duration > 0.01:
            s = result.summary()
            title += f": {s['rate_hz']:.1f} Hz, CV {s['cv_isi']:.2f}, synchrony {s['synchrony']:.3f}"
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, dpi=dpi)
