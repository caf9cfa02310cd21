r"""Leaky integrate-and-fire neurons for network simulation, with three kinds of synaptic input.

All three share the membrane :math:`\tau_m \dot v = -(v - v_{rest}) + \ldots`, a threshold :math:`\vartheta`, a
reset to :math:`v_{reset}` and an absolute refractory period :math:`t_{ref}` (rounded to whole steps) during which
:math:`v` is clamped at :math:`v_{reset}` and input to the membrane is ignored. Voltages are in mV, times in seconds.
Spike input ``x`` arrives as a ``[C, N]`` tensor of summed weights per channel for the current step.

**Delta synapses** (:class:`DeltaLIF`, Brunel 2000): each spike makes the membrane jump by its weight (mV),

.. math::
    v_{t+1} = v_{rest} + e^{-\Delta t/\tau_m}(v_t - v_{rest}) + x_t.

**Current-based exponential synapses** (:class:`CurrentLIF`, CUBA): two currents in voltage units,
:math:`\tau_m \dot v = -(v - v_{rest}) + g_e + g_i`, :math:`\tau_{e} \dot g_e = -g_e` (likewise :math:`g_i`), jumping
by the weights on arrival. The linear system is integrated exactly (Rotter & Diesmann 1999):

.. math::
    v_{t+1} = v_{rest} + e^{-\Delta t/\tau_m}(v_t - v_{rest}) + \sum_{s\in\{e,i\}} P_s\, g_s, \qquad
    P_s = \frac{\tau_s}{\tau_s - \tau_m}\left(e^{-\Delta t/\tau_s} - e^{-\Delta t/\tau_m}\right), \qquad
    g_s \leftarrow e^{-\Delta t/\tau_s} g_s.

**Conductance-based exponential synapses** (:class:`ConductanceLIF`, COBA), conductances in units of the leak
conductance: :math:`\tau_m \dot v = -(v - v_{rest}) - g_e (v - E_e) - g_i (v - E_i)`. Exponential Euler with each
conductance replaced by its exact mean over the step, :math:`\bar g_s = g_s \frac{\tau_s}{\Delta t}
(1 - e^{-\Delta t/\tau_s})`:

.. math::
    G = 1 + \bar g_e + \bar g_i, \qquad v_\infty = \frac{v_{rest} + \bar g_e E_e + \bar g_i E_i}{G}, \qquad
    v_{t+1} = v_\infty + (v_t - v_\infty)\, e^{-G \Delta t / \tau_m}.

Every update is a pure function ``step(x, state, *, dt) -> (z, new_state)`` (``z`` bool spikes of shape ``[N]``).

**Relation to** :mod:`spikeforge.neurons`. These models are kept apart from :class:`~spikeforge.neurons.LIF` and
:class:`~spikeforge.neurons.CubaLIF` on purpose: they update one population ``[N]`` without autograd, with a hard
threshold (no surrogate), integer refractory counters, fixed (not learnable) parameters, and synaptic input that
arrives as jumps per receptor channel from the event-driven loop of :func:`~spikeforge.sim.simulate`;
``CurrentLIF.step`` is also reproduced op for op by the in-place loop of :mod:`._fastpath` (bit-identical spikes).
The :mod:`~spikeforge.neurons` modules are differentiable ``[T, B, ...]`` layers with surrogate gradients, learnable
per-neuron parameters and fused kernels. Units differ by convention only: here voltages are biophysical (mV, e.g.
rest -60 mV, threshold -50 mV), synaptic weights are mV jumps (delta, CUBA) or conductance jumps in units of the leak
conductance (COBA: 6 nS on a 10 nS leak is 0.6); ``neurons`` default to dimensionless voltages (threshold 1). Times
are seconds in both. Each class docstring says how its maths compares.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import torch

from ..units import ms

__all__ = ["ConductanceLIF", "CurrentLIF", "DeltaLIF", "DeltaLIFState", "SynapticLIFState"]


class DeltaLIFState(NamedTuple):
    """``v``: membrane (mV) ``[N]``; ``ref``: refractory steps left ``[N]`` (int32; <= 0 when free)."""

    v: torch.Tensor
    ref: torch.Tensor


class SynapticLIFState(NamedTuple):
    """``v``: membrane (mV); ``g_exc``/``g_inh``: synaptic variables (mV or units of g_leak); ``ref``: refractory
    steps left (int32; <= 0 when free)."""

    v: torch.Tensor
    g_exc: torch.Tensor
    g_inh: torch.Tensor
    ref: torch.Tensor


def _positive(name: str, value: float) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name}: expected a positive time in seconds (e.g. 20 * ms), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class _LIFBase:
    tau_mem: float = 20 * ms
    v_rest: float = -60.0
    threshold: float = -50.0
    v_reset: float = -60.0
    t_ref: float = 5 * ms

    def __post_init__(self) -> None:
        for name in ("v_rest", "threshold", "v_reset"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"{name}: expected a finite potential in mV, got {value!r}")
        _positive("tau_mem", self.tau_mem)
        if not (isinstance(self.t_ref, int | float) and self.t_ref >= 0):
            raise ValueError(f"t_ref: expected a refractory period >= 0 in seconds, got {self.t_ref!r}")
        if not self.v_reset < self.threshold:
            raise ValueError(
                f"v_reset: expected a reset below the threshold ({self.threshold} mV), got {self.v_reset} mV"
            )

    def _fire(self, v: torch.Tensor, ref: torch.Tensor, dt: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Clamp refractory neurons, threshold, reset; returns ``(z, v, ref)``."""
        v = v.masked_fill(ref > 0, self.v_reset)
        z = v >= self.threshold
        v = v.masked_fill(z, self.v_reset)
        # counts down through zero: <= 0 means free (no clamp needed)
        ref = (ref - 1).masked_fill_(z, round(self.t_ref / dt))
        return z, v, ref


@dataclass(frozen=True)
class DeltaLIF(_LIFBase):
    r"""LIF with delta synapses (one channel, weights in mV). Defaults: Brunel (2000) model A.

    Same maths as ``neurons.LIF(tau_syn=None, v_leak=v_rest, threshold, reset="zero", v_reset, t_ref)`` fed the
    jumps ``x``: membrane :math:`v_{rest} + \beta (v - v_{rest}) + x`, spike at :math:`v \ge \vartheta`, reset to
    :math:`v_{reset}`, then ``round(t_ref / dt)`` steps clamped at :math:`v_{reset}` with the input ignored. The
    float operations differ: here :math:`v\beta + x + v_{rest}(1 - \beta)` and an exact ``masked_fill`` reset, in
    ``LIF`` :math:`v_{leak} + \beta(v - v_{leak}) + x` and the reset :math:`h - z(h - v_{reset})`. With
    ``v_rest = 0`` (Brunel's values) both reduce to :math:`\beta v + x` and gave bit-identical spikes and membranes
    (4000 neurons, 4000 steps of 0.1 ms, float32 and float64); with ``v_rest != 0`` they differ in the last bits
    (float64: 3e-13 mV), which in float32 changes spike times after a few hundred steps.
    """

    v_rest: float = 0.0
    threshold: float = 20.0
    v_reset: float = 10.0
    t_ref: float = 2 * ms
    n_channels = 1
    variables = ("v",)

    def init(self, v: torch.Tensor) -> DeltaLIFState:
        return DeltaLIFState(v=v, ref=torch.zeros(v.shape, dtype=torch.int32))

    def step(self, x: torch.Tensor, state: DeltaLIFState, *, dt: float) -> tuple[torch.Tensor, DeltaLIFState]:
        beta = math.exp(-dt / self.tau_mem)
        v = (state.v * beta).add_(x[0]).add_(self.v_rest * (1 - beta))
        z, v, ref = self._fire(v, state.ref, dt)
        return z, DeltaLIFState(v, ref)


@dataclass(frozen=True)
class CurrentLIF(_LIFBase):
    r"""LIF with exponential current synapses in voltage units (channels 0 = excitatory, 1 = inhibitory).

    Compared with :mod:`spikeforge.neurons` (same membrane, threshold, reset and refractory handling as
    :class:`DeltaLIF`):

    - ``neurons.LIF(tau_syn=tau_s, v_leak=v_rest, reset="zero", v_reset, t_ref)`` updates
      :math:`i_{t+1} = \alpha i_t + x_t` and adds all of :math:`i_{t+1}` to the membrane (its input is the charge per
      step). Fed :math:`P_s x_t` it is this model with one channel in exact arithmetic (:math:`i = P_s g` after the
      jump), since the exact propagator :math:`P_s` is linear; not bit for bit (different operations: float64
      agreed to 1e-12 mV, float32 spike times drift apart). Two channels with :math:`\tau_e \ne \tau_i` need two
      synaptic currents, which ``LIF`` does not have.
    - ``neurons.CubaLIF`` solves the same pair of ODEs exactly, but for a drive held constant over the step (the
      current relaxes towards it), not for jumps; a jump corresponds to ``CubaLIF`` with zero drive and its current
      raised by ``x`` at the start of the step. ``CubaLIF`` has no refractory period and its zero reset restarts the
      membrane at the interpolated crossing inside the step; here the reset happens at the end of the step.
    """

    tau_exc: float = 5 * ms
    tau_inh: float = 10 * ms
    n_channels = 2
    variables = ("v", "g_exc", "g_inh")

    def __post_init__(self) -> None:
        super().__post_init__()
        _positive("tau_exc", self.tau_exc)
        _positive("tau_inh", self.tau_inh)

    def init(
        self, v: torch.Tensor, g_exc: torch.Tensor | None = None, g_inh: torch.Tensor | None = None
    ) -> SynapticLIFState:
        zeros = torch.zeros_like(v)
        return SynapticLIFState(
            v,
            zeros if g_exc is None else g_exc,
            zeros if g_inh is None else g_inh,
            torch.zeros(v.shape, dtype=torch.int32),
        )

    def _propagator(self, tau_syn: float, dt: float) -> float:
        if abs(tau_syn - self.tau_mem) < 1e-12:
            return dt / self.tau_mem * math.exp(-dt / self.tau_mem)
        return tau_syn / (tau_syn - self.tau_mem) * (math.exp(-dt / tau_syn) - math.exp(-dt / self.tau_mem))

    def step(self, x: torch.Tensor, state: SynapticLIFState, *, dt: float) -> tuple[torch.Tensor, SynapticLIFState]:
        beta = math.exp(-dt / self.tau_mem)
        g_exc = state.g_exc + x[0]
        g_inh = state.g_inh + x[1]
        v = (state.v * beta).add_(self.v_rest * (1 - beta))
        v = v.add_(g_exc, alpha=self._propagator(self.tau_exc, dt)).add_(
            g_inh, alpha=self._propagator(self.tau_inh, dt)
        )
        z, v, ref = self._fire(v, state.ref, dt)
        return z, SynapticLIFState(v, g_exc * math.exp(-dt / self.tau_exc), g_inh * math.exp(-dt / self.tau_inh), ref)


@dataclass(frozen=True)
class ConductanceLIF(CurrentLIF):
    r"""LIF with exponential conductance synapses (units of the leak conductance) and reversal potentials (mV).

    No counterpart in :mod:`spikeforge.neurons` (whose conductance models, Hodgkin-Huxley and Morris-Lecar, have
    voltage-gated channels, not synaptic ones). The scheme is exponential Euler with each conductance averaged
    exactly over the step (module docstring): first order in ``dt`` for the membrane, unlike the exact updates of
    :class:`CurrentLIF` and :class:`DeltaLIF`. Threshold, reset and refractory handling as :class:`DeltaLIF`.
    """

    e_exc: float = 0.0
    e_inh: float = -80.0

    def step(self, x: torch.Tensor, state: SynapticLIFState, *, dt: float) -> tuple[torch.Tensor, SynapticLIFState]:
        alpha_e, alpha_i = math.exp(-dt / self.tau_exc), math.exp(-dt / self.tau_inh)
        g_exc = state.g_exc + x[0]
        g_inh = state.g_inh + x[1]
        mean_e = g_exc * (self.tau_exc / dt * (1 - alpha_e))
        mean_i = g_inh * (self.tau_inh / dt * (1 - alpha_i))
        total = 1 + mean_e + mean_i
        v_inf = (self.v_rest + mean_e * self.e_exc + mean_i * self.e_inh) / total
        v = v_inf + (state.v - v_inf) * torch.exp(total * (-dt / self.tau_mem))
        z, v, ref = self._fire(v, state.ref, dt)
        return z, SynapticLIFState(v, g_exc * alpha_e, g_inh * alpha_i, ref)
