r"""The network that ANN-to-SNN conversion produces, rebuilt from a JSON graph (``model="converted"``).

:func:`spikeforge.convert` (``spikeforge.learning.conversion``) turns a trained ReLU network into a
:class:`ConvertedNetwork`: a directed acyclic graph of nodes, each an ordinary layer (``nn.Linear``,
``nn.Conv1d/2d``, pooling, flatten, nearest upsampling), an integrate-and-fire layer (:class:`~spikeforge.neurons.IF`,
reset by subtraction), a spiking max-pool, a weighted sum (residual addition), a channel concatenation, or the
read-out. The graph is plain JSON (``config["graph"]``) and every number the conversion chose (weights, biases,
thresholds, the factors of additions and the read-out scale) is a tensor of the state dict, so
:func:`spikeforge.interop.save_model` / ``load_model`` store and rebuild any converted network without pickling.

Execution (time first, like every spikeforge network): the input ``x_seq[T, B, ...]`` is the analog sample fed as a
constant current at every step (``encoding="direct"``). Stateless nodes run over all ``T*B`` rows at once; the
stateful ones scan time:

- IF layer, per neuron: :math:`v_t = v_{t-1} + I_t`, :math:`z_t = H(v_t - \vartheta)`, :math:`v_t \leftarrow v_t -
  \vartheta z_t`, from :math:`v_0 = v_\text{init}\,\vartheta` (``v_init = 0.5`` by default: the half-threshold start
  that removes the flooring bias of the rate, Bu et al. 2022). Its firing rate over :math:`T` steps approaches
  :math:`\operatorname{clip}(\bar I / \vartheta, 0, 1)` with an error below :math:`1/T`.
- spiking max-pool, gated by accumulated input: with :math:`A_{i,t} = \sum_{\tau \le t} x_{i,\tau}` (spike counts
  for spike input) the window emits :math:`y_t = \max_i A_{i,t} - \max_i A_{i,t-1}`. A spike passes exactly when it
  raises the window's largest count so far, so the output of spike input stays binary and its count after every step
  equals the largest input count: the rate approaches the largest input rate with an error below :math:`1/T`
  (a gate that passes the current leader's spikes instead loses or adds a spike at every change of leader).
- read-out (``readout`` node): :math:`y_t = s \cdot \frac{1}{t} \sum_{\tau \le t} I_\tau`, the membrane of a
  non-leaky integrator divided by the elapsed steps and multiplied by the output scale :math:`s`: the rate-decoded
  estimate of the ANN's output in the ANN's own units (regression), whose arg-max is that of the accumulated membrane
  (classification; score it with ``readout="last"``).

Shapes: ``forward(x_seq[T, B, *input_shape], state=None) -> (y_seq[T, B, *output_shape], state)``, where ``state``
maps each stateful node to its state (IF membrane, max-pool accumulators, read-out sum and step count), so a run cut
into chunks gives the same output as one run.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..neurons import IF, IFState

__all__ = [
    "NODE_OPS",
    "AccumulateReadout",
    "ChannelAffine",
    "ChannelScale",
    "ConvertedNetwork",
    "SpikingMaxPool",
    "WeightedSum",
    "build_converted",
]

#: node operations of a converted graph, with what each one is
NODE_OPS: dict[str, str] = {
    "input": "the network input (one per graph, first)",
    "linear": "nn.Linear",
    "conv": "nn.Conv1d / nn.Conv2d",
    "affine": "per-channel scale and shift (a BatchNorm that could not be folded)",
    "scale": "per-channel multiplication (a change of scale)",
    "if": "integrate-and-fire layer, reset by subtraction",
    "maxpool": "spiking max-pool gated by the accumulated input",
    "avgpool": "average pooling",
    "adaptive_avgpool": "adaptive average pooling",
    "upsample": "nearest-neighbour upsampling",
    "reshape": "reshape of each sample (flatten)",
    "add": "weighted sum of its inputs (residual addition)",
    "cat": "concatenation along a per-sample dimension",
    "readout": "integrating read-out, the rate-decoded output (one per graph, last)",
}


def _ints(value: Any, dims: int) -> tuple[int, ...]:
    if isinstance(value, int):
        return (value,) * dims
    return tuple(int(v) for v in value)


class SpikingMaxPool(nn.Module):
    """Max-pooling of a sequence gated by the accumulated input: ``y_t = max_i A_{i,t} - max_i A_{i,t-1}`` per window
    (see the module docstring).

    ``forward(x_seq[T, B, C, *spatial], state=None) -> (out[T, B, C, *pooled], state)``; ``state`` is the
    accumulated input ``A[B, C, *spatial]``.

    >>> import torch
    >>> pool = SpikingMaxPool(1, 2)
    >>> z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 1.0]]).view(4, 1, 1, 2)  # rates 1/2 and 3/4
    >>> out, acc = pool(z)
    >>> out.flatten().tolist(), acc.flatten().tolist()
    ([1.0, 0.0, 1.0, 1.0], [2.0, 3.0])
    """

    stateful = True

    def __init__(self, dims: int, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False) -> None:
        super().__init__()
        if dims not in (1, 2):
            raise ValueError(f"dims: expected 1 or 2 spatial dimensions, got {dims!r}")
        self.dims = dims
        self.kernel_size = _ints(kernel_size, dims)
        self.stride = _ints(stride if stride is not None else kernel_size, dims)
        self.padding = _ints(padding, dims)
        self.dilation = _ints(dilation, dims)
        self.ceil_mode = bool(ceil_mode)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x_seq: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        t, b = x_seq.shape[:2]
        if x_seq.dim() != self.dims + 3:
            raise ValueError(
                f"input: expected [T, B, C, *{self.dims} spatial dims] for the spiking max-pool, got {tuple(x_seq.shape)}"
            )
        acc = torch.cumsum(x_seq, 0)
        if state is not None:
            acc = torch.cat([state.unsqueeze(0), acc + state])  # the accumulator before the first step, then each
        else:
            acc = torch.cat([torch.zeros_like(acc[:1]), acc])
        pool = F.max_pool1d if self.dims == 1 else F.max_pool2d
        peak = pool(
            acc.reshape((t + 1) * b, *acc.shape[2:]),
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
        )
        peak = peak.reshape(t + 1, b, *peak.shape[1:])
        out = peak[1:] - peak[:-1]
        return out, acc[-1]


class AccumulateReadout(nn.Module):
    r"""The read-out: :math:`y_t = s \cdot \frac{1}{n_0 + t}\,(S_0 + \sum_{\tau \le t} I_\tau)`.

    ``scale`` (a buffer broadcast over the output shape) turns the network's internal units back into the ANN's.
    ``state`` is ``(S, n)``: the accumulated input ``S[B, ...]`` and the number of steps seen.
    """

    stateful = True

    def __init__(self, scale_shape: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.register_buffer("scale", torch.ones(scale_shape))

    def forward(self, x_seq: torch.Tensor, state: tuple[torch.Tensor, int] | None = None):
        t = x_seq.shape[0]
        total = torch.cumsum(x_seq, 0)
        seen = 0
        if state is not None:
            total = total + state[0]
            seen = int(state[1])
        steps = torch.arange(seen + 1, seen + t + 1, device=x_seq.device, dtype=x_seq.dtype)
        y = total / steps.view(t, *([1] * (x_seq.dim() - 1))) * self.scale
        return y, (total[-1], seen + t)


class WeightedSum(nn.Module):
    r"""A residual addition between layers of different scales: :math:`y = \sum_i f_i \odot x_i`, with per-channel
    factors :math:`f_i = s_i / s_\text{out}` (buffers ``factor_0``, ``factor_1`` ... broadcast over each sample)."""

    def __init__(self, factor_shapes: list[tuple[int, ...]]) -> None:
        super().__init__()
        self.n = len(factor_shapes)
        for i, shape in enumerate(factor_shapes):
            self.register_buffer(f"factor_{i}", torch.ones(shape))

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        out = None
        for i, x in enumerate(xs):
            term = x * getattr(self, f"factor_{i}")
            out = term if out is None else out + term
        return out


class ChannelScale(nn.Module):
    """Multiply each sample by ``factor`` (a buffer broadcast over the sample shape)."""

    def __init__(self, shape: tuple[int, ...] = ()) -> None:
        super().__init__()
        self.register_buffer("factor", torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class ChannelAffine(nn.Module):
    """``x * weight + bias`` per channel (buffers broadcast over the sample shape): a BatchNorm in inference form."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("weight", torch.ones(shape))
        self.register_buffer("bias", torch.zeros(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight + self.bias


def _where(node: dict) -> str:
    source = node.get("source")
    return f"node {node.get('name')!r}" + (f" (from {source})" if source else "")


def _shape(node: dict, key: str = "shape") -> tuple[int, ...]:
    value = node.get(key)
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise ValueError(f"graph: {_where(node)} needs {key!r} as a list of integers, got {value!r}")
    return tuple(value)


def _module(node: dict) -> nn.Module | None:
    op = node["op"]
    if op == "linear":
        return nn.Linear(int(node["in_features"]), int(node["out_features"]))
    if op == "conv":
        cls = {1: nn.Conv1d, 2: nn.Conv2d}[int(node["dims"])]
        return cls(
            int(node["in_channels"]),
            int(node["out_channels"]),
            tuple(node["kernel_size"]),
            stride=tuple(node["stride"]),
            padding=tuple(node["padding"]),
            dilation=tuple(node["dilation"]),
            groups=int(node["groups"]),
        )
    if op == "affine":
        return ChannelAffine(_shape(node, "param_shape"))
    if op == "scale":
        return ChannelScale(_shape(node, "param_shape"))
    if op == "if":
        return IF(
            threshold=torch.ones(_shape(node, "param_shape")), reset="subtract", backend=node.get("backend", "auto")
        )
    if op == "maxpool":
        return SpikingMaxPool(
            int(node["dims"]), node["kernel_size"], node["stride"], node["padding"], node["dilation"], node["ceil_mode"]
        )
    if op == "add":
        return WeightedSum([tuple(s) for s in node["factor_shapes"]])
    if op == "readout":
        return AccumulateReadout(_shape(node, "param_shape"))
    return None


class ConvertedNetwork(nn.Module):
    """A converted spiking network: ``forward(x_seq[T, B, ...], state=None) -> (y_seq[T, B, ...], state)``.

    Build it with :func:`spikeforge.convert`, or from its JSON graph with ``ConvertedNetwork(graph)`` (then load the
    state dict). See the module docstring for what each node does.
    """

    stateful = True

    def __init__(self, graph: dict) -> None:
        super().__init__()
        if not isinstance(graph, dict) or not isinstance(graph.get("nodes"), list) or not graph["nodes"]:
            raise ValueError(f"graph: expected {{'nodes': [...]}} as written by spikeforge.convert, got {graph!r:.200}")
        self.graph = graph
        self.nodes: list[dict] = graph["nodes"]
        self.layers = nn.ModuleDict()
        seen: set[str] = set()
        for i, node in enumerate(self.nodes):
            if not isinstance(node, dict) or node.get("op") not in NODE_OPS:
                raise ValueError(
                    f"graph: node {i} has op {node.get('op') if isinstance(node, dict) else node!r}; "
                    f"expected one of {list(NODE_OPS)}"
                )
            name = node.get("name")
            if not isinstance(name, str) or not name or "." in name or name in seen:
                raise ValueError(f"graph: node {i} needs a unique name without dots, got {name!r}")
            if (i == 0) != (node["op"] == "input"):
                raise ValueError(f"graph: the first node (and only it) must be the input, got {_where(node)}")
            missing = [src for src in node.get("inputs", []) if src not in seen]
            if missing:
                raise ValueError(f"graph: {_where(node)} reads {missing}, which no earlier node defines")
            _shape(node)
            seen.add(name)
            module = _module(node)
            if module is not None:
                self.layers[name] = module
        if self.nodes[-1]["op"] != "readout":
            raise ValueError(f"graph: the last node must be the read-out, got {_where(self.nodes[-1])}")
        self.input_shape = _shape(self.nodes[0])
        self.output_shape = _shape(self.nodes[-1])

    def model_config(self) -> dict[str, Any]:
        """The config that rebuilds this network with :func:`~spikeforge.models.build_model` (JSON values only):
        what :func:`spikeforge.interop.save_model` stores beside the state dict."""
        return {
            "model": "converted",
            "input_shape": list(self.input_shape),
            "n_classes": math.prod(self.output_shape),
            "graph": self.graph,
        }

    def neuron_layers(self) -> dict[str, IF]:
        """The IF layers by node name, in execution order."""
        return {n["name"]: self.layers[n["name"]] for n in self.nodes if n["op"] == "if"}

    def extra_repr(self) -> str:
        ops = [n["op"] for n in self.nodes[1:-1]]
        return f"input={list(self.input_shape)}, output={list(self.output_shape)}, {len(ops)} nodes, {ops.count('if')} IF layers"

    def forward(self, x_seq: torch.Tensor, state: dict[str, Any] | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        return self.run_until(x_seq, state)

    def run_until(
        self, x_seq: torch.Tensor, state: dict[str, Any] | None = None, until: str | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """:meth:`forward`, stopped after node ``until`` (its value ``[T*B, ...]`` is returned instead of the output):
        calibration of one layer need not run the layers after it."""
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() != len(self.input_shape) + 2:
            got = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq).__name__
            raise ValueError(
                f"x_seq: expected [T, B, {', '.join(map(str, self.input_shape))}] (time first; a static sample "
                f"repeated at every step, see spikeforge.encoding.direct), got {got}"
            )
        if tuple(x_seq.shape[2:]) != self.input_shape:
            raise ValueError(f"x_seq: expected samples of shape {list(self.input_shape)}, got {list(x_seq.shape[2:])}")
        if state is not None and not isinstance(state, dict):
            raise ValueError(f"state: expected the dict this network returned, or None, got {type(state).__name__}")
        state = state or {}
        t, b = x_seq.shape[:2]
        values: dict[str, torch.Tensor] = {self.nodes[0]["name"]: x_seq.reshape(t * b, *self.input_shape)}
        new_state: dict[str, Any] = {}
        for node in self.nodes[1:]:
            name, op = node["name"], node["op"]
            xs = [values[src] for src in node["inputs"]]
            layer = self.layers[name] if name in self.layers else None
            if op in ("linear", "conv", "affine", "scale"):
                out = layer(xs[0])
            elif op == "if":
                x = xs[0].reshape(t, b, *xs[0].shape[1:])
                s = state.get(name)
                if s is None:
                    threshold = layer.get("threshold")
                    s = IFState((float(node.get("v_init", 0.5)) * threshold).expand_as(x[0]).to(x.dtype).clone())
                z, new_state[name] = layer(x, s)
                out = z.reshape(t * b, *z.shape[2:])
            elif op == "maxpool":
                x = xs[0].reshape(t, b, *xs[0].shape[1:])
                z, new_state[name] = layer(x, state.get(name))
                out = z.reshape(t * b, *z.shape[2:])
            elif op == "readout":
                x = xs[0].reshape(t, b, *xs[0].shape[1:])
                y, new_state[name] = layer(x, state.get(name))
                return y, new_state
            elif op == "avgpool":
                pool = F.avg_pool1d if node["dims"] == 1 else F.avg_pool2d
                kwargs = {"divisor_override": node.get("divisor_override")} if node["dims"] == 2 else {}
                out = pool(
                    xs[0],
                    tuple(node["kernel_size"]),
                    tuple(node["stride"]),
                    tuple(node["padding"]),
                    ceil_mode=node["ceil_mode"],
                    count_include_pad=node["count_include_pad"],
                    **kwargs,
                )
            elif op == "adaptive_avgpool":
                pool = F.adaptive_avg_pool1d if node["dims"] == 1 else F.adaptive_avg_pool2d
                out = pool(xs[0], tuple(node["output_size"]))
            elif op == "upsample":
                out = F.interpolate(xs[0], size=tuple(node["shape"][1:]), mode="nearest")
            elif op == "reshape":
                out = xs[0].reshape(t * b, *node["shape"])
            elif op == "add":
                out = layer(*xs)
            elif op == "cat":
                out = torch.cat(xs, int(node["dim"]) + 1)
            else:  # pragma: no cover - NODE_OPS is checked in __init__
                raise ValueError(f"graph: unknown op {op!r}")
            values[name] = out
            if name == until:
                return out, new_state
        raise AssertionError("unreachable: the graph ends with its read-out")  # pragma: no cover


def build_converted(cfg: dict) -> ConvertedNetwork:
    """The :data:`~spikeforge.models.MODELS` builder of ``model="converted"``: the network of ``cfg["graph"]`` with
    placeholder tensors (load the state dict, as :func:`spikeforge.interop.load_model` does)."""
    graph = cfg.get("graph")
    if graph is None:
        raise ValueError(
            "graph: model 'converted' is rebuilt from the graph that spikeforge.convert writes into its config; "
            "this config has none (convert an ANN with spikeforge.convert or `spikeforge convert`)"
        )
    net = ConvertedNetwork(graph)
    out = math.prod(net.output_shape)
    if "n_classes" in cfg and int(cfg["n_classes"]) != out:
        raise ValueError(f"n_classes: the graph has {out} outputs, the config says {cfg['n_classes']}")
    if "input_shape" in cfg and tuple(int(s) for s in cfg["input_shape"]) != net.input_shape:
        raise ValueError(
            f"input_shape: the graph takes {list(net.input_shape)}, the config says {list(cfg['input_shape'])}"
        )
    return net
