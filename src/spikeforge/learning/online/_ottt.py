r"""OTTT, online training through time (Xiao et al. 2022), for feed-forward and convolutional LIF/ALIF networks.

The network runs one step at a time. Each neuron layer's state is detached between steps, so autograd keeps the
graph of the current step only, and a loss ``l_t`` on the readout of step ``t`` is backpropagated at once through
the layers (spatially) of that step. What links the steps is a presynaptic trace per weight layer (``Linear`` or
``Conv2d``):

.. math::
    \hat a_t = \lambda \hat a_{t-1} + s_t, \qquad
    \frac{\partial l_t}{\partial W} \approx \frac{\partial l_t}{\partial I_t} \otimes \hat a_t

where ``s_t`` is the layer's input at step ``t`` (spikes, or the encoded input for the first layer), ``I_t = W s_t``
its output, and ``lambda`` the membrane decay of the neuron layer that integrates ``I`` (``beta`` of its LIF or
ALIF, ``kappa`` of the leaky-integrator readout). The trace stands for the past inputs that still sit in the
membrane: ``dh_t/dW = sum_{tau <= t} lambda^{t - tau} s_tau`` when the resets are ignored, which is OTTT's
approximation. For the readout (``y_t = kappa y_{t-1} + W_out s_t``) it is exact. The forward pass is unchanged
(``I_t = W s_t``); only the weight gradient uses ``hat a_t`` (:class:`TracedLinear`, :class:`TracedConv2d`), and the
gradient that flows to the layer below is ``W^T dl_t/dI_t`` as usual.

The loss is a sum of per-step losses, ``E = sum_t l_t`` (the trainer uses ``l_t = CE(y_t, label) / T``); gradients
of all steps add up in ``.grad`` and the optimiser steps once per sequence or every few steps. Memory: one step's
graph, the neuron states and one trace per weight layer (the size of its input), independent of ``T``.

Layers other than weights and neurons (``Flatten``, pooling, ``BatchNorm``, ``Dropout``) run on each step as they
are; a ``BatchNorm`` in training mode then normalises each step over the batch alone.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ... import state as _state
from ...neurons import ALIF, LI, LIF, RALIF, RLIF, ALIFCell, LICell, LIFCell, RALIFCell, RLIFCell
from ...nn import SequentialState, Stateful
from ...synapses import EventLinear
from ...units import decay
from ._eprop import describe_layers
from ._learner import OnlineLearner

__all__ = ["OTTT", "TracedConv2d", "TracedLinear"]

_NEURONS = (LIF, LIFCell, ALIF, ALIFCell)
_READOUTS = (LI, LICell)
_STATELESS = (nn.Flatten, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.Dropout)


class TracedLinear(torch.autograd.Function):
    """``y = s W^T + b`` forward; backward: ``dW = g^T trace`` (the trace in place of ``s``), ``db = ones_trace
    sum_b g`` (the bias's input, 1 at every step, filtered the same way), ``ds = g W``."""

    @staticmethod
    def forward(ctx, s, trace, ones_trace, weight, bias):  # type: ignore[override]
        ctx.save_for_backward(trace, ones_trace, weight)
        ctx.has_bias = bias is not None
        return F.linear(s, weight, bias)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        trace, ones_trace, weight = ctx.saved_tensors
        g2 = g.reshape(-1, g.shape[-1])
        dw = g2.t() @ trace.reshape(-1, trace.shape[-1])
        db = g2.sum(0) * ones_trace if ctx.has_bias else None
        return g @ weight, None, None, dw, db


class TracedConv2d(torch.autograd.Function):
    """``conv2d(s, W) + b`` forward; backward: the weight gradient from the trace, the input gradient as usual."""

    @staticmethod
    def forward(ctx, s, trace, ones_trace, weight, bias, conv: nn.Conv2d):  # type: ignore[override]
        ctx.save_for_backward(trace, ones_trace, weight)
        ctx.conv = conv
        ctx.has_bias = bias is not None
        ctx.input_shape = s.shape
        return conv._conv_forward(s, weight, bias)

    @staticmethod
    def backward(ctx, g):  # type: ignore[override]
        trace, ones_trace, weight = ctx.saved_tensors
        c = ctx.conv
        options = {"stride": c.stride, "padding": c.padding, "dilation": c.dilation, "groups": c.groups}
        ds = torch.nn.grad.conv2d_input(ctx.input_shape, weight, g, **options)
        dw = torch.nn.grad.conv2d_weight(trace, weight.shape, g, **options)
        db = g.sum((0, 2, 3)) * ones_trace if ctx.has_bias else None
        return ds, None, None, dw, db, None


def _decay_of(layer: nn.Module, like: torch.Tensor) -> torch.Tensor:
    tau = layer.params().tau_mem
    lam = decay(tau, layer.dt, like=like)
    if lam.numel() != 1:
        raise ValueError(
            f"tau_mem: OTTT's presynaptic traces decay with the membrane of the layer they feed, so "
            f"{type(layer).__name__} needs one tau_mem per layer; got {lam.numel()} per-neuron values"
        )
    return lam.reshape(())


class OTTT(OnlineLearner):
    """Online training through time for ``model`` (a :class:`~spikeforge.nn.SequentialState`, or a
    :class:`~spikeforge.nn.Stateful` around one, whose ``state`` it then keeps): feed-forward ``Linear`` /
    ``Conv2d`` layers, LIF or ALIF neurons (sequence modules or cells), stateless layers between them, and a
    leaky-integrator readout last. See the module docstring for the maths.

    :meth:`step` runs one step ``x[B, ...]`` with autograd on for that step only and returns the readout
    ``y_t[B, K]``; backpropagate a loss on it (``loss.backward()``) before the next step.

    >>> import torch
    >>> from spikeforge import LIF, LI, SequentialState
    >>> net = SequentialState(torch.nn.Linear(3, 8), LIF(8), torch.nn.Linear(8, 2), LI(2))
    >>> learner = OTTT(net)
    >>> for t in range(5):
    ...     torch.nn.functional.cross_entropy(learner.step(torch.rand(4, 3)), torch.tensor([0, 1, 0, 1])).backward()
    >>> tuple(net[0].weight.grad.shape)
    (8, 3)
    """

    def __init__(self, model: nn.Module) -> None:
        self.holder = model if isinstance(model, Stateful) else None
        net = model.module if isinstance(model, Stateful) else model
        expected = (
            "model: OTTT trains feed-forward and convolutional networks (spikeforge's 'mlp' and 'conv' models): "
            "Linear/Conv2d layers, LIF or ALIF neurons, Flatten/pooling/BatchNorm/Dropout between them and an LI "
            "readout last; recurrent layers train with e-prop"
        )
        if not isinstance(net, SequentialState):
            raise ValueError(f"{expected}; got {type(net).__name__}")
        self.layers = list(net)
        self.decay_layer: dict[int, nn.Module] = {}  # weight layer index -> the neuron layer that integrates it
        pending: list[int] = []
        for i, layer in enumerate(self.layers):
            if type(layer) in (nn.Linear, EventLinear, nn.Conv2d):
                if pending:
                    raise ValueError(
                        f"{expected}; layer {pending[-1]} ({type(self.layers[pending[-1]]).__name__}) feeds layer "
                        f"{i} ({type(layer).__name__}) with no neuron between them"
                    )
                pending.append(i)
            elif isinstance(layer, _NEURONS + _READOUTS):
                if getattr(layer, "learn", ()):
                    raise ValueError(
                        f"learn: OTTT trains the synaptic weights only; {type(layer).__name__} learns "
                        f"{list(layer.learn)} (build it with learn=[])"
                    )
                for j in pending:
                    self.decay_layer[j] = layer
                pending = []
            elif isinstance(layer, RLIF | RLIFCell | RALIF | RALIFCell):
                raise ValueError(f"{expected}; layer {i} is recurrent ({type(layer).__name__})")
            elif not isinstance(layer, _STATELESS):
                raise ValueError(f"{expected}; layer {i} is a {type(layer).__name__}")
        if not self.layers or not isinstance(self.layers[-1], _READOUTS) or pending:
            raise ValueError(f"{expected}; got layers {describe_layers(net)}")
        for layer in self.layers:
            if isinstance(layer, LIF | LIFCell) and (layer.params().tau_syn is not None or layer.params().t_ref):
                raise ValueError("hidden layer: OTTT's traces assume LIF neurons without tau_syn and refractoriness")
        if self.layers[-1].params().tau_syn is not None:
            raise ValueError("readout: OTTT needs a leaky integrator without tau_syn")
        self._state: list[Any] | None = None
        self.traces: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # layer -> (trace, trace of ones)

    def step(self, x: torch.Tensor) -> torch.Tensor:
        """One step: ``x[B, ...]`` -> readout ``y_t[B, K]``, differentiable (with the trace rule) for this step."""
        if not torch.isfinite(x).all():
            raise ValueError("x: contains NaN or Inf")
        states = _state.detach(self.state) or [None] * len(self.layers)
        new_states: list[Any] = []
        h = x
        for i, (layer, s) in enumerate(zip(self.layers, states)):
            if i in self.decay_layer:
                lam = _decay_of(self.decay_layer[i], h)
                inp = h.detach()
                trace, ones = self.traces.get(i, (None, None))
                if trace is None:
                    trace, ones = inp.clone(), torch.ones((), dtype=inp.dtype, device=inp.device)
                else:
                    trace, ones = trace.mul_(lam).add_(inp), ones * lam + 1
                self.traces[i] = (trace, ones)
                if type(layer) in (nn.Linear, EventLinear):
                    h = TracedLinear.apply(h, trace, ones, layer.weight, layer.bias)
                else:
                    h = TracedConv2d.apply(h, trace, ones, layer.weight, layer.bias, layer)
                new_states.append(None)
            elif isinstance(layer, _NEURONS + _READOUTS):
                if layer.is_sequence:
                    out, s = layer(h[None], s)
                    h = out[0]
                else:
                    h, s = layer(h, s)
                new_states.append(s)
            else:
                h = layer(h)
                new_states.append(None)
        self.state = new_states
        return h
