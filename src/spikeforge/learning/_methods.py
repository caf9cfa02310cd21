"""The registry of training methods: the one place their names are spelled (``spikeforge train --method``, configs
and error messages read it).

Each entry names a trainer with the signature of :func:`spikeforge.learning.supervised.fit`
(``model, split, cfg, *, on_epoch_start, on_batch, on_epoch_end, checkpoints, resume, device, distributed`` ->
history, one dict per epoch). Trainers are imported only when chosen, so ``import spikeforge`` stays light.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["METHODS", "Method", "get_method"]


@dataclass(frozen=True)
class Method:
    """A training method: its ``name``, a one-line ``summary`` and its trainer as ``"module:function"``."""

    name: str
    summary: str
    trainer: str

    def load(self) -> Callable:
        module, _, function = self.trainer.partition(":")
        return getattr(importlib.import_module(module), function)


METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method("bptt", "surrogate-gradient backpropagation through time", "spikeforge.learning.supervised:fit"),
        Method(
            "eprop",
            "e-prop: online, eligibility traces (one recurrent LIF/ALIF layer)",
            "spikeforge.learning.online:fit_eprop",
        ),
        Method(
            "ottt",
            "OTTT: online through time, presynaptic traces (feed-forward/conv)",
            "spikeforge.learning.online:fit_ottt",
        ),
        Method(
            "eventprop",
            "EventProp: exact adjoint gradients, event-driven (mlp of cubalif; first-spike or max readout)",
            "spikeforge.learning.online:fit_eventprop",
        ),
    )
}


def get_method(name: str) -> Method:
    """The method called ``name``; a ``ValueError`` naming the choices otherwise."""
    try:
        return METHODS[name]
    except (KeyError, TypeError):
        raise ValueError(f"method: expected one of {', '.join(METHODS)}, got {name!r}") from None
