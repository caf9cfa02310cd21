r"""Where a converted network loses accuracy: each IF layer against the ANN activation it stands for.

For an IF layer of scale :math:`\lambda` run for :math:`T` steps, a neuron that emits :math:`n` spikes has the rate
:math:`r = n / T` and should match :math:`\min(a / \lambda, 1)` for its ANN activation :math:`a`. Per layer, over
every neuron of every sample:

- ``correlation``: Pearson correlation of :math:`r\lambda` (the SNN's estimate, in ANN units) with :math:`a` (1 when
  the layer is a faithful rate code);
- ``rate_error``: mean :math:`|r - \min(a/\lambda, 1)|`, spikes per step (the quantisation alone leaves up to
  :math:`1/(2T)` with the half-threshold start);
- ``saturated``: fraction firing at every step (:math:`r = 1`); ``clipped``: fraction whose ANN activation exceeds
  the scale (:math:`a > \lambda`), which the SNN cannot represent;
- ``silent``: fraction that never fired although :math:`a \ge \lambda / T` asks for at least one spike (input that
  arrives too late, or errors from the layers before).

The read-out row compares the rate-decoded output with the ANN's: correlation, mean absolute error and the share of
samples whose arg-max agrees.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from ._trace import run_graph, trace_model

__all__ = ["Diagnostics", "LayerDiagnostics", "diagnose"]


@dataclass
class LayerDiagnostics:
    name: str  # node of the converted graph
    source: str  # the ANN layer it replaces
    scale: float  # lambda (the mean over channels where it is per channel)
    neurons: int
    rate: float  # mean spikes per neuron per step
    correlation: float
    rate_error: float
    saturated: float
    clipped: float
    silent: float


@dataclass
class Diagnostics:
    """Per-layer agreement of a converted network with its ANN after ``timesteps`` steps on ``samples`` samples."""

    timesteps: int
    samples: int
    layers: list[LayerDiagnostics]
    output_correlation: float
    output_error: float
    argmax_agreement: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def table(self) -> str:
        head = ["layer", "ANN layer", "scale", "rate", "corr.", "rate err.", "saturated", "clipped", "silent"]
        rows = [
            [
                d.name,
                d.source,
                f"{d.scale:.3g}",
                f"{d.rate:.3f}",
                f"{d.correlation:.3f}",
                f"{d.rate_error:.3f}",
                f"{d.saturated:.3f}",
                f"{d.clipped:.3f}",
                f"{d.silent:.3f}",
            ]
            for d in self.layers
        ]
        rows.append(["readout", "output", "", "", f"{self.output_correlation:.3f}", "", "", "", ""])
        widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
        line = lambda r: "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
        return "\n".join(
            [
                f"per layer, T={self.timesteps}, {self.samples} samples",
                line(head),
                line(["-" * w for w in widths]),
                *map(line, rows),
                f"read-out: mean |SNN - ANN| {self.output_error:.3g}"
                + (
                    ""
                    if math.isnan(self.argmax_agreement)
                    else f", arg-max as the ANN's on {self.argmax_agreement:.1%} of the samples"
                ),
            ]
        )


class _Moments:
    """Running sums for a Pearson correlation and the error measures."""

    def __init__(self) -> None:
        self.n = 0
        self.sums = torch.zeros(5, dtype=torch.float64)  # r, a, r^2, a^2, r*a

    def add(self, r: torch.Tensor, a: torch.Tensor) -> None:
        r, a = r.double().flatten(), a.double().flatten()
        self.n += r.numel()
        self.sums += torch.stack([r.sum(), a.sum(), (r * r).sum(), (a * a).sum(), (r * a).sum()])

    def correlation(self) -> float:
        if self.n == 0:
            return float("nan")
        sr, sa, srr, saa, sra = (self.sums / self.n).tolist()
        var_r, var_a = srr - sr * sr, saa - sa * sa
        if var_r <= 1e-18 or var_a <= 1e-18:
            return float("nan")
        return (sra - sr * sa) / (var_r * var_a) ** 0.5


def diagnose(ann: nn.Module, snn: nn.Module, x: torch.Tensor, *, timesteps: int, batch_size: int = 256) -> Diagnostics:
    """Run ``ann`` and the network :func:`~spikeforge.learning.conversion.convert` made of it on ``x[N, ...]`` (the
    SNN for ``timesteps`` steps, direct input) and compare them layer by layer (see the module docstring)."""
    if not isinstance(timesteps, int) or isinstance(timesteps, bool) or timesteps <= 0:
        raise ValueError(f"timesteps: expected a positive number of steps, got {timesteps!r}")
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or len(x) == 0:
        raise ValueError(f"x: expected samples [N, ...] with N >= 1, got {getattr(x, 'shape', type(x).__name__)}")
    graph_spec = getattr(snn, "graph", None)
    if not isinstance(graph_spec, dict) or "nodes" not in graph_spec:
        raise TypeError(f"snn: expected a network made by spikeforge.convert, got {type(snn).__name__}")
    ifs = [n for n in graph_spec["nodes"] if n["op"] == "if"]
    device = next(iter(snn.buffers())).device
    ann_device = next(ann.parameters()).device
    was_ann, was_snn = ann.training, snn.training
    ann.eval()
    snn.eval()
    counts: dict[str, torch.Tensor] = {}
    handles = []
    for node in ifs:

        def hook(module, inputs, output, name=node["name"]):
            counts[name] = output[0].detach().sum(0)

        handles.append(snn.layers[node["name"]].register_forward_hook(hook))
    moments = {n["name"]: _Moments() for n in ifs}
    totals = {n["name"]: torch.zeros(5, dtype=torch.float64) for n in ifs}  # rate, error, sat, clipped, silent
    out_moments = _Moments()
    out_error, agree, classes = 0.0, 0, True
    try:
        with torch.no_grad():
            graph = trace_model(ann, x[:batch_size].to(ann_device), graph_spec.get("trace", "auto"))
            names = {n["traced"] for n in ifs}
            missing = names - {n.name for n in graph.nodes}
            if missing:
                raise ValueError(
                    f"snn: its layers {sorted(missing)} are not in the traced ANN; pass the ANN it was converted from"
                )
            for lo in range(0, len(x), batch_size):
                xb = x[lo : lo + batch_size]
                ann_out, acts = run_graph(graph, xb.to(ann_device), names)
                xs = xb.to(device)
                y_seq, _ = snn(xs.unsqueeze(0).expand(timesteps, *xs.shape))
                for node in ifs:
                    name = node["name"]
                    a = acts[node["traced"]].to(device).reshape(counts[name].shape)
                    lam = torch.tensor(node["scale"], device=device, dtype=a.dtype)  # one, or one per channel
                    lam = lam.view(1, -1, *([1] * (a.dim() - 2))) if lam.dim() else lam
                    r = counts[name] / timesteps
                    moments[name].add(r * lam, a)  # the SNN's estimate of the activation, in ANN units
                    ideal = (a / lam).clamp(0, 1)
                    totals[name] += torch.stack(
                        [
                            r.double().sum(),
                            (r - ideal).abs().double().sum(),
                            (counts[name] >= timesteps).double().sum(),
                            (a > lam).double().sum(),
                            ((counts[name] == 0) & (a >= lam / timesteps)).double().sum(),
                        ]
                    )
                y = y_seq[-1]
                ann_out = ann_out.to(device).reshape(y.shape)
                out_moments.add(y, ann_out)
                out_error += float((y - ann_out).abs().reshape(len(y), -1).mean(1).sum())
                classes = classes and y.dim() == 2
                if classes:
                    agree += int((y.argmax(1) == ann_out.argmax(1)).sum())
    finally:
        for h in handles:
            h.remove()
        ann.train(was_ann)
        snn.train(was_snn)
    layers = []
    for node in ifs:
        name = node["name"]
        n = moments[name].n
        rate, err, sat, clipped, silent = (totals[name] / max(n, 1)).tolist()
        layers.append(
            LayerDiagnostics(
                name,
                node.get("source", ""),
                float(torch.tensor(node["scale"]).mean()),
                n // len(x),
                rate,
                moments[name].correlation(),
                err,
                sat,
                clipped,
                silent,
            )
        )
    agreement = agree / len(x) if classes else float("nan")  # arg-max agreement: classifiers only
    return Diagnostics(timesteps, len(x), layers, out_moments.correlation(), out_error / len(x), agreement)
