"""Learning, one sub-package per family: :mod:`~spikeforge.learning.supervised` (surrogate-gradient training,
BPTT); local rules and conversion come later."""

from .supervised import TrainConfig, encode_batch, evaluate, fit, scores

__all__ = ["TrainConfig", "encode_batch", "evaluate", "fit", "scores"]
