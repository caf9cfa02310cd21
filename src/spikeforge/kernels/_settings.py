"""The plain settings value every fused spiking kernel (CPU and Triton) takes beside its tensors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["RESETS", "SURROGATE_ARRAY", "Settings"]

#: reset modes of the spiking kernels; a mode's index is its code in the C and Triton sources. Neuron modules read
#: their ``reset=`` choices from here (``spikeforge.neurons.RESET_MODES``).
RESETS: tuple[str, ...] = ("subtract", "zero", "none")

#: surrogate code of "any other surrogate": the kernel reads the derivative from an array that the caller fills by
#: evaluating :attr:`Settings.derivative` over the stored tensor (``SF_SURR_ARRAY`` in ``cpu/sf_kernels.c``)
SURROGATE_ARRAY = 6


@dataclass(frozen=True)
class Settings:
    """Scalar settings of one fused spiking-kernel call.

    Args:
        v_leak: resting potential (membrane units). Default 0.
        v_reset: membrane after a zero reset. Default 0.
        reset: one of :data:`RESETS`. Default ``"subtract"``.
        detach: stop gradients through the reset term. Default False.
        surrogate: ``(kernel id, parameter)`` of the surrogate derivative, as
            :meth:`spikeforge.surrogate.Surrogate.kernel_code` gives it, or ``(SURROGATE_ARRAY, 0.0)`` for any other
            surrogate. Default fast sigmoid with slope 25.
        custom: with ``SURROGATE_ARRAY``: the surrogate object, whose ``derivative(s)`` maps a tensor of surrogate
            arguments (membrane minus threshold, ``[steps, N]``) to the tensor of derivatives; the backward calls it
            over the stored sequence (:func:`spikeforge.kernels.cpu.surrogate_array`). None otherwise.
    """

    v_leak: float = 0.0
    v_reset: float = 0.0
    reset: str = "subtract"
    detach: bool = False
    surrogate: tuple[int, float] = (0, 25.0)
    custom: Any = None

    def __post_init__(self) -> None:
        if (self.surrogate[0] == SURROGATE_ARRAY) != (self.custom is not None):
            raise ValueError(
                f"custom: expected a surrogate exactly when surrogate[0] is SURROGATE_ARRAY ({SURROGATE_ARRAY}), "
                f"got surrogate={self.surrogate!r} and custom={self.custom!r}"
            )
        if self.custom is not None and not callable(getattr(self.custom, "derivative", None)):
            raise ValueError(f"custom: expected an object with a derivative(s) method, got {self.custom!r}")
        if self.reset not in RESETS:
            raise ValueError(f"reset: expected one of {', '.join(map(repr, RESETS))}, got {self.reset!r}")
        for name in ("v_leak", "v_reset"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"{name}: expected a finite number, got {value!r}")

    def codes(self, grad: bool) -> dict[str, Any]:
        """The settings in the kernels' encodings, with ``grad`` (is a backward going to be asked for?)."""
        return {
            "grad": bool(grad),
            "v_leak": float(self.v_leak),
            "v_reset": float(self.v_reset),
            "reset": RESETS.index(self.reset),
            "detach": bool(self.detach),
            "surrogate": (int(self.surrogate[0]), float(self.surrogate[1])),
            "custom": self.custom,
        }
