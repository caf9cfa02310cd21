"""Raster plots and training curves (matplotlib is imported inside the functions)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

__all__ = ["plot_curves", "plot_raster", "save_figure"]


def save_figure(fig, path: str | Path, *, dpi: int = 120, bbox_inches: str | None = "tight") -> Path:
    """Save a figure atomically (a temporary file renamed into place) and close it.

    The format follows the suffix of ``path`` (PNG without one); ``bbox_inches=None`` keeps the figure's own size
    instead of cropping it to its contents.
    """
    import matplotlib.pyplot as plt

    from .._files import atomic_path

    path = Path(path)
    try:
        with atomic_path(path, suffix=path.suffix or ".png") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches=bbox_inches)
    finally:
        plt.close(fig)
    return path


def _figure(rows: int, cols: int = 1, *, size: tuple[float, float]):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt.subplots(rows, cols, figsize=size, squeeze=False, layout="constrained")


def plot_raster(
    layers: Mapping[str, torch.Tensor],
    path: str | Path,
    *,
    dt: float = 1e-3,
    title: str | None = None,
    max_neurons: int = 256,
    readout: tuple[str, torch.Tensor] | None = None,
) -> Path:
    """Spike raster of one sample through every layer: ``layers[name]`` is ``[T, *features]`` (0/1).

    Each layer gets its own panel; time in ms on the x axis, neuron index on the y axis (at most ``max_neurons``
    shown per layer, the first ones). Analog layers (direct input) are drawn as a heat map. ``readout``, a
    ``(name, v[T, C])`` pair, adds a last panel with the membrane trace of each output unit.
    """
    if not layers:
        raise ValueError("layers: expected at least one layer of spikes to plot")
    rows = len(layers) + (readout is not None)
    fig, axes = _figure(rows, size=(8, 1.6 + 1.6 * rows))
    if readout is not None:
        name, v = readout
        ax = axes[-1, 0]
        v = v.detach().reshape(v.shape[0], -1).cpu()
        t_ms = (torch.arange(v.shape[0]) * dt * 1e3).numpy()
        for c in range(v.shape[1]):
            ax.plot(t_ms, v[:, c].numpy(), lw=1, label=str(c))
        ax.set_ylabel(f"{name}\nmembrane")
        ax.set_title(f"{name}: output membrane per class", fontsize=9, loc="left")
        ax.legend(fontsize=6, ncol=min(v.shape[1], 10), loc="upper left")
    for ax, (name, z) in zip(axes[:, 0], layers.items()):
        z = z.detach().reshape(z.shape[0], -1)[:, :max_neurons].cpu()
        if not bool(((z == 0) | (z == 1)).all()):  # analog input (direct encoding): show the values
            extent = (-0.5 * dt * 1e3, (z.shape[0] - 0.5) * dt * 1e3, -0.5, z.shape[1] - 0.5)
            im = ax.imshow(
                z.t().float().numpy(),
                aspect="auto",
                origin="lower",
                cmap="viridis",
                extent=extent,
                interpolation="nearest",
            )
            fig.colorbar(im, ax=ax, pad=0.01, label="value")
            ax.set_ylabel(f"{name}\nchannel")
            ax.set_title(f"{name}: analog input current", fontsize=9, loc="left")
            continue
        t, n = torch.nonzero(z > 0, as_tuple=True)
        ax.scatter(t.numpy() * dt * 1e3, n.numpy(), s=2, marker="|", color="black")
        rate = float(z.mean()) / dt
        ax.set_ylabel(f"{name}\nneuron")
        ax.set_xlim(-0.5 * dt * 1e3, z.shape[0] * dt * 1e3)
        ax.set_ylim(-1, z.shape[1])
        ax.set_title(f"{name}: {int(z.sum())} spikes, {rate:.1f} Hz mean", fontsize=9, loc="left")
    axes[-1, 0].set_xlabel("time (ms)")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_curves(history: Sequence[Mapping[str, float]], path: str | Path, *, title: str | None = None) -> Path:
    """Training curves: loss and accuracy per epoch (train and validation)."""
    return save_figure(curves_figure(history, title=title), path)


def curves_figure(history: Sequence[Mapping[str, float]], *, title: str | None = None):
    """The figure of :func:`plot_curves`, not yet saved."""
    if not history:
        raise ValueError("history: expected at least one epoch")
    epochs = [h["epoch"] for h in history]
    fig, axes = _figure(1, 2, size=(10, 3.6))
    ax_loss, ax_acc = axes[0]
    marker = "o" if len(history) < 20 else None  # a one-epoch run still shows its points
    ax_loss.plot(epochs, [h["train_loss"] for h in history], label="train", marker=marker)
    ax_loss.plot(epochs, [h["val_loss"] for h in history], label="validation", marker=marker)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("cross-entropy")
    ax_loss.legend()
    ax_acc.plot(epochs, [100 * h["train_accuracy"] for h in history], label="train", marker=marker)
    ax_acc.plot(epochs, [100 * h["val_accuracy"] for h in history], label="validation", marker=marker)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("accuracy (%)")
    ax_acc.legend()
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs
    if title:
        fig.suptitle(title)
    return fig
