"""Model builders: config dict -> :class:`~spikeforge.nn.SequentialState`.

A config holds plain JSON values only, so a model file can store it next to the weights and rebuild the network
without unpickling anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .. import init, kernels
from ..neurons import NEURONS
from ..nn import SequentialState
from ._converted import build_converted
from ._sequence import GRU, WholeSequence

__all__ = [
    "DEFAULTS",
    "HIDDEN_NEURONS",
    "MODELS",
    "OUTPUT_NEURONS",
    "SYNAPSES",
    "ModelKind",
    "build_model",
    "models_for",
    "resolve_model_config",
]

DEFAULTS: dict[str, Any] = {
    "model": "mlp",
    "hidden": [256],
    "channels": [16, 32],
    "tau_mem": 0.02,
    "tau_out": 0.02,
    "threshold": 1.0,
    "reset": "subtract",
    "dt": 0.001,
    "surrogate": {"name": "fast_sigmoid", "slope": 25.0},
    "learn": [],
    "dropout": 0.0,
    "backend": "auto",
    "neuron": "lif",
    "tau_adapt": 0.2,
    "beta_adapt": 0.2,
    "output": "li",
    "max_delay": 10,
    "dtype": "float32",
    "synapses": "auto",
}

#: how the builders' linear synapses run, by ``synapses=`` name: the :class:`~spikeforge.synapses.EventLinear` mode,
#: or None for a plain ``nn.Linear``. "auto" times the event-driven and the dense path on this machine for each
#: shape and spike density it meets and takes the faster (never the slower); graded input always runs dense.
SYNAPSES: dict[str, str | None] = {"auto": "measure", "event": "auto", "dense": None}

#: floating-point precisions a model can be built in (``dtype`` in the config)
DTYPES = {"float32": torch.float32, "float64": torch.float64}

#: hidden-layer neurons the builders make, by ``neuron=`` name: the registry names (``spikeforge.neurons.NEURONS``)
#: of its feed-forward and its recurrent form
HIDDEN_NEURONS: dict[str, tuple[str, str | None]] = {
    "lif": ("lif", "rlif"),
    "alif": ("alif", "ralif"),
    "cubalif": ("cubalif", None),  # current-based LIF (what EventProp trains); feed-forward only
}
#: output layers by ``output=`` name: the registry name and what it reads out
OUTPUT_NEURONS: dict[str, tuple[str, str]] = {
    "li": ("li", "membrane readout"),
    "lif": ("lif", "spiking"),
    "cubalif": ("cubalif", "spiking, current-based (EventProp's first-spike readout)"),
}

#: JSON forms of :mod:`spikeforge.init` distributions for per-neuron ``tau_mem`` / ``tau_adapt``
DISTRIBUTIONS = {
    "uniform": init.Uniform,
    "log_uniform": init.LogUniform,
    "log_normal": init.LogNormal,
    "normal": init.Normal,
}


def _value(name: str, value: Any) -> Any:
    """A number, or ``{"dist": "log_uniform", "low": 0.005, "high": 0.1}`` -> a distribution (per neuron)."""
    if isinstance(value, dict):
        kind = value.get("dist")
        if kind not in DISTRIBUTIONS:
            raise ValueError(
                f"{name}: expected a number or {{'dist': one of {sorted(DISTRIBUTIONS)}, ...}}, got {value!r}"
            )
        try:
            return DISTRIBUTIONS[kind](**{k: float(v) for k, v in value.items() if k != "dist"})
        except TypeError as err:
            raise ValueError(f"{name}: bad arguments for {kind!r}: {err}") from None
    return value


def _neuron(cfg: dict, size: int | tuple[int, ...], *, recurrent: bool = False) -> nn.Module:
    common = {
        "tau_mem": _value("tau_mem", cfg["tau_mem"]),
        "threshold": cfg["threshold"],
        "reset": cfg["reset"],
        "dt": cfg["dt"],
        "surrogate": cfg["surrogate"],
        "learn": tuple(cfg["learn"]),
    }
    if cfg["neuron"] == "alif":
        common |= {"tau_adapt": _value("tau_adapt", cfg["tau_adapt"]), "beta": cfg["beta_adapt"]}
    name = HIDDEN_NEURONS[cfg["neuron"]][int(recurrent)]
    if name is None:
        raise ValueError(f"neuron: {cfg['neuron']!r} has no recurrent form; use it in the 'mlp' model")
    spec = NEURONS[name]
    # the configured backend names a LIF kernel (e.g. cpu_lean); a layer that has no kernel of that name runs its default
    backend = cfg["backend"] if cfg["backend"] in kernels.available(spec.name) else "auto"
    return spec.sequence(size, backend=backend, **common)


def _linear(cfg: dict, n_in: int, n_out: int) -> nn.Linear:
    """A linear synapse layer as ``synapses`` asks (same parameters and state dict either way)."""
    mode = SYNAPSES[cfg["synapses"]]
    if mode is None:
        return nn.Linear(n_in, n_out)
    from ..synapses import EventLinear

    return EventLinear(n_in, n_out, mode=mode)


def _output(cfg: dict, width: int) -> list[nn.Module]:
    n = cfg["n_classes"]
    cls = NEURONS[OUTPUT_NEURONS[cfg["output"]][0]].sequence
    if cfg["output"] in ("lif", "cubalif"):  # spiking output, for spike-count and first-spike readouts
        name = OUTPUT_NEURONS[cfg["output"]][0]
        return [
            _linear(cfg, width, n),
            cls(
                n,
                tau_mem=cfg["tau_out"],
                threshold=cfg["threshold"],
                dt=cfg["dt"],
                surrogate=cfg["surrogate"],
                backend=cfg["backend"] if cfg["backend"] in kernels.available(name) else "auto",
            ),
        ]
    # a backend this read-out has no kernel for (LI has no "cpu_lean") leaves it on its default
    li_backend = cfg["backend"] if cfg["backend"] in kernels.available(OUTPUT_NEURONS[cfg["output"]][0]) else "auto"
    return [_linear(cfg, width, n), cls(n, tau_mem=cfg["tau_out"], dt=cfg["dt"], backend=li_backend)]


def _mlp(cfg: dict) -> SequentialState:
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(cfg["input_shape"])
    for h in cfg["hidden"]:
        layers += [_linear(cfg, width, h), _neuron(cfg, h)]
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        width = h
    return SequentialState(*layers, *_output(cfg, width))


def _recurrent(cfg: dict) -> SequentialState:
    """Sequence input ``[T, B, C]`` -> recurrent LIF/ALIF layers -> leaky-integrator readout."""
    layers: list[nn.Module] = []
    width = math.prod(cfg["input_shape"])
    for h in cfg["hidden"]:
        layers += [_linear(cfg, width, h), _neuron(cfg, h, recurrent=True)]
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        width = h
    return SequentialState(*layers, *_output(cfg, width))


def _gru(cfg: dict) -> SequentialState:
    """Non-spiking baseline: stacked GRU over ``[T, B, C]`` and a linear read-out at every step."""
    width = math.prod(cfg["input_shape"])
    hidden = cfg["hidden"]
    if len(set(hidden)) != 1:
        raise ValueError(f"hidden: the gru model stacks layers of one width, got {hidden}")
    return SequentialState(
        GRU(width, hidden[0], num_layers=len(hidden), dropout=cfg["dropout"]), nn.Linear(hidden[0], cfg["n_classes"])
    )


def _delay(cfg: dict) -> SequentialState:
    """Feed-forward LIF/ALIF layers whose synapses have learnable per-synapse delays (up to ``max_delay`` steps)."""
    from ..synapses import LearnableDelayLinear

    layers: list[nn.Module] = []
    width = math.prod(cfg["input_shape"])
    for h in cfg["hidden"]:
        layers += [WholeSequence(LearnableDelayLinear(width, h, cfg["max_delay"])), _neuron(cfg, h)]
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        width = h
    return SequentialState(*layers, *_output(cfg, width))


def _conv(cfg: dict) -> SequentialState:
    c, h, w = cfg["input_shape"]
    layers: list[nn.Module] = []
    for out in cfg["channels"]:
        layers += [nn.Conv2d(c, out, 3, padding=1, bias=False), nn.BatchNorm2d(out), _neuron(cfg, (out, h, w))]
        if min(h, w) >= 2:
            layers.append(nn.AvgPool2d(2))
            h, w = h // 2, w // 2
        c = out
    layers.append(nn.Flatten())
    width = c * h * w
    for hidden in cfg["hidden"]:
        layers += [_linear(cfg, width, hidden), _neuron(cfg, hidden)]
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        width = hidden
    return SequentialState(*layers, *_output(cfg, width))


@dataclass(frozen=True)
class ModelKind:
    """One entry of :data:`MODELS`: the builder, the input it takes, what it is and whether it spikes.

    Calling it builds the network: ``MODELS["mlp"](cfg)``.
    """

    build: Callable[[dict], SequentialState]
    inputs: frozenset[str]  # "images" ([C, H, W] samples) and/or "series" (time-first [T, B, C] sequences)
    description: str  # one line for help texts
    spiking: bool = True  # False for non-spiking baselines (no spikes for count/first-spike read-outs)
    trainable: bool = True  # False: rebuilt from a stored graph only (converted ANNs), not a `spikeforge train` choice

    def __call__(self, cfg: dict) -> SequentialState:
        return self.build(cfg)


_IMAGES, _SERIES = frozenset({"images"}), frozenset({"series"})

#: the one list of model names: model name -> :class:`ModelKind`; the CLI's ``--model`` choices, config validation
#: and error messages read it, in this order
MODELS: dict[str, ModelKind] = {
    "mlp": ModelKind(_mlp, _IMAGES | _SERIES, "feed-forward LIF/ALIF"),
    "conv": ModelKind(_conv, _IMAGES, "small convolutional SNN (images)"),
    "recurrent": ModelKind(_recurrent, _SERIES, "recurrent LIF/ALIF (sequences)"),
    "delay": ModelKind(_delay, _SERIES, "feed-forward with learnable synaptic delays"),
    "gru": ModelKind(_gru, _SERIES, "non-spiking GRU baseline", spiking=False),
    # "static": any fixed-shape sample fed as a constant current (direct encoding), as conversion assumes
    "converted": ModelKind(
        build_converted, frozenset({"static"}), "ANN converted to IF neurons (spikeforge convert)", trainable=False
    ),
}


def models_for(inputs: str) -> list[str]:
    """Names of the models that take ``inputs`` (``"images"`` or ``"series"``), in :data:`MODELS` order.

    >>> models_for("series")
    ['mlp', 'recurrent', 'delay', 'gru']
    """
    return [name for name, kind in MODELS.items() if inputs in kind.inputs]


def resolve_model_config(config: dict) -> dict:
    """Fill in defaults and validate; the result rebuilds the same network."""
    cfg = {**DEFAULTS, **config}
    if cfg["model"] not in MODELS:
        raise ValueError(f"model: expected one of {sorted(MODELS)}, got {cfg['model']!r}")
    for key in ("input_shape", "n_classes"):
        if key not in cfg:
            raise ValueError(f"model config: missing {key!r} (set from the dataset)")
    cfg["input_shape"] = [int(s) for s in cfg["input_shape"]]
    takes = MODELS[cfg["model"]].inputs
    if takes == _IMAGES and len(cfg["input_shape"]) != 3:
        raise ValueError(
            f"model {cfg['model']!r}: expected image input [C, H, W], got input_shape {cfg['input_shape']}"
        )
    if cfg["backend"] != "auto" and cfg["backend"] not in kernels.available("lif"):
        raise ValueError(
            f"backend: expected 'auto' or one of {kernels.available('lif')} (available here), got {cfg['backend']!r}"
        )
    if cfg["neuron"] not in HIDDEN_NEURONS:
        raise ValueError(f"neuron: expected one of {list(HIDDEN_NEURONS)}, got {cfg['neuron']!r}")
    if cfg["output"] not in OUTPUT_NEURONS:
        expected = ", ".join(f"{name!r} ({what})" for name, (_, what) in OUTPUT_NEURONS.items())
        raise ValueError(f"output: expected {expected}, got {cfg['output']!r}")
    if takes == _SERIES and len(cfg["input_shape"]) != 1:
        raise ValueError(
            f"model {cfg['model']!r}: expected sequence input [T, B, C] with input_shape [C], got "
            f"input_shape {cfg['input_shape']}"
        )
    if cfg["synapses"] not in SYNAPSES:
        raise ValueError(f"synapses: expected one of {list(SYNAPSES)}, got {cfg['synapses']!r}")
    if cfg["dtype"] not in DTYPES:
        raise ValueError(f"dtype: expected one of {list(DTYPES)}, got {cfg['dtype']!r}")
    if not isinstance(cfg["max_delay"], int) or isinstance(cfg["max_delay"], bool) or cfg["max_delay"] <= 0:
        raise ValueError(f"max_delay: expected a positive number of steps, got {cfg['max_delay']!r}")
    for key in ("tau_mem", "tau_adapt"):
        _value(key, cfg[key])
    cfg["hidden"] = [int(h) for h in cfg["hidden"]]
    if any(h <= 0 for h in cfg["hidden"]):
        raise ValueError(f"hidden: expected positive layer widths, got {cfg['hidden']}")
    return cfg


def build_model(config: dict) -> SequentialState:
    """Build the network that ``config`` describes (see :data:`DEFAULTS` for the keys)."""
    cfg = resolve_model_config(config)
    return MODELS[cfg["model"]](cfg).to(DTYPES[cfg["dtype"]])
