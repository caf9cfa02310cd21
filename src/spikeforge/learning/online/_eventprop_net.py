r"""Networks of current-based LIF layers trained with EventProp, and one training step of the W1 benchmark network.

:class:`EventPropNet` chains :func:`event_lif` layers (each optionally recurrent) and ends in either a spiking output
layer read by first spike (``readout="ttfs"``, loss :func:`ttfs_loss`) or non-spiking leaky integrators read by
their maximum over a time grid (``readout="max"``, loss :func:`max_membrane_loss`). All weights are current jumps
per spike (membrane units, threshold ``params.threshold``); times are seconds.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import nn

from ._eventprop_lif import EventLIFParams, SpikeList, event_lif, event_lif_max
from ._eventprop_loss import first_spike_times, max_membrane_loss, ttfs_loss

__all__ = ["READOUTS", "EventPropNet", "eventprop_w1_step", "w1_network"]

#: output forms of an EventProp network -> what the score is
READOUTS = {"ttfs": "minus the first spike time of each output neuron", "max": "the maximum membrane over time"}


class EventPropNet(nn.Module):
    """``sizes = [n_in, hidden..., n_out]``; ``recurrent`` per hidden layer (bool or one bool for all).

    ``init``: weights of layer ``l`` are drawn from ``N(mean_l, std_l)`` with ``(mean, std)`` given per layer
    (membrane units); the defaults make a hidden neuron fire with a handful of coincident input spikes.
    """

    def __init__(
        self,
        sizes: list[int],
        *,
        recurrent: bool | list[bool] = False,
        params: EventLIFParams = EventLIFParams(),
        t_end: float = 60e-3,
        readout: str = "ttfs",
        dt_read: float = 0.5e-3,
        init: list[tuple[float, float]] | None = None,
        generator: torch.Generator | None = None,
        dtype: torch.dtype = torch.float64,
    ):
        super().__init__()
        if len(sizes) < 2 or any(not isinstance(s, int) or s <= 0 for s in sizes):
            raise ValueError(f"sizes: expected [n_in, hidden..., n_out] of positive integers, got {sizes!r}")
        if readout not in READOUTS:
            raise ValueError(f"readout: expected one of {', '.join(READOUTS)}, got {readout!r}")
        n_hidden = len(sizes) - 2
        rec = [recurrent] * n_hidden if isinstance(recurrent, bool) else list(recurrent)
        if len(rec) != n_hidden:
            raise ValueError(f"recurrent: expected one flag per hidden layer ({n_hidden}), got {recurrent!r}")
        if init is None:
            init = [(1.5 * 5 / math.sqrt(s), 3.0 / math.sqrt(s)) for s in sizes[:-1]]
        if len(init) != len(sizes) - 1:
            raise ValueError(f"init: expected one (mean, std) per layer ({len(sizes) - 1}), got {init!r}")
        self.params, self.t_end, self.readout, self.dt_read = params, float(t_end), readout, float(dt_read)
        self.weights = nn.ParameterList()
        self.recurrent = nn.ParameterList()
        self.is_recurrent = rec
        for (n_in, n_out), (mean, std) in zip(itertools.pairwise(sizes), init, strict=True):
            w = torch.randn(n_out, n_in, generator=generator, dtype=dtype) * std + mean
            self.weights.append(nn.Parameter(w))
        for k, flag in enumerate(rec):
            if flag:
                n = sizes[k + 1]
                w = torch.randn(n, n, generator=generator, dtype=dtype) * (0.5 / math.sqrt(n))
                self.recurrent.append(nn.Parameter(w))
        self.sizes = list(sizes)

    def hidden(self, inputs: SpikeList | torch.Tensor, dt: float | None = None) -> list[SpikeList]:
        """Spikes of every hidden layer."""
        out, rec_iter = [], iter(self.recurrent)
        x = inputs
        for k, flag in enumerate(self.is_recurrent):
            x = event_lif(
                x,
                self.weights[k],
                recurrent=next(rec_iter) if flag else None,
                params=self.params,
                t_end=self.t_end,
                dt=dt,
            )
            out.append(x)
        return out

    def forward(self, inputs: SpikeList | torch.Tensor, dt: float | None = None):
        """``ttfs``: first spike times ``[B, n_out]`` (``t_end`` where silent); ``max``: max membranes ``[B, n_out]``.
        ``inputs``: a :class:`SpikeList` or a ``[T, B, n_in]`` raster with step ``dt``."""
        hidden = self.hidden(inputs, dt)
        last = hidden[-1] if hidden else inputs
        if self.readout == "max":
            return event_lif_max(last, self.weights[-1], params=self.params, t_end=self.t_end, dt=self.dt_read)
        out = event_lif(last, self.weights[-1], params=self.params, t_end=self.t_end, first_spike_only=True)
        return first_spike_times(out, self.t_end)

    def scores(self, output: torch.Tensor) -> torch.Tensor:
        """Class scores from :meth:`forward`'s output (the earliest spike or the highest membrane wins)."""
        return -output if self.readout == "ttfs" else output

    def loss(self, output: torch.Tensor, labels: torch.Tensor, **ttfs) -> torch.Tensor:
        """:func:`ttfs_loss` (keyword arguments go to it) or :func:`max_membrane_loss`."""
        return ttfs_loss(output, labels, **ttfs) if self.readout == "ttfs" else max_membrane_loss(output, labels)


def eventprop_w1_step(
    net: EventPropNet, x: torch.Tensor, y: torch.Tensor, dt: float = 1e-3
) -> tuple[torch.Tensor, torch.Tensor]:
    """One EventProp training step's forward and backward on a W1-shaped network: ``x`` ``[T, B, n_in]`` input
    spikes on a grid of step ``dt`` (s), ``y`` ``[B]`` labels; max-over-time membrane loss; ``net.t_end`` is set to
    ``(T - 1) dt``. Gradients land in
    ``net``'s parameters (the caller steps its optimiser). Returns ``(loss, hidden spikes per sample [B])``.

    Build the network with :func:`w1_network`. Memory: the input spikes, the hidden spikes and the event log; no
    ``T x neurons`` state is kept.
    """
    net.t_end = (x.shape[0] - 1) * dt  # the simulation ends with the last input step
    hidden = net.hidden(x, dt)[-1]
    v_max = event_lif_max(hidden, net.weights[-1], params=net.params, t_end=net.t_end, dt=dt)
    loss = max_membrane_loss(v_max, y)
    loss.backward()
    return loss.detach(), hidden.count()


def w1_network(
    sizes: tuple[int, int, int] = (700, 256, 20), *, seed: int = 0, dtype: torch.dtype = torch.float32
) -> EventPropNet:
    """The W1 network (700 -> 256 current-based LIF -> 20 leaky integrators; tau_mem 20 ms, tau_syn 5 ms), its
    weights scaled so that 5% input density at dt = 1 ms makes the hidden layer fire at a few percent."""
    n_in, n_hid, _ = sizes
    g = torch.Generator().manual_seed(seed)
    return EventPropNet(
        list(sizes),
        readout="max",
        t_end=0.1,
        dt_read=1e-3,
        init=[(0.0065, 1.0 / math.sqrt(n_in)), (0.0, 4.0 / math.sqrt(n_hid))],
        generator=g,
        dtype=dtype,
    )
