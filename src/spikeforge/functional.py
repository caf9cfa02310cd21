"""Pure init, step and sequence functions of every neuron model, like ``torch.nn.functional``.

The names come from the neuron registry (:data:`spikeforge.neurons.NEURONS`): ``<name>_init``, ``<name>_step`` and
``<name>_seq`` for every registered model, so a new model appears here without an edit.

>>> import torch
>>> from spikeforge import functional
>>> z, state = functional.lif_step(torch.full((1, 2), 1.5), None)
>>> z.tolist()
[[1.0, 1.0]]
"""

from .neurons import NEURONS as _NEURONS

_FUNCTIONS = {fn.__name__: fn for spec in _NEURONS.values() for fn in (spec.init, spec.step, spec.seq)}
globals().update(_FUNCTIONS)

__all__ = sorted(_FUNCTIONS)
