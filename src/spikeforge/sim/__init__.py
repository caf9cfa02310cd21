r"""Clock-driven simulation of spiking networks: sparse random connectivity, transmission delays, event-driven
propagation, Poisson background, monitors, and the reference networks of :mod:`spikeforge.sim.networks`.

This is a simulator for brain-modelling networks (Vogels-Abbott, Brunel), not a layer library: it runs one
population of up to ~10^5 neurons step by step on the CPU, without autograd, updating state in place and touching
only the synapses of the neurons that fired. Its neuron models (:class:`DeltaLIF`, :class:`CurrentLIF`,
:class:`ConductanceLIF`) are separate from the differentiable modules of :mod:`spikeforge.neurons`; their docstrings
state where the maths agrees and where it differs.

Delays: :class:`DelayBuffer` is the streaming, per-synapse form of the library's one fixed-delay convention, the one
:func:`spikeforge.synapses.channel_delay` / :class:`~spikeforge.synapses.ChannelDelay` apply to whole sequences: a
delay of ``d`` steps delivers what was sent at step ``t`` at step ``t + d``, i.e. the input at ``t'`` is
:math:`\sum_s w_s z_{pre(s)}(t' - d_s)`. The simulator needs ``d >= 1`` (a spike is known only after its step's
update, so it cannot reach a neuron in the same step), while the sequence layers also accept ``d = 0`` (a layer
sees the previous layer's output of the same step).
"""

from . import networks
from ._connectivity import Connectivity, Synapses, check_dale, fixed_indegree, fixed_probability, merge
from ._dynamics import ConductanceLIF, CurrentLIF, DeltaLIF, DeltaLIFState, SynapticLIFState
from ._engine import Network, NetworkResult, simulate
from ._monitors import SpikeMonitor, StateMonitor
from ._poisson import PoissonInput, poisson_counts
from ._propagation import DelayBuffer, gather_rows
from ._stats import cv_isi, fano_factor, synchrony_chi2
from .networks import simulate_network

__all__ = [
    "ConductanceLIF",
    "Connectivity",
    "CurrentLIF",
    "DelayBuffer",
    "DeltaLIF",
    "DeltaLIFState",
    "Network",
    "NetworkResult",
    "PoissonInput",
    "SpikeMonitor",
    "StateMonitor",
    "Synapses",
    "SynapticLIFState",
    "check_dale",
    "cv_isi",
    "fano_factor",
    "fixed_indegree",
    "fixed_probability",
    "gather_rows",
    "merge",
    "networks",
    "poisson_counts",
    "simulate",
    "simulate_network",
    "synchrony_chi2",
]
