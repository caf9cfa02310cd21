"""The plain settings value every fused spiking kernel (CPU and Triton) takes beside its tensors."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

__all__ = ["RESETS", "Settings"]

#: reset modes of the spiking kernels; a mode's index is its code in the C and Triton sources. Neuron modules read
#: their ``reset=`` choices from here (``spikeforge.neurons.RESET_MODES``).
RESETS: tuple[str, ...] = ("subtract", "zero", "none")


@dataclass(frozen=True)
class Settings:
    """Scalar settings of one fused spiking-kernel call.

    Args:
        v_leak: resting potential (membrane units). Default 0.
        v_reset: membrane after a zero reset. Default 0.
        reset: one of :data:`RESETS`. Default ``"subtract"``.
        detach: stop gradients through the reset term. Default False.
        surrogate: ``(kernel id, parameter)`` of the surrogate derivative, as
            :meth:`spikeforge.surrogate.Surrogate.kernel_code` gives it. Default fast sigmoid with slope 25.
    """

    v_leak: float = 0.0
    v_reset: float = 0.0
    reset: str = "subtract"
    detach: bool = False
    surrogate: tuple[int, float] = (0, 25.0)

    def __post_init__(self) -> None:
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
        }
