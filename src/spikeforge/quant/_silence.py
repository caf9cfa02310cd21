r"""Silent layers: a quantised network whose layer no longer spikes at all.

Quantisation can leave a layer with no activity: a threshold beyond the membrane's integer range, weights rounded to
zero, a membrane grid coarser than the input. The chip then runs, but its later layers receive nothing (users of
low-precision chips report exactly this). :func:`check_silent` runs the float network and its quantised form on the
same input and names each spiking layer whose spike count is zero after quantisation although it was not before:

.. math::
    \text{silent}(l) \iff \sum_{t,b,n} z^{float}_{l,tbn} > 0 \;\wedge\; \sum_{t,b,n} z^{quant}_{l,tbn} = 0

Spiking layers are paired in order: spiking neuron modules (leaky-integrator readouts excluded) of the float
network, and of the quantised one its spiking neuron modules (also inside :class:`QuantMembrane`) or its
:class:`FixedCUBA` layers with a threshold.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

from ..neurons import LI
from ..neurons._base import NeuronModule
from ._fixed import FixedCUBA

__all__ = ["check_silent", "spike_counts"]


def _spiking(model: nn.Module) -> list[tuple[str, nn.Module]]:
    fixed = [(n, m) for n, m in model.named_modules() if isinstance(m, FixedCUBA) and m.vth is not None]
    if fixed:
        return fixed
    return [
        (n, m)
        for n, m in model.named_modules()
        if isinstance(m, NeuronModule) and m.is_sequence and not isinstance(m, LI)
    ]


def spike_counts(model: nn.Module, x_seq: torch.Tensor) -> dict[str, int]:
    """Spikes per spiking layer (by module name, in order) of one forward pass of ``model`` on ``x_seq``."""
    layers = _spiking(model)
    counts = {name: 0 for name, _ in layers}

    def hook(name):
        def record(module, inputs, output):
            counts[name] += int((output[0] != 0).sum())

        return record

    handles = [m.register_forward_hook(hook(name)) for name, m in layers]
    try:
        with torch.no_grad():
            model(x_seq)
    finally:
        for h in handles:
            h.remove()
    return counts


def check_silent(reference: nn.Module, quantized: nn.Module, x_seq: torch.Tensor, *, warn: bool = True) -> list[str]:
    """Names (``"<layer name> (<n> spikes before quantisation)"``) of the layers that fall silent; with ``warn``
    a ``UserWarning`` lists them. The networks must have the same number of spiking layers.

    >>> import copy, torch
    >>> from spikeforge import LIF, LI, SequentialState
    >>> net = SequentialState(torch.nn.Linear(2, 3), LIF(3), torch.nn.Linear(3, 1), LI(1))
    >>> with torch.no_grad():
    ...     _ = net[0].weight.fill_(1.0)
    >>> dead = copy.deepcopy(net)
    >>> with torch.no_grad():
    ...     _ = dead[0].weight.fill_(1e-3)  # as if weights and bias were rounded towards zero
    ...     _ = dead[0].bias.zero_()
    >>> check_silent(net, dead, torch.ones(20, 1, 2), warn=False)
    ['1 (60 spikes before quantisation)']
    """
    before = spike_counts(reference, x_seq)
    after = spike_counts(quantized, x_seq)
    if len(before) != len(after):
        raise ValueError(
            f"quantized: {len(after)} spiking layers, the reference has {len(before)}; the networks do not correspond"
        )
    silent = [
        f"{name} ({n:,} spikes before quantisation)"
        for (name, n), m in zip(before.items(), after.values(), strict=True)
        if n > 0 and m == 0
    ]
    if silent and warn:
        warnings.warn(
            f"quantisation leaves {len(silent)} layer(s) silent (no spike on the given input): {'; '.join(silent)}. "
            "Layers after a silent one receive nothing; widen the membrane (membrane_bits/state_bits), lower the "
            "thresholds or rescale the weights",
            stacklevel=2,
        )
    return silent
