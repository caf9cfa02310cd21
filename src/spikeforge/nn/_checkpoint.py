r"""Checkpointing over time chunks: training memory that stops growing with the sequence length.

Backpropagation through time keeps, for every step, what each layer's backward needs: even the lean fused kernels
keep a few bytes per neuron per step, so activation memory grows linearly with ``T``. :class:`CheckpointTime`
cuts the sequence into chunks of ``chunk`` steps and runs each chunk under
:func:`torch.utils.checkpoint.checkpoint` (``use_reentrant=False``), passing the state from one chunk to the
next. The forward keeps only each chunk's input (a view of the input sequence) and the state at its start; the
backward walks the chunks from last to first, recomputes one chunk's forward with autograd on, and backpropagates
through it. Activation memory is then that of one chunk plus one state per chunk boundary; the price is one
extra forward pass (typically 25-50% more time for a training step).

The gradients equal the unchunked ones up to floating-point rounding, provided the wrapped module

- is causal over time and carries everything between steps in its returned state (neurons, ``SequentialState``,
  stateless layers applied per step via ``Lift`` or ``SequentialState``'s time folding). Layers that mix time
  steps (BatchNorm in training mode over the folded ``T * B`` rows, convolutions or attention over time) see only
  one chunk at a time: BatchNorm in training mode is refused; the others are the caller's responsibility;
- draws random numbers only from torch's default generators (dropout, ``torch.rand``): their state is saved
  before each chunk and restored for the recomputation (``preserve_rng_state``). A module that draws from its own
  ``torch.Generator`` (or numpy/Python random) gets different numbers in the recomputation and wrong gradients;
- has no side effects in ``forward`` (monitors, counters, ``Stateful`` wrappers): forward runs twice per chunk.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from .. import state as _state
from ._containers import is_stateful

__all__ = ["CheckpointTime", "checkpoint_time"]


def _compact(t: torch.Tensor) -> torch.Tensor:
    """``t``, copied when it is a view into a larger storage (e.g. ``x_seq[-1]`` of a whole chunk), so that a
    state kept at a chunk boundary does not keep that chunk's sequence alive."""
    if t.untyped_storage().nbytes() > t.numel() * t.element_size():
        return t.clone()
    return t


class CheckpointTime(nn.Module):
    """Run ``module`` over ``x_seq[T, B, ...]`` in chunks of ``chunk`` steps, each recomputed in the backward.

    ``module`` is a sequence module: stateful (``module(x_seq, state) -> (out_seq, state)``, e.g. a neuron or a
    :class:`~spikeforge.nn.SequentialState`) or stateless (``module(x_seq) -> out_seq``, e.g. ``Lift(Linear)``).
    The wrapper is called the same way as ``module`` and returns the same, with ``out_seq`` the concatenation of
    the chunks' outputs. Without autograd (``torch.no_grad()`` or nothing requires grad) the chunks simply run one
    after the other. See the module docstring for when the gradients equal the unchunked ones.

    Args:
        module: the sequence module to run in chunks.
        chunk: steps per chunk (> 0). The last chunk is shorter when ``chunk`` does not divide ``T``.
            Memory is about ``chunk`` steps of activations plus ``T / chunk`` states; a few tens to a few
            hundred steps is a good range.

    Shape:
        as ``module``; time is the first axis of the input and the output.

    >>> import torch, spikeforge as sf
    >>> net = sf.SequentialState(torch.nn.Linear(10, 32), sf.LIF(32), torch.nn.Linear(32, 3), sf.LI(3))
    >>> lean = sf.checkpoint_time(net, chunk=50)
    >>> out, state = lean(torch.rand(120, 4, 10))
    >>> out.sum().backward()
    >>> tuple(out.shape), net[0].weight.grad is not None
    ((120, 4, 3), True)
    """

    def __init__(self, module: nn.Module, chunk: int) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"module: expected a torch.nn.Module, got {type(module).__name__}")
        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ValueError(f"chunk: expected a positive number of time steps, got {chunk!r}")
        self.module = module
        self.chunk = chunk
        self.stateful = is_stateful(module)

    def extra_repr(self) -> str:
        return f"chunk={self.chunk}"

    def _check_module(self) -> None:
        for name, m in self.module.named_modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.training:
                raise ValueError(
                    f"CheckpointTime: {name or type(m).__name__} is a BatchNorm in training mode; its statistics "
                    "over the folded T*B rows would cover one chunk only and its running statistics would be "
                    "updated twice per chunk. Put it in eval mode, use a per-step normalisation (LayerNorm), "
                    "or do not checkpoint this module"
                )
            if getattr(m, "record", False) is True:
                raise ValueError(
                    f"CheckpointTime: {name or type(m).__name__} has record=True (a state per step), which cannot "
                    "be passed from one chunk to the next; use record=False inside the checkpointed module"
                )

    def _needs_grad(self, x: torch.Tensor, state: Any) -> bool:
        if not torch.is_grad_enabled():
            return False
        if x.requires_grad or any(p.requires_grad for p in self.module.parameters()):
            return True
        found: list[bool] = []
        _state._map(lambda t: found.append(t.requires_grad), state)
        return any(found)

    def _run(self, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        if self.stateful:
            out, state = self.module(x, state)
        else:
            out = self.module(x)
        if not isinstance(out, torch.Tensor):
            raise TypeError(
                f"CheckpointTime: the wrapped module must return a tensor [T, B, ...] (and a state if stateful), "
                f"got {type(out).__name__}"
            )
        return out, state

    def forward(self, x_seq: torch.Tensor, state: Any = None) -> Any:  # type: ignore[override]
        if not isinstance(x_seq, torch.Tensor) or x_seq.dim() < 2:
            shape = tuple(x_seq.shape) if isinstance(x_seq, torch.Tensor) else type(x_seq).__name__
            raise ValueError(f"x_seq: expected a sequence [T, B, ...], got {shape}")
        if state is not None and not self.stateful:
            raise ValueError(f"state: {type(self.module).__name__} is stateless; call without a state")
        self._check_module()
        grad = self._needs_grad(x_seq, state)
        outs = []
        for start in range(0, x_seq.shape[0], self.chunk):
            x = x_seq[start : start + self.chunk]
            if grad:
                out, state = checkpoint(self._run, x, state, use_reentrant=False, preserve_rng_state=True)
            else:
                out, state = self._run(x, state)
            outs.append(out)
            state = _state._map(_compact, state)
        out_seq = outs[0] if len(outs) == 1 else torch.cat(outs, 0)
        return (out_seq, state) if self.stateful else out_seq


def checkpoint_time(module: nn.Module, *, chunk: int) -> CheckpointTime:
    """Wrap a sequence module so that its training memory covers one chunk of ``chunk`` steps instead of the
    whole sequence (see :class:`CheckpointTime`).

    >>> import torch, spikeforge as sf
    >>> lif = sf.checkpoint_time(sf.LIF(8), chunk=16)
    >>> z_seq, state = lif(torch.rand(40, 2, 8, requires_grad=True))
    >>> tuple(z_seq.shape)
    (40, 2, 8)
    """
    return CheckpointTime(module, chunk)
