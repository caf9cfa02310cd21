"""spikeforge: spiking neural networks on PyTorch.

Importing spikeforge pulls in torch and numpy only; plotting, data formats and file formats load on first use.

>>> import torch, spikeforge as sf
>>> model = sf.SequentialState(torch.nn.Linear(4, 8), sf.LIF(8), torch.nn.Linear(8, 2), sf.LI(2))
>>> out, state = model(torch.rand(20, 3, 4))
>>> tuple(out.shape)
(20, 3, 2)
"""

from . import functional, init, kernels, state, surrogate, units
from .learning.conversion import convert
from .neurons import (
    ALIF,
    IF,
    LI,
    LIF,
    RALIF,
    RLIF,
    AdEx,
    AdExCell,
    ALIFCell,
    CubaLIF,
    CubaLIFCell,
    HindmarshRose,
    HindmarshRoseCell,
    HodgkinHuxley,
    HodgkinHuxleyCell,
    IFCell,
    Izhikevich,
    IzhikevichCell,
    LICell,
    LIFCell,
    MorrisLecar,
    MorrisLecarCell,
    RALIFCell,
    ResonateAndFire,
    ResonateAndFireCell,
    RLIFCell,
)
from .nn import CheckpointTime, Lift, SequentialState, Stateful, checkpoint_time
from .units import Hz, ms, s, us

__version__ = "0.1.0"

__all__ = [
    "ALIF",
    "IF",
    "LI",
    "LIF",
    "RALIF",
    "RLIF",
    "ALIFCell",
    "AdEx",
    "AdExCell",
    "CheckpointTime",
    "CubaLIF",
    "CubaLIFCell",
    "HindmarshRose",
    "HindmarshRoseCell",
    "HodgkinHuxley",
    "HodgkinHuxleyCell",
    "Hz",
    "IFCell",
    "Izhikevich",
    "IzhikevichCell",
    "LICell",
    "LIFCell",
    "Lift",
    "MorrisLecar",
    "MorrisLecarCell",
    "RALIFCell",
    "RLIFCell",
    "ResonateAndFire",
    "ResonateAndFireCell",
    "SequentialState",
    "Stateful",
    "__version__",
    "checkpoint_time",
    "convert",
    "functional",
    "init",
    "kernels",
    "ms",
    "s",
    "state",
    "surrogate",
    "units",
    "us",
]
