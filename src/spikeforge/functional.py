"""Pure step and sequence functions of every neuron model, like ``torch.nn.functional``."""

from .neurons import (
    if_init,
    if_seq,
    if_step,
    li_init,
    li_seq,
    li_step,
    lif_init,
    lif_seq,
    lif_step,
    rlif_init,
    rlif_seq,
    rlif_step,
)

__all__ = [
    "if_init",
    "if_seq",
    "if_step",
    "li_init",
    "li_seq",
    "li_step",
    "lif_init",
    "lif_seq",
    "lif_step",
    "rlif_init",
    "rlif_seq",
    "rlif_step",
]
