"""Supervised surrogate-gradient training of classifiers (backpropagation through time).

:class:`TrainConfig` holds the hyperparameters, :func:`fit` trains, :func:`evaluate` measures, :func:`scores` turns
an output sequence into class scores; :func:`encode_batch` (from :mod:`spikeforge.encoding`) is how image batches are
fed.
"""

from ...encoding import encode_batch
from ._checkpoint import Checkpointer, CheckpointError, TrainState
from ._config import TrainConfig
from ._distributed import Distributed, from_environment
from ._loop import evaluate, fit
from ._scoring import scores

__all__ = [
    "CheckpointError",
    "Checkpointer",
    "Distributed",
    "TrainConfig",
    "TrainState",
    "encode_batch",
    "evaluate",
    "fit",
    "from_environment",
    "scores",
]
