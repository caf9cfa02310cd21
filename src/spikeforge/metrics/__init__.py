"""Activity and efficiency measurements taken through hooks."""

from ._activity import SpikeRecorder, describe, record_spikes, spiking_layers
from ._efficiency import (
    EfficiencyCounter,
    EfficiencyReport,
    NeuronCounts,
    SynapseCounts,
    profile_model,
    synaptic_operations,
)
from ._energy import EnergyModel
from ._inspect import SampleActivity, SplitActivity, confusion_matrix, inspect_split
from ._profile import profile_split

__all__ = [
    "EfficiencyCounter",
    "EfficiencyReport",
    "EnergyModel",
    "NeuronCounts",
    "SampleActivity",
    "SpikeRecorder",
    "SplitActivity",
    "SynapseCounts",
    "confusion_matrix",
    "describe",
    "inspect_split",
    "profile_model",
    "profile_split",
    "record_spikes",
    "spiking_layers",
    "synaptic_operations",
]
