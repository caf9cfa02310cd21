"""Supervised surrogate-gradient training of classifiers (backpropagation through time).

:class:`TrainConfig` holds the hyperparameters, :func:`fit` trains, :func:`evaluate` measures, :func:`scores` turns
an output sequence into class scores (:func:`prefix_scores`, :func:`accuracy_by_steps` and :func:`early_exit`
measure deciding before the input ends); :func:`encode_batch` (from :mod:`spikeforge.encoding`) is how image batches are
fed.
"""

from ...encoding import encode_batch
from ._checkpoint import Checkpointer, CheckpointError, Session, TrainState, start_training
from ._config import TrainConfig
from ._distributed import Distributed, from_environment
from ._latency import EarlyExit, accuracy_by_steps, early_exit, prefix_scores
from ._loop import evaluate, fit
from ._scoring import scores

__all__ = [
    "CheckpointError",
    "Checkpointer",
    "Distributed",
    "EarlyExit",
    "Session",
    "TrainConfig",
    "TrainState",
    "accuracy_by_steps",
    "early_exit",
    "encode_batch",
    "evaluate",
    "fit",
    "from_environment",
    "prefix_scores",
    "scores",
    "start_training",
]
