"""Containers: SequentialState (chain neurons and layers), Lift (a layer over time), Stateful (keep state)."""

from ._containers import Lift, SequentialState, Stateful, is_stateful

__all__ = ["Lift", "SequentialState", "Stateful", "is_stateful"]
