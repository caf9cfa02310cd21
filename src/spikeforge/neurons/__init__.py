"""Neuron models. One file per model; each has ``XParams``, ``XState``, ``x_init``, ``x_step``, ``x_seq``, ``XCell``,
``X`` and a ``SPEC`` (:class:`NeuronSpec`) that it adds to :data:`NEURONS`.

>>> NEURONS["lif"].sequence is LIF and NEURONS["hodgkin_huxley"].simulate.name
'hodgkin-huxley'
"""

from ._base import RESET_MODES, CellModule, DivergenceError, NeuronModule, SequenceModule, scan
from ._spec import NEURONS, Drive, NeuronSpec, SimulateInfo

# One line per neuron model: its public names (the file's ``__all__``); importing the file registers its SPEC.
# Biophysical and dynamical models first, then the LIF family (``spikeforge simulate`` lists models in this order).
# isort: off
from ._izhikevich import *  # noqa: F403
from ._adex import *  # noqa: F403
from ._hodgkin_huxley import *  # noqa: F403
from ._morris_lecar import *  # noqa: F403
from ._hindmarsh_rose import *  # noqa: F403
from ._resonate_fire import *  # noqa: F403
from ._lif import *  # noqa: F403
from ._if import *  # noqa: F403
from ._li import *  # noqa: F403
from ._cubalif import *  # noqa: F403
from ._alif import *  # noqa: F403
from ._rlif import *  # noqa: F403
from ._ralif import *  # noqa: F403
# isort: on

__all__ = [  # each model's names are spelled once, in its own file's __all__
    "NEURONS",
    "RESET_MODES",
    "CellModule",
    "DivergenceError",
    "Drive",
    "NeuronModule",
    "NeuronSpec",
    "SequenceModule",
    "SimulateInfo",
    "scan",
    *(name for spec in NEURONS.values() for name in spec.exports),
]
