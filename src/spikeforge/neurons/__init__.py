"""Neuron models. One file per model; each has ``XParams``, ``XState``, ``x_step``, ``x_init``, ``XCell`` and ``X``."""

from ._base import CellModule, NeuronModule, SequenceModule, scan
from ._if import IF, IFCell, IFParams, IFState, if_init, if_seq, if_step
from ._li import LI, LICell, LIParams, LIState, li_init, li_seq, li_step
from ._lif import LIF, LIFCell, LIFParams, LIFState, lif_init, lif_seq, lif_step
from ._rlif import RLIF, RLIFCell, RLIFState, rlif_init, rlif_seq, rlif_step

__all__ = [
    "IF",
    "LI",
    "LIF",
    "RLIF",
    "CellModule",
    "IFCell",
    "IFParams",
    "IFState",
    "LICell",
    "LIFCell",
    "LIFParams",
    "LIFState",
    "LIParams",
    "LIState",
    "NeuronModule",
    "RLIFCell",
    "RLIFState",
    "SequenceModule",
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
    "scan",
]
