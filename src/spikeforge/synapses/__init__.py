"""Synapses and networks: sparse random connectivity, transmission delays, event-driven propagation, Poisson
background, monitors, and the reference networks of :mod:`spikeforge.synapses.networks`."""

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

from ._event import EventLinear, event_linear  # event-driven linear synapses

__all__ += ["EventLinear", "event_linear"]

from ._delays import (  # noqa: E402  fixed and learnable synaptic delays over sequences
    ChannelDelay,
    DelayedLinear,
    LearnableDelayLinear,
    channel_delay,
    gaussian_delay_kernel,
    round_delays,
)

__all__ += [
    "ChannelDelay",
    "DelayedLinear",
    "LearnableDelayLinear",
    "channel_delay",
    "gaussian_delay_kernel",
    "round_delays",
]
