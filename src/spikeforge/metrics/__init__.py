"""Activity and efficiency measurements taken through hooks."""

from ._activity import SpikeRecorder, describe, record_spikes, spiking_layers

__all__ = ["SpikeRecorder", "describe", "record_spikes", "spiking_layers"]
