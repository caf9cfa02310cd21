"""Training hyperparameters of supervised (BPTT) training."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ...encoding import DECODERS, ENCODERS

__all__ = ["TrainConfig"]


@dataclass
class TrainConfig:
    r"""Training hyperparameters (all JSON-able).

    ``encoding`` names an encoder of :data:`spikeforge.encoding.ENCODERS`, ``readout`` a decoder of
    :data:`spikeforge.encoding.DECODERS`. ``rate_penalty`` (:math:`\lambda \ge 0`) adds a firing-rate term to
    the cross-entropy, :math:`L = L_{CE} + \lambda \bar r`, with :math:`\bar r` the mean over the spiking layers
    of their spikes per neuron per step (padding steps of series included).
    """

    epochs: int = 30
    timesteps: int = 16
    encoding: str = "direct"
    readout: str = "max"
    lr: float = 2e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    seed: int = 0
    eval_seed: int = 12345
    label_smoothing: float = 0.0
    restore_best: bool = True
    grad_clip: float = 0.0
    select_by: Literal["accuracy", "accuracy_then_loss"] = "accuracy"
    rate_penalty: float = 0.0

    def __post_init__(self) -> None:
        for name in ("epochs", "timesteps", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not (isinstance(self.lr, int | float) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr: expected a positive learning rate, got {self.lr!r}")
        if not (isinstance(self.weight_decay, int | float) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay: expected a number >= 0, got {self.weight_decay!r}")
        if self.encoding not in ENCODERS:
            raise ValueError(f"encoding: expected one of {', '.join(ENCODERS)}; got {self.encoding!r}")
        if self.readout not in DECODERS:
            raise ValueError(f"readout: expected one of {', '.join(DECODERS)}; got {self.readout!r}")
        for name in ("seed", "eval_seed"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
                raise ValueError(f"{name}: expected an integer seed in [0, 2**63 - 1], got {value!r}")
        if self.select_by not in ("accuracy", "accuracy_then_loss"):
            raise ValueError(f"select_by: expected 'accuracy' or 'accuracy_then_loss', got {self.select_by!r}")
        penalty = self.rate_penalty
        if not (isinstance(penalty, int | float) and not isinstance(penalty, bool) and math.isfinite(penalty)):
            raise ValueError(f"rate_penalty: expected a finite number >= 0, got {penalty!r}")
        if penalty < 0:
            raise ValueError(f"rate_penalty: expected a number >= 0 (0 = off), got {penalty!r}")
        if not (isinstance(self.grad_clip, int | float) and self.grad_clip >= 0):
            raise ValueError(f"grad_clip: expected a gradient-norm bound >= 0 (0 = off), got {self.grad_clip!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_section(cls, section: dict[str, Any]) -> TrainConfig:
        """The training hyperparameters of a run folder's ``train`` section (``config.json``); the keys there that
        configure something else (``method``, the training method's name) are left out."""
        return cls(**{k: v for k, v in section.items() if k in cls.__dataclass_fields__})
