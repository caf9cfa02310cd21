"""The accuracy of a converted network against its number of time steps (matplotlib imported inside)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ._plots import _figure, save_figure

__all__ = ["plot_conversion"]


def plot_conversion(
    curves: Mapping[str, Mapping[int, float]],
    path: str | Path,
    *,
    ann_accuracy: float | None = None,
    synops: Mapping[int, float] | None = None,
    ann_macs: float | None = None,
    title: str | None = None,
) -> Path:
    """Accuracy (%) against time steps (log axis), one line per ``curves[name] = {T: accuracy in [0, 1]}``, the
    ANN's accuracy as a dashed line; with ``synops`` (``{T: synaptic operations per sample}``) and ``ann_macs``, a
    second panel of operations per sample against T beside the ANN's multiply-accumulates."""
    if not curves or not any(curves.values()):
        raise ValueError("curves: expected at least one {timesteps: accuracy} curve to plot")
    panels = 2 if synops else 1
    fig, axes = _figure(1, panels, size=(5.5 * panels, 4))
    ax = axes[0][0]
    for name, curve in curves.items():
        steps = sorted(curve)
        ax.plot(steps, [100 * curve[t] for t in steps], marker="o", label=name)
    if ann_accuracy is not None:
        ax.axhline(100 * ann_accuracy, color="k", linestyle="--", linewidth=1, label=f"ANN {100 * ann_accuracy:.2f}%")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("time steps T")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(True, alpha=0.3)
    ax.legend()
    if title:
        ax.set_title(title)
    if synops:
        ax2 = axes[0][1]
        steps = sorted(synops)
        ax2.plot(steps, [synops[t] for t in steps], marker="o", label="SNN synaptic operations")
        if ann_macs is not None:
            ax2.axhline(ann_macs, color="k", linestyle="--", linewidth=1, label="ANN multiply-accumulates")
        ax2.set_xscale("log", base=2)
        ax2.set_yscale("log")
        ax2.set_xlabel("time steps T")
        ax2.set_ylabel("operations per sample")
        ax2.grid(True, alpha=0.3)
        ax2.legend()
    return save_figure(fig, path)
