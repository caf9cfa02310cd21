"""Synapse layers for trainable models: event-driven linear synapses and fixed or learnable delays over sequences.

The clock-driven network simulator (sparse connectivity, delay ring buffers, Poisson background, reference networks)
lives in :mod:`spikeforge.sim`.
"""

from ._delays import (
    ChannelDelay,
    DelayedLinear,
    LearnableDelayLinear,
    channel_delay,
    gaussian_delay_kernel,
    round_delays,
)
from ._event import EventLinear, event_linear, synapse_paths

__all__ = [
    "ChannelDelay",
    "DelayedLinear",
    "EventLinear",
    "LearnableDelayLinear",
    "channel_delay",
    "event_linear",
    "gaussian_delay_kernel",
    "round_delays",
    "synapse_paths",
]
