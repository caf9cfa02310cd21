r"""Integrate-and-fire neuron (no leak).

.. math::
    h = v_t + x_t, \qquad z_{t+1} = H(h - \vartheta), \qquad v_{t+1} = \text{reset}(h, z_{t+1})

with the same reset modes as LIF (``subtract`` keeps the residual charge, which makes IF the rate-exact neuron of
ANN-to-SNN conversion).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch

from .. import kernels
from .. import surrogate as _surrogate
from ..init import Distribution
from ..units import check_dt, ms
from ._base import (
    CellModule,
    NeuronModule,
    ResetMode,
    SequenceModule,
    check_reset,
    finite_float,
    fused_supports,
    kernel_settings,
    scan,
)
from ._lif import LIFParams, fused_synapse, integrate_and_fire
from ._spec import Drive, NeuronSpec, register

__all__ = ["IF", "IFCell", "IFParams", "IFState", "if_init", "if_seq", "if_step"]

Value = float | torch.Tensor


class IFParams(NamedTuple):
    threshold: Value = 1.0
    v_reset: Value = 0.0
    reset: ResetMode = "subtract"
    detach_reset: bool = False


class IFState(NamedTuple):
    v: torch.Tensor


def if_init(like: torch.Tensor, params: IFParams = IFParams()) -> IFState:
    """Resting state (``v = 0``) for one step shaped like ``like``."""
    return IFState(torch.zeros_like(like))


def _as_lif(params: IFParams) -> LIFParams:
    return LIFParams(
        threshold=params.threshold, v_reset=params.v_reset, reset=params.reset, detach_reset=params.detach_reset
    )


def _update(x, state: IFState, lif_params: LIFParams, surrogate):
    z, v = integrate_and_fire(state.v + x, lif_params, surrogate)
    return z, IFState(v)


def if_step(
    x: torch.Tensor,
    state: IFState | None,
    params: IFParams = IFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, IFState]:
    """One IF step; ``dt`` is accepted for a uniform signature (IF has no time constant).

    >>> import torch
    >>> z, s = if_step(torch.tensor([[0.6]]), IFState(torch.tensor([[0.6]])))
    >>> z.item(), round(s.v.item(), 3)
    (1.0, 0.2)
    """
    check_dt(dt)
    state = if_init(x, params) if state is None else state
    return _update(x, state, _as_lif(params), _surrogate.get(surrogate))


def _if_seq_torch(x_seq, state, params, *, dt, surrogate, record=False):
    lif_params = _as_lif(params)
    return scan(lambda x, s: _update(x, s, lif_params, surrogate), x_seq, state, record=record)


def _fused_supports(x=None, params=None, surrogate=None, device="cpu", **_) -> bool:
    return fused_supports(x, params, surrogate, device, compiles=device == "cpu")  # CPU: custom operators


def _if_seq_fused(run, x_seq, state, params, *, dt, surrogate):
    """IF through a fused LIF tensor kernel ``run`` with ``beta = 1`` and no leak."""
    z, v = run(x_seq, state.v, 1.0, params.threshold, kernel_settings(params, surrogate))
    return z, IFState(v)


kernels.register("if", "torch", _if_seq_torch)
kernels.register(
    "if",
    "cpu",
    functools.partial(_if_seq_fused, kernels.cpu.lif),
    available=kernels.cpu.available,
    supports=_fused_supports,
)
kernels.register(
    "if",
    "triton",
    functools.partial(_if_seq_fused, kernels.gpu.lif),
    available=kernels.gpu.available,
    supports=functools.partial(_fused_supports, device="cuda"),
)


def if_seq(
    x_seq: torch.Tensor,
    state: IFState | None = None,
    params: IFParams = IFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, IFState]:
    """IF over ``x_seq[T, B, ...]``; returns ``(z_seq, state)``."""
    check_dt(dt)
    state = if_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _if_seq_torch(x_seq, state, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "if", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, params, dt=dt, surrogate=surrogate)


class _IFBase(NeuronModule):
    learnable = ("threshold",)

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        threshold: Value | Distribution = 1.0,
        v_reset: float = 0.0,
        reset: ResetMode = "subtract",
        detach_reset: bool = False,
        dt: float = 1 * ms,
        learn: Iterable[str] = (),
        surrogate: str | dict | _surrogate.Surrogate | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(shape, dt=dt, learn=learn, surrogate=surrogate, device=device, dtype=dtype)
        self.reset = check_reset(reset)
        self.detach_reset = bool(detach_reset)
        self.v_reset = finite_float("v_reset", v_reset)
        self._add("threshold", threshold)
        self._check_threshold(v_reset=self.v_reset, v_leak=0.0, reset=self.reset)  # IF rests at v = 0

    def params(self) -> IFParams:
        return IFParams(
            threshold=self.get("threshold"), v_reset=self.v_reset, reset=self.reset, detach_reset=self.detach_reset
        )

    def extra_repr(self) -> str:
        shape = f"shape={self.shape}, " if self.shape else ""
        return f"{shape}reset={self.reset!r}, surrogate={self.surrogate!r}"


class IFCell(_IFBase, CellModule):
    """One IF step: ``IFCell()(x[B, ...], state) -> (z, state)``. Args as :class:`~spikeforge.neurons.LIFCell`
    without time constants."""

    def forward(self, x: torch.Tensor, state: IFState | None = None) -> tuple[torch.Tensor, IFState]:
        self._check_input(x, min_dim=2, layout="[B, *features]")
        params = self.params()
        if state is None:
            state = if_init(x, params)
        else:
            self._check_state(state, x)
        return _update(x, state, _as_lif(params), self.surrogate)


class IF(_IFBase, SequenceModule):
    """IF over a sequence: ``IF()(x_seq[T, B, ...], state) -> (z_seq, state)``.

    >>> import torch
    >>> z, _ = IF()(torch.full((4, 1, 1), 0.5))
    >>> z.flatten().tolist()
    [0.0, 1.0, 0.0, 1.0]
    """

    def __init__(
        self, shape: int | Sequence[int] | None = None, *, backend: str = "auto", record: bool = False, **kwargs
    ) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: IFState | None = None) -> tuple[torch.Tensor, IFState]:
        self._check_input(x_seq, min_dim=3, layout="[T, B, *features]", values=False)
        if state is not None:
            self._check_state(state, x_seq[0])
        z, final = if_seq(
            x_seq, state, self.params(), dt=self.dt, surrogate=self.surrogate, backend=self.backend, record=self.record
        )
        self._check_final(x_seq, final.v)  # IF: v <- v + x, a non-finite input leaves a non-finite v_T
        return z, final

    def forward_synapse(
        self, synapse: torch.nn.Module, x_seq: torch.Tensor, state: IFState | None = None
    ) -> tuple[torch.Tensor, IFState] | None:
        """``self(synapse(x_seq), state)`` in one fused CPU kernel, or None where it does not apply (see
        :func:`spikeforge.neurons._lif.fused_synapse`)."""
        return fused_synapse(
            self,
            synapse,
            x_seq,
            state,
            "if",
            _as_lif(self.params()),
            lambda like: 1.0,
            lambda like, _: if_init(like),
            lambda z, v, *_: (z, IFState(v)),
        )


SPEC = register(
    NeuronSpec(
        name="if",
        cell=IFCell,
        sequence=IF,
        step=if_step,
        seq=if_seq,
        init=if_init,
        params=IFParams,
        state=IFState,
        drive=Drive(amplitude=0.5, dt=1 * ms),
        nir=True,
    )
)
