"""What the online learners (e-prop, OTTT) share: the network state kept either by the learner or by the
``Stateful`` wrapper it was given, and the traces reset between sequences."""

from __future__ import annotations

from typing import Any

__all__ = ["OnlineLearner"]


class OnlineLearner:
    """Base of :class:`~spikeforge.learning.online.EProp` and :class:`~spikeforge.learning.online.OTTT`.

    Subclasses set ``holder`` (a ``Stateful`` wrapper whose ``state`` is the network's, or None), ``_state`` and
    ``traces`` (a dict, empty at the start of a sequence).
    """

    holder: Any
    _state: list[Any] | None
    traces: dict

    @property
    def state(self) -> list[Any] | None:
        """The network's per-layer state (None: at rest)."""
        return self.holder.state if self.holder is not None else self._state

    @state.setter
    def state(self, value: list[Any] | None) -> None:
        if self.holder is not None:
            self.holder.state = value
        else:
            self._state = value

    def reset(self) -> None:
        """Start a new sequence: the network at rest, every trace zero."""
        self.state = None
        self.traces = {}
