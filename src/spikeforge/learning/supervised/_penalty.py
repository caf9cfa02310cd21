r"""The firing-rate penalty of supervised training: :math:`\lambda \bar r`, with :math:`\bar r` the mean over the
spiking layers of each layer's spikes per neuron per step, kept differentiable (the surrogate gradient flows into it).

With ``L`` spiking layers whose spikes are :math:`z^{(l)} \in \{0, 1\}^{T \times B \times N_l}`,

.. math::
    \bar r = \frac{1}{L} \sum_l \frac{1}{T B N_l} \sum_{t, b, i} z^{(l)}_{t b i}.
"""

from __future__ import annotations

import torch
from torch import nn

from ...metrics import spiking_layers

__all__ = ["RateTerm"]


class RateTerm:
    r"""Context manager: while open, records every spiking layer's output of a forward pass; :meth:`mean_rate`
    is :math:`\bar r` of the passes since the last :meth:`clear` (``0`` for a model without spiking layers).

    >>> import torch, spikeforge as sf
    >>> net = sf.SequentialState(torch.nn.Linear(3, 4), sf.LIF(4), torch.nn.Linear(4, 2), sf.LI(2))
    >>> with RateTerm(net) as term:
    ...     _ = net(torch.rand(10, 5, 3) * 4)
    ...     rate = term.mean_rate()
    >>> rate.requires_grad, 0 < float(rate) <= 1
    (True, True)
    """

    def __init__(self, model: nn.Module) -> None:
        self.layers = spiking_layers(model)
        self._rates: list[torch.Tensor] = []
        self._handles: list = []

    def _hook(self, module, inputs, output) -> None:
        self._rates.append(output[0].float().mean())

    def __enter__(self) -> RateTerm:
        self._handles = [m.register_forward_hook(self._hook) for m in self.layers.values()]
        return self

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles, self._rates = [], []

    def mean_rate(self) -> torch.Tensor:
        r""":math:`\bar r` over the recorded layers (a scalar tensor that carries the gradient)."""
        if not self._rates:
            return torch.zeros(())
        return torch.stack(self._rates).mean()

    def clear(self) -> None:
        self._rates = []
