r"""Recurrent adaptive LIF (RALIF): ALIF neurons (Bellec et al. 2018, LSNN) that also receive their own spikes of
the previous step, as :class:`~spikeforge.neurons.RLIF` does for LIF.

.. math::
    x'_t = x_t + W_{rec} z_t, \qquad (z_{t+1}, v_{t+1}, a_{t+1}) = \mathrm{ALIF}(x'_t, v_t, a_t)

with the ALIF update of :mod:`spikeforge.neurons._alif` (``beta_m = exp(-dt/tau_mem)``, ``rho = exp(-dt/tau_adapt)``):

.. math::
    \tilde a = \rho a_t, \qquad A = \vartheta + \beta \tilde a, \qquad
    h = v_{leak} + x'_t + (v_t - v_{leak} - x'_t)\beta_m, \qquad z_{t+1} = H(h - A),

    v_{t+1} = h - z_{t+1} A \;\text{(subtract)}, \qquad a_{t+1} = \tilde a + z_{t+1}

The hyperparameters are ALIF's (:class:`~spikeforge.neurons.ALIFParams`). ``W_rec`` is the layer's own ``[N, N]``
weight matrix (``recurrent.weight``), initialised uniformly in ``+-recurrent_scale/sqrt(N)`` like
``torch.nn.Linear``, with self-connections kept unless ``self_connections=False``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .. import kernels
from .. import surrogate as _surrogate
from ..units import check_dt, ms
from ._alif import ALIFParams, ALIFState, _ALIFBase, _coefficients, _update, alif_init
from ._base import CellModule, SequenceModule, also, fused_supports, kernel_settings, scan
from ._rlif import RecurrentWeights, check_recurrent_shape
from ._spec import Drive, NeuronSpec, register

__all__ = ["RALIF", "RALIFCell", "RALIFState", "ralif_init", "ralif_seq", "ralif_step"]


class RALIFState(NamedTuple):
    """``v`` membrane, ``a`` adaptation trace, ``z`` the spikes of the last step (fed back next step)."""

    v: torch.Tensor
    a: torch.Tensor
    z: torch.Tensor


def ralif_init(like: torch.Tensor, params: ALIFParams = ALIFParams()) -> RALIFState:
    """Resting state shaped like ``like``: ``v = v_leak``, no adaptation, no spikes."""
    return RALIFState(*alif_init(like, params), torch.zeros_like(like))


def _update_rec(x, state: RALIFState, weight, params: ALIFParams, beta_m, rho, surrogate):
    z, s = _update(x + state.z @ weight.t(), ALIFState(state.v, state.a), params, beta_m, rho, surrogate)
    return z, RALIFState(s.v, s.a, z)


def ralif_step(
    x: torch.Tensor,
    state: RALIFState | None,
    weight: torch.Tensor,
    params: ALIFParams = ALIFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, RALIFState]:
    """One recurrent ALIF step with recurrent matrix ``weight[N, N]``; ``x``: ``[B, N]``. Returns ``(z, state)``.

    >>> import torch
    >>> z, s = ralif_step(torch.full((1, 2), 30.0), None, torch.zeros(2, 2))
    >>> z.tolist(), s.z.tolist()
    ([[1.0, 1.0]], [[1.0, 1.0]])
    """
    dt = check_dt(dt)
    state = ralif_init(x, params) if state is None else state
    beta_m, rho = _coefficients(params, dt, x)
    return _update_rec(x, state, weight, params, beta_m, rho, _surrogate.get(surrogate))


def _ralif_seq_torch(x_seq, state, weight, params, *, dt, surrogate, record=False):
    beta_m, rho = _coefficients(params, dt, x_seq)
    return scan(lambda x, s: _update_rec(x, s, weight, params, beta_m, rho, surrogate), x_seq, state, record=record)


def _ralif_seq_cpu(x_seq, state, weight, params, *, dt, surrogate):
    beta_m, rho = _coefficients(params, dt, x_seq)  # the reference's own coefficients, bit for bit
    z_seq, v, a, z = kernels.cpu.ralif(
        x_seq,
        state.v,
        state.a,
        state.z,
        weight,
        beta_m,
        rho,
        params.threshold,
        params.beta,
        kernel_settings(params, surrogate),
    )
    return z_seq, RALIFState(v, a, z)


def _fused_supports(x=None, params=None, surrogate=None, **_) -> bool | kernels.Refused:
    """As the ALIF kernel, for ``[T, B, N]`` input."""
    return also(
        fused_supports(x, params, surrogate),
        (x.dim() == 3, f"the input has {x.dim()} dims; the fused recurrent kernel takes [T, B, N]"),
    )


kernels.register("ralif", "torch", _ralif_seq_torch)
kernels.register("ralif", "cpu", _ralif_seq_cpu, available=kernels.cpu.available, supports=_fused_supports)


def ralif_seq(
    x_seq: torch.Tensor,
    state: RALIFState | None,
    weight: torch.Tensor,
    params: ALIFParams = ALIFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, RALIFState]:
    """Recurrent ALIF over ``x_seq[T, B, N]``. Returns ``(z_seq, final_state)`` (every state if ``record``)."""
    dt = check_dt(dt)
    state = ralif_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _ralif_seq_torch(x_seq, state, weight, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "ralif", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, weight, params, dt=dt, surrogate=surrogate)


class _RALIFBase(RecurrentWeights, _ALIFBase):
    def __init__(self, shape: int, *, recurrent_scale: float = 1.0, self_connections: bool = True, **kwargs) -> None:
        super().__init__(check_recurrent_shape(shape), **kwargs)
        self._add_recurrent(recurrent_scale, self_connections)


class RALIFCell(_RALIFBase, CellModule):
    """One recurrent ALIF step: ``RALIFCell(N)(x[B, N], state=None) -> (z, state)``.

    Takes :class:`~spikeforge.neurons.ALIFCell`'s arguments plus ``recurrent_scale`` (``W_rec`` starts uniform in
    ``+-recurrent_scale / sqrt(N)``) and ``self_connections``.

    >>> import torch
    >>> z, state = RALIFCell(4)(torch.ones(2, 4))
    >>> tuple(state.z.shape)
    (2, 4)
    """

    def forward(self, x: torch.Tensor, state: RALIFState | None = None) -> tuple[torch.Tensor, RALIFState]:
        self._check_input(x, min_dim=2, layout="[B, N]")
        self._check_dtype(x)
        params = self.params()
        if state is None:
            state = ralif_init(x, params)
        else:
            self._check_state(state, x)
        beta_m, rho = _coefficients(params, self.dt, x)
        return _update_rec(x, state, self._weight(), params, beta_m, rho, self.surrogate)


class RALIF(_RALIFBase, SequenceModule):
    """Recurrent adaptive LIF over a sequence: ``RALIF(N)(x_seq[T, B, N], state) -> (z_seq, state)``.

    Takes :class:`~spikeforge.neurons.ALIF`'s arguments (``tau_mem``, ``tau_adapt``, ``threshold``, ``beta``,
    ``learn`` ...; time constants may be :mod:`spikeforge.init` distributions for per-neuron values) plus
    ``recurrent_scale`` (``W_rec`` starts uniform in ``+-recurrent_scale / sqrt(N)``), ``self_connections``,
    ``backend`` and ``record`` (states at every step).

    Shape:
        x_seq: ``[T, B, N]``; z_seq: the same; state fields: ``[B, N]``.

    >>> import torch
    >>> z, s = RALIF(8)(torch.rand(10, 3, 8) * 3)
    >>> tuple(z.shape), tuple(s.a.shape)
    ((10, 3, 8), (3, 8))
    """

    def __init__(self, shape: int, *, backend: str = "auto", record: bool = False, **kwargs) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: RALIFState | None = None) -> tuple[torch.Tensor, RALIFState]:
        self._check_input(x_seq, min_dim=3, layout="[T, B, N]")
        self._check_dtype(x_seq)
        if state is not None:
            self._check_state(state, x_seq[0])
        return ralif_seq(
            x_seq,
            state,
            self._weight(),
            self.params(),
            dt=self.dt,
            surrogate=self.surrogate,
            backend=self.backend,
            record=self.record,
        )


SPEC = register(
    NeuronSpec(
        name="ralif",
        cell=RALIFCell,
        sequence=RALIF,
        step=ralif_step,
        seq=ralif_seq,
        init=ralif_init,
        params=ALIFParams,
        state=RALIFState,
        drive=Drive(amplitude=2.5, dt=1 * ms),
    )
)
