"""Record what spiking layers emit, through forward hooks (the model is not changed)."""

from __future__ import annotations

from contextlib import contextmanager

import torch
from torch import nn

from ..neurons import LI, LICell, NeuronModule

__all__ = ["SpikeRecorder", "describe", "record_spikes", "spiking_layers"]


def spiking_layers(model: nn.Module) -> dict[str, NeuronModule]:
    """The neuron modules of ``model`` that emit spikes (leaky-integrator readouts excluded), by name."""
    return {
        name: m for name, m in model.named_modules() if isinstance(m, NeuronModule) and not isinstance(m, LI | LICell)
    }


def describe(name: str, module: NeuronModule) -> str:
    """A short label such as ``"2: LIF(256)"`` for tables and plots."""
    shape = "" if module.shape is None else "x".join(map(str, module.shape))
    return f"{name}: {type(module).__name__}({shape})"


class SpikeRecorder:
    """Collects the spike output of every spiking layer during forward passes.

    >>> import torch, spikeforge as sf
    >>> net = sf.SequentialState(torch.nn.Linear(3, 4), sf.LIF(4), torch.nn.Linear(4, 2), sf.LI(2))
    >>> with SpikeRecorder(net) as rec:
    ...     _ = net(torch.rand(10, 5, 3) * 2)
    >>> list(rec.spikes), tuple(rec.spikes["1"][0].shape)
    (['1'], (10, 5, 4))
    """

    def __init__(self, model: nn.Module, *, keep: bool = True) -> None:
        self.layers = spiking_layers(model)
        self.keep = keep
        self.spikes: dict[str, list[torch.Tensor]] = {name: [] for name in self.layers}
        self.counts: dict[str, float] = dict.fromkeys(self.layers, 0.0)
        self.elements: dict[str, int] = dict.fromkeys(self.layers, 0)
        self._handles: list = []

    def _hook(self, name: str):
        def hook(module, inputs, output):
            z = output[0].detach()
            self.counts[name] += float(z.sum())
            self.elements[name] += z.numel()
            if self.keep:
                self.spikes[name].append(z.cpu())

        return hook

    def __enter__(self) -> SpikeRecorder:
        self._handles = [m.register_forward_hook(self._hook(n)) for n, m in self.layers.items()]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles = []

    def rates(self) -> dict[str, float]:
        """Mean spikes per neuron per step, per layer."""
        return {n: (self.counts[n] / self.elements[n] if self.elements[n] else 0.0) for n in self.layers}


@contextmanager
def record_spikes(model: nn.Module, *, keep: bool = True):
    with SpikeRecorder(model, keep=keep) as rec:
        yield rec
