r"""Layers for sequence models: a recurrent adaptive LIF layer and a GRU baseline with the neurons' interface.

``RALIF`` is the ALIF neuron of :mod:`spikeforge.neurons` (Bellec et al. 2018) whose input also holds its own
spikes of the previous step through a learned ``[N, N]`` matrix, as :class:`~spikeforge.neurons.RLIF` does for LIF:

.. math::
    x'_t = x_t + W_{rec} z_t, \qquad (z_{t+1}, v_{t+1}, a_{t+1}) = \mathrm{ALIF}(x'_t, v_t, a_t)

``GRU`` wraps :class:`torch.nn.GRU` (time first) so that it is called like a neuron layer,
``(x_seq, state) -> (out_seq, state)``, and can sit in a :class:`~spikeforge.nn.SequentialState`; it is the
non-spiking baseline the time-series benchmarks train with the same pipeline.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from ..neurons._alif import ALIFState, _ALIFBase, _coefficients, _update, alif_init
from ..neurons._base import SequenceModule, scan
from ..neurons._rlif import RecurrentWeights, check_recurrent_shape

__all__ = ["GRU", "RALIF", "RALIFState", "WholeSequence"]


class RALIFState(NamedTuple):
    """``v`` membrane, ``a`` adaptation trace, ``z`` the spikes of the last step (fed back next step)."""

    v: torch.Tensor
    a: torch.Tensor
    z: torch.Tensor


class RALIF(RecurrentWeights, _ALIFBase, SequenceModule):
    """Recurrent adaptive LIF over a sequence: ``RALIF(N)(x_seq[T, B, N], state) -> (z_seq, state)``.

    Takes :class:`~spikeforge.neurons.ALIF`'s arguments (``tau_mem``, ``tau_adapt``, ``threshold``, ``beta``,
    ``learn`` ...; time constants may be :mod:`spikeforge.init` distributions for per-neuron values) plus
    ``recurrent_scale``: ``W_rec`` starts uniform in ``+-recurrent_scale / sqrt(N)``.

    Shape:
        x_seq: ``[T, B, N]``; z_seq: the same; state fields: ``[B, N]``.

    >>> import torch
    >>> z, s = RALIF(8)(torch.rand(10, 3, 8) * 3)
    >>> tuple(z.shape), tuple(s.a.shape)
    ((10, 3, 8), (3, 8))
    """

    def __init__(self, shape: int, *, recurrent_scale: float = 1.0, record: bool = False, **kwargs) -> None:
        super().__init__(check_recurrent_shape(shape), **kwargs)
        self.record = bool(record)
        self._add_recurrent(recurrent_scale)

    def forward(self, x_seq: torch.Tensor, state: RALIFState | None = None):
        self._check_input(x_seq, min_dim=3, layout="[T, B, N]")
        params = self.params()
        if state is None:
            state = RALIFState(*alif_init(x_seq[0], params), torch.zeros_like(x_seq[0]))
        else:
            self._check_state(state, x_seq[0])
        beta_m, rho = _coefficients(params, self.dt, x_seq)
        weight = self.recurrent.weight

        def update(x, s: RALIFState):
            z, new = _update(x + s.z @ weight.t(), ALIFState(s.v, s.a), params, beta_m, rho, self.surrogate)
            return z, RALIFState(new.v, new.a, z)

        return scan(update, x_seq, state, record=self.record)


class GRU(nn.Module):
    """A time-first :class:`torch.nn.GRU` called like a neuron layer: ``(x_seq[T, B, C], h) -> (y_seq, h)``.

    >>> import torch
    >>> y, h = GRU(3, 8)(torch.rand(5, 2, 3))
    >>> tuple(y.shape), tuple(h.shape)
    ((5, 2, 8), (1, 2, 8))
    """

    stateful = True  # SequentialState passes it the whole sequence and keeps its hidden state

    def __init__(self, in_features: int, hidden: int, *, num_layers: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.gru = nn.GRU(in_features, hidden, num_layers=num_layers, dropout=dropout if num_layers > 1 else 0.0)

    def forward(self, x_seq: torch.Tensor, state: torch.Tensor | None = None):
        if x_seq.dim() != 3:
            raise ValueError(f"input: expected [T, B, C], got shape {tuple(x_seq.shape)}")
        return self.gru(x_seq, state)


class WholeSequence(nn.Module):
    """Give a layer that needs the whole sequence ``[T, B, ...]`` (a delay line, a temporal convolution) its
    sequence inside :class:`~spikeforge.nn.SequentialState`, which would otherwise fold time into the batch.

    >>> import torch
    >>> from spikeforge.synapses import LearnableDelayLinear
    >>> y, state = WholeSequence(LearnableDelayLinear(3, 2, max_delay=4))(torch.rand(6, 5, 3))
    >>> tuple(y.shape), state
    ((6, 5, 2), None)
    """

    stateful = True  # called as (x_seq, state) -> (y_seq, None): it keeps no state across calls

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x_seq: torch.Tensor, state: None = None) -> tuple[torch.Tensor, None]:
        return self.module(x_seq), None
