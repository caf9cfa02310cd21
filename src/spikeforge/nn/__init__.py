"""Containers: SequentialState (chain neurons and layers), Lift (a layer over time), Stateful (keep state);
checkpoint_time (training memory of one time chunk instead of the whole sequence)."""

from ._containers import Lift, SequentialState, Stateful, is_stateful

__all__ = ["Lift", "SequentialState", "Stateful", "is_stateful"]

from ._checkpoint import CheckpointTime, checkpoint_time  # checkpointing over time chunks

__all__ += ["CheckpointTime", "checkpoint_time"]

from ._placement import placement  # noqa: E402  the device and precision a model takes its inputs in

__all__ += ["placement"]
