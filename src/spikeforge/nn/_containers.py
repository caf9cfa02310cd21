"""Containers that mix stateful neurons with ordinary (stateless) torch layers."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .. import state as _state
from ..neurons._base import NeuronModule

__all__ = ["Lift", "SequentialState", "Stateful", "is_stateful"]


def is_stateful(module: nn.Module) -> bool:
    """True for modules called as ``module(x, state) -> (out, state)``: neurons, SequentialState, or any module
    with a class attribute ``stateful = True``."""
    return isinstance(module, NeuronModule | SequentialState) or bool(getattr(module, "stateful", False))


def _fold_time(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if x.dim() < 2:
        raise ValueError(f"input: expected a sequence [T, B, ...] for {type(module).__name__}, got {tuple(x.shape)}")
    t, b = x.shape[:2]
    out = module(x.reshape(t * b, *x.shape[2:]))
    return out.reshape(t, b, *out.shape[1:])


class Lift(nn.Module):
    """Apply a stateless layer to every time step of ``x_seq[T, B, ...]`` at once (time folded into batch).

    >>> import torch
    >>> Lift(torch.nn.Conv2d(1, 4, 3))(torch.rand(10, 2, 1, 8, 8)).shape
    torch.Size([10, 2, 4, 6, 6])
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return _fold_time(self.module, x_seq)


class SequentialState(nn.Sequential):
    """Chain neurons and stateless layers; returns ``(output, states)`` with one state entry per layer.

    In sequence mode (the chain holds sequence neurons such as :class:`~spikeforge.LIF`) the input is
    ``[T, B, ...]``: every stateless layer runs over all steps at once (time folded into batch) and only the
    neurons walk over time. In step mode (the chain holds cells such as :class:`~spikeforge.LIFCell`) the input
    is one step ``[B, ...]``. Stateless layers get ``None`` in ``states``.

    >>> import torch
    >>> from spikeforge import LIF, LI
    >>> net = SequentialState(torch.nn.Flatten(), torch.nn.Linear(16, 8), LIF(8), torch.nn.Linear(8, 3), LI(3))
    >>> out, states = net(torch.rand(5, 2, 4, 4))
    >>> tuple(out.shape), len(states)
    ((5, 2, 3), 5)
    """

    stateful = True

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__(*layers)
        kinds = {m.is_sequence for m in self.modules() if isinstance(m, NeuronModule)}
        if len(kinds) > 1:
            raise ValueError("SequentialState: mixes cells (one step) and sequence neurons; use one kind")
        self.is_sequence = kinds != {False}

    def forward(self, x: torch.Tensor, state: list[Any] | None = None) -> tuple[torch.Tensor, list[Any]]:  # type: ignore[override]
        layers = list(self)
        if state is None:
            state = [None] * len(layers)
        elif len(state) != len(layers):
            raise ValueError(f"state: expected a list of {len(layers)} entries (one per layer), got {len(state)}")
        new_state: list[Any] = []
        for layer, s in zip(layers, state):
            if is_stateful(layer):
                x, s = layer(x, s)
            elif self.is_sequence and not isinstance(layer, Lift):
                x, s = _fold_time(layer, x), None
            else:
                x, s = layer(x), None
            new_state.append(s)
        return x, new_state


class Stateful(nn.Module):
    """Keep the state of a ``(x, state) -> (out, state)`` module between calls, for step-by-step use.

    >>> import torch
    >>> from spikeforge import LIFCell
    >>> cell = Stateful(LIFCell())
    >>> for _ in range(3):
    ...     z = cell(torch.full((1, 1), 0.4))
    >>> z.item()
    1.0
    >>> cell.reset()
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.state: Any = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, self.state = self.module(x, self.state)
        return out

    def reset(self) -> None:
        """Forget the state: the next call starts from rest."""
        self.state = None

    def detach(self) -> None:
        """Cut the graph behind the current state (truncated BPTT)."""
        self.state = _state.detach(self.state)
