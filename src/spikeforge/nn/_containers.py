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


#: stateless layers whose output for a sample depends on that sample alone, deterministically (no dropout, no batch
#: statistics): run on an input that is the same at every step, once is exactly T times. A layer class of a higher
#: part declares the same with a class attribute ``per_sample = True`` (``synapses.EventLinear``)
_PER_SAMPLE = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.Flatten,
    nn.Identity,
    nn.ReLU,
    nn.AvgPool1d,
    nn.AvgPool2d,
    nn.AvgPool3d,
    nn.MaxPool1d,
    nn.MaxPool2d,
    nn.MaxPool3d,
    nn.Sequential,
)


def _static_reusable(module: nn.Module, x: torch.Tensor) -> bool:
    """``x[T, B, ...]`` is one step repeated (a stride-0 time axis, as ``spikeforge.encoding.direct`` makes it) and
    ``module`` is made of per-sample layers without hooks (hooks, e.g. ``spikeforge profile``'s counters, see every
    step)."""
    if x.shape[0] < 2 or x.stride(0) != 0:
        return False
    return all(
        (type(m) in _PER_SAMPLE or getattr(type(m), "per_sample", False) is True)
        and not m._forward_hooks
        and not m._forward_pre_hooks
        for m in module.modules()
    )


def _fold_time(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``module`` over every step of ``x[T, B, ...]`` at once (time folded into batch). With static input (the same
    tensor at every step, a stride-0 view) and a per-sample layer (:data:`_PER_SAMPLE`) it runs once on one step and
    the result is repeated as a view: exact, T times less work; its gradient is the sum over the steps."""
    if x.dim() < 2:
        raise ValueError(f"input: expected a sequence [T, B, ...] for {type(module).__name__}, got {tuple(x.shape)}")
    t, b = x.shape[:2]
    if _static_reusable(module, x):
        out = module(x[0])
        return out.unsqueeze(0).expand(t, *out.shape)
    out = module(x.reshape(t * b, *x.shape[2:]))
    return out.reshape(t, b, *out.shape[1:])


class Lift(nn.Module):
    """Apply a stateless layer to every time step of ``x_seq[T, B, ...]`` at once (time folded into batch).

    Static input (``spikeforge.encoding.direct``: one tensor repeated over T as a view) into a per-sample layer
    (Linear, convolutions, pooling, Flatten, ReLU, and Sequential chains of them, without hooks) is computed once and
    repeated: exact, and the first layer of a directly driven network costs one step instead of T.

    >>> import torch
    >>> Lift(torch.nn.Conv2d(1, 4, 3))(torch.rand(10, 2, 1, 8, 8)).shape
    torch.Size([10, 2, 4, 6, 6])
    """

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module

    def forward(self, x_seq: torch.Tensor) -> torch.Tensor:
        return _fold_time(self.module, x_seq)


def _fused_pair(synapse: nn.Module, neuron: nn.Module, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any] | None:
    """``neuron(synapse(x), state)`` as one fused kernel where the neuron layer offers one for this synapse
    (``forward_synapse``, e.g. ``LIF`` after an ``EventLinear`` on spikes) and it applies to this call; else None."""
    fuse = getattr(neuron, "forward_synapse", None)
    if fuse is None or is_stateful(synapse) or synapse._forward_hooks or synapse._forward_pre_hooks:
        return None
    return fuse(synapse, x, state)


class SequentialState(nn.Sequential):
    """Chain neurons and stateless layers; returns ``(output, states)`` with one state entry per layer.

    In sequence mode (the chain holds sequence neurons such as :class:`~spikeforge.LIF`) the input is
    ``[T, B, ...]``: every stateless layer runs over all steps at once (time folded into batch) and only the
    neurons walk over time. In step mode (the chain holds cells such as :class:`~spikeforge.LIFCell`) the input
    is one step ``[B, ...]``. Stateless layers get ``None`` in ``states``.

    A synapse layer followed by a neuron layer that can take it into its own kernel runs as one fused call: in
    training, an :class:`~spikeforge.synapses.EventLinear` on spike input (data, no gradient into it) that takes its
    event path, then a :class:`~spikeforge.LIF` or ``IF`` on a fused CPU backend (``LIF.forward_synapse``). The
    results are the pair's, and the ``[T, B, out]`` input current of the neurons is never held (nor its gradient):
    the backward recomputes it from the spikes. Likewise a stride-1 ``torch.nn.Conv2d`` before a LIF or IF layer on
    a fused CPU backend, for input that changes over time (``"cpu+conv"``, :func:`spikeforge.kernels.cpu.conv_lif`:
    the convolution's output and its gradient are never held; the results are the pair's up to the convolution's
    rounding), where it may be faster (``kernels.cpu.CONV_MAX_TAPS`` weights per output for any input, up to
    ``CONV_MAX_TAPS_EVENTS`` from sparse spikes: :func:`spikeforge.kernels.cpu.conv_lif_plan`) and a timing of both
    ways, once per shape on this machine, finds it so. Hooks on either layer keep them apart.

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
        i = 0
        while i < len(layers):
            layer, s = layers[i], state[i]
            pair = self.is_sequence and i + 1 < len(layers)
            out = _fused_pair(layer, layers[i + 1], x, state[i + 1]) if pair else None
            if out is not None:  # this synapse and the neuron layer after it ran as one fused kernel
                x, s_next = out
                new_state += [None, s_next]
                i += 2
                continue
            if is_stateful(layer):
                x, s = layer(x, s)
            elif self.is_sequence and not isinstance(layer, Lift):
                x, s = _fold_time(layer, x), None
            else:
                x, s = layer(x), None
            new_state.append(s)
            i += 1
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
