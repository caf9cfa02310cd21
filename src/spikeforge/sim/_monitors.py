"""Monitors: record spikes (step and neuron of every spike) and state variables of chosen neurons during a run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch

__all__ = ["SpikeMonitor", "StateMonitor"]


class SpikeMonitor:
    """Collect every spike as (step, neuron); :meth:`result` returns the two concatenated int64 tensors.

    >>> m = SpikeMonitor()
    >>> m.record(3, torch.tensor([1, 5]))
    >>> m.record(4, torch.tensor([2]))
    >>> [t.tolist() for t in m.result()]
    [[3, 3, 4], [1, 5, 2]]
    """

    def __init__(self) -> None:
        self._steps: list[int] = []
        self._counts: list[int] = []
        self._ids: list[torch.Tensor] = []

    def record(self, step: int, ids: torch.Tensor) -> None:
        count = ids.numel()
        if count:
            self._ids.append(ids)
            self._steps.append(step)
            self._counts.append(count)

    def result(self) -> tuple[torch.Tensor, torch.Tensor]:
        if not self._ids:
            empty = torch.zeros(0, dtype=torch.int64)
            return empty, empty.clone()
        steps = torch.repeat_interleave(
            torch.tensor(self._steps, dtype=torch.int64), torch.tensor(self._counts, dtype=torch.int64)
        )
        return steps, torch.cat(self._ids).to(torch.int64)


class StateMonitor:
    """Record state fields ``variables`` of neurons ``neurons`` every ``every`` steps.

    After the run, ``data[name]`` is ``[n_records, len(neurons)]`` and ``steps`` the recorded step indices (the value
    is the state after that step).

    Args:
        variables: names of state fields (e.g. ``("v", "g_exc")``).
        neurons: indices of the neurons to record.
        every: record every this many steps. Default 1.
    """

    def __init__(self, variables: Sequence[str], neurons: Sequence[int] | torch.Tensor, every: int = 1) -> None:
        if isinstance(variables, str):
            variables = (variables,)
        self.variables = tuple(variables)
        self.neurons = torch.as_tensor(neurons, dtype=torch.int64).reshape(-1)
        if not isinstance(every, int) or every < 1:
            raise ValueError(f"every: expected a positive number of steps, got {every!r}")
        self.every = every
        self._rows: dict[str, list[torch.Tensor]] = {name: [] for name in self.variables}
        self._steps: list[int] = []
        self.data: dict[str, torch.Tensor] = {}
        self.steps = torch.zeros(0, dtype=torch.int64)

    def check(self, state: NamedTuple, n_neurons: int) -> None:
        missing = [name for name in self.variables if name not in state._fields]
        if missing:
            raise ValueError(f"variables: the neuron state has fields {list(state._fields)}, got unknown {missing}")
        if self.neurons.numel() and (int(self.neurons.min()) < 0 or int(self.neurons.max()) >= n_neurons):
            raise ValueError(
                f"neurons: expected indices in [0, {n_neurons}), got "
                f"[{int(self.neurons.min())}, {int(self.neurons.max())}]"
            )

    def record(self, step: int, state: NamedTuple) -> None:
        if step % self.every:
            return
        self._steps.append(step)
        for name in self.variables:
            self._rows[name].append(getattr(state, name)[self.neurons].clone())

    def finish(self) -> None:
        self.steps = torch.tensor(self._steps, dtype=torch.int64)
        self.data = {
            name: (torch.stack(rows) if rows else torch.zeros(0, self.neurons.numel()))
            for name, rows in self._rows.items()
        }
