"""Ready-made networks built from a JSON-able config (what the CLI trains and what model files store)."""

from ._builders import DEFAULTS, DISTRIBUTIONS, MODELS, build_model, resolve_model_config
from ._sequence import GRU, RALIF, RALIFState, WholeSequence

__all__ = [
    "DEFAULTS",
    "DISTRIBUTIONS",
    "GRU",
    "MODELS",
    "RALIF",
    "RALIFState",
    "WholeSequence",
    "build_model",
    "resolve_model_config",
]
