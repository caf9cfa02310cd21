"""The graph of a PyTorch model, as conversion sees it: a list of operations in execution order.

Two tracers give the same intermediate form (a list of :class:`Node`):

- ``"fx"``: :func:`torch.fx.symbolic_trace` (with :class:`~spikeforge.learning.conversion.QCFS` kept as a leaf):
  the whole program, independent of the data. ``nn.Sequential`` and ordinary ``nn.Module`` trees whose ``forward``
  has no data-dependent Python control flow trace this way.
- ``"walk"``: the executed path of one calibration batch. Forward hooks on every leaf module (a ``torch.nn`` layer
  other than a container, or QCFS) record its calls, and a :class:`torch.overrides.TorchFunctionMode` records the
  torch functions and tensor methods called between them (``F.relu``, ``x + y``, ``torch.cat``, ``x.view`` ...).
  Operations that do not lead to the output (the ``x.sum() > 0`` of an ``if``) are dropped. This handles models that
  fx refuses (data-dependent control flow); the path of the first batch is the one converted, and
  :func:`~spikeforge.learning.conversion.convert` checks that every calibration batch takes it (the traced graph must
  reproduce the model's output), so a model that branches differently on other data is refused, not mis-converted.

Every operation is classified into one of a few kinds (:data:`SUPPORTED`); anything else raises
:class:`UnsupportedLayerError` naming the layer (module path and type, or function) and its position.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn
from torch.overrides import TorchFunctionMode

from ._qcfs import QCFS

__all__ = ["SUPPORTED", "Node", "TracedGraph", "UnsupportedLayerError", "run_graph", "trace_model"]

#: what conversion accepts, for error messages and the documentation
SUPPORTED = (
    "Linear, Conv1d, Conv2d, BatchNorm1d/2d (folded into the preceding layer), ReLU / F.relu / torch.relu / "
    "x.relu(), ReLU6, Hardtanh(0, m) and clamp(0, m) (clipped ReLU), QCFS, MaxPool1d/2d, AvgPool1d/2d, "
    "AdaptiveAvgPool1d/2d, Flatten / flatten / view / reshape (batch kept), Dropout (removed), Identity, residual "
    "addition (x + y, torch.add), concatenation (torch.cat), nearest Upsample / F.interpolate"
)


class UnsupportedLayerError(ValueError):
    """A layer or operation that has no spiking equivalent; the message names it and where it is in the model."""


@dataclass
class Node:
    """One operation of a traced model.

    ``op``: ``input``, ``linear`` (``nn.Linear`` / ``nn.Conv1d`` / ``nn.Conv2d`` in ``module``), ``bn``, ``relu``
    (``attrs["clip"]``: upper clip or ``None``; ``attrs["qcfs"]``: the QCFS module), ``maxpool``, ``avgpool``,
    ``adaptive_avgpool``, ``upsample``, ``reshape``, ``identity``, ``add``, ``cat`` (``attrs["dim"]``, per sample).
    ``shape``: the per-sample output shape seen on the calibration batch; ``where``: the layer's description.
    """

    name: str
    op: str
    inputs: list[str]
    fn: Callable[..., torch.Tensor]
    shape: tuple[int, ...]
    where: str
    module: nn.Module | None = None
    attrs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TracedGraph:
    nodes: list[Node]
    output: str
    method: str  # "fx" or "walk"
    note: str = ""  # why fx was not used, for the record

    def consumers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {n.name: [] for n in self.nodes}
        for n in self.nodes:
            for src in n.inputs:
                out[src].append(n.name)
        return out


def run_graph(graph: TracedGraph, x: torch.Tensor, capture: set[str] | None = None):
    """Run the traced graph as the ANN: returns ``(output, {name: tensor})`` for the names in ``capture``."""
    values: dict[str, torch.Tensor] = {}
    captured: dict[str, torch.Tensor] = {}
    for node in graph.nodes:
        values[node.name] = x if node.op == "input" else node.fn(*(values[s] for s in node.inputs))
        if capture is not None and node.name in capture:
            captured[node.name] = values[node.name]
    return values[graph.output], captured


# -- the raw record of calls -------------------------------------------------------------------------------------


@dataclass
class _Ref:
    name: str


@dataclass
class _Call:
    name: str
    kind: str  # input, module, function, method
    target: Any
    args: tuple
    kwargs: dict
    out: Any
    where: str


def _refs(value: Any) -> list[str]:
    if isinstance(value, _Ref):
        return [value.name]
    if isinstance(value, list | tuple):
        return [r for v in value for r in _refs(v)]
    if isinstance(value, dict):
        return [r for v in value.values() for r in _refs(v)]
    return []


def _prune(calls: list[_Call], output: str) -> list[_Call]:
    """Only the calls the output depends on, in their order."""
    by_name = {c.name: c for c in calls}
    keep: set[str] = set()
    stack = [output]
    while stack:
        name = stack.pop()
        if name in keep:
            continue
        keep.add(name)
        call = by_name[name]
        stack += _refs(call.args) + _refs(call.kwargs)
    return [c for c in calls if c.name in keep]


# -- classification ----------------------------------------------------------------------------------------------


def _mirror_maxpool(dims: int):
    cls = nn.MaxPool1d if dims == 1 else nn.MaxPool2d

    def make(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
        return cls(kernel_size, stride, padding, dilation, return_indices=return_indices, ceil_mode=ceil_mode)

    return make


def _mirror_avgpool(dims: int):
    def make(
        input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, divisor_override=None
    ):
        if dims == 1:
            return nn.AvgPool1d(kernel_size, stride, padding, ceil_mode, count_include_pad)
        return nn.AvgPool2d(kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override)

    return make


def _mirror_adaptive(dims: int):
    cls = nn.AdaptiveAvgPool1d if dims == 1 else nn.AdaptiveAvgPool2d

    def make(input, output_size):
        return cls(output_size)

    return make


_POOL_FUNCTIONS = {
    F.max_pool1d: _mirror_maxpool(1),
    F.max_pool2d: _mirror_maxpool(2),
    F.avg_pool1d: _mirror_avgpool(1),
    F.avg_pool2d: _mirror_avgpool(2),
    F.adaptive_avg_pool1d: _mirror_adaptive(1),
    F.adaptive_avg_pool2d: _mirror_adaptive(2),
}
_RELU_FUNCTIONS = {F.relu, torch.relu, torch.relu_, F.relu_}
_ADD_FUNCTIONS = {operator.add, operator.iadd, torch.add}
_CAT_FUNCTIONS = {torch.cat, torch.concat, torch.concatenate}
_RESHAPE_FUNCTIONS = {torch.flatten, torch.reshape}
_DROPOUT_FUNCTIONS = {F.dropout, F.dropout1d, F.dropout2d, F.alpha_dropout, F.feature_alpha_dropout}
_UPSAMPLE_FUNCTIONS = {F.interpolate, F.upsample, F.upsample_nearest}
_RELU_METHODS = {"relu", "relu_"}
_ADD_METHODS = {"add", "add_", "__add__", "__iadd__", "__radd__"}
_RESHAPE_METHODS = {"view", "reshape", "flatten"}
_CLAMP_METHODS = {"clamp", "clip", "clamp_", "clip_"}
_IDENTITY_METHODS = {"contiguous", "clone"}


def _describe_target(call: _Call) -> str:
    if call.kind == "module":
        return type(call.target).__name__
    if call.kind == "method":
        return f"tensor method .{call.target}()"
    name = getattr(call.target, "__name__", repr(call.target))
    module = getattr(call.target, "__module__", None) or ""
    if module.startswith("torch.nn.functional"):
        return f"F.{name}"
    if call.target in (operator.add, operator.iadd):
        return "+"
    return f"{'torch.' if 'torch' in module or module == '' else module + '.'}{name}"


def _unsupported(call: _Call, position: str, why: str = "") -> UnsupportedLayerError:
    reason = f" ({why})" if why else ""
    return UnsupportedLayerError(
        f"model: {call.where}{position} has no spiking equivalent{reason}; conversion supports {SUPPORTED}"
    )


def _tensor_inputs(args: Any, is_tensor: dict[str, bool]) -> list[str]:
    return [r for r in _refs(args) if is_tensor.get(r, False)]


def _clip_args(args: tuple, kwargs: dict) -> tuple[Any, Any]:
    lo = kwargs.get("min", args[1] if len(args) > 1 else None)
    hi = kwargs.get("max", args[2] if len(args) > 2 else None)
    return lo, hi


def _classify(call: _Call, position: str, is_tensor: dict[str, bool]) -> Node:
    """The :class:`Node` of one call, or :class:`UnsupportedLayerError`."""
    out = call.out
    shape = tuple(out.shape[1:])
    inputs = _tensor_inputs((call.args, call.kwargs), is_tensor)
    where = call.where
    node = lambda op, fn, module=None, n_inputs=1, **attrs: _node(  # noqa: E731
        call, position, op, fn, inputs, shape, where, module, n_inputs, attrs
    )

    if call.kind == "module":
        m = call.target
        if isinstance(m, QCFS):
            return node("relu", m, m, clip=None, qcfs=m)
        if isinstance(m, nn.Linear):
            return node("linear", m, m)
        if isinstance(m, nn.Conv1d | nn.Conv2d):
            if m.padding_mode != "zeros":
                raise _unsupported(call, position, f"padding_mode={m.padding_mode!r}; only 'zeros' converts")
            return node("linear", m, m)
        if isinstance(m, nn.BatchNorm1d | nn.BatchNorm2d):
            if m.running_mean is None:
                raise _unsupported(call, position, "a BatchNorm without running statistics cannot be folded")
            return node("bn", m, m)
        if type(m) is nn.ReLU:  # the graph runs out of place: an in-place ReLU would change its input's value
            return node("relu", torch.relu, m, clip=None)
        if isinstance(m, nn.ReLU6):
            return node("relu", lambda x: x.clamp(0, 6.0), m, clip=6.0)
        if type(m) is nn.Hardtanh and m.min_val == 0.0 and m.max_val > 0:
            return node("relu", lambda x, hi=float(m.max_val): x.clamp(0, hi), m, clip=float(m.max_val))
        if isinstance(m, nn.MaxPool1d | nn.MaxPool2d):
            if m.return_indices:
                raise _unsupported(call, position, "return_indices=True")
            return node("maxpool", m, m)
        if isinstance(m, nn.AvgPool1d | nn.AvgPool2d):
            return node("avgpool", m, m)
        if isinstance(m, nn.AdaptiveAvgPool1d | nn.AdaptiveAvgPool2d):
            return node("adaptive_avgpool", m, m)
        if isinstance(m, nn.Flatten):
            return _reshape_node(call, position, inputs, shape, where)
        if isinstance(m, nn.Dropout | nn.Dropout1d | nn.Dropout2d | nn.AlphaDropout | nn.Identity):
            return node("identity", lambda x: x, m)
        if isinstance(m, nn.Upsample):
            if m.mode != "nearest":
                raise _unsupported(call, position, f"mode={m.mode!r}; only nearest upsampling converts")
            return _upsample_node(call, position, inputs, shape, where)
        raise _unsupported(call, position)

    target = call.target
    if call.kind == "method":
        if target in _RELU_METHODS:
            return node("relu", torch.relu, clip=None)
        if target in _ADD_METHODS:
            return _add_node(call, position, inputs, shape, where)
        if target in _RESHAPE_METHODS:
            return _reshape_node(call, position, inputs, shape, where)
        if target in _CLAMP_METHODS:
            return _clamp_node(call, position, inputs, shape, where)
        if target in _IDENTITY_METHODS:
            return node("identity", lambda x: x)
        raise _unsupported(call, position)
    if target in _RELU_FUNCTIONS:
        return node("relu", torch.relu, clip=None)
    if target is F.relu6:
        return node("relu", F.relu6, clip=6.0)
    if target is F.hardtanh:
        lo = call.kwargs.get("min_val", call.args[1] if len(call.args) > 1 else -1.0)
        hi = call.kwargs.get("max_val", call.args[2] if len(call.args) > 2 else 1.0)
        if lo == 0 and hi > 0:
            return node("relu", lambda x: x.clamp(0, hi), clip=float(hi))
        raise _unsupported(call, position, f"hardtanh({lo}, {hi}) is not a clipped ReLU")
    if target in (torch.clamp, torch.clip):
        return _clamp_node(call, position, inputs, shape, where)
    if target in _ADD_FUNCTIONS:
        return _add_node(call, position, inputs, shape, where)
    if target in _CAT_FUNCTIONS:
        dim = call.kwargs.get("dim", call.args[1] if len(call.args) > 1 else 0)
        dim = dim + out.dim() if dim < 0 else dim
        if dim == 0:
            raise _unsupported(call, position, "concatenation along the batch dimension")
        if not isinstance(call.args[0], list | tuple) or len(_tensor_inputs(call.args[0], is_tensor)) != len(
            call.args[0]
        ):
            raise _unsupported(call, position, "concatenation of tensors that do not all come from the input")
        return node("cat", lambda *xs, d=dim: torch.cat(xs, d), n_inputs=len(inputs), dim=dim - 1)
    if target in _RESHAPE_FUNCTIONS:
        return _reshape_node(call, position, inputs, shape, where)
    if target in _DROPOUT_FUNCTIONS:
        return node("identity", lambda x: x)
    if target in _UPSAMPLE_FUNCTIONS:
        mode = call.kwargs.get("mode", call.args[3] if len(call.args) > 3 else "nearest")
        if target is F.upsample_nearest:
            mode = "nearest"
        if mode != "nearest":
            raise _unsupported(call, position, f"mode={mode!r}; only nearest upsampling converts")
        return _upsample_node(call, position, inputs, shape, where)
    if target in _POOL_FUNCTIONS:
        try:
            module = _POOL_FUNCTIONS[target](*call.args, **call.kwargs)
        except TypeError as err:
            raise _unsupported(call, position, f"arguments not understood: {err}") from None
        if isinstance(module, nn.MaxPool1d | nn.MaxPool2d):
            if module.return_indices:
                raise _unsupported(call, position, "return_indices=True")
            return node("maxpool", module, module)
        op = "avgpool" if isinstance(module, nn.AvgPool1d | nn.AvgPool2d) else "adaptive_avgpool"
        return node(op, module, module)
    raise _unsupported(call, position)


def _node(call, position, op, fn, inputs, shape, where, module, n_inputs, attrs) -> Node:
    if len(inputs) != n_inputs:
        raise _unsupported(
            call,
            position,
            f"expected {n_inputs} tensor input(s) computed from the model input, got {len(inputs)}; constants and "
            "parameters used outside a layer do not convert",
        )
    return Node(call.name, op, inputs, fn, shape, where, module, attrs)


def _add_node(call, position, inputs, shape, where) -> Node:
    alpha = call.kwargs.get("alpha", 1)
    if alpha != 1:
        raise _unsupported(call, position, f"alpha={alpha}")
    if len(inputs) != 2:
        raise _unsupported(call, position, "an addition of a constant (a bias outside a layer) does not convert")
    return Node(call.name, "add", inputs, lambda a, b: a + b, shape, where)


def _clamp_node(call, position, inputs, shape, where) -> Node:
    lo, hi = _clip_args(call.args, call.kwargs)
    if lo != 0 or isinstance(lo, torch.Tensor) or isinstance(hi, torch.Tensor) or (hi is not None and hi <= 0):
        raise _unsupported(call, position, f"clamp({lo}, {hi}) is not a (clipped) ReLU: expected min=0, max>0 or None")
    clip = None if hi is None else float(hi)
    return Node(call.name, "relu", inputs[:1], lambda x: x.clamp(0, clip), shape, where, attrs={"clip": clip})


def _reshape_node(call, position, inputs, shape, where) -> Node:
    if len(inputs) != 1:
        raise _unsupported(call, position, "a reshape of more than one tensor")
    return Node(
        call.name, "reshape", inputs, lambda x, s=shape: x.reshape(x.shape[0], *s), shape, where, attrs={"shape": shape}
    )


def _upsample_node(call, position, inputs, shape, where) -> Node:
    return Node(
        call.name,
        "upsample",
        inputs[:1],
        lambda x, s=shape: F.interpolate(x, size=s[1:], mode="nearest"),
        shape,
        where,
    )


def _holds_tensors(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, list | tuple | dict):
        return any(_holds_tensors(v) for v in (value.values() if isinstance(value, dict) else value))
    return False


def _build(calls: list[_Call], output: str, method: str, note: str, batch: int) -> TracedGraph:
    calls = _prune(calls, output)
    # parameters read outside a layer count as constants: the operation that uses them is the one refused
    is_tensor = {c.name: isinstance(c.out, torch.Tensor) and c.kind != "constant" for c in calls}
    total = sum(1 for c in calls if c.kind != "input" and is_tensor[c.name])
    nodes: list[Node] = []
    k = 0
    for call in calls:
        if not is_tensor[call.name]:
            if call.kind != "constant" and _holds_tensors(call.out):  # an LSTM's (output, state), a split ...
                raise _unsupported(call, "", "it returns several tensors")
            continue  # sizes and other metadata (x.size(0) of a view): consumers use the shapes recorded
        if call.kind == "input":
            nodes.append(Node(call.name, "input", [], lambda x: x, tuple(call.out.shape[1:]), "the model input"))
            continue
        k += 1
        position = f", operation {k} of {total} in the traced graph"
        if call.out.dim() == 0 or call.out.shape[0] != batch:
            raise _unsupported(call, position, "it changes or removes the batch dimension")
        nodes.append(_classify(call, position, is_tensor))
    if not nodes or nodes[0].op != "input":
        raise UnsupportedLayerError("model: its output does not depend on its input")
    return TracedGraph(nodes, output, method, note)


# -- tracer 1: torch.fx --------------------------------------------------------------------------------------------


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return isinstance(m, QCFS) or super().is_leaf_module(m, qualname)


def _module_path(meta: dict) -> str:
    stack = meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path, _ = list(stack.values())[-1]
    return path


def _trace_fx(model: nn.Module, example: torch.Tensor) -> TracedGraph:
    tracer = _Tracer()
    graph = tracer.trace(model)
    gm = fx.GraphModule(tracer.root, graph)
    outputs: dict[str, Any] = {}

    class _Record(fx.Interpreter):
        def run_node(self, n: fx.Node) -> Any:
            value = super().run_node(n)
            outputs[n.name] = value
            return value

    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    if len(placeholders) != 1:
        raise UnsupportedLayerError(
            f"model: forward takes {len(placeholders)} inputs ({[p.name for p in placeholders]}); conversion "
            "takes models of one input tensor"
        )
    _Record(gm).run(example)
    modules = dict(model.named_modules())
    to_ref = lambda a: fx.node.map_arg(a, lambda n: _Ref(n.name))  # noqa: E731
    calls: list[_Call] = []
    output = None
    for n in graph.nodes:
        if n.op == "placeholder":
            calls.append(_Call(n.name, "input", None, (), {}, outputs[n.name], "the model input"))
        elif n.op == "get_attr":
            calls.append(_Call(n.name, "constant", None, (), {}, outputs[n.name], f"the parameter '{n.target}'"))
        elif n.op == "call_module":
            m = modules[n.target]
            calls.append(
                _Call(
                    n.name,
                    "module",
                    m,
                    to_ref(n.args),
                    to_ref(n.kwargs),
                    outputs[n.name],
                    f"'{n.target}' ({type(m).__name__})",
                )
            )
        elif n.op in ("call_function", "call_method"):
            kind = "function" if n.op == "call_function" else "method"
            path = _module_path(n.meta)
            inside = f" in '{path}'" if path else ""
            call = _Call(n.name, kind, n.target, to_ref(n.args), to_ref(n.kwargs), outputs[n.name], "")
            call.where = f"{_describe_target(call)} ('{n.name}'{inside})"
            calls.append(call)
        elif n.op == "output":
            result = n.args[0]
            if not isinstance(result, fx.Node) or not isinstance(outputs.get(result.name), torch.Tensor):
                raise UnsupportedLayerError(
                    "model: returns more than one tensor (or no tensor); conversion takes a model with one output"
                )
            output = result.name
    return _build(calls, output, "fx", "", example.shape[0])


# -- tracer 2: the executed path (module hooks + torch function mode) ---------------------------------------------


def _is_leaf(m: nn.Module) -> bool:
    if isinstance(m, QCFS):
        return True
    if isinstance(m, nn.Sequential | nn.ModuleList | nn.ModuleDict):
        return False
    return type(m).__module__.startswith("torch.nn")


def _method_name(func: Any) -> str | None:
    name = getattr(func, "__name__", None)
    if name and (getattr(torch._C.TensorBase, name, None) is func or getattr(torch.Tensor, name, None) is func):
        return name
    return None


class _Walk(TorchFunctionMode):
    def __init__(self, model: nn.Module, example: torch.Tensor) -> None:
        super().__init__()
        self.paths = {id(m): name for name, m in model.named_modules()}
        self.params = {id(p): name for name, p in [*model.named_parameters(), *model.named_buffers()]}
        self.refs: dict[int, str] = {id(example): "input"}
        self.keep: list[Any] = [example]  # tensors stay alive, so their ids are not reused
        self.calls: list[_Call] = [_Call("input", "input", None, (), {}, example, "the model input")]
        self.depth = 0  # > 0 inside a leaf module: its own torch calls are not recorded
        self._entered: nn.Module | None = None
        self.counts: dict[str, int] = {}

    def _name(self, base: str) -> str:
        base = "".join(ch if ch.isalnum() else "_" for ch in base).strip("_").lower() or "op"
        k = self.counts.get(base, 0)
        self.counts[base] = k + 1
        return f"{base}_{k}"

    def _ref(self, value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            if id(value) in self.refs:
                return _Ref(self.refs[id(value)])
            name = self.params.get(id(value))
            return f"<parameter {name}>" if name else "<tensor not computed from the input>"
        if isinstance(value, list | tuple):
            return type(value)(self._ref(v) for v in value)
        if isinstance(value, dict):
            return {k: self._ref(v) for k, v in value.items()}
        return value

    def _record(self, kind: str, target: Any, args: tuple, kwargs: dict, out: Any, where: str, base: str) -> None:
        name = self._name(base)
        self.calls.append(_Call(name, kind, target, self._ref(args), self._ref(kwargs), out, where))
        if isinstance(out, torch.Tensor):
            self.refs[id(out)] = name
            self.keep.append(out)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if self.depth == 0:
            method = _method_name(func)
            if method is not None:
                call = _Call("", "method", method, (), {}, None, "")
                self._record("method", method, args, kwargs, out, _describe_target(call), method)
            else:
                call = _Call("", "function", func, (), {}, None, "")
                self._record(
                    "function", func, args, kwargs, out, _describe_target(call), getattr(func, "__name__", "op")
                )
        return out

    def pre_hook(self, module: nn.Module, args: tuple) -> None:
        if self.depth == 0 and _is_leaf(module):
            self.depth = 1
            self._entered = module
        elif self.depth > 0:
            self.depth += 1

    def post_hook(self, module: nn.Module, args: tuple, out: Any) -> None:
        if self.depth == 1 and self._entered is module:
            self.depth = 0
            path = self.paths.get(id(module), "?")
            where = f"'{path}' ({type(module).__name__})"
            self._record("module", module, args, {}, out, where, path or type(module).__name__)
        elif self.depth > 1:
            self.depth -= 1


def _trace_walk(model: nn.Module, example: torch.Tensor, note: str) -> TracedGraph:
    walk = _Walk(model, example)
    handles = []
    try:
        for m in model.modules():
            handles.append(m.register_forward_pre_hook(walk.pre_hook))
            handles.append(m.register_forward_hook(walk.post_hook))
        with walk:
            out = model(example)
    finally:
        for h in handles:
            h.remove()
    if not isinstance(out, torch.Tensor) or id(out) not in walk.refs:
        raise UnsupportedLayerError(
            "model: returns more than one tensor (or no tensor); conversion takes a model with one output"
        )
    return _build(walk.calls, walk.refs[id(out)], "walk", note, example.shape[0])


def trace_model(model: nn.Module, example: torch.Tensor, how: str = "auto") -> TracedGraph:
    """Trace ``model`` on ``example[B, ...]`` (eval mode, no gradients) with ``how``: ``"fx"``, ``"walk"`` or
    ``"auto"`` (fx, and the executed path where fx cannot trace the model)."""
    if how not in ("auto", "fx", "walk"):
        raise ValueError(f"trace: expected 'auto', 'fx' or 'walk', got {how!r}")
    if how == "walk":
        return _trace_walk(model, example, "")
    try:
        return _trace_fx(model, example)
    except UnsupportedLayerError:
        raise
    except Exception as err:  # fx refuses data-dependent control flow, some builtins, ...
        if how == "fx":
            raise UnsupportedLayerError(f"model: torch.fx cannot trace it ({type(err).__name__}: {err})") from None
        return _trace_walk(model, example, f"torch.fx could not trace the model ({type(err).__name__}: {err})")
