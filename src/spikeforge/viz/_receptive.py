"""Plots of a network learnt without labels: receptive fields (one small image per neuron, in a grid) and the
confusion matrix of its vote (matplotlib imported inside the functions)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import torch

from ._plots import save_figure

__all__ = ["plot_confusion", "plot_receptive_fields"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_receptive_fields(
    weight: torch.Tensor,
    image_shape: Sequence[int],
    path: str | Path,
    *,
    labels: torch.Tensor | None = None,
    title: str = "",
    max_neurons: int = 400,
) -> Path:
    """A grid of the first ``max_neurons`` rows of ``weight`` ``[n, H*W]``, each drawn as an ``H x W`` image.

    Each image is scaled to its own maximum (white: the strongest weight); ``labels`` ``[n]`` (``-1``: none) are
    written in the corner of each image.
    """
    h, w = (int(s) for s in image_shape[-2:])
    if weight.dim() != 2 or weight.shape[1] != h * w:
        raise ValueError(f"weight: expected [n, {h * w}] for images of {h}x{w}, got shape {list(weight.shape)}")
    n = min(int(weight.shape[0]), max_neurons)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    fields = weight[:n].detach().float().cpu()
    fields = fields / fields.amax(1, keepdim=True).clamp_min(1e-12)
    canvas = torch.ones(rows * (h + 1) - 1, cols * (w + 1) - 1) * float("nan")
    for i in range(n):
        r, c = divmod(i, cols)
        canvas[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = fields[i].reshape(h, w)
    plt = _pyplot()
    size = max(4.0, min(14.0, cols * 0.45 * max(1.0, h / 8)))
    fig, ax = plt.subplots(figsize=(size, size * rows / cols + 0.4), layout="constrained")
    ax.imshow(canvas.numpy(), cmap="gray", interpolation="nearest", vmin=0, vmax=1)
    if labels is not None and n <= 400:
        for i in range(n):
            r, c = divmod(i, cols)
            k = int(labels[i])
            ax.text(c * (w + 1), r * (h + 1), "-" if k < 0 else str(k), color="tab:red", fontsize=5, va="top")
    ax.set_axis_off()
    ax.set_title(title or f"receptive fields of {n} neurons (label in red)", fontsize=9)
    return save_figure(fig, path)


def plot_confusion(
    pred: torch.Tensor, target: torch.Tensor, n_classes: int, path: str | Path, *, title: str = ""
) -> Path:
    """The confusion matrix (rows: true class, columns: predicted), counts written in the cells."""
    m = torch.zeros(n_classes, n_classes, dtype=torch.int64)
    for t, p in zip(target.tolist(), pred.tolist(), strict=True):
        m[int(t), int(p)] += 1
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(4.5, 4.2), layout="constrained")
    ax.imshow(m.numpy(), cmap="Blues")
    for i in range(n_classes):
        for j in range(n_classes):
            if m[i, j]:
                ax.text(j, i, str(int(m[i, j])), ha="center", va="center", fontsize=6)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(n_classes))
    ax.set_yticks(range(n_classes))
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)
