r"""Recurrent LIF layer: LIF neurons that also receive their own spikes of the previous step.

.. math::
    x'_t = x_t + W_{rec} z_t, \qquad (z_{t+1}, v_{t+1}) = \mathrm{LIF}(x'_t, v_t)

``W_rec`` is the layer's own ``[N, N]`` weight matrix (``recurrent.weight``), initialised uniformly in
``+-1/sqrt(N)`` like ``torch.nn.Linear`` (scaled by ``recurrent_scale``), with self-connections kept unless
``self_connections=False``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from .. import kernels
from .. import surrogate as _surrogate
from ..units import check_dt, decay, ms
from ._base import CellModule, SequenceModule, also, fused_supports, kernel_settings, scan
from ._lif import LIFParams, LIFState, _coefficients, _LIFBase, _update, lif_init
from ._spec import Drive, NeuronSpec, register

__all__ = ["RLIF", "RLIFCell", "RLIFState", "rlif_init", "rlif_seq", "rlif_step"]


class RLIFState(NamedTuple):
    v: torch.Tensor
    i: torch.Tensor
    ref: torch.Tensor
    z: torch.Tensor


def rlif_init(like: torch.Tensor, params: LIFParams = LIFParams()) -> RLIFState:
    return RLIFState(*lif_init(like, params), torch.zeros_like(like))


def _update_rec(x, state: RLIFState, weight, params, beta, alpha, n_ref, surrogate):
    x = x + state.z @ weight.t()
    z, s = _update(x, LIFState(state.v, state.i, state.ref), params, beta, alpha, n_ref, surrogate)
    return z, RLIFState(*s, z)


def rlif_step(
    x: torch.Tensor,
    state: RLIFState | None,
    weight: torch.Tensor,
    params: LIFParams = LIFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, RLIFState]:
    """One recurrent LIF step with recurrent matrix ``weight[N, N]``; ``x``: ``[B, N]``."""
    dt = check_dt(dt)
    state = rlif_init(x, params) if state is None else state
    beta, alpha, n_ref = _coefficients(params, dt, x)
    return _update_rec(x, state, weight, params, beta, alpha, n_ref, _surrogate.get(surrogate))


def _rlif_seq_torch(x_seq, state, weight, params, *, dt, surrogate, record=False):
    beta, alpha, n_ref = _coefficients(params, dt, x_seq)
    return scan(
        lambda x, s: _update_rec(x, s, weight, params, beta, alpha, n_ref, surrogate), x_seq, state, record=record
    )


def _rlif_seq_cpu(x_seq, state, weight, params, *, dt, surrogate):
    beta = decay(params.tau_mem, dt, like=x_seq)
    settings = kernel_settings(params, surrogate)
    z_seq, v, i, z = kernels.cpu.rlif(x_seq, state.v, state.z, weight, beta, params.threshold, settings)
    return z_seq, RLIFState(v, i, state.ref, z)


def _fused_supports(x=None, params=None, surrogate=None, **_) -> bool:
    """As the LIF kernel (no ``tau_syn``, no refractoriness), for ``[T, B, N]`` input."""
    return also(
        fused_supports(x, params, surrogate),
        (params.tau_syn is None, "tau_syn is set (the fused kernel has no synaptic current)"),
        (not params.t_ref, "t_ref > 0 (the fused kernel has no refractory period)"),
        (x.dim() == 3, f"the input has {x.dim()} dims; the fused recurrent kernel takes [T, B, N]"),
    )


kernels.register("rlif", "torch", _rlif_seq_torch)
kernels.register("rlif", "cpu", _rlif_seq_cpu, available=kernels.cpu.available, supports=_fused_supports)


def rlif_seq(
    x_seq: torch.Tensor,
    state: RLIFState | None,
    weight: torch.Tensor,
    params: LIFParams = LIFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, RLIFState]:
    """Recurrent LIF over ``x_seq[T, B, N]``."""
    dt = check_dt(dt)
    state = rlif_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _rlif_seq_torch(x_seq, state, weight, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "rlif", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, weight, params, dt=dt, surrogate=surrogate)


def check_recurrent_shape(shape: object) -> int:
    """A recurrent layer's size: a positive int (its ``[N, N]`` weight needs one)."""
    if not isinstance(shape, int) or isinstance(shape, bool) or shape <= 0:
        raise ValueError(f"shape: a recurrent layer needs its number of neurons as a positive int, got {shape!r}")
    return shape


class RecurrentWeights:
    """Mixin for neuron layers with recurrent synapses: ``recurrent``, an ``[N, N]`` ``nn.Linear`` without bias,
    uniform in ``+-recurrent_scale / sqrt(N)`` (like ``torch.nn.Linear``), self-connections optional. Call
    :meth:`_add_recurrent` after the neuron's own ``__init__``."""

    def _add_recurrent(self, recurrent_scale: float, self_connections: bool = True) -> None:
        n = self.shape[0]
        self.recurrent = nn.Linear(n, n, bias=False, **self._factory)
        self.recurrent_scale = float(recurrent_scale)
        self.self_connections = bool(self_connections)
        self._init_recurrent()

    def _check_dtype(self, x: torch.Tensor) -> None:
        """The recurrent matmul needs the input in the weights' dtype (torch does not promote it)."""
        if x.dtype != self.recurrent.weight.dtype:
            raise TypeError(
                f"input: dtype {x.dtype}, but the layer's recurrent weights are {self.recurrent.weight.dtype}; "
                f"build the layer with dtype={x.dtype} or convert it with layer.to({x.dtype})"
            )

    def _init_recurrent(self) -> None:
        bound = self.recurrent_scale / math.sqrt(self.shape[0])
        with torch.no_grad():
            self.recurrent.weight.uniform_(-bound, bound)
            if not self.self_connections:
                self.recurrent.weight.fill_diagonal_(0.0)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        self._init_recurrent()

    def _weight(self) -> torch.Tensor:
        """``W_rec`` as the update uses it: without its diagonal when ``self_connections=False``."""
        w = self.recurrent.weight
        if not self.self_connections:
            w = w * (1 - torch.eye(w.shape[0], dtype=w.dtype, device=w.device))
        return w


class _RLIFBase(RecurrentWeights, _LIFBase):
    def __init__(self, shape: int, *, recurrent_scale: float = 1.0, self_connections: bool = True, **kwargs):
        super().__init__(check_recurrent_shape(shape), **kwargs)
        self._add_recurrent(recurrent_scale, self_connections)


class RLIFCell(_RLIFBase, CellModule):
    """One recurrent LIF step: ``RLIFCell(N)(x[B, N], state) -> (z, state)``. Takes LIFCell's arguments plus
    ``recurrent_scale`` and ``self_connections``."""

    def forward(self, x: torch.Tensor, state: RLIFState | None = None) -> tuple[torch.Tensor, RLIFState]:
        self._check_input(x, min_dim=2, layout="[B, N]")
        self._check_dtype(x)
        params = self.params()
        if state is None:
            state = rlif_init(x, params)
        else:
            self._check_state(state, x)
        beta, alpha, n_ref = _coefficients(params, self.dt, x)
        return _update_rec(x, state, self._weight(), params, beta, alpha, n_ref, self.surrogate)


class RLIF(_RLIFBase, SequenceModule):
    """Recurrent LIF over a sequence: ``RLIF(N)(x_seq[T, B, N], state) -> (z_seq, state)``.

    >>> import torch
    >>> z, s = RLIF(8)(torch.rand(10, 3, 8))
    >>> tuple(z.shape), tuple(s.z.shape)
    ((10, 3, 8), (3, 8))
    """

    def __init__(self, shape: int, *, backend: str = "auto", record: bool = False, **kwargs) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: RLIFState | None = None) -> tuple[torch.Tensor, RLIFState]:
        self._check_input(x_seq, min_dim=3, layout="[T, B, N]")
        self._check_dtype(x_seq)
        if state is not None:
            self._check_state(state, x_seq[0])
        return rlif_seq(
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
        name="rlif",
        cell=RLIFCell,
        sequence=RLIF,
        step=rlif_step,
        seq=rlif_seq,
        init=rlif_init,
        params=LIFParams,
        state=RLIFState,
        drive=Drive(amplitude=0.5, dt=1 * ms, kwargs={"tau_syn": 5 * ms}),
        nir=True,  # a NIR graph with a cycle: the recurrent Affine edge back into the neuron
    )
)
