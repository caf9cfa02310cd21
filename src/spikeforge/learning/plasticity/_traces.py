r"""Exponential spike traces, the memory that pair-based rules read.

A trace :math:`x` of a spike train :math:`s(t) = \sum_k \delta(t - t_k)` with time constant :math:`\tau` (s):

- **all-to-all** pairing: :math:`\dot x = -x/\tau + a\,s(t)`, so :math:`x(t) = a \sum_{t_k \le t} e^{-(t - t_k)/\tau}`
  and every earlier spike pairs with the present one;
- **nearest-spike** pairing: at a spike :math:`x \leftarrow a` (not :math:`x + a`), so only the latest spike counts:
  :math:`x(t) = a\,e^{-(t - t_\text{last})/\tau}`.

Discretised exactly on a clock of step ``dt`` (s): :math:`x_{t} = \lambda x_{t-1} + a s_t` (all-to-all) or
:math:`x_t = a` where :math:`s_t = 1`, else :math:`\lambda x_{t-1}` (nearest), with :math:`\lambda = e^{-dt/\tau}`.
The trace includes the spike of the present step; rules that need the value *before* a spike (triplet STDP's
:math:`t - \epsilon`) read the trace before calling :func:`trace_step`.

:class:`EventTrace` holds the same values but is touched only at spikes: it stores the value at the last update
and its time, and decays on read (:math:`x(t) = x_\text{last} e^{-(t - t_\text{last})/\tau}`), which is what an
event-driven engine needs (no work on silent steps).

Shapes: a trace has the shape of the spikes it follows, ``[B, ...]`` (batch first).
"""

from __future__ import annotations

import math
from typing import Literal

import torch

from ._checks import check_positive, check_shape

__all__ = ["PAIRINGS", "EventTrace", "Pairing", "decay_factor", "trace_seq", "trace_step"]

Pairing = Literal["all_to_all", "nearest"]
#: the pairing schemes (all names read from here: rules, errors)
PAIRINGS: tuple[str, ...] = ("all_to_all", "nearest")


def check_pairing(name: str, pairing: str) -> str:
    if pairing not in PAIRINGS:
        raise ValueError(f"{name}: expected one of {list(PAIRINGS)}, got {pairing!r}")
    return pairing


def decay_factor(tau: float, dt: float, *, name: str = "tau") -> float:
    r""":math:`\lambda = e^{-dt/\tau}` for a time constant ``tau`` and a step ``dt``, both in seconds (> 0)."""
    check_positive(name, tau, unit="s")
    check_positive("dt", dt, unit="s")
    return math.exp(-dt / tau)


def trace_step(
    x: torch.Tensor, spikes: torch.Tensor, decay: float, *, amplitude: float = 1.0, pairing: Pairing = "all_to_all"
) -> torch.Tensor:
    """One step of the trace ``x`` (shape of ``spikes``): decay by ``decay`` and add (or set to) ``amplitude``."""
    check_shape("trace", x, tuple(spikes.shape))
    if pairing == "all_to_all":
        return x * decay + amplitude * spikes
    if pairing == "nearest":
        return torch.where(spikes > 0, torch.full_like(x, amplitude), x * decay)
    raise ValueError(f"pairing: expected one of {list(PAIRINGS)}, got {pairing!r}")


def trace_seq(
    spikes: torch.Tensor,
    decay: float,
    *,
    amplitude: float = 1.0,
    pairing: Pairing = "all_to_all",
    x0: torch.Tensor | None = None,
) -> torch.Tensor:
    """The trace at every step of ``spikes`` ``[T, B, ...]`` (time first), from ``x0`` (zeros by default)."""
    if spikes.dim() < 2:
        raise ValueError(f"spikes: expected [T, B, ...] (time first), got shape {list(spikes.shape)}")
    x = torch.zeros_like(spikes[0]) if x0 is None else x0
    out = []
    for s in spikes.unbind(0):
        x = trace_step(x, s, decay, amplitude=amplitude, pairing=pairing)
        out.append(x)
    return torch.stack(out)


class EventTrace:
    """A trace updated only at spikes (event-driven): value and time of the last update, decayed on read.

    ``shape``: the trace's shape (e.g. ``[n]`` or ``[B, n]``); ``tau`` in s; times ``t`` in s, non-decreasing.
    """

    def __init__(self, shape: tuple[int, ...], tau: float, *, amplitude: float = 1.0, pairing: Pairing = "all_to_all"):
        self.tau = check_positive("tau", tau, unit="s")
        self.amplitude = float(amplitude)
        self.pairing = check_pairing("pairing", pairing)
        self.value = torch.zeros(shape)
        self.last = torch.zeros(shape)  # time of the last update of each element, s

    def read(self, t: float, index: torch.Tensor | None = None) -> torch.Tensor:
        """The trace at time ``t`` (all elements, or those at ``index``)."""
        value = self.value if index is None else self.value[index]
        last = self.last if index is None else self.last[index]
        return value * torch.exp(-(t - last) / self.tau)

    def spike(self, t: float, index: torch.Tensor) -> None:
        """Spikes of the elements at ``index`` (a tuple of index tensors or a boolean mask) at time ``t``."""
        now = self.read(t, index)
        self.value[index] = (
            now + self.amplitude if self.pairing == "all_to_all" else torch.full_like(now, self.amplitude)
        )
        self.last[index] = t
