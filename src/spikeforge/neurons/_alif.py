r"""Adaptive LIF (ALIF) of Bellec et al. (2018, LSNN): the threshold rises with every spike and relaxes back.

Continuous dynamics, with input current ``x`` in membrane units (``R I``; a constant ``x`` settles ``v`` at
``v_leak + x``) and spike times ``t_k``:

.. math::
    \tau_{mem} \dot v = -(v - v_{leak}) + x, \qquad \tau_{adapt} \dot a = -a + \tau_{adapt} \sum_k \delta(t - t_k),
    \qquad A = \vartheta + \beta a

A spike is emitted when ``v`` reaches the adaptive threshold ``A``; the membrane then drops by ``A`` (subtract
reset, as in the LSNN) or is set to ``v_reset`` (zero reset), and ``a`` jumps by one.

Discrete update (``beta_m = exp(-dt/tau_mem)``, ``rho = exp(-dt/tau_adapt)``), exact for ``x`` held over a step:

.. math::
    \tilde a = \rho a_t, \qquad A = \vartheta + \beta \tilde a, \qquad
    h = v_{leak} + x_t + (v_t - v_{leak} - x_t)\beta_m, \qquad z_{t+1} = H(h - A),

    v_{t+1} = h - z_{t+1} A \;\text{(subtract)}, \qquad a_{t+1} = \tilde a + z_{t+1}

This is the 2018 rule ``b <- rho b + (1 - rho) z`` with ``a = b / (1 - rho)``: the paper's adaptation strength
``beta_2018`` equals ``beta / (1 - rho)`` of this file, which (unlike the paper's) does not depend on ``dt``.
The surrogate sees ``(h - A) / theta``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import torch

from .. import kernels
from .. import surrogate as _surrogate
from ..init import Distribution
from ..units import check_dt, decay, ms
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
from ._izhikevich import spike
from ._spec import Drive, NeuronSpec, SimulateInfo, register

__all__ = ["ALIF", "ALIFCell", "ALIFParams", "ALIFState", "alif_init", "alif_seq", "alif_step"]

Value = float | torch.Tensor


class ALIFParams(NamedTuple):
    """Times in seconds; ``threshold`` (membrane units) is the baseline ``theta``; ``beta`` (membrane units per
    unit of ``a``) the adaptation strength."""

    tau_mem: Value = 20 * ms
    tau_adapt: Value = 200 * ms
    threshold: Value = 1.0
    beta: Value = 0.2
    v_reset: Value = 0.0
    v_leak: Value = 0.0
    reset: ResetMode = "subtract"
    detach_reset: bool = False


class ALIFState(NamedTuple):
    """``v``: membrane; ``a``: adaptation trace (spikes, decaying with ``tau_adapt``)."""

    v: torch.Tensor
    a: torch.Tensor


def alif_init(like: torch.Tensor, params: ALIFParams = ALIFParams()) -> ALIFState:
    """Resting state shaped like ``like``: ``v = v_leak``, ``a = 0``."""
    zeros = torch.zeros_like(like)
    return ALIFState(v=zeros + torch.as_tensor(params.v_leak, dtype=like.dtype, device=like.device), a=zeros)


def _coefficients(params: ALIFParams, dt: float, like: torch.Tensor):
    beta_m = decay(params.tau_mem, dt, like=like)
    rho = decay(params.tau_adapt, dt, like=like)
    return beta_m, rho


def _update(x, state: ALIFState, params: ALIFParams, beta_m, rho, surrogate):
    v, a = state
    a = rho * a
    threshold = params.threshold + params.beta * a
    target = params.v_leak + x
    h = target + (v - target) * beta_m
    z = spike(surrogate, (h - threshold) / params.threshold)
    zr = z.detach() if params.detach_reset else z
    if params.reset == "subtract":
        v = h - zr * threshold
    elif params.reset == "zero":
        v = h - zr * (h - params.v_reset)
    else:
        v = h
    return z, ALIFState(v, a + z)


def alif_step(
    x: torch.Tensor,
    state: ALIFState | None,
    params: ALIFParams = ALIFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
) -> tuple[torch.Tensor, ALIFState]:
    """One ALIF step. ``x``: input current in membrane units ``[B, ...]``. Returns ``(z, new_state)``.

    >>> import torch
    >>> z, s = alif_step(torch.full((1, 1), 30.0), None)
    >>> z.item(), s.a.item()
    (1.0, 1.0)
    """
    dt = check_dt(dt)
    state = alif_init(x, params) if state is None else state
    return _update(x, state, params, *_coefficients(params, dt, x), _surrogate.get(surrogate))


def _alif_seq_torch(x_seq, state, params, *, dt, surrogate, record=False):
    beta_m, rho = _coefficients(params, dt, x_seq)
    return scan(lambda x, s: _update(x, s, params, beta_m, rho, surrogate), x_seq, state, record=record)


def _alif_seq_cpu(x_seq, state, params, *, dt, surrogate):
    beta_m, rho = _coefficients(params, dt, x_seq)  # the reference's own coefficients, bit for bit
    settings = kernel_settings(params, surrogate)
    z, v, a = kernels.cpu.alif(x_seq, state.v, state.a, beta_m, rho, params.threshold, params.beta, settings)
    return z, ALIFState(v, a)


kernels.register("alif", "torch", _alif_seq_torch)
kernels.register(
    "alif",
    "cpu",
    _alif_seq_cpu,
    available=kernels.cpu.available,
    supports=lambda x=None, params=None, surrogate=None, **_: fused_supports(x, params, surrogate),
)


def alif_seq(
    x_seq: torch.Tensor,
    state: ALIFState | None = None,
    params: ALIFParams = ALIFParams(),
    *,
    dt: float = 1 * ms,
    surrogate: _surrogate.Surrogate | None = None,
    backend: str = "auto",
    record: bool = False,
) -> tuple[torch.Tensor, ALIFState]:
    """ALIF over ``x_seq[T, B, ...]``. Returns ``(z_seq, final_state)`` (every state if ``record``)."""
    dt = check_dt(dt)
    state = alif_init(x_seq[0], params) if state is None else state
    surrogate = _surrogate.get(surrogate)
    if record:
        return _alif_seq_torch(x_seq, state, params, dt=dt, surrogate=surrogate, record=True)
    fn = kernels.resolve(
        "alif", backend, x=x_seq, params=params, surrogate=surrogate, requires_grad=torch.is_grad_enabled()
    )
    return fn(x_seq, state, params, dt=dt, surrogate=surrogate)


class _ALIFBase(NeuronModule):
    learnable = ("tau_mem", "tau_adapt", "threshold", "beta")
    positive = ("tau_mem", "tau_adapt")

    def __init__(
        self,
        shape: int | Sequence[int] | None = None,
        *,
        tau_mem: Value | Distribution = 20 * ms,
        tau_adapt: Value | Distribution = 200 * ms,
        threshold: Value | Distribution = 1.0,
        beta: Value | Distribution = 0.2,
        v_reset: float = 0.0,
        v_leak: float = 0.0,
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
        self.v_leak = finite_float("v_leak", v_leak)
        self._add("tau_mem", tau_mem)
        self._add("tau_adapt", tau_adapt)
        self._add("threshold", threshold)
        self._add("beta", beta)
        if (self.get("threshold") <= 0).any():
            raise ValueError(f"threshold: expected a positive baseline threshold, got {threshold!r}")

    def params(self) -> ALIFParams:
        """Current hyperparameters as :class:`ALIFParams` (differentiable when learned)."""
        return ALIFParams(
            tau_mem=self.get("tau_mem"),
            tau_adapt=self.get("tau_adapt"),
            threshold=self.get("threshold"),
            beta=self.get("beta"),
            v_reset=self.v_reset,
            v_leak=self.v_leak,
            reset=self.reset,
            detach_reset=self.detach_reset,
        )

    def extra_repr(self) -> str:
        parts = [
            f"shape={self.shape}" if self.shape else None,
            f"tau_mem={self._ms('tau_mem')}",
            f"tau_adapt={self._ms('tau_adapt')}",
            f"reset={self.reset!r}",
            f"dt={self.dt / ms:g} ms",
            f"learn={self.learn}" if self.learn else None,
        ]
        return ", ".join(p for p in parts if p)


class ALIFCell(_ALIFBase, CellModule):
    """One ALIF step: ``ALIFCell(...)(x[B, ...], state=None) -> (z, state)``.

    Args:
        shape: neurons per sample; needed for learned or per-neuron parameters. Default None.
        tau_mem: membrane time constant (s). Default 20 ms.
        tau_adapt: adaptation time constant (s). Default 200 ms.
        threshold: baseline threshold ``theta`` (> 0, membrane units). Default 1.
        beta: threshold increase per unit of adaptation trace (membrane units). Default 0.2.
        v_reset, v_leak: zero-reset value and resting potential. Default 0.
        reset: ``"subtract"`` (subtracts the adaptive threshold), ``"zero"`` or ``"none"``.
        detach_reset: stop gradients through the reset. Default False.
        dt: time step (s). Default 1 ms.
        learn: names among ``tau_mem``, ``tau_adapt``, ``threshold``, ``beta``.
        surrogate: surrogate gradient. Default fast sigmoid.

    Shape:
        x: ``[B, *shape]``; z and state fields: the same.

    >>> import torch
    >>> z, state = ALIFCell(3)(torch.ones(2, 3))
    >>> tuple(state.a.shape)
    (2, 3)
    """

    def forward(self, x: torch.Tensor, state: ALIFState | None = None):
        self._check_input(x, min_dim=2, layout="[B, *features]")
        params = self.params()
        state = alif_init(x, params) if state is None else state
        self._check_state(state, x)
        return _update(x, state, params, *_coefficients(params, self.dt, x), self.surrogate)


class ALIF(_ALIFBase, SequenceModule):
    """ALIF over a sequence: ``ALIF(...)(x_seq[T, B, ...], state=None) -> (z_seq, state)``.

    Takes :class:`ALIFCell`'s arguments plus ``backend`` and ``record`` (states at every step).

    >>> import torch
    >>> z, state = ALIF(2)(torch.full((1000, 1, 2), 2.0))
    >>> bool(z[:100].sum() > z[-100:].sum())  # adaptation slows firing
    True
    """

    def __init__(
        self, shape: int | Sequence[int] | None = None, *, backend: str = "auto", record: bool = False, **kwargs
    ) -> None:
        super().__init__(shape, **kwargs)
        self.backend = backend
        self.record = bool(record)

    def forward(self, x_seq: torch.Tensor, state: ALIFState | None = None):
        self._check_input(x_seq, min_dim=3, layout="[T, B, *features]")
        if state is not None:
            self._check_state(state, x_seq[0])
        return alif_seq(
            x_seq, state, self.params(), dt=self.dt, surrogate=self.surrogate, backend=self.backend, record=self.record
        )


SPEC = register(
    NeuronSpec(
        name="alif",
        cell=ALIFCell,
        sequence=ALIF,
        step=alif_step,
        seq=alif_seq,
        init=alif_init,
        params=ALIFParams,
        state=ALIFState,
        drive=Drive(amplitude=3.0, dt=1 * ms),
        simulate=SimulateInfo(
            "alif",
            "membrane units",
            "v",
            "a.u.",
            ("tau_mem", "tau_adapt", "threshold", "beta", "v_reset", "v_leak", "reset"),
            time_params=("tau_mem", "tau_adapt"),
        ),
    )
)
