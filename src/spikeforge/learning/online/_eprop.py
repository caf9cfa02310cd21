r"""e-prop (Bellec et al. 2020): online gradients for one recurrent LIF or ALIF layer read out by leaky integrators.

The network is ``Linear(C_in -> N) -> hidden -> Linear(N -> K) -> LI(K)`` where ``hidden`` is a
:class:`~spikeforge.neurons.LIF`, :class:`~spikeforge.neurons.ALIF`, :class:`~spikeforge.neurons.RLIF` or
:class:`~spikeforge.neurons.RALIF` layer (their cells too), optionally after a ``Flatten``: spikeforge's
``recurrent`` model and the one-hidden-layer ``mlp`` model. Nothing is kept per time step: the memory is the
network's state plus the traces below, whatever the sequence length ``T``.

**Hidden layer.** Every synapse ``j <- p`` of the hidden layer (input weights, bias, recurrent weights, stacked as
one presynaptic vector ``pre_t = [x_t, 1, z_{t-1}]`` of size ``P = C_in + 1 + N``) keeps an eligibility vector:
the derivative of neuron ``j``'s own state with respect to ``W_jp``, carried forward in time through that neuron
only. For LIF (``h_t = beta v_{t-1} + I_t``, ``z_t = H(h_t - theta)``, surrogate derivative ``psi_t``):

.. math::
    u_t = \beta\, \epsilon_{t-1} + pre_t, \qquad e_t = \psi_t u_t, \qquad \epsilon_t = D_t u_t

with ``D_t = dv_t/dh_t`` of the reset (subtract: ``1 - theta psi_t``; zero: ``1 - z_t - (h_t - v_reset) psi_t``;
a detached reset drops the ``psi`` terms). For ALIF (``h_t = beta_m v_{t-1} + (1 - beta_m)(v_leak + I_t)``,
``A_t = theta + b rho a_{t-1}``, ``z_t = H((h_t - A_t)/theta)``, ``a_t = rho a_{t-1} + z_t``) there are two
vectors, for ``v`` and ``a``:

.. math::
    u_t = \beta_m \epsilon^v_{t-1} + (1 - \beta_m) pre_t, \quad w_t = \rho \epsilon^a_{t-1}, \quad
    e_t = \tfrac{\psi_t}{\theta} (u_t - b\, w_t), \quad \epsilon^a_t = w_t + e_t, \quad
    \epsilon^v_t = u_t - A_t e_t - z_t b\, w_t \;\text{(subtract reset)}

``e_t = dz_t/dW`` is the eligibility trace. The readout ``y_t = kappa y_{t-1} + W_out z_t + b_out`` filters it:
``ebar_t = kappa ebar_{t-1} + e_t`` (shape ``[B, N, P]``), so that ``dy_{k,t}/dW_jp = W_out[k, j] ebar_{jp,t}``
when the hidden neurons do not feed each other. With the loss ``E`` and its derivatives
``delta_t = dE/dy_t`` (``[B, K]``), the learning signal of neuron ``j`` is ``L_{j,t} = sum_k delta_{k,t} B_{kj}``
and the gradient is

.. math::
    \frac{dE}{dW_{jp}} = \sum_t \sum_b L_{bj,t}\, \bar e_{bjp,t}

with ``B = W_out`` (symmetric feedback) or a fixed random matrix (random feedback). What e-prop leaves out is only
the effect of a spike on *other* hidden neurons through ``W_rec`` (and on itself through a self-connection): for a
layer without recurrent weights and symmetric feedback the gradient equals backpropagation through time.

**Readout.** Its weights are learned exactly: ``dE/dW_out = sum_t delta_t^T zbar_t`` with ``zbar_t`` the
``kappa``-filtered hidden spikes, and ``dE/db_out = sum_t delta_t obar_t`` with ``obar_t = kappa obar_{t-1} + 1``.

Two ways to give the learning signals:

- :meth:`EProp.learn` at every step with ``delta_t`` (a loss on each step's readout, e.g. streaming data): the
  gradient is added to each parameter's ``.grad`` at once, so the optimiser can step every step or every chunk;
- :meth:`EProp.accumulate` at every step with a weight ``c_t`` per sample, then :meth:`EProp.learn_sequence` once
  with ``dE/ds`` for a score ``s = sum_t c_t y_t`` (the ``mean`` readout: ``c_t = 1/T``; ``last``: ``c_T = 1``):
  the traces are summed over time (one more ``[B, N, P]`` tensor), still independent of ``T``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ... import surrogate as _surrogate
from ...neurons import (
    ALIF,
    LI,
    LIF,
    RALIF,
    RLIF,
    ALIFCell,
    ALIFState,
    LICell,
    LIFCell,
    LIFState,
    LIState,
    RALIFCell,
    RALIFState,
    RLIFCell,
    RLIFState,
)
from ...nn import SequentialState, Stateful
from ...synapses import EventLinear
from ...units import decay
from ._learner import OnlineLearner

__all__ = ["FEEDBACK", "EProp"]

#: feedback matrices that carry the readout's errors to the hidden neurons
FEEDBACK = ("symmetric", "random")

_KINDS = {LIF: "lif", LIFCell: "lif", RLIF: "rlif", RLIFCell: "rlif"}
_KINDS |= {ALIF: "alif", ALIFCell: "alif", RALIF: "ralif", RALIFCell: "ralif"}


def _kind(module: nn.Module) -> str | None:
    for cls, name in _KINDS.items():
        if type(module) is cls:
            return name
    return None


@dataclass
class _Net:
    flatten: nn.Module | None
    w_in: nn.Linear
    hidden: nn.Module
    kind: str
    w_out: nn.Linear
    readout: nn.Module
    index: tuple[int, int]  # positions of the hidden layer and the readout in the SequentialState


def _col(c: torch.Tensor) -> torch.Tensor:
    """A per-neuron coefficient ``[N]`` as ``[N, 1]`` (against traces ``[B, N, P]``); a scalar as it is."""
    return c.reshape(-1, 1) if c.dim() else c


def describe_layers(model: nn.Module) -> str:
    return ", ".join(type(m).__name__ for m in model) if isinstance(model, nn.Sequential) else type(model).__name__


def _parse(model: nn.Module) -> _Net:
    expected = (
        "model: e-prop trains [Flatten ->] Linear -> one LIF/ALIF/RLIF/RALIF layer -> Linear -> LI (spikeforge's "
        "'recurrent' model and the 'mlp' model with one hidden layer, no dropout)"
    )
    if not isinstance(model, SequentialState):
        raise ValueError(f"{expected}; got {type(model).__name__}")
    layers = list(model)
    offset = 0
    flatten = None
    if layers and isinstance(layers[0], nn.Flatten):
        flatten, layers, offset = layers[0], layers[1:], 1
    kinds = [_kind(m) for m in layers]
    ok = (
        len(layers) == 4
        and type(layers[0]) in (nn.Linear, EventLinear)  # the builders' synapses: same parameters
        and kinds[1] is not None
        and type(layers[2]) in (nn.Linear, EventLinear)
        and isinstance(layers[3], LI | LICell)
    )
    if not ok:
        raise ValueError(f"{expected}; got layers {describe_layers(model)}")
    hidden, readout = layers[1], layers[3]
    for layer in (hidden, readout):
        if getattr(layer, "learn", ()):
            raise ValueError(
                f"learn: e-prop trains the synaptic weights only; {type(layer).__name__} learns {list(layer.learn)} "
                "(build it with learn=[])"
            )
    params = hidden.params()
    if kinds[1] in ("lif", "rlif") and (params.tau_syn is not None or params.t_ref):
        raise ValueError(
            f"hidden layer: e-prop's LIF traces assume no synaptic current and no refractory period; got "
            f"tau_syn={params.tau_syn!r}, t_ref={params.t_ref!r}"
        )
    if readout.params().tau_syn is not None:
        raise ValueError(f"readout: e-prop needs a leaky integrator without tau_syn, got {readout.params().tau_syn!r}")
    if layers[0].out_features != layers[2].in_features:
        raise ValueError(f"model: hidden widths disagree ({layers[0].out_features} vs {layers[2].in_features})")
    return _Net(flatten, layers[0], hidden, kinds[1], layers[2], readout, (offset + 1, offset + 3))


class EProp(OnlineLearner):
    """e-prop for ``model`` (see the module docstring for the network, the maths and the two ways to learn).

    ``model`` is a :class:`~spikeforge.nn.SequentialState` or a :class:`~spikeforge.nn.Stateful` around one; with
    ``Stateful``, :meth:`step` keeps the network's state in ``model.state`` (the same list the network's own
    forward returns), so the learner and ``model(x)`` continue the same stream. ``feedback`` is one of
    :data:`FEEDBACK`; the random matrix (``[K, N]``, normal with standard deviation ``1/sqrt(N)``) is drawn from
    ``generator`` once.

    Shapes: ``x`` ``[B, ...]`` per step (flattened when the network starts with ``Flatten``), readout ``[B, K]``.
    The traces take ``B * N * P`` numbers each (LIF: 2 tensors, ALIF: 3, plus one with :meth:`accumulate`).

    >>> import torch
    >>> from spikeforge import RLIF, LI, SequentialState
    >>> net = SequentialState(torch.nn.Linear(3, 8), RLIF(8), torch.nn.Linear(8, 2), LI(2))
    >>> learner = EProp(net)
    >>> for t in range(5):
    ...     y = learner.step(torch.rand(4, 3))
    ...     learner.learn(torch.softmax(y, 1) - torch.eye(2)[[0, 1, 0, 1]])
    >>> tuple(net[0].weight.grad.shape), tuple(net[1].recurrent.weight.grad.shape)
    ((8, 3), (8, 8))
    """

    def __init__(self, model: nn.Module, *, feedback: str = "symmetric", generator: torch.Generator | None = None):
        self.holder = model if isinstance(model, Stateful) else None
        self.net = _parse(model.module if isinstance(model, Stateful) else model)
        if feedback not in FEEDBACK:
            raise ValueError(f"feedback: expected one of {', '.join(FEEDBACK)}, got {feedback!r}")
        self.feedback = feedback
        self.recurrent = self.net.kind in ("rlif", "ralif")
        w = self.net.w_out.weight
        self.random_b = None
        if feedback == "random":
            k, n = w.shape
            b = torch.randn(k, n, generator=generator, dtype=torch.float64) / n**0.5
            self.random_b = b.to(w.dtype).to(w.device)
        self._state: list[Any] | None = None
        self.traces: dict[str, torch.Tensor] = {}

    def feedback_matrix(self) -> torch.Tensor:
        """``B`` (``[K, N]``): the readout weights (symmetric) or the fixed random matrix."""
        return self.net.w_out.weight.detach() if self.random_b is None else self.random_b

    # -- one step ------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, x: torch.Tensor) -> torch.Tensor:
        """Advance the network and the traces by one step with input ``x``; returns the readout ``y_t`` ``[B, K]``."""
        net = self.net
        if net.flatten is not None:
            x = net.flatten(x)
        if x.dim() != 2 or x.shape[1] != net.w_in.in_features:
            raise ValueError(f"x: expected one step [B, {net.w_in.in_features}], got shape {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("x: contains NaN or Inf")
        x = x.to(net.w_in.weight.dtype)
        bsz, n = x.shape[0], net.w_in.out_features
        states = self.state
        if states is None:
            states = [None] * (4 + (net.flatten is not None))
        hs, rs = states[net.index[0]], states[net.index[1]]
        hidden = net.hidden
        params = hidden.params()
        zeros = x.new_zeros(bsz, n)
        z_prev = hs.z if (hs is not None and self.recurrent) else zeros
        current = net.w_in(x)
        if self.recurrent:
            current = current + z_prev @ hidden._weight().t()
        pre = torch.cat([x, x.new_ones(bsz, 1)] + ([z_prev] if self.recurrent else []), dim=1)
        tr = self.traces
        if not tr:
            tr["eps_v"] = x.new_zeros(bsz, n, pre.shape[1])
            tr["ebar"] = torch.zeros_like(tr["eps_v"])
            tr["zbar"] = zeros.clone()
            tr["obar"] = x.new_zeros(())
            if self.net.kind in ("alif", "ralif"):
                tr["eps_a"] = torch.zeros_like(tr["eps_v"])
        sg = hidden.surrogate
        kappa = tr["kappa"] = self._kappa(x)
        if self.net.kind in ("lif", "rlif"):
            z, new_hidden = self._lif(current, pre, hs, params, sg, zeros)
        else:
            z, new_hidden = self._alif(current, pre, hs, params, sg, zeros)
        tr["zbar"].mul_(kappa).add_(z)
        tr["obar"] = tr["obar"] * kappa + 1
        v_out = rs.v if rs is not None else x.new_zeros(bsz, net.w_out.out_features)
        i_out = net.w_out(z)
        y = kappa * v_out + i_out
        new_states = list(states)
        new_states[net.index[0]] = new_hidden
        new_states[net.index[1]] = LIState(y, i_out)
        self.state = new_states
        return y

    def _kappa(self, like: torch.Tensor) -> torch.Tensor:
        readout = self.net.readout
        kappa = decay(readout.params().tau_mem, readout.dt, like=like)
        if kappa.numel() != 1:
            raise ValueError(
                "readout: e-prop filters the eligibility traces with the readout's decay, so it needs one tau_mem "
                f"for all readout neurons; got {kappa.numel()} values"
            )
        return kappa.reshape(())

    def _lif(self, current, pre, hs, params, sg, zeros):
        beta = decay(params.tau_mem, self.net.hidden.dt, like=current)
        v_leak = 0.0 if params.v_leak is None else params.v_leak
        v = hs.v if hs is not None else zeros + v_leak
        h = v_leak + beta * (v - v_leak) + current
        arg = h - params.threshold
        z = _surrogate.heaviside(arg)
        psi = sg.derivative(arg)
        keep = 0.0 if params.detach_reset else 1.0
        if params.reset == "subtract":
            v_new = h - z * params.threshold
            d = 1 - keep * params.threshold * psi
        elif params.reset == "zero":
            v_new = h - z * (h - params.v_reset)
            d = 1 - z - keep * (h - params.v_reset) * psi
        else:
            v_new, d = h, torch.ones_like(h)
        u = self.traces["eps_v"].mul_(_col(beta)).add_(pre[:, None, :])  # in place: eps_{t-1} -> u_t
        self._filter(psi[:, :, None], u)  # ebar <- kappa ebar + e_t, e_t = psi_t u_t
        u.mul_(d[:, :, None])  # u_t -> eps_t
        if self.recurrent:
            new = RLIFState(v_new, current, torch.zeros_like(v_new), z)
        else:
            new = LIFState(v_new, current, torch.zeros_like(v_new))
        return z, new

    def _filter(self, factor: torch.Tensor, u: torch.Tensor) -> None:  # LIF: e_t = psi_t u_t, not stored
        """``ebar <- kappa ebar + factor * u`` in place (the eligibility trace, filtered by the readout)."""
        tr = self.traces
        tr["ebar"].mul_(tr["kappa"]).addcmul_(factor, u)

    def _alif(self, current, pre, hs, params, sg, zeros):
        hidden = self.net.hidden
        beta_m = decay(params.tau_mem, hidden.dt, like=current)
        rho = decay(params.tau_adapt, hidden.dt, like=current)
        v = hs.v if hs is not None else zeros + params.v_leak
        a = hs.a if hs is not None else zeros
        theta, b = params.threshold, params.beta
        a_t = rho * a
        thr = theta + b * a_t
        target = params.v_leak + current
        h = target + (v - target) * beta_m
        arg = (h - thr) / theta
        z = _surrogate.heaviside(arg)
        p = sg.derivative(arg) / theta
        keep = 0.0 if params.detach_reset else 1.0
        tr = self.traces
        u = tr["eps_v"].mul_(_col(beta_m)).add_(pre[:, None, :] * (1 - _col(beta_m)))
        w = tr["eps_a"].mul_(_col(rho))
        bw = _col(torch.as_tensor(b, dtype=current.dtype, device=current.device)) * w
        e = p[:, :, None] * (u - bw)
        if params.reset == "subtract":
            v_new = h - z * thr
            u.sub_(keep * thr[:, :, None] * e + z[:, :, None] * bw)
        elif params.reset == "zero":
            v_new = h - z * (h - params.v_reset)
            u.mul_((1 - z)[:, :, None]).sub_(keep * (h - params.v_reset)[:, :, None] * e)
        else:
            v_new = h
        w.add_(e)  # eps_a of this step; u became eps_v of this step
        self.traces["ebar"].mul_(self.traces["kappa"]).add_(e)
        a_new = a_t + z
        new = RALIFState(v_new, a_new, z) if self.recurrent else ALIFState(v_new, a_new)
        return z, new

    # -- learning signals ----------------------------------------------------------------------------------------
    def _add_grads(self, signal: torch.Tensor, delta: torch.Tensor, ebar, zbar, obar) -> None:
        """Add ``sum_b signal_bj ebar_bjp`` to the hidden weights and ``delta^T zbar`` to the readout's."""
        net = self.net
        g = torch.einsum("bj,bjp->jp", signal, ebar)
        c_in = net.w_in.in_features
        grads = [(net.w_in.weight, g[:, :c_in])]
        if net.w_in.bias is not None:
            grads.append((net.w_in.bias, g[:, c_in]))
        if self.recurrent:
            g_rec = g[:, c_in + 1 :]
            if not net.hidden.self_connections:
                g_rec = g_rec * (1 - torch.eye(g_rec.shape[0], dtype=g_rec.dtype, device=g_rec.device))
            grads.append((net.hidden.recurrent.weight, g_rec))
        grads.append((net.w_out.weight, delta.t() @ zbar))
        if net.w_out.bias is not None:
            grads.append((net.w_out.bias, (delta * obar.reshape(-1, 1) if obar.dim() else delta * obar).sum(0)))
        for param, grad in grads:
            if not param.requires_grad:
                continue
            if param.grad is None:
                param.grad = grad.clone()
            else:
                param.grad.add_(grad)

    @torch.no_grad()
    def learn(self, delta: torch.Tensor) -> None:
        """Add this step's gradient to the parameters' ``.grad``, given ``delta = dE/dy_t`` (``[B, K]``) for the
        readout ``y_t`` the last :meth:`step` returned."""
        tr = self._checked_traces(delta, "delta")
        self._add_grads(delta @ self.feedback_matrix(), delta, tr["ebar"], tr["zbar"], tr["obar"])

    @torch.no_grad()
    def accumulate(self, weight: torch.Tensor | float = 1.0) -> None:
        """Add this step's traces, times ``weight`` (a number or one per sample, ``[B]``), to their running sums
        for :meth:`learn_sequence`: the score ``s = sum_t weight_t y_t`` then has an exact readout path."""
        tr = self._checked_traces(None, "")
        w = torch.as_tensor(weight, dtype=tr["ebar"].dtype, device=tr["ebar"].device)
        if w.dim() not in (0, 1) or (w.dim() == 1 and w.shape[0] != tr["ebar"].shape[0]):
            raise ValueError(
                f"weight: expected a number or one per sample [{tr['ebar'].shape[0]}], got {tuple(w.shape)}"
            )
        wb = w.reshape(-1, 1) if w.dim() else w
        if "sum_ebar" not in tr:
            tr["sum_ebar"] = torch.zeros_like(tr["ebar"])
            tr["sum_zbar"] = torch.zeros_like(tr["zbar"])
            tr["sum_obar"] = torch.zeros_like(wb * tr["obar"]).reshape(-1)
        if w.dim():
            tr["sum_ebar"].addcmul_(tr["ebar"], wb[:, :, None])
        else:
            tr["sum_ebar"].add_(tr["ebar"], alpha=float(w))
        tr["sum_zbar"].add_(tr["zbar"] * wb)
        tr["sum_obar"] = tr["sum_obar"] + (wb * tr["obar"]).reshape(-1)

    @torch.no_grad()
    def learn_sequence(self, dscore: torch.Tensor) -> None:
        """Add the gradient of a loss on the score ``s = sum_t weight_t y_t`` (built up by :meth:`accumulate`),
        given ``dscore = dE/ds`` (``[B, K]``), to the parameters' ``.grad``; then clear the sums."""
        tr = self._checked_traces(dscore, "dscore")
        if "sum_ebar" not in tr:
            raise RuntimeError("learn_sequence: call accumulate() at the steps the score sums over first")
        obar = tr["sum_obar"]
        obar = obar if obar.numel() > 1 else obar.reshape(())
        self._add_grads(dscore @ self.feedback_matrix(), dscore, tr["sum_ebar"], tr["sum_zbar"], obar)
        for key in ("sum_ebar", "sum_zbar", "sum_obar"):
            del tr[key]

    def _checked_traces(self, delta: torch.Tensor | None, name: str) -> dict[str, torch.Tensor]:
        if not self.traces:
            raise RuntimeError("e-prop: call step() before giving learning signals")
        if delta is not None:
            bsz, k = self.traces["zbar"].shape[0], self.net.w_out.out_features
            if delta.shape != (bsz, k):
                raise ValueError(f"{name}: expected [{bsz}, {k}] (batch, classes), got {tuple(delta.shape)}")
            if not torch.isfinite(delta).all():
                raise ValueError(f"{name}: contains NaN or Inf")
        return self.traces
