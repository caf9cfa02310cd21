r"""Leaky integrator: a non-spiking readout whose output is its membrane.

.. math::
    i_{t+1} = \alpha i_t + x_t \;(\text{or } x_t), \qquad v_{t+1} = \beta v_t + i_{t+1}

with ``beta = exp(-dt/tau_mem)`` and ``alpha = exp(-dt/tau_syn)`` (exact for input held over a step).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch

from .. import kernels
from ..init import Distribution
from ..units import check_dt, decay, ms
from ._base import CellModule, NeuronModule, SequenceModule, also, scan
from ._spec import Drive, NeuronSpec, register

__all__ = ["LI", "LICell", "LIParams", "LIState", "li_init", "li_seq", "li_step"]

Value = float | torch.Tensor


class LIParams(NamedTuple):
    tau_mem: Value = 20 * ms
    tau_syn: Value | None = None


class LIState(NamedTuple):
    v: torch.Tensor
    i: torch.Tensor


def li_init(like: torch.Tensor, params: LIParams = LIParams()) -> LIState:
    zeros = torch.zeros_like(like)
    return LIState(zeros, zeros)


def _coefficients(params: LIParams, dt: float, like: torch.Tensor):
    beta = decay(params.tau_mem, dt, like=like)
    alpha = None
    if params.tau_syn is not None:
        alpha = decay(params.tau_syn, dt, like=like)
    return beta, alpha


def _update(x, state: LIState, beta, alpha):
    i = x if alpha is None else alpha * state.i + x
    v = beta * state.v + i
    return v, LIState(v, i)


def li_step(
    x: torch.Tensor, state: LIState | None, params: LIParams = LIParams(), *, dt: float = 1 * ms
) -> tuple[torch.Tensor, LIState]:
    """One leaky-integrator step; returns ``(v, state)``.

    >>> import torch
    >>> v, s = li_step(torch.ones(1, 1), None)
    >>> v.item()
    1.0
    """
    dt = check_dt(dt)
    state = li_init(x, params) if state is None else state
    return _update(x, state, *_coefficients(params, dt, x))


def _li_seq_torch(x_seq, state, params, *, dt, record=False):
    beta, alpha = _coefficients(params, dt, x_seq)
    return scan(lambda x, s: _update(x, s, beta, alpha), x_seq, state, record=record)


def _li_seq_cpu(x_seq, state, params, *, dt):
    vs = kernels.cpu.li(x_seq, state.v, decay(params.tau_mem, dt, like=x_seq))
    return vs, LIState(vs[-1], x_seq[-1])


kernels.register("li", "torch", _li_seq_torch)


def _fused_supports(x=None, params=None, **_):
    """The fused leaky integrator: a tensor it takes (:func:`kernels.cpu.refusal`), no ``tau_syn``."""
    why = kernels.cpu.refusal(x, compiles=True)  # a registered custom operator: runs under torch.compile
    return also(
        kernels.Refused(why) if why else params is not None,
        (params is not None and params.tau_syn is None, "tau_syn is set (the fused LI kernel has one time constant)"),
    )


kernels.register(
    "li",
    "cpu",
    _li_seq_cpu,
    available=kernels.cpu.available,
    supports=_fused_supports,
)


def li_seq(
    x_seq: torch.Tensor,
    state: LIState | None = None,
    params: LIParams = LIParams(),
    *,
    dt: float = 1 * ms,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, LIState]:
    """Leaky integrator over ``x_seq[T, B, ...]``; returns ``(v_seq, state)``."""
    dt = check_dt(dt)
    state = li_init(x_seq[0], params) if state is None else state
    if record:
        return _li_seq_torch(x_seq, state, params, dt=dt, record=True)
    fn = kernels.resolve("li", backend, x=x_seq, params=params, requires_grad=torch.is_grad_enabled())
    return fn(x_seq, state, params, dt=dt)


class _LIBase(NeuronModule):
    learnable = ("tau_mem", "tau_syn")
    positive = ("tau_mem", "tau_syn")

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        tau_mem: Value | Distribution = 20 * ms,
        tau_syn: Value | Distribution | None = None,
        dt: float = 1 * ms,
        learn: Iterable[str] = (),
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(shape, dt=dt, learn=learn, device=device, dtype=dtype)
        self._add("tau_mem", tau_mem)
        self._add("tau_syn", tau_syn)

    def params(self) -> LIParams:
        return LIParams(tau_mem=self.get("tau_mem"), tau_syn=self.get("tau_syn"))

    def extra_repr(self) -> str:
        shape = f"shape={self.shape}, " if self.shape else ""
        syn = f", tau_syn={self._ms('tau_syn')}" if self._specs.get("tau_syn") is not None else ""
        return f"{shape}tau_mem={self._ms('tau_mem')}{syn}, dt={self.dt * 1e3:g} ms"


class LICell(_LIBase, CellModule):
    """One leaky-integrator step: ``LICell()(x[B, ...], state) -> (v, state)``."""

    def forward(self, x: torch.Tensor, state: LIState | None = None) -> tuple[torch.Tensor, LIState]:
        self._check_input(x, min_dim=2, layout="[B, *features]")
        params = self.params()
        if state is None:
            state = li_init(x, params)
        else:
            self._check_state(state, x)
        return _update(x, state, *_coefficients(params, self.dt, x))


class LI(_LIBase, SequenceModule):
    """Leaky integrator over a sequence: ``LI()(x_seq[T, B, ...], state) -> (v_seq, state)``.

    Shape:
        x_seq: ``[T, B, *shape]``; v_seq: the same.
    """

    def __init__(
        self, shape: int | Sequence[int] | None = None, *, backend: str = "auto", record: bool = False, **kwargs
    ) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: LIState | None = None) -> tuple[torch.Tensor, LIState]:
        self._check_input(x_seq, min_dim=3, layout="[T, B, *features]")
        if state is not None:
            self._check_state(state, x_seq[0])
        return li_seq(x_seq, state, self.params(), dt=self.dt, backend=self.backend, record=self.record)


SPEC = register(
    NeuronSpec(
        name="li",
        cell=LICell,
        sequence=LI,
        step=li_step,
        seq=li_seq,
        init=li_init,
        params=LIParams,
        state=LIState,
        drive=Drive(amplitude=1.0, dt=1 * ms, kwargs={"tau_syn": 5 * ms}),
        nir=True,
    )
)
