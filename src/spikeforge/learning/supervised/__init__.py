"""Supervised surrogate-gradient training of classifiers (backpropagation through time).

:class:`TrainConfig` holds the hyperparameters, :func:`fit` trains, :func:`evaluate` measures, :func:`scores` turns
an output sequence into class scores; :func:`encode_batch` (from :mod:`spikeforge.encoding`) is how image batches are
fed.
"""

from ...encoding import encode_batch
from ._checkpoint import Checkpointer, CheckpointError, TrainState
from ._config import TrainConfig
from ._loop import evaluate, fit
from ._scoring import scores

__all__ = [
    "CheckpointError",
    "Checkpointer",
    "TrainConfig",
    "TrainState",
    "encode_batch",
    "evaluate",
    "fit",
    "scores",
]
