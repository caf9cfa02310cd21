"""Learning: supervised surrogate-gradient training (BPTT); local rules and conversion come later."""

from ._supervised import TrainConfig, encode_batch, evaluate, fit, scores

__all__ = ["TrainConfig", "encode_batch", "evaluate", "fit", "scores"]
