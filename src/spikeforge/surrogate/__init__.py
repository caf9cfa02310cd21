"""Surrogate gradients: Heaviside spikes forward, smooth derivatives backward.

>>> import torch
>>> from spikeforge import surrogate
>>> x = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
>>> z = surrogate.ATan()(x)
>>> z.tolist()
[0.0, 1.0, 1.0]
"""

from ._base import (
    ATan,
    Boxcar,
    FastSigmoid,
    Sigmoid,
    StraightThrough,
    Surrogate,
    Triangle,
    available,
    get,
    heaviside,
)

__all__ = [
    "ATan",
    "Boxcar",
    "FastSigmoid",
    "Sigmoid",
    "StraightThrough",
    "Surrogate",
    "Triangle",
    "available",
    "get",
    "heaviside",
]
