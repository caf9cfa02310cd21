"""Model builders: config dict -> :class:`~spikeforge.nn.SequentialState`.

A config holds plain JSON values only, so a model file can store it next to the weights and rebuild the network
without unpickling anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from torch import nn

from .. import init
from ..neurons import ALIF, LI, LIF, RLIF
from ..nn import SequentialState
from ._sequence import GRU, RALIF, WholeSequence

__all__ = ["DEFAULTS", "MODELS", "build_model", "resolve_model_config"]

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
        if recurrent:
            return RALIF(size, **common)
        return ALIF(size, backend=cfg["backend"], **common)
    if recurrent:
        return RLIF(size, backend=cfg["backend"], **common)
    return LIF(size, backend=cfg["backend"], **common)


def _output(cfg: dict, width: int) -> list[nn.Module]:
    n = cfg["n_classes"]
    if cfg["output"] == "lif":  # spiking output, for spike-count readouts
        return [
            nn.Linear(width, n),
            LIF(
                n,
                tau_mem=cfg["tau_out"],
                threshold=cfg["threshold"],
                dt=cfg["dt"],
                surrogate=cfg["surrogate"],
                backend=cfg["backend"],
            ),
        ]
    return [nn.Linear(width, n), LI(n, tau_mem=cfg["tau_out"], dt=cfg["dt"], backend=cfg["backend"])]


def _mlp(cfg: dict) -> SequentialState:
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(cfg["input_shape"])
    for h in cfg["hidden"]:
        layers += [nn.Linear(width, h), _neuron(cfg, h)]
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        width = h
    return SequentialState(*layers, *_output(cfg, width))


def _recurrent(cfg: dict) -> SequentialState:
    """Sequence input ``[T, B, C]`` -> recurrent LIF/ALIF layers -> leaky-integrator readout."""
    layers: list[nn.Module] = []
    width = math.prod(cfg["input_shape"])
    for h in cfg["hidden"]:
        layers += [nn.Linear(width, h), _neuron(cfg, h, recurrent=True)]
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
        layers += [nn.Linear(width, hidden), _neuron(cfg, hidden)]
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        width = hidden
    return SequentialState(*layers, *_output(cfg, width))


MODELS: dict[str, Callable[[dict], SequentialState]] = {
    "mlp": _mlp,
    "conv": _conv,
    "recurrent": _recurrent,
    "gru": _gru,
    "delay": _delay,
}


def resolve_model_config(config: dict) -> dict:
    """Fill in defaults and validate; the result rebuilds the same network."""
    cfg = {**DEFAULTS, **config}
    if cfg["model"] not in MODELS:
        raise ValueError(f"model: expected one of {sorted(MODELS)}, got {cfg['model']!r}")
    for key in ("input_shape", "n_classes"):
        if key not in cfg:
            raise ValueError(f"model config: missing {key!r} (set from the dataset)")
    cfg["input_shape"] = [int(s) for s in cfg["input_shape"]]
    if cfg["model"] == "conv" and len(cfg["input_shape"]) != 3:
        raise ValueError(f"model 'conv': expected image input [C, H, W], got input_shape {cfg['input_shape']}")
    from .. import kernels

    if cfg["backend"] != "auto" and cfg["backend"] not in kernels.available("lif"):
        raise ValueError(
            f"backend: expected 'auto' or one of {kernels.available('lif')} (available here), got {cfg['backend']!r}"
        )
    if cfg["neuron"] not in ("lif", "alif"):
        raise ValueError(f"neuron: expected 'lif' or 'alif', got {cfg['neuron']!r}")
    if cfg["output"] not in ("li", "lif"):
        raise ValueError(f"output: expected 'li' (membrane readout) or 'lif' (spiking), got {cfg['output']!r}")
    if cfg["model"] in ("recurrent", "gru", "delay") and len(cfg["input_shape"]) != 1:
        raise ValueError(
            f"model {cfg['model']!r}: expected sequence input [T, B, C] with input_shape [C], got "
            f"input_shape {cfg['input_shape']}"
        )
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
    return MODELS[cfg["model"]](cfg)
