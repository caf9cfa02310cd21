"""Learning, one sub-package per family: :mod:`~spikeforge.learning.supervised` (surrogate-gradient training,
BPTT, with checkpoints and resume) and :mod:`~spikeforge.learning.conversion` (ANN-to-SNN conversion, imported
as ``spikeforge.learning.conversion``); local rules come later."""

from ._methods import METHODS, Method, get_method
from .supervised import (
    Checkpointer,
    CheckpointError,
    Distributed,
    TrainConfig,
    TrainState,
    encode_batch,
    evaluate,
    fit,
    from_environment,
    scores,
)

__all__ = [
    "METHODS",
    "CheckpointError",
    "Checkpointer",
    "Distributed",
    "Method",
    "TrainConfig",
    "TrainState",
    "encode_batch",
    "evaluate",
    "fit",
    "from_environment",
    "get_method",
    "scores",
]
