"""Hardware-viable quantisation: integer (Loihi-style CUBA) neurons, fixed-point twins of trained networks, and
quantisation-aware training with straight-through estimators."""

from ._convert import FixedLinear, FixedNetwork, to_fixed
from ._fixed import (
    DECAY_ONE,
    FixedCUBA,
    FixedParams,
    FixedState,
    decay_to_int,
    fixed_init,
    fixed_seq,
    fixed_step,
    tau_from_int,
)
from ._qat import QuantConv2d, QuantLinear, QuantMembrane, fake_quantize, quantize_model, weight_scale
from ._silence import check_silent, spike_counts

__all__ = [
    "DECAY_ONE",
    "FixedCUBA",
    "FixedLinear",
    "FixedNetwork",
    "FixedParams",
    "FixedState",
    "QuantConv2d",
    "QuantLinear",
    "QuantMembrane",
    "check_silent",
    "decay_to_int",
    "fake_quantize",
    "fixed_init",
    "fixed_seq",
    "fixed_step",
    "quantize_model",
    "spike_counts",
    "tau_from_int",
    "to_fixed",
    "weight_scale",
]
