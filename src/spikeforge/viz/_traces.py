"""Single-neuron plots: state traces under constant currents and f-I curves (matplotlib imported inside the
functions)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._plots import save_figure

__all__ = ["plot_fi_curve", "plot_traces"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_traces(
    states: Mapping[str, Any] | Any,
    path: str | Path,
    *,
    dt: float,
    currents: Sequence[float],
    spike_times_ms: Sequence[Sequence[float]] = (),
    model: str,
    current_unit: str,
    voltage_field: str = "v",
    voltage_unit: str = "mV",
    skip: Iterable[str] = ("ref",),
    max_panels: int = 7,
    dpi: int = 110,
) -> Path:
    """One panel per state variable over time, one line per input current, spikes marked on the top panel.

    Args:
        states: the recorded states, a mapping (or a named tuple, like a neuron's recorded state) of name ->
            ``[T, K]`` or ``[T, K, 1]`` tensor for ``K`` currents; complex variables get a real and an imaginary
            panel, the names in ``skip`` (default: the refractory counter ``ref``) none. At most ``max_panels``.
        path: output image file (PNG unless its suffix says otherwise), written atomically.
        dt: time step (s); the x axis is in ms, step ``k`` at ``(k + 1) * dt``.
        currents: the input current of each of the ``K`` lines (shown in the legend when there are several).
        spike_times_ms: spike times (ms) per current, marked above the first panel.
        model: the model's name, for the title; ``current_unit`` names the current's unit in it.
        voltage_field, voltage_unit: the state variable that is the membrane potential, labelled with its unit.
        dpi: resolution of the image.

    Returns:
        ``path``.
    """
    import numpy as np

    fields = states._asdict() if hasattr(states, "_asdict") else dict(states)
    hidden = set(skip)
    panels: list[tuple[str, np.ndarray]] = []
    for name, value in fields.items():
        if value.dim() == 3:
            value = value[:, :, 0]
        if value.is_complex():
            panels += [(f"Re {name}", value.real.numpy()), (f"Im {name}", value.imag.numpy())]
        elif name not in hidden:
            panels.append((name, value.numpy()))
    panels = panels[:max_panels]
    if not panels:
        raise ValueError("states: expected at least one state variable to plot")
    plt = _pyplot()
    t = np.arange(1, panels[0][1].shape[0] + 1) * dt * 1e3
    fig, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(9, 1.6 + 1.7 * len(panels)), squeeze=False)
    for ax, (name, value) in zip(axes[:, 0], panels):
        for k, current in enumerate(currents):
            ax.plot(t, value[:, k], lw=0.8, label=f"I = {current:g}")
        ax.set_ylabel(name + (f" ({voltage_unit})" if name == voltage_field else ""))
    top = axes[0, 0]
    for k, times in enumerate(spike_times_ms):
        if times:
            top.plot(times, [np.nanmax(panels[0][1])] * len(times), "v", ms=4, color=f"C{k}")
    if len(currents) > 1:
        top.legend(loc="upper right", fontsize=7)
    top.set_title(f"{model}: spikes marked (current in {current_unit})")
    axes[-1, 0].set_xlabel("time (ms)")
    fig.tight_layout()
    return save_figure(fig, path, dpi=dpi, bbox_inches=None)


def plot_fi_curve(
    currents: Sequence[float],
    rates: Sequence[float],
    path: str | Path,
    *,
    model: str,
    current_unit: str,
    dpi: int = 110,
) -> Path:
    """Firing rate (Hz) against input current (in ``current_unit``), titled with the ``model`` name; written
    atomically to ``path`` (PNG unless its suffix says otherwise). Returns ``path``."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(currents, rates, "o-", ms=3)
    ax.set_xlabel(f"current ({current_unit})")
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title(f"{model}: f-I curve")
    fig.tight_layout()
    return save_figure(fig, path, dpi=dpi, bbox_inches=None)
