"""NIR import: a :class:`nir.NIRGraph` (or a ``.nir`` file) -> a runnable :class:`~spikeforge.nn.SequentialState`.

The inverse of :mod:`spikeforge.interop._nir` (whose docstring states the mapping). A neuron node's input gain
(``(1 - beta) r`` for ``"exact"``, ``dt/tau r`` for ``"euler"``) becomes a :class:`Scale` layer in front of the
neuron when it differs from 1 by more than 1e-6. Graphs written by spikeforge carry ``dt`` and the integrator; for
graphs from other libraries pass them: snnTorch simulates NIR graphs with forward Euler at ``dt = 1e-4`` s, Norse
with forward Euler at the ``dt`` you give its ``from_nir``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..neurons import ALIF, IF, LI, LIF, RALIF, RLIF, CubaLIF
from ..nn import SequentialState
from ..units import check_dt
from ._nir import INTEGRATORS, META_KEY, Integrator
from ._nir_layers import Scale

__all__ = ["SUPPORTED_IMPORT", "graph_metadata", "import_nir", "read_nir", "summarize_nir"]

SUPPORTED_IMPORT = (
    "Input",
    "Output",
    "Affine",
    "Linear",
    "Conv1d",
    "Conv2d",
    "AvgPool2d",
    "SumPool2d",
    "Flatten",
    "Scale",
    "Delay",
    "LIF",
    "CubaLIF",
    "IF",
    "LI",
)
GAIN_TOLERANCE = 1e-6


def read_nir(path: str | Path) -> Any:
    """Read a ``.nir`` file into a :class:`nir.NIRGraph`; a clear error for missing or unreadable files."""
    import nir

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"NIR file {path}: is a directory; expected a .nir file")
    if not path.is_file():
        raise FileNotFoundError(f"NIR file {path}: not found")
    try:
        return nir.read(path)
    except Exception as err:  # h5py and nir fail on a corrupt or foreign file in many ways (RuntimeError ...)
        raise ValueError(f"NIR file {path}: not a readable NIR graph ({type(err).__name__}: {err})") from None


def _meta(node: Any) -> dict[str, Any]:
    raw = (getattr(node, "metadata", None) or {}).get(META_KEY)
    if raw is None:
        return {}
    try:
        meta = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (ValueError, TypeError) as err:
        raise ValueError(f"NIR graph: the {META_KEY!r} metadata is not valid JSON ({err})") from None
    if not isinstance(meta, dict):
        raise ValueError(f"NIR graph: the {META_KEY!r} metadata is {type(meta).__name__}, expected a JSON object")
    return meta


def graph_metadata(graph: Any) -> dict[str, Any]:
    """The ``spikeforge`` entry of a graph's metadata (``dt``, ``integrator``, ...), or ``{}``."""
    return _meta(graph)


def _links(graph: Any) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    succ: dict[str, list[str]] = {name: [] for name in graph.nodes}
    pred: dict[str, list[str]] = {name: [] for name in graph.nodes}
    for a, b in graph.edges:
        if a not in graph.nodes or b not in graph.nodes:
            raise ValueError(f"NIR graph: edge ({a!r}, {b!r}) names a node that does not exist")
        if b in succ[a]:
            raise ValueError(f"NIR graph: edge ({a!r}, {b!r}) appears twice")
        succ[a].append(b)
        pred[b].append(a)
    return succ, pred


def _recurrent_edges(graph: Any, succ, pred) -> dict[str, str]:
    """``{neuron: rec}`` for each cycle ``neuron -> rec -> neuron`` where ``rec`` is a ``Linear``/``Affine`` node
    that touches nothing else (how spikeforge, snnTorch and Norse write a recurrent layer)."""
    import nir

    spiking = (nir.LIF, nir.CubaLIF, nir.IF)
    loops = {}
    for name, node in graph.nodes.items():
        if not isinstance(node, nir.Linear | nir.Affine) or len(pred[name]) != 1 or succ[name] != pred[name]:
            continue
        neuron = pred[name][0]
        if not isinstance(graph.nodes[neuron], spiking):
            raise ValueError(
                f"NIR import: node {name!r} feeds node {neuron!r} ({type(graph.nodes[neuron]).__name__}) back into "
                "itself; recurrent loops are supported around LIF, CubaLIF and IF nodes only"
            )
        if neuron in loops:
            raise ValueError(f"NIR import: node {neuron!r} has two recurrent loops ({loops[neuron]!r}, {name!r})")
        loops[neuron] = name
    return loops


def _branches(graph: Any, start: str, succ, pred) -> tuple[list[tuple[str | None, str]], str]:
    """The parallel ``[Delay ->] Linear|Affine`` branches after ``start`` that merge into one node (a per-synapse
    delay layer): ``([(delay node or None, dense node), ...], merge node)``."""
    import nir

    out: list[tuple[str | None, str]] = []
    for head in succ[start]:
        delay, dense = None, head
        if isinstance(graph.nodes[head], nir.Delay) and len(succ[head]) == 1 and pred[head] == [start]:
            delay, dense = head, succ[head][0]
        if not isinstance(graph.nodes[dense], nir.Linear | nir.Affine) or len(succ[dense]) != 1:
            break
        if pred[dense] != [delay or start]:
            break
        out.append((delay, dense))
    merges = {succ[dense][0] for _, dense in out}
    if (
        len(out) != len(succ[start])
        or len(merges) != 1
        or sorted(pred[next(iter(merges))]) != sorted(dense for _, dense in out)
    ):
        raise ValueError(
            f"NIR import: node {start!r} fans out to {succ[start]}; spikeforge imports chains, recurrent loops "
            "(neuron -> Linear -> neuron) and parallel [Delay ->] Linear branches that merge into one node "
            "(per-synapse delays), not other branches"
        )
    return out, next(iter(merges))


def _walk(graph: Any) -> list[tuple]:
    """The graph as steps from Input to Output: ``("node", name, rec_or_None)`` or ``("branches", [(delay, dense),
    ...])``. Refuses any other shape, naming the node."""
    import nir

    succ, pred = _links(graph)
    loops = _recurrent_edges(graph, succ, pred)
    for neuron, rec in loops.items():
        succ[neuron].remove(rec)
        pred[neuron].remove(rec)
        succ[rec], pred[rec] = [], []
    inputs = [n for n, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(inputs) != 1:
        raise ValueError(f"NIR import: expected one Input node, got {len(inputs)} ({inputs})")
    steps: list[tuple] = [("node", inputs[0], None)]
    seen = {inputs[0]}
    cur = inputs[0]
    while succ[cur]:
        nxt = succ[cur]
        if len(nxt) == 1 and pred[nxt[0]] == [cur]:
            cur = nxt[0]
        else:
            branches, cur = _branches(graph, cur, succ, pred)
            steps.append(("branches", branches))
            seen.update(n for pair in branches for n in pair if n is not None)
        if cur in seen:
            raise ValueError(
                f"NIR import: recurrent loop through {cur!r} is not supported (only neuron -> Linear -> neuron)"
            )
        seen.add(cur)
        steps.append(("node", cur, loops.get(cur)))
    seen.update(loops.values())
    if len(seen) != len(graph.nodes):
        raise ValueError(f"NIR import: nodes {sorted(set(graph.nodes) - seen)} are not on the input->output path")
    return steps


def _chain(graph: Any) -> list[str]:
    """Every node name in walk order (recurrent and branch nodes after the node they belong to)."""
    names: list[str] = []
    for step in _walk(graph):
        if step[0] == "node":
            names += [step[1]] + ([step[2]] if step[2] else [])
        else:
            names += [n for pair in step[1] for n in pair if n is not None]
    return names


def _t(arr: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(arr, dtype=np.float64))


def _uniform(name: str, arr: Any, node_name: str) -> float:
    values = np.unique(np.asarray(arr, dtype=np.float64))
    if values.size > 1:
        raise ValueError(
            f"node {node_name!r}: {name} must be the same for all neurons in spikeforge, got "
            f"{values.size} distinct values"
        )
    return float(values[0]) if values.size else 0.0


def _value(arr: torch.Tensor, shape: list[int] | None) -> torch.Tensor:
    """Per-neuron tensor, or the state-dict shape recorded at export (a scalar stays a scalar)."""
    arr = arr.float()
    if shape is None or list(shape) == list(arr.shape):
        return arr
    if math.prod(shape) == 1:
        if not torch.all(arr == arr.reshape(-1)[0]):
            raise ValueError(f"NIR import: a parameter recorded as one value holds {arr.numel()} different values")
        return arr.reshape(-1)[0].reshape(shape).clone()
    return arr.reshape(shape)


def _set_tau(module: nn.Module, name: str, tau: torch.Tensor) -> None:
    """Store ``log(tau)`` so that the module's ``exp(log_tau)`` gives back exactly ``tau`` (float32).

    ``exp(log(tau))`` may miss ``tau`` by an ulp (it depends on the math library); the nearest float32 neighbours of ``log(tau)`` are tried so that
    a graph exported by spikeforge comes back with bit-identical decay factors.
    """
    raw = getattr(module, f"log_{name}")
    target = tau.to(raw.dtype)
    if target.numel() == raw.numel():
        target = target.reshape(raw.shape)
    elif raw.numel() == 1:
        target = target.reshape(-1)[:1].reshape(raw.shape)
    else:
        target = target.expand(raw.shape)
    base = torch.log(target)
    result, found = base.clone(), torch.exp(base) == target
    for direction in (math.inf, -math.inf):
        cand = base
        for _ in range(3):
            cand = torch.nextafter(cand, torch.full_like(cand, direction))
            ok = (torch.exp(cand) == target) & ~found
            result, found = torch.where(ok, cand, result), found | ok
    with torch.no_grad():
        raw.copy_(result)


def _leak(tau_nir: torch.Tensor, r: torch.Tensor, dt: float, integrator: str, node_name: str):
    """``(tau_spikeforge, input_gain)`` for NIR's ``tau dv/dt = ... + r I`` under the integrator."""
    if integrator == "exact":
        return tau_nir, -torch.expm1(-dt / tau_nir) * r
    if (tau_nir <= dt).any():
        raise ValueError(
            f"node {node_name!r}: forward Euler needs tau > dt, got tau={float(tau_nir.min())!r} s at dt={dt!r} s"
        )
    return -dt / torch.log1p(-dt / tau_nir), dt / tau_nir * r


def _recurrent_weight(graph: Any, rec: str, node_name: str, n: int) -> torch.Tensor:
    import nir

    node = graph.nodes[rec]
    weight = torch.as_tensor(np.asarray(node.weight)).float()
    if tuple(weight.shape) != (n, n):
        raise ValueError(
            f"node {rec!r}: a recurrent weight of {node_name!r} must be [{n}, {n}], got {list(weight.shape)}"
        )
    if isinstance(node, nir.Affine) and np.any(np.asarray(node.bias) != 0):
        raise ValueError(f"node {rec!r}: spikeforge's recurrent layers have no recurrent bias; its bias must be 0")
    return weight


def _alif(node: Any, meta: dict, shapes: dict, tau: torch.Tensor, rec: torch.Tensor | None, kw: dict) -> nn.Module:
    """An ALIF/RALIF exported exactly (``beta = 0``): rebuilt as itself, so the same arithmetic gives the same
    spikes (its input gain ``1 - beta_m`` is part of its update)."""
    shape = kw.pop("shape")
    cls = ALIF if rec is None else RALIF
    extra = {} if rec is None else {"self_connections": meta.get("self_connections", True)}
    module = cls(
        shape[0] if rec is not None else shape,
        tau_mem=_value(tau, shapes.get("log_tau_mem")),
        tau_adapt=_value(_t(meta.get("tau_adapt", 0.2)), shapes.get("log_tau_adapt")),
        beta=_value(torch.zeros(shape, dtype=torch.float64), shapes.get("beta")),
        threshold=_value(_t(node.v_threshold), shapes.get("threshold")),
        v_leak=_uniform("v_leak", node.v_leak, kw["name"]),
        v_reset=_uniform("v_reset", node.v_reset, kw["name"]),
        **kw["spiking"],
        **kw["common"],
        **extra,
    )
    _set_tau(module, "tau_mem", tau.float())
    if rec is not None:
        with torch.no_grad():
            module.recurrent.weight.copy_(rec)
    return module


def _neuron(node: Any, name: str, dt: float, integrator: str, backend: str, rec=None) -> list[nn.Module]:
    import nir

    meta = _meta(node)
    shapes = meta.get("shapes", {})
    shape = tuple(int(s) for s in np.shape(node.v_threshold if hasattr(node, "v_threshold") else node.r))
    common: dict[str, Any] = {"dt": dt, "backend": backend, "learn": tuple(meta.get("learn", ()))}
    spiking = {"reset": meta.get("reset", "zero"), "detach_reset": meta.get("detach_reset", False)}
    if meta.get("surrogate"):
        spiking["surrogate"] = meta["surrogate"]
    taus: dict[str, torch.Tensor] = {}
    if rec is not None and not isinstance(node, nir.LIF):
        raise ValueError(
            f"node {name!r}: spikeforge has recurrent LIF layers (RLIF, RALIF) only; a recurrent "
            f"{type(node).__name__} cannot be imported"
        )
    if rec is not None and len(shape) != 1:
        raise ValueError(f"node {name!r}: a recurrent layer needs one dimension of neurons, got shape {list(shape)}")
    if isinstance(node, nir.LIF | nir.LI):
        tau, gain = _leak(_t(node.tau), _t(node.r), dt, integrator, name)
        taus["tau_mem"] = tau
        w_rec = None if rec is None else rec(shape[0])
        if meta.get("class") in ("ALIF", "RALIF"):
            if meta.get("alif_as") == "exact":
                kw = {"shape": shape, "name": name, "spiking": spiking, "common": common}
                return [_alif(node, meta, shapes, tau, w_rec, kw)]
            common["learn"] = tuple(n for n in common["learn"] if n in ("tau_mem", "threshold"))  # the LIF form
        if isinstance(node, nir.LI):
            if np.any(np.asarray(node.v_leak) != 0):
                raise ValueError(f"node {name!r}: spikeforge's LI has no leak potential; v_leak must be 0")
            module: nn.Module = LI(shape, tau_mem=_value(tau, shapes.get("log_tau_mem")), **common)
        else:
            extra = {} if rec is None else {"self_connections": meta.get("self_connections", True)}
            module = (LIF if rec is None else RLIF)(
                shape if rec is None else shape[0],
                tau_mem=_value(tau, shapes.get("log_tau_mem")),
                threshold=_value(_t(node.v_threshold), shapes.get("threshold")),
                v_leak=_uniform("v_leak", node.v_leak, name),
                v_reset=_uniform("v_reset", node.v_reset, name),
                t_ref=meta.get("t_ref", 0.0),
                **spiking,
                **common,
                **extra,
            )
            if w_rec is not None:  # NIR's input gain applies to the recurrent input too
                scaled = gain.float().reshape(-1, 1) * w_rec if (gain - 1).abs().max() > GAIN_TOLERANCE else w_rec
                with torch.no_grad():
                    module.recurrent.weight.copy_(scaled)
    elif isinstance(node, nir.CubaLIF):
        thr = _value(_t(node.v_threshold), shapes.get("threshold"))
        extra = {"v_leak": _uniform("v_leak", node.v_leak, name), "v_reset": _uniform("v_reset", node.v_reset, name)}
        if integrator == "exact":
            taus = {"tau_syn": _t(node.tau_syn), "tau_mem": _t(node.tau_mem)}
            gain = _t(node.r) * _t(node.w_in)
            module = CubaLIF(
                shape,
                tau_syn=_value(taus["tau_syn"], shapes.get("log_tau_syn")),
                tau_mem=_value(taus["tau_mem"], shapes.get("log_tau_mem")),
                threshold=thr,
                **extra,
                **spiking,
                **common,
            )
        else:  # snnTorch's Synaptic: i' = alpha i + x, v' = beta v + i'
            tau_syn, g_syn = _leak(_t(node.tau_syn), _t(node.w_in), dt, "euler", name)
            tau_mem, g_mem = _leak(_t(node.tau_mem), _t(node.r), dt, "euler", name)
            taus = {"tau_syn": tau_syn, "tau_mem": tau_mem}
            gain = g_syn * g_mem
            module = LIF(
                shape,
                tau_mem=_value(tau_mem, shapes.get("log_tau_mem")),
                tau_syn=_value(tau_syn, shapes.get("log_tau_syn")),
                threshold=thr,
                t_ref=meta.get("t_ref", 0.0),
                **extra,
                **spiking,
                **common,
            )
    elif isinstance(node, nir.IF):
        gain = _t(node.r) * dt
        module = IF(
            shape,
            threshold=_value(_t(node.v_threshold), shapes.get("threshold")),
            v_reset=_uniform("v_reset", node.v_reset, name),
            **spiking,
            **common,
        )
    else:
        raise AssertionError(type(node))
    for tau_name, tau in taus.items():
        _set_tau(module, tau_name, tau.float())
    layers: list[nn.Module] = []
    if (gain - 1).abs().max() > GAIN_TOLERANCE:
        layers.append(Scale(gain.float().reshape(shape)))
    return [*layers, module]


def _conv(node: Any) -> list[nn.Module]:
    import nir

    is2d = isinstance(node, nir.Conv2d)
    weight = torch.as_tensor(np.asarray(node.weight)).float()
    info = _meta(node)
    meta = node.metadata or {}
    has_bias = info.get("bias", True)
    bn_info = info.get("batchnorm")
    cls = nn.Conv2d if is2d else nn.Conv1d
    padding = node.padding if isinstance(node.padding, str) else tuple(int(p) for p in np.atleast_1d(node.padding))
    conv = cls(
        weight.shape[1] * int(node.groups),
        weight.shape[0],
        tuple(weight.shape[2:]),
        stride=tuple(int(s) for s in np.atleast_1d(node.stride)),
        padding=padding,
        dilation=tuple(int(d) for d in np.atleast_1d(node.dilation)),
        groups=int(node.groups),
        bias=bool(has_bias) or bn_info is None,
    )
    if bn_info is None or not is2d:
        with torch.no_grad():
            conv.weight.copy_(weight)
            if conv.bias is not None:
                conv.bias.copy_(torch.as_tensor(np.asarray(node.bias)).float())
        return [conv]
    bn = nn.BatchNorm2d(weight.shape[0], eps=bn_info["eps"], momentum=bn_info["momentum"])
    with torch.no_grad():
        conv.weight.copy_(torch.as_tensor(np.asarray(meta["conv_weight"])))
        if conv.bias is not None:
            conv.bias.copy_(torch.as_tensor(np.asarray(meta["conv_bias"])))
        for key in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
            target = getattr(bn, key)
            target.copy_(torch.as_tensor(np.asarray(meta[f"bn_{key}"])).reshape(target.shape))
        # the unfolded tensors must agree with the folded weight other libraries use
        scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
        if not torch.allclose(conv.weight * scale.view(-1, 1, 1, 1), weight, rtol=1e-4, atol=1e-6):
            raise ValueError(
                "Conv2d node: its spikeforge BatchNorm metadata does not match its weight "
                "(the file was edited?); remove the metadata to use the folded weight"
            )
    return [conv, bn.eval()]


def _static(node: Any, name: str, dt: float) -> list[nn.Module]:
    import nir

    if isinstance(node, nir.Affine | nir.Linear):
        weight = torch.as_tensor(np.asarray(node.weight)).float()
        layer = nn.Linear(weight.shape[1], weight.shape[0], bias=isinstance(node, nir.Affine))
        with torch.no_grad():
            layer.weight.copy_(weight)
            if layer.bias is not None:
                layer.bias.copy_(torch.as_tensor(np.asarray(node.bias)).float())
        return [layer]
    if isinstance(node, nir.Conv1d | nir.Conv2d):
        return _conv(node)
    if isinstance(node, nir.Flatten):
        end = int(node.end_dim)
        return [nn.Flatten(int(node.start_dim) + 1, end + 1 if end >= 0 else end)]
    if isinstance(node, nir.AvgPool2d | nir.SumPool2d):
        args = [tuple(int(v) for v in np.atleast_1d(a)) for a in (node.kernel_size, node.stride, node.padding)]
        return [nn.AvgPool2d(*args, divisor_override=1 if isinstance(node, nir.SumPool2d) else None)]
    if isinstance(node, nir.Scale):
        return [Scale(torch.as_tensor(np.asarray(node.scale)).float())]
    if isinstance(node, nir.Delay):
        steps = np.asarray(node.delay, dtype=np.float64) / dt
        if not np.allclose(steps, np.round(steps), atol=1e-6):
            raise ValueError(f"node {name!r}: delays must be whole multiples of dt={dt!r} s")
        from ..synapses import ChannelDelay

        delays = torch.as_tensor(np.round(steps)).long()
        channels = int(delays.shape[0]) if delays.dim() == 1 else tuple(delays.shape)  # a tuple: one per feature
        return [ChannelDelay(channels, delays, dt=dt, stateful=True)]
    raise ValueError(
        f"NIR import: node {name!r} has type {type(node).__name__}, which spikeforge does not import; "
        f"supported node types: {', '.join(SUPPORTED_IMPORT)}"
    )


def import_nir(
    graph: Any, *, dt: float | None = None, integrator: Integrator | None = None, backend: str = "auto"
) -> SequentialState:
    """Build a runnable chain from a NIR graph or ``.nir`` path (input and output ``[T, B, ...]``).

    Args:
        graph: a ``nir.NIRGraph`` or a path to a ``.nir`` file.
        dt: time step (s). Default: the one the graph was exported with (spikeforge metadata); required otherwise.
        integrator: ``"exact"`` or ``"euler"`` (how the graph's ODEs were meant to be discretised). Default: the
            graph's metadata, else ``"exact"``. Use ``"euler"`` for graphs from snnTorch or Norse.
        backend: neuron backend (``"auto"``, ``"torch"``, ...).

    >>> import torch
    >>> from spikeforge import LIF
    >>> from spikeforge.interop import export_nir
    >>> net = SequentialState(torch.nn.Linear(4, 3), LIF(3, reset="zero"))
    >>> back = import_nir(export_nir(net, [4]))
    >>> x = torch.rand(20, 2, 4)
    >>> torch.equal(back(x)[0], net(x)[0])
    True
    """
    import nir

    if isinstance(graph, str | Path):
        graph = read_nir(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph: expected a nir.NIRGraph or a path to a .nir file, got {type(graph).__name__}")
    meta = graph_metadata(graph)
    dt = dt if dt is not None else meta.get("dt")
    if dt is None:
        raise ValueError(
            "dt: the graph carries no time step (it was not written by spikeforge); pass dt in seconds:"
            " the step the exporting library simulated with (snnTorch: 1e-4, Norse: its dt argument)"
        )
    dt = check_dt(float(dt) if isinstance(dt, np.floating) else dt)
    integrator = integrator or meta.get("integrator", "exact")
    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator: expected one of {INTEGRATORS}, got {integrator!r}")
    layers: list[nn.Module] = []
    for step in _walk(graph):
        if step[0] == "branches":
            layers.append(_delay_groups(graph, step[1], dt))
            continue
        name, rec_name = step[1], step[2]
        node = graph.nodes[name]
        if isinstance(node, nir.Input | nir.Output):
            continue
        _check_finite_node(node, name)
        rec = None
        if rec_name is not None:
            _check_finite_node(graph.nodes[rec_name], rec_name)
            rec = lambda n, r=rec_name, m=name: _recurrent_weight(graph, r, m, n)  # noqa: E731
        try:
            if isinstance(node, nir.LIF | nir.LI | nir.CubaLIF | nir.IF):
                layers += _neuron(node, name, dt, integrator, backend, rec)
            else:
                layers += _static(node, name, dt)
        except (ValueError, TypeError) as err:  # name the node whose values the layer refused
            if str(err).startswith(("node ", "NIR import")):
                raise
            kind = TypeError if isinstance(err, TypeError) else ValueError
            raise kind(f"node {name!r} ({type(node).__name__}): {err}") from None
    model = SequentialState(*layers).eval()
    _check_chains(model, graph)
    return model


def _delay_groups(graph: Any, branches: list[tuple[str | None, str]], dt: float) -> nn.Module:
    """Parallel ``[Delay(d) ->] Linear|Affine`` branches that merge into one node -> one
    :class:`~spikeforge.synapses.DelayedLinear`: weight ``W = sum_k W_k`` and delay ``d_k`` for the synapses of
    branch ``k`` (those with a non-zero weight there; spikeforge's own graphs carry the full delay matrix). A
    synapse with non-zero weights in two branches cannot be one delayed synapse and is refused."""
    import nir

    from ..synapses import DelayedLinear

    weights, delays, bias, recorded = [], [], None, None
    for delay, dense in branches:
        node = graph.nodes[dense]
        for name in (delay, dense):
            if name is not None:
                _check_finite_node(graph.nodes[name], name)
        w = torch.as_tensor(np.asarray(node.weight)).float()
        d = 0.0
        if delay is not None:
            values = np.unique(np.asarray(graph.nodes[delay].delay, dtype=np.float64))
            if values.size != 1:
                raise ValueError(f"node {delay!r}: a delay-group branch needs one delay for all inputs, got {values}")
            d = float(values[0]) / dt
            if abs(d - round(d)) > 1e-6 or d < 0:
                raise ValueError(f"node {delay!r}: delays must be whole multiples of dt={dt!r} s, got {values[0]!r} s")
        if weights and w.shape != weights[0].shape:
            raise ValueError(
                f"node {dense!r}: branch weights differ in shape ({list(w.shape)} vs {list(weights[0].shape)})"
            )
        weights.append(w)
        delays.append(round(d))
        if isinstance(node, nir.Affine):
            b = torch.as_tensor(np.asarray(node.bias)).float()
            bias = b if bias is None else bias + b
        raw = (node.metadata or {}).get("delay_steps")
        if raw is not None:
            recorded = torch.as_tensor(np.asarray(raw)).long()
    stacked = torch.stack(weights)
    if ((stacked != 0).sum(0) > 1).any():
        raise ValueError(
            f"NIR import: branches {[b for _, b in branches]} give one synapse weights in two delay groups; "
            "spikeforge's DelayedLinear has one delay per synapse"
        )
    chosen = torch.tensor(delays).reshape(-1, 1, 1).expand_as(stacked)
    steps = (chosen * (stacked != 0)).sum(0)
    if recorded is not None and recorded.shape == steps.shape:
        nonzero = stacked.sum(0) != 0
        if not torch.equal(recorded[nonzero], steps[nonzero]):
            raise ValueError("NIR import: the recorded delay matrix does not match the delay groups (was it edited?)")
        steps = recorded
    out, inp = stacked.shape[1:]
    layer = DelayedLinear(inp, out, steps, bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(stacked.sum(0))
        if bias is not None:
            layer.bias.copy_(bias)
    from ..models._sequence import WholeSequence

    return WholeSequence(layer)


def _check_chains(model: SequentialState, graph: Any) -> None:
    """Run one zero step of the Input node's shape through the chain: layers whose sizes do not fit each other
    are refused here, naming the shapes, instead of failing inside torch on the first real input."""
    import nir

    node = next(n for n in graph.nodes.values() if isinstance(n, nir.Input))
    shape = node.input_type.get("input") if isinstance(node.input_type, dict) else node.input_type
    try:
        shape = tuple(int(s) for s in np.asarray(shape).reshape(-1))
    except (TypeError, ValueError):
        return
    if not shape or any(s <= 0 for s in shape):
        raise ValueError(f"NIR graph: the Input node has shape {list(shape)}; expected positive sizes")
    try:
        with torch.no_grad():
            model(torch.zeros(1, 1, *shape))
    except RuntimeError as err:
        raise ValueError(
            f"NIR graph: its layers do not fit an input of shape {list(shape)} (the Input node's): {err}"
        ) from None


def _check_finite_node(node: Any, name: str) -> None:
    """Refuse NaN anywhere in a node's arrays, and inf except in time constants (``tau = inf``: no leak)."""
    for field, value in vars(node).items():
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fc":
            continue
        bad = np.isnan(value) if field.startswith("tau") else ~np.isfinite(value)
        if bad.any():
            first = value[bad].flat[0]
            what = "NaN" if np.isnan(first) else "infinite"
            raise ValueError(
                f"node {name!r} ({type(node).__name__}): {field} contains {what} values ({int(bad.sum())} of "
                f"{value.size}, the first {first!r}); expected finite numbers"
            )


def summarize_nir(graph: Any) -> list[dict[str, Any]]:
    """One row per node, in chain order: name, type, output shape and parameter count."""
    rows = []
    for name in _chain(graph):
        node = graph.nodes[name]
        out = getattr(node, "output_type", {}) or {}
        shape = next(iter(out.values()), None)
        params = sum(
            int(np.size(v))
            for k, v in vars(node).items()
            if isinstance(v, np.ndarray) and k not in ("input_type", "output_type")
        )
        rows.append(
            {
                "name": name,
                "type": type(node).__name__,
                "shape": None if shape is None else [int(s) for s in np.atleast_1d(shape)],
                "params": params,
            }
        )
    return rows
