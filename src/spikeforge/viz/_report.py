"""A run folder as one self-contained HTML page: configuration, training curves, test metrics, confusion matrix, spike
rasters, membrane potentials, firing-rate histograms and the efficiency table.

The page embeds every figure as a base64 PNG data URI and its style inline: it needs no other file and no network.
The figures come from plain tensors (a :class:`spikeforge.metrics.SplitActivity`, see
:func:`spikeforge.metrics.inspect_split`); matplotlib is imported only when one is drawn.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch

from ._plots import _figure, curves_figure

__all__ = ["write_report"]

#: state of the page's image check, written by its inline script once every image has loaded (or failed)
IMAGES_LOADED_ID = "images-loaded"


class _Sample(Protocol):
    index: int
    label: int
    predicted: int
    input: torch.Tensor
    spikes: Mapping[str, torch.Tensor]
    membranes: Mapping[str, torch.Tensor]
    thresholds: Mapping[str, float]
    output: torch.Tensor


class _Activity(Protocol):
    """What :func:`write_report` draws: the fields of :class:`spikeforge.metrics.SplitActivity`."""

    dt: float
    confusion: torch.Tensor
    class_names: Sequence[str]
    neuron_rates: Mapping[str, torch.Tensor]
    samples: Sequence[_Sample]
    output_kind: str
    input_kind: str
    accuracy: float


# -- figures (PNG bytes) -------------------------------------------------------------------------------------------
def _png(fig, *, dpi: int = 100) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=dpi)
    finally:
        plt.close(fig)
    return buffer.getvalue()


def _shown(n_shown: int, n_total: int, what: str = "neurons") -> str:
    return f"{n_shown} of {n_total} {what} shown" if n_shown < n_total else f"all {n_total} {what}"


def _is_binary(x: torch.Tensor) -> bool:
    return bool(((x == 0) | (x == 1)).all())


def curves_png(history: Sequence[Mapping[str, float]]) -> bytes:
    """Loss and accuracy per epoch, train and validation."""
    return _png(curves_figure(history))


def confusion_png(confusion: torch.Tensor, class_names: Sequence[str]) -> bytes:
    """Counts of true (rows) against predicted (columns) classes, each cell annotated when there are few classes."""
    counts = confusion.detach().cpu().long()
    c = counts.shape[0]
    side = min(3.0 + 0.45 * c, 12.0)
    fig, axes = _figure(1, size=(side + 1.2, side))
    ax = axes[0, 0]
    im = ax.imshow(counts.numpy(), cmap="Blues", interpolation="nearest")
    fig.colorbar(im, ax=ax, label="test samples")
    names = [str(n) for n in class_names]
    if c <= 30:
        ax.set_xticks(range(c), names, rotation=90 if max(map(len, names), default=1) > 3 else 0, fontsize=8)
        ax.set_yticks(range(c), names, fontsize=8)
    if c <= 20:
        top = int(counts.max()) if counts.numel() else 0
        for i in range(c):
            for j in range(c):
                value = int(counts[i, j])
                if value:
                    colour = "white" if value > top / 2 else "black"
                    ax.text(j, i, str(value), ha="center", va="center", fontsize=8, color=colour)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return _png(fig)


def _raster_panel(ax, fig, name: str, z: torch.Tensor, dt_ms: float, max_neurons: int, what: str) -> str:
    """One panel of a raster: spikes as ticks, analog values as a heat map. Returns its title."""
    n_total = z.shape[1]
    z = z[:, :max_neurons].float()
    shown = _shown(z.shape[1], n_total, what)
    if not _is_binary(z):
        extent = (-0.5 * dt_ms, (z.shape[0] - 0.5) * dt_ms, -0.5, z.shape[1] - 0.5)
        im = ax.imshow(
            z.t().numpy(), aspect="auto", origin="lower", cmap="viridis", extent=extent, interpolation="nearest"
        )
        fig.colorbar(im, ax=ax, pad=0.01, label="value")
        title = f"{name}: analog values, {shown}"
    else:
        t, n = torch.nonzero(z > 0, as_tuple=True)
        ax.scatter(t.numpy() * dt_ms, n.numpy(), s=6, marker="|", color="black", linewidths=0.8)
        ax.set_ylim(-1, z.shape[1])
        title = f"{name}: {int(z.sum())} spikes, {shown}"
    ax.set_ylabel(what)
    ax.set_title(title, fontsize=9, loc="left")
    return title


def _sample_title(sample: _Sample, class_names: Sequence[str] | None) -> str:
    def name(c: int) -> str:
        return str(class_names[c]) if class_names else str(c)

    return f"test sample {sample.index}: label {name(sample.label)}, predicted {name(sample.predicted)}"


def raster_png(
    sample: _Sample, *, dt: float, max_neurons: int, class_names: Sequence[str] | None = None
) -> tuple[bytes, list[str]]:
    """The sample's input and every spiking layer, one panel each, on one time axis in ms. Returns the PNG and the
    panel titles (for the alt text)."""
    dt_ms = dt * 1e3
    panels = [("input", sample.input, "inputs")] + [(k, v, "neurons") for k, v in sample.spikes.items()]
    fig, axes = _figure(len(panels), size=(9, 1.2 + 1.7 * len(panels)))
    titles = []
    for ax, (name, z, what) in zip(axes[:, 0], panels):
        titles.append(_raster_panel(ax, fig, name, z, dt_ms, max_neurons, what))
        ax.set_xlim(-0.5 * dt_ms, (z.shape[0] - 0.5) * dt_ms)
    for ax in axes[1:, 0]:
        ax.sharex(axes[0, 0])
    for ax in axes[:-1, 0]:
        ax.tick_params(labelbottom=False)
    axes[-1, 0].set_xlabel("time (ms)")
    fig.suptitle(_sample_title(sample, class_names), fontsize=10)
    return _png(fig), titles


def _most_active(sample: _Sample, name: str, k: int) -> list[int]:
    z = sample.spikes.get(name)
    n = sample.membranes[name].shape[1]
    if z is None:
        return list(range(min(k, n)))
    counts = z.sum(0)
    order = sorted(range(n), key=lambda i: (-float(counts[i]), i))
    return sorted(order[:k])


def membranes_png(
    sample: _Sample,
    *,
    dt: float,
    traces: int = 5,
    output_kind: str = "membrane",
    max_outputs: int = 10,
    class_names: Sequence[str] | None = None,
) -> tuple[bytes, list[str]]:
    """Membrane potential of the ``traces`` most active neurons of each layer that recorded it (threshold dashed),
    and the network's output per class (the sample's true class drawn thicker), on one time axis in ms."""
    dt_ms = dt * 1e3
    panels: list[tuple[str, str]] = [("layer", name) for name in sample.membranes]
    if output_kind != "spikes":  # a spiking output layer's membrane is already among the layers
        panels.append(("output", "read-out"))
    fig, axes = _figure(len(panels), size=(9, 1.2 + 1.9 * len(panels)))
    titles = []
    for ax, (kind, name) in zip(axes[:, 0], panels):
        if kind == "layer":
            v = sample.membranes[name]
            picked = _most_active(sample, name, traces)
            t_ms = torch.arange(v.shape[0]).numpy() * dt_ms
            for i in picked:
                ax.plot(t_ms, v[:, i].numpy(), lw=0.9, label=f"#{i}")
            threshold = sample.thresholds.get(name)
            if threshold is not None:
                ax.axhline(threshold, color="grey", ls="--", lw=0.8, label="threshold")
            title = f"{name}: membrane of {len(picked)} of {v.shape[1]} neurons shown (most active)"
            ax.set_ylabel("membrane")
        else:
            out = sample.output
            n_out = min(out.shape[1], max_outputs)
            t_ms = torch.arange(out.shape[0]).numpy() * dt_ms
            for c in range(n_out):
                label = c == sample.label
                name = str(class_names[c]) if class_names else str(c)
                ax.plot(t_ms, out[:, c].numpy(), lw=2.2 if label else 0.9, label=name + (" (true)" if label else ""))
            what = "membrane" if output_kind == "membrane" else "output"
            title = f"read-out: {what} per class, {_shown(n_out, out.shape[1], 'classes')}"
            ax.set_ylabel(what)
        ax.legend(fontsize=6, ncol=6, loc="upper left")
        ax.set_title(title, fontsize=9, loc="left")
        titles.append(title)
    for ax in axes[1:, 0]:
        ax.sharex(axes[0, 0])
    for ax in axes[:-1, 0]:
        ax.tick_params(labelbottom=False)
    axes[-1, 0].set_xlabel("time (ms)")
    fig.suptitle(_sample_title(sample, class_names), fontsize=10)
    return _png(fig), titles


def rates_png(neuron_rates: Mapping[str, torch.Tensor], *, dt: float) -> bytes:
    """One histogram per spiking layer: how many neurons fire at each rate (Hz) over the test split."""
    names = list(neuron_rates)
    cols = min(len(names), 3)
    rows = -(-len(names) // cols)
    fig, axes = _figure(rows, cols, size=(3.4 * cols + 0.6, 2.8 * rows))
    for k, ax in enumerate(axes.flat):
        if k >= len(names):
            ax.set_visible(False)
            continue
        hz = neuron_rates[names[k]].double() / dt
        ax.hist(hz.numpy(), bins=min(40, max(5, hz.numel() // 4)), color="C0")
        silent = float((hz == 0).double().mean()) * 100
        ax.set_title(f"{names[k]}\nmean {float(hz.mean()):.1f} Hz, {silent:.0f}% silent", fontsize=9)
        ax.set_xlabel("firing rate (Hz)")
        ax.set_ylabel("neurons")
    return _png(fig)


# -- HTML ------------------------------------------------------------------------------------------------------------
_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2rem auto; max-width: 1000px;
       padding: 0 1rem; color: #1b1b1b; line-height: 1.45; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { border-bottom: 1px solid #ccc; margin-top: 2.2rem; }
nav a { margin-right: .8rem; } .lead { color: #555; margin-top: 0; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { border: 1px solid #ddd; padding: .25rem .6rem; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } th { background: #f3f3f3; }
figure { margin: 1rem 0 1.6rem; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: .88rem; color: #444; margin-top: .3rem; } code { font-size: .9em; }
.cols { display: flex; flex-wrap: wrap; gap: 0 2rem; align-items: flex-start; }
"""

_SCRIPT = f"""
window.addEventListener("load", function () {{
  var images = document.images, ok = 0;
  for (var i = 0; i < images.length; i++) {{
    if (images[i].complete && images[i].naturalWidth > 0) ok++;
  }}
  var out = document.getElementById("{IMAGES_LOADED_ID}");
  out.setAttribute("data-loaded", ok);
  out.setAttribute("data-total", images.length);
  out.textContent = ok + " of " + images.length + " images loaded";
}});
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, *, plain: bool = False) -> str:
    """A value for a table cell; ``plain`` keeps settings as written (no thousands separators, no rounding)."""
    if value is None:
        return "–"
    if plain and isinstance(value, bool | int | float):
        return json.dumps(value)  # as config.json spells it
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if value == int(value) and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) >= 1000:
            return f"{value:,.1f}"
        return f"{value:.4g}"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def _cell(value: Any, *, plain: bool = False) -> str:
    if plain:
        return f"<td>{_e(_fmt(value, plain=True))}</td>"
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    return f'<td class="num">{_e(_fmt(value))}</td>' if numeric else f"<td>{_e(_fmt(value))}</td>"


def _kv_table(
    rows: Mapping[str, Any] | Sequence[tuple[str, Any]], head: tuple[str, str] = ("", ""), *, plain: bool = False
) -> str:
    items = rows.items() if isinstance(rows, Mapping) else rows
    body = "".join(f"<tr><th scope='row'>{_e(k)}</th>{_cell(v, plain=plain)}</tr>" for k, v in items)
    header = f"<thead><tr><th>{_e(head[0])}</th><th>{_e(head[1])}</th></tr></thead>" if any(head) else ""
    return f"<table>{header}<tbody>{body}</tbody></table>"


def _grid_table(rows: Mapping[str, Mapping[str, Any]], first: str) -> str:
    """A table of dicts: one row per key, one column per field seen."""
    columns: list[str] = []
    for row in rows.values():
        columns += [c for c in row if c not in columns]
    head = "".join(f"<th>{_e(c.replace('_', ' '))}</th>" for c in columns)
    body = "".join(
        f"<tr><th scope='row'>{_e(k)}</th>{''.join(_cell(row.get(c)) for c in columns)}</tr>" for k, row in rows.items()
    )
    return f"<table><thead><tr><th>{_e(first)}</th>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure_html(png: bytes, alt: str, caption: str, fig_id: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<figure id="{_e(fig_id)}"><img src="data:image/png;base64,{data}" alt="{_e(alt)}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


def _section(sid: str, title: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_e(title)}</h2>\n{body}\n</section>'


def _config_section(config: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    env = metrics.get("environment")
    parts = [
        f"<p>Dataset: <code>{_e(config.get('dataset', '?'))}</code></p>",
        '<div class="cols">'
        + f"<div><h3>Model</h3>{_kv_table(config.get('model_config', {}), ('option', 'value'), plain=True)}</div>"
        + f"<div><h3>Training</h3>{_kv_table(config.get('train', {}), ('option', 'value'), plain=True)}</div>"
        + "<div><h3>Environment</h3>"
        + (_kv_table(env, ("", ""), plain=True) if env else "<p>Not recorded in metrics.json.</p>")
        + "</div></div>",
    ]
    parts.append(
        "<p>Test metrics, curves and the efficiency table are those recorded at training time "
        "(<code>metrics.json</code>); the confusion matrix, rasters, membrane potentials and firing rates come from "
        "evaluating the saved model again now.</p>"
    )
    extra = {k: v for k, v in config.items() if k not in ("dataset", "model_config", "train")}
    if extra:
        parts.append("<h3>Other settings</h3>" + _kv_table(extra, plain=True))
    return _section("config", "Configuration", "\n".join(parts))


def _curves_section(metrics: Mapping[str, Any]) -> str:
    history = metrics.get("history") or []
    if not history:
        return _section("curves", "Training curves", "<p>No training history in metrics.json.</p>")
    last = history[-1]
    alt = (
        f"Two line charts over {len(history)} epochs: cross-entropy loss (left) and accuracy in percent (right), "
        f"training and validation; at the last epoch train accuracy {100 * last['train_accuracy']:.1f}%, "
        f"validation accuracy {100 * last['val_accuracy']:.1f}%."
    )
    caption = (
        "Loss (left) and accuracy (right) per epoch on the training part (measured during each epoch's training "
        "pass) and the validation part (after it)."
    )
    return _section("curves", "Training curves", _figure_html(curves_png(history), alt, caption, "fig-curves"))


def _test_section(metrics: Mapping[str, Any], activity: _Activity) -> str:
    rows: list[tuple[str, Any]] = []
    labels = {
        "test_accuracy": "test accuracy (recorded)",
        "test_accuracy_rounded_delays": "test accuracy, delays rounded to whole steps",
        "test_loss": "test loss",
        "val_accuracy": "validation accuracy",
        "spikes_per_sample": "spikes per sample",
        "n_parameters": "parameters",
        "n_train": "training samples",
        "n_val": "validation samples",
        "n_test": "test samples",
        "train_seconds": "training time (s)",
        "wall_seconds": "wall time (s)",
    }
    for key, label in labels.items():
        if key in metrics:
            value = metrics[key]
            rows.append((label, f"{100 * value:.2f}%" if "accuracy" in key else value))
    rows.insert(1 if rows else 0, ("test accuracy (re-evaluated for this report)", f"{100 * activity.accuracy:.2f}%"))
    body = _kv_table(rows, ("metric", "value"))
    per_step = metrics.get("firing_rate_per_step") or {}
    if per_step:
        names = metrics.get("layers") or {}
        hz = metrics.get("firing_rate_hz") or {}
        table = {
            names.get(k, k): {"spikes per neuron per step": v, "rate (Hz)": hz.get(k)} for k, v in per_step.items()
        }
        body += "<h3>Mean firing rate per spiking layer</h3>" + _grid_table(table, "layer")
    return _section("test-metrics", "Test metrics", body)


def _confusion_section(activity: _Activity) -> str:
    counts = activity.confusion
    n = int(counts.sum())
    c = counts.shape[0]
    correct = int(counts.diagonal().sum())
    off = counts.clone()
    off.fill_diagonal_(0)
    worst = ""
    if int(off.sum()):
        i, j = divmod(int(off.argmax()), c)
        worst = (
            f" The most frequent confusion: true {activity.class_names[i]} predicted as "
            f"{activity.class_names[j]} ({int(off[i, j])} times)."
        )
    alt = (
        f"Confusion matrix heat map of {c} classes: rows are true classes, columns predicted classes; "
        f"{correct} of {n} test samples lie on the diagonal.{worst}"
    )
    caption = (
        f"Confusion matrix on the {n} test samples (row: true class, column: predicted class), from the saved model "
        f"evaluated again with the run's encoding and read-out: accuracy {100 * activity.accuracy:.2f}%.{_e(worst)}"
    )
    return _section(
        "confusion",
        "Confusion matrix",
        _figure_html(confusion_png(counts, activity.class_names), alt, caption, "fig-confusion"),
    )


def _samples_sections(activity: _Activity, max_neurons: int) -> tuple[str, str]:
    if not activity.samples:
        empty = "<p>No samples recorded (<code>--samples 0</code>).</p>"
        return _section("rasters", "Spike rasters", empty), _section("membranes", "Membrane potentials", empty)
    rasters, membranes = [], []
    names = activity.class_names
    for s in activity.samples:
        label, predicted = names[s.label], names[s.predicted]
        png, titles = raster_png(s, dt=activity.dt, max_neurons=max_neurons, class_names=names)
        steps = s.input.shape[0]
        alt = (
            f"Spike raster of test sample {s.index} (label {label}, predicted {predicted}) over {steps} steps "
            f"({steps * activity.dt * 1e3:g} ms), one panel per layer sharing the time axis in ms: " + "; ".join(titles)
        )
        caption = (
            f"Test sample {s.index}, label {_e(label)}, predicted {_e(predicted)} ({_e(activity.input_kind)}). "
            f"Top: the input the network receives; below: the spikes of each spiking layer, one row per neuron "
            f"(at most {max_neurons} per layer, the first ones), all panels on the same time axis in ms."
        )
        rasters.append(_figure_html(png, alt, caption, f"fig-raster-{s.index}"))
        png, titles = membranes_png(s, dt=activity.dt, output_kind=activity.output_kind, class_names=names)
        alt = f"Line charts of membrane potentials over time in ms for test sample {s.index}: " + "; ".join(titles)
        hidden = (
            "the membrane potential of the most active neurons of each spiking layer (threshold dashed) and "
            if s.membranes
            else "no hidden membrane potentials (no layer records its state) and "
        )
        caption = (
            f"Test sample {s.index}: {hidden}the read-out's output per class, the true class ({_e(label)}) drawn "
            "thicker."
        )
        membranes.append(_figure_html(png, alt, caption, f"fig-membrane-{s.index}"))
    return (
        _section("rasters", "Spike rasters", "\n".join(rasters)),
        _section("membranes", "Membrane potentials", "\n".join(membranes)),
    )


def _rates_section(activity: _Activity) -> str:
    rates = activity.neuron_rates
    if not rates:
        return _section("firing-rates", "Firing rates", "<p>This model has no spiking layers.</p>")
    summary = "; ".join(
        f"{name}: {r.numel()} neurons, mean {float(r.mean()) / activity.dt:.1f} Hz, "
        f"{100 * float((r == 0).double().mean()):.0f}% silent"
        for name, r in rates.items()
    )
    alt = f"Histograms of per-neuron firing rates in Hz, one per spiking layer: {summary}."
    caption = (
        "How many neurons fire at each rate: each neuron's spikes per step over the valid steps of all test samples, "
        f"divided by the time step ({activity.dt * 1e3:g} ms)."
    )
    return _section(
        "firing-rates", "Firing rates", _figure_html(rates_png(rates, dt=activity.dt), alt, caption, "fig-rates")
    )


def _efficiency_section(metrics: Mapping[str, Any]) -> str:
    eff = metrics.get("efficiency")
    if not eff:
        return _section("efficiency", "Efficiency", "<p>No efficiency table in metrics.json.</p>")
    parts = [
        f"<p>Per test sample, averaged over {_e(_fmt(eff.get('samples')))} samples of {_e(_fmt(eff.get('timesteps')))} "
        f"steps (the ANN runs {_e(eff.get('ann_passes', '?'))}); activation sparsity "
        f"{100 * float(eff.get('activation_sparsity') or 0):.1f}%. As <code>spikeforge profile</code> prints it.</p>"
    ]
    if eff.get("per_sample"):
        per_sample = {k.replace("_", " "): v for k, v in eff["per_sample"].items()}
        parts.append("<h3>Operations per sample</h3>" + _kv_table(per_sample, ("quantity", "per sample")))
    if eff.get("synaptic_layers"):
        parts.append("<h3>Synaptic layers</h3>" + _grid_table(eff["synaptic_layers"], "name"))
    if eff.get("neuron_layers"):
        parts.append("<h3>Neuron layers</h3>" + _grid_table(eff["neuron_layers"], "name"))
    energy = eff.get("energy_estimate_pj_per_sample")
    if energy:
        rows = {k.replace("_", " "): {"pJ": v, "µJ": None if v is None else v * 1e-6} for k, v in energy.items()}
        parts.append("<h3>Energy per sample (ESTIMATE)</h3>" + _grid_table(rows, "estimate"))
    model = eff.get("energy_model") or {}
    if model.get("source"):
        parts.append(f"<p>Energy table: {_e(model['source'])}.</p>")
    return _section("efficiency", "Efficiency", "\n".join(parts))


def render_report(
    config: Mapping[str, Any], metrics: Mapping[str, Any], activity: _Activity, *, title: str, max_neurons: int = 64
) -> str:
    """The report page as an HTML string (see :func:`write_report`)."""
    if max_neurons < 1:
        raise ValueError(f"max_neurons: expected at least one neuron per panel, got {max_neurons}")
    model_cfg = config.get("model_config", {})
    accuracy = metrics.get("test_accuracy")
    lead = (
        f"{_e(config.get('dataset', '?'))} · model {_e(model_cfg.get('model', '?'))} · "
        + (f"test accuracy {100 * accuracy:.2f}% (recorded), " if accuracy is not None else "")
        + f"{100 * activity.accuracy:.2f}% re-evaluated"
    )
    rasters, membranes = _samples_sections(activity, max_neurons)
    sections = [
        _config_section(config, metrics),
        _curves_section(metrics),
        _test_section(metrics, activity),
        _confusion_section(activity),
        rasters,
        membranes,
        _rates_section(activity),
        _efficiency_section(metrics),
    ]
    nav = (
        "<nav>"
        + "".join(
            f'<a href="#{sid}">{name}</a>'
            for sid, name in (
                ("config", "Configuration"),
                ("curves", "Curves"),
                ("test-metrics", "Test metrics"),
                ("confusion", "Confusion"),
                ("rasters", "Rasters"),
                ("membranes", "Membranes"),
                ("firing-rates", "Firing rates"),
                ("efficiency", "Efficiency"),
            )
        )
        + "</nav>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"<header><h1>{_e(title)}</h1><p class='lead'>{lead}</p>{nav}</header>\n<main>\n"
        + "\n".join(sections)
        + f'\n</main>\n<p id="{IMAGES_LOADED_ID}" hidden></p>\n<script>{_SCRIPT}</script>\n</body>\n</html>\n'
    )


def write_report(
    run_dir: str | Path, activity: _Activity, *, out: str | Path | None = None, max_neurons: int = 64
) -> Path:
    """Write the report of a run folder as one self-contained HTML page and return its path.

    Args:
        run_dir: a run folder written by ``spikeforge train``; its ``config.json`` and ``metrics.json`` (history,
            test metrics, efficiency table) are read here.
        activity: the saved model on the test split, from :func:`spikeforge.metrics.inspect_split`.
        out: the HTML file (default ``run_dir/report.html``), written atomically (a temporary file renamed into
            place); an existing file is replaced, a directory refused.
        max_neurons: at most this many neurons per raster panel (the first ones; the panel says how many of how
            many are shown).

    The page holds the configuration (data set, model, training, environment), training curves, test metrics, a
    confusion matrix, a spike raster and membrane potentials per recorded sample, firing-rate histograms and the
    efficiency table; every figure is a PNG data URI with an alt text and a caption.
    """
    from .._files import atomic_path, read_json_or_yaml

    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run_dir: {run_dir} is not a folder; expected a run folder of `spikeforge train`")
    config = read_json_or_yaml(run_dir / "config.json", what="run_dir")
    metrics_path = run_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text()) if metrics_path.is_file() else {}
    out = run_dir / "report.html" if out is None else Path(out)
    if out.is_dir():
        raise FileExistsError(f"out: {out} is a directory; expected the path of an HTML file to write")
    page = render_report(config, metrics, activity, title=f"spikeforge report: {run_dir.name}", max_neurons=max_neurons)
    with atomic_path(out, suffix=".html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    return out
