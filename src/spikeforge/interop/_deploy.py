r"""Hardware fit: does a trained network fit a neuromorphic platform (:data:`~spikeforge.interop.TARGETS`)?

The network is read as a chain of neuron layers, each fed by one synaptic layer (``Linear``, ``Conv1d/2d``,
``DelayedLinear``) and, for recurrent layers, by its own ``[N, N]`` matrix. For layer ``l`` with ``N_l`` neurons:

- fan-in ``F_l``: inputs per neuron (``in_features``; ``C_in/groups * k_h * k_w`` for a convolution; ``+ N_l`` for
  a recurrent layer);
- synapses ``S_l = N_l F_l`` (a convolution's shared kernels counted per neuron, as a core stores its connections);
- fan-out: the next layer's fan-in seen from one neuron (``out_features``; ``C_out k_h k_w`` for a convolution;
  ``+ N_l`` when recurrent);
- cores ``c_l = max(1, ceil(N_l / n_core), ceil(S_l / s_core))``, each layer on cores of its own (the usual
  mapping; no core shared between layers), total ``sum_l c_l``; on a single-core device (Xylo) all layers share
  the core: ``ceil(sum_l N_l / n_core)``. Where a platform does not publish ``n_core`` or
  ``s_core`` the count is a lower bound (one core per layer) and the report says so.

The network fits when every published limit holds; each violated limit becomes one line of what must change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from ..neurons._base import NeuronModule
from ._nir import _flatten_layers, _run_layer
from ._targets import TARGETS, HardwareTarget

__all__ = ["DeployReport", "NeuronLayer", "deploy_check", "network_layers"]


@dataclass
class NeuronLayer:
    """One neuron layer as the hardware sees it (see the module docstring for the counts)."""

    index: int
    model: str  # the spikeforge neuron class, e.g. "RLIF"
    neurons: int
    fan_in: int
    synapses: int
    kind: str  # "dense", "conv"
    recurrent: bool = False
    max_delay: int = 0
    fan_out: int = 0
    reset: str | None = None


@dataclass
class DeployReport:
    """The verdict for one target: ``fits``, ``cores`` (``cores_exact`` False: a lower bound), the changes needed,
    and notes on unconfirmed limits that were used."""

    target: str
    fits: bool
    cores: int
    cores_exact: bool
    layers: list[NeuronLayer]
    changes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def network_layers(model: nn.Module, input_shape) -> list[NeuronLayer]:
    """The neuron layers of a chain with their sizes, fan-in, synapses and fan-out (see the module docstring)."""
    from ..synapses import DelayedLinear, LearnableDelayLinear

    layers = _flatten_layers(model)
    out: list[NeuronLayer] = []
    pending: dict[str, Any] | None = None
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(1, 1, *[int(s) for s in input_shape])
            for index, layer in enumerate(layers):
                in_shape = tuple(x.shape[2:])
                x = _run_layer(layer, x)
                if isinstance(layer, nn.Linear | DelayedLinear | LearnableDelayLinear):
                    delay = int(layer.delays.max()) if hasattr(layer, "delays") else 0
                    if isinstance(layer, LearnableDelayLinear):
                        delay = int(layer.max_delay) - 1
                    pending = {"fan_in": layer.in_features, "kind": "dense", "delay": delay, "out": layer.out_features}
                elif isinstance(layer, nn.Conv1d | nn.Conv2d):
                    k = math.prod(layer.kernel_size)
                    pending = {"fan_in": in_shape[0] // layer.groups * k, "kind": "conv", "delay": 0}
                    pending["out"] = layer.out_channels * k
                elif isinstance(layer, NeuronModule):
                    n = math.prod(x.shape[2:])
                    fan_in = pending["fan_in"] if pending else n
                    recurrent = hasattr(layer, "recurrent")
                    fan_in += n if recurrent else 0
                    out.append(
                        NeuronLayer(
                            index=index,
                            model=type(layer).__name__,
                            neurons=n,
                            fan_in=fan_in,
                            synapses=n * fan_in,
                            kind=pending["kind"] if pending else "dense",
                            recurrent=recurrent,
                            max_delay=pending["delay"] if pending else 0,
                            fan_out=n if recurrent else 0,
                            reset=getattr(layer, "reset", None),
                        )
                    )
                    if len(out) > 1:
                        out[-2].fan_out += pending["out"] if pending else 1
                    pending = None
    finally:
        model.train(was_training)
    return out


def _check(name: str, value: int, limit, what: str, changes: list[str], notes: list[str]) -> None:
    if limit.value is None:
        return
    if value > limit.value:
        changes.append(f"{what}: {value:,} > {limit.value:,} ({name})")
    if not limit.confirmed:
        notes.append(f"{name} = {limit.value:,} is unconfirmed: {limit.note}")


def deploy_check(model: nn.Module, input_shape, target: str | HardwareTarget) -> DeployReport:
    """Check ``model`` against a platform's published limits (see the module docstring for the counting)."""
    if isinstance(target, str):
        if target not in TARGETS:
            raise ValueError(f"target: expected one of {list(TARGETS)}, got {target!r}")
        target = TARGETS[target]
    layers = network_layers(model, input_shape)
    if not layers:
        raise ValueError("model: no neuron layers to place on hardware")
    changes: list[str] = []
    notes: list[str] = []
    t = target
    for layer in layers:
        label = f"layer {layer.index} ({layer.model}, {layer.neurons:,} neurons)"
        if layer.model not in t.neuron_models.value:
            models = ", ".join(t.neuron_models.value) or "none of spikeforge's"
            changes.append(f"{label}: neuron model {layer.model} not supported ({t.neuron_models.note or models})")
        kinds = [layer.kind] + (["recurrent"] if layer.recurrent else []) + (["delay"] if layer.max_delay else [])
        for kind in kinds:
            if kind not in t.layer_types.value:
                changes.append(
                    f"{label}: {kind} connections not supported (supported: {', '.join(t.layer_types.value)})"
                )
        _check("fan-in", layer.fan_in, t.fan_in, f"{label} fan-in", changes, notes)
        _check("fan-out", layer.fan_out, t.fan_out, f"{label} fan-out", changes, notes)
        if layer.max_delay:
            _check("max delay", layer.max_delay, t.max_delay, f"{label} delay (steps)", changes, notes)
    cores_exact = t.neurons_per_core.value is not None or t.synapses_per_core.value is not None
    cores = 0
    if t.cores.value == 1 and t.neurons_per_core.value:  # a single-core device: every layer shares the core
        cores = math.ceil(sum(layer.neurons for layer in layers) / t.neurons_per_core.value)
        layers_per_core = []
    else:
        layers_per_core = layers
    for layer in layers_per_core:
        need = 1
        if t.neurons_per_core.value:
            need = max(need, math.ceil(layer.neurons / t.neurons_per_core.value))
        if t.synapses_per_core.value:
            need = max(need, math.ceil(layer.synapses / t.synapses_per_core.value))
        cores += need
    _check("cores", cores, t.cores, "cores needed", changes, notes)
    for name, limit in (("neurons per core", t.neurons_per_core), ("synapses per core", t.synapses_per_core)):
        if limit.value is not None and not limit.confirmed:
            notes.append(f"{name} = {limit.value:,} is unconfirmed: {limit.note}")
    extra = t.extra
    if "inputs" in extra:
        _check("input channels", int(math.prod(input_shape)), extra["inputs"], "network inputs", changes, notes)
    if "outputs" in extra:
        _check("output neurons", layers[-1].neurons, extra["outputs"], "output neurons", changes, notes)
    if "hidden" in extra:
        hidden = sum(layer.neurons for layer in layers[:-1])
        _check("hidden neurons", hidden, extra["hidden"], "hidden neurons", changes, notes)
    if "neurons" in extra:
        total = sum(layer.neurons for layer in layers)
        _check("neurons per chip", total, extra["neurons"], "neurons", changes, notes)
    if "features" in extra:
        for layer in layers:
            if layer.kind == "dense":  # a dense layer maps as a 1x1 convolution with one feature per neuron
                _check("features", layer.neurons, extra["features"], f"layer {layer.index} features", changes, notes)
    if t.weight_bits.value is not None and not t.weight_bits.confirmed:
        notes.append(f"weight bits = {t.weight_bits.value} is unconfirmed: {t.weight_bits.note}")
    if t.state_bits.value is not None and not t.state_bits.confirmed:
        notes.append(f"state bits = {t.state_bits.value} is unconfirmed: {t.state_bits.note}")
    if not cores_exact:
        notes.append("core count is a lower bound (one core per layer): the per-core capacity is not published")
    return DeployReport(
        target=t.name,
        fits=not changes,
        cores=cores,
        cores_exact=cores_exact,
        layers=layers,
        changes=list(dict.fromkeys(changes)),
        notes=list(dict.fromkeys(notes)),
    )
