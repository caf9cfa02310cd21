"""Free helpers over state tuples (``NamedTuple`` of tensors, possibly nested in lists/tuples)."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["detach", "select", "zeros_like"]


def _map(fn, state: Any) -> Any:
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return fn(state)
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(_map(fn, s) for s in state))
    if isinstance(state, list | tuple):
        return type(state)(_map(fn, s) for s in state)
    return state


def detach(state: Any) -> Any:
    """The same state with every tensor detached (truncated BPTT between chunks)."""
    return _map(torch.Tensor.detach, state)


def zeros_like(state: Any) -> Any:
    """A state of the same structure filled with zeros."""
    return _map(torch.zeros_like, state)


def select(state: Any, index: Any) -> Any:
    """Index every tensor of a state along the batch axis (e.g. keep samples ``[0, 3]``)."""
    return _map(lambda t: t[index], state)
