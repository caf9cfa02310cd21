r"""NIR export: spikeforge chains -> a :class:`nir.NIRGraph` (a file read by snnTorch, Norse, Lava, ...).

NIR describes neurons by continuous ODEs in SI time and carries no time step. spikeforge neurons are discrete, so
an exported graph states how its ODEs were discretised, in the graph metadata ``spikeforge`` (a JSON string):
``{"dt": <seconds>, "integrator": "exact" | "euler", "version": 1}``. The input of a neuron node is the output of
the layer before it, held constant over a step (``I``). With ``beta = exp(-dt/tau)``:

- LIF: ``LIF(tau=tau_mem, r=1/(1-beta), v_leak, v_threshold=threshold, v_reset)``; under ``"euler"``
  ``tau=dt/(1-beta)`` and ``r=tau/dt``.
- LIF with ``tau_syn``: refused under ``"exact"`` (its discrete synapse is not NIR's ODE); under ``"euler"`` a
  ``CubaLIF`` (below).
- CubaLIF: ``CubaLIF(tau_syn, tau_mem, r=1, w_in=1, v_leak, v_threshold, v_reset)``; ``"exact"`` only.
- IF: ``IF(r=1/dt, v_threshold, v_reset)`` under both.
- LI: ``LI(tau=tau_mem, r=1/(1-beta), v_leak=0)``; under ``"euler"`` ``tau=dt/(1-beta)``, ``r=tau/dt``.
- :class:`~spikeforge.synapses.ChannelDelay`: ``Delay(delay=steps * dt)`` in seconds (imported back as a stateful
  ``ChannelDelay``); Scale: ``Scale``.
- :class:`~spikeforge.synapses.DelayedLinear` whose delays depend on the input channel only: ``Delay -> Affine``; on
  the output channel only: ``Linear -> Delay`` (plus an identity ``Affine`` for the undelayed bias); per-synapse
  delays: one branch ``Delay(d) -> Linear(W masked to delay d)`` per distinct delay ``d``, merging into the next
  node (exact; ``k`` delays cost ``k`` dense ``[out, in]`` matrices). Learnable delays are rounded first
  (``synapses.round_delays``).
- RLIF: the LIF node plus a ``Linear`` node ``"<i>.rec"`` holding ``W_rec`` on the cycle ``i -> i.rec -> i``: NIR
  readers deliver the spikes of step ``t`` at step ``t + 1``, which is RLIF's ``x'_t = x_t + W_rec z_{t-1}``.
- ALIF / RALIF: exact only with ``beta = 0`` (a fixed threshold, as a LIF node with ``r = 1``); otherwise refused
  (the threshold ``theta + beta a`` moves with a second state and the subtract reset removes it: no linear
  composition of NIR nodes reproduces that), or exported as the nearest form, LIF without adaptation, under
  ``alif_as="lif"``.

Why these numbers: integrating ``tau dv/dt = (v_leak - v) + r I`` exactly over one step with ``I`` constant gives
``v' = v_leak + beta (v - v_leak) + (1 - beta) r I``, which is spikeforge's update ``v' = v_leak + beta (v - v_leak)
+ x`` when ``(1 - beta) r = 1``. The ``"euler"`` mapping is for what snnTorch and Norse do with a NIR graph (forward
Euler, ``v' = v + dt/tau ((v_leak - v) + r I)``): with ``tau = dt/(1-beta)`` and ``r = tau/dt`` their update is
again spikeforge's, so the same spikes come out. For LIF with ``tau_syn`` under ``"euler"`` the node is
``CubaLIF(tau_syn=dt/(1-alpha), w_in=tau_syn/dt, tau_mem=dt/(1-beta), r=tau_mem/dt)`` (snnTorch's ``Synaptic``).
spikeforge's own :class:`~spikeforge.CubaLIF` is already the exact solution of NIR's CubaLIF ODEs.

NIR's spiking nodes reset to ``v_reset`` (spikeforge ``reset="zero"``). The reset mode, surrogate, refractory period
and ``detach_reset`` travel in each neuron node's metadata ``spikeforge`` (JSON), so spikeforge restores a
``"subtract"`` reset, but other libraries will reset to ``v_reset``: export warns when that happens, and
``reset_as="zero"`` exports the zero-reset network explicitly (metadata included), so that every reader runs the
same, changed network (never a silent change; ``spikeforge export --check`` measures it). spikeforge spikes
at ``v >= threshold`` where NIR writes ``v > threshold`` (they differ only on exact ties); spikeforge's CubaLIF
zero reset restarts the membrane at the interpolated crossing inside the step (see its docstring). A ``BatchNorm2d`` after a
convolution is folded into the convolution's weight and bias (for other libraries); the unfolded tensors ride along
in the node metadata so spikeforge rebuilds the same layers and the same spikes. ``Dropout`` is left out (identity at
inference).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..neurons import IF, LI, CubaLIF
from ..neurons._alif import _ALIFBase
from ..neurons._base import NeuronModule
from ..neurons._lif import _LIFBase
from ..nn import Lift, SequentialState
from ..nn._containers import _fold_time, is_stateful
from ._nir_layers import Scale

__all__ = ["ALIF_AS", "RESET_AS", "SUPPORTED_EXPORT", "Integrator", "export_nir", "write_nir"]

Integrator = Literal["exact", "euler"]
INTEGRATORS: tuple[str, ...] = ("exact", "euler")
META_KEY = "spikeforge"
FORMAT_VERSION = 1
SUPPORTED_EXPORT = (
    *"Linear Conv1d Conv2d AvgPool2d Flatten LIF RLIF CubaLIF IF LI Scale synapses.ChannelDelay".split(),
    "ALIF / RALIF (beta = 0 exactly, else alif_as='lif')",
    "synapses.DelayedLinear (any integer delays; per-synapse ones as one Delay + Linear per delay value)",
    *("BatchNorm2d (after a Conv2d)", "Dropout (dropped)", "Lift", "SequentialState", "Sequential"),
)

#: what happens to neurons that reset by subtraction (NIR's spiking nodes reset to ``v_reset``); the CLI's
#: ``--reset-as`` choices
RESET_AS: dict[str, str] = {
    "keep": "keep the model's reset: a subtract reset is recorded in the spikeforge metadata (spikeforge reads it "
    "back exactly; other NIR readers reset to v_reset, and export says so)",
    "zero": "export subtract-reset neurons as reset to v_reset, in the metadata too: every reader, spikeforge "
    "included, then runs the changed network (measure the change with --check)",
}
#: what happens to adaptive neurons (ALIF, RALIF) whose adaptation strength is not zero; the CLI's ``--alif-as``
ALIF_AS: dict[str, str] = {
    "exact": "export only what NIR expresses exactly (adaptation strength beta = 0 everywhere); refuse otherwise",
    "lif": "the nearest exportable form: LIF with the same tau_mem, baseline threshold and reset, adaptation "
    "dropped (measure the change with --check)",
}
_ALIF_REFUSAL = (
    "{name}: adaptive neurons have no exact NIR form: the firing threshold theta + beta*a moves with a second "
    "state a (a trace of the neuron's own spikes), and the subtract reset removes that moving threshold "
    "(a product of spike and state); NIR's LIF/CubaLIF have a fixed v_threshold and its Affine edges are linear, so "
    "no composition of NIR nodes reproduces it. Nearest exportable form: alif_as='lif' (CLI: --alif-as lif), "
    "a LIF with the same tau_mem, threshold and reset and no adaptation; or train with beta = 0"
)


def _np(t: torch.Tensor | float, shape: Sequence[int], dtype=np.float32) -> np.ndarray:
    """A parameter as a numpy array of the layer's ``shape`` (per-neuron arrays, as NIR expects)."""
    arr = torch.as_tensor(t).detach().cpu().to(torch.float64).numpy()
    return np.ascontiguousarray(np.broadcast_to(arr, tuple(shape)).astype(dtype))


def _flatten_layers(model: nn.Module) -> list[nn.Module]:
    if isinstance(model, SequentialState | nn.Sequential):
        return [leaf for m in model for leaf in _flatten_layers(m)]
    if isinstance(model, Lift):
        return [model.module]
    from ..models._sequence import WholeSequence

    if isinstance(model, WholeSequence):  # a whole-sequence layer inside a SequentialState (e.g. fixed delays)
        return _flatten_layers(model.module)
    return [model]


def _run_layer(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    from ..synapses import ChannelDelay, DelayedLinear, LearnableDelayLinear

    if is_stateful(layer):  # a stateful ChannelDelay among them
        return layer(x)[0]
    if isinstance(layer, ChannelDelay | DelayedLinear | LearnableDelayLinear):  # whole-sequence layers without state
        return layer(x)
    return _fold_time(layer, x)


def _model_dt(layers: list[nn.Module], dt: float | None) -> float:
    from ..synapses import ChannelDelay

    timed = [m for m in layers if isinstance(m, NeuronModule) or (isinstance(m, ChannelDelay) and m.dt is not None)]
    dts = sorted({m.dt for m in timed})
    if len(dts) > 1:
        raise ValueError(f"model: neurons and delays use different time steps {dts}; NIR export needs one dt")
    if dts and dt is not None and not math.isclose(dts[0], dt, rel_tol=1e-12):
        raise ValueError(f"dt: the model's neurons run at dt={dts[0]!r} s, got dt={dt!r}; leave dt=None")
    if not dts and dt is None:
        raise ValueError("dt: the model has no neurons to take dt from; pass dt (seconds)")
    return float(dts[0] if dts else dt)


def _neuron_meta(module: NeuronModule, reset: str | None = None, **extra: Any) -> str:
    meta = {"class": type(module).__name__, "surrogate": getattr(module, "surrogate", None)}
    if meta["surrogate"] is not None:
        meta["surrogate"] = meta["surrogate"].to_config()
    for name in ("reset", "detach_reset", "t_ref", "v_reset", "v_leak"):
        if hasattr(module, name):
            meta[name] = getattr(module, name)
    if reset is not None:
        meta["reset"] = reset
    if hasattr(module, "recurrent"):
        meta["self_connections"] = module.self_connections
        meta["recurrent_scale"] = module.recurrent_scale
    meta.update(extra)
    meta["learn"] = list(module.learn)
    meta["shapes"] = {k: list(v.shape) for k, v in module.state_dict().items()}
    return json.dumps(meta)


def _leak_pair(tau: torch.Tensor, dt: float, integrator: str) -> tuple[np.ndarray, np.ndarray]:
    """``(tau_nir, r)`` in float64 for a leak of time constant ``tau`` (s), per the module docstring."""
    tau64 = tau.detach().cpu().to(torch.float64)
    one_minus_beta = -torch.expm1(-dt / tau64)
    if integrator == "exact":
        return tau64.numpy(), (1.0 / one_minus_beta).numpy()
    tau_nir = dt / one_minus_beta
    return tau_nir.numpy(), (tau_nir / dt).numpy()


def _tau_array(module: NeuronModule, name: str, shape, dt: float, integrator: str):
    tau, r = _leak_pair(torch.as_tensor(module.get(name)), dt, integrator)
    # the exact tau is stored in float32 (the module's own value, bit for bit); Euler taus are derived, keep float64
    tau_dtype = np.float32 if integrator == "exact" else np.float64
    return _np(torch.from_numpy(tau), shape, tau_dtype), _np(torch.from_numpy(r), shape, np.float64)


def _reset(module: NeuronModule, reset_as: str, changed: list[str]) -> str:
    """The reset the exported node stands for: ``"zero"`` for a subtract reset under ``reset_as="zero"``."""
    if reset_as == "zero" and module.reset == "subtract":
        changed.append(type(module).__name__)
        return "zero"
    return module.reset


def _export_alif(module: NeuronModule, shape, dt: float, integrator: str, alif_as: str, warn: list, reset: str):
    """ALIF/RALIF as a NIR ``LIF``: exact when ``beta == 0`` everywhere (the threshold is then fixed), else the
    nearest form under ``alif_as="lif"``. ALIF's input is in membrane units (``h = v_leak + beta_m (v - v_leak) +
    (1 - beta_m) x``), so ``r = 1`` under both integrators: ``(1 - beta_m) r_exact = 1 - beta_m``."""
    import nir

    exact = bool((module.get("beta") == 0).all())
    if not exact and alif_as != "lif":
        raise ValueError(_ALIF_REFUSAL.format(name=type(module).__name__))
    if not exact:
        warnings.warn(
            f"NIR export: alif_as='lif' exports {type(module).__name__} as LIF without adaptation (beta "
            f"{float(module.get('beta').abs().max()):g} -> 0): the graph is a changed network; measure it with --check",
            stacklevel=3,
        )
    if reset in ("subtract", "none"):
        warn.append(f"{type(module).__name__}(reset={reset!r})")
    tau, _ = _tau_array(module, "tau_mem", shape, dt, integrator)
    form = "exact" if exact else "lif"
    meta = _neuron_meta(module, reset=reset, alif_as=form, tau_adapt=module.get("tau_adapt").detach().cpu().tolist())
    return nir.LIF(
        tau=tau,
        r=np.ones(tuple(shape)),
        v_leak=_np(module.v_leak, shape),
        v_threshold=_np(module.get("threshold"), shape),
        v_reset=_np(module.v_reset, shape),
        metadata={META_KEY: meta},
    )


def _export_neuron(
    module: NeuronModule, shape, dt: float, integrator: str, warn: list[str], reset_as: str, alif_as: str, changed
):
    import nir

    thr = lambda: _np(module.get("threshold"), shape)  # noqa: E731
    reset = _reset(module, reset_as, changed) if hasattr(module, "reset") else None
    if isinstance(module, _ALIFBase):
        return _export_alif(module, shape, dt, integrator, alif_as, warn, reset)
    if isinstance(module, _LIFBase):  # LIF and RLIF (whose recurrent edge the caller adds)
        if reset == "subtract" or reset == "none" or module.t_ref:
            warn.append(f"{type(module).__name__}(reset={reset!r}, t_ref={module.t_ref})")
        v_leak, v_reset = _np(module.v_leak, shape), _np(module.v_reset, shape)
        if module.tau_syn_set:
            if integrator != "euler":
                raise ValueError(
                    "LIF with tau_syn: its discrete synapse (i' = alpha i + x) is not the exact "
                    "solution of NIR's CubaLIF; export with integrator='euler' (snnTorch's Synaptic) "
                    "or use spikeforge.CubaLIF"
                )
            tau_syn, w_in = _tau_array(module, "tau_syn", shape, dt, integrator)
            tau_mem, r = _tau_array(module, "tau_mem", shape, dt, integrator)
            return nir.CubaLIF(
                tau_syn=tau_syn,
                tau_mem=tau_mem,
                r=r,
                v_leak=v_leak,
                v_threshold=thr(),
                v_reset=v_reset,
                w_in=w_in,
                metadata={META_KEY: _neuron_meta(module, reset)},
            )
        tau, r = _tau_array(module, "tau_mem", shape, dt, integrator)
        return nir.LIF(
            tau=tau,
            r=r,
            v_leak=v_leak,
            v_threshold=thr(),
            v_reset=v_reset,
            metadata={META_KEY: _neuron_meta(module, reset)},
        )
    if isinstance(module, CubaLIF):
        if integrator != "exact":
            raise ValueError("CubaLIF: spikeforge integrates it exactly; export it with integrator='exact'")
        if reset != "zero":
            warn.append(f"CubaLIF(reset={reset!r})")
        ones = np.ones(tuple(shape), dtype=np.float32)
        return nir.CubaLIF(
            tau_syn=_np(module.get("tau_syn"), shape),
            tau_mem=_np(module.get("tau_mem"), shape),
            r=ones,
            v_leak=_np(module.v_leak, shape),
            v_threshold=thr(),
            v_reset=_np(module.v_reset, shape),
            w_in=ones.copy(),
            metadata={META_KEY: _neuron_meta(module, reset)},
        )
    if isinstance(module, IF):
        if reset != "zero":
            warn.append(f"IF(reset={reset!r})")
        return nir.IF(
            r=np.full(tuple(shape), 1.0 / dt),
            v_threshold=thr(),
            v_reset=_np(module.v_reset, shape),
            metadata={META_KEY: _neuron_meta(module, reset)},
        )
    if isinstance(module, LI):
        if module.get("tau_syn") is not None:
            raise ValueError("LI with tau_syn: not supported by NIR export; use LI without tau_syn")
        tau, r = _tau_array(module, "tau_mem", shape, dt, integrator)
        return nir.LI(
            tau=tau, r=r, v_leak=np.zeros(tuple(shape), np.float32), metadata={META_KEY: _neuron_meta(module)}
        )
    raise _unsupported(module)


def _unsupported(module: nn.Module) -> ValueError:
    return ValueError(
        f"NIR export: layer type {type(module).__name__} is not supported; supported layers: "
        f"{', '.join(SUPPORTED_EXPORT)}"
    )


def _conv_node(conv: nn.Conv1d | nn.Conv2d, in_shape, bn: nn.BatchNorm2d | None):
    import nir

    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise ValueError(
            f"{type(conv).__name__}: NIR export needs integer zero padding, got "
            f"padding={conv.padding!r}, padding_mode={conv.padding_mode!r}"
        )
    weight = conv.weight.detach().cpu()
    bias = conv.bias.detach().cpu() if conv.bias is not None else torch.zeros(conv.out_channels)
    meta: dict[str, Any] = {}
    info: dict[str, Any] = {"bias": conv.bias is not None}
    if bn is not None:
        if bn.running_mean is None or not bn.affine:
            raise ValueError(
                "BatchNorm2d: NIR export folds it into the convolution; it needs running statistics "
                "(track_running_stats=True) and affine=True"
            )
        scale = bn.weight.detach().cpu() / torch.sqrt(bn.running_var.cpu() + bn.eps)
        shape = (-1,) + (1,) * (weight.dim() - 1)
        meta.update(
            conv_weight=weight.numpy().copy(),
            bn_weight=bn.weight.detach().cpu().numpy().copy(),
            bn_bias=bn.bias.detach().cpu().numpy().copy(),
            bn_running_mean=bn.running_mean.cpu().numpy(),
            bn_running_var=bn.running_var.cpu().numpy(),
            bn_num_batches_tracked=np.array([int(bn.num_batches_tracked)]),
        )
        info["batchnorm"] = {"eps": bn.eps, "momentum": bn.momentum}
        if conv.bias is not None:
            meta["conv_bias"] = bias.numpy().copy()
        weight, bias = weight * scale.reshape(shape), (bias - bn.running_mean.cpu()) * scale + bn.bias.detach().cpu()
    meta[META_KEY] = json.dumps(info)
    cls = nir.Conv1d if isinstance(conv, nn.Conv1d) else nir.Conv2d
    spatial = tuple(int(s) for s in in_shape[1:])
    return cls(
        input_shape=spatial[0] if cls is nir.Conv1d else spatial,
        weight=weight.numpy(),
        stride=conv.stride if cls is nir.Conv2d else conv.stride[0],
        padding=conv.padding if cls is nir.Conv2d else conv.padding[0],
        dilation=conv.dilation if cls is nir.Conv2d else conv.dilation[0],
        groups=conv.groups,
        bias=bias.numpy(),
        metadata=meta,
    )


def _static_node(layer: nn.Module, in_shape, out_shape, dt: float):
    import nir

    from ..synapses import ChannelDelay

    if isinstance(layer, nn.Linear):
        w = layer.weight.detach().cpu().numpy()
        if layer.bias is None:
            return nir.Linear(weight=w)
        return nir.Affine(weight=w, bias=layer.bias.detach().cpu().numpy())
    if isinstance(layer, nn.Flatten):
        rank = len(in_shape) + 1
        start = layer.start_dim % rank - 1
        end = layer.end_dim % rank - 1
        if start < 0:
            raise ValueError("Flatten: flattening the batch dimension cannot be exported (start_dim must be >= 1)")
        return nir.Flatten(
            input_type={"input": np.array(in_shape)}, start_dim=start, end_dim=-1 if end == len(in_shape) - 1 else end
        )
    if isinstance(layer, nn.AvgPool2d):
        pair = lambda v: np.array(v if isinstance(v, tuple | list) else (v, v))  # noqa: E731
        if layer.ceil_mode:
            raise ValueError("AvgPool2d: ceil_mode=True cannot be exported to NIR")
        kernel = pair(layer.kernel_size)
        stride = pair(layer.stride if layer.stride is not None else layer.kernel_size)
        if layer.divisor_override == 1:
            return nir.SumPool2d(kernel_size=kernel, stride=stride, padding=pair(layer.padding))
        if layer.divisor_override is not None:
            raise ValueError(f"AvgPool2d: divisor_override={layer.divisor_override} cannot be exported (1 or None)")
        return nir.AvgPool2d(kernel_size=kernel, stride=stride, padding=pair(layer.padding))
    if isinstance(layer, Scale):
        return nir.Scale(scale=_np(layer.scale, out_shape))
    if isinstance(layer, ChannelDelay):  # imported back as a stateful ChannelDelay (it keeps state across chunks)
        step = dt if layer.dt is None else layer.dt
        return nir.Delay(delay=_np(layer.delays.to(torch.float64) * step, out_shape, np.float64))
    raise _unsupported(layer)


def _delayed_linear_nodes(layer: nn.Module, dt: float) -> list[list[Any]]:
    """A fixed-delay linear layer as parallel branches of NIR nodes (each a chain; their outputs are summed by the
    node after them): ``Delay -> Affine`` when its delays depend on the input channel only, ``Linear -> Delay
    [-> Affine(identity, bias)]`` when they depend on the output only (the bias is not delayed); otherwise one
    branch per distinct delay value ``d``: ``Delay(d for every input) -> Linear(W masked to the synapses of delay
    d)`` (no ``Delay`` node for ``d = 0``; the first branch carries the bias).

    Size cost of the per-synapse form: ``k`` dense ``[out, in]`` matrices for ``k`` distinct delays (``k - 1`` times
    the weights of the layer, as zeros) plus ``k * in`` delay values; the full delay matrix rides in the first
    branch's spikeforge metadata so that spikeforge rebuilds the same :class:`~spikeforge.synapses.DelayedLinear`.
    """
    import nir

    delays = layer.delays.to(torch.float64) * dt
    w = layer.weight.detach().cpu().numpy()
    bias = None if layer.bias is None else layer.bias.detach().cpu().numpy()
    kind = layer.structure()
    if kind == "input":
        affine = nir.Linear(weight=w) if bias is None else nir.Affine(weight=w, bias=bias)
        return [[nir.Delay(delay=delays[0].numpy()), affine]]
    if kind == "output":
        parts = [nir.Linear(weight=w), nir.Delay(delay=delays[:, 0].numpy())]
        if bias is not None:
            parts.append(nir.Affine(weight=np.eye(len(bias), dtype=w.dtype), bias=bias))
        return [parts]
    steps = layer.delays.detach().cpu()
    branches = []
    for k, d in enumerate(torch.unique(steps).tolist()):
        masked = np.where((steps == d).numpy(), w, np.zeros_like(w))
        meta = {}
        if k == 0:
            meta = {"delay_steps": steps.numpy().astype(np.int64), META_KEY: json.dumps({"class": "DelayedLinear"})}
        if k == 0 and bias is not None:
            dense = nir.Affine(weight=masked, bias=bias, metadata=meta)
        else:
            dense = nir.Linear(weight=masked, metadata=meta)
        branch = [dense] if d == 0 else [nir.Delay(delay=np.full(w.shape[1], d * dt)), dense]
        branches.append(branch)
    return branches


def export_nir(
    model: nn.Module,
    input_shape: Sequence[int],
    *,
    dt: float | None = None,
    integrator: Integrator = "exact",
    reset_as: str = "keep",
    alif_as: str = "exact",
) -> Any:
    """Export a chain of supported layers to a :class:`nir.NIRGraph` (see the module docstring for the mapping).

    Args:
        model: a :class:`~spikeforge.nn.SequentialState` (or ``nn.Sequential``) of sequence neurons and layers.
        input_shape: shape of one input sample, without time and batch (e.g. ``[1, 8, 8]``).
        dt: time step (s); taken from the neurons when None (they must agree).
        integrator: ``"exact"`` (default) or ``"euler"`` (what snnTorch and Norse assume on import).
        reset_as: ``"keep"`` (default) or ``"zero"``: see :data:`RESET_AS`.
        alif_as: ``"exact"`` (default) or ``"lif"``: see :data:`ALIF_AS`.

    Returns:
        A ``nir.NIRGraph`` with nodes ``input``, ``0``, ``1``, ... (layer indices) and ``output``. Recurrent layers
        add a node ``"<i>.rec"`` (``Linear``, the recurrent matrix) and the cycle ``i -> i.rec -> i``, which NIR
        readers run with the previous step's spikes (``x'_t = x_t + W_rec z_{t-1}``); a per-synapse delay layer adds
        parallel branches ``"<i>.<k>"`` that merge into the next node.

    >>> import torch
    >>> from spikeforge import LIF, LI
    >>> from spikeforge.nn import SequentialState
    >>> net = SequentialState(torch.nn.Linear(4, 3), LIF(3, reset="zero"), torch.nn.Linear(3, 2), LI(2))
    >>> graph = export_nir(net, [4])
    >>> [type(n).__name__ for n in graph.nodes.values()]
    ['Input', 'Affine', 'LIF', 'Affine', 'LI', 'Output']
    """
    import nir

    if integrator not in INTEGRATORS:
        raise ValueError(f"integrator: expected one of {INTEGRATORS}, got {integrator!r}")
    if reset_as not in RESET_AS:
        raise ValueError(f"reset_as: expected one of {list(RESET_AS)}, got {reset_as!r}")
    if alif_as not in ALIF_AS:
        raise ValueError(f"alif_as: expected one of {list(ALIF_AS)}, got {alif_as!r}")
    layers = _flatten_layers(model)
    dt = _model_dt(layers, dt)
    from ..synapses import DelayedLinear, LearnableDelayLinear

    try:
        input_shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        raise TypeError(
            f"input_shape: expected one sample's shape as ints (e.g. [1, 8, 8]), got {input_shape!r}"
        ) from None
    if not input_shape or any(s <= 0 for s in input_shape):
        raise ValueError(
            f"input_shape: expected positive sizes of one sample (e.g. [1, 8, 8]), got {list(input_shape)}"
        )
    nodes: dict[str, Any] = {"input": nir.Input(input_type={"input": np.array(input_shape)})}
    edges: list[tuple[str, str]] = []
    prev = ["input"]  # the nodes whose (summed) output feeds the next node
    warn: list[str] = []
    changed: list[str] = []

    def add(name: str, node: Any) -> None:
        nonlocal prev
        nodes[name] = node
        edges.extend((p, name) for p in prev)
        prev = [name]

    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(1, 1, *input_shape)
            pending_conv: tuple[str, nn.Module, tuple] | None = None
            for index, layer in enumerate(layers):
                in_shape = tuple(x.shape[2:])
                try:
                    x = _run_layer(layer, x)
                except RuntimeError as err:  # a shape mismatch inside torch
                    raise ValueError(
                        f"input_shape: {list(input_shape)} does not fit the model: layer {index} "
                        f"({type(layer).__name__}) fails on an input of shape {list(in_shape)} ({err})"
                    ) from None
                out_shape = tuple(x.shape[2:])
                if isinstance(layer, nn.Dropout | nn.Identity):
                    continue
                if isinstance(layer, nn.BatchNorm2d):
                    if pending_conv is None or prev != [pending_conv[0]]:
                        raise ValueError(
                            "BatchNorm2d: NIR export supports it only right after a Conv2d "
                            "(folded into the convolution)"
                        )
                    name, conv, conv_in = pending_conv
                    nodes[name] = _conv_node(conv, conv_in, layer)
                    pending_conv = None
                    continue
                name = str(index)
                if isinstance(layer, nn.Conv1d | nn.Conv2d):
                    add(name, _conv_node(layer, in_shape, None))
                    pending_conv = (name, layer, in_shape)
                elif isinstance(layer, LearnableDelayLinear):
                    raise ValueError(
                        "LearnableDelayLinear: NIR has no learnable (real-valued, Gaussian-kernel) delays; round them "
                        "first with spikeforge.synapses.round_delays(model) (CLI: spikeforge export --round-delays), "
                        "which gives exact integer per-synapse delays that export as Delay + Linear per delay value"
                    )
                elif isinstance(layer, DelayedLinear):
                    ends = []
                    for k, branch in enumerate(_delayed_linear_nodes(layer, dt)):
                        entry = prev
                        for j, node in enumerate(branch):
                            add(f"{name}.{k}.{j}" if len(branch) > 1 else f"{name}.{k}", node)
                        ends += prev
                        prev = entry
                    prev = ends
                elif isinstance(layer, NeuronModule):
                    if not layer.is_sequence:
                        raise ValueError(f"{type(layer).__name__}: export the sequence module (e.g. LIF), not a cell")
                    add(name, _export_neuron(layer, out_shape, dt, integrator, warn, reset_as, alif_as, changed))
                    if hasattr(layer, "recurrent"):  # the cycle: spikes of step t reach the input of step t + 1
                        nodes[f"{name}.rec"] = nir.Linear(weight=layer._weight().detach().cpu().numpy())
                        edges.extend([(name, f"{name}.rec"), (f"{name}.rec", name)])
                else:
                    add(name, _static_node(layer, in_shape, out_shape, dt))
    finally:
        model.train(was_training)
    add("output", nir.Output(output_type={"output": np.array(tuple(x.shape[2:]))}))
    if warn:
        warnings.warn(
            f"NIR export: {', '.join(sorted(set(warn)))} kept in spikeforge metadata only (spikeforge reads it back "
            "exactly); other NIR libraries reset to v_reset with no refractory period. Export with "
            "reset_as='zero' (CLI: --reset-as zero) to make every reader run the same zero-reset network",
            stacklevel=2,
        )
    if changed:
        warnings.warn(
            f"NIR export: reset_as='zero' exports {', '.join(sorted(set(changed)))} with reset to v_reset instead of "
            "subtraction (in the spikeforge metadata too): the graph is a changed network; measure it with --check",
            stacklevel=2,
        )
    info = {"dt": dt, "integrator": integrator, "version": FORMAT_VERSION, "reset_as": reset_as, "alif_as": alif_as}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={META_KEY: json.dumps(info)}, type_check=False)


def write_nir(path: str | Path, graph_or_model: Any, input_shape: Sequence[int] | None = None, **kwargs: Any) -> Path:
    """Write a NIR graph (or export ``graph_or_model`` first) to ``path`` atomically: no half-written file.

    ``input_shape`` and ``kwargs`` go to :func:`export_nir` when a model is given.
    """
    import nir

    graph = graph_or_model
    if isinstance(graph_or_model, nn.Module):
        if input_shape is None:
            raise ValueError("input_shape: needed to export a model (one sample's shape, e.g. [1, 8, 8])")
        graph = export_nir(graph_or_model, input_shape, **kwargs)
    from .._files import atomic_path

    path = Path(path)
    if path.is_dir():
        raise ValueError(f"path: {path} is a directory; expected the .nir file to write (e.g. {path / 'model.nir'})")
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return path
