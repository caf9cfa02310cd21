"""Learning, one sub-package per family: :mod:`~spikeforge.learning.supervised` (surrogate-gradient training,
BPTT, with checkpoints and resume) and :mod:`~spikeforge.learning.conversion` (ANN-to-SNN conversion, imported
as ``spikeforge.learning.conversion``) and :mod:`~spikeforge.learning.plasticity` (local rules without
backpropagation: traces, pair and triplet STDP, Hebbian, Oja, BCM, three-factor / reward-modulated STDP, bounds,
normalisation, homeostasis, winner-take-all, and the Diehl & Cook 2015 network; imported as
``spikeforge.learning.plasticity``)."""

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
