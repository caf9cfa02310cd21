r"""ANN-to-SNN conversion: trace, calibrate, fold, normalise, and build the :class:`ConvertedNetwork`.

**Rate coding.** Every ReLU becomes a layer of integrate-and-fire neurons (reset by subtraction). The analog sample
is fed as a constant current at every step (direct encoding), so the first layer integrates exactly what the ANN's
first layer computes and spikes from there on. A neuron whose ANN activation is :math:`a` should fire at the rate
:math:`r = a / \lambda` for its layer's scale :math:`\lambda`: one spike stands for :math:`\lambda` in ANN units.
Biases are injected at every step.

**Scales (data-based normalisation, Rueckauer et al. 2017).** :math:`\lambda` is the ``percentile``-th percentile
(99.9 by default) of the positive ANN activations over the calibration data, per channel (``per_channel=True``, the
default: the first dimension of a sample, the features of a linear layer; a channel never active keeps the layer's
value) or per layer: values above it saturate (rate 1) instead of stretching the scale and starving every other
neuron of spikes. ``ReLU6`` / clipped ReLUs use :math:`\min(\text{percentile}, m)`, and a
:class:`~spikeforge.learning.conversion.QCFS` activation its trained :math:`\lambda`. Every tensor of the graph
carries a scale :math:`s` (one number, or one per channel): the SNN value times :math:`s` estimates the ANN value.
The input has :math:`s = 1`; an IF layer outputs spikes of scale :math:`\lambda`; pooling, flattening (a
per-channel scale repeated per feature) and upsampling keep the scale of their input.

**Normalisation.** A weighted layer reads input of scale :math:`s_\text{in}` and chooses its output scale
:math:`s_\text{out}`: :math:`W'_{oi} = W_{oi} \, s_{\text{in},i} / s_{\text{out},o}`, :math:`b'_o = b_o /
s_{\text{out},o}`. An IF layer fed
current of scale :math:`s_\text{in}` gets the threshold :math:`\vartheta = \lambda / s_\text{in}`. With
``normalise="weights"`` (the default) a layer whose value goes (through pooling or reshaping only) into one ReLU
takes :math:`s_\text{out} = \lambda` of that ReLU, so every such threshold is 1 and the weights carry the ratios
:math:`\lambda_{l-1} / \lambda_l` (Rueckauer's weight normalisation). With ``normalise="threshold"`` the weighted
layers keep ANN units (:math:`s_\text{out} = 1`: the ANN's weights times the incoming spike value) and the thresholds
are :math:`\vartheta_l = \lambda_l` (threshold balancing). The two give the same spikes up to rounding.

**Residual additions and concatenations.** An addition of branches with scales :math:`s_i` is a weighted sum
:math:`y = \sum_i (s_i / s_\text{out})\, x_i` on the spike (or current) tensors, with :math:`s_\text{out}` chosen as
for a weighted layer; a concatenation along channels keeps each part's scale (a per-channel scale), which the next
weighted layer folds into its weights, so concatenated spike trains stay binary.

**BatchNorm** is folded into the linear or convolutional layer before it (:math:`W \gamma/\sigma`,
:math:`(b - \mu)\gamma/\sigma + \beta`); one that follows anything else becomes a per-channel affine node. **Dropout**
and ``Identity`` are removed. **Max-pooling** becomes :class:`~spikeforge.models.SpikingMaxPool`: a spike passes when it
raises the largest accumulated spike count of its window, so the output count is the largest input count. The
**read-out** integrates the last layer's current and returns it rate-decoded in ANN units
(:class:`~spikeforge.models.AccumulateReadout`): class scores, or regression outputs.

**Low-latency calibration** (``timesteps=T``): with few steps the rates are coarse and biased (late spikes,
saturation); layer by layer, each channel's bias is shifted by the mean difference between the ANN activation and
the SNN's estimate after T steps on the calibration samples (bias correction, Li et al. 2021, "A free lunch from
ANN"), so the network is tuned for that latency.

**Membrane start.** IF layers start at :math:`v_0 = v_\text{init}\vartheta` (``v_init = 0.5``): a neuron then emits
:math:`\lfloor a T/\lambda + 1/2\rfloor` spikes in T steps for a constant input, the rounding that QCFS training
(Bu et al. 2022) matches; ``v_init=0`` floors, as the original rate-coding conversions did.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from ...models import ConvertedNetwork
from ...nn import placement
from ._trace import Node, TracedGraph, UnsupportedLayerError, run_graph, trace_model

__all__ = ["ConversionError", "calibration_batches", "convert"]

#: at most this many positive activations per layer are kept for the percentile (a seeded random subset beyond)
MAX_VALUES = 1 << 22


class ConversionError(ValueError):
    """The model could be traced but not converted faithfully (its traced graph does not reproduce its output)."""


def calibration_batches(data: Any, batch_size: int) -> list[torch.Tensor]:
    """``data`` as a list of input batches: a tensor ``[N, ...]`` (cut into ``batch_size`` rows), or an iterable of
    tensors or of ``(inputs, targets)`` pairs (a ``DataLoader``)."""
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
        raise ValueError(f"batch_size: expected a positive number of samples, got {batch_size!r}")
    if isinstance(data, torch.Tensor):
        if data.dim() < 2 or data.shape[0] == 0:
            raise ValueError(
                f"calibration_data: expected samples [N, ...] with N >= 1 (a batch dimension first), got shape "
                f"{tuple(data.shape)}"
            )
        batches = list(data.split(batch_size))
    elif isinstance(data, Iterable) and not isinstance(data, str | bytes):
        batches = []
        for i, item in enumerate(data):
            x = item[0] if isinstance(item, list | tuple) else item
            if not isinstance(x, torch.Tensor) or x.dim() < 2:
                raise ValueError(
                    f"calibration_data: batch {i} is {type(x).__name__}; expected tensors [B, ...] or (inputs, "
                    "targets) pairs"
                )
            batches.append(x)
    else:
        raise TypeError(
            f"calibration_data: expected a tensor [N, ...] or an iterable of batches, got {type(data).__name__}"
        )
    if not batches:
        raise ValueError("calibration_data: is empty; conversion needs samples to set each layer's scale")
    for i, x in enumerate(batches):
        if not x.is_floating_point():
            raise TypeError(f"calibration_data: batch {i} has dtype {x.dtype}; expected floating-point inputs")
        if not torch.isfinite(x).all():
            raise ValueError(f"calibration_data: batch {i} holds NaN or infinite values")
        if x.shape[1:] != batches[0].shape[1:]:
            raise ValueError(
                f"calibration_data: batch {i} has samples of shape {list(x.shape[1:])}, batch 0 "
                f"{list(batches[0].shape[1:])}"
            )
    return batches


def _check_reproduces(graph: TracedGraph, model: nn.Module, x: torch.Tensor, batch: int) -> None:
    mine, _ = run_graph(graph, x)
    theirs = model(x)
    if not isinstance(theirs, torch.Tensor) or theirs.shape != mine.shape:
        raise ConversionError(
            f"model: on calibration batch {batch} the model returned "
            f"{tuple(theirs.shape) if isinstance(theirs, torch.Tensor) else type(theirs).__name__}, the traced "
            f"graph {tuple(mine.shape)}"
        )
    scale = float(theirs.abs().max()) + 1e-6
    diff = float((mine - theirs).abs().max())
    if diff > 1e-4 * scale:
        how = (
            "its control flow takes another path on these samples than on the traced batch; convert models whose "
            "executed path does not depend on the data"
            if graph.method == "walk"
            else "it uses an operation the tracer records differently"
        )
        raise ConversionError(
            f"model: the traced graph ({graph.method}) does not reproduce the model's output on calibration batch "
            f"{batch} (max difference {diff:.3g} for outputs up to {scale:.3g}): {how}"
        )


def _calibrate(
    graph: TracedGraph, model: nn.Module, batches: list[torch.Tensor], percentile: float, per_channel: bool
) -> dict[str, dict[str, Any]]:
    """Per ReLU node: ``lambda`` (the scale: a 0-dim tensor, or one value per channel ``[C]``) and how it was set."""
    relus = [n for n in graph.nodes if n.op == "relu"]
    names = {n.name for n in relus}
    kept: dict[str, list[torch.Tensor]] = {n: [] for n in names}
    kept_channels: dict[str, list[list[torch.Tensor]]] = {}
    maxima: dict[str, float] = dict.fromkeys(names, 0.0)
    counts: dict[str, int] = dict.fromkeys(names, 0)
    per_batch = max(1, MAX_VALUES // len(batches))
    generator = torch.Generator().manual_seed(0)
    device = placement(model)[0]

    def sample(values: torch.Tensor, cap: int) -> torch.Tensor:
        if values.numel() > cap:
            return values[torch.randperm(values.numel(), generator=generator)[:cap]]
        return values

    for i, xb in enumerate(batches):
        xb = xb.to(device)
        if i == 0 or graph.method == "walk":  # the executed path must be the same on every batch
            _check_reproduces(graph, model, xb, i)
        _, acts = run_graph(graph, xb, names)
        for name, a in acts.items():
            a = a.detach().float().cpu()
            pos = a[a > 0]
            counts[name] += pos.numel()
            if pos.numel():
                maxima[name] = max(maxima[name], float(pos.max()))
            kept[name].append(sample(pos, per_batch))
            if per_channel and a.dim() >= 2:  # channel = the first dimension of a sample
                rows = a.transpose(0, 1).reshape(a.shape[1], -1)
                cap = max(1, per_batch // rows.shape[0])
                lists = kept_channels.setdefault(name, [[] for _ in range(rows.shape[0])])
                for c, row in enumerate(rows):
                    lists[c].append(sample(row[row > 0], cap))
    stats: dict[str, dict[str, Any]] = {}
    q = percentile / 100.0
    for node in relus:
        values = torch.cat(kept[node.name])
        qcfs = node.attrs.get("qcfs")
        clip = node.attrs.get("clip")
        if qcfs is not None:  # the trained quantisation bound: one per layer, never a percentile
            lam, how = qcfs.threshold.detach().float().cpu().reshape(()), "qcfs"
        elif values.numel() == 0:
            lam, how = torch.tensor(1.0), "silent"  # never active on the calibration data: any positive scale does
        else:
            lam, how = torch.quantile(values, q), "percentile"
            if node.name in kept_channels:
                layer = lam
                per = [torch.cat(v) for v in kept_channels[node.name]]
                # a channel never active on the calibration data keeps the layer's scale
                lam = torch.stack([torch.quantile(v, q) if v.numel() else layer for v in per])
                how = "percentile per channel"
            if clip is not None and bool((lam > clip).any()):
                lam, how = lam.clamp(max=clip), f"{how}, clipped at {clip:g}"
        if not bool(((lam > 0) & torch.isfinite(lam)).all()):
            raise ConversionError(f"model: {node.where} has scale {lam.tolist()!r}; expected positive finite scales")
        stats[node.name] = {"lambda": lam, "how": how, "max": maxima[node.name], "positive": counts[node.name]}
    return stats


def _fold_batchnorm(graph: TracedGraph) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Weights and biases of every weighted layer, BatchNorms that follow one folded in (those nodes become
    identities)."""
    params: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    by_name = {n.name: n for n in graph.nodes}
    consumers = graph.consumers()
    for node in graph.nodes:
        if node.op == "linear":
            m = node.module
            w = m.weight.detach().clone().float().cpu()
            b = m.bias.detach().clone().float().cpu() if m.bias is not None else torch.zeros(w.shape[0])
            params[node.name] = (w, b)
        elif node.op == "bn":
            src = by_name[node.inputs[0]]
            if src.op == "linear" and consumers[src.name] == [node.name] and src.name != graph.output:
                gamma, beta, mean, var = _bn_terms(node.module)
                w, b = params[src.name]
                if w.shape[0] != gamma.shape[0]:
                    continue  # a BatchNorm over another axis than the layer's outputs: keep it as an affine node
                k = gamma / torch.sqrt(var + node.module.eps)
                params[src.name] = (w * k.view(-1, *([1] * (w.dim() - 1))), (b - mean) * k + beta)
                node.op = "identity"
                node.attrs["folded_into"] = src.name
    return params


def _bn_terms(bn: nn.Module) -> tuple[torch.Tensor, ...]:
    c = bn.num_features
    gamma = bn.weight.detach().float().cpu() if bn.weight is not None else torch.ones(c)
    beta = bn.bias.detach().float().cpu() if bn.bias is not None else torch.zeros(c)
    return gamma, beta, bn.running_mean.detach().float().cpu(), bn.running_var.detach().float().cpu()


# -- scales ------------------------------------------------------------------------------------------------------

_PASS = ("maxpool", "avgpool", "adaptive_avgpool", "upsample", "identity")


def _per_channel(scale: torch.Tensor, channels: int) -> torch.Tensor:
    return scale.expand(channels).clone() if scale.dim() == 0 else scale


def _broadcast(vec: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """A scalar or a per-channel vector ``[C]``, shaped to broadcast over a sample of ``shape`` (``[C, 1, ...]``)."""
    if vec.dim() == 0:
        return vec.clone()
    return vec.reshape(vec.shape[0], *([1] * (len(shape) - 1))).clone()


def _scalar(scale: torch.Tensor) -> bool:
    return scale.dim() == 0 or bool((scale == scale.flatten()[0]).all())


class _Builder:
    def __init__(self, graph: TracedGraph, stats, params, normalise: str, v_init: float) -> None:
        self.graph = graph
        self.stats = stats
        self.params = params
        self.normalise = normalise
        self.v_init = v_init
        self.by_name = {n.name: n for n in graph.nodes}
        self.consumers = graph.consumers()
        self.nodes: list[dict] = []
        self.tensors: dict[str, torch.Tensor] = {}
        self.emit: dict[str, str] = {}  # traced node -> the graph node holding its value
        self.scale: dict[str, torch.Tensor] = {}
        self.names: set[str] = set()

    # names of graph nodes: the traced name, made unique and dot-free
    def _name(self, base: str) -> str:
        base = base.replace(".", "_") or "node"
        if base.startswith("_"):  # fx names the layers of an nn.Sequential "_0", "_1" ...
            base = "layer" + base
        name, k = base, 1
        while name in self.names or name in ("input", "readout"):
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def _new(self, node: Node | None, op: str, inputs: list[str], shape, **fields) -> str:
        name = "input" if op == "input" else "readout" if op == "readout" else self._name(node.name)
        entry = {"name": name, "op": op, "inputs": inputs, "shape": [int(s) for s in shape]}
        if node is not None and op not in ("input",):
            entry["source"] = node.where
            entry["traced"] = node.name
        entry.update(fields)
        self.nodes.append(entry)
        return name

    def _target(self, name: str) -> torch.Tensor | None:
        """The scale a free output should take: lambda of the one ReLU it feeds through pass-through nodes (one
        number when a reshape lies between them and lambda is per channel)."""
        if self.normalise == "threshold":
            return None
        reshaped = False
        while True:
            users = self.consumers[name]
            if len(users) != 1 or name == self.graph.output:
                return None
            user = self.by_name[users[0]]
            if user.op == "relu":
                lam = self.stats[user.name]["lambda"]
                return None if reshaped and lam.dim() else lam
            if user.op not in (*_PASS, "reshape"):
                return None
            reshaped = reshaped or user.op == "reshape"
            name = user.name

    def _rescale_to_scalar(self, node: Node, src: str) -> tuple[str, torch.Tensor]:
        """An explicit scale node making the per-channel scale of ``src`` one number (its maximum)."""
        s = self.scale[src]
        shape = self.by_name[src].shape
        target = s.max()
        out = self._new(node, "scale", [self.emit[src]], shape, param_shape=list(_broadcast(s, shape).shape))
        self.tensors[f"layers.{out}.factor"] = _broadcast(s / target, shape)
        return out, target

    def build(self) -> tuple[dict, dict[str, torch.Tensor]]:
        for node in self.graph.nodes:
            getattr(self, "_add_op" if node.op == "add" else f"_{node.op}")(node)
        out = self.graph.output
        s = self.scale[out]
        shape = self.by_name[out].shape
        scale = _broadcast(s, shape)
        name = self._new(None, "readout", [self.emit[out]], shape, param_shape=list(scale.shape))
        self.tensors[f"layers.{name}.scale"] = scale
        return {"version": 1, "nodes": self.nodes}, self.tensors

    def _input(self, node: Node) -> None:
        self.emit[node.name] = self._new(node, "input", [], node.shape)
        self.scale[node.name] = torch.tensor(1.0)

    def _identity(self, node: Node) -> None:
        self.emit[node.name] = self.emit[node.inputs[0]]
        self.scale[node.name] = self.scale[node.inputs[0]]

    def _linear(self, node: Node) -> None:
        src = node.inputs[0]
        m = node.module
        w, b = self.params[node.name]
        s_in = self.scale[src]
        in_shape = self.by_name[src].shape
        emit_src = self.emit[src]
        if s_in.dim() == 1 and not _scalar(s_in):
            # a per-feature (Linear on [F]) or per-channel (Conv) scale folds into the weights; anything else is
            # made one number first
            fits = len(in_shape) == 1 if isinstance(m, nn.Linear) else True
            if not fits or s_in.shape[0] != w.shape[1] * (1 if isinstance(m, nn.Linear) else m.groups):
                emit_src, s_in = self._rescale_to_scalar(node, src)
        elif s_in.dim() == 1:
            s_in = s_in.flatten()[0].clone()
        s_out = self._target(node.name)
        if s_out is None or (s_out.dim() and (len(node.shape) != 1 if isinstance(m, nn.Linear) else False)):
            s_out = torch.tensor(1.0)  # a Linear over [..., F] has its features last, not first: one number
        w_out = s_out if s_out.dim() == 0 else s_out.view(-1, *([1] * (w.dim() - 1)))
        if isinstance(m, nn.Linear):
            w_in = s_in if s_in.dim() == 0 else s_in.view(1, -1)
            name = self._new(
                node, "linear", [emit_src], node.shape, in_features=m.in_features, out_features=m.out_features
            )
        else:
            if s_in.dim() == 0:
                w_in = s_in
            else:  # weight [C_out, C_in / groups, k...]: input channel of weight[o, j] is group(o) * C_in/g + j
                groups, per_group = m.groups, w.shape[1]
                out_per_group = w.shape[0] // groups
                idx = torch.arange(w.shape[0]).div(out_per_group, rounding_mode="floor")[:, None] * per_group
                idx = idx + torch.arange(per_group)[None, :]
                w_in = s_in[idx].view(*w.shape[:2], *([1] * (w.dim() - 2)))
            name = self._new(
                node,
                "conv",
                [emit_src],
                node.shape,
                dims=w.dim() - 2,
                in_channels=m.in_channels,
                out_channels=m.out_channels,
                kernel_size=list(m.kernel_size),
                stride=list(m.stride),
                padding=list(m.padding) if not isinstance(m.padding, str) else _explicit_padding(m),
                dilation=list(m.dilation),
                groups=m.groups,
            )
        self.tensors[f"layers.{name}.weight"] = w * w_in / w_out
        self.tensors[f"layers.{name}.bias"] = b / s_out
        self.emit[node.name] = name
        self.scale[node.name] = s_out

    def _bn(self, node: Node) -> None:  # a BatchNorm that could not be folded: per-channel affine
        src = node.inputs[0]
        gamma, beta, mean, var = _bn_terms(node.module)
        k = gamma / torch.sqrt(var + node.module.eps)
        s_in = _per_channel(self.scale[src], k.shape[0]) if self.scale[src].dim() == 0 else self.scale[src]
        target = self._target(node.name)
        s_out = torch.tensor(1.0) if target is None else target
        weight = _broadcast(k * s_in / s_out, node.shape)
        name = self._new(node, "affine", [self.emit[src]], node.shape, param_shape=list(weight.shape))
        self.tensors[f"layers.{name}.weight"] = weight
        self.tensors[f"layers.{name}.bias"] = _broadcast((beta - mean * k) / s_out, node.shape)
        self.emit[node.name] = name
        self.scale[node.name] = s_out

    def _relu(self, node: Node) -> None:
        src = node.inputs[0]
        lam = self.stats[node.name]["lambda"]
        s_in = self.scale[src]
        threshold = _broadcast(lam, node.shape) / _broadcast(s_in, node.shape)
        if _scalar(threshold):
            threshold = threshold.flatten()[0].clone()
        name = self._new(
            node,
            "if",
            [self.emit[src]],
            node.shape,
            param_shape=list(threshold.shape),
            v_init=self.v_init,
            scale=lam.tolist(),
            scale_from=self.stats[node.name]["how"],
        )
        self.tensors[f"layers.{name}.threshold"] = threshold
        self.emit[node.name] = name
        self.scale[node.name] = lam.clone()

    def _pool(self, node: Node, kind: str, dims: int, **extra: Any) -> None:
        """A max- or average-pool node: its window geometry plus ``extra`` options; the scale passes through."""
        m = node.module
        src = node.inputs[0]
        self.emit[node.name] = self._new(
            node,
            kind,
            [self.emit[src]],
            node.shape,
            dims=dims,
            kernel_size=list(_tuple(m.kernel_size, dims)),
            stride=list(_tuple(m.stride if m.stride is not None else m.kernel_size, dims)),
            padding=list(_tuple(m.padding, dims)),
            ceil_mode=bool(m.ceil_mode),
            **extra,
        )
        self.scale[node.name] = self.scale[src]

    def _maxpool(self, node: Node) -> None:
        dims = 1 if isinstance(node.module, nn.MaxPool1d) else 2
        self._pool(node, "maxpool", dims, dilation=list(_tuple(node.module.dilation, dims)))

    def _avgpool(self, node: Node) -> None:
        m = node.module
        self._pool(
            node,
            "avgpool",
            1 if isinstance(m, nn.AvgPool1d) else 2,
            count_include_pad=bool(m.count_include_pad),
            divisor_override=getattr(m, "divisor_override", None),
        )

    def _adaptive_avgpool(self, node: Node) -> None:
        dims = 1 if isinstance(node.module, nn.AdaptiveAvgPool1d) else 2
        src = node.inputs[0]
        self.emit[node.name] = self._new(
            node, "adaptive_avgpool", [self.emit[src]], node.shape, dims=dims, output_size=list(node.shape[1:])
        )
        self.scale[node.name] = self.scale[src]

    def _upsample(self, node: Node) -> None:
        src = node.inputs[0]
        self.emit[node.name] = self._new(node, "upsample", [self.emit[src]], node.shape)
        self.scale[node.name] = self.scale[src]

    def _reshape(self, node: Node) -> None:
        src = node.inputs[0]
        s = self.scale[src]
        in_shape = self.by_name[src].shape
        emit_src = self.emit[src]
        if s.dim() == 1 and not _scalar(s):
            if len(node.shape) == 1 and node.shape[0] == math.prod(in_shape):  # a flatten, channels first
                s = s.repeat_interleave(math.prod(in_shape[1:]))
            else:
                emit_src, s = self._rescale_to_scalar(node, src)
        elif s.dim() == 1:
            s = s.flatten()[0].clone()
        self.emit[node.name] = self._new(node, "reshape", [emit_src], node.shape)
        self.scale[node.name] = s

    def _cat(self, node: Node) -> None:
        dim = node.attrs["dim"]
        srcs = node.inputs
        emits = [self.emit[s] for s in srcs]
        scales = [self.scale[s] for s in srcs]
        if dim == 0:
            scale = torch.cat([_per_channel(s, self.by_name[src].shape[0]) for s, src in zip(scales, srcs)])
            if _scalar(scale):
                scale = scale.flatten()[0].clone()
        else:  # along a spatial axis: one scale for all parts
            target = torch.stack([s.max() for s in scales]).max()
            emits, scale = [], target
            for src in srcs:
                s = self.scale[src]
                if s.dim() == 0 and float(s) == float(target):
                    emits.append(self.emit[src])
                    continue
                shape = self.by_name[src].shape
                factor = _broadcast(s / target, shape)
                out = self._new(node, "scale", [self.emit[src]], shape, param_shape=list(factor.shape))
                self.tensors[f"layers.{out}.factor"] = factor
                emits.append(out)
        self.emit[node.name] = self._new(node, "cat", emits, node.shape, dim=dim)
        self.scale[node.name] = scale

    def _add_op(self, node: Node) -> None:
        target = self._target(node.name)
        s_out = _broadcast(torch.tensor(1.0) if target is None else target, node.shape)
        factors = [_broadcast(self.scale[s], node.shape) / s_out for s in node.inputs]
        name = self._new(
            node,
            "add",
            [self.emit[s] for s in node.inputs],
            node.shape,
            factor_shapes=[list(f.shape) for f in factors],
        )
        for i, f in enumerate(factors):
            self.tensors[f"layers.{name}.factor_{i}"] = f
        self.emit[node.name] = name
        self.scale[node.name] = torch.tensor(1.0) if target is None else target


def _bias_carrier(snn: ConvertedNetwork, node: dict) -> tuple[nn.Module, torch.Tensor] | None:
    """The layer whose bias moves the input current of IF node ``node``, with the factor it reaches it by: the layer
    feeding it, or the first weighted input of the residual addition feeding it."""
    by_name = {n["name"]: n for n in snn.nodes}
    src = by_name[node["inputs"][0]]
    if src["op"] in ("linear", "conv", "affine"):
        return snn.layers[src["name"]], torch.tensor(1.0)
    if src["op"] == "add":
        for i, name in enumerate(src["inputs"]):
            if by_name[name]["op"] in ("linear", "conv", "affine"):
                return snn.layers[name], getattr(snn.layers[src["name"]], f"factor_{i}")
    return None


def _channels(t: torch.Tensor, channels: int) -> torch.Tensor:
    """A scalar, or a per-channel tensor shaped ``[C]`` or ``[C, 1, ...]``, as ``[C]``."""
    return t.reshape(()).expand(channels) if t.numel() == 1 else t.reshape(channels, -1)[:, 0]


def _channel_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over samples and positions of ``x[B, C, ...]`` per channel ``[C]``."""
    return x.transpose(0, 1).reshape(x.shape[1], -1).mean(1)


def _calibrate_biases(
    snn: ConvertedNetwork, graph: TracedGraph, x: torch.Tensor, timesteps: int, batch_size: int
) -> list[str]:
    r"""Low-latency calibration (bias correction, Li et al. 2021): IF layer by IF layer, in order, run the SNN for
    ``timesteps`` steps on ``x`` and shift the bias feeding each layer by the mean per channel of
    :math:`a - r\lambda` (ANN activation minus the SNN's estimate after ``timesteps`` steps), in that layer's
    input units (:math:`\times \vartheta / \lambda`); :data:`ROUNDS` times per layer, because a channel's mean
    rate answers its bias less than one for one where neurons are silent or saturated. Returns the names of the
    layers it could not shift (no weighted layer feeds them)."""
    ifs = [n for n in snn.nodes if n["op"] == "if"]
    _, acts = run_graph(graph, x, {n["traced"] for n in ifs})
    skipped = []
    for node in ifs:
        carrier = _bias_carrier(snn, node)
        if carrier is None:
            skipped.append(node["name"])
            continue
        for _ in range(ROUNDS):
            _shift_bias(snn, node, *carrier, acts[node["traced"]], x, timesteps, batch_size)
    return skipped


#: correction rounds per IF layer in the low-latency calibration
ROUNDS = 3


def _shift_bias(
    snn: ConvertedNetwork,
    node: dict,
    layer: nn.Module,
    factor: torch.Tensor,
    a: torch.Tensor,
    x: torch.Tensor,
    timesteps: int,
    batch_size: int,
) -> None:
    neuron = snn.layers[node["name"]]
    counts: list[torch.Tensor] = []
    handle = neuron.register_forward_hook(lambda m, i, o: counts.append(o[0].sum(0)))
    try:
        for lo in range(0, len(x), batch_size):
            xb = x[lo : lo + batch_size]
            snn.run_until(xb.unsqueeze(0).expand(timesteps, *xb.shape), until=node["name"])
    finally:
        handle.remove()
    channels = a.shape[1]
    lam = _channels(torch.tensor(node["scale"], dtype=a.dtype, device=a.device), channels)
    estimate = torch.cat(counts) / timesteps * _broadcast(lam, tuple(a.shape[1:]))
    shift = _channel_mean(a - estimate)  # ANN units, per channel
    theta = _channels(neuron.get("threshold"), channels)
    delta = shift * theta / lam / _channels(factor.to(a.device), channels)  # moves the IF input by the shift
    layer.bias += delta.to(layer.bias.dtype).view(-1, *([1] * (layer.bias.dim() - 1)))


def _tuple(value: Any, dims: int) -> tuple[int, ...]:
    return (int(value),) * dims if isinstance(value, int) else tuple(int(v) for v in value)


def _explicit_padding(m: nn.Module) -> list[int]:
    if m.padding == "valid":
        return [0] * len(m.kernel_size)
    # "same" with odd effective kernels pads symmetrically; even ones do not convert to a symmetric padding
    pads = []
    for k, d in zip(m.kernel_size, m.dilation):
        total = d * (k - 1)
        if total % 2:
            raise UnsupportedLayerError(f"model: {type(m).__name__} with padding='same' and an even kernel")
        pads.append(total // 2)
    return pads


def convert(
    model: nn.Module,
    calibration_data: Any,
    *,
    percentile: float = 99.9,
    per_channel: bool = True,
    normalise: str = "weights",
    v_init: float = 0.5,
    timesteps: int | None = None,
    calibration_samples: int = 512,
    trace: str = "auto",
    batch_size: int = 256,
) -> ConvertedNetwork:
    r"""Convert a trained ReLU network into a spiking network of integrate-and-fire neurons.

    Args:
        model: an ``nn.Sequential`` or any ``nn.Module`` of one input tensor and one output tensor built from the
            supported layers (``spikeforge.learning.conversion.SUPPORTED``); it is not changed.
        calibration_data: samples ``[N, ...]`` (a tensor, cut into ``batch_size`` rows) or an iterable of batches
            (tensors or ``(inputs, targets)``), typically the training images: they set each layer's scale.
        percentile: the percentile of each layer's positive activations taken as its scale :math:`\lambda`
            (Rueckauer et al. 2017; 100 is the maximum).
        per_channel: one scale per channel (the percentile of that channel's activations; per neuron for a
            linear layer's features) instead of one per layer; channels that are never active keep the layer's.
        normalise: ``"weights"`` (thresholds 1, weights scaled by :math:`\lambda_{l-1}/\lambda_l`) or
            ``"threshold"`` (ANN weights, thresholds :math:`\lambda_l`); see the module docstring.
        v_init: initial membrane as a fraction of the threshold (0.5: rounding; 0: flooring).
        timesteps: when given, calibrate the network for this many time steps (low-latency calibration): each IF
            layer's bias is shifted, layer by layer, by the mean per channel of the difference between the ANN's
            activation and the SNN's rate estimate after ``timesteps`` steps (bias correction, Li et al. 2021), on
            the first ``calibration_samples`` calibration samples. The result is tuned for that latency; without
            it the network is the same for every T.
        calibration_samples: samples used by the low-latency calibration.
        trace: ``"auto"`` (torch.fx, and the executed path where fx fails), ``"fx"`` or ``"walk"``.
        batch_size: rows per calibration batch when ``calibration_data`` is a tensor.

    Returns:
        A :class:`~spikeforge.models.ConvertedNetwork` on the model's device, in eval mode:
        ``snn(x_seq[T, B, ...]) -> (y_seq[T, B, ...], state)`` with ``x_seq`` the input repeated over T steps
        (``spikeforge.encoding.direct``) and ``y_seq[t]`` the rate-decoded estimate of the ANN's output after
        ``t + 1`` steps. ``snn.model_config()`` is the config that :func:`spikeforge.interop.save_model` stores.

    Raises:
        UnsupportedLayerError: a layer without a spiking equivalent (named, with its position in the model).
        ConversionError: the traced graph does not reproduce the model's output on the calibration data.

    >>> import torch
    >>> from torch import nn
    >>> ann = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    >>> snn = convert(ann, torch.rand(64, 4))
    >>> y_seq, _ = snn(torch.rand(3, 4).expand(100, 3, 4))
    >>> tuple(y_seq.shape)
    (100, 3, 2)
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    if not (isinstance(percentile, int | float) and 0 < percentile <= 100):
        raise ValueError(f"percentile: expected a number in (0, 100], got {percentile!r}")
    if normalise not in ("weights", "threshold"):
        raise ValueError(f"normalise: expected 'weights' or 'threshold', got {normalise!r}")
    if not (isinstance(v_init, int | float) and 0 <= v_init < 1):
        raise ValueError(f"v_init: expected a fraction of the threshold in [0, 1), got {v_init!r}")
    if timesteps is not None and (not isinstance(timesteps, int) or isinstance(timesteps, bool) or timesteps <= 0):
        raise ValueError(
            f"timesteps: expected a positive number of steps to calibrate for (or None), got {timesteps!r}"
        )
    if not isinstance(calibration_samples, int) or isinstance(calibration_samples, bool) or calibration_samples <= 0:
        raise ValueError(f"calibration_samples: expected a positive number of samples, got {calibration_samples!r}")
    batches = calibration_batches(calibration_data, batch_size)
    device = placement(model)[0]
    training = {m: m.training for m in model.modules()}
    model.eval()  # BatchNorm uses (and keeps) its running statistics, dropout is off, until the end
    try:
        with torch.no_grad():
            graph = trace_model(model, batches[0].to(device), trace)
            stats = _calibrate(graph, model, batches, float(percentile), bool(per_channel))
            params = _fold_batchnorm(graph)
            spec, tensors = _Builder(graph, stats, params, normalise, float(v_init)).build()
            spec.update(
                trace=graph.method,
                trace_note=graph.note,
                percentile=float(percentile),
                per_channel=bool(per_channel),
                normalise=normalise,
                v_init=float(v_init),
            )
            snn = ConvertedNetwork(spec)
            snn.load_state_dict(tensors)
            snn = snn.to(device).eval()
            if timesteps is not None:  # runs the ANN's graph again: still in eval mode
                x_cal = torch.cat(batches)[:calibration_samples].to(device)
                skipped = _calibrate_biases(snn, graph, x_cal, timesteps, batch_size)
                spec.update(calibrated_timesteps=timesteps, calibration_samples=len(x_cal), not_calibrated=skipped)
    finally:
        for m, mode in training.items():
            m.training = mode
    return snn
