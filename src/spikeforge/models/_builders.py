"""Model builders: config dict -> :class:`~spikeforge.nn.SequentialState`.

A config holds plain JSON values only, so a model file can store it next to the weights and rebuild the network
without unpickling anything.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from torch import nn

from ..neurons import LI, LIF
from ..nn import SequentialState

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
}


def _neuron(cfg: dict, size: int | tuple[int, ...]) -> LIF:
    return LIF(size, tau_mem=cfg["tau_mem"], threshold=cfg["threshold"], reset=cfg["reset"], dt=cfg["dt"],
               surrogate=cfg["surrogate"], learn=tuple(cfg["learn"]), backend=cfg["backend"])


def _mlp(cfg: dict) -> SequentialState:
    layers: list[nn.Module] = [nn.Flatten()]
    width = math.prod(cfg["input_shape"])
    for h in cfg["hidden"]:
        layers += [nn.Linear(width, h), _neuron(cfg, h)]
        if cfg["dropout"]:
            layers.append(nn.Dropout(cfg["dropout"]))
        width = h
    layers += [nn.Linear(width, cfg["n_classes"]),
               LI(cfg["n_classes"], tau_mem=cfg["tau_out"], dt=cfg["dt"], backend=cfg["backend"])]
    return SequentialState(*layers)


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
    layers += [nn.Linear(width, cfg["n_classes"]),
               LI(cfg["n_classes"], tau_mem=cfg["tau_out"], dt=cfg["dt"], backend=cfg["backend"])]
    return SequentialState(*layers)


MODELS: dict[str, Callable[[dict], SequentialState]] = {"mlp": _mlp, "conv": _conv}


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
        raise ValueError(f"backend: expected 'auto' or one of {kernels.available('lif')} (available here), "
                         f"got {cfg['backend']!r}")
    cfg["hidden"] = [int(h) for h in cfg["hidden"]]
    if any(h <= 0 for h in cfg["hidden"]):
        raise ValueError(f"hidden: expected positive layer widths, got {cfg['hidden']}")
    return cfg


def build_model(config: dict) -> SequentialState:
    """Build the network that ``config`` describes (see :data:`DEFAULTS` for the keys)."""
    cfg = resolve_model_config(config)
    return MODELS[cfg["model"]](cfg)
