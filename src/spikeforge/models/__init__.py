"""Ready-made networks built from a JSON-able config (what the CLI trains and what model files store)."""

from ._builders import (
    DEFAULTS,
    DISTRIBUTIONS,
    DTYPES,
    HIDDEN_NEURONS,
    MODELS,
    OUTPUT_NEURONS,
    SYNAPSES,
    ModelKind,
    build_model,
    models_for,
    resolve_model_config,
)
from ._converted import (
    AccumulateReadout,
    ChannelAffine,
    ChannelScale,
    ConvertedNetwork,
    SpikingMaxPool,
    WeightedSum,
)
from ._sequence import GRU, WholeSequence

__all__ = [
    "DEFAULTS",
    "DISTRIBUTIONS",
    "DTYPES",
    "GRU",
    "HIDDEN_NEURONS",
    "MODELS",
    "OUTPUT_NEURONS",
    "SYNAPSES",
    "AccumulateReadout",
    "ChannelAffine",
    "ChannelScale",
    "ConvertedNetwork",
    "ModelKind",
    "SpikingMaxPool",
    "WeightedSum",
    "WholeSequence",
    "build_model",
    "models_for",
    "resolve_model_config",
]
